//! `--format html`: one self-contained HTML file for a client (a pre-migration health check).
//!
//! The file makes no network request. The CSS (`html/report.css`) is inlined; there are no
//! scripts, fonts or images; and a Content-Security-Policy `<meta>` allows nothing but inline
//! styles and `data:` images, so markup smuggled in through an export could neither load nor
//! run anything even if it escaped. It does not escape: every string that comes from an export
//! (object ids, messages, evidence, paths, diagnostics) or from a rule file goes through
//! [`esc`], in element text and attribute values alike, and nothing from either is written
//! inside `<style>`. Rule references are the only outside addresses: plain `<a href>` links
//! (http and https only, `rel="noreferrer"`) that a reader may follow, never loaded.
//!
//! It prints to PDF: `@media print` drops the navigation, keeps each finding on one page,
//! prints black on white and writes out the address of every link.
//!
//! Sections: header, executive summary, findings by server and object (worst first), waived
//! findings, findings resolved since the baseline, inputs with their parse coverage and input
//! problems, and a footer saying what an export cannot show. Like every writer it only
//! formats: findings arrive sorted worst first.

use crate::rules::{BaselineState, Finding, RuleSet, Severity};
use crate::scan::{FailOn, Report};
use std::fmt::Write as _;

mod inputs;
pub mod plain;
mod probe;

use inputs::inputs;
pub use plain::Deliverable;
use probe::probe_section;

const CSS: &str = include_str!("html/report.css");

/// Nothing may load or run; `base-uri` and `form-action` do not fall back to `default-src`.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// The title when `--title` gives none.
pub const TITLE: &str = "Exchange SMTP relay audit";

/// What a caller adds to the standard report: who it is for, an executive summary worded
/// for what was compared (a scan, or a change), and sections of its own.
pub(crate) struct Page<'a> {
    pub deliverable: &'a Deliverable,
    pub summary: plain::Summary,
    /// Written between the executive summary and the findings, and linked from the header.
    pub sections: Vec<Section>,
}

/// A section a caller writes itself; `html` must be escaped already.
pub(crate) struct Section {
    pub id: &'static str,
    pub nav: &'static str,
    pub html: String,
}

/// Writes the report as one HTML document.
pub fn write(
    report: &Report,
    rules: &RuleSet,
    fail_on: FailOn,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    write_with(report, rules, fail_on, &Deliverable::default(), out)
}

/// [`write`] with the operator's title and client name.
pub fn write_with(
    report: &Report,
    rules: &RuleSet,
    fail_on: FailOn,
    deliverable: &Deliverable,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let page = Page {
        deliverable,
        summary: plain::summarize(report),
        sections: Vec::new(),
    };
    write_page(report, rules, fail_on, &page, out)
}

/// Writes the report with a caller's summary and sections (the diff uses it).
pub(crate) fn write_page(
    report: &Report,
    rules: &RuleSet,
    fail_on: FailOn,
    page: &Page<'_>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let html = render(report, rules, fail_on, page, &today())
        .map_err(|_| std::io::Error::other("formatting the HTML report failed"))?;
    out.write_all(html.as_bytes())
}

/// `YYYY-MM-DD`: `RELAY_AUDIT_TODAY` if set (reproducible reports), else today (UTC).
fn today() -> String {
    let (y, m, d) = crate::date::today();
    format!("{y:04}-{m:02}-{d:02}")
}

/// Escapes text for HTML element content and quoted attribute values: `& < > " '`.
/// Control characters become U+FFFD, and the invisible bidirectional controls a name could
/// use to display as something else (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C,
/// and the separators U+2028, U+2029: [`crate::term::is_hidden`]) are shown as `[U+202E]`.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            // A bare CR would overwrite a terminal line where the HTML is shown as text.
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if c.is_control() => out.push('\u{fffd}'),
            // Bidi controls and marks, line separators (crate::term::is_hidden).
            c if crate::term::is_hidden(c) => {
                let _ = write!(out, "[U+{:04X}]", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with `code spans` (balanced backticks) shown as `<code>`. Backticks are not
/// special in HTML, so this runs after escaping and cannot open a tag.
fn rich(s: &str) -> String {
    let e = esc(s);
    let parts: Vec<&str> = e.split('`').collect();
    if parts.len() < 3 || parts.len().is_multiple_of(2) {
        return e;
    }
    let mut out = String::with_capacity(e.len() + 16);
    for (i, p) in parts.iter().enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(p);
            out.push_str("</code>");
        } else {
            out.push_str(p);
        }
    }
    out
}

