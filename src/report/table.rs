//! `--format table`: for people. One table per server (the server with the worst finding
//! first), rows grouped by object, worst first; then input problems; then a one-line summary.

use crate::rules::{Finding, Severity};
use crate::scan::Report;
use comfy_table::{presets, Cell, ContentArrangement, Table};
use std::io::Write;

fn group_name(f: &Finding) -> String {
    match &f.object.server {
        Some(s) => format!("Server {s} (judged as Exchange {})", f.version),
        None => "Organisation".to_string(),
    }
}

fn evidence_text(f: &Finding) -> String {
    let mut text = f.message.clone();
    for e in &f.evidence {
        let at = match e.line {
            Some(l) => format!("{}:{}", e.file, l),
            None => e.file.clone(),
        };
        text.push_str(&format!("\n  {at}: {} = {}", e.property, e.value));
    }
    text
}

pub fn write(report: &Report, out: &mut dyn Write, width: u16) -> std::io::Result<()> {
    // Groups in order of their worst finding; findings arrive sorted worst first.
    let mut groups: Vec<String> = Vec::new();
    for f in &report.findings {
        let g = group_name(f);
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    for g in &groups {
        let mut rows: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| group_name(f) == *g)
            .collect();
        // Objects in order of their worst finding, each object's rows together.
        let worst = |id: &str| {
            rows.iter()
                .filter(|f| f.object.id == id)
                .map(|f| f.severity)
                .min()
                .unwrap_or(Severity::Info)
        };
        let keys: Vec<(Severity, String)> = rows
            .iter()
            .map(|f| (worst(&f.object.id), f.object.id.to_lowercase()))
            .collect();
        let mut idx: Vec<usize> = (0..rows.len()).collect();
        idx.sort_by(|&a, &b| {
            keys[a]
                .cmp(&keys[b])
                .then(rows[a].severity.cmp(&rows[b].severity))
        });
        rows = idx.into_iter().map(|i| rows[i]).collect();

        writeln!(out, "{g}")?;
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED);
        t.force_no_tty();
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(width);
        t.set_header(vec!["Object", "Severity", "Rule", "Finding and evidence"]);
        let mut last_object = None;
        for f in rows {
            let object = format!("{}\n({})", f.object.id, f.object.kind.as_str());
            let shown = if last_object.as_ref() == Some(&object) {
                String::new()
            } else {
                object.clone()
            };
            last_object = Some(object);
            t.add_row(vec![
                Cell::new(shown),
                Cell::new(f.severity.as_str()),
                Cell::new(&f.rule),
                Cell::new(evidence_text(f)),
            ]);
        }
        writeln!(out, "{t}")?;
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
    writeln!(
        out,
        "{} findings ({}) in {} files ({} skipped, {} unreadable): {} servers, {} receive connectors, {} permission entries, {} accepted domains",
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
