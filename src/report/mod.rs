//! Report writers: one file per `--format` value, all taking the same [`Report`].
//!
//! Writers only format: they never analyse, filter or re-sort (findings arrive sorted worst
//! first). Output is deterministic.

pub mod azure;
pub mod concise;
pub mod csv;
pub mod github;
pub mod gitlab;
pub mod html;
pub mod json;
pub mod json_lines;
pub mod junit;
pub mod markdown;
pub mod probe;
pub mod sarif;
pub mod table;

pub use crate::scan::Report;

/// The JSON Schema of `--format json` (`relay-audit schema` prints it): the contract, with
/// what may change within a version in its description.
pub const SCHEMA: &str = include_str!("report.schema.json");
/// The `schema_version` every report carries (the schema's `$id` ends with it).
pub const SCHEMA_VERSION: &str = "1";

use crate::rules::Finding;
use crate::scan::FailOn;
use std::path::{Path, PathBuf};

/// The audits of a batch worth a line each in a report for people: all of them up to
/// [`AUDITS_LISTED`], beyond that those with a critical or high finding or an unreadable
/// file (the rest are counted). Returns the listed ones and how many were left out.
pub(crate) fn audits_to_list(report: &Report) -> (Vec<&crate::scan::batch::Audit>, usize) {
    let all = &report.audits;
    if all.len() <= AUDITS_LISTED {
        return (all.iter().collect(), 0);
    }
    let listed: Vec<_> = all
        .iter()
        .filter(|a| a.summary.critical + a.summary.high > 0 || a.unreadable > 0)
        .collect();
    let left = all.len() - listed.len();
    (listed, left)
}

/// Above this many clients, the clean ones are counted, not listed.
pub(crate) const AUDITS_LISTED: usize = 200;

/// One audit's verdict in words: `1 critical, 1 medium`, `no finding`, `2 files unreadable`.
pub(crate) fn audit_verdict(a: &crate::scan::batch::Audit) -> String {
    let s = &a.summary;
    let mut parts: Vec<String> = crate::rules::Severity::ALL
        .iter()
        .filter(|&&x| s.count(x) > 0)
        .map(|&x| format!("{} {}", s.count(x), x))
        .collect();
    if parts.is_empty() {
        parts.push(if a.files == 0 {
            "nothing read".into()
        } else {
            "no finding".into()
        });
    }
    if a.unreadable > 0 {
        parts.push(format!(
            "{} unreadable (verdict incomplete)",
            if a.unreadable == 1 {
                "1 file".to_string()
            } else {
                format!("{} files", a.unreadable)
            }
        ));
    }
    parts.join(", ")
}

/// How a finding stands against `--fail-on`: what the CI formats annotate it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Counts and is at or above `--fail-on`: it fails the run.
    Fails,
    /// Counts but is below `--fail-on`.
    Below,
    /// Waived, or unchanged since the baseline.
    Accepted,
}

pub(crate) fn gate(f: &Finding, fail_on: FailOn) -> Gate {
    if !f.counts() {
        return Gate::Accepted;
    }
    match fail_on {
        FailOn::At(s) if f.severity <= s => Gate::Fails,
        _ => Gate::Below,
    }
}

/// The working directory, the root CI formats make paths relative to (a pipeline runs from
/// its checkout's root).
pub(crate) fn work_root() -> Option<PathBuf> {
    std::env::current_dir().ok()
}

/// A file as a CI consumer wants it: relative to `root` when it lies under it (so a report
/// made from `/home/runner/work/a/a/exports/rc.xml` names `exports/rc.xml`, the same on a
/// moved checkout), `/`-separated, without a leading `./`.
pub(crate) fn repo_path(file: &str, root: Option<&Path>) -> String {
    let p = Path::new(file);
    let rel = match root {
        Some(r) if p.is_absolute() => p.strip_prefix(r).unwrap_or(p),
        _ => p,
    };
    let mut s = rel.to_string_lossy().replace('\\', "/");
    while let Some(r) = s.strip_prefix("./") {
        s = r.to_string();
    }
    s
}

/// The finding's decisive location (file and line), if its evidence has one in a file.
pub(crate) fn primary_location(f: &Finding) -> Option<(&str, Option<u32>)> {
    if f.object.kind == crate::input::record::ObjectKind::Probe {
        // A probe's evidence is a conversation: only an export line it cites is a location.
        return f
            .decisive_evidence()
            .into_iter()
            .find(|e| e.line.is_some())
            .map(|e| (e.file.as_str(), e.line));
    }
    f.decisive_evidence()
        .into_iter()
        .find(|e| !e.file.is_empty())
        .map(|e| (e.file.as_str(), e.line))
}

/// Findings bucketed by `key`: buckets in order of first appearance, findings in input order,
/// in one pass. (A writer that filters every finding once per group is quadratic: 16,000
/// findings on 4,000 servers took 10 s.)
pub(crate) fn buckets<'a, K, I>(
    findings: I,
    key: impl Fn(&Finding) -> K,
) -> Vec<(K, Vec<&'a Finding>)>
where
    K: Eq + std::hash::Hash + Clone,
    I: IntoIterator<Item = &'a Finding>,
{
    let mut index: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    let mut out: Vec<(K, Vec<&'a Finding>)> = Vec::new();
    for f in findings {
        let k = key(f);
        match index.get(&k) {
            Some(&i) => out[i].1.push(f),
            None => {
                index.insert(k.clone(), out.len());
                out.push((k, vec![f]));
            }
        }
    }
    out
}
