//! The transcript reader: a text input is a sequence of blocks, each the output of one command.
//!
//! What consultants receive is rarely one clean export per file: a ticket with three commands
//! and their output under each other, a forum thread, an e-mail whose client collapsed the
//! table columns. This reader takes such a text whole:
//!
//! 1. [`paste::normalise`] undoes forum, mail and Markdown artifacts once, for every form;
//! 2. the text is split into **regions** at echoed commands (after a prompt, or a bare
//!    `Get-…`/`Add-…` command line); a command wrapped by a mail client is joined again;
//! 3. each region's paragraphs are classified on their own — Format-List, Format-Table, CSV
//!    (`ConvertTo-Csv` / `Export-Csv` text), header-less permission rows, or other text — and
//!    runs of one form become **blocks**, each read by the parser of its form with the
//!    region's command in front of it, so that the command's context (object kind, identity,
//!    `-User`) applies to its block;
//! 4. an echoed `Add-ADPermission … -ExtendedRights …` is itself evidence of a grant;
//! 5. every line that holds relay vocabulary ([`vocabulary`]) and that no block understood
//!    is kept: the caller reports it as `INPUT-NOT-UNDERSTOOD` rather than calling the file
//!    clean.
//!
//! Records keep the line numbers of the file as it was sent. Memory: the whole text of the
//! file (the caller reads only texts under [`MAX_TRANSCRIPT_BYTES`] this way; larger text
//! exports are streamed by the single-form parsers).

use crate::diag::{Diagnostic, InputError};
use crate::input::outcome::{Outcome, Sink, Skipped};
use crate::input::paste::{self, Artifacts, Line};
use crate::input::record::{ObjectKind, Record, Value};
use crate::input::transcript::{context_from_command, format_columns, prompt_command};
use crate::input::{csv, format_list, format_table, rows, vocabulary};
use std::io::{BufRead, Read};

/// Texts up to this size are read as transcripts (blocks); larger ones are streamed as one
/// form. Pastes and tickets are far smaller; `Out-File` exports of large organisations are
/// not, and hold one form.
pub const MAX_TRANSCRIPT_BYTES: usize = 4 << 20;

/// How many unread relay-evidence lines are kept per file (the rest are counted).
const MAX_UNREAD_KEPT: usize = 5;

/// The form of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    List,
    Table,
    /// A table whose columns a paste collapsed to single spaces: read by cell shapes.
    CollapsedTable,
    Csv,
    /// Permission rows without their header and dash lines.
    Rows,
    /// An echoed `Add-ADPermission` / `Remove-ADPermission`.
    Command,
    Other,
}

impl Form {
    pub fn as_str(self) -> &'static str {
        match self {
            Form::List => "format-list",
            Form::Table => "format-table",
            Form::CollapsedTable => "format-table (collapsed columns)",
            Form::Csv => "csv",
            Form::Rows => "permission rows without header",
            Form::Command => "echoed command",
            Form::Other => "other text",
        }
    }
}

/// One block of a transcript, for the input summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// First line of the block's output (or of its command).
    pub line: u32,
    pub command: Option<String>,
    pub form: Form,
    /// Objects read from the block.
    pub objects: usize,
    /// Of those, objects the model used.
    pub used: usize,
}

/// What reading one text gave, besides the records sent to the sink.
#[derive(Debug, Default)]
pub struct TextOutcome {
    pub blocks: Vec<Block>,
    pub diagnostics: Vec<Diagnostic>,
    /// Objects read (of a known kind or not).
    pub objects: usize,
    pub unknown_objects: usize,
    pub first_unknown_line: Option<u32>,
    /// Commands echoed in the text, with their lines.
    pub commands: Vec<(u32, String)>,
    /// Lines holding relay vocabulary that no block understood (the first few).
    pub unread_relay: Vec<(u32, String)>,
    /// How many such lines there are in all.
    pub unread_relay_count: usize,
    /// Echoed commands that change relay configuration (`New-ReceiveConnector ...
    /// -RemoteIPRanges`, `Set-ReceiveConnector -PermissionGroups`): their effect is not in any
    /// output relay-audit reads. Evidence when the text yields no object at all.
    pub relay_commands: Vec<(u32, String)>,
    pub artifacts: Artifacts,
    /// Lines of a Markdown document that are prose (outside code blocks): what they say
    /// about relay is documentation, not evidence.
    prose: std::collections::HashSet<u32>,
}

