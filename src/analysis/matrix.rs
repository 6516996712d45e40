//! The effective relay matrix (Exchange 2007+): per server, port and kind of session, the
//! exact set of client addresses that may relay, and through which connector and grant.
//!
//! For every listener (server, port, and local address: the wildcard bindings, plus each
//! address some connector binds specifically) the client address space is partitioned by
//! connector selection ([`partition`]: each address goes to the connector whose smallest
//! RemoteIPRanges entry contains it, exactly as [`crate::analysis::selection::select`]
//! decides). Within the part where connector X answers, a session of a given kind may relay
//! when X lets such a session exist (an authenticated user needs an authentication mechanism;
//! `ExternalAuthoritative` makes every session externally secured), the session holds
//! `ms-Exch-SMTP-Submit`, and it holds `ms-Exch-SMTP-Accept-Any-Recipient` (from an ACE, a
//! permission group or ExternalAuthoritative), or an accepted relay domain `*` makes every
//! recipient accepted so that Submit alone reaches any recipient.

use crate::analysis::permissions::{token, ConnectorFacts, Facts, Grant, Via};
use crate::analysis::selection::{self, binding_ip, binding_matches, on_server};
use crate::analysis::site::{same_server, server_key, Site};
use crate::model::ip_range::{IpRange, IpSet};
use crate::model::{AcceptedDomain, Ace, Model, ReceiveConnector};
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const SUBMIT: &str = "ms-Exch-SMTP-Submit";
pub const ANY_RECIPIENT: &str = "ms-Exch-SMTP-Accept-Any-Recipient";

/// The kinds of SMTP session the matrix distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    /// No authentication: `NT AUTHORITY\ANONYMOUS LOGON` (and Everyone).
    Anonymous,
    /// A user who authenticated (Basic or Integrated): `NT AUTHORITY\Authenticated Users`.
    AuthenticatedUser,
    /// Every client of a connector with `AuthMechanism ExternalAuthoritative`.
    ExternallySecured,
    /// A domain-secured (mutual TLS) partner: `MS Exchange\Partner Servers`.
    Partner,
}

impl PrincipalKind {
    pub const ALL: [PrincipalKind; 4] = [
        PrincipalKind::Anonymous,
        PrincipalKind::AuthenticatedUser,
        PrincipalKind::ExternallySecured,
        PrincipalKind::Partner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Anonymous => "anonymous",
            PrincipalKind::AuthenticatedUser => "authenticated-user",
            PrincipalKind::ExternallySecured => "externally-secured",
            PrincipalKind::Partner => "partner",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PrincipalKind::Anonymous => "anonymous",
            PrincipalKind::AuthenticatedUser => "authenticated user",
            PrincipalKind::ExternallySecured => "externally secured",
            PrincipalKind::Partner => "partner",
        }
    }

    /// The principal classes the session's token carries.
    pub fn classes(self) -> Vec<&'static str> {
        match self {
            PrincipalKind::Anonymous => token("anonymous"),
            PrincipalKind::AuthenticatedUser => token("authenticated-users"),
            PrincipalKind::ExternallySecured => vec!["externally-secured-servers"],
            PrincipalKind::Partner => vec!["partner-servers"],
        }
    }

    /// Whether a session of this kind can exist on `c`: `Ok(how)` or `Err(why not)`.
    pub fn session_on(self, c: &ReceiveConnector) -> Result<String, String> {
        let ext = c.has_auth("ExternalAuthoritative");
        let auth_known = c.auth_mechanism.is_some();
        match self {
            PrincipalKind::Anonymous if ext => Err(
                "AuthMechanism ExternalAuthoritative: every session is externally secured, none anonymous"
                    .into(),
            ),
            PrincipalKind::Anonymous => Ok("no authentication".into()),
            PrincipalKind::AuthenticatedUser if ext => Err(
                "AuthMechanism ExternalAuthoritative: every session is externally secured".into(),
            ),
            PrincipalKind::AuthenticatedUser => {
                if !auth_known {
                    return Ok("AuthMechanism was not exported: assumed to offer authentication".into());
                }
                let mut how = Vec::new();
                if c.has_auth("Integrated") {
                    how.push("Integrated (NTLM/Kerberos)");
                }
                let basic = c.has_auth("BasicAuth") || c.has_auth("BasicAuthRequireTLS");
                if basic && c.has_auth("BasicAuthRequireTLS") {
                    if c.has_auth("Tls") {
                        how.push("Basic after STARTTLS");
                    }
                } else if basic {
                    how.push("Basic (no TLS required)");
                }
                if how.is_empty() {
                    Err("AuthMechanism offers no user authentication (no Integrated, BasicAuth or BasicAuthRequireTLS with Tls)".into())
                } else {
                    Ok(format!("AUTH via {}", how.join(", ")))
                }
            }
            PrincipalKind::ExternallySecured if ext => Ok(
                "AuthMechanism ExternalAuthoritative: every client in RemoteIPRanges is trusted as an Exchange server, no authentication".into(),
            ),
            PrincipalKind::ExternallySecured => {
                Err("AuthMechanism has no ExternalAuthoritative".into())
            }
            PrincipalKind::Partner => {
                let domain_secure = c
                    .raw("DomainSecureEnabled")
                    .map(|r| r.value.trim().eq_ignore_ascii_case("true"));
                if auth_known && !c.has_auth("Tls") {
                    Err("AuthMechanism has no Tls: no domain-secured (mutual TLS) session".into())
                } else if domain_secure == Some(false) {
                    Err("DomainSecureEnabled is False: no domain-secured (mutual TLS) session".into())
                } else {
                    Ok("domain-secured mutual TLS".into())
                }
            }
        }
    }
}

