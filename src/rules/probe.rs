//! Rules on live probes: each probed address is one object of kind `probe`.

use super::cond::probe::ProbeSubject;
use super::cond::Subject;
use super::{sort_findings, Finding, ObjectRef, RuleSet};
use crate::input::record::ObjectKind;
use crate::probe::{ProbeRun, Verdict};

/// The object id of a probe: `host:port`, with the address when the host is a name.
pub fn object_id(run: &ProbeRun) -> String {
    let t = &run.target;
    if t.host.trim_start_matches('[').trim_end_matches(']') == t.address {
        format!("{}:{}", t.host, t.port)
    } else {
        format!("{}:{} ({})", t.host, t.port, t.address)
    }
}

/// The version a probe finding is judged under: what the live dialogue reads as.
fn version(run: &ProbeRun) -> String {
    match run.server.server {
        "exchange-5.5" => "5.5".into(),
        "exchange-2000-2003" => "2000/2003".into(),
        "exchange-2007-2010" => "2007/2010".into(),
        "exchange-2013+" => "2013+".into(),
        "exchange" | "exchange-2007+" => "2007+".into(),
        "exchange-online" => "Exchange Online".into(),
        _ => "live".into(),
    }
}

fn vars(run: &ProbeRun, object: &str, k: &str) -> Option<String> {
    let forms_with = |v: Verdict| {
        let l: Vec<String> = run
            .forms
            .iter()
            .filter(|f| !f.authenticated && f.verdict == v)
            .map(|f| f.n.to_string())
            .collect();
        (!l.is_empty()).then(|| l.join(", "))
    };
    let x = run.export.as_ref();
    Some(match k {
        "object" => object.to_string(),
        "host" => run.target.host.clone(),
        "address" => run.target.address.clone(),
        "port" => run.target.port.to_string(),
        "verdict" => run.verdict.as_str().to_string(),
        "summary" => run.summary.clone(),
        "token" => run.token.clone(),
        "server" => run.server.label.clone(),
        "probe_from" => run.target.from.clone()?,
        "open_forms" => forms_with(Verdict::Open)?,
        "local_forms" => forms_with(Verdict::AcceptedAsLocal)?,
        "export_server" => x?.server.clone(),
        "export_verdict" => x?.export_verdict.clone(),
        "export_smtp" => x?.export_smtp.clone(),
        "export_client" => x?.client.clone(),
        "live_smtp" => x?.probe_smtp.clone(),
        "export_version" => x?.export_version.clone()?,
        "version_note" => x?.version_note.clone()?,
        "explanations" => {
            let fits: Vec<String> = x?
                .explanations
                .iter()
                .map(|f| match &f.because {
                    Some(b) => format!("{} ({}: {b})", f.text, f.fit),
                    None => format!("{} ({})", f.text, f.fit),
                })
                .collect();
            fits.join("; ")
        }
        _ => return None,
    })
}

/// Evaluates the `probe` rules on each probed address.
pub fn evaluate_probes(rules: &RuleSet, runs: &[ProbeRun]) -> Vec<Finding> {
    let mut out = Vec::new();
    for run in runs {
        let id = object_id(run);
        let subject = ProbeSubject {
            run,
            place: format!("probe {id}"),
        };
        for rule in rules.rules.iter().filter(|r| r.object == ObjectKind::Probe) {
            let Some(evidence) = rule.when.eval(&Subject::Probe(&subject)) else {
                continue;
            };
            let v = |k: &str| vars(run, &id, k);
            out.push(rule.finding(
                ObjectRef {
                    kind: ObjectKind::Probe,
                    id: id.clone(),
                    server: run.export.as_ref().map(|x| x.server.clone()),
                },
                version(run),
                &v,
                evidence,
            ));
        }
    }
    sort_findings(&mut out);
    out
}