impl TextOutcome {
    /// A line that carries relay vocabulary and is not Markdown prose.
    fn is_evidence(&self, l: &Line) -> bool {
        !self.prose.contains(&l.no) && vocabulary::relay_term(&l.text).is_some()
    }
}

/// In a Markdown document (`.md`, `.markdown`), the lines outside fenced code blocks: a
/// README that explains a setting is not an export of it. Console output pasted into
/// Markdown sits in fences, and stays evidence. (Indented lines are list continuations as
/// often as code, so only fences count.)
fn markdown_prose(file: &str, text: &str) -> std::collections::HashSet<u32> {
    let lower = file.to_ascii_lowercase();
    let mut prose = std::collections::HashSet::new();
    if !(lower.ends_with(".md") || lower.ends_with(".markdown")) {
        return prose;
    }
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        let no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            prose.insert(no);
        }
    }
    prose
}

/// Reads a text input: as a transcript of blocks when it is at most
/// [`MAX_TRANSCRIPT_BYTES`], else streamed as the one form its start shows.
pub fn read_input<R: BufRead>(
    mut reader: R,
    file: &str,
    sink: &mut Sink<'_>,
) -> Result<Outcome, InputError> {
    let mut buf = Vec::new();
    (&mut reader)
        .take(MAX_TRANSCRIPT_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| InputError::new(file, None, format!("cannot read: {e}")))?;
    if buf.len() <= MAX_TRANSCRIPT_BYTES {
        let text = String::from_utf8_lossy(&buf).into_owned();
        drop(buf);
        let directory = |w: &[u8]| w.eq_ignore_ascii_case(b"msexch");
        if text.as_bytes().windows(6).any(directory) {
            // Through the paste front end first (a listing may come double-spaced, quoted):
            // the listing's lines are then numbered as the file's.
            let (lines, _) = paste::normalise(&text);
            let cleaned: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
            if crate::input::adsi::looks_like_listing(&cleaned) {
                let numbers: Vec<u32> = lines.iter().map(|l| l.no).collect();
                if let Some(out) = crate::input::outcome::listing(&cleaned, &numbers, file, sink) {
                    return out;
                }
            }
        }
        return transcript(&text, file, sink);
    }
    // Too large to hold: read through the line-keeping part of the front end, decided from
    // the head (an `Out-File` export of a large organisation, one form).
    let head = String::from_utf8_lossy(&buf[..buf.len().min(64 << 10)]).into_owned();
    let cleaner = paste::LineCleaner::decide(&head);
    let mut seen = Artifacts::default();
    let cleaned: String = head
        .split('\n')
        .map(|l| cleaner.clean(l, &mut seen) + "\n")
        .collect();
    let Some(form) = stream_form(&cleaned) else {
        return Ok(Outcome::not_an_export("text, but no export format recognised (expected CliXML, Export-Csv, Format-Table or Format-List \"Name : Value\" lines)"));
    };
    let reader = paste::CleanReader::new(std::io::Cursor::new(buf).chain(reader), &head);
    stream(form, reader, file, sink)
}

/// The form a large text starts in.
fn stream_form(head: &str) -> Option<Form> {
    if format_table::looks_like_table(head) {
        Some(Form::Table)
    } else if csv::looks_like_csv(head) {
        Some(Form::Csv)
    } else if head.lines().any(is_list_line) {
        Some(Form::List)
    } else {
        None
    }
}

/// A large text of one form, streamed by that form's parser.
fn stream<R: BufRead>(
    form: Form,
    reader: R,
    file: &str,
    sink: &mut Sink<'_>,
) -> Result<Outcome, InputError> {
    let mut sent = 0usize;
    let mut take = |r: Record| {
        sent += 1;
        sink(r);
    };
    let parsed = match form {
        Form::Csv => csv::parse_into(reader, file, &mut take),
        Form::Table => format_table::parse_into(reader, file, &mut take),
        _ => format_list::parse_into(reader, file, &mut take),
    };
    match parsed {
        // "Name : Value" lines but no Exchange object: notes, or the output of a cmdlet
        // relay-audit does not read.
        Ok(p) if sent == 0 => Ok(Outcome::not_an_export(match p.commands.first() {
            Some((_, cmd)) => format!(
                "{} text with no object relay-audit reads (command: {cmd})",
                form.as_str()
            ),
            None => NO_OBJECT.to_string(),
        })),
        Ok(p) => {
            let mut out = Outcome {
                objects: Some(p.objects),
                notes: p.diagnostics,
                form: Some(form.as_str()),
                ..Outcome::default()
            };
            if p.unknown_objects > 0 {
                out.skipped
                    .push(unknown_skipped(p.first_unknown_line, p.unknown_objects));
            }
            Ok(out)
        }
        // Prose that merely contains a "Name: value" line is not an export.
        Err(e) if sent == 0 && !e.message.starts_with("cannot read") => {
            Ok(Outcome::not_an_export(e.message))
        }
        Err(e) => Err(e),
    }
}

