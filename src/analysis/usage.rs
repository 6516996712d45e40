//! Usage facts: the logs joined to the configuration.
//!
//! For every receive connector the logs name (joined by its `SERVER\Name` identity) and every
//! relay-capable connector of the export: which hosts used it, which of them relayed (a 2xx
//! for a recipient outside the accepted domains), whether a relaying host is public,
//! anonymous, trusted by the site file; how much narrower the connector's RemoteIPRanges
//! could be; and what makes the logs an incomplete record (logging off, a short window,
//! accepted domains not exported).

use super::permissions::Facts;
use super::site::Site;
use crate::model::ip_range::{public_space, IpRange, IpSet};
use crate::model::usage::{format_time, Auth, HostKey, HostUsage, LogKind};
use crate::model::{same_identity, Model, ReceiveConnector, Source};
use std::collections::HashSet;
use std::net::IpAddr;

/// Exchange's default protocol-log retention (`ReceiveProtocolLogMaxAge`): 30 days.
pub const DEFAULT_RETENTION_DAYS: f64 = 30.0;

/// One host on one connector, with what the analysis knows about it.
#[derive(Debug)]
pub struct HostFacts<'m> {
    pub key: &'m HostKey,
    pub usage: &'m HostUsage,
    /// A globally routable address.
    pub public: bool,
    /// The site file lists it as a trusted relay host (`None`: no site file).
    pub trusted: Option<bool>,
    /// Every session was seen only through a proxy hop, and the same client was also seen
    /// directly (the FrontEnd log): the relay decision is counted there, not here.
    pub counted_elsewhere: bool,
}

impl HostFacts<'_> {
    pub fn anonymous(&self) -> bool {
        self.key.auth == Auth::Anonymous
    }

    /// Relayed: a recipient outside the accepted domains got a 2xx.
    pub fn relayed(&self) -> bool {
        self.usage.relayed() > 0 && !self.counted_elsewhere
    }

    /// `anonymous, EHLO mfp-2f: 3 sessions, 4 messages, 12 recipients accepted outside ...`
    pub fn describe(&self) -> String {
        let u = self.usage;
        let mut s = self.key.auth.label();
        if let Some((h, _)) = u.helo.top().first() {
            s.push_str(&format!(", EHLO {h}"));
        }
        s.push_str(&format!(
            ": {} sessions, {} messages, {} recipients accepted outside the accepted domains ({} domains",
            u.sessions,
            u.messages,
            u.foreign.accepted,
            u.relayed_domains.values.len() + usize::from(u.relayed_domains.other > 0)
        ));
        if !u.relayed_samples.is_empty() {
            s.push_str(&format!(", e.g. {}", u.relayed_samples.join(", ")));
        }
        s.push_str(&format!(
            "), {} inside; first {} last {}",
            u.local.accepted,
            format_time(u.first),
            format_time(u.last)
        ));
        s
    }
}

/// One connector as the logs and the export show it.
#[derive(Debug)]
pub struct ConnectorUsage<'m> {
    /// `SERVER\Name` as the export (or, when not exported, the log) writes it.
    pub identity: String,
    pub server: String,
    pub connector: Option<&'m ReceiveConnector>,
    /// The connector in the export, else where the logs first name it.
    pub src: Source,
    pub hosts: Vec<HostFacts<'m>>,
    /// The export grants relay without authentication here: anonymous
    /// `ms-Exch-SMTP-Accept-Any-Recipient`, or Externally Secured.
    pub relay_capable: bool,
    pub is_default: bool,
    /// ProtocolLoggingLevel None in the export.
    pub logging_off: bool,
    /// The first and last line of the server's receive logs (`None`: none was read).
    pub window: Option<(i64, i64)>,
    /// The days the receive logs of the server cover.
    pub days: f64,
    /// The protocol-log retention of the server in days: `ReceiveProtocolLogMaxAge` from a
    /// transport service export (the longest, when several services are exported), else
    /// Exchange's default, 30 days.
    pub retention_days: f64,
    /// Where the retention comes from (`None`: the default).
    pub retention_src: Option<(Source, String)>,
    /// Hosts that used the connector (an accepted recipient), when its RemoteIPRanges hold
    /// far more addresses than that (more than 4 times as many, and 16 more).
    pub narrower: Option<Vec<IpAddr>>,
}