/// Rule prose (hard-wrapped, blank lines between paragraphs) as `<p>` elements.
fn paragraphs(s: &str) -> String {
    let mut out = String::new();
    for para in s.trim().split("\n\n") {
        let joined = para.split_whitespace().collect::<Vec<_>>().join(" ");
        if !joined.is_empty() {
            let _ = write!(out, "<p>{}</p>", rich(&joined));
        }
    }
    out
}

/// A rule reference: a link for an http(s) address, plain text for anything else (a user
/// rule could say `javascript:`).
fn reference(url: &str) -> String {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let web = (lower.starts_with("https://") || lower.starts_with("http://"))
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    if web {
        format!("<a href=\"{0}\" rel=\"noreferrer\">{0}</a>", esc(u))
    } else {
        format!("<span class=\"mono\">{}</span>", esc(u))
    }
}

fn badge(s: Severity) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", s.as_str())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn kind_name(f: &Finding) -> String {
    f.object.kind.as_str().replace('-', " ")
}

/// `path:line`, or the path alone.
fn at(file: &str, line: Option<u32>) -> String {
    match line {
        Some(l) => format!("{file}:{l}"),
        None => file.to_string(),
    }
}

/// The findings of one server, or of the organisation (accepted domains, permissions whose
/// connector is unknown), in report order.
struct Group<'a> {
    /// The client folder, in a scan of a folder of client folders.
    audit: Option<&'a str>,
    server: Option<&'a str>,
    findings: Vec<(usize, &'a Finding)>,
}

impl Group<'_> {
    fn label(&self) -> String {
        let server = match self.server {
            Some(s) => s.to_string(),
            None => "Organisation".to_string(),
        };
        match self.audit {
            Some(a) => format!("{a}: {server}"),
            None => server,
        }
    }
}

/// Groups in order of their worst finding (findings arrive sorted worst first), in one pass.
fn groups<'a>(findings: impl Iterator<Item = (usize, &'a Finding)>) -> Vec<Group<'a>> {
    let mut out: Vec<Group<'a>> = Vec::new();
    let mut index: std::collections::HashMap<(Option<&'a str>, Option<&'a str>), usize> =
        std::collections::HashMap::new();
    for (i, f) in findings {
        let key = (f.audit.as_deref(), f.object.server.as_deref());
        match index.get(&key) {
            Some(&g) => out[g].findings.push((i, f)),
            None => {
                index.insert(key, out.len());
                out.push(Group {
                    audit: key.0,
                    server: key.1,
                    findings: vec![(i, f)],
                });
            }
        }
    }
    out
}

