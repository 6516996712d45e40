//! Connector selection (Exchange 2007+): which receive connector answers a client.
//!
//! A client that opens a TCP session to `local:port` of a server is answered by one of the
//! server's **enabled** receive connectors:
//!
//! 1. its `Bindings` include `port` on an address that matches the local address
//!    (`0.0.0.0` / `[::]` match every local address of their family; without a local address
//!    only those wildcard bindings are considered: the client is assumed to connect to an
//!    address that no connector binds specifically);
//! 2. one of its `RemoteIPRanges` entries contains the client;
//! 3. the most specific match wins: the connector whose matching entry is the smallest
//!    (a single address beats a /24 beats `0.0.0.0-255.255.255.255`); among equal entries a
//!    binding to the specific local address beats a wildcard binding (relay-audit's reading;
//!    Exchange refuses two connectors with the same binding and an identical range, see
//!    [`conflicts`]).
//!
//! IPv4 and IPv6 are separate: an IPv4 client reaches IPv4 bindings and matches IPv4 entries.
//! Entries are compared as exported (one `RemoteIPRanges` item each), not merged: adjacent
//! entries `10.1.1.25` and `10.1.1.26` are two single-address entries, not one range of two.

use crate::analysis::site::same_server;
use crate::model::ip_range::{IpRange, IpSet};
use crate::model::{Binding, Model, ReceiveConnector};
use serde::Serialize;
use std::net::IpAddr;

/// The `RemoteIPRanges` entries of a connector, one per exported item (duplicates removed),
/// in export order. Falls back to the normalized set when the raw text is not available.
pub fn range_entries(c: &ReceiveConnector) -> Vec<IpRange> {
    let mut out: Vec<IpRange> = Vec::new();
    if let Some(raw) = c.raw("RemoteIPRanges") {
        for part in raw.value.split([',', ';']) {
            let p = part.trim().trim_end_matches("...").trim();
            if p.is_empty() {
                continue;
            }
            if let Ok(r) = IpRange::parse(p) {
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
    }
    if out.is_empty() {
        if let Some(set) = &c.ranges {
            out = set.ranges();
        }
    }
    out
}

/// Whether the connector's `RemoteIPRanges` were exported completely.
pub fn ranges_complete(c: &ReceiveConnector) -> bool {
    c.ranges.is_some()
        && c.bad_ranges.is_empty()
        && !c.raw("RemoteIPRanges").is_some_and(|r| r.truncated)
}

/// The local address of a binding; `None` for an address that does not parse.
pub fn binding_ip(b: &Binding) -> Option<IpAddr> {
    let a = b.address.trim();
    if a.is_empty() {
        return Some(IpAddr::from([0u8, 0, 0, 0]));
    }
    a.parse().ok()
}

/// `0.0.0.0` or `::`: every local address of the family.
pub fn is_wildcard(ip: IpAddr) -> bool {
    ip.is_unspecified()
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// Whether binding `b` listens where a client of family `client` connecting to `local:port`
/// arrives (`local` `None`: any address no connector binds specifically, i.e. wildcard
/// bindings only).
pub fn binding_matches(b: &Binding, port: u16, local: Option<IpAddr>, client: IpAddr) -> bool {
    let Some(ip) = binding_ip(b) else {
        return false;
    };
    if b.port != port || !same_family(ip, client) {
        return false;
    }
    match local {
        None => is_wildcard(ip),
        Some(l) => same_family(l, client) && (is_wildcard(ip) || ip == l),
    }
}

/// Whether the connector belongs to `server`.
pub fn on_server(c: &ReceiveConnector, server: &str) -> bool {
    same_server(&c.server, server)
}

/// Why a connector did or did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// It answers the client.
    Won,
    /// It matches, but another connector's entry is more specific.
    LessSpecific,
    /// It matches exactly as specifically as the winner (a configuration Exchange refuses).
    Tied,
    /// It listens on the port, but no RemoteIPRanges entry contains the client.
    NotInRanges,
    /// It listens on the port, but its RemoteIPRanges were not (completely) exported.
    RangesUnknown,
    /// It listens on the port only on another local address.
    OtherLocalAddress,
    /// It does not listen on the port (for the client's address family).
    OtherPort,
    /// `Enabled` is false.
    Disabled,
}

impl Status {
    /// How close the connector came to answering (0 = it answers).
    pub fn rank(self) -> u8 {
        match self {
            Status::Won => 0,
            Status::Tied => 1,
            Status::LessSpecific => 2,
            Status::RangesUnknown => 3,
            Status::NotInRanges => 4,
            Status::OtherLocalAddress => 5,
            Status::OtherPort => 6,
            Status::Disabled => 7,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Won => "won",
            Status::LessSpecific => "less-specific",
            Status::Tied => "tied",
            Status::NotInRanges => "not-in-ranges",
            Status::RangesUnknown => "ranges-unknown",
            Status::OtherLocalAddress => "other-local-address",
            Status::OtherPort => "other-port",
            Status::Disabled => "disabled",
        }
    }
}

/// One connector of the server and how it fared.
#[derive(Debug, Clone)]
pub struct Candidate<'m> {
    pub connector: &'m ReceiveConnector,
    pub status: Status,
    /// The binding the client arrives on (when it listens there).
    pub binding: Option<Binding>,
    /// The most specific entry that contains the client.
    pub matched: Option<IpRange>,
    /// One sentence: why it won or lost.
    pub reason: String,
}

/// The answer to "which connector answers this client".
#[derive(Debug, Clone)]
pub struct Selection<'m> {
    pub server: String,
    pub client: IpAddr,
    pub port: u16,
    pub local: Option<IpAddr>,
    /// Every connector of the server, the winner first, then by [`Status::rank`] (export order
    /// within a rank).
    pub candidates: Vec<Candidate<'m>>,
    /// Remarks (ties, incomplete exports, an unknown server).
    pub notes: Vec<String>,
}