impl ConnectorUsage<'_> {
    /// Hosts that submitted mail (a recipient accepted), counted where they connected.
    pub fn users(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self
            .hosts
            .iter()
            .filter(|h| h.usage.accepted() > 0 && !h.counted_elsewhere && !h.key.is_shared())
            .map(|h| h.key.client)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Hosts that relayed (a recipient outside the accepted domains accepted).
    pub fn relaying(&self) -> impl Iterator<Item = &HostFacts<'_>> {
        self.hosts.iter().filter(|h| h.relayed())
    }
}

/// The usage facts of the whole model.
#[derive(Debug, Default)]
pub struct UsageFacts<'m> {
    pub connectors: Vec<ConnectorUsage<'m>>,
    /// Any log was read.
    pub logs_read: bool,
    pub domains_known: bool,
}

impl<'m> UsageFacts<'m> {
    pub fn compute(model: &'m Model, facts: &Facts<'m>, site: Option<&Site>) -> UsageFacts<'m> {
        let usage = &model.usage;
        if usage.is_empty() {
            return UsageFacts::default();
        }
        // Clients seen directly (not through a proxy hop) somewhere.
        let direct: HashSet<IpAddr> = usage
            .hosts
            .iter()
            .filter(|(_, u)| u.proxied < u.sessions.max(1))
            .map(|(k, _)| k.client)
            .collect();
        let mut out: Vec<ConnectorUsage<'m>> = Vec::new();
        for (key, u) in &usage.hosts {
            let i = match out
                .iter()
                .position(|c| same_identity(&c.identity, &key.connector))
            {
                Some(i) => i,
                None => {
                    let connector = model.connector(&key.connector);
                    let mut cu = connector_usage(
                        model,
                        facts,
                        connector,
                        key.connector.trim_end().to_string(),
                    );
                    if connector.is_none() {
                        cu.src = Source {
                            file: u.seen.file.clone(),
                            line: u.seen.line,
                        };
                    }
                    out.push(cu);
                    out.len() - 1
                }
            };
            out[i].hosts.push(HostFacts {
                key,
                usage: u,
                public: public_space().contains(key.client),
                trusted: site.map(|s| s.trusted_for(key.client).is_some()),
                counted_elsewhere: u.proxied >= u.sessions.max(1) && direct.contains(&key.client),
            });
        }
        // Relay-capable connectors the logs never name: their silence is evidence too.
        for f in &facts.connectors {
            let c = f.connector;
            if out.iter().any(|x| same_identity(&x.identity, &c.identity)) {
                continue;
            }
            let cu = connector_usage(model, facts, Some(c), c.identity.clone());
            if cu.relay_capable {
                out.push(cu);
            }
        }
        for c in &mut out {
            c.narrower = narrower(c);
        }
        out.sort_by(|a, b| a.identity.cmp(&b.identity));
        UsageFacts {
            connectors: out,
            logs_read: true,
            domains_known: usage.domains_known,
        }
    }
}

