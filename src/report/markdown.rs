//! `--format markdown`: a change-review comment (GitHub, GitLab, Azure DevOps pull requests).
//!
//! A title line with the verdict under `--fail-on`, a table of findings per severity, then
//! the findings grouped by server (the server with the worst finding first) and object (worst
//! first), each with its evidence as a nested list and its remediation in a fenced code
//! block. Waived findings follow in a collapsed `<details>` section; then the baseline
//! findings that are resolved, and the input problems.
//!
//! Everything taken from an export (object ids, server names, values, file names) is escaped
//! ([`escape`]), so a connector named `<script>` or `a|b` prints as text and cannot break a
//! table or inject HTML, and `@team`, `#123`, `!12` or `http://x`, `www.x` in it mention,
//! reference or link nothing on GitHub or GitLab. Remediation goes into a fence longer than any backtick run inside it.

use crate::diag::Level;
use crate::report::html::{plain, Deliverable};
use crate::rules::{BaselineState, Finding, RuleSet, Severity};
use crate::scan::{FailOn, Report};
use std::io::Write;

/// Escapes text for Markdown (CommonMark/GFM) inline content: HTML-significant characters
/// become entities, Markdown punctuation gets a backslash, line breaks become spaces (a
/// value must stay on its line, in its table cell or list item).
///
/// What GitHub and GitLab would make live is inert: `@` (mentions, e-mail autolinks), `#`
/// (issue references), `!` and `%` (GitLab merge request and milestone references) and the
/// `:` of `scheme://` (autolinks, whatever the scheme) get a backslash, and so does the `.`
/// of `www.` (extended autolinks). Other control characters and bidi controls are written as
/// visible `\u{1b}` escapes ([`crate::term::is_hidden`]), never as themselves.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Inline-significant only: every value sits mid-line after a fixed prefix, so
            // block markers (`#`, `-`, `1.`) at a line start cannot occur. `$` is GitHub math.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '$' => {
                out.push('\\');
                out.push(c);
            }
            // Mentions, references and autolinks: shown, never live.
            '@' | '#' | '!' | '%' => {
                out.push('\\');
                out.push(c);
            }
            ':' if s[i + 1..].starts_with("//") => out.push_str("\\:"),
            '.' if i >= 3
                && s.get(i - 3..i)
                    .is_some_and(|w| w.eq_ignore_ascii_case("www")) =>
            {
                out.push_str("\\.");
            }
            '\r' => {
                if chars.peek().map(|p| p.1) != Some('\n') {
                    out.push(' ');
                }
            }
            '\n' | '\t' => out.push(' '),
            // `\u{1b}` as text: the backslash escaped, so it shows.
            c if crate::term::is_hidden(c) => out.push_str(&format!("\\\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A code span for a plain token (a fingerprint), escaped text for anything else.
fn code(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        format!("`{s}`")
    } else {
        escape(s)
    }
}

/// A backtick fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

fn fails(f: &Finding, fail_on: FailOn) -> bool {
    match fail_on {
        FailOn::Never => false,
        FailOn::At(s) => f.counts() && f.severity <= s,
    }
}

fn group_name(f: &Finding) -> String {
    match &f.audit {
        Some(a) => format!("Client {}: {}", escape(a), server_group(f)),
        None => server_group(f),
    }
}

fn server_group(f: &Finding) -> String {
    match &f.object.server {
        Some(s) => format!(
            "Server {} (judged as Exchange {})",
            escape(s),
            escape(&f.version)
        ),
        None => "Organisation".to_string(),
    }
}

fn baseline_note(f: &Finding) -> &'static str {
    match f.baseline {
        Some(BaselineState::New) => " · new",
        Some(BaselineState::Unchanged) => " · unchanged since the baseline",
        None => "",
    }
}