const NO_OBJECT: &str = "text with no Get-ReceiveConnector, Get-ADPermission, Get-AcceptedDomain or Get-ExchangeServer object, and no relay evidence";

fn unknown_skipped(line: Option<u32>, count: usize) -> Skipped {
    Skipped {
        line,
        count,
        reason: "objects with none of the properties of a receive connector, AD permission, accepted domain or Exchange server".into(),
    }
}

/// A whole text read as a transcript; relay evidence no block understood is kept in the
/// outcome (the scan reports it as `INPUT-NOT-UNDERSTOOD`), never skipped quietly.
fn transcript(text: &str, file: &str, sink: &mut Sink<'_>) -> Result<Outcome, InputError> {
    let (mut sent, mut used) = (0usize, 0usize);
    let out = read(text, file, &mut |rec| {
        sent += 1;
        let u = sink(rec);
        used += usize::from(u);
        u
    })?;
    // Output lines no block understood; when nothing at all was used, also the echoed
    // commands that change relay configuration (their effect is in no output read).
    let mut unread = out.unread_relay.clone();
    let mut count = out.unread_relay_count;
    if used == 0 {
        count += out.relay_commands.len();
        unread.extend(out.relay_commands.iter().cloned());
        unread.sort();
        unread.truncate(MAX_UNREAD_KEPT);
    }
    if sent == 0 && unread.is_empty() {
        return Ok(Outcome::not_an_export(match out.commands.first() {
            Some((_, cmd)) => format!(
                "text with no object relay-audit reads (command: {})",
                crate::input::lines::clip(cmd, 200)
            ),
            None => NO_OBJECT.to_string(),
        }));
    }
    let mut notes = Vec::new();
    let artifacts = out.artifacts.names();
    if !artifacts.is_empty() {
        notes.push(Diagnostic::info(
            file,
            None,
            format!("pasted text: undid {}", artifacts.join(", ")),
        ));
    }
    notes.extend(out.diagnostics);
    let mut skipped = Vec::new();
    if out.unknown_objects > 0 {
        skipped.push(unknown_skipped(out.first_unknown_line, out.unknown_objects));
    }
    Ok(Outcome {
        objects: Some(out.objects),
        skipped,
        notes,
        not_an_export: None,
        form: None,
        blocks: out.blocks,
        unread,
        unread_count: count,
    })
}

/// A run of lines after one command.
struct Region {
    command: Option<(u32, String)>,
    lines: Vec<Line>,
}