fn connector_usage<'m>(
    model: &'m Model,
    facts: &Facts<'m>,
    connector: Option<&'m ReceiveConnector>,
    identity: String,
) -> ConnectorUsage<'m> {
    let server = connector
        .map(|c| c.server.clone())
        .filter(|s| !s.is_empty())
        .or_else(|| identity.split_once('\\').map(|(s, _)| s.to_string()))
        .unwrap_or_default();
    let relay_capable = connector.is_some_and(|c| {
        c.has_auth("ExternalAuthoritative")
            || facts.connector(&c.identity).is_some_and(|f| {
                !f.holds(&["anonymous"], "ms-Exch-SMTP-Accept-Any-Recipient")
                    .0
                    .is_empty()
            })
    });
    let window = model.usage.window(&server, LogKind::SmtpReceive);
    let retention = model
        .transport
        .iter()
        .filter(|t| super::site::same_server(&t.server, &server))
        .filter_map(|t| {
            let r = t.raw("ReceiveProtocolLogMaxAge")?;
            Some((
                t.receive_max_age_days?,
                t.src.file.clone(),
                r.line,
                r.value.clone(),
            ))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let days = window.map_or(0.0, |(a, b)| (b - a).max(0) as f64 / 86_400.0);
    ConnectorUsage {
        identity: connector.map(|c| c.identity.clone()).unwrap_or(identity),
        server,
        connector,
        src: connector.map(|c| c.src.clone()).unwrap_or(Source {
            file: std::sync::Arc::from(""),
            line: 0,
        }),
        hosts: Vec::new(),
        relay_capable,
        is_default: connector.is_some_and(ReceiveConnector::is_default),
        logging_off: connector.is_some_and(|c| {
            c.protocol_logging
                .as_deref()
                .is_some_and(|l| l.trim().eq_ignore_ascii_case("None"))
        }),
        window,
        days,
        retention_days: retention.as_ref().map_or(DEFAULT_RETENTION_DAYS, |r| r.0),
        retention_src: retention
            .map(|(_, file, line, value)| (Source { file, line }, value.to_string())),
        narrower: None,
    }
}

/// The hosts seen using a relay connector, when its ranges are much wider than that. Not for
/// default connectors (they serve the Internet; the fix there is to remove the relay right).
fn narrower(c: &ConnectorUsage<'_>) -> Option<Vec<IpAddr>> {
    let conn = c.connector?;
    if !c.relay_capable || c.is_default {
        return None;
    }
    let ranges: &IpSet = conn.ranges.as_ref()?;
    let users = c.users();
    if users.is_empty() {
        return None;
    }
    let n = users.len() as u128;
    (ranges.size() > 4 * n && ranges.size() >= n + 16).then_some(users)
}

/// What the logs show of a relay connector's use.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Observed {
    /// Hosts that sent through the connector (a recipient accepted), in its ranges.
    pub hosts: Vec<String>,
    /// The addresses the configuration allows that no log showed (ranges).
    pub unseen: Vec<String>,
    /// `2024-03-11T00:00:04Z to 2024-03-17T23:58:51Z (7.0 days)`, or why there is none.
    pub window: String,
    /// The export says ProtocolLoggingLevel None: the logs cannot show this connector's use.
    pub logging_off: bool,
    /// Days the server's receive logs cover.
    pub days: f64,
    /// The server's protocol-log retention in days (see [`ConnectorUsage::retention_days`]).
    pub retention_days: f64,
}

/// What the logs show of a connector: the hosts that used it, within its ranges, and the
/// allowed addresses no log showed.
pub fn observed(c: &ReceiveConnector, usage: &UsageFacts<'_>) -> Observed {
    let cu = usage
        .connectors
        .iter()
        .find(|x| crate::model::same_identity(&x.identity, &c.identity));
    let ranges = IpSet::from_ranges(super::selection::range_entries(c));
    let hosts: Vec<std::net::IpAddr> = cu
        .map(|x| x.users())
        .unwrap_or_default()
        .into_iter()
        .filter(|ip| ranges.contains(*ip))
        .collect();
    let seen = IpSet::from_ranges(
        hosts
            .iter()
            .filter_map(|ip| IpRange::parse(&ip.to_string()).ok()),
    );
    let window = cu
        .and_then(|x| x.window)
        .map(|(a, b)| {
            format!(
                "{} to {} ({:.1} days)",
                crate::model::usage::format_time(a),
                crate::model::usage::format_time(b),
                (b - a).max(0) as f64 / 86_400.0
            )
        })
        .unwrap_or_else(|| format!("no receive protocol log of {} was read", c.server));
    Observed {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        unseen: ranges
            .difference(&seen)
            .ranges()
            .iter()
            .map(|r| r.to_string())
            .collect(),
        window,
        logging_off: c
            .protocol_logging
            .as_deref()
            .is_some_and(|l| l.trim().eq_ignore_ascii_case("None")),
        days: cu.map_or(0.0, |x| x.days),
        retention_days: cu.map_or(DEFAULT_RETENTION_DAYS, |x| x.retention_days),
    }
}

