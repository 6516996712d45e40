//! Predicates on what the SMTP logs show about a connector (object `relay-usage`).

use super::{holds_bool, Cond, Evidence};
use crate::analysis::usage::{ConnectorUsage, HostFacts};
use crate::model::usage::Auth;
use serde::Deserialize;

/// Which relaying hosts a `relayed` predicate asks about.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayedSpec {
    /// `anonymous`, `authenticated`, `unknown` (the log cannot tell: IIS logs, a session whose
    /// start is in another file), or a list of them; absent: any.
    #[serde(default)]
    pub auth: Option<super::Principals>,
    /// `public` (globally routable), `private`, or `any` (the default).
    #[serde(default)]
    pub client: Option<String>,
    /// With a site file: the host is (true) or is not (false) a trusted relay host. Without a
    /// site file a predicate with `trusted` never holds.
    #[serde(default)]
    pub trusted: Option<bool>,
}

impl RelayedSpec {
    pub(super) fn validate(&self, problems: &mut Vec<(String, String)>) {
        if let Some(a) = &self.auth {
            for x in a.list() {
                if !["anonymous", "authenticated", "unknown"].contains(&x) {
                    problems.push((
                        format!(
                            "relayed.auth must be anonymous, authenticated or unknown, found `{x}`"
                        ),
                        x.to_string(),
                    ));
                }
            }
        }
        if let Some(c) = &self.client {
            if !["public", "private", "any"].contains(&c.as_str()) {
                problems.push((
                    format!("relayed.client must be public, private or any, found `{c}`"),
                    c.clone(),
                ));
            }
        }
    }

    fn matches(&self, h: &HostFacts<'_>) -> bool {
        if !h.relayed() {
            return false;
        }
        let auth_ok = self.auth.as_ref().is_none_or(|a| {
            a.list().iter().any(|x| {
                matches!(
                    (*x, &h.key.auth),
                    ("anonymous", Auth::Anonymous)
                        | ("unknown", Auth::Unknown)
                        | ("authenticated", Auth::Account(_))
                )
            })
        });
        let client_ok = match self.client.as_deref() {
            Some("public") => h.public,
            Some("private") => !h.public,
            _ => true,
        };
        let trusted_ok = match self.trusted {
            None => true,
            Some(want) => h.trusted == Some(want),
        };
        auth_ok && client_ok && trusted_ok
    }
}

fn host_evidence(h: &HostFacts<'_>) -> Evidence {
    let at = h.usage.relayed_at.as_ref().unwrap_or(&h.usage.seen);
    Evidence {
        property: format!("relayed from {}", h.key.client),
        value: h.describe(),
        file: at.file.to_string(),
        line: Some(at.line),
    }
}

/// The hosts a `relayed` predicate matches on the connector.
pub(crate) fn relayed_hosts<'a>(
    spec: &RelayedSpec,
    c: &'a ConnectorUsage<'_>,
) -> Vec<&'a HostFacts<'a>> {
    c.hosts.iter().filter(|h| spec.matches(h)).collect()
}

fn window_text(c: &ConnectorUsage<'_>) -> String {
    match c.window {
        Some((a, b)) => format!(
            "{} to {} ({:.1} days)",
            crate::model::usage::format_time(a),
            crate::model::usage::format_time(b),
            c.days
        ),
        None => "no receive protocol log of this server".into(),
    }
}

fn config_evidence(c: &ConnectorUsage<'_>, property: &str) -> Evidence {
    match c.connector {
        Some(conn) => match conn.raw(property) {
            Some(r) => Evidence {
                property: r.name.to_string(),
                value: r.value.to_string(),
                file: conn.src.file.to_string(),
                line: Some(r.line),
            },
            None => Evidence {
                property: property.to_string(),
                value: "(not in the export)".into(),
                file: conn.src.file.to_string(),
                line: Some(conn.src.line),
            },
        },
        None => Evidence {
            property: property.to_string(),
            value: "(connector not in the export)".into(),
            file: String::new(),
            line: None,
        },
    }
}

