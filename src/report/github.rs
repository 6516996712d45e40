//! `--format github`: GitHub Actions workflow commands, one per finding, that annotate the
//! export file and line in the run and on a pull request's changed files
//! (`::error file=exports/rc.xml,line=12,title=…::…`).
//!
//! A finding that fails the run (`--fail-on`) is an `error`, one that counts but is below it a
//! `warning`, a waived or baseline-unchanged one a `notice`. Input errors are `error`s on the
//! file. Everything from the export is escaped as the Actions toolkit escapes it (`%`, CR, LF;
//! in properties also `:` and `,`) after hidden characters are made visible, so an export
//! cannot end the command early, start a new one, or smuggle control characters into the log.

use super::{gate, primary_location, repo_path, work_root, Gate};
use crate::diag::Level;
use crate::rules::RuleSet;
use crate::scan::{FailOn, Report};
use crate::term::visible_line;
use std::io::Write;

/// The message part of a workflow command.
pub(crate) fn escape_data(s: &str) -> String {
    visible_line(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value of a workflow command (`file=`, `title=`).
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn write(
    report: &Report,
    _rules: &RuleSet,
    fail_on: FailOn,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let root = work_root();
    for f in &report.findings {
        let command = match gate(f, fail_on) {
            Gate::Fails => "error",
            Gate::Below => "warning",
            Gate::Accepted => "notice",
        };
        let mut props = Vec::new();
        if let Some((file, line)) = primary_location(f) {
            props.push(format!(
                "file={}",
                escape_property(&repo_path(file, root.as_deref()))
            ));
            if let Some(l) = line.filter(|&l| l >= 1) {
                props.push(format!("line={l}"));
            }
        }
        props.push(format!(
            "title={}",
            escape_property(&format!("relay-audit {} ({})", f.rule, f.severity))
        ));
        let mut message = format!("{}: {}", f.title, f.message);
        if let Some(w) = &f.waiver {
            message.push_str(&format!(" (waived: {})", w.justification));
        }
        writeln!(
            out,
            "::{command} {}::{}",
            props.join(","),
            escape_data(&message)
        )?;
    }
    for d in report
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
    {
        let mut props = vec![format!(
            "file={}",
            escape_property(&repo_path(&d.file, root.as_deref()))
        )];
        if let Some(l) = d.line.filter(|&l| l >= 1) {
            props.push(format!("line={l}"));
        }
        props.push("title=relay-audit input error".into());
        writeln!(
            out,
            "::error {}::{}",
            props.join(","),
            escape_data(&d.message)
        )?;
    }
    writeln!(
        out,
        "relay-audit: {} findings ({})",
        report.findings.len(),
        report.summary.counts_text()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_ends_the_command_early() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a\\u{d}\\u{a}b");
        assert_eq!(escape_property("EX01\\a: b, c"), "EX01\\a%3A b%2C c");
    }
}
