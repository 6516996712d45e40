//! The probe section of the reports: what was probed, which server answered, each form's
//! replies and verdict, and — with `--export` — the live and the offline conversation side
//! by side. One [`View`] for every writer; the text table is rendered here, the Markdown and
//! HTML sections by their writers (each escapes for its medium).

use crate::explain::LineOut;
use crate::probe::ProbeRun;

/// What every rendering shows of one probe.
pub struct View {
    pub title: String,
    pub facts: Vec<(&'static str, String)>,
    /// Form, MAIL FROM → RCPT TO, the decisive answer, verdict.
    pub forms: Vec<[String; 4]>,
    pub compare: Option<Compare>,
    pub notes: Vec<String>,
}

pub struct Compare {
    pub heads: [String; 2],
    pub verdicts: [String; 2],
    /// Live line, offline line (either may be empty).
    pub rows: Vec<[String; 2]>,
    pub outcome: String,
    pub explanations: Vec<String>,
}

fn arrow(l: &LineOut) -> String {
    let a = match l.side {
        "server" => "<-",
        "client" => "->",
        _ => "**",
    };
    format!("{a} {}", l.text)
}

/// The two conversations in blocks, each starting at a client command, paired by the
/// command's verb so that MAIL faces MAIL and RCPT faces RCPT.
fn side_by_side(live: &[LineOut], offline: &[LineOut]) -> Vec<[String; 2]> {
    fn blocks(lines: &[LineOut]) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = vec![(String::new(), Vec::new())];
        for l in lines {
            if l.side == "client" {
                let verb = l
                    .text
                    .split([' ', ':'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                out.push((verb, Vec::new()));
            }
            if let Some(last) = out.last_mut() {
                last.1.push(arrow(l));
            }
        }
        out
    }
    let (a, b) = (blocks(live), blocks(offline));
    let (mut i, mut j) = (0, 0);
    let mut rows = Vec::new();
    let mut emit = |x: Option<&Vec<String>>, y: Option<&Vec<String>>| {
        let n = x.map_or(0, Vec::len).max(y.map_or(0, Vec::len));
        for k in 0..n {
            rows.push([
                x.and_then(|v| v.get(k)).cloned().unwrap_or_default(),
                y.and_then(|v| v.get(k)).cloned().unwrap_or_default(),
            ]);
        }
    };
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                emit(Some(&x.1), Some(&y.1));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) => {
                // The side whose verb comes up later on the other side waits.
                if b[j..].iter().any(|z| z.0 == x.0) {
                    emit(None, Some(&y.1));
                    j += 1;
                } else {
                    emit(Some(&x.1), None);
                    i += 1;
                }
            }
            (Some(x), None) => {
                emit(Some(&x.1), None);
                i += 1;
            }
            (None, Some(y)) => {
                emit(None, Some(&y.1));
                j += 1;
            }
            (None, None) => break,
        }
    }
    rows
}