/// A right as a session holds it on a connector.
#[derive(Debug, Clone)]
pub struct Held<'m> {
    pub right: &'static str,
    pub grants: Vec<Grant<'m>>,
    /// Deny entries that take it away (then `grants` is empty).
    pub denied_by: Vec<&'m Ace>,
}

impl Held<'_> {
    pub fn held(&self) -> bool {
        !self.grants.is_empty()
    }
}

/// What `kind` holds of `right` on the connector.
pub fn held<'m>(f: &ConnectorFacts<'m>, kind: PrincipalKind, right: &'static str) -> Held<'m> {
    let classes = kind.classes();
    let (grants, denied_by) = f.holds(&classes, right);
    Held {
        right,
        grants,
        denied_by,
    }
}

/// Accepted domains that make every recipient accepted: a relay domain `*`.
pub fn any_recipient_domains(model: &Model) -> Vec<&AcceptedDomain> {
    model
        .domains
        .iter()
        .filter(|d| d.domain_name.trim() == "*" && !is_authoritative(d))
        .collect()
}

fn is_authoritative(d: &AcceptedDomain) -> bool {
    d.domain_type
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case("Authoritative"))
}

/// Where one connector answers.
#[derive(Debug, Clone)]
pub struct Region<'m> {
    pub connector: &'m ReceiveConnector,
    pub addresses: IpSet,
}

/// The client address space of `server:port` (on local address `local`; `None`: an address no
/// connector binds specifically) partitioned by the connector that answers. Addresses no
/// connector answers are in no region.
pub fn partition<'m>(
    model: &'m Model,
    server: &str,
    port: u16,
    local: Option<IpAddr>,
) -> Vec<Region<'m>> {
    let conns: Vec<&'m ReceiveConnector> = model
        .connectors
        .iter()
        .filter(|c| on_server(c, server))
        .collect();
    partition_of(&conns, port, local)
}

