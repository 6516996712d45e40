//! Scan: the pipeline from paths to a [`Report`].
//!
//! Walks the paths (folders recursively, in sorted order), decodes and detects each file,
//! streams its records into the model, then runs the analysis and the rules. A file that
//! cannot be read is recorded as an error and the rest is still audited; files inside a
//! folder that are not exports are listed as skipped. Choosing the exit code is the caller's
//! job ([`Report::exit_code`]).

use crate::analysis::Facts;
use crate::diag::{Diagnostic, InputError};
use crate::input::decode::{self, TextEncoding};
use crate::input::outcome;
use crate::input::record::{ObjectKind, Record};
use crate::model::usage::LogKind;
use crate::model::{Model, ModelBuilder, Use};
use crate::rules::{self, Finding, RuleSet, Severity};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub mod batch;
mod logs;
pub mod probe;
pub mod stage;
mod usage;
mod walk;

pub use usage::UsageReport;

pub use walk::{audited_ids, file_id, inventory, walk, FileId, Seen, Walked};
use walk::{named_path, open_regular, show, Named};

/// What `scan` needs besides the paths.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Force a text encoding instead of sniffing (`--encoding`).
    pub encoding: Option<TextEncoding>,
    /// Told how many input bytes were read, as they are read (for a progress bar).
    pub progress: Option<Progress>,
    /// The operator's site file (trusted relay hosts, NAT addresses): joined with the logs.
    pub site: Option<Arc<crate::analysis::site::Site>>,
    /// Audit everything as one organisation, even a folder of client folders.
    pub one_organisation: bool,
}

/// A progress callback: called with the number of bytes just read.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<dyn Fn(u64) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    progress: Option<Progress>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            (p.0)(n as u64);
        }
        Ok(n)
    }
}

/// Something in a file that was read but not used, and why.
pub use crate::input::outcome::Skipped as SkippedItem;

/// One input file and how much of it was understood (parse coverage).
#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    pub path: String,
    /// `ok`, `skipped` (not an export) or `error` (unreadable or malformed).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
    /// Object kinds found (`receive-connector`, ...), comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Objects read from the file (ours and others).
    pub records: usize,
    /// Objects that went into the model.
    pub records_used: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedItem>,
    /// A text input read as a transcript: its blocks, each the output of one command.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<BlockSummary>,
    /// Lines that carry relay evidence and that no reader understood (the first few).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_understood: Vec<UnreadLine>,
    /// An SMTP log: what it held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<crate::input::logs::LogSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One block of a transcript: the output of one command, in one form.
#[derive(Debug, Clone, Serialize)]
pub struct BlockSummary {
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub form: &'static str,
    /// Objects read from the block.
    pub objects: usize,
    /// Of those, objects that went into the model.
    pub used: usize,
}

/// A line that carries relay evidence no reader understood.
#[derive(Debug, Clone, Serialize)]
pub struct UnreadLine {
    pub line: u32,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

/// Everything a report writer needs. Writers only format it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The version of the report's JSON schema (`relay-audit schema`).
    pub schema_version: &'static str,
    pub tool: Tool,
    pub inputs: Vec<InputSummary>,
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
    pub summary: Summary,
    /// With `--baseline`: findings of the baseline that this scan no longer raises.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<Resolved>,
    /// Version of the rule set (a digest of the rule files in effect).
    pub rules_version: String,
    /// What the SMTP logs read beside the exports show (absent without logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageReport>,
    /// Live probes (`relay-audit probe`): verdicts, the server recognised, the transcript,
    /// and the comparison with the export.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<crate::probe::ProbeRun>,
    /// A folder of client folders: one audit per client, each judged on its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub audits: Vec<batch::Audit>,
    #[serde(skip)]
    pub errors: Vec<InputError>,
    #[serde(skip)]
    pub model_counts: ModelCounts,
}

/// A baseline finding that is gone.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Resolved {
    pub rule: String,
    pub severity: Severity,
    pub object: crate::rules::ObjectRef,
    pub fingerprint: String,
}

/// Findings per severity, worst first.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

