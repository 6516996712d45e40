//! Reading one input file: detecting its format, decoding it, running its reader and taking
//! its records into a model builder, with the file's summary (parse coverage) and what it
//! could not give (gaps, errors).

use super::walk::{open_regular, show};
use super::{BlockSummary, Counting, InputSummary, ScanOptions, SkippedItem, UnreadLine};
use crate::diag::{Diagnostic, InputError};
use crate::input::decode::{self, TextEncoding};
use crate::input::outcome;
use crate::input::record::{ObjectKind, Record};
use crate::model::usage::LogKind;
use crate::model::{ModelBuilder, Use};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The summary of an input not read (status `skipped`, with the reason).
pub(super) fn skipped_input(path: &Path, reason: String) -> InputSummary {
    InputSummary {
        path: show(path),
        status: "skipped",
        format: None,
        encoding: None,
        kind: None,
        records: 0,
        records_used: 0,
        skipped: vec![SkippedItem {
            line: None,
            count: 1,
            reason,
        }],
        blocks: Vec::new(),
        not_understood: Vec::new(),
        log: None,
        error: None,
    }
}

/// The summary of an input that could not be read; the error goes to `errors` (exit 2).
pub(super) fn error_input(
    path: &Path,
    message: String,
    errors: &mut Vec<InputError>,
) -> InputSummary {
    let e = InputError::new(&show(path), None, message);
    let mut s = skipped_input(path, String::new());
    s.skipped.clear();
    s.status = "error";
    s.error = Some(e.to_string());
    errors.push(e);
    s
}

#[derive(Clone, Copy)]
pub(super) enum Format {
    /// Our own TOML settings file (FORMATS.md §9).
    Settings,
    /// A regedit export (`.reg`) of the IMC key (FORMATS.md §8).
    Reg,
    /// An `ldifde` export of SMTP virtual servers and connectors (FORMATS.md §7).
    Ldif,
    /// An IIS 6 `MetaBase.xml` (FORMATS.md §7).
    Metabase,
    /// A lone `<IIsSmtpServer>` element pasted without the rest of MetaBase.xml.
    MetabaseFragment,
    CliXml,
    /// Console text, pastes, tickets, Export-Csv: read as a transcript of blocks
    /// ([`crate::input::text`]).
    Text,
    /// An SMTP log ([`crate::input::logs`]): read after the exports, in parallel.
    Log(LogKind),
}

impl Format {
    fn as_str(&self) -> &'static str {
        match self {
            Format::Settings => "settings",
            Format::Reg => "reg",
            Format::Ldif => "ldif",
            Format::Metabase => "metabase",
            Format::MetabaseFragment => "metabase fragment",
            Format::CliXml => "clixml",
            Format::Text => "transcript",
            Format::Log(k) => k.as_str(),
        }
    }
}

