//! `--format json-lines`: one finding per line, each the JSON object `findings[]` holds in
//! `--format json` (for `jq -c`, log shippers and line-oriented tools).

use crate::rules::RuleSet;
use crate::scan::{FailOn, Report};

pub fn write(
    report: &Report,
    _rules: &RuleSet,
    _fail_on: FailOn,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    for f in &report.findings {
        serde_json::to_writer(&mut *out, f)?;
        writeln!(out)?;
    }
    Ok(())
}