/// Reads a whole text. `sink` returns whether the model used the record.
pub fn read(
    text: &str,
    file: &str,
    sink: &mut dyn FnMut(Record) -> bool,
) -> Result<TextOutcome, InputError> {
    let prose = markdown_prose(file, text);
    let (lines, artifacts) = paste::normalise(text);
    let mut out = TextOutcome {
        artifacts,
        prose,
        ..TextOutcome::default()
    };
    let regions = regions(lines);
    for (no, cmd) in regions.iter().filter_map(|r| r.command.as_ref()) {
        let changes = cmd.split(['|', ';']).any(|seg| {
            let verb = seg.trim().split('-').next().unwrap_or("");
            ["Set", "New", "Enable", "Add"]
                .iter()
                .any(|v| v.eq_ignore_ascii_case(verb))
        });
        if changes
            && !out.prose.contains(no)
            && vocabulary::relay_term(cmd).is_some()
            && out.relay_commands.len() < MAX_UNREAD_KEPT
        {
            out.relay_commands.push((*no, cmd.clone()));
        }
    }
    let mut records: Vec<(usize, Record)> = Vec::new();
    // Echoed permission changes, applied in order (a later Remove cancels an earlier Add).
    let mut grants: Vec<(u32, crate::input::transcript::PermissionChange)> = Vec::new();
    for region in &regions {
        if let Some((no, cmd)) = &region.command {
            out.commands.push((*no, cmd.clone()));
            if let Some(change) = crate::input::transcript::permission_change(cmd) {
                if change.add {
                    grants.push((*no, change));
                } else {
                    grants.retain(|(_, g)| {
                        !(same(&g.identity, &change.identity)
                            && same(&g.user, &change.user)
                            && g.deny == change.deny
                            && g.rights
                                .iter()
                                .all(|r| change.rights.iter().any(|c| c.eq_ignore_ascii_case(r))))
                    });
                }
            }
        }
        read_region(region, file, &mut records, &mut out)?;
    }
    for (block, rec) in merge_partial_connectors(records) {
        if sink(rec) {
            out.blocks[block].used += 1;
        }
    }
    // Blocks of other text without a command say nothing worth listing.
    out.blocks
        .retain(|b| b.form != Form::Other || b.command.is_some());
    for (no, g) in grants {
        let mut rec = Record::new(ObjectKind::AdPermission, no);
        if let Some(id) = &g.identity {
            rec.push("Identity", Value::Text(id.clone()), no);
        }
        rec.push("User", Value::Text(g.user.clone().unwrap_or_default()), no);
        rec.push(
            "ExtendedRights",
            Value::List {
                items: g.rights.clone(),
                truncated: false,
            },
            no,
        );
        rec.push(
            "Deny",
            Value::Text(if g.deny { "True" } else { "False" }.into()),
            no,
        );
        rec.push("IsInherited", Value::Text("False".into()), no);
        out.objects += 1;
        let used = sink(rec);
        out.blocks.push(Block {
            line: no,
            command: out
                .commands
                .iter()
                .find(|(n, _)| *n == no)
                .map(|(_, c)| c.clone()),
            form: Form::Command,
            objects: 1,
            used: usize::from(used),
        });
    }
    out.blocks.sort_by_key(|b| b.line);
    Ok(out)
}

/// One connector printed by several commands of a transcript (`fl Permission*`, then `fl
/// auth*,bind*`) is one object: its records are merged (a later value of the same property
/// wins), so that no command's output replaces another's.
fn merge_partial_connectors(records: Vec<(usize, Record)>) -> Vec<(usize, Record)> {
    let mut out: Vec<(usize, Record)> = Vec::with_capacity(records.len());
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (block, rec) in records {
        let key = (rec.kind == ObjectKind::ReceiveConnector)
            .then(|| {
                rec.value("Identity")
                    .map(|v| v.display().trim().to_lowercase())
            })
            .flatten()
            .filter(|k| !k.is_empty());
        match key.and_then(|k| match index.get(&k) {
            Some(&i) => Some(i),
            None => {
                index.insert(k, out.len());
                None
            }
        }) {
            Some(i) => {
                let merged = &mut out[i].1;
                for p in rec.props {
                    merged
                        .props
                        .retain(|q| !q.name.eq_ignore_ascii_case(&p.name));
                    merged.props.push(p);
                }
            }
            None => out.push((block, rec)),
        }
    }
    out
}

fn same(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            let short = |s: &str| s.rsplit('\\').next().unwrap_or(s).trim().to_lowercase();
            a.eq_ignore_ascii_case(b) || short(a) == short(b)
        }
        (None, None) => true,
        _ => false,
    }
}

/// A command line without a prompt: `Get-ReceiveConnector ...`, `Add-ADPermission ...`,
/// `$FormatEnumerationLimit = -1`.
fn bare_command(line: &str) -> Option<&str> {
    let t = line.trim();
    if let Some(var) = t.strip_prefix('$') {
        let name_end = var
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(var.len());
        return (name_end > 0 && var[name_end..].trim_start().starts_with('=')).then_some(t);
    }
    let word = t.split_whitespace().next()?;
    let word = word.rsplit('\\').next().unwrap_or(word);
    let (verb, noun) = word.split_once('-')?;
    const VERBS: [&str; 10] = [
        "Get", "Set", "Add", "Remove", "New", "Enable", "Disable", "Export", "Import", "Test",
    ];
    let ok = VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb))
        && noun.len() >= 3
        && noun.chars().all(|c| c.is_ascii_alphanumeric())
        && noun.starts_with(|c: char| c.is_ascii_uppercase())
        && !t.contains(" : ");
    ok.then_some(t)
}