/// [`partition`] over the connectors of one server (`conns`, already picked out).
fn partition_of<'m>(
    server_conns: &[&'m ReceiveConnector],
    port: u16,
    local: Option<IpAddr>,
) -> Vec<Region<'m>> {
    let samples: Vec<IpAddr> = match local {
        Some(l) if l.is_ipv4() => vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
        Some(_) => vec![IpAddr::V6(Ipv6Addr::UNSPECIFIED)],
        None => vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ],
    };
    let conns: Vec<&'m ReceiveConnector> = server_conns
        .iter()
        .copied()
        .filter(|c| c.enabled != Some(false))
        .collect();
    let mut won: Vec<IpSet> = vec![IpSet::new(); conns.len()];
    for sample in samples {
        // (entry size, wildcard binding, connector index, entry)
        let mut entries: Vec<(u128, bool, usize, IpRange)> = Vec::new();
        for (i, c) in conns.iter().enumerate() {
            let Some(b) = c
                .bindings
                .iter()
                .filter(|b| binding_matches(b, port, local, sample))
                .min_by_key(|b| binding_ip(b).is_some_and(|ip| ip.is_unspecified()))
            else {
                continue;
            };
            let wildcard = binding_ip(b).is_some_and(|ip| ip.is_unspecified());
            for r in selection::range_entries(c) {
                if r.is_v4() == sample.is_ipv4() {
                    entries.push((r.size(), wildcard, i, r));
                }
            }
        }
        entries.sort_by_key(|&(size, wildcard, i, _)| (size, wildcard, i));
        let mut remaining = IpSet::from(if sample.is_ipv4() {
            IpRange::ALL_V4
        } else {
            IpRange::ALL_V6
        });
        for (_, _, i, r) in entries {
            if remaining.is_empty() {
                break;
            }
            let piece = IpSet::from(r).intersection(&remaining);
            if piece.is_empty() {
                continue;
            }
            remaining = remaining.difference(&piece);
            won[i] = won[i].union(&piece);
        }
    }
    conns
        .into_iter()
        .zip(won)
        .filter(|(_, s)| !s.is_empty())
        .map(|(connector, addresses)| Region {
            connector,
            addresses,
        })
        .collect()
}

/// Why a kind of session may relay from some addresses through one connector.
#[derive(Debug, Clone)]
pub struct Access<'m> {
    pub connector: &'m ReceiveConnector,
    pub addresses: IpSet,
    /// The `ms-Exch-SMTP-Accept-Any-Recipient` grants (empty when only a relay domain `*`
    /// lets Submit reach every recipient).
    pub grants: Vec<Grant<'m>>,
    /// "Any recipient accepted via domain X": a relay domain `*`.
    pub any_recipient_domain: Option<&'m AcceptedDomain>,
    /// How the session exists on the connector (`no authentication`, `AUTH via ...`).
    pub session: String,
    /// Site remarks on these addresses.
    pub site_notes: Vec<String>,
}

/// Who of one kind may relay on one listener.
#[derive(Debug, Clone)]
pub struct Cell<'m> {
    pub kind: PrincipalKind,
    pub addresses: IpSet,
    pub parts: Vec<Access<'m>>,
}

/// One listening endpoint of a server.
#[derive(Debug, Clone)]
pub struct Listener<'m> {
    pub server: String,
    pub port: u16,
    /// `None`: the wildcard bindings (any local address no connector binds specifically).
    pub local: Option<IpAddr>,
    pub regions: Vec<Region<'m>>,
    /// One per [`PrincipalKind::ALL`], in that order.
    pub cells: Vec<Cell<'m>>,
    pub notes: Vec<String>,
}

impl<'m> Listener<'m> {
    pub fn cell(&self, kind: PrincipalKind) -> Option<&Cell<'m>> {
        self.cells.iter().find(|c| c.kind == kind)
    }
}

/// The relay matrix of a whole model.
#[derive(Debug, Clone)]
pub struct Matrix<'m> {
    pub listeners: Vec<Listener<'m>>,
    pub any_recipient_domains: Vec<&'m AcceptedDomain>,
    pub conflicts: Vec<selection::Conflict<'m>>,
    pub notes: Vec<String>,
}