/// One finding as a list item: severity, rule, message; evidence nested; remediation fenced.
fn write_finding(out: &mut dyn Write, f: &Finding, fail_on: FailOn) -> std::io::Result<()> {
    let mark = if fails(f, fail_on) { "❌ " } else { "" };
    writeln!(
        out,
        "- {mark}**{}** {}{}: {} (fingerprint {})",
        f.severity,
        escape(&f.rule),
        baseline_note(f),
        escape(&f.message),
        code(&f.fingerprint)
    )?;
    for e in &f.evidence {
        let at = match e.line {
            Some(l) => format!("{}:{l}", escape(&e.file)),
            None => escape(&e.file),
        };
        writeln!(
            out,
            "  - {at}: {} = {}",
            escape(&e.property),
            escape(&e.value)
        )?;
    }
    if let Some(w) = &f.waiver {
        writeln!(
            out,
            "  - waived until {} by {}: {} ({})",
            escape(&w.expires),
            escape(&w.owner),
            escape(&w.justification),
            escape(&w.source)
        )?;
    }
    let remediation = f.remediation.trim_end();
    if !remediation.trim().is_empty() {
        let fence = fence_for(remediation);
        writeln!(out)?;
        writeln!(out, "  {fence}powershell")?;
        for line in remediation.lines() {
            if line.is_empty() {
                writeln!(out)?;
            } else {
                writeln!(out, "  {line}")?;
            }
        }
        writeln!(out, "  {fence}")?;
        writeln!(out)?;
    }
    Ok(())
}

