//! `relay-audit inventory`: a pre-migration summary of an Exchange organisation.
//!
//! * the servers and their versions;
//! * the receive connectors: default (as setup creates them) or custom, and which defaults
//!   were modified (PermissionGroups `Custom`, or ACEs no permission group accounts for);
//! * the relay matrix ([`crate::analysis::matrix`]);
//! * the hosts that rely on relay: the single addresses and small ranges from which anonymous
//!   (or externally secured) sessions may relay, with the site file's word on each;
//! * for each relay connector, the equivalent Exchange 2016/2019/SE configuration as a
//!   PowerShell script (`New-ReceiveConnector ... -TransportRole FrontendTransport -Custom`,
//!   `Add-ADPermission ... ms-Exch-SMTP-Accept-Any-Recipient`), every value single-quoted with
//!   `'` doubled ([`crate::rules::ps_quote_content`]). A relay on a default connector, or one
//!   open to every address, is not copied: the script says what to do instead.
//! * the same for legacy servers: a 2000/2003 SMTP virtual server's "Only the list below"
//!   relay list, or a 5.5 IMC's routing-restriction IP list / registry allow list, becomes a
//!   `Relay <server>` connector (domain-name entries and "All except the list below" are not
//!   migrated; the script says why). Without `--target-server` the legacy server's name is
//!   used and a comment says to change it.

use crate::analysis::matrix::{self, held, MatrixOut, PrincipalKind, ANY_RECIPIENT, SUBMIT};
use crate::analysis::permissions::{ConnectorFacts, Facts, Via, GROUP_GRANTS};
use crate::analysis::selection::{self, binding_ip, fmt_binding};
use crate::analysis::site::{abbreviate, server_key, Site};
use crate::analysis::usage::{observed, usage_rows, Observed, UsageFacts, UsageRow};

mod logs;
use crate::model::ip_range::{IpRange, IpSet};
use crate::model::legacy::{parse_ip_mask, Legacy, LegacyObject, RelayMode};
use crate::model::principal::Principal;
use crate::model::{Model, ReceiveConnector};
use crate::rules::ps_quote_content;
use crate::term::{is_hidden, visible, visible_line};
use serde::Serialize;
use std::fmt::Write as _;

/// Ranges up to this many addresses are "small": hosts an admin can name.
pub const SMALL_RANGE: u128 = 256;

