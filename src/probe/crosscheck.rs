//! The probe beside the export: `explain` for the same client, port, sender and recipient,
//! both conversations side by side, and — when the verdicts differ — which explanations fit.

use super::{FormResult, ProbeRun, Verdict};
use crate::analysis::site::same_server;
use crate::explain::{self, Explanation, LineOut};
use crate::model::Model;
use serde::Serialize;
use std::net::IpAddr;

/// One explanation of a contradiction, and whether the probe's own observations support it.
#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    /// `stale-export`, `another-server`, `device-in-front`, `vantage`.
    pub id: &'static str,
    pub text: String,
    /// `supported` (the probe saw something that points to it) or `possible`.
    pub fit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CrossCheck {
    /// The export's server the probe was compared with.
    pub server: String,
    /// The client address `explain` was run for.
    pub client: String,
    /// `--as-seen-from`, or `the probe's own address`.
    pub client_from: &'static str,
    pub port: u16,
    pub mail_from: String,
    pub rcpt: String,
    /// The probe's form that was compared (2, the plain one, unless it got no answer).
    pub form: u8,
    /// `explain`'s verdict code (`relay-allowed`, `relay-refused`, ...).
    pub export_verdict: String,
    pub export_smtp: String,
    pub export_summary: String,
    pub probe_verdict: Verdict,
    pub probe_smtp: String,
    /// `None`: the two cannot be compared (the export cannot tell, or the probe got no answer).
    pub agrees: Option<bool>,
    /// `live-open-export-refused` or `live-refused-export-open`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contradiction: Option<&'static str>,
    pub explanations: Vec<Fit>,
    /// The export's version of the server, and whether the live wording agrees with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_agrees: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_note: Option<String>,
    /// The live conversation of the compared form (banner, EHLO, MAIL, RCPT).
    pub live: Vec<LineOut>,
    /// `explain`'s whole answer (its transcript is the offline conversation).
    pub explain: Explanation,
}

/// Picks the export's server to compare with, before anything is sent: `--server`, the only
/// server of the export, or the one the host name names.
pub fn pick_server(model: &Model, wanted: Option<&str>, host: &str) -> Result<String, String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: &str| {
        if !n.is_empty() && !names.iter().any(|x| same_server(x, n)) {
            names.push(n.to_string());
        }
    };
    model.servers.iter().for_each(|s| add(&s.name));
    model.connectors.iter().for_each(|c| add(&c.server));
    model.legacy.iter().for_each(|o| add(&o.server));
    if let Some(w) = wanted {
        return names
            .iter()
            .find(|n| same_server(n, w))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "--server {w}: the export has no such server (it has: {})",
                    list_or_none(&names)
                )
            });
    }
    match names.len() {
        0 => Err("the export holds no Exchange server to compare with".into()),
        1 => Ok(names.remove(0)),
        _ => names
            .iter()
            .find(|n| same_server(n, host))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "the export holds several servers ({}): name the one probed with --server",
                    names.join(", ")
                )
            }),
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The form to compare: the plain one (2) when it got an answer, else the first plain form
/// that did.
fn compared(run: &ProbeRun) -> Option<&FormResult> {
    let anon = |r: &&FormResult| !r.authenticated && r.plain();
    run.forms
        .iter()
        .filter(anon)
        .find(|r| r.n == 2 && r.verdict != Verdict::Inconclusive)
        .or_else(|| {
            run.forms
                .iter()
                .filter(anon)
                .find(|r| !matches!(r.verdict, Verdict::Inconclusive | Verdict::NotApplicable))
        })
        .or_else(|| run.forms.iter().find(|r| r.n == 2))
}

