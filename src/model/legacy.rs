//! Legacy Exchange objects: the 4.0/5.0/5.5 Internet Mail Service (IMC), and the 2000/2003
//! SMTP virtual servers and SMTP connectors (FORMATS.md §7-8).
//!
//! One [`LegacyObject`] per record of kind `imc`, `smtp-virtual-server` or `smtp-connector`:
//! identity `SERVER\Name`, the server's version and service pack (each record carries them),
//! the exported values for evidence (`raw`), and a typed [`Legacy`] detail the predicates in
//! `crate::rules::cond` read. Relay-list entries are `net mask` (`10.0.0.0 255.0.0.0`),
//! `net;mask` (registry form) or CIDR; entries that are names (domain-name entries of a
//! 2000/2003 relay list) are kept apart, since they rely on reverse DNS.

use super::ip_range::{IpRange, IpSet};
use super::{ModelBuilder, Product, Raw, Source, Use};
use crate::diag::Diagnostic;
use crate::input::record::{ObjectKind, Record, Value};
use std::sync::Arc;

/// A routing entry of the IMC Routing tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingEntry {
    /// As entered: `contoso.com` (and its subdomains) or `#contoso.com` (that domain only).
    pub domain: String,
    /// `accept as inbound` or `reroute to`.
    pub action: String,
    pub host: Option<String>,
    /// "Override relay restrictions. Always relay."
    pub override_relay: bool,
}

impl RoutingEntry {
    /// Reads `domain => action [host][; override relay restrictions]`.
    pub fn parse(s: &str) -> Option<RoutingEntry> {
        let (domain, rest) = s.split_once("=>")?;
        let (rest, override_relay) = match rest.split_once(';') {
            Some((r, o)) => (r, o.to_ascii_lowercase().contains("override")),
            None => (rest, false),
        };
        let rest = rest.trim();
        let (action, host) = match rest.strip_prefix("reroute to") {
            Some(h) => (
                "reroute to",
                Some(h.trim().to_string()).filter(|h| !h.is_empty()),
            ),
            None => (rest, None),
        };
        Some(RoutingEntry {
            domain: domain.trim().to_string(),
            action: action.to_string(),
            host,
            override_relay,
        })
    }

    /// Does the entry cover every domain or a whole public suffix (`*`, `com`, `*.co.uk`)?
    /// An entry without `#` also covers every subdomain, so `com` is as broad as `*.com`.
    pub fn is_broad(&self) -> bool {
        let d = self.domain.trim();
        if d.starts_with('#') {
            return false;
        }
        let d = d.trim_start_matches("*.").trim_start_matches('.');
        if d.is_empty() || d == "*" {
            return true;
        }
        super::domain::domain_scope(&format!("*.{d}")).is_some()
    }
}

/// IMC: Routing tab and Routing Restrictions.
#[derive(Debug, Clone, Default)]
pub struct Imc {
    /// "Reroute incoming SMTP mail" (true) or "Do not reroute" (false); None: not recorded.
    pub reroute: Option<bool>,
    pub routing_entries: Vec<RoutingEntry>,
    /// Whether the Routing Restrictions dialog was recorded at all.
    pub restrictions_recorded: bool,
    pub authenticate: bool,
    pub ip_addresses_ticked: bool,
    pub ip_addresses: Vec<String>,
    pub internal_ticked: bool,
    pub hotfix_encapsulated_relay: Option<bool>,
    /// Windows "Enable IP routing" on the server (settings file); None: not recorded.
    pub ip_forwarding: Option<bool>,
    pub internal_addresses: Vec<String>,
    /// The relay values of the IMC registry key, from a `.reg` export.
    pub registry: Option<RegistryRelay>,
}