impl<'m> Matrix<'m> {
    /// The listener `server:port` on the wildcard bindings.
    pub fn listener(&self, server: &str, port: u16) -> Option<&Listener<'m>> {
        self.listeners
            .iter()
            .find(|l| same_server(&l.server, server) && l.port == port && l.local.is_none())
    }
}

/// Every server named in the model (servers first, then servers only connectors name).
pub fn server_names(model: &Model) -> Vec<String> {
    let mut out: Vec<String> = model.servers.iter().map(|s| s.name.clone()).collect();
    let mut seen: std::collections::HashSet<String> = out.iter().map(|s| server_key(s)).collect();
    for c in &model.connectors {
        if !c.server.is_empty() && seen.insert(server_key(&c.server)) {
            out.push(c.server.clone());
        }
    }
    out
}

/// The connectors of each server, by [`server_key`], in model order.
pub fn connectors_by_server(model: &Model) -> HashMap<String, Vec<&ReceiveConnector>> {
    let mut by: HashMap<String, Vec<&ReceiveConnector>> = HashMap::new();
    for c in &model.connectors {
        by.entry(server_key(&c.server)).or_default().push(c);
    }
    by
}

/// Computes the matrix (with site remarks when a site file is given).
pub fn compute<'m>(model: &'m Model, site: Option<&Site>) -> Matrix<'m> {
    let facts = Facts::compute(model);
    let star = any_recipient_domains(model);
    let mut listeners = Vec::new();
    let mut notes = Vec::new();
    for d in &star {
        notes.push(format!(
            "accepted domain {} ({} `*`, {}:{}) accepts every recipient: wherever a session may submit, it relays to any recipient",
            d.identity,
            d.domain_type.as_deref().unwrap_or("relay"),
            d.src.file,
            d.src.line
        ));
    }
    let by_server = connectors_by_server(model);
    for server in server_names(model) {
        let all: &[&ReceiveConnector] = by_server
            .get(&server_key(&server))
            .map_or(&[], Vec::as_slice);
        let conns: Vec<&ReceiveConnector> = all
            .iter()
            .copied()
            .filter(|c| c.enabled != Some(false))
            .collect();
        let mut ports: Vec<u16> = conns
            .iter()
            .flat_map(|c| c.bindings.iter().map(|b| b.port))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        for port in ports {
            let mut scopes: Vec<Option<IpAddr>> = vec![None];
            let mut specific: Vec<IpAddr> = conns
                .iter()
                .flat_map(|c| c.bindings.iter())
                .filter(|b| b.port == port)
                .filter_map(binding_ip)
                .filter(|ip| !ip.is_unspecified())
                .collect();
            specific.sort();
            specific.dedup();
            scopes.extend(specific.into_iter().map(Some));
            for local in scopes {
                let regions = partition_of(all, port, local);
                if regions.is_empty() {
                    continue;
                }
                listeners.push(listener(&facts, &server, port, local, regions, &star, site));
            }
        }
    }
    Matrix {
        listeners,
        any_recipient_domains: star,
        conflicts: selection::conflicts(model),
        notes,
    }
}

