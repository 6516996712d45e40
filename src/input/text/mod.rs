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
pub use crate::input::outcome::{Block, Form};
use crate::input::outcome::{Outcome, Sink, Skipped};
use crate::input::paste::{self, Artifacts, Line};
use crate::input::record::{ObjectKind, Record, Value};
use crate::input::{csv, format_list, format_table, vocabulary};
use regions::is_list_line;

mod blocks;
mod regions;

pub use blocks::connector_from_dn;
use std::io::{BufRead, Read};

/// Texts up to this size are read as transcripts (blocks); larger ones are streamed as one
/// form. Pastes and tickets are far smaller; `Out-File` exports of large organisations are
/// not, and hold one form.
pub const MAX_TRANSCRIPT_BYTES: usize = 4 << 20;

/// How many unread relay-evidence lines are kept per file (the rest are counted).
const MAX_UNREAD_KEPT: usize = 5;

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
    let mut tail = crate::input::outcome::Tail::new(std::io::Cursor::new(buf).chain(reader));
    let mut reader = paste::CleanReader::new(std::io::BufReader::new(&mut tail), &head);
    let mut out = stream(form, &mut reader, file, sink)?;
    for line in reader.cut_lines.iter().take(20) {
        out.notes.push(Diagnostic::warning(
            file,
            Some(*line),
            format!(
                "line longer than {} MiB: only its start was read (the value is cut)",
                paste::MAX_LINE_BYTES >> 20
            ),
        ));
    }
    if let Some(&line) = reader.cut_lines.first() {
        out.error = Some(InputError::new(
            file,
            Some(line),
            format!(
                "resource budget: line longer than {} MiB ({} such lines): only their start was read",
                paste::MAX_LINE_BYTES >> 20,
                reader.cut_lines.len()
            ),
        ));
    }
    drop(reader);
    out.cut = tail.cut();
    Ok(out)
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
    // A file cut off in the middle of a line that shows relay vocabulary anywhere (even in
    // its echoed command) is not skipped: what followed the cut is unknown.
    let cut = crate::input::outcome::cut_of(text);
    let cut_evidence = cut.is_some() && text.lines().any(|l| vocabulary::relay_term(l).is_some());
    if sent == 0 && unread.is_empty() && !cut_evidence {
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
        cut,
        error: None,
    })
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
    let regions = regions::regions(lines);
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
        blocks::read_region(region, file, &mut records, &mut out)?;
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

/// A pasted text through the front end and the transcript reader, as the parsers' own tests
/// see it: records and diagnostics with the file's line numbers.
#[cfg(test)]
pub(crate) fn parse_pasted(t: &str) -> crate::input::format_list::Parsed {
    let mut records = Vec::new();
    let out = read(t, "t.txt", &mut |r| {
        records.push(r);
        true
    })
    .expect("reads");
    crate::input::format_list::Parsed {
        records,
        diagnostics: out.diagnostics,
        objects: out.objects,
        ..Default::default()
    }
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