/// What `inventory` needs besides the model.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The server the migration script creates connectors on (`--target-server`); default:
    /// each connector's own server.
    pub target_server: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerRow {
    pub name: String,
    pub product: Option<&'static str>,
    pub version: Option<String>,
    pub connectors: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectorRow {
    pub id: String,
    pub server: String,
    pub name: String,
    /// `default` (a connector setup creates) or `custom`.
    pub kind: &'static str,
    pub enabled: bool,
    pub transport_role: Option<String>,
    pub bindings: Vec<String>,
    pub remote_ip_ranges: Vec<String>,
    pub permission_groups: Option<Vec<String>>,
    pub auth_mechanism: Option<Vec<String>>,
    /// A default connector changed from its presets.
    pub modified: bool,
    /// What differs from the presets: `Custom` and the hand-made ACEs (any connector).
    pub modifications: Vec<String>,
    /// Anonymous (or externally secured) sessions may relay through it.
    pub relay: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelayHost {
    /// One address or range, canonical.
    pub address: String,
    pub count: u128,
    pub public_count: u128,
    /// At most [`SMALL_RANGE`] addresses.
    pub small: bool,
    pub principal: &'static str,
    pub server: String,
    pub port: u16,
    pub connector: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    pub connector: String,
    pub target_server: String,
    /// `anonymous-relay` or `externally-secured`.
    pub kind: &'static str,
    /// Whether a script is given (not for default connectors or whole-Internet ranges).
    pub migrated: bool,
    pub remote_ip_ranges: Vec<String>,
    pub warnings: Vec<String>,
    /// With SMTP logs: the hosts the logs show using the connector (the script's
    /// `-RemoteIPRanges` when there are any), and the window the logs cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
    /// PowerShell for the Exchange Management Shell of the target (comments start with `#`).
    pub script: String,
}

/// The whole summary (JSON as is; text through [`write_text`]).
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub tool: Tool,
    pub servers: Vec<ServerRow>,
    pub connectors: Vec<ConnectorRow>,
    pub matrix: MatrixOut,
    pub relay_hosts: Vec<RelayHost>,
    pub migration: Vec<Migration>,
    /// Every migration script, in order, as one file.
    pub script: String,
    /// With SMTP logs: who used which connector (relaying hosts first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<UsageRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

/// Names Exchange setup gives its receive connectors: 2013+ `Default <S>`, `Client Proxy
/// <S>`, `Default Frontend <S>`, `Outbound Proxy Frontend <S>`, `Client Frontend <S>`;
/// 2007/2010 `Default <S>`, `Client <S>`.
pub fn is_setup_connector(c: &ReceiveConnector) -> bool {
    if c.is_default() {
        return true;
    }
    let n = c.name.to_ascii_lowercase();
    let s = c.server.to_ascii_lowercase();
    if s.is_empty() {
        return false;
    }
    [
        "client proxy",
        "outbound proxy frontend",
        "client frontend",
        "client",
    ]
    .iter()
    .any(|p| n == format!("{p} {s}"))
}

/// Text safe inside a PowerShell `#` comment: no line breaks, other control characters nor
/// bidi controls ([`is_hidden`]). A name that held some gets no command anyway
/// ([`hidden_in`]).
fn comment_safe(s: &str) -> String {
    s.chars().filter(|c| !is_hidden(*c)).collect()
}

/// Why a name cannot go into the script as it is: it holds characters a terminal does not
/// show as written (control or bidi characters). Quoting would drop or hide them, and the
/// command would name another object than the one exported.
fn hidden_in(what: &str, value: &str) -> Option<String> {
    value.chars().any(is_hidden).then(|| {
        format!(
            "the {what} {} contains control or bidi characters (shown as \\u{{..}} escapes): a command would name another object than the exported one, so none is written",
            visible_line(value)
        )
    })
}

fn q(s: &str) -> String {
    format!("'{}'", ps_quote_content(s))
}

/// The ACEs on a connector that no permission group accounts for (added with
/// Add-ADPermission), as sentences. A right relay-audit does not track (outside
/// `GROUP_GRANTS`) held by a principal of one of the connector's groups counts as the group's.
fn hand_made(f: &ConnectorFacts<'_>) -> Vec<String> {
    let c = f.connector;
    let mut out = Vec::new();
    for a in f.aces.iter().filter(|a| !a.inherited) {
        if a.deny {
            let legacy = a.principal == Principal::LegacyInterop
                && c.has_permission_group("ExchangeLegacyServers");
            if !legacy {
                for r in &a.extended_rights {
                    out.push(format!(
                        "ACE {} deny {r} ({}:{})",
                        a.user, a.src.file, a.src.line
                    ));
                }
            }
            continue;
        }
        // The principals the connector's groups grant to (their full ACL holds more rights
        // than the relay-relevant ones GROUP_GRANTS lists).
        let group_principal = GROUP_GRANTS
            .iter()
            .any(|(g, who, _)| c.has_permission_group(g) && who.contains(&a.principal.class()))
            || (a.principal == Principal::ExternallySecuredServers
                && c.has_auth("ExternalAuthoritative"));
        for r in &a.extended_rights {
            let tracked = GROUP_GRANTS
                .iter()
                .any(|(_, _, rights)| rights.iter().any(|x| x.eq_ignore_ascii_case(r)));
            if group_principal && !tracked {
                continue;
            }
            let (grants, _) = f.holds(&[a.principal.class()], r);
            let explained = grants.iter().any(|g| {
                matches!(g.via, Via::Ace(x) if std::ptr::eq(x, *a)) && g.explained_by_group
            });
            if !explained {
                out.push(format!(
                    "ACE {} allow {r} ({}:{}) added by hand",
                    a.user, a.src.file, a.src.line
                ));
            }
        }
    }
    out
}

/// Which relay (if any) the connector grants to sessions that need no account.
fn relay_kind(f: &ConnectorFacts<'_>) -> Option<PrincipalKind> {
    let c = f.connector;
    if c.enabled == Some(false) {
        return None;
    }
    [PrincipalKind::ExternallySecured, PrincipalKind::Anonymous]
        .into_iter()
        .find(|&kind| {
            kind.session_on(c).is_ok()
                && held(f, kind, SUBMIT).held()
                && held(f, kind, ANY_RECIPIENT).held()
        })
}

/// A site entry's description, or its address when it has none.
fn host_text(h: &crate::analysis::site::Host) -> String {
    h.description.clone().unwrap_or_else(|| h.range.to_string())
}

fn product_name(p: crate::model::Product) -> &'static str {
    p.as_str()
}

/// Builds the inventory.
pub fn inventory(model: &Model, site: Option<&Site>, opts: &Options) -> Inventory {
    let facts = Facts::compute(model);
    let usage = UsageFacts::compute(model, &facts, site);
    let mx = matrix::compute(model, site);

    let by_server = matrix::connectors_by_server(model);
    let mut server_objs: std::collections::HashMap<String, &crate::model::ExchangeServer> =
        std::collections::HashMap::new();
    for s in &model.servers {
        server_objs.entry(server_key(&s.name)).or_insert(s);
    }
    let servers = matrix::server_names(model)
        .into_iter()
        .map(|name| {
            let key = server_key(&name);
            let s = server_objs.get(&key).copied();
            ServerRow {
                connectors: by_server.get(&key).map_or(0, Vec::len),
                product: s.and_then(|s| s.product).map(product_name),
                version: s.and_then(|s| s.version.as_ref().map(|v| v.value.to_string())),
                name,
            }
        })
        .collect();

    let mut connectors = Vec::new();
    let mut migration = Vec::new();
    for f in &facts.connectors {
        let c = f.connector;
        let default = is_setup_connector(c);
        let mut modifications = Vec::new();
        if c.has_permission_group("Custom") {
            modifications.push(
                "PermissionGroups include Custom: the ACL holds more than the presets".to_string(),
            );
        }
        modifications.extend(hand_made(f));
        let relay = relay_kind(f);
        connectors.push(ConnectorRow {
            id: c.identity.clone(),
            server: c.server.clone(),
            name: c.name.clone(),
            kind: if default { "default" } else { "custom" },
            enabled: c.enabled != Some(false),
            transport_role: c.transport_role.clone(),
            bindings: c.bindings.iter().map(fmt_binding).collect(),
            remote_ip_ranges: selection::range_entries(c)
                .iter()
                .map(|r| r.to_string())
                .collect(),
            permission_groups: c.permission_groups.as_deref().map(<[String]>::to_vec),
            auth_mechanism: c.auth_mechanism.as_deref().map(<[String]>::to_vec),
            modified: default && !modifications.is_empty(),
            modifications,
            relay: relay.map(|k| match k {
                PrincipalKind::ExternallySecured => "externally-secured",
                _ => "anonymous",
            }),
        });
        if let Some(kind) = relay {
            let observed = usage.logs_read.then(|| observed(c, &usage));
            migration.push(migrate(f, kind, default, site, opts, observed));
        }
    }

    let matrix = mx.report();
    let mut relay_hosts = Vec::new();
    for l in &matrix.listeners {
        for cell in &l.relay {
            if !matches!(cell.principal, "anonymous" | "externally-secured") {
                continue;
            }
            for p in &cell.via {
                // The connector's own entries (as exported) within the part it answers, so
                // two adjacent single-address entries stay two hosts.
                let entries = model
                    .connector(&p.connector)
                    .map(selection::range_entries)
                    .unwrap_or_default();
                let mut pieces: Vec<IpRange> = Vec::new();
                for e in entries {
                    for r in IpSet::from(e).intersection(&p.addresses).ranges() {
                        if !pieces.contains(&r) {
                            pieces.push(r);
                        }
                    }
                }
                let covered = IpSet::from_ranges(pieces.iter().copied());
                pieces.extend(p.addresses.difference(&covered).ranges());
                for r in pieces {
                    let set = IpSet::from(r);
                    relay_hosts.push(RelayHost {
                        address: r.to_string(),
                        count: r.size(),
                        public_count: set.public_count(),
                        small: r.size() <= SMALL_RANGE,
                        principal: cell.principal,
                        server: l.server.clone(),
                        port: l.port,
                        connector: p.connector.clone(),
                        trusted: site.and_then(|s| s.trusted_covering(r)).map(host_text),
                        nat: site.and_then(|s| s.nat_in(&set).first().map(|h| host_text(h))),
                    });
                }
            }
        }
    }

    for o in &model.legacy {
        if let Some(m) = migrate_legacy(o, opts) {
            migration.push(m);
        }
    }

    let mut script = String::new();
    if !migration.is_empty() {
        script.push_str(
            "# relay-audit inventory: relay connectors for Exchange 2016/2019/SE (run in the Exchange Management Shell)\n",
        );
        for m in &migration {
            script.push('\n');
            script.push_str(&m.script);
        }
    }
    Inventory {
        tool: Tool {
            name: "relay-audit",
            version: env!("CARGO_PKG_VERSION"),
        },
        servers,
        connectors,
        matrix,
        relay_hosts,
        migration,
        script,
        usage: usage_rows(&usage),
        site: site.map(|s| s.file.clone()),
    }
}

/// The relay list of a 2000/2003 SMTP virtual server ("Only the list below" with IP entries)
/// or of a 5.5 IMC (routing restrictions "these IP addresses", or the registry allow list when
/// `RelayFlags` applies it) as a 2016+/SE anonymous relay connector.
fn migrate_legacy(o: &LegacyObject, opts: &Options) -> Option<Migration> {
    let (given, target) = match opts.target_server.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => (true, t.to_string()),
        _ => (false, o.server.clone()),
    };
    let mut ranges: Vec<IpRange> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut refuse: Option<String> = None;
    let what;
    match &o.detail {
        Legacy::VirtualServer(v) => {
            what = "SMTP virtual server relay list";
            if v.relay_list_undecoded.is_some() {
                refuse = Some(format!(
                    "the relay list of {} was exported as a blob relay-audit cannot decode: read it in the console (Access, Relay) before migrating",
                    o.identity
                ));
            }
            match v.relay_mode {
                Some(RelayMode::AllExcept) => {
                    refuse = Some(format!(
                        "{} relays for every address except its list (\"All except the list below\"): it was an open relay; do not carry it over, scope a new connector to the hosts that need relay (SMTP logs show them)",
                        o.identity
                    ));
                }
                Some(RelayMode::OnlyTheList) => {}
                None if refuse.is_none() => return None,
                None => {}
            }
            ranges.extend(v.relay_ips.ranges());
            names.extend(v.relay_names.iter().cloned());
        }
        Legacy::Imc(imc) => {
            what = "Internet Mail Service relay list";
            if imc.ip_addresses_ticked {
                for e in &imc.ip_addresses {
                    match parse_ip_mask(e) {
                        Ok(r) => ranges.push(r),
                        Err(_) => names.push(e.trim().to_string()),
                    }
                }
            }
            if let Some(reg) = &imc.registry {
                let applies = reg.flags.is_some_and(|(f, _)| f & 2 != 0);
                if applies {
                    for r in reg.allow_ips.ranges() {
                        if !ranges.contains(&r) {
                            ranges.push(r);
                        }
                    }
                }
            }
        }
        Legacy::Connector(_) => return None,
    }
    if refuse.is_none() {
        refuse = hidden_in("target server", &target);
    }
    if refuse.is_none() && ranges.is_empty() {
        return None;
    }
    let set = IpSet::from_ranges(ranges.iter().copied());
    if refuse.is_none() && set.covers_all() {
        refuse = Some(format!(
            "the relay list of {} lets every address relay: copying it would carry an open relay over",
            o.identity
        ));
    }
    let name = format!("Relay {}", o.server);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {} -> {}: {what} ({})",
        comment_safe(&o.identity),
        comment_safe(&target),
        o.product.map(|p| p.as_str()).unwrap_or("legacy Exchange")
    );
    let mut warnings = Vec::new();
    if !given {
        let w = format!(
            "no --target-server given: {} is the legacy server's name; change -Server to the Exchange 2016/2019/SE server that takes over",
            o.server
        );
        let _ = writeln!(s, "# CHANGE THE TARGET: {}", comment_safe(&w));
        warnings.push(w);
    }
    let ranges_s: Vec<String> = ranges.iter().map(|r| r.to_string()).collect();
    if let Some(why) = &refuse {
        let _ = writeln!(s, "# NOT MIGRATED: {}", comment_safe(why));
        warnings.push(why.clone());
        return Some(Migration {
            connector: o.identity.clone(),
            target_server: target,
            kind: "anonymous-relay",
            migrated: false,
            remote_ip_ranges: ranges_s,
            warnings,
            observed: None,
            script: s,
        });
    }
    let public = set.public();
    if !public.is_empty() {
        warnings.push(format!(
            "{} public address(es) in the relay list ({}): check each before copying",
            public.size(),
            abbreviate(&public, 6)
        ));
    }
    for e in ranges.iter().filter(|e| e.size() > SMALL_RANGE) {
        warnings.push(format!(
            "the entry {e} holds {} addresses: relay for a whole network rather than the devices that need it; scope the new connector to those devices",
            e.size()
        ));
    }
    for w in warnings.iter().skip(usize::from(!given)) {
        let _ = writeln!(s, "# WARNING: {}", comment_safe(w));
    }
    for n in &names {
        let w = format!(
            "the entry '{n}' is a domain name (granted by reverse DNS): RemoteIPRanges takes addresses only, so it cannot be migrated; add the addresses of its hosts by hand"
        );
        let _ = writeln!(s, "# NOT MIGRATED: {}", comment_safe(&w));
        warnings.push(w);
    }
    let quoted = ranges_s.iter().map(|r| q(r)).collect::<Vec<_>>().join(",");
    let _ = writeln!(
        s,
        "New-ReceiveConnector -Name {} -Server {} -TransportRole FrontendTransport -Custom -Bindings 0.0.0.0:25 -RemoteIPRanges {} -PermissionGroups AnonymousUsers",
        q(&name),
        q(&target),
        quoted
    );
    let _ = writeln!(
        s,
        "Get-ReceiveConnector {} | Add-ADPermission -User {} -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient",
        q(&format!("{target}\\{name}")),
        q("NT AUTHORITY\\ANONYMOUS LOGON")
    );
    Some(Migration {
        connector: o.identity.clone(),
        target_server: target,
        kind: "anonymous-relay",
        migrated: true,
        remote_ip_ranges: ranges_s,
        warnings,
        observed: None,
        script: s,
    })
}