/// Quotes or brackets left open: the command goes on on the next line.
fn unbalanced(cmd: &str) -> bool {
    let (mut dq, mut sq, mut depth) = (false, false, 0i32);
    for c in cmd.chars() {
        match c {
            '"' if !sq => dq = !dq,
            '\'' if !dq => sq = !sq,
            '(' | '{' if !dq && !sq => depth += 1,
            ')' | '}' if !dq && !sq => depth -= 1,
            _ => {}
        }
    }
    dq || sq || depth > 0
}

/// Whether `next` continues a command that a mail client wrapped.
fn continues(cmd: &str, next: &str, after: Option<&str>) -> bool {
    let n = next.trim_start();
    if n.is_empty() || prompt_command(next).is_some() || bare_command(next).is_some() {
        return false;
    }
    if after.is_some_and(is_dash_row) || is_list_line(next) {
        return false;
    }
    let c = cmd.trim_end();
    // `... | fl` / `select` / `-Property` at the end of the line: the property list follows.
    let last = c.rsplit(char::is_whitespace).next().unwrap_or("");
    let wants_list = [
        "fl",
        "ft",
        "select",
        "Format-List",
        "Format-Table",
        "Select-Object",
        "-Property",
    ]
    .iter()
    .any(|w| w.eq_ignore_ascii_case(last));
    let first = n.split_whitespace().next().unwrap_or("");
    let property_list = !first.is_empty()
        && first
            .split(',')
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '*'));
    (wants_list && property_list)
        || c.ends_with('|')
        || c.ends_with(',')
        || unbalanced(c)
        || n.starts_with('|')
        || (n.starts_with('-') && n[1..].starts_with(|ch: char| ch.is_ascii_alphabetic()))
        || (n.contains(" | ") || n.contains(" -") && n.contains(','))
        || n.starts_with(">>")
}

fn regions(lines: Vec<Line>) -> Vec<Region> {
    let mut out = vec![Region {
        command: None,
        lines: Vec::new(),
    }];
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let cmd = prompt_command(&line.text).or_else(|| bare_command(&line.text));
        match cmd {
            Some(cmd) => {
                let mut cmd = cmd.to_string();
                let no = line.no;
                while let Some(next) = lines.get(i + 1) {
                    let after = lines.get(i + 2).map(|l| l.text.as_str());
                    if !continues(&cmd, &next.text, after) {
                        break;
                    }
                    let more = next.text.trim();
                    let more = more.strip_prefix(">>").unwrap_or(more).trim();
                    cmd.push(' ');
                    cmd.push_str(more);
                    i += 1;
                }
                out.push(Region {
                    command: (!cmd.is_empty()).then_some((no, cmd)),
                    lines: Vec::new(),
                });
            }
            None => out.last_mut().expect("one region").lines.push(line.clone()),
        }
        i += 1;
    }
    out
}

fn is_dash_row(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.contains('-') && t.chars().all(|c| c == '-' || c == ' ')
}