fn strip(a: &str) -> String {
    a.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// Runs `explain` for the conversation the probe had and compares.
pub fn check(
    model: &Model,
    run: &ProbeRun,
    server: &str,
    as_seen_from: Option<IpAddr>,
    server_port: Option<u16>,
) -> Result<CrossCheck, String> {
    let form = compared(run).ok_or("the probe tested no form to compare")?;
    let probe_ip: Option<IpAddr> = run.target.from.as_deref().and_then(|s| s.parse().ok());
    let (client, client_from) =
        match (as_seen_from, probe_ip) {
            (Some(ip), _) => (ip, "--as-seen-from"),
            (None, Some(ip)) => (ip, "the probe's own address"),
            (None, None) => return Err(
                "the probe never connected: no client address to explain for (give --as-seen-from)"
                    .into(),
            ),
        };
    let req = explain::Request {
        server: server.to_string(),
        client,
        port: server_port.unwrap_or(run.target.port),
        local: None,
        auth: explain::Auth::None,
        mail_from: strip(&form.mail_from),
        rcpt: strip(&form.rcpt_to),
        helo: Some(run.ehlo_name.clone()),
        today: None,
    };
    let e = explain::explain(model, &req, None)?;
    let code = e.verdict.code;
    let export_open = code == "relay-allowed";
    let export_closed = matches!(
        code,
        "relay-refused" | "mail-refused" | "no-connector" | "connection-refused"
    );
    let live_open = run.verdict == Verdict::Open;
    let live_closed = matches!(
        run.verdict,
        Verdict::Refused | Verdict::AuthRequired | Verdict::AcceptedAsLocal
    );
    let (agrees, contradiction) = if (export_open && live_open) || (export_closed && live_closed) {
        (Some(true), None)
    } else if export_closed && live_open {
        (Some(false), Some("live-open-export-refused"))
    } else if export_open && live_closed {
        (Some(false), Some("live-refused-export-open"))
    } else {
        (None, None)
    };
    let product = model
        .servers
        .iter()
        .find(|s| same_server(&s.name, server))
        .and_then(|s| s.product);
    let export_version = model
        .servers
        .iter()
        .find(|s| same_server(&s.name, server))
        .and_then(|s| s.version.as_ref().map(|v| v.value.to_string()))
        .or_else(|| product.map(|p| p.as_str().to_string()));
    // A low-confidence recognition (an imitation, a custom banner, a device in front) never
    // claims a version mismatch.
    let version_agrees = product
        .filter(|_| run.server.confidence != "low")
        .and_then(|p| super::recognise::agrees_with_product(&run.server, p.as_str()));
    let version_note = (version_agrees == Some(false)).then(|| {
        format!(
            "the live dialogue reads as {} but the export says {} is {}",
            run.server.label,
            server,
            export_version.as_deref().unwrap_or("another version")
        )
    });
    let explanations = match contradiction {
        Some(c) => fits(c, run, server, client, client_from, version_agrees),
        None => Vec::new(),
    };
    let mut live = Vec::new();
    let mut push = |side: &'static str, text: &str| {
        live.push(LineOut {
            side,
            text: text.to_string(),
        })
    };
    run.banner.iter().for_each(|l| push("server", l));
    push("client", &format!("EHLO {}", run.ehlo_name));
    run.ehlo_tls
        .as_ref()
        .unwrap_or(&run.ehlo)
        .iter()
        .for_each(|l| push("server", l));
    push("client", &format!("MAIL FROM:{}", form.mail_from));
    form.mail.iter().for_each(|l| push("server", l));
    if !form.rcpt.is_empty() {
        push("client", &format!("RCPT TO:{}", form.rcpt_to));
        form.rcpt.iter().for_each(|l| push("server", l));
    }
    if let Some(n) = &form.note {
        push("note", n);
    }
    let probe_smtp = form
        .rcpt
        .last()
        .or(form.mail.last())
        .cloned()
        .unwrap_or_else(|| "(no answer)".into());
    Ok(CrossCheck {
        server: server.to_string(),
        client: client.to_string(),
        client_from,
        port: req.port,
        mail_from: req.mail_from.clone(),
        rcpt: req.rcpt.clone(),
        form: form.n,
        export_verdict: code.to_string(),
        export_smtp: e.verdict.smtp.clone(),
        export_summary: e.verdict.summary.clone(),
        probe_verdict: run.verdict,
        probe_smtp,
        agrees,
        contradiction,
        explanations,
        export_version,
        version_agrees,
        version_note,
        live,
        explain: e,
    })
}

