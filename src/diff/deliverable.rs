//! The diff as a client deliverable: `--format markdown` and `--format html` with the
//! operator's title and client name, an executive summary in plain words, the objects each
//! export held, and the configuration changes (the same list in both formats).

use super::{mark, status, write_body, DiffReport};
use crate::report::html::{self, esc, plain, Deliverable, Page, Section};
use crate::rules::{Finding, RuleSet};
use crate::scan::{FailOn, Report};
use std::fmt::Write as _;

/// The plain-words summary of a change: what each side held, and what the change
/// introduced.
fn summary(d: &DiffReport) -> plain::Summary {
    let side = |inputs: &[crate::scan::InputSummary], m| {
        let unreadable = inputs.iter().filter(|i| i.status == "error").count();
        let mut s = format!(
            "{} {}, describing {}",
            inputs.len(),
            if inputs.len() == 1 { "file" } else { "files" },
            plain::contents(m)
        );
        if unreadable > 0 {
            let _ = write!(s, " ({unreadable} could not be read)");
        }
        s
    };
    let audited = format!(
        "This review compared two exports from Microsoft Exchange, taken before and after a change. Before the change: {}. After the change: {}. {}.",
        side(&d.before, &d.before_counts),
        side(&d.after, &d.after_counts),
        match d.changes.len() {
            0 => "No configuration change that matters for relay was found".to_string(),
            1 => "One configuration change that matters for relay was found".to_string(),
            n => format!("{n} configuration changes that matter for relay were found"),
        }
    );
    let open: Vec<&Finding> = d.introduced.iter().filter(|f| f.waiver.is_none()).collect();
    let waived = d.introduced.len() - open.len();
    let mut s = plain::judge(plain::Scope::Change, audited, &open, d.errors.len(), waived);
    if !d.resolved.is_empty() {
        let _ = write!(
            s.conclusion,
            " It also resolves {}.",
            if d.resolved.len() == 1 {
                "one earlier finding".to_string()
            } else {
                format!("{} earlier findings", d.resolved.len())
            }
        );
    }
    s
}

/// `diff --format markdown`: the deliverable head, then the changes and findings.
pub fn write_markdown(
    d: &DiffReport,
    fail_on: FailOn,
    deliverable: &Deliverable,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let line = format!("{} {}", mark(d, fail_on), status(d, fail_on));
    crate::report::markdown::write_head(out, deliverable, &summary(d), &line)?;
    write_body(d, true, out)
}

/// `diff --format html`: the HTML report of the introduced findings (`report`, whose inputs
/// and counts are the 'after' export's), with the configuration changes and the resolved
/// findings as sections of their own.
pub fn write_html(
    d: &DiffReport,
    report: &Report,
    rules: &RuleSet,
    fail_on: FailOn,
    deliverable: &Deliverable,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let page = Page {
        deliverable,
        summary: summary(d),
        sections: vec![
            Section {
                id: "changes",
                nav: "Configuration changes",
                html: changes_html(d),
            },
            Section {
                id: "diff-resolved",
                nav: "Resolved by the change",
                html: resolved_html(&d.resolved),
            },
        ],
    };
    html::write_page(report, rules, fail_on, &page, out)
}

/// Every change the Markdown diff lists, with its object, property and values; escaped.
fn changes_html(d: &DiffReport) -> String {
    let mut h = String::from("<section id=\"changes\">\n<h2>Configuration changes</h2>\n");
    let _ = writeln!(
        h,
        "<p>Changes between the two exports that matter for relay ({}). The findings further below are those the change introduced.</p>",
        d.changes.len()
    );
    if d.changes.is_empty() {
        h.push_str("<p>None.</p>\n");
    } else {
        h.push_str("<table class=\"changes\"><thead><tr><th>What changed</th><th>Object</th><th>Property</th><th>Before</th><th>After</th></tr></thead><tbody>\n");
        let opt = |v: &Option<String>| {
            v.as_deref()
                .map(esc)
                .unwrap_or_else(|| "&mdash;".to_string())
        };
        for c in &d.changes {
            let _ = writeln!(
                h,
                "<tr class=\"{}\"><td>{}</td><td><span class=\"muted\">{}</span> <span class=\"mono\">{}</span></td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
                esc(c.change),
                esc(&c.description),
                esc(&c.kind.as_str().replace('-', " ")),
                esc(&c.object),
                esc(&c.property),
                opt(&c.before),
                opt(&c.after)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");
    h
}

/// The findings the 'before' export had and the 'after' export no longer has.
fn resolved_html(resolved: &[Finding]) -> String {
    let mut h = String::from("<section id=\"diff-resolved\">\n<h2>Resolved by the change</h2>\n");
    if resolved.is_empty() {
        h.push_str("<p>None.</p>\n");
    } else {
        h.push_str("<ul class=\"resolved\">\n");
        for f in resolved {
            let _ = writeln!(
                h,
                "<li><span class=\"mono\">{}</span> on {}: {}</li>",
                esc(&f.rule),
                esc(&f.object.id),
                esc(&f.message)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
    h
}
