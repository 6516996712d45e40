//! A saved probe, judged again (`probe --replay FILE`): the JSON report of an earlier run is
//! read back to its raw evidence — banner, EHLO, and each form's replies — and every verdict,
//! the server recognition and the comparison with an export are derived anew, by the same
//! code as a live run. Nothing is sent anywhere.

use super::session::Reply;
use super::transcript::Transcript;
use super::{recognise, summarise, verdict, FormResult, ProbeRun, TargetOut, TlsMode, Verdict};
use serde::Deserialize;

/// A saved report is read up to this size.
const MAX_FILE: u64 = 64 << 20;

#[derive(Deserialize)]
struct SavedReport {
    probes: Vec<SavedRun>,
}

#[derive(Deserialize)]
struct SavedTarget {
    host: String,
    address: String,
    port: u16,
    #[serde(default)]
    tls_on_connect: bool,
    #[serde(default)]
    from: Option<String>,
}

#[derive(Deserialize)]
struct SavedForm {
    n: u8,
    mail_from: String,
    rcpt_to: String,
    #[serde(default)]
    authenticated: bool,
    #[serde(default)]
    mail: Vec<String>,
    #[serde(default)]
    rcpt: Vec<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
struct SavedRun {
    target: SavedTarget,
    token: String,
    ehlo_name: String,
    #[serde(default)]
    started: String,
    #[serde(default)]
    duration_ms: u64,
    #[serde(default)]
    banner: Vec<String>,
    #[serde(default)]
    ehlo: Vec<String>,
    #[serde(default)]
    ehlo_tls: Option<Vec<String>>,
    #[serde(default)]
    tls: Option<super::session::TlsInfo>,
    forms: Vec<SavedForm>,
    #[serde(default)]
    connections: u32,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    transcript: Transcript,
}

fn reply(lines: &[String]) -> Option<Reply> {
    let last = lines.last()?;
    let code = last.get(..3)?.parse::<u16>().ok()?;
    Some(Reply {
        code,
        lines: lines.to_vec(),
    })
}

/// Reads the probes of a saved JSON report (`probe --format json`).
pub fn load(path: &std::path::Path) -> Result<Vec<ProbeRun>, String> {
    let show = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{show}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{show}: not a regular file"));
    }
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{show}: {} bytes, more than a saved probe report can be ({MAX_FILE})",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{show}: {e}"))?;
    let saved: SavedReport = serde_json::from_str(&text)
        .map_err(|e| format!("{show}:{}: not a saved probe report ({e})", e.line()))?;
    if saved.probes.is_empty() {
        return Err(format!("{show}: the report holds no probe"));
    }
    Ok(saved.probes.into_iter().map(rejudge).collect())
}

fn rejudge(s: SavedRun) -> ProbeRun {
    let ip: Option<std::net::IpAddr> = s.target.address.parse().ok();
    let mut own: Vec<String> = ip
        .map(|ip| vec![super::forms::literal(ip).to_ascii_lowercase()])
        .unwrap_or_default();
    own.extend(super::banner_host(&s.banner));
    let mut replies: Vec<(&'static str, Vec<String>)> = Vec::new();
    let forms: Vec<FormResult> = s
        .forms
        .into_iter()
        .filter(|f| (1..=16).contains(&f.n))
        .map(|f| {
            let (kind, destination) = super::forms::kind_of(f.n);
            let form = super::forms::Form {
                n: f.n,
                kind,
                mail_from: f.mail_from.clone(),
                rcpt_to: f.rcpt_to.clone(),
                destination,
            };
            let v = match reply(&f.mail) {
                Some(m) => {
                    let r = reply(&f.rcpt);
                    if replies.len() < 64 {
                        replies.push(("MAIL", m.lines.clone()));
                        if let Some(r) = &r {
                            replies.push(("RCPT", r.lines.clone()));
                        }
                    }
                    verdict::classify(&form, &m, r.as_ref(), &own)
                }
                None => Verdict::Inconclusive,
            };
            FormResult {
                n: f.n,
                kind,
                mail_from: f.mail_from,
                rcpt_to: f.rcpt_to,
                destination,
                authenticated: f.authenticated,
                mail: f.mail,
                rcpt: f.rcpt,
                verdict: v,
                note: f.note,
            }
        })
        .collect();
    let mut forms = forms;
    forms.sort_by_key(|f| (f.authenticated, f.n));
    let overall = super::overall_of(&forms);
    let view: Vec<(&str, &[String])> = replies.iter().map(|(v, l)| (*v, l.as_slice())).collect();
    let server = recognise::recognise(&recognise::Seen {
        banner: &s.banner,
        ehlo: s.ehlo_tls.as_deref().unwrap_or(&s.ehlo),
        replies: &view,
    });
    let summary = summarise(overall, &forms, None);
    let mut notes = s.notes;
    notes.push("judged again from a saved report (--replay): nothing was sent".into());
    ProbeRun {
        target: TargetOut {
            host: s.target.host,
            address: s.target.address,
            port: s.target.port,
            tls: TlsMode::Opportunistic,
            tls_on_connect: s.target.tls_on_connect,
            from: s.target.from,
        },
        token: s.token,
        ehlo_name: s.ehlo_name,
        started: s.started,
        duration_ms: s.duration_ms,
        reached_rcpt: forms.iter().any(|f| !f.rcpt.is_empty()),
        banner: s.banner,
        ehlo: s.ehlo,
        ehlo_tls: s.ehlo_tls,
        tls: s.tls,
        auth: None,
        server,
        forms,
        verdict: overall,
        summary,
        connections: s.connections,
        notes,
        export: None,
        transcript: s.transcript,
    }
}