fn migrate(
    f: &ConnectorFacts<'_>,
    kind: PrincipalKind,
    default: bool,
    site: Option<&Site>,
    opts: &Options,
    observed: Option<Observed>,
) -> Migration {
    let c = f.connector;
    let target = opts
        .target_server
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| c.server.clone());
    let entries = selection::range_entries(c);
    let ranges: Vec<String> = entries.iter().map(|r| r.to_string()).collect();
    let set = IpSet::from_ranges(entries.iter().copied());
    let kind_str = match kind {
        PrincipalKind::ExternallySecured => "externally-secured",
        _ => "anonymous-relay",
    };
    let mut warnings = Vec::new();
    let mut refuse: Option<String> = None;
    if default {
        refuse = Some(format!(
            "{} is a default connector: Microsoft's guidance is never to add relay rights to one. Do not copy it; create a dedicated relay connector for the hosts that really need relay (see the relay hosts) and remove the grant.",
            c.identity
        ));
    } else if set.covers_all() {
        refuse = Some(format!(
            "{} lets every address relay ({}): copying it would carry an open relay over. Scope a new connector to the hosts that need relay (protocol logs show them).",
            c.identity,
            matrix::describe_count(&set)
        ));
    } else if !selection::ranges_complete(c) {
        refuse = Some(format!(
            "the RemoteIPRanges of {} were not completely exported: export them whole (Export-Clixml) before migrating",
            c.identity
        ));
    } else if let Some(why) =
        hidden_in("connector name", &c.name).or_else(|| hidden_in("target server", &target))
    {
        refuse = Some(why);
    }
    if refuse.is_none() {
        let public = set.public();
        if !public.is_empty() {
            warnings.push(format!(
                "{} public address(es) in RemoteIPRanges ({}): check each before copying",
                public.size(),
                abbreviate(&public, 6)
            ));
        }
        for e in entries.iter().filter(|e| e.size() > SMALL_RANGE) {
            warnings.push(format!(
                "the entry {e} holds {} addresses: relay for a whole network rather than the devices that need it; scope the new connector to those devices",
                e.size()
            ));
        }
        if let Some(s) = site {
            for h in s.nat_in(&set) {
                warnings.push(format!(
                    "{}; remove it from -RemoteIPRanges and name the real senders instead",
                    s.nat_sentence(h, "the new connector")
                ));
            }
        }
    }
    let mut ports: Vec<u16> = c.bindings.iter().map(|b| b.port).collect();
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        ports.push(25);
    }
    let mut bindings = Vec::new();
    for p in &ports {
        let fam: Vec<bool> = c
            .bindings
            .iter()
            .filter(|b| b.port == *p)
            .filter_map(binding_ip)
            .map(|ip| ip.is_ipv4())
            .collect();
        if fam.is_empty() || fam.contains(&true) {
            bindings.push(format!("0.0.0.0:{p}"));
        }
        if fam.contains(&false) {
            bindings.push(format!("'[::]:{p}'"));
        }
        if matches!(p, 465 | 717 | 2525) {
            warnings.push(format!(
                "port {p} belongs to the Transport service's own connectors on 2013+ Mailbox servers: a FrontendTransport connector there conflicts; use 25"
            ));
        }
    }
    for b in &c.bindings {
        if binding_ip(b).is_some_and(|ip| !ip.is_unspecified()) {
            warnings.push(format!(
                "{} was bound to {}: the script binds every address; use the target's own address if the connector must stay on a separate IP",
                c.identity,
                fmt_binding(b)
            ));
        }
    }

    let mut s = String::new();
    let comment = c
        .raw("Comment")
        .map(|r| comment_safe(r.value.trim()))
        .filter(|v| !v.is_empty())
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "# {} -> {}: {}{}",
        comment_safe(&c.identity),
        comment_safe(&target),
        match kind {
            PrincipalKind::ExternallySecured => "externally secured relay",
            _ => "anonymous relay",
        },
        comment
    );
    if let Some(why) = &refuse {
        let _ = writeln!(s, "# NOT MIGRATED: {}", comment_safe(why));
        return Migration {
            connector: c.identity.clone(),
            target_server: target,
            kind: kind_str,
            migrated: false,
            remote_ip_ranges: ranges,
            warnings: vec![why.clone()],
            observed,
            script: s,
        };
    }
    // With logs that show the connector in use: only the hosts seen, the rest listed apart.
    let mut ranges = ranges;
    if let Some(o) = observed
        .as_ref()
        .filter(|o| !o.hosts.is_empty() && !o.logging_off)
    {
        let _ = writeln!(
            s,
            "# RemoteIPRanges: the {} host(s) the SMTP logs show sending through {} ({}), instead of the exported ranges ({})",
            o.hosts.len(),
            comment_safe(&c.identity),
            o.window,
            matrix::describe_count(&set)
        );
        if o.days < o.retention_days {
            warnings.push(format!(
                "the logs cover {:.1} days: a host that relays less often (a monthly job) is not among the hosts seen; check before narrowing",
                o.days
            ));
        }
        if !o.unseen.is_empty() {
            let _ = writeln!(
                s,
                "# allowed but not seen in the logs (left out): {}",
                short_list(&o.unseen, 12)
            );
        }
        ranges = o.hosts.clone();
        warnings.retain(|w| !w.starts_with("the entry "));
    } else if let Some(o) = &observed {
        warnings.push(if o.logging_off {
            format!(
                "{} has ProtocolLoggingLevel None: the logs cannot show who uses it; the exported ranges are kept",
                c.identity
            )
        } else {
            format!(
                "no SMTP log read shows {} in use ({}): check it is still needed before migrating it",
                c.identity, o.window
            )
        });
    }
    for w in &warnings {
        let _ = writeln!(s, "# WARNING: {}", comment_safe(w));
    }
    let quoted_ranges = ranges.iter().map(|r| q(r)).collect::<Vec<_>>().join(",");
    let target_id = format!("{target}\\{}", c.name);
    match kind {
        PrincipalKind::ExternallySecured => {
            let auth = if c.has_auth("Tls") {
                "Tls,ExternalAuthoritative"
            } else {
                "ExternalAuthoritative"
            };
            let _ = writeln!(
                s,
                "New-ReceiveConnector -Name {} -Server {} -TransportRole FrontendTransport -Custom -Bindings {} -RemoteIPRanges {} -AuthMechanism {auth} -PermissionGroups ExchangeServers",
                q(&c.name),
                q(&target),
                bindings.join(","),
                quoted_ranges
            );
        }
        _ => {
            let user = f
                .aces
                .iter()
                .find(|a| {
                    !a.deny && a.principal == Principal::Anonymous && a.has_right(ANY_RECIPIENT)
                })
                .map(|a| a.user.clone())
                .unwrap_or_else(|| "NT AUTHORITY\\ANONYMOUS LOGON".to_string());
            let _ = writeln!(
                s,
                "New-ReceiveConnector -Name {} -Server {} -TransportRole FrontendTransport -Custom -Bindings {} -RemoteIPRanges {} -PermissionGroups AnonymousUsers",
                q(&c.name),
                q(&target),
                bindings.join(","),
                quoted_ranges
            );
            let _ = writeln!(
                s,
                "Get-ReceiveConnector {} | Add-ADPermission -User {} -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient",
                q(&target_id),
                q(&user)
            );
        }
    }
    if c.protocol_logging
        .as_deref()
        .is_some_and(|l| l.eq_ignore_ascii_case("Verbose"))
    {
        let _ = writeln!(
            s,
            "Set-ReceiveConnector {} -ProtocolLoggingLevel Verbose",
            q(&target_id)
        );
    }
    Migration {
        connector: c.identity.clone(),
        target_server: target,
        kind: kind_str,
        migrated: true,
        remote_ip_ranges: ranges,
        warnings,
        observed,
        script: s,
    }
}