/// `HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters` relay values.
#[derive(Debug, Clone)]
pub struct RegistryRelay {
    /// Where the key is (the `.reg` file and the key's line).
    pub src: Source,
    /// `RelayFlags` and its line: 1 deny list applies, 2 allow list applies, 4 local-interface
    /// list applies, 8 authenticated clients may relay.
    pub flags: Option<(u32, u32)>,
    /// `RelayAllowList` entries and their line.
    pub allow: Option<(Vec<String>, u32)>,
    /// The allow list as addresses (`net;mask`).
    pub allow_ips: IpSet,
    pub deny: Option<(Vec<String>, u32)>,
    pub local: Option<(Vec<String>, u32)>,
    /// `IPEnableRouter` of `Tcpip\Parameters` (same `.reg` file) and its line.
    pub ip_forwarding: Option<(bool, u32)>,
    /// Relay lists the export holds only in part (a `hex(7)` value with an odd byte count):
    /// name and line. What they hold beyond the part read is unknown.
    pub incomplete: Vec<(&'static str, u32)>,
}

impl RegistryRelay {
    /// `RelayFlags` in words, for evidence.
    pub fn flags_text(&self) -> String {
        let Some((f, _)) = self.flags else {
            return "(not in the export)".into();
        };
        let mut words = Vec::new();
        for (bit, w) in [
            (1, "deny list applies"),
            (2, "allow list applies"),
            (4, "local-interface list applies"),
            (8, "authenticated clients may relay"),
        ] {
            if f & bit != 0 {
                words.push(w);
            }
        }
        format!(
            "dword:{f:08x} ({})",
            if words.is_empty() {
                "no bit set".to_string()
            } else {
                words.join(", ")
            }
        )
    }
}

/// "Only the list below" or "All except the list below".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    OnlyTheList,
    AllExcept,
}

impl RelayMode {
    /// The on-screen name of the choice.
    pub fn label(self) -> &'static str {
        match self {
            RelayMode::OnlyTheList => "Only the list below",
            RelayMode::AllExcept => "All except the list below",
        }
    }
}

/// `Only the list below: 10.0.0.0/8, partner.example` (names lowercased and sorted): the
/// comparable form of an access list.
pub fn list_text(mode: RelayMode, ips: &IpSet, names: &[String]) -> String {
    let mut entries: Vec<String> = ips.ranges().iter().map(|r| r.to_string()).collect();
    let mut names: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    names.sort();
    entries.extend(names);
    if entries.is_empty() {
        format!("{}: (empty)", mode.label())
    } else {
        format!("{}: {}", mode.label(), entries.join(", "))
    }
}

/// 2000/2003 SMTP virtual server: Access tab.
#[derive(Debug, Clone, Default)]
pub struct VirtualServer {
    pub relay_mode: Option<RelayMode>,
    /// The IP entries of the relay list.
    pub relay_ips: IpSet,
    /// Entries that are domain names (granted by reverse DNS).
    pub relay_names: Vec<String>,
    pub allow_authenticated_relay: Option<bool>,
    /// Authentication methods ticked (on-screen names); None: not recorded.
    pub authentication: Option<Vec<String>>,
    pub internet_facing: Option<bool>,
    /// Set when the relay list came as a blob relay-audit cannot decode with certainty
    /// (`msExchSmtpRelayIpList` of an LDIF export, `RelayIpList` of a MetaBase.xml): the
    /// relay choice and list are unknown. Holds the blob's size, first bytes and the reason.
    pub relay_list_undecoded: Option<String>,
    /// The relay list as exported (blob bytes), when it came as a blob.
    pub relay_blob: Option<Vec<u8>>,
    /// The instance number (`CN=1`, `/LM/SmtpSvc/1`).
    pub instance: Option<String>,
    pub bindings: Option<Vec<String>>,
    /// The IIS metabase copy of this virtual server, when a MetaBase.xml was read too.
    pub metabase: Option<MetabaseCopy>,
    /// Connection control (Access → Connection…): who may connect at all; None: not recorded.
    pub connection: Option<AccessList>,
    /// Set when connection control came as a blob that cannot be decoded with certainty.
    pub connection_undecoded: Option<String>,
}

/// An IP access list of the "Only the list below" / "All except the list below" kind.
#[derive(Debug, Clone)]
pub struct AccessList {
    pub mode: RelayMode,
    pub ips: IpSet,
    /// Domain-name entries (matched by reverse DNS).
    pub names: Vec<String>,
}

impl AccessList {
    /// Does the list admit `ip`? `None` when only a domain-name entry could decide.
    pub fn admits(&self, ip: std::net::IpAddr) -> Option<bool> {
        let listed = self.ips.contains(ip);
        match self.mode {
            RelayMode::OnlyTheList if listed => Some(true),
            RelayMode::AllExcept if listed => Some(false),
            _ if !self.names.is_empty() => None,
            RelayMode::OnlyTheList => Some(false),
            RelayMode::AllExcept => Some(true),
        }
    }