pub(super) fn eval_usage(cond: &Cond, c: &ConnectorUsage<'_>) -> Option<Vec<Evidence>> {
    match cond {
        Cond::Relayed(spec) => {
            let hosts = relayed_hosts(spec, c);
            (!hosts.is_empty()).then(|| hosts.into_iter().map(host_evidence).collect())
        }
        Cond::RelayCapable(want) => holds_bool(*want, c.relay_capable, Vec::new),
        Cond::RangesWiderThanUse(want) => holds_bool(*want, c.narrower.is_some(), || {
            let mut ev = vec![config_evidence(c, "RemoteIPRanges")];
            ev.extend(
                c.hosts
                    .iter()
                    .filter(|h| h.usage.accepted() > 0)
                    .map(|h| Evidence {
                        property: format!("used by {}", h.key.client),
                        value: format!(
                            "{} sessions, {} recipients accepted ({})",
                            h.usage.sessions.max(h.usage.messages),
                            h.usage.accepted(),
                            h.key.auth.label()
                        ),
                        file: h.usage.seen.file.to_string(),
                        line: Some(h.usage.seen.line),
                    }),
            );
            ev
        }),
        Cond::UsageLoggingOff(want) => holds_bool(*want, c.logging_off, || {
            vec![config_evidence(c, "ProtocolLoggingLevel")]
        }),
        Cond::UsageWindowShort(want) => holds_bool(*want, c.days < c.retention_days, || {
            let mut ev = Vec::new();
            if let Some((src, value)) = &c.retention_src {
                ev.push(Evidence {
                    property: "ReceiveProtocolLogMaxAge".into(),
                    value: value.clone(),
                    file: src.file.to_string(),
                    line: Some(src.line),
                });
            }
            ev.push(Evidence {
                property: format!("receive protocol logs of {}", c.server),
                value: window_text(c),
                file: c
                    .hosts
                    .first()
                    .map(|h| h.usage.seen.file.to_string())
                    .unwrap_or_default(),
                line: None,
            });
            ev
        }),
        Cond::UsageDomainsUnknown(want) => {
            let n: u64 = c.hosts.iter().map(|h| h.usage.unclassified.accepted).sum();
            holds_bool(*want, n > 0, || {
                vec![Evidence {
                    property: "recipients not classified".into(),
                    value: format!(
                        "{n} accepted recipients: no accepted domain was exported, so relay cannot be told from delivery"
                    ),
                    file: c
                        .hosts
                        .first()
                        .map(|h| h.usage.seen.file.to_string())
                        .unwrap_or_default(),
                    line: c.hosts.first().map(|h| h.usage.seen.line),
                }]
            })
        }
        _ => None,
    }
}

/// The message values of a relay-usage finding.
pub(crate) fn vars(c: &ConnectorUsage<'_>, key: &str) -> Option<String> {
    let list = |v: Vec<String>| (!v.is_empty()).then(|| v.join(", "));
    match key {
        "object" => Some(c.identity.clone()),
        "server" => (!c.server.is_empty()).then(|| c.server.clone()),
        "window" => Some(window_text(c)),
        "days" => Some(format!("{:.1}", c.days)),
        "retention" => Some(match &c.retention_src {
            Some((_, v)) => format!(
                "{:.0} days (ReceiveProtocolLogMaxAge {v})",
                c.retention_days
            ),
            None => format!(
                "{:.0} days (Exchange's default: no Get-TransportService in the export)",
                c.retention_days
            ),
        }),
        "relayed_public" => list(
            c.relaying()
                .filter(|h| h.public && !matches!(h.key.auth, Auth::Account(_)))
                .map(|h| h.key.client.to_string())
                .collect(),
        ),
        "relayed_untrusted" => list(
            c.relaying()
                .filter(|h| h.trusted == Some(false) && !matches!(h.key.auth, Auth::Account(_)))
                .map(|h| h.key.client.to_string())
                .collect(),
        ),
        "relayed_count" => Some(
            c.relaying()
                .filter(|h| !matches!(h.key.auth, Auth::Account(_)))
                .map(|h| h.usage.relayed())
                .sum::<u64>()
                .to_string(),
        ),
        "observed" => c
            .narrower
            .as_ref()
            .and_then(|v| list(v.iter().map(|ip| ip.to_string()).collect())),
        "observed_count" => c.narrower.as_ref().map(|v| v.len().to_string()),
        "addresses" => c
            .connector
            .and_then(|x| x.ranges.as_ref())
            .map(|r| r.size().to_string()),
        "ProtocolLoggingLevel" => c
            .connector
            .and_then(|x| x.raw("ProtocolLoggingLevel"))
            .map(|r| r.value.to_string()),
        _ => c
            .connector
            .and_then(|x| x.raw(key))
            .map(|r| r.value.to_string()),
    }
}
