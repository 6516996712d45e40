//! `--format azure`: Azure Pipelines logging commands, one `##vso[task.logissue …]` per
//! finding, which the run's summary lists as errors and warnings with the export file and line.
//!
//! A finding that fails the run (`--fail-on`) is an `error`; every other one a `warning`
//! (Azure has no lower level; a waived or baseline-unchanged one says so). Values are escaped
//! as the Azure Pipelines task library escapes them (`%` → `%AZP25`, CR, LF; in properties also
//! `;` and `]`) after hidden characters are made visible, so an export cannot close the command
//! or start another.

use super::{gate, primary_location, repo_path, work_root, Gate};
use crate::diag::Level;
use crate::rules::RuleSet;
use crate::scan::{FailOn, Report};
use crate::term::visible_line;
use std::io::Write;

fn escape_message(s: &str) -> String {
    let s = visible_line(s)
        .replace('%', "%AZP25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    // The agent finds `##vso[` anywhere in a line: one inside a message would be a second
    // command. It is broken up (`# #vso[`), visibly.
    defuse(&s)
}

fn defuse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.to_ascii_lowercase().find("##vso") {
        out.push_str(&rest[..i]);
        out.push_str("# #");
        out.push_str(&rest[i + 2..i + 5]);
        rest = &rest[i + 5..];
    }
    out.push_str(rest);
    out
}

fn escape_property(s: &str) -> String {
    escape_message(s).replace(';', "%3B").replace(']', "%5D")
}

fn issue(
    out: &mut dyn Write,
    kind: &str,
    file: Option<(String, Option<u32>)>,
    code: &str,
    message: &str,
) -> std::io::Result<()> {
    let mut props = format!("type={kind};");
    if let Some((path, line)) = file {
        props.push_str(&format!("sourcepath={};", escape_property(&path)));
        if let Some(l) = line.filter(|&l| l >= 1) {
            props.push_str(&format!("linenumber={l};"));
        }
    }
    props.push_str(&format!("code={};", escape_property(code)));
    writeln!(
        out,
        "##vso[task.logissue {props}]{}",
        escape_message(message)
    )
}

pub fn write(
    report: &Report,
    _rules: &RuleSet,
    fail_on: FailOn,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let root = work_root();
    for f in &report.findings {
        let (kind, note) = match gate(f, fail_on) {
            Gate::Fails => ("error", String::new()),
            Gate::Below => ("warning", String::new()),
            Gate::Accepted => (
                "warning",
                match &f.waiver {
                    Some(w) => format!(" (waived: {})", w.justification),
                    None => " (unchanged since the baseline)".into(),
                },
            ),
        };
        let at = primary_location(f).map(|(file, line)| (repo_path(file, root.as_deref()), line));
        let message = format!("{} [{}] {}{note}", f.rule, f.severity, f.message);
        issue(out, kind, at, &f.rule, &message)?;
    }
    for d in report
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
    {
        let at = Some((repo_path(&d.file, root.as_deref()), d.line));
        issue(out, "error", at, "input-error", &d.message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_closes_the_command() {
        assert_eq!(escape_property("a;b]c%"), "a%3Bb%5Dc%AZP25");
        assert_eq!(escape_message("x\ny"), "x\\u{a}y");
        assert_eq!(
            escape_message("a ##VSO[task.complete]"),
            "a # #VSO[task.complete]"
        );
    }
}