    /// The comparable form ([`list_text`]).
    pub fn text(&self) -> String {
        list_text(self.mode, &self.ips, &self.names)
    }
}

/// The metabase copy of an Active Directory virtual server, and how it differs.
#[derive(Debug, Clone)]
pub struct MetabaseCopy {
    pub src: Source,
    pub location: String,
    pub drift: Vec<Drift>,
    /// The metabase's own relay choice and whether its list is empty (None: not readable).
    pub relay: Option<(RelayMode, bool)>,
    /// The metabase's relay settings as text, and the line of `RelayIpList`.
    pub relay_text: Option<(String, u32)>,
}

/// One property whose metabase value differs from Active Directory's.
#[derive(Debug, Clone)]
pub struct Drift {
    /// On-screen name of the setting.
    pub setting: &'static str,
    pub ad: String,
    pub ad_line: Option<u32>,
    pub metabase: String,
    pub metabase_line: u32,
}

/// 2000/2003 SMTP connector: Address Space tab.
#[derive(Debug, Clone, Default)]
pub struct SmtpConnector {
    /// As shown: `SMTP:*;1` (type:address;cost).
    pub address_space: Vec<String>,
    pub allow_relay: Option<bool>,
}

impl SmtpConnector {
    /// The address-space entries that match every SMTP domain (`SMTP:*;1`, `*`, and
    /// `Local:SMTP:*;1`, a connector scoped to its routing group).
    pub fn all_domains(&self) -> Vec<&str> {
        self.address_space
            .iter()
            .filter(|a| {
                let t = a.trim();
                let t = match t.get(..6) {
                    Some(p) if p.eq_ignore_ascii_case("local:") => &t[6..],
                    _ => t,
                };
                let body = match t.split_once(':') {
                    Some((ty, rest)) if ty.eq_ignore_ascii_case("smtp") => rest,
                    Some(_) => return false,
                    None => t,
                };
                let addr = body.split(';').next().unwrap_or("").trim();
                addr == "*"
            })
            .map(String::as_str)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub enum Legacy {
    Imc(Imc),
    VirtualServer(VirtualServer),
    Connector(SmtpConnector),
}

#[derive(Debug, Clone)]
pub struct LegacyObject {
    pub kind: ObjectKind,
    /// `SERVER\Name`.
    pub identity: String,
    pub server: String,
    pub name: String,
    pub src: Source,
    pub product: Option<Product>,
    pub service_pack: Option<u32>,
    pub raw: Vec<Raw>,
    pub detail: Legacy,
}

impl LegacyObject {
    pub fn raw(&self, name: &str) -> Option<&Raw> {
        self.raw.iter().find(|r| r.name.eq_ignore_ascii_case(name))
    }
}

/// `10.0.0.0 255.0.0.0`, `10.0.0.0;255.0.0.0`, `10.0.0.0/8`, `10.0.0.1`: an IP range; or
/// `Err(())` for a name.
pub fn parse_ip_mask(s: &str) -> Result<IpRange, String> {
    let t = s.trim();
    let mut parts = t.split([' ', ';', ',']).filter(|p| !p.is_empty());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(m), None) => IpRange::parse(&format!("{a}({m})")),
        _ => IpRange::parse(t),
    }
}

/// Does the entry look like a host or domain name rather than an address?
fn is_name(s: &str) -> bool {
    let t = s.trim();
    t.chars().any(|c| c.is_ascii_alphabetic()) && !t.contains(':') && !t.contains('/')
}

const RAW_NAMES: &[&str] = &[
    "Name",
    "Server",
    "version",
    "service_pack",
    "hotfix_encapsulated_relay",
    "ip_forwarding",
    "routing",
    "routing_entries",
    "routing_restrictions",
    "hosts_that_successfully_authenticate",
    "hosts_and_clients_with_these_ip_addresses",
    "ip_addresses",
    "hosts_connecting_to_these_internal_addresses",
    "internal_addresses",
    "never_route",
    "relay",
    "relay_list",
    "allow_authenticated_relay",
    "authentication",
    "internet_facing",
    "address_space",
    "allow_relay_to_these_domains",
    "server_bindings",
];