/// A group's findings by object: objects in order of their worst finding, each object's
/// findings together, worst first (as the table writer orders them).
fn by_object<'a>(g: &Group<'a>) -> Vec<Vec<(usize, &'a Finding)>> {
    let mut objects: Vec<Vec<(usize, &'a Finding)>> = Vec::new();
    for &(i, f) in &g.findings {
        let key = f.object.id.to_lowercase();
        match objects
            .iter_mut()
            .find(|o| o[0].1.object.id.to_lowercase() == key && o[0].1.object.kind == f.object.kind)
        {
            Some(o) => o.push((i, f)),
            None => objects.push(vec![(i, f)]),
        }
    }
    for o in &mut objects {
        o.sort_by_key(|(i, f)| (f.severity, *i));
    }
    objects.sort_by_key(|o| (o[0].1.severity, o[0].0));
    objects
}

fn render(
    report: &Report,
    rules: &RuleSet,
    fail_on: FailOn,
    page: &Page<'_>,
    date: &str,
) -> Result<String, std::fmt::Error> {
    let mut h = String::with_capacity(64 * 1024);
    let open: Vec<(usize, &Finding)> = report
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.waiver.is_none())
        .collect();
    let waived: Vec<(usize, &Finding)> = report
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.waiver.is_some())
        .collect();
    let open_groups = groups(open.iter().copied());

    writeln!(h, "<!DOCTYPE html>")?;
    writeln!(h, "<html lang=\"en\">")?;
    writeln!(h, "<head>")?;
    writeln!(h, "<meta charset=\"utf-8\">")?;
    writeln!(
        h,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        esc(CSP)
    )?;
    writeln!(h, "<meta name=\"referrer\" content=\"no-referrer\">")?;
    writeln!(
        h,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        h,
        "<meta name=\"generator\" content=\"relay-audit {}\">",
        esc(report.tool.version)
    )?;
    let title = page.deliverable.title_or(TITLE);
    match page.deliverable.client() {
        Some(c) => writeln!(
            h,
            "<title>{} \u{2013} prepared for {}</title>",
            esc(title),
            esc(c)
        )?,
        None => writeln!(h, "<title>{}</title>", esc(title))?,
    }
    writeln!(h, "<style>\n{CSS}</style>")?;
    writeln!(h, "</head>")?;
    writeln!(h, "<body>")?;

    header(&mut h, report, page, date, !waived.is_empty())?;
    summary(&mut h, report, &page.summary, &open_groups)?;
    for s in &page.sections {
        h.push_str(&s.html);
    }
    for run in &report.probes {
        h.push_str(&probe_section(run));
    }

    // Relay matrix hook. relay-audit does not compute the matrix yet (which source addresses
    // may relay, as whom, through which connector of which server). When the analysis
    // provides it on `Report`, render it here as `<section id="matrix">` between the
    // executive summary and the findings, and add it to the navigation in `header`. Until
    // then nothing is written: no placeholder in the client's report.

    writeln!(h, "<section id=\"findings\">")?;
    writeln!(h, "<h2>Findings</h2>")?;
    if open.is_empty() {
        writeln!(h, "<p>No open finding.</p>")?;
    }
    for (gi, g) in open_groups.iter().enumerate() {
        writeln!(h, "<section class=\"group\" id=\"server-{gi}\">")?;
        let client = g
            .audit
            .map(|a| format!("Client {} · ", esc(a)))
            .unwrap_or_default();
        match g.server {
            Some(s) => {
                let version = &g.findings[0].1.version;
                writeln!(
                    h,
                    "<h3>{client}Server {} <span class=\"muted small\">(judged as Exchange {})</span></h3>",
                    esc(s),
                    esc(version)
                )?;
            }
            None => writeln!(
                h,
                "<h3>{client}Organisation <span class=\"muted small\">(accepted domains and organisation-wide settings)</span></h3>"
            )?,
        }
        for object in by_object(g) {
            let f0 = object[0].1;
            writeln!(
                h,
                "<h4 class=\"object\"><span class=\"kind\">{}</span> {}</h4>",
                esc(&kind_name(f0)),
                esc(&f0.object.id)
            )?;
            for (i, f) in object {
                finding(&mut h, rules, i, f, false)?;
            }
        }
        writeln!(h, "</section>")?;
    }
    writeln!(h, "</section>")?;

    if !waived.is_empty() {
        writeln!(h, "<section id=\"waived\">")?;
        writeln!(h, "<h2>Waived findings</h2>")?;
        writeln!(
            h,
            "<p>An operator accepted these findings until the date shown. They do not count toward the verdict; each stops being waived after its expiry date.</p>"
        )?;
        for (i, f) in &waived {
            finding(&mut h, rules, *i, f, true)?;
        }
        writeln!(h, "</section>")?;
    }

    if !report.resolved.is_empty() {
        writeln!(h, "<section id=\"resolved\">")?;
        writeln!(h, "<h2>Resolved since the baseline</h2>")?;
        writeln!(
            h,
            "<p>Findings of the baseline that this scan no longer raises.</p>"
        )?;
        writeln!(h, "<table class=\"resolved\"><thead><tr><th>Severity</th><th>Rule</th><th>Object</th><th>Fingerprint</th></tr></thead><tbody>")?;
        for r in &report.resolved {
            writeln!(
                h,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td><span class=\"muted\">{}</span> {}</td><td class=\"mono\">{}</td></tr>",
                badge(r.severity),
                esc(&r.rule),
                esc(&r.object.kind.as_str().replace('-', " ")),
                esc(&r.object.id),
                esc(&r.fingerprint)
            )?;
        }
        writeln!(h, "</tbody></table>")?;
        writeln!(h, "</section>")?;
    }

    inputs(&mut h, report)?;
    footer(&mut h, report, rules, fail_on, date)?;
    writeln!(h, "</body>")?;
    writeln!(h, "</html>")?;
    Ok(h)
}

