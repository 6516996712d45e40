//! `--format table`: for people. One table per server (the server with the worst finding
//! first), rows grouped by object, worst first; then input problems; then a one-line summary.

use crate::rules::{Finding, Severity};
use crate::scan::Report;
use crate::term::visible_line;
use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};
use std::io::Write;

fn group_name(f: &Finding) -> String {
    match &f.audit {
        Some(a) => format!("Client {}: {}", visible_line(a), server_group(f)),
        None => server_group(f),
    }
}

fn server_group(f: &Finding) -> String {
    if f.object.kind == crate::input::record::ObjectKind::Probe {
        return match &f.object.server {
            Some(s) => format!("Live probe (compared with server {})", visible_line(s)),
            None => "Live probe".to_string(),
        };
    }
    match &f.object.server {
        Some(s) => format!(
            "Server {} (judged as Exchange {})",
            visible_line(s),
            visible_line(&f.version)
        ),
        None => "Organisation".to_string(),
    }
}

/// The message, then one line per piece of evidence. Files are shown by name only (the
/// JSON report has the full path). Every piece is made visible ([`visible_line`]): a value
/// cannot act on the terminal nor start a line of its own.
fn evidence_text(f: &Finding) -> String {
    let mut text = visible_line(&f.message).into_owned();
    for e in &f.evidence {
        let name = e.file.rsplit(['/', '\\']).next().unwrap_or(&e.file);
        let at = match e.line {
            Some(l) => format!("{}:{l}", visible_line(name)),
            None => visible_line(name).into_owned(),
        };
        text.push_str(&format!(
            "\n· {at}: {} = {}",
            visible_line(&e.property),
            visible_line(&e.value)
        ));
    }
    text
}

fn severity_cell(text: String, s: Severity, color: bool) -> Cell {
    let c = Cell::new(text);
    if !color {
        return c;
    }
    match s {
        Severity::Critical => c.fg(Color::Red).add_attribute(Attribute::Bold),
        Severity::High => c.fg(Color::Red),
        Severity::Medium => c.fg(Color::Yellow),
        Severity::Low => c.fg(Color::Cyan),
        Severity::Info => c.add_attribute(Attribute::Dim),
    }
}