/// Names the format from the decoded first bytes, or says why it is not an export.
///
/// Whatever looks like CliXML is read as CliXML, so that a damaged one is an error (exit 2)
/// rather than "not an export": a `#< CLIXML` header line, an `<Objs>` or `<Obj>` root, the
/// PowerShell serialization namespace, or XML whose root element lies beyond the look-ahead
/// of [`decode::decode`] (the CliXML parser then names the root it finds).
pub(super) fn detect_format(preview: &[u8]) -> Result<Format, String> {
    use crate::input::decode::XmlStart;
    let text = String::from_utf8_lossy(preview);
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if t.starts_with(decode::CLIXML_HEADER) {
        return Ok(Format::CliXml);
    }
    if t.starts_with('<') {
        let root = decode::xml_start(t);
        if matches!(root, XmlStart::Root("Objs" | "Obj") | XmlStart::Pending)
            || t.contains("<Objs")
            || t.contains("http://schemas.microsoft.com/powershell/2004/04")
        {
            return Ok(Format::CliXml);
        }
        if crate::input::metabase::looks_like_metabase(t) {
            return Ok(Format::Metabase);
        }
        if crate::input::metabase::looks_like_metabase_fragment(t) {
            return Ok(Format::MetabaseFragment);
        }
        return Err(match root {
            XmlStart::Root(name) => format!(
                "XML, but neither a PowerShell CliXML export (root <{name}>, not <Objs>) nor an IIS MetaBase.xml"
            ),
            _ => "XML, but neither a PowerShell CliXML export (no <Objs> root) nor an IIS MetaBase.xml"
                .into(),
        });
    }
    if crate::input::reg::looks_like_reg(&text) {
        return Ok(Format::Reg);
    }
    let nul = preview.iter().filter(|&&b| b == 0).count();
    let ctrl = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t' | '\u{c}'))
        .count();
    if nul > 0 || ctrl * 20 > text.chars().count().max(1) {
        return Err("binary file, not a text export".into());
    }
    if let Some(kind) = crate::input::logs::sniff(&text) {
        return Ok(Format::Log(kind));
    }
    if crate::input::settings::looks_like_settings(&text) {
        return Ok(Format::Settings);
    }
    if crate::input::ldif::looks_like_ldif(&text) {
        return Ok(Format::Ldif);
    }
    Ok(Format::Text)
}

/// The most objects one file may add to the model (a real organisation's export holds tens
/// of thousands; a crafted file must not grow memory without bound).
const MAX_OBJECTS_PER_FILE: usize = 1 << 20;

struct FileRun<'a> {
    builder: &'a mut ModelBuilder,
    file: Arc<str>,
    read: usize,
    used: usize,
    kinds: Vec<ObjectKind>,
}

impl FileRun<'_> {
    /// Adds a record to the model; true when the model used it.
    fn take(&mut self, rec: &Record) -> bool {
        self.read += 1;
        if self.read > MAX_OBJECTS_PER_FILE {
            // Budget: the model of one file stops growing; the run exits 2 (see `apply`).
            return false;
        }
        if !self.kinds.contains(&rec.kind) {
            self.kinds.push(rec.kind);
        }
        let used = self.builder.add(&self.file, rec) != Use::Dropped;
        self.used += usize::from(used);
        used
    }
}