/// `Name : Value` (or `Name :`), a Format-List line.
fn is_list_line(line: &str) -> bool {
    let Some((name, _)) = line.split_once(':') else {
        return false;
    };
    let name = name.trim();
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Lines PowerShell prints around output that belong to no form.
fn is_console_noise(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("WARNING:")
        || t.starts_with("VERBOSE:")
        || t.starts_with(">>")
        || t.starts_with("**********")
}

/// Whether a paragraph is a table whose columns were collapsed to single spaces.
fn collapsed(header: &str, dashes: &str, rows: &[&Line]) -> bool {
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

fn classify(par: &[&Line]) -> Form {
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
        && (texts[0].starts_with("#TYPE") || texts[0].contains([',', ';', '\t']))
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
fn read_region(
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
    for p in pars {
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
struct Mapper<'a> {
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
fn fill_identity(rec: &mut Record, command: Option<&str>) {
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

fn set(rec: &mut Record, name: &str, value: String, line: u32) {
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
fn read_block(
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
fn header_without_dashes(line: &str) -> Option<Vec<String>> {
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
fn table_label(label: &str) -> &str {
    if label.eq_ignore_ascii_case("Inherited") {
        "IsInherited"
    } else {
        label
    }
}

fn unreadable_row(out: &mut TextOutcome, file: &str, l: &Line) {
    out.diagnostics.push(Diagnostic::warning(
        file,
        Some(l.no),
        format!(
            "row whose cells cannot be told apart (columns collapsed or cut): {}",
            crate::input::lines::clip(l.text.trim(), 120)
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> (Vec<Record>, TextOutcome) {
        let mut recs = Vec::new();
        let out = read(text, "t.txt", &mut |r| {
            recs.push(r);
            true
        })
        .unwrap();
        (recs, out)
    }

    #[test]
    fn list_then_header_less_rows_double_spaced() {
        let t = "[PS] C:\\Windows\\system32>Get-ReceiveConnector \"EX01\\Anonymous Relay\" | fl Enabled,Bindings,RemoteIPRanges\n\n\n\nEnabled        : True\n\nBindings       : {0.0.0.0:25}\n\nRemoteIPRanges : {0.0.0.0-255.255.255.255}\n\n\n\n[PS] C:\\Windows\\system32>Get-ADPermission \"EX01\\Anonymous Relay\" -User \"NT AUTHORITY\\ANONYMOUS LOGON\" | ft User,ExtendedRights\n\n\n\nNT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Recipient}\n\n";
        let (recs, out) = read_all(t);
        assert!(out.artifacts.double_spaced);
        assert_eq!(recs.len(), 2, "{recs:#?}");
        assert_eq!(recs[0].kind, ObjectKind::ReceiveConnector);
        assert_eq!(
            recs[0].value("Identity"),
            Some(&Value::Text("EX01\\Anonymous Relay".into()))
        );
        assert_eq!(recs[1].kind, ObjectKind::AdPermission);
        assert_eq!(
            recs[1].value("Identity"),
            Some(&Value::Text("EX01\\Anonymous Relay".into()))
        );
        assert_eq!(recs[1].line, 17);
        assert!(out.unread_relay.is_empty());
        assert_eq!(out.blocks.len(), 2);
        assert_eq!(out.blocks[1].form, Form::Rows);
    }

    #[test]
    fn echoed_add_adpermission_is_a_grant() {
        let t = "[PS] C:\\>Get-ReceiveConnector \"Anonymous Relay\" | Add-ADPermission -User \"NT AUTHORITY\\ANONYMOUS LOGON\" -ExtendedRights \"ms-Exch-SMTP-Accept-Any-Recipient\"\n\nIdentity             User                 Deny  Inherited\n--------             ----                 ----  ---------\nEX01\\Anonymous Re... NT AUTHORITY\\ANON... False False\n";
        let (recs, _) = read_all(t);
        let grant = recs
            .iter()
            .find(|r| r.value("ExtendedRights").is_some())
            .unwrap();
        assert_eq!(
            grant.value("Identity"),
            Some(&Value::Text("Anonymous Relay".into()))
        );
        assert_eq!(grant.line, 1);
    }

    #[test]
    fn unread_relay_lines_are_kept() {
        let t = "Here is my config:\nthe connector has ms-Exch-SMTP-Accept-Any-Recipient for anonymous\n";
        let (recs, out) = read_all(t);
        assert!(recs.is_empty());
        assert_eq!(out.unread_relay_count, 1);
        assert_eq!(out.unread_relay[0].0, 2);
    }

    #[test]
    fn connector_identity_from_dn() {
        assert_eq!(
            connector_from_dn("CN=Relay,CN=SMTP Receive Connectors,CN=Protocols,CN=EX01,CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com").as_deref(),
            Some("EX01\\Relay")
        );
        assert_eq!(connector_from_dn("CN=x,DC=y"), None);
    }

    #[test]
    fn wrapped_command_is_joined() {
        let t = "[PS] C:\\>Get-ADPermission \"EX01\\Relay\" | ft\nUser,ExtendedRights -AutoSize\n\nUser                         ExtendedRights\n----                         --------------\nNT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Recipient}\n";
        let (recs, out) = read_all(t);
        assert_eq!(out.commands.len(), 1, "{:?}", out.commands);
        assert!(out.commands[0].1.ends_with("-AutoSize"));
        assert_eq!(recs.len(), 1);
        assert_eq!(
            recs[0].value("Identity"),
            Some(&Value::Text("EX01\\Relay".into()))
        );
    }
}
