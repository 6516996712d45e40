//! The `usage` part of the report: what the SMTP logs show, per connector and host.

use crate::model::usage::{format_time, LogSet, Usage};
use serde::Serialize;

/// Relay usage per receive connector and client, and the windows the logs cover.
#[derive(Debug, Clone, Serialize)]
pub struct UsageReport {
    pub log_sets: Vec<LogSetReport>,
    /// Accepted domains were exported: recipients are split into inside and outside them.
    pub domains_known: bool,
    pub hosts: Vec<HostReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogSetReport {
    pub server: String,
    pub kind: &'static str,
    pub files: u64,
    pub lines: u64,
    pub sessions: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    pub days: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub accepted: u64,
    pub refused: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub connector: String,
    /// The log that showed it (`smtp-receive`, `message-tracking`, `iis-w3c`, ...).
    pub log: &'static str,
    pub client: String,
    /// `anonymous`, the account, or `unknown`.
    pub auth: String,
    pub sessions: u64,
    pub tls_sessions: u64,
    pub proxied: u64,
    pub messages: u64,
    pub helo: Vec<String>,
    pub sender_domains: Vec<(String, u64)>,
    /// Recipients inside the accepted domains.
    pub inside: Counts,
    /// Recipients outside them: accepted = relayed.
    pub outside: Counts,
    pub unclassified: Counts,
    pub relayed_domains: Vec<(String, u64)>,
    pub relayed_samples: Vec<String>,
    pub replies: Vec<(String, u64)>,
    pub first: String,
    pub last: String,
    pub file: String,
    pub line: u32,
}

fn set_report(s: &LogSet) -> LogSetReport {
    LogSetReport {
        server: s.server.clone(),
        kind: s.kind.as_str(),
        files: s.files,
        lines: s.lines,
        sessions: s.sessions,
        first: (s.first != 0).then(|| format_time(s.first)),
        last: (s.last != 0).then(|| format_time(s.last)),
        days: (s.days() * 10.0).round() / 10.0,
    }
}

impl UsageReport {
    /// `None` when no log was read.
    pub fn of(u: &Usage) -> Option<UsageReport> {
        if u.is_empty() {
            return None;
        }
        let pairs = |t: &crate::model::usage::Tally| -> Vec<(String, u64)> {
            let mut v: Vec<(String, u64)> = t
                .top()
                .into_iter()
                .map(|(k, n)| (k.to_string(), n))
                .collect();
            if t.other > 0 {
                v.push(("(others)".into(), t.other));
            }
            v
        };
        let hosts = u
            .hosts
            .iter()
            .map(|(k, h)| HostReport {
                connector: k.connector.to_string(),
                log: k.log.as_str(),
                client: if k.is_shared() {
                    "(Internet hosts delivering inside, counted together)".into()
                } else {
                    k.client.to_string()
                },
                auth: match &k.auth {
                    crate::model::usage::Auth::Unknown => "unknown".into(),
                    crate::model::usage::Auth::Continued => "continued".into(),
                    a => a.label(),
                },
                sessions: h.sessions,
                tls_sessions: h.tls_sessions,
                proxied: h.proxied,
                messages: h.messages,
                helo: h
                    .helo
                    .top()
                    .into_iter()
                    .map(|(k, _)| k.to_string())
                    .collect(),
                sender_domains: pairs(&h.sender_domains),
                inside: Counts {
                    accepted: h.local.accepted,
                    refused: h.local.refused,
                },
                outside: Counts {
                    accepted: h.foreign.accepted,
                    refused: h.foreign.refused,
                },
                unclassified: Counts {
                    accepted: h.unclassified.accepted,
                    refused: h.unclassified.refused,
                },
                relayed_domains: pairs(&h.relayed_domains),
                relayed_samples: h.relayed_samples.clone(),
                replies: pairs(&h.replies),
                first: format_time(h.first),
                last: format_time(h.last),
                file: h.seen.file.to_string(),
                line: h.seen.line,
            })
            .collect();
        let mut log_sets: Vec<LogSetReport> = u.sets.iter().map(set_report).collect();
        log_sets.sort_by(|a, b| a.server.cmp(&b.server).then(a.kind.cmp(b.kind)));
        Some(UsageReport {
            log_sets,
            domains_known: u.domains_known,
            hosts,
        })
    }
}