/// What the logs show for one client address: per connector and identity, its sessions, the
/// recipients accepted inside and outside the accepted domains, and the replies.
pub fn log_notes(u: &crate::model::usage::Usage, client: std::net::IpAddr) -> Vec<String> {
    use crate::model::usage::format_time;
    if u.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<String> = u
        .hosts
        .iter()
        .filter(|(k, _)| k.client == client)
        .map(|(k, h)| {
            let replies: Vec<String> = h
                .replies
                .top()
                .iter()
                .take(4)
                .map(|(r, n)| format!("{r} x{n}"))
                .collect();
            let mut s = format!(
                "{} via {} ({}): {} sessions, {} to {}; recipients inside the accepted domains {} accepted / {} refused, outside {} accepted (relayed) / {} refused",
                client,
                k.connector,
                k.auth.label(),
                h.sessions.max(h.messages),
                format_time(h.first),
                format_time(h.last),
                h.local.accepted,
                h.local.refused,
                h.foreign.accepted,
                h.foreign.refused
            );
            if h.unclassified.accepted + h.unclassified.refused > 0 {
                s.push_str(&format!(
                    ", unclassified {} accepted / {} refused (no accepted domain exported)",
                    h.unclassified.accepted, h.unclassified.refused
                ));
            }
            if !h.relayed_samples.is_empty() {
                s.push_str(&format!("; relayed e.g. {}", h.relayed_samples.join(", ")));
            }
            if !replies.is_empty() {
                s.push_str(&format!("; RCPT replies {}", replies.join(", ")));
            }
            s
        })
        .collect();
    if out.is_empty() {
        let sets: Vec<String> = u
            .sets
            .iter()
            .filter(|s| s.first != 0)
            .map(|s| {
                format!(
                    "{} {} {} to {}",
                    s.server,
                    s.kind.as_str(),
                    format_time(s.first),
                    format_time(s.last)
                )
            })
            .collect();
        out.push(format!(
            "no log line shows {client} (logs read: {})",
            if sets.is_empty() {
                "none with a time".to_string()
            } else {
                sets.join("; ")
            }
        ));
    }
    out
}

/// One line of the usage table (`inventory`): a host on a connector, as the logs show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UsageRow {
    pub connector: String,
    /// The address, or `(Internet hosts …)` for a connector's shared aggregate.
    pub client: String,
    pub auth: String,
    pub log: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    pub sessions: u64,
    pub messages: u64,
    /// Recipients accepted inside the accepted domains.
    pub inside: u64,
    /// Recipients accepted outside them (relayed).
    pub relayed: u64,
    pub refused: u64,
    /// The connector lets hosts relay without authenticating.
    pub relay_connector: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted: Option<bool>,
    /// Seen here only through a proxy hop (the Hub after the FrontEnd, message tracking),
    /// and counted where the client connected.
    pub via_proxy: bool,
    pub first: String,
    pub last: String,
}

/// The usage table: every host on every connector the logs name, relaying hosts first.
pub fn usage_rows(usage: &UsageFacts<'_>) -> Vec<UsageRow> {
    use crate::model::usage::format_time;
    let mut rows: Vec<UsageRow> = usage
        .connectors
        .iter()
        .flat_map(|c| {
            c.hosts.iter().map(move |h| {
                let u = h.usage;
                UsageRow {
                    connector: c.identity.clone(),
                    client: if h.key.is_shared() {
                        "(Internet, shared)".into()
                    } else {
                        h.key.client.to_string()
                    },
                    auth: h.key.auth.label(),
                    log: h.key.log.as_str(),
                    helo: u.helo.top().first().map(|(n, _)| n.to_string()),
                    sessions: u.sessions,
                    messages: u.messages,
                    inside: u.local.accepted,
                    relayed: u.foreign.accepted,
                    refused: u.local.refused + u.foreign.refused + u.unclassified.refused,
                    relay_connector: c.relay_capable,
                    trusted: h.trusted,
                    via_proxy: h.counted_elsewhere || (u.proxied > 0 && u.proxied >= u.sessions),
                    first: format_time(u.first),
                    last: format_time(u.last),
                }
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.relayed
            .cmp(&a.relayed)
            .then(a.connector.cmp(&b.connector))
            .then(a.client.cmp(&b.client))
    });
    rows
}
