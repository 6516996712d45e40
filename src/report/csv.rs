//! `--format csv`: one row per finding, in report order, for spreadsheets and ticket imports.
//!
//! Columns: severity, rule, category, title, object_kind, object_id, server, version,
//! message, evidence (`file:line property=value; ...`), remediation, fingerprint, waived (the
//! waiver's justification, or empty), baseline (`new`, `unchanged` or empty).
//!
//! Values come from a client's export, and a spreadsheet runs a cell that starts with `=`,
//! `+`, `-` or `@` as a formula (CSV injection). Every cell that starts with one of those
//! (also after leading spaces, tabs or line breaks, and their full-width forms), or with a
//! tab or carriage return, gets a leading `'`, as OWASP advises.
//!
//! Control characters other than line feed and tab, and bidi controls, are written as
//! `\u{1b}`-style escapes ([`crate::term::visible`]): a CSV file is also read in terminals
//! and editors. A cell is quoted (RFC 4180, `"` doubled) when it holds a comma, a `;` (the
//! separator of spreadsheets in many locales, which would otherwise see more columns and
//! perhaps a formula at the start of one), a quote, a line break or a tab, or starts or
//! ends with a space.

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

/// Characters a spreadsheet starts a formula with (and their full-width forms).
const FORMULA: [char; 8] = [
    '=', '+', '-', '@', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}',
];

/// Prefixes `'` to a cell a spreadsheet would read as a formula: one that starts with a
/// formula character, also after leading whitespace, or with a tab or carriage return.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let lead = cell.trim_start_matches([' ', '\t', '\r', '\n', '\u{a0}', '\u{3000}']);
    if cell.starts_with(['\t', '\r']) || lead.starts_with(FORMULA) {
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

/// One cell as written: made visible, neutralised, quoted where a comma or a `;` separator
/// would otherwise split it (see the module documentation).
pub fn cell(value: &str) -> String {
    let shown = crate::term::visible(value);
    let safe = neutralise(&shown);
    let quote = safe.contains([',', ';', '"', '\n', '\r', '\t'])
        || safe.starts_with(' ')
        || safe.ends_with(' ');
    if quote {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe.into_owned()
    }
}

fn write_record(out: &mut dyn std::io::Write, cells: &[impl AsRef<str>]) -> std::io::Result<()> {
    let line: Vec<String> = cells.iter().map(|c| cell(c.as_ref())).collect();
    writeln!(out, "{}", line.join(","))
}

pub fn write(
    report: &Report,
    _rules: &RuleSet,
    _fail_on: FailOn,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    write_record(out, &HEADER)?;
    for f in &report.findings {
        write_record(out, &row(f))?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::{cell, neutralise};

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
            (" =1+1", "' =1+1"),
            ("\t \r\n@x", "'\t \r\n@x"),
            ("\u{ff1d}1", "'\u{ff1d}1"),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralise(raw), safe);
        }
    }

    #[test]
    fn cells_are_quoted_visible_and_inert() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a;=cmd()"), "\"a;=cmd()\"");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("x\u{1b}[2J\0\u{202e}y"), "x\\u{1b}[2J\\u{0}\\u{202e}y");
        // a carriage return is escaped, so the cell no longer starts a formula
        assert_eq!(cell("\r=1"), "\\u{d}=1");
        assert_eq!(cell("\t=1"), "\"'\t=1\"");
        assert_eq!(cell(" -1"), "' -1");
    }
}