/// A log found by the walk, read once every export is in the model.
pub(super) struct Deferred {
    /// Its summary's place in the inputs.
    pub(super) index: usize,
    pub(super) path: PathBuf,
    pub(super) kind: LogKind,
    /// As sniffed when the log was recognised (not read again).
    pub(super) encoding: TextEncoding,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn scan_file(
    path: &Path,
    explicit: bool,
    opts: &ScanOptions,
    builder: &mut ModelBuilder,
    diagnostics: &mut Vec<Diagnostic>,
    errors: &mut Vec<InputError>,
    deferred: &mut Vec<Deferred>,
) -> InputSummary {
    let name = show(path);
    let mut summary = InputSummary {
        path: name.clone(),
        status: "ok",
        format: None,
        encoding: None,
        kind: None,
        records: 0,
        records_used: 0,
        skipped: Vec::new(),
        blocks: Vec::new(),
        not_understood: Vec::new(),
        log: None,
        error: None,
    };
    let fail = |summary: &mut InputSummary, errors: &mut Vec<InputError>, e: InputError| {
        summary.status = "error";
        summary.error = Some(e.text());
        errors.push(e);
    };
    let file = match open_regular(path) {
        Ok(f) => f,
        Err(e) => {
            fail(
                &mut summary,
                errors,
                InputError::new(&name, None, format!("cannot read: {e}")),
            );
            return summary;
        }
    };
    let file = Counting {
        inner: file,
        progress: opts.progress.clone(),
    };
    let (enc, preview, reader) = match decode::decode(file, opts.encoding) {
        Ok(x) => x,
        Err(e) => {
            fail(
                &mut summary,
                errors,
                InputError::new(&name, None, format!("cannot read: {e}")),
            );
            return summary;
        }
    };
    let format = match detect_format(&preview) {
        Ok(f) => f,
        Err(reason) => {
            if let Err(e) = not_an_export(&mut summary, explicit, &name, reason) {
                fail(&mut summary, errors, e);
            }
            return summary;
        }
    };
    summary.format = Some(format.as_str());
    summary.encoding = Some(enc.as_str());
    if let Format::Log(kind) = format {
        // Logs are read when the accepted domains are known (to tell relay from delivery).
        deferred.push(Deferred {
            index: usize::MAX,
            path: path.to_path_buf(),
            kind,
            encoding: enc,
        });
        return summary;
    }
    let file_name: Arc<str> = Arc::from(name.as_str());
    let mut run = FileRun {
        builder,
        file: file_name,
        read: 0,
        used: 0,
        kinds: Vec::new(),
    };
    let filter = matches!(format, Format::CliXml).then(crate::input::blob_filter::BlobFilter::new);
    let reader = decode::Pipelined::with_filter(reader, filter);
    if matches!(format, Format::CliXml) {
        let outcome = parse_beside(reader, &name, &mut run);
        let result =
            outcome.and_then(|o| apply(o, explicit, &name, &mut run, &mut summary, diagnostics));
        return finish_summary(summary, run, result, errors, fail);
    }
    let outcome = {
        let mut sink = |rec: Record| run.take(&rec);
        let sink: &mut crate::input::outcome::Sink<'_> = &mut sink;
        match format {
            Format::Settings => outcome::settings(reader, &name, sink),
            Format::Reg => outcome::reg(reader, &name, sink),
            Format::Ldif => outcome::ldif(reader, &name, sink),
            Format::Metabase => outcome::metabase(reader, &name, sink),
            Format::MetabaseFragment => outcome::metabase_fragment(reader, &name, sink),
            Format::CliXml => outcome::clixml(reader, &name, wanted(), sink),
            Format::Text => crate::input::text::read_input(reader, &name, sink),
            Format::Log(_) => unreachable!("logs are deferred above"),
        }
    };
    let result =
        outcome.and_then(|o| apply(o, explicit, &name, &mut run, &mut summary, diagnostics));
    finish_summary(summary, run, result, errors, fail)
}

#[cfg(test)]
thread_local! {
    /// Tests: build every property of a CliXML record (to show that the skipped ones change
    /// nothing).
    pub(super) static EVERY_PROPERTY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The properties of a CliXML record worth building: those the model reads.
fn wanted() -> Option<crate::input::clixml::Wanted> {
    #[cfg(test)]
    if EVERY_PROPERTY.with(|c| c.get()) {
        return None;
    }
    Some(crate::model::reads)
}

/// Reads a CliXML export with the XML parsed on a thread of its own: the records go to this
/// thread, which builds the model, in batches. (Decoding already runs on a third thread; with
/// parsing and building on one thread, that one did four fifths of the work and a second core
/// idled.) Records arrive in file order, so the model is the same as from one thread.
fn parse_beside<R: std::io::BufRead + Send>(
    reader: R,
    name: &str,
    run: &mut FileRun<'_>,
) -> Result<outcome::Outcome, InputError> {
    // Records in flight are memory the model does not hold (a connector's record is about
    // 10 KB): a few batches keep both threads busy.
    const BATCH: usize = 32;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(4);
    let wanted = wanted();
    std::thread::scope(|s| {
        let parser = s.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let mut open = true;
            let mut sink = |rec: Record| {
                batch.push(rec);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    open = tx.send(full).is_ok();
                }
                open
            };
            let outcome = outcome::clixml(reader, name, wanted, &mut sink);
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            outcome
        });
        for batch in rx {
            for rec in &batch {
                run.take(rec);
            }
        }
        parser
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn finish_summary(
    mut summary: InputSummary,
    mut run: FileRun<'_>,
    result: Result<(), InputError>,
    errors: &mut Vec<InputError>,
    fail: impl Fn(&mut InputSummary, &mut Vec<InputError>, InputError),
) -> InputSummary {
    summary.records = run.read;
    summary.records_used = run.used;
    if !run.kinds.is_empty() {
        run.kinds.sort();
        summary.kind = Some(
            run.kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Err(e) = result {
        fail(&mut summary, errors, e);
    }
    summary
}

/// Applies a reader's outcome to the file's summary, the diagnostics and the model, the same
/// way for every format.
fn apply(
    o: crate::input::outcome::Outcome,
    explicit: bool,
    name: &str,
    run: &mut FileRun<'_>,
    summary: &mut InputSummary,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(), InputError> {
    if let Some(reason) = o.not_an_export {
        return not_an_export(summary, explicit, name, reason);
    }
    if let Some(n) = o.objects {
        run.read = n;
    }
    if let Some(form) = o.form {
        summary.format = Some(form);
    }
    summary.skipped.extend(o.skipped);
    diagnostics.extend(o.notes);
    summary.blocks = o
        .blocks
        .iter()
        .map(|b| BlockSummary {
            line: b.line,
            command: b.command.clone(),
            form: b.form.as_str(),
            objects: b.objects,
            used: b.used,
        })
        .collect();
    let mut budget = o.error;
    if run.read > MAX_OBJECTS_PER_FILE && budget.is_none() {
        budget = Some(InputError::new(
            name,
            None,
            format!(
                "resource budget: more than {MAX_OBJECTS_PER_FILE} objects; the rest ({}) were not read into the model",
                run.read - MAX_OBJECTS_PER_FILE
            ),
        ));
    }
    if let Some((line, text)) = o.cut {
        run.builder.add_gap(crate::model::InputGap {
            kind: crate::model::GapKind::CutOff,
            src: crate::model::Source {
                file: run.file.clone(),
                line,
            },
            lines: vec![(line, text)],
            count: 1,
            objects_used: run.used,
        });
    }
    if !o.unread.is_empty() {
        let gap = unread_gap(
            summary,
            run.file.clone(),
            o.unread,
            o.unread_count,
            run.used,
        );
        run.builder.add_gap(gap);
    }
    // A malformed part or a budget hit: what was read is in the model and the report (with its
    // notes), and the run exits 2.
    match budget {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Lines that carry relay evidence no reader understood (`unread`, non-empty): listed in the
/// file's summary, and the gap `INPUT-NOT-UNDERSTOOD` reports. `used`: what the file gave.
pub(super) fn unread_gap(
    summary: &mut InputSummary,
    file: Arc<str>,
    unread: Vec<(u32, String)>,
    count: usize,
    used: usize,
) -> crate::model::InputGap {
    summary.status = if used == 0 {
        "not-understood"
    } else {
        "partial"
    };
    summary.not_understood = unread
        .iter()
        .map(|(line, text)| UnreadLine {
            line: *line,
            text: text.clone(),
        })
        .collect();
    crate::model::InputGap {
        kind: crate::model::GapKind::NotUnderstood,
        src: crate::model::Source {
            file,
            line: unread[0].0,
        },
        lines: unread,
        count,
        objects_used: used,
    }
}

/// A file that turned out not to be an export: an error when it was named on the command
/// line, a skipped file (with the reason) inside a folder walk.
pub(super) fn not_an_export(
    summary: &mut InputSummary,
    explicit: bool,
    name: &str,
    reason: String,
) -> Result<(), InputError> {
    if explicit {
        return Err(InputError::new(
            name,
            None,
            format!("not a recognizable export: {reason}"),
        ));
    }
    summary.status = "skipped";
    summary.format = None;
    summary.encoding = None;
    summary.skipped.push(SkippedItem {
        line: None,
        count: 1,
        reason,
    });
    Ok(())
}