impl Summary {
    pub fn count(&self, s: Severity) -> usize {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ModelCounts {
    pub servers: usize,
    pub connectors: usize,
    pub permissions: usize,
    pub domains: usize,
    /// Legacy objects per kind: IMC, SMTP virtual servers, SMTP connectors.
    pub imcs: usize,
    pub virtual_servers: usize,
    pub smtp_connectors: usize,
    /// Sets of SMTP logs read (a server's logs of one kind).
    pub log_sets: usize,
    /// Live probes in the report (`relay-audit probe`).
    pub probes: usize,
}

/// `--fail-on`: a severity, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    At(Severity),
    Never,
}

impl Report {
    /// 0: ran, nothing at or above `fail_on`; 1: findings at or above it; 2: an input could
    /// not be read (DESIGN.md contract). 2 wins: a broken input makes the verdict unsure.
    pub fn exit_code(&self, fail_on: FailOn) -> i32 {
        if !self.errors.is_empty() {
            return 2;
        }
        match fail_on {
            FailOn::Never => 0,
            FailOn::At(s) => {
                if self.findings.iter().any(|f| f.severity <= s && f.counts()) {
                    1
                } else {
                    0
                }
            }
        }
    }
}

/// The summary of an input not read (status `skipped`, with the reason).
fn skipped_input(path: &Path, reason: String) -> InputSummary {
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
fn error_input(path: &Path, message: String, errors: &mut Vec<InputError>) -> InputSummary {
    let e = InputError::new(&show(path), None, message);
    let mut s = skipped_input(path, String::new());
    s.skipped.clear();
    s.status = "error";
    s.error = Some(e.to_string());
    errors.push(e);
    s
}

#[derive(Clone, Copy)]
enum Format {
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
fn detect_format(preview: &[u8]) -> Result<Format, String> {
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
struct Deferred {
    /// Its summary's place in the inputs.
    index: usize,
    path: PathBuf,
    kind: LogKind,
    /// As sniffed when the log was recognised (not read again).
    encoding: TextEncoding,
}

#[allow(clippy::too_many_arguments)]
fn scan_file(
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
            Format::CliXml => outcome::clixml(reader, &name, sink),
            Format::Text => crate::input::text::read_input(reader, &name, sink),
            Format::Log(_) => unreachable!("logs are deferred above"),
        }
    };
    let result =
        outcome.and_then(|o| apply(o, explicit, &name, &mut run, &mut summary, diagnostics));
    finish_summary(summary, run, result, errors, fail)
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
    const BATCH: usize = 64;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(16);
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
            let outcome = outcome::clixml(reader, name, &mut sink);
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
fn unread_gap(
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

/// Everything read from the inputs: the model, and how each file went.
#[derive(Debug)]
pub struct Loaded {
    pub model: Model,
    pub inputs: Vec<InputSummary>,
    pub diagnostics: Vec<Diagnostic>,
    pub errors: Vec<InputError>,
}

/// Reads every path into one model (no rules yet).
pub fn load(paths: &[PathBuf], opts: &ScanOptions) -> Loaded {
    load_with(paths, opts, true)
}

/// [`load`], telling whether the files were named by the user (`by_name`: a file that is not
/// an export is then an error) or found in a folder (then it is skipped, as in a walk).
pub(crate) fn load_with(paths: &[PathBuf], opts: &ScanOptions, by_name: bool) -> Loaded {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    load_in(paths, opts, by_name, workers)
}

/// What reading the inputs is made of, in input order: the files to read, and what was
/// decided without reading (a skipped file, an unreadable one, a note on a staged archive).
enum Job {
    /// Read this file (`bool`: named on the command line).
    Read(PathBuf, bool),
    /// A skipped or unreadable input, and its error.
    Decided(Box<InputSummary>, Option<InputError>),
    Note(Diagnostic),
    /// An error with no input entry (nothing on standard input).
    Error(InputError),
}

/// One file read in a builder of its own (see [`ModelBuilder::absorb`]).
struct Part {
    summary: InputSummary,
    builder: ModelBuilder,
    diagnostics: Vec<Diagnostic>,
    errors: Vec<InputError>,
    deferred: Vec<Deferred>,
}

fn read_part(path: &Path, by_name: bool, opts: &ScanOptions) -> Part {
    let mut builder = ModelBuilder::new();
    let mut diagnostics = Vec::new();
    let mut errors = Vec::new();
    let mut deferred = Vec::new();
    let summary = scan_file(
        path,
        by_name,
        opts,
        &mut builder,
        &mut diagnostics,
        &mut errors,
        &mut deferred,
    );
    Part {
        summary,
        builder,
        diagnostics,
        errors,
        deferred,
    }
}

/// [`load_with`] on `workers` threads: the files are read at once, each into a builder of
/// its own, and taken into the model in input order, so the model, the inputs and the
/// diagnostics are those of reading them one by one. (An export is often two large files,
/// the connectors and their permissions: one thread each.)
pub(crate) fn load_in(
    paths: &[PathBuf],
    opts: &ScanOptions,
    by_name: bool,
    workers: usize,
) -> Loaded {
    let mut seen = Seen::default();
    // Standard input and zip archives, staged as folders until the logs are read too.
    let mut staged: Vec<stage::Staged> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let decided = |jobs: &mut Vec<Job>, summary: InputSummary, error: Option<InputError>| {
        jobs.push(Job::Decided(Box::new(summary), error))
    };
    let failed = |path: &Path, message: String| {
        let mut errors = Vec::new();
        let summary = error_input(path, message, &mut errors);
        (summary, errors.pop())
    };
    for given in paths {
        let mut p = given;
        let staged_path;
        let named = if given.as_os_str() == "-" {
            match stage::stage_stdin() {
                Ok((s, file)) => {
                    staged_path = file;
                    staged.push(s);
                    p = &staged_path;
                    Named::File
                }
                Err(e) => {
                    jobs.push(Job::Error(InputError::new(&show(given), None, e)));
                    continue;
                }
            }
        } else {
            match named_path(given) {
                Named::File if stage::is_zip(given) => {
                    let shown = show(given);
                    match stage::stage_zip(given, &shown) {
                        Ok((s, notes)) => {
                            for n in notes {
                                jobs.push(Job::Note(Diagnostic::warning(&shown, None, n)));
                            }
                            staged_path = s.path().to_path_buf();
                            staged.push(s);
                            p = &staged_path;
                            Named::Folder
                        }
                        Err(e) => {
                            let (summary, error) = failed(given, e);
                            decided(&mut jobs, summary, error);
                            continue;
                        }
                    }
                }
                n => n,
            }
        };
        match named {
            Named::Folder => {
                let mut items = Vec::new();
                walk(p, &mut seen, false, &mut items);
                for item in items {
                    match item {
                        Walked::File(f) => jobs.push(Job::Read(f, false)),
                        Walked::Skipped(f, reason) => {
                            decided(&mut jobs, skipped_input(&f, reason), None)
                        }
                        Walked::Error(f, message) => {
                            let (summary, error) = failed(&f, message);
                            decided(&mut jobs, summary, error);
                        }
                    }
                }
            }
            Named::Special(kind) => {
                let (summary, error) = failed(p, format!("{kind}, not a regular file: not opened"));
                decided(&mut jobs, summary, error);
            }
            Named::File => {
                // The same file named twice (or also inside a folder named before) is read once.
                let first = std::fs::metadata(p).ok().and_then(|m| seen.first(p, &m));
                match first {
                    Some(first) => decided(
                        &mut jobs,
                        skipped_input(p, format!("same file as {}: read once", show(&first))),
                        None,
                    ),
                    None => jobs.push(Job::Read(p.clone(), by_name)),
                }
            }
            Named::Missing => jobs.push(Job::Read(p.clone(), true)),
        }
    }

    let reads: Vec<usize> = (0..jobs.len())
        .filter(|&i| matches!(jobs[i], Job::Read(..)))
        .collect();
    let workers = workers.clamp(1, reads.len().max(1));
    let mut builder = ModelBuilder::new();
    let mut inputs = Vec::new();
    let mut diagnostics = Vec::new();
    let mut errors = Vec::new();
    let mut deferred: Vec<Deferred> = Vec::new();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Part)>();
        if workers > 1 {
            for _ in 0..workers {
                let tx = tx.clone();
                let (next, reads, jobs) = (&next, &reads, &jobs);
                scope.spawn(move || loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = reads.get(k) else { break };
                    if let Job::Read(path, by_name) = &jobs[i] {
                        if tx.send((i, read_part(path, *by_name, opts))).is_err() {
                            break;
                        }
                    }
                });
            }
        }
        drop(tx);
        let mut arrived: std::collections::HashMap<usize, Part> = Default::default();
        for (i, job) in jobs.iter().enumerate() {
            match job {
                Job::Decided(summary, error) => {
                    inputs.push((**summary).clone());
                    errors.extend(error.clone());
                }
                Job::Note(d) => diagnostics.push(d.clone()),
                Job::Error(e) => errors.push(e.clone()),
                Job::Read(path, by_name) => {
                    let part = if workers > 1 {
                        loop {
                            if let Some(p) = arrived.remove(&i) {
                                break Some(p);
                            }
                            match rx.recv() {
                                Ok((j, p)) => {
                                    arrived.insert(j, p);
                                }
                                Err(_) => break None,
                            }
                        }
                    } else {
                        None
                    };
                    let absorbed = part.and_then(|p| match builder.absorb(p.builder) {
                        Ok(()) => Some((p.summary, p.diagnostics, p.errors, p.deferred)),
                        Err(_) => None,
                    });
                    match absorbed {
                        Some((summary, diags, errs, defs)) => {
                            inputs.push(summary);
                            diagnostics.extend(diags);
                            errors.extend(errs);
                            deferred.extend(defs);
                        }
                        // Read alone, or sharing an object with an earlier file: read here.
                        None => inputs.push(scan_file(
                            path,
                            *by_name,
                            opts,
                            &mut builder,
                            &mut diagnostics,
                            &mut errors,
                            &mut deferred,
                        )),
                    }
                    for d in deferred.iter_mut().filter(|d| d.index == usize::MAX) {
                        d.index = inputs.len() - 1;
                    }
                }
            }
        }
    });
    let (mut model, model_diags) = builder.finish();
    diagnostics.extend(model_diags);
    logs::read_logs(
        &deferred,
        opts,
        &mut model,
        &mut inputs,
        &mut diagnostics,
        &mut errors,
    );
    drop(staged);
    for e in &errors {
        diagnostics.push(Diagnostic {
            level: crate::diag::Level::Error,
            file: e.file.clone(),
            line: e.line,
            message: e.message.clone(),
        });
    }
    Loaded {
        model,
        inputs,
        diagnostics,
        errors,
    }
}

