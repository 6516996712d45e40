//! `--format csv`: one row per finding, in report order, for spreadsheets and ticket imports.
//!
//! Columns: severity, rule, category, title, object_kind, object_id, server, version,
//! message, evidence (`file:line property=value; ...`), remediation, fingerprint, waived (the
//! waiver's justification, or empty), baseline (`new`, `unchanged` or empty).
//!
//! Values come from a client's export, and a spreadsheet runs a cell that starts with `=`,
//! `+`, `-` or `@` as a formula (CSV injection). Every cell that starts with one of those, or
//! with a tab or carriage return, gets a leading `'`, as OWASP advises; the `csv` crate does
//! the quoting.

use crate::rules::{BaselineState, Finding, RuleSet};
use crate::scan::{FailOn, Report};

pub const HEADER: [&str; 14] = [
    "severity",
    "rule",
    "category",
    "title",
    "object_kind",
    "object_id",
    "server",
    "version",
    "message",
    "evidence",
    "remediation",
    "fingerprint",
    "waived",
    "baseline",
];

/// Prefixes `'` to a cell a spreadsheet would read as a formula.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn evidence(f: &Finding) -> String {
    f.evidence
        .iter()
        .map(|e| match e.line {
            Some(l) => format!("{}:{} {}={}", e.file, l, e.property, e.value),
            None => format!("{} {}={}", e.file, e.property, e.value),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn row(f: &Finding) -> [String; 14] {
    [
        f.severity.as_str().to_string(),
        f.rule.clone(),
        f.category.clone(),
        f.title.clone(),
        f.object.kind.as_str().to_string(),
        f.object.id.clone(),
        f.object.server.clone().unwrap_or_default(),
        f.version.clone(),
        f.message.clone(),
        evidence(f),
        f.remediation.trim_end().to_string(),
        f.fingerprint.clone(),
        f.waiver
            .as_ref()
            .map(|w| w.justification.clone())
            .unwrap_or_default(),
        match f.baseline {
            Some(BaselineState::New) => "new".to_string(),
            Some(BaselineState::Unchanged) => "unchanged".to_string(),
            None => String::new(),
        },
    ]
}

pub fn write(
    report: &Report,
    _rules: &RuleSet,
    _fail_on: FailOn,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for f in &report.findings {
        let cells = row(f);
        w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_cells_get_a_quote() {
        for (raw, safe) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("EX01\\Relay", "EX01\\Relay"),
            ("", ""),
        ] {
            assert_eq!(neutralise(raw), safe);
        }
    }
}