fn list_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::List { items, .. }) => items.clone(),
        Some(Value::Text(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        _ => vec![],
    }
}

fn bool_of(v: Option<&Value>) -> Option<bool> {
    v.and_then(super::parse_bool)
}

impl ModelBuilder {
    pub(crate) fn add_legacy(&mut self, file: &Arc<str>, rec: &Record) -> Use {
        let src = Source {
            file: file.clone(),
            line: rec.line,
        };
        if rec.get(crate::input::metabase::LOCATION).is_some() {
            // A MetaBase.xml names no computer: attributed once every file is read.
            self.pending_metabase.push((file.clone(), rec.clone()));
            return Use::Added;
        }
        if rec.kind == ObjectKind::Imc && rec.get("Name").is_none() {
            // A `.reg` export: attached to its server's IMC once every file is read.
            self.pending_registry.push((file.clone(), rec.clone()));
            return Use::Added;
        }
        let (Some(name), Some(server)) = (Self::text(rec, "Name"), Self::text(rec, "Server"))
        else {
            self.diagnostics.push(Diagnostic::warning(
                file,
                Some(rec.line),
                format!("{} without Name and Server; skipped", rec.kind.as_str()),
            ));
            return Use::Dropped;
        };
        let identity = format!("{server}\\{name}");
        let mut raw: Vec<Raw> = RAW_NAMES.iter().filter_map(|n| Self::raw(rec, n)).collect();
        let mut extra_raw = Vec::new();
        let detail = match rec.kind {
            ObjectKind::Imc => {
                let mut entries = Vec::new();
                for e in list_of(rec.value("routing_entries")) {
                    match RoutingEntry::parse(&e) {
                        Some(r) => entries.push(r),
                        None => self.diagnostics.push(Diagnostic::warning(
                            file,
                            rec.get("routing_entries").map(|p| p.line),
                            format!("routing entry '{e}' of {identity} not understood; ignored"),
                        )),
                    }
                }
                Legacy::Imc(Imc {
                    reroute: Self::text(rec, "routing")
                        .map(|r| !r.to_ascii_lowercase().starts_with("do not")),
                    routing_entries: entries,
                    restrictions_recorded: rec.get("routing_restrictions").is_some(),
                    authenticate: bool_of(rec.value("hosts_that_successfully_authenticate"))
                        .unwrap_or(false),
                    ip_addresses_ticked: bool_of(
                        rec.value("hosts_and_clients_with_these_ip_addresses"),
                    )
                    .unwrap_or(false),
                    ip_addresses: list_of(rec.value("ip_addresses")),
                    internal_ticked: bool_of(
                        rec.value("hosts_connecting_to_these_internal_addresses"),
                    )
                    .unwrap_or(false),
                    hotfix_encapsulated_relay: bool_of(rec.value("hotfix_encapsulated_relay")),
                    ip_forwarding: bool_of(rec.value("ip_forwarding")),
                    internal_addresses: list_of(rec.value("internal_addresses")),
                    registry: None,
                })
            }
            ObjectKind::SmtpVirtualServer => {
                let (v, raw) = self.virtual_server(file, rec, &identity);
                extra_raw = raw;
                Legacy::VirtualServer(v)
            }
            _ => Legacy::Connector(SmtpConnector {
                address_space: list_of(rec.value("address_space")),
                allow_relay: bool_of(rec.value("allow_relay_to_these_domains")),
            }),
        };
        raw.extend(extra_raw);
        let obj = LegacyObject {
            kind: rec.kind,
            identity: identity.clone(),
            server,
            name,
            src: src.clone(),
            product: Self::text(rec, "version").and_then(|v| Product::parse(&v)),
            service_pack: Self::text(rec, "service_pack").and_then(|v| v.parse().ok()),
            raw,
            detail,
        };
        let key = format!("{}|{identity}", rec.kind.as_str());
        Self::upsert(
            &mut self.diagnostics,
            &mut self.model.legacy,
            &mut self.seen_legacy,
            &key,
            obj,
            rec.kind.as_str(),
            &src,
        )
    }
}

