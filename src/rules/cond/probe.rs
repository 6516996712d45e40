//! Predicates on a live probe (object `probe`).

use super::{holds_bool, Cond, Evidence, Principals};
use crate::probe::{FormResult, ProbeRun, Verdict};

/// The probe as a rule subject: the run and the place its evidence points to.
pub struct ProbeSubject<'m> {
    pub run: &'m ProbeRun,
    /// `probe 127.0.0.1:2525` (evidence's `file`).
    pub place: String,
}

pub(super) const VERDICTS: [&str; 5] = [
    "open",
    "auth-required",
    "refused",
    "accepted-as-local",
    "inconclusive",
];

pub(super) fn validate(p: &Principals, problems: &mut Vec<(String, String)>) {
    for v in p.list() {
        if !VERDICTS.contains(&v) {
            problems.push((
                format!(
                    "probe_verdict must be one of {}, found `{v}`",
                    VERDICTS.join(", ")
                ),
                v.to_string(),
            ));
        }
    }
}

fn form_ev(s: &ProbeSubject<'_>, f: &FormResult) -> Evidence {
    let (cmd, reply) = if f.rcpt.is_empty() {
        (format!("MAIL FROM:{}", f.mail_from), &f.mail)
    } else {
        (format!("RCPT TO:{}", f.rcpt_to), &f.rcpt)
    };
    let reply = reply.join(" / ");
    Evidence {
        property: format!(
            "form {} ({}{}): {cmd}",
            f.n,
            f.kind,
            if f.authenticated { ", after AUTH" } else { "" }
        ),
        value: if reply.is_empty() {
            f.note.clone().unwrap_or_else(|| "(no answer)".into())
        } else {
            format!("{reply} → {}", f.verdict.as_str())
        },
        file: s.place.clone(),
        line: None,
    }
}

fn note_ev(s: &ProbeSubject<'_>, property: &str, value: String) -> Evidence {
    Evidence {
        property: property.to_string(),
        value,
        file: s.place.clone(),
        line: None,
    }
}

pub(super) fn eval_probe(cond: &Cond, s: &ProbeSubject<'_>) -> Option<Vec<Evidence>> {
    let run = s.run;
    match cond {
        Cond::ProbeVerdict(want) => {
            if !want.list().contains(&run.verdict.as_str()) {
                return None;
            }
            let mut ev: Vec<Evidence> = match run.verdict {
                Verdict::Open => run
                    .forms
                    .iter()
                    .filter(|f| !f.authenticated && f.verdict == Verdict::Open)
                    .map(|f| form_ev(s, f))
                    .collect(),
                Verdict::Inconclusive => run
                    .forms
                    .iter()
                    .filter(|f| f.plain() && !f.authenticated)
                    .map(|f| form_ev(s, f))
                    .collect(),
                v => run
                    .forms
                    .iter()
                    .filter(|f| f.plain() && f.verdict == v)
                    .take(4)
                    .map(|f| form_ev(s, f))
                    .collect(),
            };
            ev.insert(0, note_ev(s, "verdict", run.summary.clone()));
            Some(ev)
        }
        Cond::ProbeContradictsExport(want) => {
            let actual = run
                .export
                .as_ref()
                .is_some_and(|x| x.contradiction.is_some());
            holds_bool(*want, actual, || {
                let Some(x) = &run.export else {
                    return vec![note_ev(s, "export", "(no export compared)".into())];
                };
                let mut ev = vec![
                    note_ev(
                        s,
                        &format!("live, form {}", x.form),
                        format!("{} → {}", x.probe_smtp, x.probe_verdict.as_str()),
                    ),
                    note_ev(
                        s,
                        &format!("export ({}), for client {}", x.server, x.client),
                        format!("{} → {}", x.export_smtp, x.export_verdict),
                    ),
                ];
                if let Some(c) = &x.explain.connector {
                    ev.push(Evidence {
                        property: format!("connector {}", c.id),
                        value: format!("RemoteIPRanges match {}", c.matched_range),
                        file: c.file.clone(),
                        line: Some(c.line),
                    });
                }
                ev
            })
        }
        Cond::ProbeAcceptedAsLocal(want) => {
            let local: Vec<&FormResult> = run
                .forms
                .iter()
                .filter(|f| f.verdict == Verdict::AcceptedAsLocal)
                .collect();
            holds_bool(*want, !local.is_empty(), || {
                local.iter().map(|f| form_ev(s, f)).collect()
            })
        }
        Cond::ProbeVersionDiffers(want) => {
            let x = run.export.as_ref();
            let actual = x.is_some_and(|x| x.version_agrees == Some(false));
            holds_bool(*want, actual, || {
                let mut ev = vec![note_ev(
                    s,
                    "live dialogue",
                    format!("{} ({})", run.server.label, run.server.clues.join("; ")),
                )];
                if let Some(x) = x {
                    ev.push(note_ev(
                        s,
                        &format!("export: {} AdminDisplayVersion", x.server),
                        x.export_version.clone().unwrap_or_default(),
                    ));
                }
                ev
            })
        }
        _ => None,
    }
}
