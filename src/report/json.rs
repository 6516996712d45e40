//! `--format json`: one JSON document (the DESIGN.md contract).

use crate::scan::Report;

pub fn write(report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