impl<'m> Selection<'m> {
    /// The connector that answers, if any.
    pub fn winner(&self) -> Option<&Candidate<'m>> {
        self.candidates.iter().find(|c| c.status == Status::Won)
    }
}

fn list_bindings(c: &ReceiveConnector) -> String {
    if c.bindings.is_empty() {
        return "no bindings exported".into();
    }
    c.bindings
        .iter()
        .map(fmt_binding)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `0.0.0.0:25`, `[::]:25`.
pub fn fmt_binding(b: &Binding) -> String {
    if b.address.contains(':') {
        format!("[{}]:{}", b.address, b.port)
    } else {
        format!("{}:{}", b.address, b.port)
    }
}

fn list_entries(c: &ReceiveConnector) -> String {
    let e = range_entries(c);
    if e.is_empty() {
        return "none exported".into();
    }
    let mut s = e
        .iter()
        .take(8)
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if e.len() > 8 {
        s.push_str(&format!(", … ({} more)", e.len() - 8));
    }
    s
}

/// Human size of an entry: `1 address`, `256 addresses`, `all IPv4 addresses`.
pub fn entry_size(r: &IpRange) -> String {
    if *r == IpRange::ALL_V4 {
        return "all IPv4 addresses".into();
    }
    if *r == IpRange::ALL_V6 {
        return "all IPv6 addresses".into();
    }
    match r.size() {
        1 => "1 address".into(),
        n => format!("{n} addresses"),
    }
}

/// Which enabled connector of `server` answers `client` on `port` (with `local` the server
/// address the client connects to; `None`: an address no connector binds specifically).
pub fn select<'m>(
    model: &'m Model,
    server: &str,
    client: IpAddr,
    port: u16,
    local: Option<IpAddr>,
) -> Selection<'m> {
    let mut notes = Vec::new();
    if let Some(l) = local {
        if !same_family(l, client) {
            notes.push(format!(
                "local address {l} and client {client} are of different address families: no connector can answer"
            ));
        }
    }
    let mut cands: Vec<Candidate<'m>> = Vec::new();
    // (index into cands, entry size, specific local binding)
    let mut matching: Vec<(usize, u128, bool)> = Vec::new();
    for c in model.connectors.iter().filter(|c| on_server(c, server)) {
        let mut cand = Candidate {
            connector: c,
            status: Status::OtherPort,
            binding: None,
            matched: None,
            reason: String::new(),
        };
        if c.enabled == Some(false) {
            cand.status = Status::Disabled;
            cand.reason = "disabled (Enabled False)".into();
            cands.push(cand);
            continue;
        }
        let binding = c
            .bindings
            .iter()
            .filter(|b| binding_matches(b, port, local, client))
            // A specific-address binding first.
            .min_by_key(|b| binding_ip(b).is_some_and(is_wildcard));
        let Some(binding) = binding else {
            let elsewhere: Vec<&Binding> = c
                .bindings
                .iter()
                .filter(|b| {
                    b.port == port
                        && binding_ip(b)
                            .is_some_and(|ip| same_family(ip, client) && !is_wildcard(ip))
                })
                .collect();
            if !elsewhere.is_empty() {
                cand.status = Status::OtherLocalAddress;
                let addrs: Vec<String> = elsewhere.iter().map(|b| fmt_binding(b)).collect();
                cand.reason = format!(
                    "bound to {} only: it answers clients that connect to that address{}",
                    addrs.join(", "),
                    if local.is_none() {
                        format!(" (simulate with --local {})", elsewhere[0].address)
                    } else {
                        String::new()
                    }
                );
            } else {
                cand.reason = format!(
                    "does not listen on port {port} for {} clients ({})",
                    if client.is_ipv4() { "IPv4" } else { "IPv6" },
                    list_bindings(c)
                );
            }
            cands.push(cand);
            continue;
        };
        cand.binding = Some(binding.clone());
        let entry = range_entries(c)
            .into_iter()
            .filter(|r| r.contains(client))
            .min_by_key(|r| r.size());
        match entry {
            Some(r) => {
                cand.matched = Some(r);
                let specific = binding_ip(binding).is_some_and(|ip| !is_wildcard(ip));
                matching.push((cands.len(), r.size(), specific));
            }
            None if !ranges_complete(c) => {
                cand.status = Status::RangesUnknown;
                cand.reason = format!(
                    "listens on {}, but its RemoteIPRanges were not completely exported (shown: {}): whether it contains {client} is unknown",
                    fmt_binding(binding),
                    list_entries(c)
                );
            }
            None => {
                cand.status = Status::NotInRanges;
                cand.reason = format!(
                    "listens on {}, but {client} is not in its RemoteIPRanges ({})",
                    fmt_binding(binding),
                    list_entries(c)
                );
            }
        }
        cands.push(cand);
    }
    // Most specific first: smallest entry, then a specific local binding, then export order.
    matching.sort_by_key(|&(i, size, specific)| (size, !specific, i));
    if let Some(&(wi, wsize, wspecific)) = matching.first() {
        let wrange = cands[wi].matched.expect("matching has an entry");
        let wname = cands[wi].connector.identity.clone();
        let wbind = cands[wi]
            .binding
            .as_ref()
            .map(fmt_binding)
            .unwrap_or_default();
        cands[wi].status = Status::Won;
        cands[wi].reason = format!(
            "listens on {wbind} and its RemoteIPRanges entry {wrange} ({}) is the most specific match for {client}",
            entry_size(&wrange)
        );
        for &(i, size, specific) in &matching[1..] {
            let r = cands[i].matched.expect("matching has an entry");
            let b = cands[i]
                .binding
                .as_ref()
                .map(fmt_binding)
                .unwrap_or_default();
            if size == wsize && specific == wspecific {
                cands[i].status = Status::Tied;
                cands[i].reason = format!(
                    "ties with {wname}: its entry {r} on {b} matches {client} exactly as specifically; Exchange refuses two connectors with the same binding and range, so the export is inconsistent (relay-audit takes the first in export order)"
                );
                notes.push(format!(
                    "configuration conflict: {} and {wname} both match {client} with {} on port {port}",
                    cands[i].connector.identity,
                    entry_size(&r)
                ));
            } else if size == wsize {
                cands[i].status = Status::LessSpecific;
                cands[i].reason = format!(
                    "matches with {r} on {b} as {wname} does, but {wname} is bound to the specific local address"
                );
            } else {
                cands[i].status = Status::LessSpecific;
                cands[i].reason = format!(
                    "matches with {r} ({}) on {b}, but {wname}'s entry {wrange} ({}) is more specific",
                    entry_size(&r),
                    entry_size(&wrange)
                );
            }
        }
        if cands.iter().any(|c| c.status == Status::RangesUnknown) {
            notes.push(
                "a connector whose RemoteIPRanges were cut off may hold a more specific entry: the winner is certain only with complete exports".into(),
            );
        }
    } else if cands.is_empty() {
        notes.push(format!(
            "no receive connector of server {server} is in the export"
        ));
    } else if cands.iter().any(|c| c.status == Status::OtherLocalAddress) && local.is_none() {
        notes.push(format!(
            "no connector bound to every local address answers {client} on port {port}; connectors bound to a specific address may (give --local)"
        ));
    }
    // Winner first, then the closest contenders, each group in export order.
    cands.sort_by_key(|c| c.status.rank());
    Selection {
        server: server.to_string(),
        client,
        port,
        local,
        candidates: cands,
        notes,
    }
}

