//! Scan: the pipeline from paths to a [`Report`].
//!
//! Walks the paths (folders recursively, in sorted order), decodes and detects each file,
//! streams its records into the model, then runs the analysis and the rules. A file that
//! cannot be read is recorded as an error and the rest is still audited; files inside a
//! folder that are not exports are listed as skipped. Choosing the exit code is the caller's
//! job ([`Report::exit_code`]).

use crate::analysis::Facts;
use crate::diag::{Diagnostic, InputError};
use crate::input::decode::TextEncoding;
use crate::input::record::ObjectKind;
use crate::model::Model;
use crate::rules::{self, Finding, RuleSet, Severity};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

pub mod batch;
mod load;
mod logs;
pub mod probe;
mod read;
pub mod stage;
mod usage;
mod walk;

pub use usage::UsageReport;

pub use load::{load, load_on_one_thread};
pub(crate) use load::{load_in, load_with};
use walk::show;
pub use walk::{audited_ids, file_id, inventory, walk, FileId, Seen, Walked};

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
    /// The findings per severity.
    pub fn of(findings: &[Finding]) -> Summary {
        let mut s = Summary::default();
        for f in findings {
            match f.severity {
                Severity::Critical => s.critical += 1,
                Severity::High => s.high += 1,
                Severity::Medium => s.medium += 1,
                Severity::Low => s.low += 1,
                Severity::Info => s.info += 1,
            }
        }
        s
    }

    /// `1 critical, 0 high, 1 medium, 0 low, 0 info`.
    pub fn counts_text(&self) -> String {
        format!(
            "{} critical, {} high, {} medium, {} low, {} info",
            self.critical, self.high, self.medium, self.low, self.info
        )
    }

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

/// Everything read from the inputs: the model, and how each file went.
#[derive(Debug)]
pub struct Loaded {
    pub model: Model,
    pub inputs: Vec<InputSummary>,
    pub diagnostics: Vec<Diagnostic>,
    pub errors: Vec<InputError>,
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
    let summary = Summary::of(&findings);
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
    use super::walk::open_regular;
    use super::*;

    /// Every fixture folder, then the fixtures folder itself (all of them at once).
    fn fixture_folders() -> Vec<PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs.push(root);
        dirs
    }

    /// Reading files at once gives the report of reading them one by one, on every fixture
    /// (and on all fixtures at once, where the same objects come from several files).
    #[test]
    fn files_read_at_once_give_the_same_report() {
        let rules = RuleSet::builtin().unwrap();
        let dirs = fixture_folders();
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

    /// Building only the properties the model reads gives the report of building them all,
    /// on every fixture (and on all fixtures at once).
    #[test]
    fn properties_no_reader_wants_change_nothing() {
        let rules = RuleSet::builtin().unwrap();
        let dirs = fixture_folders();
        let opts = ScanOptions::default();
        let mut clixml = 0;
        for d in dirs {
            let mut json = |every: bool| {
                read::EVERY_PROPERTY.with(|c| c.set(every));
                let loaded = load_in(std::slice::from_ref(&d), &opts, true, 1);
                read::EVERY_PROPERTY.with(|c| c.set(false));
                let findings = audit(&loaded.model, &rules);
                let rep = report(loaded, findings, &rules);
                clixml += rep
                    .inputs
                    .iter()
                    .filter(|i| i.format == Some("clixml"))
                    .count();
                serde_json::to_string(&rep).unwrap()
            };
            let (all, wanted) = (json(true), json(false));
            assert_eq!(all, wanted, "{}", d.display());
        }
        assert!(clixml > 20, "{clixml} CliXML inputs");
    }

    /// The collection script's folder (one permissions file per connector), read on two
    /// threads: equal grants of different files are held once in the model.
    #[test]
    fn equal_grants_of_separate_files_are_held_once() {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/collected-2019/collected");
        for workers in [1, 2] {
            let loaded = load_in(
                std::slice::from_ref(&d),
                &ScanOptions::default(),
                true,
                workers,
            );
            let aces = &loaded.model.aces;
            let files: std::collections::HashSet<&str> =
                aces.iter().map(|a| &*a.src.file).collect();
            assert!(files.len() > 5, "{files:?}");
            let mut held: Vec<&std::sync::Arc<crate::model::Grant>> = Vec::new();
            for a in aces {
                match held.iter().find(|g| ****g == **a.grant()) {
                    Some(g) => assert!(std::sync::Arc::ptr_eq(g, a.grant()), "{a:?}"),
                    None => held.push(a.grant()),
                }
            }
            assert!(
                held.len() * 2 < aces.len(),
                "{} grants for {} entries",
                held.len(),
                aces.len()
            );
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