fn header(
    h: &mut String,
    report: &Report,
    page: &Page<'_>,
    date: &str,
    any_waived: bool,
) -> std::fmt::Result {
    let m = report.model_counts;
    let skipped = report
        .inputs
        .iter()
        .filter(|i| i.status == "skipped")
        .count();
    let unreadable = report.inputs.iter().filter(|i| i.status == "error").count();
    writeln!(h, "<header class=\"report\">")?;
    writeln!(h, "<h1>{}</h1>", esc(page.deliverable.title_or(TITLE)))?;
    if let Some(c) = page.deliverable.client() {
        writeln!(
            h,
            "<p class=\"client\">Prepared for <strong>{}</strong></p>",
            esc(c)
        )?;
    }
    writeln!(
        h,
        "<p class=\"muted\">Offline audit of exported Microsoft Exchange configuration for SMTP open-relay pitfalls.</p>"
    )?;
    writeln!(h, "<dl>")?;
    writeln!(h, "<dt>Generated</dt><dd>{}</dd>", esc(date))?;
    writeln!(
        h,
        "<dt>Tool</dt><dd>{} {}</dd>",
        esc(report.tool.name),
        esc(report.tool.version)
    )?;
    writeln!(
        h,
        "<dt>Rule set</dt><dd class=\"mono\">{}</dd>",
        esc(&report.rules_version)
    )?;
    // Legacy objects are named only when there are some.
    let mut legacy = String::new();
    for (n, one, many) in [
        (m.imcs, "Internet Mail Service", "Internet Mail Services"),
        (
            m.virtual_servers,
            "SMTP virtual server",
            "SMTP virtual servers",
        ),
        (m.smtp_connectors, "SMTP connector", "SMTP connectors"),
    ] {
        if n > 0 {
            legacy.push_str(", ");
            legacy.push_str(&plural(n, one, many));
        }
    }
    writeln!(
        h,
        "<dt>Export read</dt><dd>{} ({} skipped, {} unreadable): {}, {}, {}, {}{}</dd>",
        plural(report.inputs.len(), "file", "files"),
        skipped,
        unreadable,
        plural(m.servers, "server", "servers"),
        plural(m.connectors, "receive connector", "receive connectors"),
        plural(m.permissions, "permission entry", "permission entries"),
        plural(m.domains, "accepted domain", "accepted domains"),
        legacy,
    )?;
    writeln!(h, "</dl>")?;
    write!(
        h,
        "<nav class=\"toc\"><a href=\"#summary\">Executive summary</a>"
    )?;
    for s in &page.sections {
        write!(h, "<a href=\"#{}\">{}</a>", s.id, esc(s.nav))?;
    }
    write!(h, "<a href=\"#findings\">Findings</a>")?;
    if any_waived {
        write!(h, "<a href=\"#waived\">Waived findings</a>")?;
    }
    if !report.resolved.is_empty() {
        write!(h, "<a href=\"#resolved\">Resolved</a>")?;
    }
    writeln!(
        h,
        "<a href=\"#inputs\">Inputs</a><a href=\"#limits\">What this cannot know</a></nav>"
    )?;
    writeln!(h, "</header>")
}

fn gate_text(fail_on: FailOn) -> String {
    match fail_on {
        FailOn::At(s) => format!("--fail-on {s}: findings at severity {s} or worse fail the audit"),
        FailOn::Never => "--fail-on never: no severity fails the audit".to_string(),
    }
}