/// An IPSECLIST property of a record (`relay_ip_list`, `connection_control`), read.
enum BlobRead {
    /// Its mode and entries (`net mask` or names), and the two evidence rows.
    Decoded {
        mode: RelayMode,
        entries: Vec<String>,
        raws: [Raw; 2],
        bytes: Vec<u8>,
    },
    /// Why it cannot be decoded, and the evidence row with its size and first bytes.
    Undecoded {
        text: String,
        raw: Raw,
        bytes: Vec<u8>,
    },
}

/// Reads the IPSECLIST (hex) in `prop`, naming it by its metabase or Active Directory
/// attribute (`attrs`), with evidence rows named `rows` (mode, list).
fn read_blob(
    rec: &Record,
    prop: &str,
    attrs: [&'static str; 2],
    rows: [&'static str; 2],
) -> Option<BlobRead> {
    let p = rec.get(prop)?;
    let attr = if rec.get(crate::input::metabase::LOCATION).is_some() {
        attrs[0]
    } else {
        attrs[1]
    };
    let bytes = p
        .value
        .as_text()
        .and_then(super::ipseclist::from_hex)
        .unwrap_or_default();
    let row = |name: &'static str, value: String| Raw {
        name,
        value: value.into(),
        line: p.line,
        truncated: false,
    };
    Some(match super::ipseclist::decode(&bytes) {
        Ok(list) => {
            let entries: Vec<String> = list
                .addresses
                .iter()
                .map(|(a, m)| format!("{a} {m}"))
                .chain(list.names.iter().cloned())
                .collect();
            let raws = [
                row(
                    rows[0],
                    format!("{} (decoded from {attr}: {})", list.mode.label(), list.how),
                ),
                row(rows[1], entries.join(", ")),
            ];
            BlobRead::Decoded {
                mode: list.mode,
                entries,
                raws,
                bytes,
            }
        }
        Err(why) => {
            let text = format!("{}: {why}", super::ipseclist::describe(&bytes));
            BlobRead::Undecoded {
                raw: row(attr, text.clone()),
                text,
                bytes,
            }
        }
    })
}

impl ModelBuilder {
    /// The Access tab of a 2000/2003 SMTP virtual server from a settings-file, LDIF or
    /// metabase record; a relay-list blob is decoded here (or said to be unknown). Returns
    /// the evidence rows the decoding produced (`relay`, `relay_list` or the blob itself).
    pub(crate) fn virtual_server(
        &mut self,
        file: &Arc<str>,
        rec: &Record,
        identity: &str,
    ) -> (VirtualServer, Vec<Raw>) {
        let mut v = VirtualServer {
            relay_mode: Self::text(rec, "relay").map(|r| {
                if r.to_ascii_lowercase().starts_with("all except") {
                    RelayMode::AllExcept
                } else {
                    RelayMode::OnlyTheList
                }
            }),
            allow_authenticated_relay: bool_of(rec.value("allow_authenticated_relay")),
            authentication: rec.value("authentication").map(|v| list_of(Some(v))),
            internet_facing: bool_of(rec.value("internet_facing")),
            instance: Self::text(rec, "instance"),
            bindings: rec.value("server_bindings").map(|v| list_of(Some(v))),
            ..VirtualServer::default()
        };
        let mut raw = Vec::new();
        let mut entries = list_of(rec.value("relay_list"));
        let blob = read_blob(
            rec,
            "relay_ip_list",
            ["RelayIpList", "msExchSmtpRelayIpList"],
            ["relay", "relay_list"],
        );
        match blob {
            Some(BlobRead::Decoded {
                mode,
                entries: e,
                raws,
                bytes,
            }) => {
                v.relay_mode = Some(mode);
                entries = e;
                raw.extend(raws);
                v.relay_blob = Some(bytes);
            }
            Some(BlobRead::Undecoded {
                text,
                raw: r,
                bytes,
            }) => {
                raw.push(r);
                v.relay_list_undecoded = Some(text);
                v.relay_blob = Some(bytes);
            }
            None => {
                if let Some(p) = rec.get("relay_ip_list_absent") {
                    let attr: &'static str = if p.value.as_text() == Some("RelayIpList") {
                        "RelayIpList"
                    } else {
                        "msExchSmtpRelayIpList"
                    };
                    let text = format!(
                        "(not in the export): {attr} is not set, so the relay choice and list are not known"
                    );
                    raw.push(Raw {
                        name: attr,
                        value: text.as_str().into(),
                        line: p.line,
                        truncated: false,
                    });
                    v.relay_list_undecoded = Some(text);
                }
            }
        }
        self.connection_control(file, rec, identity, &mut v, &mut raw);
        for e in entries {
            match parse_ip_mask(&e) {
                Ok(r) => v.relay_ips.insert(r),
                Err(_) if is_name(&e) => v.relay_names.push(e.trim().to_string()),
                Err(err) => self.diagnostics.push(Diagnostic::warning(
                    file,
                    rec.get("relay_list")
                        .or_else(|| rec.get("relay_ip_list"))
                        .map(|p| p.line),
                    format!("relay list entry of {identity} not understood: {err}"),
                )),
            }
        }
        (v, raw)
    }

    /// Connection control, from a settings file (`connection`, `connection_list`) or a blob
    /// (`msExchIPSecurity`, `IPSecurity`), decoded like the relay list.
    fn connection_control(
        &mut self,
        file: &Arc<str>,
        rec: &Record,
        identity: &str,
        v: &mut VirtualServer,
        raw: &mut Vec<Raw>,
    ) {
        let mut entries = Vec::new();
        let mut mode = None;
        let blob = read_blob(
            rec,
            "connection_control",
            ["IPSecurity", "msExchIPSecurity"],
            ["connection", "connection_list"],
        );
        if let Some(blob) = blob {
            match blob {
                BlobRead::Decoded {
                    mode: m,
                    entries: e,
                    raws,
                    ..
                } => {
                    mode = Some(m);
                    entries = e;
                    raw.extend(raws);
                }
                BlobRead::Undecoded { text, raw: r, .. } => {
                    raw.push(r);
                    v.connection_undecoded = Some(text);
                    return;
                }
            }
        } else if let Some(m) = Self::text(rec, "connection") {
            mode = Some(if m.to_ascii_lowercase().starts_with("all except") {
                RelayMode::AllExcept
            } else {
                RelayMode::OnlyTheList
            });
            entries = list_of(rec.value("connection_list"));
            raw.extend(Self::raw(rec, "connection"));
            raw.extend(Self::raw(rec, "connection_list"));
        }
        let Some(mode) = mode else { return };
        let mut list = AccessList {
            mode,
            ips: IpSet::new(),
            names: Vec::new(),
        };
        for e in entries {
            match parse_ip_mask(&e) {
                Ok(r) => list.ips.insert(r),
                Err(_) if is_name(&e) => list.names.push(e.trim().to_string()),
                Err(err) => self.diagnostics.push(Diagnostic::warning(
                    file,
                    rec.get("connection_list")
                        .or_else(|| rec.get("connection_control"))
                        .map(|p| p.line),
                    format!("connection control entry of {identity} not understood: {err}"),
                )),
            }
        }
        v.connection = Some(list);
    }

    /// Objects read without a version (LDIF, `.reg`, MetaBase.xml) take their server's
    /// version and service pack from a settings file or `Get-ExchangeServer`.
    pub(crate) fn legacy_versions_from_servers(&mut self) {
        for o in &mut self.model.legacy {
            if o.product.is_some() {
                continue;
            }
            if let Some(s) = self
                .model
                .servers
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(&o.server))
            {
                o.product = s.product;
                o.service_pack = o.service_pack.or(s.service_pack);
            }
        }
    }
}