/// A file that turned out not to be an export: an error when it was named on the command
/// line, a skipped file (with the reason) inside a folder walk.
fn not_an_export(
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

/// Runs the whole pipeline: one audit, or, for a folder of client folders, one per client
/// ([`batch`]).
pub fn scan(paths: &[PathBuf], rules: &RuleSet, opts: &ScanOptions) -> Report {
    if !opts.one_organisation {
        if let Some(split) = batch::split(paths, opts) {
            return batch::scan(split, rules, opts);
        }
    }
    let loaded = load(paths, opts);
    let findings = audit_with_site(&loaded.model, rules, opts.site.as_deref());
    report(loaded, findings, rules)
}

/// Assembles the report of a loaded model and its findings.
pub fn report(loaded: Loaded, findings: Vec<Finding>, rules: &RuleSet) -> Report {
    let Loaded {
        model,
        inputs,
        mut diagnostics,
        errors,
    } = loaded;
    for n in &rules.notes {
        diagnostics.push(Diagnostic::info("(rules)", None, n.clone()));
    }
    let n = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let summary = Summary {
        critical: n(Severity::Critical),
        high: n(Severity::High),
        medium: n(Severity::Medium),
        low: n(Severity::Low),
        info: n(Severity::Info),
    };
    Report {
        schema_version: crate::report::SCHEMA_VERSION,
        tool: Tool {
            name: "relay-audit",
            version: env!("CARGO_PKG_VERSION"),
        },
        inputs,
        findings,
        diagnostics,
        summary,
        resolved: Vec::new(),
        rules_version: rules.version(),
        usage: UsageReport::of(&model.usage),
        probes: Vec::new(),
        audits: Vec::new(),
        errors,
        model_counts: ModelCounts {
            servers: model.servers.len(),
            connectors: model.connectors.len(),
            permissions: model.aces.len(),
            domains: model.domains.len(),
            imcs: count_kind(&model, ObjectKind::Imc),
            virtual_servers: count_kind(&model, ObjectKind::SmtpVirtualServer),
            smtp_connectors: count_kind(&model, ObjectKind::SmtpConnector),
            log_sets: model.usage.sets.len(),
            probes: 0,
        },
    }
}

fn count_kind(model: &Model, kind: ObjectKind) -> usize {
    model.legacy.iter().filter(|o| o.kind == kind).count()
}

/// Analysis + rules over a built model.
pub fn audit(model: &Model, rules: &RuleSet) -> Vec<Finding> {
    audit_with_site(model, rules, None)
}

/// [`audit`], joining the logs with the operator's site file.
pub fn audit_with_site(
    model: &Model,
    rules: &RuleSet,
    site: Option<&crate::analysis::site::Site>,
) -> Vec<Finding> {
    let facts = Facts::compute(model);
    let usage = crate::analysis::usage::UsageFacts::compute(model, &facts, site);
    rules::evaluate_with(rules, model, &facts, &usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading files at once gives the report of reading them one by one, on every fixture
    /// (and on all fixtures at once, where the same objects come from several files).
    #[test]
    fn files_read_at_once_give_the_same_report() {
        let rules = RuleSet::builtin().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs.push(root.clone());
        let opts = ScanOptions::default();
        for d in dirs {
            let json = |workers| {
                let loaded = load_in(std::slice::from_ref(&d), &opts, true, workers);
                let findings = audit(&loaded.model, &rules);
                serde_json::to_string(&report(loaded, findings, &rules)).unwrap()
            };
            assert_eq!(json(1), json(2), "{}", d.display());
        }
    }

    /// A file swapped for a FIFO after the walk: the open neither blocks nor reads it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_is_never_opened_for_reading() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("rc.txt");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo");
        let started = std::time::Instant::now();
        let err = open_regular(&fifo).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let file = dir.path().join("plain.txt");
        std::fs::write(&file, "Name : x\n").unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut open_regular(&file).unwrap(), &mut text).unwrap();
        assert_eq!(text, "Name : x\n");
    }
}