/// Writes the table report; `color` adds ANSI colour to severities (the caller decides:
/// only on a terminal, never with `NO_COLOR`).
pub fn write(report: &Report, out: &mut dyn Write, width: u16, color: bool) -> std::io::Result<()> {
    for run in &report.probes {
        out.write_all(super::probe::table(run, width).as_bytes())?;
    }
    // Groups in order of their worst finding; findings arrive sorted worst first.
    for (g, mut rows) in super::buckets(&report.findings, group_name) {
        // Objects in order of their worst finding, each object's rows together.
        let mut worst: std::collections::HashMap<&str, Severity> = Default::default();
        for f in &rows {
            let w = worst.entry(f.object.id.as_str()).or_insert(f.severity);
            *w = (*w).min(f.severity);
        }
        let keys: Vec<(Severity, String)> = rows
            .iter()
            .map(|f| (worst[f.object.id.as_str()], f.object.id.to_lowercase()))
            .collect();
        let mut idx: Vec<usize> = (0..rows.len()).collect();
        idx.sort_by(|&a, &b| {
            keys[a]
                .cmp(&keys[b])
                .then(rows[a].severity.cmp(&rows[b].severity))
        });
        rows = idx.into_iter().map(|i| rows[i]).collect();

        writeln!(out, "{g}")?;
        let mut i = 0;
        while i < rows.len() {
            let id = &rows[i].object.id;
            let end = rows[i..]
                .iter()
                .position(|f| f.object.id != *id)
                .map_or(rows.len(), |n| i + n);
            writeln!(
                out,
                "  {} ({})",
                visible_line(id),
                rows[i].object.kind.as_str()
            )?;
            let mut t = Table::new();
            t.load_style(presets::UTF8_FULL_CONDENSED);
            t.force_no_tty();
            if color {
                t.enforce_styling();
            }
            t.set_content_arrangement(ContentArrangement::Dynamic);
            t.set_width(width.saturating_sub(2));
            t.set_header(vec!["Severity", "Rule", "Finding and evidence"]);
            for f in &rows[i..end] {
                let mut sev = f.severity.as_str().to_string();
                if let Some(b) = f.baseline {
                    sev.push_str(match b {
                        crate::rules::BaselineState::New => "\nnew",
                        crate::rules::BaselineState::Unchanged => "\nunchanged",
                    });
                }
                let mut text = evidence_text(f);
                if let Some(w) = &f.waiver {
                    sev.push_str("\nwaived");
                    text.push_str(&format!(
                        "\nwaived until {} by {}: {} ({})",
                        visible_line(&w.expires),
                        visible_line(&w.owner),
                        visible_line(&w.justification),
                        visible_line(&w.source)
                    ));
                }
                t.add_row(vec![
                    severity_cell(sev, f.severity, color),
                    Cell::new(visible_line(&f.rule)),
                    Cell::new(text),
                ]);
            }
            for line in t.to_string().lines() {
                writeln!(out, "  {line}")?;
            }
            i = end;
        }
        writeln!(out)?;
    }
    if !report.resolved.is_empty() {
        writeln!(out, "Resolved since the baseline")?;
        for r in &report.resolved {
            writeln!(
                out,
                "  {} {} on {} {}",
                r.severity,
                visible_line(&r.rule),
                r.object.kind.as_str(),
                visible_line(&r.object.id)
            )?;
        }
        writeln!(out)?;
    }
    // Files that show relay evidence relay-audit could not read, whole or in part: named
    // here so that nobody reads the summary line as "everything was understood".
    let partial: Vec<_> = report
        .inputs
        .iter()
        .filter(|i| !i.not_understood.is_empty())
        .collect();
    if !partial.is_empty() {
        writeln!(
            out,
            "Not understood (relay evidence relay-audit could not read)"
        )?;
        for i in partial {
            let how = if i.status == "partial" {
                format!(
                    "partly understood ({} of {} objects used)",
                    i.records_used, i.records
                )
            } else {
                "nothing understood".to_string()
            };
            writeln!(out, "  {}: {how}", visible_line(&i.path))?;
            for l in &i.not_understood {
                writeln!(out, "    line {}: {}", l.line, visible_line(&l.text))?;
            }
        }
        writeln!(out)?;
    }
    if !report.audits.is_empty() {
        let (listed, left) = super::audits_to_list(report);
        writeln!(
            out,
            "Clients ({} client folders, each audited on its own)",
            report.audits.len()
        )?;
        let w = listed
            .iter()
            .map(|a| a.name.chars().count())
            .max()
            .unwrap_or(0);
        for a in listed {
            writeln!(
                out,
                "  {:<w$}  {:>5} files  {}",
                visible_line(&a.name),
                a.files,
                super::audit_verdict(a)
            )?;
        }
        if left > 0 {
            writeln!(
                out,
                "  ... and {left} more with no critical or high finding"
            )?;
        }
        writeln!(out)?;
    }
    let problems: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.level != crate::diag::Level::Info)
        .collect();
    if !problems.is_empty() {
        writeln!(out, "Input problems")?;
        for d in problems {
            writeln!(out, "  {d}")?;
        }
        writeln!(out)?;
    }
    let skipped = report
        .inputs
        .iter()
        .filter(|i| i.status == "skipped")
        .count();
    let errors = report.inputs.iter().filter(|i| i.status == "error").count();
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|s| format!("{} {}", report.summary.count(*s), s))
        .collect();
    let m = report.model_counts;
    let mut review = String::new();
    let waived = report
        .findings
        .iter()
        .filter(|f| f.waiver.is_some())
        .count();
    if waived > 0 {
        review.push_str(&format!(", {waived} waived"));
    }
    if report.findings.iter().any(|f| f.baseline.is_some()) || !report.resolved.is_empty() {
        let new = report
            .findings
            .iter()
            .filter(|f| f.baseline == Some(crate::rules::BaselineState::New))
            .count();
        review.push_str(&format!(
            ", {new} new, {} unchanged, {} resolved since the baseline",
            report.findings.len() - new,
            report.resolved.len()
        ));
    }
    // Legacy objects (settings, .reg, LDIF) are named only when there are some, so the line
    // for 2007+ exports stays as it was.
    let mut legacy = String::new();
    for (n, what) in [
        (m.imcs, "Internet Mail Services"),
        (m.virtual_servers, "SMTP virtual servers"),
        (m.smtp_connectors, "SMTP connectors"),
    ] {
        if n > 0 {
            legacy.push_str(&format!(", {n} {what}"));
        }
    }
    // SMTP logs: how many files and the longest window any server's logs cover.
    if let Some(u) = &report.usage {
        let files: u64 = u.log_sets.iter().map(|s| s.files).sum();
        let days = u.log_sets.iter().map(|s| s.days).fold(0.0, f64::max);
        let servers: std::collections::BTreeSet<&str> =
            u.log_sets.iter().map(|s| s.server.as_str()).collect();
        legacy.push_str(&format!(
            ", {files} SMTP log files of {} servers over {days:.1} days",
            servers.len()
        ));
    }
    if m.probes > 0 && report.inputs.is_empty() {
        return writeln!(
            out,
            "{} findings ({}{review}) from {} live probe{}",
            report.findings.len(),
            counts.join(", "),
            m.probes,
            if m.probes == 1 { "" } else { "s" }
        );
    }
    if m.probes > 0 {
        legacy.push_str(&format!(", {} live probes", m.probes));
    }
    writeln!(
        out,
        "{} findings ({}{review}) in {} files ({} skipped, {} unreadable): {} servers, {} receive connectors, {} permission entries, {} accepted domains{legacy}",
        report.findings.len(),
        counts.join(", "),
        report.inputs.len(),
        skipped,
        errors,
        m.servers,
        m.connectors,
        m.permissions,
        m.domains
    )
}
