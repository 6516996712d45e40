//! The HTML report's inputs section: every file read, with its parse coverage, the clients of
//! a batch, and the input problems.

use super::{at, esc};
use crate::diag::Level;
use crate::scan::Report;
use std::fmt::Write as _;

pub(super) fn inputs(h: &mut String, report: &Report) -> std::fmt::Result {
    writeln!(h, "<section id=\"inputs\">")?;
    writeln!(h, "<h2>Inputs and parse coverage</h2>")?;
    writeln!(
        h,
        "<p>Every file read, what it was recognised as, and how many of its objects went into the audit.</p>"
    )?;
    writeln!(
        h,
        "<table class=\"inputs\"><thead><tr><th>File</th><th>Status</th><th>Format</th><th>Encoding</th><th>Objects</th><th class=\"num\">Read</th><th class=\"num\">Used</th><th>Skipped or error</th></tr></thead><tbody>"
    )?;
    for i in &report.inputs {
        let mut notes = String::new();
        if let Some(e) = &i.error {
            let _ = write!(notes, "<div class=\"level-error\">{}</div>", esc(e));
        }
        for s in &i.skipped {
            let line = match s.line {
                Some(l) => format!(" (from line {l})"),
                None => String::new(),
            };
            let _ = write!(
                notes,
                "<div>{} &times; {}{}</div>",
                s.count,
                esc(&s.reason),
                line
            );
        }
        let opt = |o: Option<&str>| o.map(esc).unwrap_or_else(|| "&mdash;".to_string());
        writeln!(
            h,
            "<tr><td class=\"mono small\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"small\">{}</td></tr>",
            esc(&i.path),
            esc(i.status),
            opt(i.format),
            opt(i.encoding),
            opt(i.kind.as_deref()),
            i.records,
            i.records_used,
            notes
        )?;
    }
    if report.inputs.is_empty() {
        writeln!(h, "<tr><td colspan=\"8\">No input file.</td></tr>")?;
    }
    writeln!(h, "</tbody></table>")?;

    if !report.audits.is_empty() {
        let (listed, left) = crate::report::audits_to_list(report);
        writeln!(
            h,
            "<h3>Clients</h3><p>{} client folders, each audited on its own.</p><table><thead><tr><th>Client</th><th>Files</th><th>Verdict</th></tr></thead><tbody>",
            report.audits.len()
        )?;
        for a in listed {
            writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.name),
                a.files,
                esc(&crate::report::audit_verdict(a))
            )?;
        }
        if left > 0 {
            writeln!(
                h,
                "<tr><td colspan=\"3\">… and {left} more with no critical or high finding</td></tr>"
            )?;
        }
        writeln!(h, "</tbody></table>")?;
    }
    writeln!(h, "<h3>Input problems</h3>")?;
    let problems: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.level != Level::Info)
        .collect();
    if problems.is_empty() {
        writeln!(
            h,
            "<p>None: no warning or error while reading the inputs.</p>"
        )?;
    } else {
        writeln!(h, "<ul class=\"problems\">")?;
        for d in problems {
            let level = match d.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Info => "info",
            };
            writeln!(
                h,
                "<li><span class=\"level-{level}\">{level}</span> <span class=\"mono small\">{}</span>: {}</li>",
                esc(&at(&d.file, d.line)),
                esc(&d.message)
            )?;
        }
        writeln!(h, "</ul>")?;
    }
    let notes: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Info)
        .collect();
    if !notes.is_empty() {
        writeln!(h, "<h3>Notes</h3>")?;
        writeln!(h, "<ul class=\"problems small\">")?;
        for d in notes {
            writeln!(
                h,
                "<li><span class=\"mono\">{}</span>: {}</li>",
                esc(&at(&d.file, d.line)),
                esc(&d.message)
            )?;
        }
        writeln!(h, "</ul>")?;
    }
    writeln!(h, "</section>")
}