/// A receive-connector configuration that Exchange itself refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// Two connectors on the same binding with an identical RemoteIPRanges entry.
    Identical,
    /// Two connectors on the same binding with entries that overlap but are not nested.
    Overlapping,
}

/// Two connectors that compete for the same clients without a most specific winner.
#[derive(Debug, Clone)]
pub struct Conflict<'m> {
    pub server: String,
    pub kind: ConflictKind,
    pub a: &'m ReceiveConnector,
    pub b: &'m ReceiveConnector,
    pub binding_a: Binding,
    pub binding_b: Binding,
    pub range_a: IpRange,
    pub range_b: IpRange,
    /// The addresses both entries hold.
    pub overlap: IpSet,
    pub message: String,
}

/// Whether two bindings share a listening address (same port; same address, or one of them a
/// wildcard of the other's family).
pub fn bindings_overlap(x: &Binding, y: &Binding) -> bool {
    if x.port != y.port {
        return false;
    }
    match (binding_ip(x), binding_ip(y)) {
        (Some(a), Some(b)) => same_family(a, b) && (a == b || is_wildcard(a) || is_wildcard(b)),
        _ => false,
    }
}

/// Every pair of connectors of one server on an overlapping binding whose entries are
/// identical (a tie) or overlap without one containing the other.
pub fn conflicts(model: &Model) -> Vec<Conflict<'_>> {
    let mut out = Vec::new();
    let conns = &model.connectors;
    // Pairs of one server only: group by server first (a scan of all pairs is quadratic in
    // the organisation's connectors), then visit the pairs in model order as before.
    let mut groups: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (i, c) in conns.iter().enumerate() {
        groups
            .entry(crate::analysis::site::server_key(&c.server))
            .or_default()
            .push(i);
    }
    let mut pairs: Vec<(usize, usize)> = groups
        .values()
        .flat_map(|g| {
            g.iter()
                .enumerate()
                .flat_map(move |(k, &i)| g[k + 1..].iter().map(move |&j| (i, j)))
        })
        .collect();
    pairs.sort_unstable();
    for (i, j) in pairs {
        let (a, b) = (&conns[i], &conns[j]);
        {
            let ea = range_entries(a);
            let eb = range_entries(b);
            let mut seen: Vec<(IpRange, IpRange)> = Vec::new();
            for ba in &a.bindings {
                for bb in &b.bindings {
                    if !bindings_overlap(ba, bb) {
                        continue;
                    }
                    let fam_v4 = binding_ip(ba).is_some_and(|ip| ip.is_ipv4());
                    for ra in ea.iter().filter(|r| r.is_v4() == fam_v4) {
                        for rb in eb.iter().filter(|r| r.is_v4() == fam_v4) {
                            if seen.contains(&(*ra, *rb)) {
                                continue;
                            }
                            let sa = IpSet::from(*ra);
                            let sb = IpSet::from(*rb);
                            let overlap = sa.intersection(&sb);
                            if overlap.is_empty() {
                                continue;
                            }
                            let kind = if ra == rb {
                                ConflictKind::Identical
                            } else if sa.is_subset(&sb) || sb.is_subset(&sa) {
                                continue;
                            } else {
                                ConflictKind::Overlapping
                            };
                            seen.push((*ra, *rb));
                            let message = match kind {
                                ConflictKind::Identical => format!(
                                    "{} ({}) and {} ({}) both have the RemoteIPRanges entry {ra}: no connector is more specific for those clients; Exchange refuses this combination of binding and range",
                                    a.identity,
                                    fmt_binding(ba),
                                    b.identity,
                                    fmt_binding(bb)
                                ),
                                ConflictKind::Overlapping => format!(
                                    "{} ({}) entry {ra} and {} ({}) entry {rb} overlap without one containing the other (shared: {overlap}); Exchange refuses overlapping remote ranges on the same binding",
                                    a.identity,
                                    fmt_binding(ba),
                                    b.identity,
                                    fmt_binding(bb)
                                ),
                            };
                            out.push(Conflict {
                                server: a.server.clone(),
                                kind,
                                a,
                                b,
                                binding_a: ba.clone(),
                                binding_b: bb.clone(),
                                range_a: *ra,
                                range_b: *rb,
                                overlap,
                                message,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Raw, Source};
    use std::sync::Arc;

    /// A connector for tests: `bindings` like `0.0.0.0:25`, `ranges` as exported.
    pub(crate) fn conn(
        server: &str,
        name: &str,
        bindings: &[&str],
        ranges: &[&str],
        groups: &[&str],
        auth: &[&str],
    ) -> ReceiveConnector {
        let set = IpSet::from_ranges(ranges.iter().map(|r| IpRange::parse(r).unwrap()));
        let raw = |n: &'static str, v: String| Raw {
            name: n,
            value: v.into(),
            line: 1,
            truncated: false,
        };
        ReceiveConnector {
            identity: format!("{server}\\{name}"),
            name: name.into(),
            server: server.into(),
            src: Source {
                file: Arc::from("rc.xml"),
                line: 1,
            },
            enabled: Some(true),
            bindings: bindings
                .iter()
                .map(|b| Binding::parse(b).unwrap())
                .collect(),
            ranges: Some(set),
            bad_ranges: vec![],
            permission_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            auth_mechanism: Some(auth.iter().map(|s| s.to_string()).collect()),
            require_tls: Some(false),
            transport_role: Some("FrontendTransport".into()),
            protocol_logging: Some("Verbose".into()),
            raw: vec![
                raw("RemoteIPRanges", ranges.join(", ")),
                raw("PermissionGroups", groups.join(", ")),
                raw("AuthMechanism", auth.join(", ")),
            ]
            .into(),
        }
    }

    pub(crate) fn model() -> Model {
        Model {
            connectors: vec![
                conn(
                    "EX01",
                    "Default Frontend EX01",
                    &["0.0.0.0:25", "[::]:25"],
                    &["0.0.0.0-255.255.255.255", "::/0"],
                    &["AnonymousUsers", "ExchangeServers"],
                    &["Tls", "Integrated", "BasicAuth"],
                ),
                conn(
                    "EX01",
                    "Relay EX01",
                    &["0.0.0.0:25"],
                    &["10.1.1.25", "10.2.0.0/24", "10.9.9.9"],
                    &["AnonymousUsers", "Custom"],
                    &["Tls"],
                ),
                conn(
                    "EX01",
                    "Client Frontend EX01",
                    &["0.0.0.0:587"],
                    &["0.0.0.0-255.255.255.255"],
                    &["ExchangeUsers"],
                    &["Tls", "BasicAuthRequireTLS"],
                ),
            ],
            ..Default::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn winner(m: &Model, client: &str) -> Option<String> {
        select(m, "EX01", ip(client), 25, None)
            .winner()
            .map(|c| c.connector.name.clone())
    }

    #[test]
    fn most_specific_entry_wins() {
        let m = model();
        assert_eq!(winner(&m, "10.1.1.25").as_deref(), Some("Relay EX01"));
        assert_eq!(
            winner(&m, "10.1.1.26").as_deref(),
            Some("Default Frontend EX01")
        );
        assert_eq!(winner(&m, "10.2.0.77").as_deref(), Some("Relay EX01"));
        assert_eq!(
            winner(&m, "10.2.1.1").as_deref(),
            Some("Default Frontend EX01")
        );
        assert_eq!(
            winner(&m, "2001:db8::1").as_deref(),
            Some("Default Frontend EX01")
        );
        let s = select(&m, "ex01.contoso.com", ip("10.1.1.25"), 25, None);
        let lost = s
            .candidates
            .iter()
            .find(|c| c.connector.name == "Default Frontend EX01")
            .unwrap();
        assert_eq!(lost.status, Status::LessSpecific);
        assert!(lost.reason.contains("more specific"), "{}", lost.reason);
        let other = s
            .candidates
            .iter()
            .find(|c| c.connector.name == "Client Frontend EX01")
            .unwrap();
        assert_eq!(other.status, Status::OtherPort);
    }

    #[test]
    fn disabled_and_specific_bindings() {
        let mut m = model();
        m.connectors[1].enabled = Some(false);
        assert_eq!(
            winner(&m, "10.1.1.25").as_deref(),
            Some("Default Frontend EX01")
        );
        m.connectors[1].enabled = Some(true);
        m.connectors[1].bindings = vec![Binding::parse("10.0.0.21:25").unwrap()];
        // Without --local the specific binding does not answer.
        assert_eq!(
            winner(&m, "10.1.1.25").as_deref(),
            Some("Default Frontend EX01")
        );
        let s = select(&m, "EX01", ip("10.1.1.25"), 25, Some(ip("10.0.0.21")));
        assert_eq!(s.winner().unwrap().connector.name, "Relay EX01");
        let s = select(&m, "EX01", ip("10.1.1.25"), 25, Some(ip("10.0.0.22")));
        assert_eq!(s.winner().unwrap().connector.name, "Default Frontend EX01");
    }

    #[test]
    fn no_connector_for_unmatched_client() {
        let mut m = model();
        m.connectors.remove(0);
        let s = select(&m, "EX01", ip("203.0.113.9"), 25, None);
        assert!(s.winner().is_none());
    }

    #[test]
    fn adjacent_entries_are_not_merged() {
        let mut m = model();
        // Earlier in export order, and as large as the merged pair would be.
        m.connectors.insert(
            0,
            conn(
                "EX01",
                "Pair",
                &["0.0.0.0:25"],
                &["10.5.0.0-10.5.0.1"],
                &["AnonymousUsers"],
                &["Tls"],
            ),
        );
        m.connectors[2] = conn(
            "EX01",
            "Relay EX01",
            &["0.0.0.0:25"],
            &["10.5.0.0", "10.5.0.1"],
            &["AnonymousUsers"],
            &["Tls"],
        );
        assert_eq!(winner(&m, "10.5.0.1").as_deref(), Some("Relay EX01"));
    }

    #[test]
    fn ties_and_overlaps_are_conflicts() {
        let mut m = model();
        m.connectors.push(conn(
            "EX01",
            "Twin",
            &["0.0.0.0:25"],
            &["10.2.0.0/24"],
            &["AnonymousUsers"],
            &["Tls"],
        ));
        m.connectors.push(conn(
            "EX01",
            "Straddle",
            &["0.0.0.0:25"],
            &["10.2.0.128-10.2.1.10"],
            &["AnonymousUsers"],
            &["Tls"],
        ));
        m.connectors.push(conn(
            "EX02",
            "Elsewhere",
            &["0.0.0.0:25"],
            &["10.2.0.0/24"],
            &["AnonymousUsers"],
            &["Tls"],
        ));
        let c = conflicts(&m);
        let kinds: Vec<(ConflictKind, &str, &str)> = c
            .iter()
            .map(|c| (c.kind, c.a.name.as_str(), c.b.name.as_str()))
            .collect();
        assert!(kinds.contains(&(ConflictKind::Identical, "Relay EX01", "Twin")));
        assert!(kinds.contains(&(ConflictKind::Overlapping, "Relay EX01", "Straddle")));
        assert!(kinds.contains(&(ConflictKind::Overlapping, "Twin", "Straddle")));
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        let s = select(&m, "EX01", ip("10.2.0.5"), 25, None);
        assert_eq!(s.winner().unwrap().connector.name, "Relay EX01");
        assert!(s.candidates.iter().any(|c| c.status == Status::Tied));
        assert!(!s.notes.is_empty());
        // Nested entries are not a conflict.
        assert!(conflicts(&model()).is_empty());
    }
}
