//! Blocks: the paragraphs of one region, classified by form and read by that form's parser
//! with the region's command in front, with the file's line numbers and the command's context.

use super::regions::{is_dash_row, is_list_line, Region};
use super::{Block, Form, TextOutcome, MAX_UNREAD_KEPT};
use crate::diag::{Diagnostic, InputError};
use crate::input::paste::Line;
use crate::input::record::{ObjectKind, Record, Value};
use crate::input::transcript::{context_from_command, format_columns};
use crate::input::{csv, format_list, format_table, rows};

/// Lines PowerShell prints around output that belong to no form.
pub(super) fn is_console_noise(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("WARNING:")
        || t.starts_with("VERBOSE:")
        || t.starts_with(">>")
        || t.starts_with("**********")
}

/// Whether a paragraph is a table whose columns were collapsed to single spaces.
pub(super) fn collapsed(header: &str, dashes: &str, rows: &[&Line]) -> bool {
    let single = |s: &str| !s.trim().contains("  ");
    if !(single(header) && single(dashes)) {
        return false;
    }
    // Column starts from the dash runs; a collapsed row runs across them.
    let starts: Vec<usize> = dashes
        .char_indices()
        .filter(|&(i, c)| c == '-' && (i == 0 || dashes.as_bytes()[i - 1] == b' '))
        .map(|(i, _)| i)
        .collect();
    rows.iter().any(|r| {
        let b = r.text.as_bytes();
        starts
            .iter()
            .skip(1)
            .any(|&s| s < b.len() && s > 0 && b[s - 1] != b' ')
            || b.len() > dashes.trim_end().len() + 8
    })
}

pub(super) fn classify(par: &[&Line]) -> Form {
    let texts: Vec<&str> = par
        .iter()
        .map(|l| l.text.as_str())
        .filter(|t| !is_console_noise(t))
        .collect();
    if texts.is_empty() {
        return Form::Other;
    }
    // A table: a header with a dash row under it.
    if let Some(d) = texts.iter().position(|t| is_dash_row(t)) {
        if d >= 1 && !is_list_line(texts[d - 1]) {
            return Form::Table;
        }
    }
    let joined = texts.join("\n");
    if csv::looks_like_csv(&joined)
        && (texts[0].trim_start().starts_with("#TYPE") || texts[0].contains([',', ';', '\t']))
    {
        return Form::Csv;
    }
    let list = texts.iter().filter(|t| is_list_line(t)).count();
    if is_list_line(texts[0]) && list * 2 >= texts.len().min(4) {
        return Form::List;
    }
    let rows = texts
        .iter()
        .filter(|t| rows::looks_like_rights_row(t) || header_without_dashes(t).is_some())
        .count();
    if rows > 0 && rows * 2 >= texts.len() {
        return Form::Rows;
    }
    if list > 0 && list * 2 >= texts.len() {
        return Form::List;
    }
    Form::Other
}