/// The inventory as text, text from the export made visible ([`crate::term::visible`]).
pub fn write_text(inv: &Inventory) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "relay-audit inventory (pre-migration summary)");
    if let Some(s) = &inv.site {
        let _ = writeln!(o, "site file: {s}");
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "Servers");
    for s in &inv.servers {
        let _ = writeln!(
            o,
            "  {:<12} {:<16} {} receive connector(s){}",
            s.name,
            s.product
                .map(|p| format!("Exchange {p}"))
                .unwrap_or_else(|| "version unknown".into()),
            s.connectors,
            s.version
                .as_deref()
                .map(|v| format!("  ({v})"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "Receive connectors");
    for c in &inv.connectors {
        let _ = writeln!(
            o,
            "  {}  [{}{}{}]",
            c.id,
            c.kind,
            if c.modified { ", MODIFIED" } else { "" },
            if c.enabled { "" } else { ", disabled" }
        );
        let _ = writeln!(
            o,
            "      {}  bindings {}  ranges {}",
            c.transport_role.as_deref().unwrap_or("role ?"),
            c.bindings.join(", "),
            short_list(&c.remote_ip_ranges, 6)
        );
        let _ = writeln!(
            o,
            "      groups {}  auth {}",
            c.permission_groups
                .as_ref()
                .map(|v| v.join(", "))
                .unwrap_or_else(|| "?".into()),
            c.auth_mechanism
                .as_ref()
                .map(|v| v.join(", "))
                .unwrap_or_else(|| "?".into())
        );
        if let Some(r) = c.relay {
            let _ = writeln!(o, "      relay: {r} sessions may relay through it");
        }
        for m in &c.modifications {
            let _ = writeln!(o, "      * {m}");
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Relay matrix (who may send to any recipient, after connector selection)"
    );
    matrix::write_text(&inv.matrix, &mut o);
    let _ = writeln!(o);
    let _ = writeln!(o, "Hosts that rely on relay");
    let small: Vec<&RelayHost> = inv.relay_hosts.iter().filter(|h| h.small).collect();
    if small.is_empty() {
        let _ = writeln!(
            o,
            "  none (no single address or small range may relay anonymously)"
        );
    }
    for h in small {
        let mut tags = Vec::new();
        if let Some(t) = &h.trusted {
            tags.push(format!("trusted: {t}"));
        }
        if let Some(n) = &h.nat {
            tags.push(format!("NAT: {n} — stands for every client behind it"));
        }
        let _ = writeln!(
            o,
            "  {:<18} {:<20} {}:{} via {}{}",
            h.address,
            h.principal,
            h.server,
            h.port,
            h.connector,
            if tags.is_empty() {
                String::new()
            } else {
                format!("  ({})", tags.join("; "))
            }
        );
    }
    let broad: Vec<&RelayHost> = inv.relay_hosts.iter().filter(|h| !h.small).collect();
    if !broad.is_empty() {
        let all = broad
            .iter()
            .filter_map(|h| IpRange::parse(&h.address).ok())
            .collect::<IpSet>();
        let _ = writeln!(
            o,
            "  ! {} broad range(s) ({}) may relay too: find the real senders in the protocol logs before migrating",
            broad.len(),
            matrix::describe_count(&all)
        );
        for h in broad.iter().take(8) {
            let _ = writeln!(o, "    {} ({} via {})", h.address, h.principal, h.connector);
        }
    }
    logs::write_text(&mut o, inv);
    let _ = writeln!(o);
    let _ = writeln!(o, "Migration script (Exchange 2016/2019/SE)");
    if inv.script.is_empty() {
        let _ = writeln!(o, "  no relay connector to migrate");
    } else {
        for l in inv.script.lines() {
            let _ = writeln!(o, "  {l}");
        }
    }
    // Names, values and comments from the export are made visible here, where the text is
    // finished: nothing in it acts on the terminal (crate::term).
    visible(&o).into_owned()
}

fn short_list(v: &[String], n: usize) -> String {
    if v.is_empty() {
        return "(none)".into();
    }
    let mut s = v.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > n {
        s.push_str(&format!(", … ({} more)", v.len() - n));
    }
    s
}

/// The inventory as one JSON document (with a final newline).
pub fn write_json(inv: &Inventory) -> String {
    let mut s = serde_json::to_string_pretty(inv).expect("inventory serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The organisation's servers × connectors is not walked: server-name comparisons and
    /// keyings grow with the connectors, not with their square (counted, not timed).
    #[test]
    fn inventory_compares_servers_linearly() {
        use crate::analysis::selection::tests::conn;
        use crate::analysis::site::SAME_SERVER_CALLS;
        let calls = |servers: usize| {
            let mut model = Model::default();
            for s in 0..servers {
                let srv = format!("EX{s:04}");
                for (name, port) in [
                    ("Default", 2525),
                    ("Default Frontend", 25),
                    ("Client Frontend", 587),
                    ("Relay", 25),
                ] {
                    model.connectors.push(conn(
                        &srv,
                        &format!("{name} {srv}"),
                        &[&format!("0.0.0.0:{port}")],
                        &["10.0.0.0/8"],
                        &["ExchangeServers"],
                        &["Tls"],
                    ));
                }
            }
            SAME_SERVER_CALLS.with(|c| c.set(0));
            let inv = inventory(&model, None, &Options::default());
            assert_eq!(inv.servers.len(), servers);
            SAME_SERVER_CALLS.with(|c| c.get())
        };
        let (small, large) = (calls(50), calls(400));
        // 8× the servers: a linear count grows 8×, a quadratic one 64×.
        assert!(small >= 200, "the count must see the server names: {small}");
        assert!(
            large <= small * 12,
            "same_server calls: {small} at 50 servers, {large} at 400"
        );
    }

    #[test]
    fn comments_cannot_break_out() {
        assert_eq!(comment_safe("a\r\nRemove-Item x"), "aRemove-Item x");
        assert_eq!(q("it's"), "'it''s'");
    }
}