/// Findings grouped by server, then object, worst first (the order of the report is kept
/// inside an object).
fn write_groups(
    out: &mut dyn Write,
    findings: &[&Finding],
    fail_on: FailOn,
    heading: &str,
) -> std::io::Result<()> {
    for (g, rows) in super::buckets(findings.iter().copied(), group_name) {
        writeln!(out, "{heading} {g}")?;
        writeln!(out)?;
        // Objects in order of their worst finding (then by id), each object's rows together.
        let mut objects: Vec<(Severity, String, Vec<&Finding>)> =
            super::buckets(rows, |f| (f.object.id.to_lowercase(), f.object.kind))
                .into_iter()
                .map(|((key, _), fs)| {
                    let worst = fs
                        .iter()
                        .map(|f| f.severity)
                        .min()
                        .unwrap_or(Severity::Info);
                    (worst, key, fs)
                })
                .collect();
        objects.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (_, _, fs) in &objects {
            let first = fs[0];
            // Emphasis needs text that does not start or end with a space.
            let id = escape(&first.object.id);
            let id = match id.trim() {
                "" => "(no identity)",
                t => t,
            };
            writeln!(out, "**{id}** ({})", first.object.kind.as_str())?;
            writeln!(out)?;
            for f in fs {
                write_finding(out, f, fail_on)?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

pub fn write(
    report: &Report,
    rules: &RuleSet,
    fail_on: FailOn,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    write_with(report, rules, fail_on, &Deliverable::default(), out)
}

/// The deliverable's header: `## title` (only with `--title`: without, the first line stays
/// the status line a pull-request comment leads with), "Prepared for", then the executive
/// summary in plain words ([`plain`]).
pub(crate) fn write_head(
    out: &mut dyn std::io::Write,
    deliverable: &Deliverable,
    summary: &plain::Summary,
    status_line: &str,
) -> std::io::Result<()> {
    match deliverable.title.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => {
            writeln!(out, "## {}", escape(t))?;
            writeln!(out)?;
            writeln!(out, "{status_line}")?;
        }
        _ => writeln!(out, "## {status_line}")?,
    }
    writeln!(out)?;
    if let Some(c) = deliverable.client() {
        writeln!(out, "Prepared for **{}**", escape(c).trim())?;
        writeln!(out)?;
    }
    writeln!(out, "### Executive summary")?;
    writeln!(out)?;
    writeln!(out, "{}", escape(&summary.audited))?;
    writeln!(out)?;
    writeln!(
        out,
        "**{}:** {}",
        summary.verdict.heading(),
        escape(&summary.conclusion)
    )?;
    writeln!(out)?;
    for p in &summary.problems {
        writeln!(out, "- {}", escape(p))?;
    }
    if !summary.problems.is_empty() {
        writeln!(out)?;
    }
    if let Some(why) = &summary.incomplete {
        writeln!(out, "⚠️ {}", escape(why))?;
        writeln!(out)?;
    }
    Ok(())
}

/// [`write`] with the operator's title and client name.
pub fn write_with(
    report: &Report,
    _rules: &RuleSet,
    fail_on: FailOn,
    deliverable: &Deliverable,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let failing = report.findings.iter().filter(|f| fails(f, fail_on)).count();
    let title = match fail_on {
        FailOn::At(s) if failing > 0 => format!(
            "❌ {} at or above {s}",
            plural(failing, "finding", "findings")
        ),
        FailOn::At(s) if !report.errors.is_empty() => format!(
            "⚠️ no finding at or above {s}, but {} could not be read",
            plural(report.errors.len(), "input", "inputs")
        ),
        FailOn::At(s) => format!("✅ no finding at or above {s}"),
        FailOn::Never => format!(
            "✅ {} (report only: none fails)",
            plural(report.findings.len(), "finding", "findings")
        ),
    };
    write_head(
        out,
        deliverable,
        &plain::summarize(report),
        &format!("relay-audit: {title}"),
    )?;
    if !report.errors.is_empty() {
        writeln!(
            out,
            "⚠️ {} could not be read, so the verdict is unsure: see *Input problems* below.",
            plural(report.errors.len(), "input", "inputs")
        )?;
        writeln!(out)?;
    }
    let skipped = report
        .inputs
        .iter()
        .filter(|i| i.status == "skipped")
        .count();
    let unreadable = report.inputs.iter().filter(|i| i.status == "error").count();
    writeln!(
        out,
        "{} {} · rules {} · {} read ({} skipped, {} unreadable)",
        escape(report.tool.name),
        escape(report.tool.version),
        escape(&report.rules_version),
        plural(report.inputs.len(), "file", "files"),
        skipped,
        unreadable
    )?;
    writeln!(out)?;

    writeln!(
        out,
        "| Severity | Findings | Waived | Unchanged since the baseline |"
    )?;
    writeln!(out, "|---|---:|---:|---:|")?;
    for s in Severity::ALL {
        let of = |p: &dyn Fn(&Finding) -> bool| {
            report
                .findings
                .iter()
                .filter(|f| f.severity == s && p(f))
                .count()
        };
        writeln!(
            out,
            "| {s} | {} | {} | {} |",
            of(&|_| true),
            of(&|f| f.waiver.is_some()),
            of(&|f| f.baseline == Some(BaselineState::Unchanged))
        )?;
    }
    writeln!(out)?;
    if report.findings.iter().any(|f| f.baseline.is_some()) || !report.resolved.is_empty() {
        let new = report
            .findings
            .iter()
            .filter(|f| f.baseline == Some(BaselineState::New))
            .count();
        let unchanged = report
            .findings
            .iter()
            .filter(|f| f.baseline == Some(BaselineState::Unchanged))
            .count();
        writeln!(
            out,
            "Against the baseline: {new} new, {unchanged} unchanged, {} resolved.",
            report.resolved.len()
        )?;
        writeln!(out)?;
    }

    let open: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.waiver.is_none())
        .collect();
    let waived: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.waiver.is_some())
        .collect();
    for run in &report.probes {
        out.write_all(probe_section(run).as_bytes())?;
    }
    if !open.is_empty() {
        writeln!(out, "### Findings")?;
        writeln!(out)?;
        write_groups(out, &open, fail_on, "####")?;
    }
    if !waived.is_empty() {
        writeln!(out, "<details>")?;
        writeln!(
            out,
            "<summary>{} (accepted by an operator; they do not count)</summary>",
            plural(waived.len(), "waived finding", "waived findings")
        )?;
        writeln!(out)?;
        write_groups(out, &waived, fail_on, "####")?;
        writeln!(out, "</details>")?;
        writeln!(out)?;
    }
    if !report.resolved.is_empty() {
        writeln!(out, "### Resolved since the baseline")?;
        writeln!(out)?;
        for r in &report.resolved {
            write!(
                out,
                "- **{}** {} on {} {}",
                r.severity,
                escape(&r.rule),
                r.object.kind.as_str(),
                escape(&r.object.id)
            )?;
            if let Some(s) = &r.object.server {
                write!(out, " (server {})", escape(s))?;
            }
            writeln!(out)?;
        }
        writeln!(out)?;
    }
    if !report.audits.is_empty() {
        let (listed, left) = super::audits_to_list(report);
        writeln!(
            out,
            "### Clients\n\n{} client folders, each audited on its own.\n\n| Client | Files | Verdict |\n|---|---:|---|",
            report.audits.len()
        )?;
        for a in listed {
            writeln!(
                out,
                "| {} | {} | {} |",
                escape(&a.name),
                a.files,
                super::audit_verdict(a)
            )?;
        }
        if left > 0 {
            writeln!(out, "| … {left} more | | no critical or high finding |")?;
        }
        writeln!(out)?;
    }
    let problems: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.level != Level::Info)
        .collect();
    if !problems.is_empty() {
        writeln!(out, "### Input problems")?;
        writeln!(out)?;
        for d in problems {
            let level = match d.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Info => "info",
            };
            let at = match d.line {
                Some(l) => format!("{}:{l}", escape(&d.file)),
                None => escape(&d.file),
            };
            writeln!(out, "- **{level}** {at}: {}", escape(&d.message))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The Markdown rendering; every value escaped.
fn probe_section(run: &crate::probe::ProbeRun) -> String {
    let e = escape;
    let view = super::probe::view(run);
    let mut s = format!("### {}\n\n", e(&view.title));
    for (k, val) in &view.facts {
        s.push_str(&format!("- **{k}**: {}\n", e(val)));
    }
    s.push_str(
        "\n| Form | Kind | MAIL FROM | RCPT TO | Reply | Verdict |\n|---|---|---|---|---|---|\n",
    );
    for r in &view.forms {
        s.push_str(&format!(
            "| {} |\n",
            r.iter().map(|c| e(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    if let Some(c) = &view.compare {
        s.push_str(&format!("\n**Against the export:** {}\n\n", e(&c.outcome)));
        s.push_str(&format!(
            "| {} | {} |\n|---|---|\n",
            e(&c.heads[0]),
            e(&c.heads[1])
        ));
        s.push_str(&format!(
            "| **{}** | **{}** |\n",
            e(&c.verdicts[0]),
            e(&c.verdicts[1])
        ));
        for r in &c.rows {
            s.push_str(&format!("| {} | {} |\n", e(&r[0]), e(&r[1])));
        }
        s.push('\n');
        for x in &c.explanations {
            s.push_str(&format!("- {}\n", e(x)));
        }
    }
    if !view.notes.is_empty() {
        s.push('\n');
        for n in &view.notes {
            s.push_str(&format!("> {}\n>\n", e(n)));
        }
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_and_markdown() {
        assert_eq!(escape("<script>"), "&lt;script&gt;");
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(
            escape("`x` *y* _z_ [l](u)"),
            "\\`x\\` \\*y\\* \\_z\\_ \\[l\\](u)"
        );
        assert_eq!(escape("EX01\\Relay"), "EX01\\\\Relay");
        assert_eq!(escape("a\r\nb\nc"), "a b c");
    }

    #[test]
    fn mentions_references_and_links_stay_text() {
        assert_eq!(escape("@admins #123 !4 %m"), "\\@admins \\#123 \\!4 \\%m");
        assert_eq!(
            escape("see https://evil.example or WWW.evil.example"),
            "see https\\://evil.example or WWW\\.evil.example"
        );
        assert_eq!(escape("x@y.example"), "x\\@y.example");
        assert_eq!(escape("C:/x EX01:25"), "C:/x EX01:25");
        assert_eq!(
            escape("a\u{1b}[2Jb\u{202e}c\0"),
            "a\\\\u{1b}\\[2Jb\\\\u{202e}c\\\\u{0}"
        );
    }

    #[test]
    fn fences_outgrow_backticks() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
