//! `--format gitlab`: a GitLab code-quality report (the JSON array of issues a job publishes
//! with `artifacts: reports: codequality:`), shown in merge requests and the pipeline.
//!
//! Each issue has the documented fields: `description`, `check_name` (the rule id),
//! `fingerprint` (unique in the report, stable across runs and checkouts), `severity`
//! (`blocker`, `critical`, `major`, `minor`, `info`) and `location` (`path` relative to the
//! repository, `lines.begin`). Waived and baseline-unchanged findings are left out: GitLab has
//! no suppressed state, and a listed issue reads as one to fix.

use super::{primary_location, repo_path, work_root};
use crate::rules::{RuleSet, Severity};
use crate::scan::{FailOn, Report};
use serde::Serialize;
use std::collections::HashSet;

#[derive(Serialize)]
struct Issue<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    description: String,
    check_name: &'a str,
    categories: [&'static str; 1],
    fingerprint: String,
    severity: &'static str,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
}

pub(crate) fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "blocker",
        Severity::High => "critical",
        Severity::Medium => "major",
        Severity::Low => "minor",
        Severity::Info => "info",
    }
}

pub fn write(
    report: &Report,
    _rules: &RuleSet,
    _fail_on: FailOn,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let root = work_root();
    let mut seen: HashSet<String> = HashSet::new();
    let mut issues = Vec::new();
    for f in report.findings.iter().filter(|f| f.counts()) {
        let (path, line) = match primary_location(f) {
            Some((file, line)) => (repo_path(file, root.as_deref()), line),
            // GitLab needs a path: a finding with no file is placed on the object's name.
            None => (f.object.id.clone(), None),
        };
        let mut fingerprint = f.fingerprint.clone();
        let mut n = 1;
        while !seen.insert(fingerprint.clone()) {
            n += 1;
            fingerprint = format!("{}-{n}", f.fingerprint);
        }
        issues.push(Issue {
            kind: "issue",
            description: format!("{}: {}", f.rule, f.message),
            check_name: &f.rule,
            categories: ["Security"],
            fingerprint,
            severity: severity(f.severity),
            location: Location {
                path,
                lines: Lines {
                    begin: line.filter(|&l| l >= 1).unwrap_or(1),
                },
            },
        });
    }
    serde_json::to_writer_pretty(&mut *out, &issues)?;
    writeln!(out)
}
