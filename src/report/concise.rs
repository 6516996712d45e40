//! `--format concise`: one line per finding, `file:line: RULE severity message`, the decisive
//! evidence's place first (editors and `grep` jump to it), then one summary line.

use super::{primary_location, repo_path, work_root};
use crate::rules::RuleSet;
use crate::scan::{FailOn, Report};
use crate::term::visible_line;
use std::io::Write;

pub fn write(
    report: &Report,
    _rules: &RuleSet,
    _fail_on: FailOn,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let root = work_root();
    for f in &report.findings {
        let place = match primary_location(f) {
            Some((file, Some(l))) => format!("{}:{l}", repo_path(file, root.as_deref())),
            Some((file, None)) => repo_path(file, root.as_deref()),
            None => format!("{}:{}", f.object.kind.as_str(), f.object.id),
        };
        let state = match (&f.waiver, f.counts()) {
            (Some(_), _) => " (waived)",
            (None, false) => " (baseline)",
            _ => "",
        };
        writeln!(
            out,
            "{}: {} {}{state} {}",
            visible_line(&place),
            f.rule,
            f.severity,
            visible_line(&f.message)
        )?;
    }
    writeln!(
        out,
        "{} findings ({})",
        report.findings.len(),
        report.summary.counts_text()
    )
}