fn summary(
    h: &mut String,
    report: &Report,
    plain: &plain::Summary,
    open_groups: &[Group<'_>],
) -> std::fmt::Result {
    writeln!(h, "<section id=\"summary\">")?;
    writeln!(h, "<h2>Executive summary</h2>")?;
    writeln!(h, "<p class=\"audited\">{}</p>", esc(&plain.audited))?;

    // The verdict in words a client's manager reads: no rule ids, no CI gate.
    writeln!(
        h,
        "<div class=\"verdict {}\"><strong>{}</strong><p>{}</p>",
        plain.verdict.class(),
        esc(plain.verdict.heading()),
        esc(&plain.conclusion)
    )?;
    if !plain.problems.is_empty() {
        writeln!(h, "<ul class=\"plain\">")?;
        for p in &plain.problems {
            writeln!(h, "<li>{}</li>", esc(p))?;
        }
        writeln!(h, "</ul>")?;
    }
    if let Some(why) = &plain.incomplete {
        writeln!(h, "<p class=\"incomplete-why\">{}</p>", esc(why))?;
    }
    writeln!(h, "</div>")?;

    // The worst open finding of every server, in plain words.
    writeln!(h, "<ul class=\"servers\">")?;
    let mut named_servers = 0;
    for (gi, g) in open_groups.iter().enumerate() {
        if g.server.is_some() {
            named_servers += 1;
        }
        let (_, worst) = g.findings[0];
        let more = g.findings.len() - 1;
        let tail = match more {
            0 => String::new(),
            1 => "; 1 more finding (see below)".to_string(),
            n => format!("; {n} more findings (see below)"),
        };
        writeln!(
            h,
            "<li class=\"sev-{}\"><a href=\"#server-{gi}\"><strong>{}</strong></a>: {} ({}){}</li>",
            worst.severity.as_str(),
            esc(&g.label()),
            rich(&worst.title),
            plain::severity_word(worst.severity),
            tail
        )?;
    }
    // Servers with waived findings only.
    let waived_groups = groups(
        report
            .findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.waiver.is_some()),
    );
    for g in &waived_groups {
        if open_groups
            .iter()
            .any(|o| o.server == g.server && o.audit == g.audit)
        {
            continue;
        }
        if g.server.is_some() {
            named_servers += 1;
        }
        writeln!(
            h,
            "<li class=\"clean\"><strong>{}</strong>: no open relay problem ({} accepted by waiver, see <a href=\"#waived\">Waived findings</a>)</li>",
            esc(&g.label()),
            plural(g.findings.len(), "finding", "findings")
        )?;
    }
    // The report carries a count of exported servers but not their names. With an
    // unreadable input, "nothing found" only covers what could be read.
    let servers = report.model_counts.servers;
    let clean = if plain.incomplete.is_none() {
        "no relay problem found"
    } else if report.errors.is_empty() {
        "no relay problem found in what could be read"
    } else {
        "no relay problem found in the files that could be read"
    };
    if report.findings.is_empty() {
        if servers > 0 {
            writeln!(
                h,
                "<li class=\"clean\"><strong>{}</strong>: {clean}</li>",
                if servers == 1 {
                    "The exported server".to_string()
                } else {
                    format!("All {servers} exported servers")
                }
            )?;
        } else {
            writeln!(
                h,
                "<li class=\"clean\"><strong>Export</strong>: {clean}</li>"
            )?;
        }
    } else if servers > named_servers {
        writeln!(
            h,
            "<li class=\"clean\"><strong>Every other exported server</strong>: {clean} ({} exported in all)</li>",
            plural(servers, "server", "servers")
        )?;
    }
    writeln!(h, "</ul>")?;

    // Counts per severity.
    let any_baseline = report.findings.iter().any(|f| f.baseline.is_some());
    write!(
        h,
        "<table class=\"counts\"><thead><tr><th>Severity</th><th class=\"num\">Findings</th><th class=\"num\">Waived</th>"
    )?;
    if any_baseline {
        write!(h, "<th class=\"num\">Unchanged since baseline</th>")?;
    }
    writeln!(
        h,
        "<th class=\"num\">Counting toward the verdict</th></tr></thead><tbody>"
    )?;
    for s in Severity::ALL {
        let of = |p: &dyn Fn(&Finding) -> bool| {
            report
                .findings
                .iter()
                .filter(|f| f.severity == s && p(f))
                .count()
        };
        write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            badge(s),
            report.summary.count(s),
            of(&|f| f.waiver.is_some())
        )?;
        if any_baseline {
            write!(
                h,
                "<td class=\"num\">{}</td>",
                of(&|f| f.waiver.is_none() && f.baseline == Some(BaselineState::Unchanged))
            )?;
        }
        writeln!(h, "<td class=\"num\">{}</td></tr>", of(&|f| f.counts()))?;
    }
    writeln!(h, "</tbody></table>")?;
    if !report.resolved.is_empty() {
        writeln!(
            h,
            "<p>{} since the baseline (<a href=\"#resolved\">listed below</a>).</p>",
            plural(
                report.resolved.len(),
                "finding resolved",
                "findings resolved"
            )
        )?;
    }
    writeln!(h, "</section>")
}