fn listener<'m>(
    facts: &Facts<'m>,
    server: &str,
    port: u16,
    local: Option<IpAddr>,
    regions: Vec<Region<'m>>,
    star: &[&'m AcceptedDomain],
    site: Option<&Site>,
) -> Listener<'m> {
    let mut notes = Vec::new();
    for r in &regions {
        if !selection::ranges_complete(r.connector) {
            notes.push(format!(
                "RemoteIPRanges of {} are not completely exported: the partition is a lower bound for it",
                r.connector.identity
            ));
        }
        if let Some(f) = facts.connector(&r.connector.identity) {
            if !f.permissions_exported() {
                notes.push(format!(
                    "no Get-ADPermission entries of {} were exported: only its permission groups and AuthMechanism are known",
                    r.connector.identity
                ));
            }
        }
    }
    let mut cells = Vec::new();
    for kind in PrincipalKind::ALL {
        let mut parts = Vec::new();
        for r in &regions {
            let Some(f) = facts.connector(&r.connector.identity) else {
                continue;
            };
            let Ok(session) = kind.session_on(r.connector) else {
                continue;
            };
            if !held(f, kind, SUBMIT).held() {
                continue;
            }
            let aar = held(f, kind, ANY_RECIPIENT);
            let (grants, domain) = if aar.held() {
                (aar.grants, None)
            } else if let Some(d) = star.first() {
                (vec![], Some(*d))
            } else {
                continue;
            };
            let what = format!("relay connector {}", r.connector.identity);
            // Relay after authentication is normal; the site's word matters where no
            // account is needed.
            let no_account = matches!(
                kind,
                PrincipalKind::Anonymous | PrincipalKind::ExternallySecured
            );
            let site_notes = site
                .filter(|_| no_account)
                .map(|s| s.relay_notes(&r.addresses, server, port, &what))
                .unwrap_or_default();
            parts.push(Access {
                connector: r.connector,
                addresses: r.addresses.clone(),
                grants,
                any_recipient_domain: domain,
                session,
                site_notes,
            });
        }
        let addresses = parts
            .iter()
            .fold(IpSet::new(), |acc, p| acc.union(&p.addresses));
        cells.push(Cell {
            kind,
            addresses,
            parts,
        });
    }
    Listener {
        server: server.to_string(),
        port,
        local,
        regions,
        cells,
        notes,
    }
}

// ---------------------------------------------------------------------------------------------
// Owned, serializable form (JSON output of `inventory`, and the text writer)
// ---------------------------------------------------------------------------------------------

/// How a right is granted, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantOut {
    /// `ace`, `permission-group` or `externally-secured`.
    pub via: &'static str,
    /// One line for people.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// An ACE no permission group accounts for (added with Add-ADPermission).
    pub explicit: bool,
}

/// A grant of `right` on connector `c`, for reports.
pub fn grant_out(g: &Grant<'_>, c: &ReceiveConnector, right: &str) -> GrantOut {
    match &g.via {
        Via::Ace(a) => GrantOut {
            via: "ace",
            text: format!(
                "ACE {} allow {right} ({}:{}){}",
                a.user,
                a.src.file,
                a.src.line,
                if g.explained_by_group {
                    ", part of a permission group"
                } else {
                    ", added by hand: no permission group accounts for it"
                }
            ),
            user: Some(a.user.clone()),
            group: None,
            file: Some(a.src.file.to_string()),
            line: Some(a.src.line),
            explicit: !g.explained_by_group,
        },
        Via::Group(name) => {
            let raw = c.raw("PermissionGroups");
            let raw = raw.as_ref();
            GrantOut {
                via: "permission-group",
                text: format!(
                    "permission group {name} (PermissionGroups {}{})",
                    raw.map(|r| r.value.as_ref()).unwrap_or("?"),
                    raw.map(|r| format!(", {}:{}", c.src.file, r.line))
                        .unwrap_or_default()
                ),
                user: None,
                group: Some(name.to_string()),
                file: Some(c.src.file.to_string()),
                line: raw.map(|r| r.line),
                explicit: false,
            }
        }
        Via::ExternallySecured => {
            let raw = c.raw("AuthMechanism");
            let raw = raw.as_ref();
            GrantOut {
                via: "externally-secured",
                text: format!(
                    "AuthMechanism ExternalAuthoritative ({}{})",
                    raw.map(|r| r.value.as_ref()).unwrap_or("?"),
                    raw.map(|r| format!(", {}:{}", c.src.file, r.line))
                        .unwrap_or_default()
                ),
                user: None,
                group: None,
                file: Some(c.src.file.to_string()),
                line: raw.map(|r| r.line),
                explicit: false,
            }
        }
    }
}