impl ModelBuilder {
    /// Attaches each `.reg` export to the IMC of the one Exchange 4.0-5.5 server the inputs
    /// describe (a `.reg` file does not name its computer). With no such server the values
    /// form an IMC of their own, judged without a version; with several, a warning says the
    /// registry could not be attributed.
    pub(crate) fn attach_registry(&mut self) {
        for (file, rec) in std::mem::take(&mut self.pending_registry) {
            let src = Source {
                file: file.clone(),
                line: rec.line,
            };
            let list = |name: &str| rec.get(name).map(|p| (list_of(Some(&p.value)), p.line));
            let mut reg = RegistryRelay {
                src: src.clone(),
                flags: rec.get("RelayFlags").and_then(|p| {
                    p.value
                        .as_text()
                        .and_then(|t| t.parse().ok())
                        .map(|f| (f, p.line))
                }),
                allow: list("RelayAllowList"),
                allow_ips: IpSet::new(),
                deny: list("RelayDenyList"),
                local: list("RelayLocalIPList"),
                ip_forwarding: rec
                    .get("IPEnableRouter")
                    .map(|p| (p.value.as_text().is_some_and(|t| t.trim() != "0"), p.line)),
                incomplete: ["RelayAllowList", "RelayDenyList", "RelayLocalIPList"]
                    .into_iter()
                    .filter_map(|n| {
                        rec.get(n)
                            .filter(|p| p.value.is_incomplete())
                            .map(|p| (n, p.line))
                    })
                    .collect(),
            };
            if let Some((entries, line)) = &reg.allow {
                for e in entries {
                    match parse_ip_mask(e) {
                        Ok(r) => reg.allow_ips.insert(r),
                        Err(err) => self.diagnostics.push(Diagnostic::warning(
                            &file,
                            Some(*line),
                            format!("RelayAllowList entry not understood: {err}"),
                        )),
                    }
                }
            }
            let imcs: Vec<usize> = (0..self.model.legacy.len())
                .filter(|&i| self.model.legacy[i].kind == ObjectKind::Imc)
                .collect();
            let legacy_servers: Vec<&super::ExchangeServer> = self
                .model
                .servers
                .iter()
                .filter(|s| s.product.is_some_and(|p| p <= Product::Ex55))
                .collect();
            if let [i] = imcs.as_slice() {
                if let Legacy::Imc(imc) = &mut self.model.legacy[*i].detail {
                    imc.registry = Some(reg);
                }
                continue;
            }
            if imcs.len() > 1 {
                self.diagnostics.push(Diagnostic::warning(
                    &file,
                    Some(rec.line),
                    "the IMC registry export names no computer and the inputs describe several Internet Mail Services: judged on its own",
                ));
            }
            let (server, product, service_pack) = match legacy_servers.as_slice() {
                [s] if imcs.is_empty() => (s.name.clone(), s.product, s.service_pack),
                _ => ("(unknown server)".to_string(), None, None),
            };
            let name = "Internet Mail Service".to_string();
            self.model.legacy.push(LegacyObject {
                kind: ObjectKind::Imc,
                identity: format!("{server}\\{name}"),
                server,
                name,
                src,
                product,
                service_pack,
                raw: Vec::new(),
                detail: Legacy::Imc(Imc {
                    registry: Some(reg),
                    ..Imc::default()
                }),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_entries_read_back_and_breadth() {
        let e = RoutingEntry::parse(
            "#p.example => reroute to mx.p.example; override relay restrictions",
        )
        .unwrap();
        assert_eq!(e.domain, "#p.example");
        assert_eq!(e.host.as_deref(), Some("mx.p.example"));
        assert!(e.override_relay);
        assert!(!e.is_broad());
        for broad in ["*", "com", "co.uk", "*.com"] {
            let e = RoutingEntry::parse(&format!("{broad} => accept as inbound")).unwrap();
            assert!(e.is_broad(), "{broad}");
        }
        assert!(!RoutingEntry::parse("contoso.com => accept as inbound")
            .unwrap()
            .is_broad());
    }

    #[test]
    fn relay_entries_parse_as_ip_and_mask() {
        assert_eq!(parse_ip_mask("10.0.0.0 255.0.0.0").unwrap().size(), 1 << 24);
        assert_eq!(
            parse_ip_mask("192.168.1.25;255.255.255.255")
                .unwrap()
                .size(),
            1
        );
        assert!(parse_ip_mask("mail.partner.example").is_err());
        assert!(is_name("mail.partner.example"));
    }

    #[test]
    fn address_space_star() {
        let c = SmtpConnector {
            address_space: vec![
                "SMTP:*;1".into(),
                "SMTP:contoso.com;1".into(),
                "X400:*;1".into(),
                "Local:SMTP:*;1".into(),
            ],
            allow_relay: Some(true),
        };
        assert_eq!(c.all_domains(), vec!["SMTP:*;1", "Local:SMTP:*;1"]);
    }
}