/// One finding. `with_object`: name its object too (in the waived list, which is not
/// grouped by object).
fn finding(
    h: &mut String,
    rules: &RuleSet,
    index: usize,
    f: &Finding,
    with_object: bool,
) -> std::fmt::Result {
    let sev = f.severity.as_str();
    let waived = if f.waiver.is_some() { " waived" } else { "" };
    writeln!(
        h,
        "<article class=\"finding {sev}{waived}\" id=\"f-{index}\">"
    )?;
    write!(
        h,
        "<header>{} <span class=\"rule mono\">{}</span> <span class=\"title\">{}</span>",
        badge(f.severity),
        esc(&f.rule),
        rich(&f.title)
    )?;
    match f.baseline {
        Some(BaselineState::New) => {
            write!(h, "<span class=\"tag new\">new since the baseline</span>")?
        }
        Some(BaselineState::Unchanged) => write!(
            h,
            "<span class=\"tag\">unchanged since the baseline (does not count)</span>"
        )?,
        None => {}
    }
    if f.waiver.is_some() {
        write!(h, "<span class=\"tag waived\">waived</span>")?;
    }
    writeln!(h, "</header>")?;
    if with_object {
        writeln!(
            h,
            "<p class=\"object\"><span class=\"muted\">{}</span> {}{}</p>",
            esc(&kind_name(f)),
            esc(&f.object.id),
            match &f.object.server {
                Some(s) => format!(" <span class=\"muted\">on server</span> {}", esc(s)),
                None => String::new(),
            }
        )?;
    }
    writeln!(h, "<p class=\"message\">{}</p>", rich(&f.message))?;

    if let Some(w) = &f.waiver {
        writeln!(h, "<dl class=\"waiver\">")?;
        writeln!(
            h,
            "<dt>Justification</dt><dd>{}</dd>",
            esc(&w.justification)
        )?;
        writeln!(h, "<dt>Owner</dt><dd>{}</dd>", esc(&w.owner))?;
        writeln!(h, "<dt>Expires</dt><dd>{}</dd>", esc(&w.expires))?;
        writeln!(
            h,
            "<dt>Waiver</dt><dd class=\"mono\">{}</dd>",
            esc(&w.source)
        )?;
        writeln!(h, "</dl>")?;
    }

    if !f.evidence.is_empty() {
        writeln!(h, "<h5>Evidence</h5>")?;
        writeln!(
            h,
            "<table class=\"evidence\"><thead><tr><th>Property</th><th>Value</th><th>File:line</th></tr></thead><tbody>"
        )?;
        for e in &f.evidence {
            writeln!(
                h,
                "<tr><td class=\"mono prop\">{}</td><td class=\"mono\">{}</td><td class=\"mono small\">{}</td></tr>",
                esc(&e.property),
                esc(&e.value),
                esc(&at(&e.file, e.line))
            )?;
        }
        writeln!(h, "</tbody></table>")?;
    }

    let rule = rules.get(&f.rule);
    if let Some(r) = rule {
        writeln!(h, "<h5>Why it matters</h5>")?;
        writeln!(h, "{}", paragraphs(&r.why))?;
    }
    writeln!(h, "<h5>Remediation</h5>")?;
    writeln!(
        h,
        "<pre><code>{}</code></pre>",
        esc(f.remediation.trim_end())
    )?;
    if let Some(r) = rule.filter(|r| !r.references.is_empty()) {
        writeln!(h, "<h5>References</h5>")?;
        writeln!(h, "<ul class=\"refs\">")?;
        for u in &r.references {
            writeln!(h, "<li>{}</li>", reference(u))?;
        }
        writeln!(h, "</ul>")?;
    }
    writeln!(
        h,
        "<p class=\"small muted\">Category {} · judged as Exchange {} · fingerprint <span class=\"mono\">{}</span></p>",
        esc(&f.category),
        esc(&f.version),
        esc(&f.fingerprint)
    )?;
    writeln!(h, "</article>")
}