/// Reads one region: its paragraphs, grouped into blocks of one form.
pub(super) fn read_region(
    region: &Region,
    file: &str,
    records: &mut Vec<(usize, Record)>,
    out: &mut TextOutcome,
) -> Result<(), InputError> {
    // Paragraphs: runs of non-blank lines.
    let mut pars: Vec<Vec<&Line>> = Vec::new();
    let mut cur: Vec<&Line> = Vec::new();
    for l in &region.lines {
        if l.text.trim().is_empty() {
            if !cur.is_empty() {
                pars.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(l);
        }
    }
    if !cur.is_empty() {
        pars.push(cur);
    }
    // Blocks: consecutive paragraphs of one form (Format-List objects are paragraphs).
    let mut blocks: Vec<(Form, Vec<&Line>)> = Vec::new();
    // A stray first line (a damaged `#TYPE`, a caption) before a table or CSV is a paragraph
    // of its own, so that the rest is read in its form.
    let mut split = Vec::with_capacity(pars.len());
    for p in pars {
        if p.len() > 2 && classify(&p) == Form::Other {
            let rest = classify(&p[1..]);
            if matches!(rest, Form::Csv | Form::Table) {
                split.push(vec![p[0]]);
                split.push(p[1..].to_vec());
                continue;
            }
        }
        split.push(p);
    }
    for p in split {
        let form = classify(&p);
        match blocks.last_mut() {
            Some((f, lines))
                if *f == form && matches!(form, Form::List | Form::Rows | Form::Other) =>
            {
                lines.extend(p);
            }
            _ => blocks.push((form, p)),
        }
    }
    if blocks.is_empty() {
        return Ok(());
    }
    let command = region.command.as_ref();
    for (form, lines) in blocks {
        let (form, objects) = read_block(form, &lines, command, file, records, out)?;
        // Every block is listed (its records point at it by index).
        out.blocks.push(Block {
            line: lines.first().map(|l| l.no).unwrap_or(0),
            command: command.map(|(_, c)| c.clone()),
            form,
            objects,
            used: 0,
        });
        if objects == 0 || form == Form::Other {
            for l in &lines {
                if out.is_evidence(l) {
                    out.unread_relay_count += 1;
                    if out.unread_relay.len() < MAX_UNREAD_KEPT {
                        out.unread_relay.push((l.no, l.text.trim().to_string()));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Collects a parser's records with the file's own line numbers and the region's context.
pub(super) struct Mapper<'a> {
    map: Vec<u32>,
    command: Option<&'a (u32, String)>,
    records: &'a mut Vec<(usize, Record)>,
    block: usize,
    objects: usize,
}

impl Mapper<'_> {
    fn line(&self, n: u32) -> u32 {
        let i = (n as usize).saturating_sub(1);
        self.map.get(i).or(self.map.last()).copied().unwrap_or(n)
    }

    fn take(&mut self, mut rec: Record) {
        rec.line = self.line(rec.line);
        for p in &mut rec.props {
            p.line = self.line(p.line);
        }
        fill_identity(&mut rec, self.command.map(|(_, c)| c.as_str()));
        self.objects += 1;
        self.records.push((self.block, rec));
    }
}

/// Identity of a connector or permission entry the output left out: from its
/// DistinguishedName, or the one object the echoed command names.
pub(super) fn fill_identity(rec: &mut Record, command: Option<&str>) {
    if !matches!(
        rec.kind,
        ObjectKind::ReceiveConnector | ObjectKind::AdPermission
    ) {
        return;
    }
    let has = |rec: &Record, n: &str| {
        rec.value(n)
            .is_some_and(|v| !matches!(v, Value::Null) && !v.display().trim().is_empty())
    };
    if has(rec, "Identity") {
        return;
    }
    let line = rec.line;
    if rec.kind == ObjectKind::ReceiveConnector {
        if has(rec, "Name") && has(rec, "Server") {
            return; // the model joins them
        }
        if let Some(id) = rec
            .value("DistinguishedName")
            .and_then(|v| connector_from_dn(&v.display()))
        {
            set(rec, "Identity", id, line);
            return;
        }
    }
    let Some(cmd) = command else {
        return;
    };
    let ctx = context_from_command(cmd);
    if ctx.kind != Some(rec.kind) && ctx.kind.is_some() {
        // `Get-ReceiveConnector "X" | Get-ADPermission`: the identity names the connector
        // either way.
        if !(rec.kind == ObjectKind::AdPermission && ctx.kind == Some(ObjectKind::AdPermission)) {
            return;
        }
    }
    if let Some(id) = ctx.identity {
        set(rec, "Identity", id, line);
    }
}

pub(super) fn set(rec: &mut Record, name: &str, value: String, line: u32) {
    rec.props.retain(|p| !p.name.eq_ignore_ascii_case(name));
    rec.push(name, Value::Text(value), line);
}

/// `CN=<name>,CN=SMTP Receive Connectors,CN=Protocols,CN=<server>,...` → `server\name`.
pub fn connector_from_dn(dn: &str) -> Option<String> {
    let parts: Vec<&str> = dn.split(',').map(str::trim).collect();
    let cn = |s: &str| {
        s.get(..3)
            .filter(|p| p.eq_ignore_ascii_case("CN="))
            .map(|_| s[3..].to_string())
    };
    let i = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("CN=SMTP Receive Connectors"))?;
    if i != 1 || !parts.get(2)?.eq_ignore_ascii_case("CN=Protocols") {
        return None;
    }
    let name = cn(parts[0])?;
    let server = cn(parts.get(3)?)?;
    (!name.is_empty() && !server.is_empty()).then(|| format!("{server}\\{name}"))
}

/// Reads one block with the parser of its form; returns the form it was read as (a table
/// whose columns were collapsed is read by shapes), objects read and used.
pub(super) fn read_block(
    form: Form,
    lines: &[&Line],
    command: Option<&(u32, String)>,
    file: &str,
    records: &mut Vec<(usize, Record)>,
    out: &mut TextOutcome,
) -> Result<(Form, usize), InputError> {
    let mut mapper = Mapper {
        map: Vec::with_capacity(lines.len() + 1),
        command,
        records,
        block: out.blocks.len(),
        objects: 0,
    };
    let mut text = String::new();
    // The parsers of console forms read the echoed command themselves.
    if let (Some((no, cmd)), Form::List | Form::Table) = (command, form) {
        text.push_str("PS>");
        text.push_str(cmd);
        text.push('\n');
        mapper.map.push(*no);
    }
    let form = match form {
        Form::Table => {
            let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
            let d = texts.iter().position(|t| is_dash_row(t)).unwrap_or(0);
            if d >= 1 && collapsed(texts[d - 1], texts[d], &lines[d + 1..]) {
                Form::CollapsedTable
            } else {
                Form::Table
            }
        }
        f => f,
    };
    match form {
        Form::Other | Form::Command => {}
        Form::CollapsedTable => {
            let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
            let d = texts.iter().position(|t| is_dash_row(t)).unwrap_or(0);
            let columns: Vec<String> = texts[d - 1]
                .split_whitespace()
                .map(|c| table_label(c).to_string())
                .collect();
            let kind =
                crate::input::detect::kind_from_property_names(columns.iter().map(String::as_str))
                    .or_else(|| command.and_then(|(_, c)| context_from_command(c).kind));
            match kind {
                Some(kind) => {
                    for l in &lines[d + 1..] {
                        match rows::read_row(&l.text, &columns, kind, 1) {
                            Some(mut rec) => {
                                rec.line = 1;
                                mapper.map.clear();
                                mapper.map.push(l.no);
                                mapper.take(rec);
                            }
                            None => unreadable_row(out, file, l),
                        }
                    }
                }
                None => {
                    out.diagnostics.push(Diagnostic::info(
                        file,
                        lines.first().map(|l| l.no),
                        "table whose columns name no object relay-audit reads; skipped",
                    ));
                }
            }
        }
        Form::Rows => {
            let ctx = command.map(|(_, c)| context_from_command(c));
            let columns: Vec<String> = command
                .and_then(|(_, c)| format_columns(c))
                .filter(|c| c.iter().any(|n| n.eq_ignore_ascii_case("User")))
                .unwrap_or_else(|| {
                    rows::DEFAULT_RIGHTS_COLUMNS
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                });
            let mut columns = columns;
            for l in lines {
                if let Some(header) = header_without_dashes(&l.text) {
                    // `User ExtendedRights` over rows whose dash line was lost.
                    columns = header;
                    continue;
                }
                if !rows::looks_like_rights_row(&l.text) {
                    if !l.text.trim().is_empty() && !is_console_noise(&l.text) {
                        unreadable_row(out, file, l);
                    }
                    continue;
                }
                for row in rows::split_run_together(&l.text) {
                    match rows::read_row(row, &columns, ObjectKind::AdPermission, 1) {
                        Some(mut rec) => {
                            if rec.value("Identity").is_none() {
                                if let Some(id) = ctx.as_ref().and_then(|c| c.identity.clone()) {
                                    rec.push("Identity", Value::Text(id), 1);
                                }
                            }
                            mapper.map.clear();
                            mapper.map.push(l.no);
                            mapper.take(rec);
                        }
                        None => unreadable_row(out, file, l),
                    }
                }
            }
        }
        Form::List | Form::Table | Form::Csv => {
            for l in lines {
                text.push_str(&l.text);
                text.push('\n');
                mapper.map.push(l.no);
            }
            let parsed = match form {
                Form::List => {
                    format_list::parse_into(text.as_bytes(), file, &mut |r| mapper.take(r))
                }
                Form::Table => {
                    format_table::parse_into(text.as_bytes(), file, &mut |r| mapper.take(r))
                }
                _ => csv::parse_into(text.as_bytes(), file, &mut |r| mapper.take(r)),
            };
            match parsed {
                Ok(p) => {
                    out.unknown_objects += p.unknown_objects;
                    if let Some(l) = p.first_unknown_line {
                        out.first_unknown_line.get_or_insert(mapper.line(l));
                    }
                    out.objects += p.objects.saturating_sub(mapper.objects);
                    for mut d in p.diagnostics {
                        d.line = d.line.map(|n| mapper.line(n));
                        out.diagnostics.push(d);
                    }
                }
                Err(e) => {
                    let line = e.line.map(|n| mapper.line(n));
                    if e.message.starts_with("cannot read") {
                        return Err(InputError::new(file, line, e.message));
                    }
                    out.diagnostics.push(Diagnostic::info(
                        file,
                        line,
                        format!("{} block not read: {}", form.as_str(), e.message),
                    ));
                }
            }
        }
    }
    out.objects += mapper.objects;
    Ok((form, mapper.objects))
}

/// A table header whose dash line a paste lost: only property names, one of them a
/// permission column (`User ExtendedRights`, `Identity User Deny Inherited`).
pub(super) fn header_without_dashes(line: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let plain = |w: &str| {
        w.starts_with(|c: char| c.is_ascii_alphabetic())
            && w.chars().all(|c| c.is_ascii_alphanumeric())
    };
    let known = [
        "User",
        "ExtendedRights",
        "Identity",
        "Deny",
        "Inherited",
        "IsInherited",
        "Rights",
        "AccessRights",
    ];
    let ok = words.len() >= 2
        && words.iter().all(|w| plain(w))
        && words
            .iter()
            .all(|w| known.iter().any(|k| k.eq_ignore_ascii_case(w)))
        && words.iter().any(|w| w.eq_ignore_ascii_case("User"));
    ok.then(|| words.iter().map(|w| table_label(w).to_string()).collect())
}

/// Exchange 2007's default Get-ADPermission view labels.
pub(super) fn table_label(label: &str) -> &str {
    if label.eq_ignore_ascii_case("Inherited") {
        "IsInherited"
    } else {
        label
    }
}

pub(super) fn unreadable_row(out: &mut TextOutcome, file: &str, l: &Line) {
    out.diagnostics.push(Diagnostic::warning(
        file,
        Some(l.no),
        format!(
            "row whose cells cannot be told apart (columns collapsed or cut): {}",
            crate::input::lines::clip(l.text.trim(), 120)
        ),
    ));
}