pub fn view(run: &ProbeRun) -> View {
    let t = &run.target;
    let mut facts = vec![
        (
            "verdict",
            format!("{} — {}", run.verdict.as_str(), run.summary),
        ),
        (
            "probed",
            format!(
                "{} ({}) port {}{}",
                t.host,
                t.address,
                t.port,
                if t.tls_on_connect {
                    ", TLS on connect"
                } else {
                    ""
                }
            ),
        ),
        (
            "from",
            t.from.clone().unwrap_or_else(|| "(never connected)".into()),
        ),
        (
            "run token",
            format!("{} (EHLO {})", run.token, run.ehlo_name),
        ),
        (
            "server",
            format!(
                "{} — {} confidence{}",
                run.server.label,
                run.server.confidence,
                if run.server.clues.is_empty() {
                    String::new()
                } else {
                    format!(": {}", run.server.clues.join("; "))
                }
            ),
        ),
    ];
    if let Some(b) = run.banner.first() {
        facts.push(("banner", b.clone()));
    }
    if let Some(tls) = &run.tls {
        facts.push((
            "TLS",
            format!(
                "{} {}; certificate: {}",
                tls.version, tls.cipher, tls.certificate
            ),
        ));
    }
    if let Some(a) = &run.auth {
        facts.push(("AUTH", format!("{} {} → {}", a.mechanism, a.user, a.reply)));
    }
    facts.push((
        "took",
        format!(
            "{:.1} s, {} connection{}",
            run.duration_ms as f64 / 1000.0,
            run.connections,
            if run.connections == 1 { "" } else { "s" }
        ),
    ));
    let forms = run
        .forms
        .iter()
        .map(|f| {
            let answer = match (f.rcpt.last(), f.mail.last()) {
                (Some(r), _) => format!("RCPT: {r}"),
                (None, Some(m)) => format!("MAIL: {m}"),
                _ => f.note.clone().unwrap_or_default(),
            };
            [
                format!(
                    "{} {}{}",
                    f.n,
                    f.kind,
                    if f.authenticated { " (after AUTH)" } else { "" }
                ),
                format!("{} → {}", f.mail_from, f.rcpt_to),
                answer,
                f.verdict.as_str().to_string(),
            ]
        })
        .collect();
    let compare = run.export.as_ref().map(|x| {
        let rows = side_by_side(&x.live, &x.explain.transcript);
        let outcome = match (x.agrees, x.contradiction) {
            (Some(true), _) => "the probe and the export agree".to_string(),
            (_, Some(c)) => format!("CONTRADICTION ({c})"),
            _ => "not comparable: the export or the probe cannot tell".to_string(),
        };
        let mut explanations: Vec<String> = x
            .explanations
            .iter()
            .map(|f| match &f.because {
                Some(b) => format!("{} — {}: {b}", f.text, f.fit),
                None => format!("{} — {}", f.text, f.fit),
            })
            .collect();
        if let Some(v) = &x.version_note {
            explanations.push(v.clone());
        }
        Compare {
            heads: [
                format!("live: {}:{} (form {})", t.address, t.port, x.form),
                format!(
                    "export: {} for client {} ({})",
                    x.server, x.client, x.client_from
                ),
            ],
            verdicts: [
                format!("{} → {}", x.probe_smtp, x.probe_verdict.as_str()),
                format!("{} → {}", x.export_smtp, x.export_verdict),
            ],
            rows,
            outcome,
            explanations,
        }
    });
    View {
        title: format!("Live probe of {}:{}", t.host, t.port),
        facts,
        forms,
        compare,
        notes: run.notes.clone(),
    }
}

/// The plain-text rendering (the table report); every value made visible.
pub fn table(run: &ProbeRun, width: u16) -> String {
    use crate::term::visible_line as v;
    use comfy_table::{presets, ContentArrangement, Table};
    let view = view(run);
    let mut s = format!("{}\n", v(&view.title));
    for (k, val) in &view.facts {
        s.push_str(&format!("  {k}: {}\n", v(val)));
    }
    let new_table = |head: Vec<String>| {
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED);
        t.force_no_tty();
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(width.saturating_sub(2));
        t.set_header(head);
        t
    };
    let mut t = new_table(
        ["Form", "MAIL FROM → RCPT TO", "Answer", "Verdict"]
            .map(String::from)
            .to_vec(),
    );
    for r in &view.forms {
        t.add_row(r.iter().map(|c| v(c).into_owned()).collect::<Vec<_>>());
    }
    s.push_str(&indent(&t.to_string()));
    if let Some(c) = &view.compare {
        s.push_str(&format!("  against the export: {}\n", v(&c.outcome)));
        let mut t = new_table(c.heads.iter().map(|h| v(h).into_owned()).collect());
        t.add_row(
            c.verdicts
                .iter()
                .map(|h| v(h).into_owned())
                .collect::<Vec<_>>(),
        );
        for r in &c.rows {
            t.add_row(r.iter().map(|h| v(h).into_owned()).collect::<Vec<_>>());
        }
        s.push_str(&indent(&t.to_string()));
        for e in &c.explanations {
            s.push_str(&format!("  · {}\n", v(e)));
        }
    }
    for n in &view.notes {
        s.push_str(&format!("  note: {}\n", v(n)));
    }
    s.push('\n');
    s
}

fn indent(t: &str) -> String {
    t.lines().map(|l| format!("  {l}\n")).collect()
}