fn footer(
    h: &mut String,
    report: &Report,
    rules: &RuleSet,
    fail_on: FailOn,
    date: &str,
) -> std::fmt::Result {
    writeln!(h, "<footer class=\"report\" id=\"limits\">")?;
    writeln!(h, "<h2>What this report cannot know</h2>")?;
    writeln!(
        h,
        "<p>relay-audit reads exported configuration only; it contacted no server. A finding says what the configuration allows, not what has happened.</p>"
    )?;
    writeln!(h, "<ul>")?;
    for line in [
        "<strong>Firewalls, NAT and load balancers.</strong> A connector that accepts every address may be reachable only from inside, or a narrow one may be published to the Internet. Findings stand until the network path is proven.",
        "<strong>Live state.</strong> Changes made after the export, Active Directory replication still in progress, stopped services, and which connector the transport service picks for a connection at run time.",
        "<strong>What was not exported.</strong> Servers, connectors or permissions missing from the files listed under Inputs; Edge Transport servers, transport rules, third-party gateways and Exchange Online connectors.",
        "<strong>Abuse.</strong> Whether an open relay has been used: message tracking and protocol logs are not read.",
    ] {
        writeln!(h, "<li>{line}</li>")?;
    }
    writeln!(h, "</ul>")?;
    writeln!(
        h,
        "<p class=\"small muted\">Rule set <span class=\"mono\">{}</span> ({}) · {} {} · generated {}</p>",
        esc(&report.rules_version),
        plural(rules.rules.len(), "rule", "rules"),
        esc(report.tool.name),
        esc(report.tool.version),
        esc(date)
    )?;
    // The exit code's reasoning is for whoever runs the tool, not for the client: it stays
    // out of the summary and is noted here.
    writeln!(
        h,
        "<p class=\"small muted\">Exit status: {}</p>",
        esc(&gate_text(fail_on))
    )?;
    writeln!(h, "</footer>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_covers_markup_quotes_and_controls() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(esc("a\u{0}b\u{1b}c\td"), "a\u{fffd}b\u{fffd}c\td");
        assert_eq!(esc("gpj.\u{202e}exe"), "gpj.[U+202E]exe");
    }

    #[test]
    fn code_spans_only_when_balanced_and_after_escaping() {
        assert_eq!(rich("domain `*` <b>"), "domain <code>*</code> &lt;b&gt;");
        assert_eq!(rich("one ` only"), "one ` only");
        assert_eq!(rich("`<i>`"), "<code>&lt;i&gt;</code>");
    }

    #[test]
    fn only_web_references_become_links() {
        assert_eq!(
            reference("https://learn.microsoft.com/a?b=1&c=\"2\""),
            "<a href=\"https://learn.microsoft.com/a?b=1&amp;c=&quot;2&quot;\" rel=\"noreferrer\">https://learn.microsoft.com/a?b=1&amp;c=&quot;2&quot;</a>"
        );
        assert!(!reference("javascript:alert(1)").contains("href"));
        assert!(!reference("https://x.example/ onmouseover=alert(1)").contains("href"));
    }

    #[test]
    fn prose_is_joined_into_paragraphs() {
        assert_eq!(
            paragraphs("one\ntwo `x`\n\nthree\n"),
            "<p>one two <code>x</code></p><p>three</p>"
        );
    }
}