/// A deny entry, for reports.
pub fn deny_out(a: &Ace, right: &str) -> GrantOut {
    GrantOut {
        via: "ace",
        text: format!(
            "ACE {} deny {right} ({}:{})",
            a.user, a.src.file, a.src.line
        ),
        user: Some(a.user.clone()),
        group: None,
        file: Some(a.src.file.to_string()),
        line: Some(a.src.line),
        explicit: true,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionOut {
    pub connector: String,
    pub addresses: IpSet,
    pub count: u128,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartOut {
    pub connector: String,
    pub addresses: IpSet,
    pub count: u128,
    pub public_count: u128,
    pub session: String,
    /// The Accept-Any-Recipient grants.
    pub grants: Vec<GrantOut>,
    /// "any recipient accepted via domain X".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any_recipient_domain: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub site_notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CellOut {
    pub principal: &'static str,
    pub addresses: IpSet,
    pub count: u128,
    pub public_count: u128,
    pub via: Vec<PartOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListenerOut {
    pub server: String,
    pub port: u16,
    /// The local address, or null for the wildcard bindings.
    pub local: Option<String>,
    /// Where each connector answers.
    pub connectors: Vec<RegionOut>,
    /// Who may relay, per kind of session.
    pub relay: Vec<CellOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatrixOut {
    pub listeners: Vec<ListenerOut>,
    pub any_recipient_domains: Vec<String>,
    pub conflicts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Matrix<'_> {
    /// The owned, serializable form.
    pub fn report(&self) -> MatrixOut {
        MatrixOut {
            listeners: self
                .listeners
                .iter()
                .map(|l| ListenerOut {
                    server: l.server.clone(),
                    port: l.port,
                    local: l.local.map(|a| a.to_string()),
                    connectors: l
                        .regions
                        .iter()
                        .map(|r| RegionOut {
                            connector: r.connector.identity.clone(),
                            count: r.addresses.size(),
                            addresses: r.addresses.clone(),
                        })
                        .collect(),
                    relay: l
                        .cells
                        .iter()
                        .map(|c| CellOut {
                            principal: c.kind.as_str(),
                            count: c.addresses.size(),
                            public_count: c.addresses.public_count(),
                            addresses: c.addresses.clone(),
                            via: c
                                .parts
                                .iter()
                                .map(|p| PartOut {
                                    connector: p.connector.identity.clone(),
                                    count: p.addresses.size(),
                                    public_count: p.addresses.public_count(),
                                    addresses: p.addresses.clone(),
                                    session: p.session.clone(),
                                    grants: p
                                        .grants
                                        .iter()
                                        .map(|g| grant_out(g, p.connector, ANY_RECIPIENT))
                                        .collect(),
                                    any_recipient_domain: p.any_recipient_domain.map(|d| {
                                        format!(
                                            "any recipient accepted via domain {} ({} {})",
                                            d.identity,
                                            d.domain_type.as_deref().unwrap_or("relay"),
                                            d.domain_name
                                        )
                                    }),
                                    site_notes: p.site_notes.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                    notes: l.notes.clone(),
                })
                .collect(),
            any_recipient_domains: self
                .any_recipient_domains
                .iter()
                .map(|d| d.identity.clone())
                .collect(),
            conflicts: self.conflicts.iter().map(|c| c.message.clone()).collect(),
            notes: self.notes.clone(),
        }
    }
}

/// `N addresses, M public` with the whole-space cases named.
pub fn describe_count(set: &IpSet) -> String {
    let mut parts = Vec::new();
    if set.covers_all_v4() {
        parts.push("all of IPv4".to_string());
    } else if set.size_v4() > 0 {
        parts.push(format!("{} IPv4", set.size_v4()));
    }
    if set.covers_all_v6() {
        parts.push("all of IPv6".to_string());
    } else if set.size_v6() > 0 {
        parts.push(format!("{} IPv6", set.size_v6()));
    }
    let public = set.public();
    let p = if public.is_empty() {
        "none public".to_string()
    } else if set.covers_all() {
        "the whole Internet".to_string()
    } else {
        format!("{} public", public.size())
    };
    format!("{} addresses, {p}", parts.join(" + "))
}

/// The matrix as text (for `inventory`).
pub fn write_text(m: &MatrixOut, out: &mut String) {
    use std::fmt::Write;
    for l in &m.listeners {
        let where_ = match &l.local {
            Some(a) => format!("{}:{} (clients connecting to {a})", l.server, l.port),
            None => format!("{}:{}", l.server, l.port),
        };
        let _ = writeln!(out, "  {where_}");
        let answer: Vec<String> = l
            .connectors
            .iter()
            .map(|r| {
                format!(
                    "{} ← {}",
                    r.connector,
                    crate::analysis::site::abbreviate(&r.addresses, 4)
                )
            })
            .collect();
        for a in answer {
            let _ = writeln!(out, "    answers: {a}");
        }
        for c in &l.relay {
            if c.via.is_empty() {
                let _ = writeln!(out, "    {:<20} nobody", c.principal);
                continue;
            }
            let _ = writeln!(
                out,
                "    {:<20} {}  ({})",
                c.principal,
                crate::analysis::site::abbreviate(&c.addresses, 8),
                describe_count(&c.addresses)
            );
            for p in &c.via {
                let _ = writeln!(
                    out,
                    "      via {} [{}]: {}",
                    p.connector,
                    p.session,
                    crate::analysis::site::abbreviate(&p.addresses, 8)
                );
                for g in &p.grants {
                    let _ = writeln!(out, "        {}", g.text);
                }
                if let Some(d) = &p.any_recipient_domain {
                    let _ = writeln!(out, "        {d} (Submit is enough)");
                }
                for n in &p.site_notes {
                    let _ = writeln!(out, "        ! {n}");
                }
            }
        }
        for n in &l.notes {
            let _ = writeln!(out, "    note: {n}");
        }
    }
    for c in &m.conflicts {
        let _ = writeln!(out, "  conflict: {c}");
    }
    for n in &m.notes {
        let _ = writeln!(out, "  note: {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::selection::tests::{conn, model};
    use crate::model::principal::Principal;
    use crate::model::{Grant, Raw, Source};
    use std::sync::Arc;

    fn anon_relay_ace(identity: &str) -> Ace {
        let mut grant = Grant::new(
            "NT AUTHORITY\\ANONYMOUS LOGON",
            Principal::Anonymous,
            &[ANY_RECIPIENT],
            false,
        );
        grant.access_rights = vec!["ExtendedRight".into()];
        Ace::new(
            Some(identity),
            grant,
            Source {
                file: Arc::from("perms.xml"),
                line: 7,
            },
        )
    }

    #[test]
    fn partition_follows_selection() {
        let m = model();
        let regions = partition(&m, "EX01", 25, None);
        let relay = regions
            .iter()
            .find(|r| r.connector.name == "Relay EX01")
            .unwrap();
        assert_eq!(
            relay.addresses.to_string(),
            "10.1.1.25, 10.2.0.0/24, 10.9.9.9"
        );
        let df = regions
            .iter()
            .find(|r| r.connector.name == "Default Frontend EX01")
            .unwrap();
        assert!(!df.addresses.contains("10.1.1.25".parse().unwrap()));
        assert!(df.addresses.contains("10.1.1.26".parse().unwrap()));
        assert!(df.addresses.covers_all_v6());
        // Every address is answered by exactly one connector here.
        let all = regions
            .iter()
            .fold(IpSet::new(), |a, r| a.union(&r.addresses));
        assert_eq!(all, IpSet::all());
    }

    #[test]
    fn anonymous_relay_set_is_the_relay_connectors_part() {
        let mut m = model();
        m.aces.push(anon_relay_ace("EX01\\Relay EX01"));
        let mx = compute(&m, None);
        let l = mx.listener("EX01", 25).unwrap();
        let anon = l.cell(PrincipalKind::Anonymous).unwrap();
        assert_eq!(
            anon.addresses.to_string(),
            "10.1.1.25, 10.2.0.0/24, 10.9.9.9"
        );
        assert_eq!(anon.addresses.public_count(), 0);
        assert!(matches!(anon.parts[0].grants[0].via, Via::Ace(_)));
        assert!(l
            .cell(PrincipalKind::ExternallySecured)
            .unwrap()
            .addresses
            .is_empty());
        // Default Frontend offers Integrated/Basic but its groups give users no relay right.
        assert!(l
            .cell(PrincipalKind::AuthenticatedUser)
            .unwrap()
            .addresses
            .is_empty());
        let l587 = mx.listener("EX01", 587).unwrap();
        let users = l587.cell(PrincipalKind::AuthenticatedUser).unwrap();
        assert!(users.addresses.covers_all_v4());
    }

    #[test]
    fn externally_secured_and_star_domains() {
        let mut m = model();
        m.connectors[1].auth_mechanism =
            Some(vec!["Tls".into(), "ExternalAuthoritative".into()].into());
        m.connectors[1].permission_groups = Some(vec!["ExchangeServers".into()].into());
        m.domains.push(AcceptedDomain {
            identity: "Relay Everything".into(),
            domain_name: "*".into(),
            domain_type: Some("InternalRelay".into()),
            default: Some(false),
            src: Source {
                file: Arc::from("dom.xml"),
                line: 3,
            },
            raw: vec![Raw {
                name: "DomainName",
                value: "*".into(),
                line: 4,
                truncated: false,
            }],
        });
        let mx = compute(&m, None);
        let l = mx.listener("EX01", 25).unwrap();
        let ext = l.cell(PrincipalKind::ExternallySecured).unwrap();
        assert_eq!(
            ext.addresses.to_string(),
            "10.1.1.25, 10.2.0.0/24, 10.9.9.9"
        );
        // Anonymous Submit on Default Frontend + `*` = relay from everywhere else.
        let anon = l.cell(PrincipalKind::Anonymous).unwrap();
        assert!(anon.addresses.covers_all_v6());
        assert!(!anon.addresses.contains("10.1.1.25".parse().unwrap()));
        assert!(anon.parts[0].any_recipient_domain.is_some());
        let out = mx.report();
        assert_eq!(out.any_recipient_domains, vec!["Relay Everything"]);
    }

    #[test]
    fn site_nat_is_called_out() {
        let mut m = model();
        m.aces.push(anon_relay_ace("EX01\\Relay EX01"));
        let site = Site::parse(
            "[[nat]]\naddress = \"10.9.9.9\"\ndescription = \"F5 SNAT\"\n",
            "site.toml",
        )
        .unwrap();
        let mx = compute(&m, Some(&site));
        let anon = mx
            .listener("EX01", 25)
            .unwrap()
            .cell(PrincipalKind::Anonymous)
            .unwrap();
        assert!(anon.parts[0].site_notes[0].contains("10.9.9.9 is a NAT"));
        let mut text = String::new();
        write_text(&mx.report(), &mut text);
        assert!(text.contains("open to the Internet"), "{text}");
    }

    #[test]
    fn specific_bindings_get_their_own_listener() {
        let mut m = model();
        m.connectors.push(conn(
            "EX01",
            "Apps",
            &["10.0.0.21:25"],
            &["0.0.0.0-255.255.255.255"],
            &["AnonymousUsers"],
            &["Tls"],
        ));
        let mx = compute(&m, None);
        let l = mx
            .listeners
            .iter()
            .find(|l| l.local == Some("10.0.0.21".parse().unwrap()))
            .unwrap();
        let apps = l
            .regions
            .iter()
            .find(|r| r.connector.name == "Apps")
            .unwrap();
        // Relay EX01's entries are more specific than Apps' 0.0.0.0/0.
        assert!(!apps.addresses.contains("10.1.1.25".parse().unwrap()));
        assert!(apps.addresses.contains("203.0.113.9".parse().unwrap()));
        // IPv6 is not served on that local address.
        assert!(!l.regions.iter().any(|r| r.addresses.size_v6() > 0));
    }
}