/// The explanations of a contradiction, supported ones first.
fn fits(
    contradiction: &str,
    run: &ProbeRun,
    server: &str,
    client: IpAddr,
    client_from: &str,
    version_agrees: Option<bool>,
) -> Vec<Fit> {
    let banner_host = super::banner_host(&run.banner).unwrap_or_default();
    let names_other = !banner_host.is_empty() && !same_server(&banner_host, server);
    let not_exchange = !run.server.server.starts_with("exchange");
    let mut other_because = Vec::new();
    if names_other {
        other_because.push(format!("the banner names {banner_host}, not {server}"));
    }
    if not_exchange && run.server.server != "unknown" {
        other_because.push(format!("the dialogue reads as {}", run.server.label));
    }
    if version_agrees == Some(false) {
        other_because.push("the live wording is another Exchange version than the export's".into());
    }
    let other = |text: String| Fit {
        id: "another-server",
        text,
        fit: if other_because.is_empty() {
            "possible"
        } else {
            "supported"
        },
        because: (!other_because.is_empty()).then(|| other_because.join("; ")),
    };
    let device_because = if run.server.server != "unknown" && not_exchange {
        Some(format!("the dialogue reads as {}", run.server.label))
    } else {
        None
    };
    let probe_from = run.target.from.clone().unwrap_or_default();
    let vantage_because = if client_from == "--as-seen-from" && probe_from != client.to_string() {
        Some(format!(
            "the probe ran from {probe_from}; the export was judged for {client}"
        ))
    } else if probe_from
        .parse::<IpAddr>()
        .is_ok_and(super::target::inside)
    {
        Some(format!(
            "the probe ran from {probe_from}, an internal address the network may trust"
        ))
    } else {
        None
    };
    let mut out = if contradiction == "live-open-export-refused" {
        vec![
            Fit {
                id: "stale-export",
                text: format!("the export is stale: {server}'s configuration changed after it was taken (a relay right, a range or an accepted domain added)"),
                fit: "possible",
                because: None,
            },
            other(format!("another server answered: the name or address probed is not {server} (DNS, a load balancer or NAT sends the connection elsewhere)")),
            Fit {
                id: "device-in-front",
                text: "a device in front relays: a filtering gateway, hybrid or hosted service accepts for any domain before Exchange sees the session".into(),
                fit: if device_because.is_some() { "supported" } else { "possible" },
                because: device_because,
            },
            Fit {
                id: "vantage",
                text: "the server sees the probe from an address it trusts: the export was judged for another client address than the server saw".into(),
                fit: if vantage_because.is_some() { "supported" } else { "possible" },
                because: vantage_because,
            },
        ]
    } else {
        vec![
            Fit {
                id: "device-in-front",
                text: "a device in front filters: a firewall SMTP fixup, a filtering gateway or a load balancer answers RCPT before the server's own policy".into(),
                fit: if device_because.is_some() { "supported" } else { "possible" },
                because: device_because,
            },
            other(format!("the export came from another server than the one that answered, or {server} is not what the name or address probed reaches")),
            Fit {
                id: "stale-export",
                text: format!("the export is stale: the relay it shows was removed from {server} after it was taken"),
                fit: "possible",
                because: None,
            },
            Fit {
                id: "vantage",
                text: "the server sees another client address than the export was judged for (NAT, a load balancer in SNAT mode): the connector that grants relay does not match it".into(),
                fit: if vantage_because.is_some() { "supported" } else { "possible" },
                because: vantage_because,
            },
        ]
    };
    out.sort_by_key(|f| f.fit != "supported");
    out
}
