//! Building the model: one conversion per kind of record, and the bookkeeping of a file's
//! objects (copies of one object merged, bare names attributed, organisations noted).

use super::ace;
use super::ip_range::{IpRange, IpSet};
use super::raw_set::{self, RawSet};
use super::transport;
use super::{
    parse_admin_display_version, AcceptedDomain, Binding, ExchangeServer, Flags, InputGap, Model,
    Product, Raw, ReceiveConnector, Source,
};
use crate::diag::Diagnostic;
use crate::input::record::{ObjectKind, Record, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The relay-relevant properties on which two copies of one connector differ.
fn relay_differences(a: &ReceiveConnector, b: &ReceiveConnector) -> Vec<&'static str> {
    let raw = |c: &ReceiveConnector, n: &str| c.raw(n).map(|r| (r.value.clone(), r.truncated));
    [
        "RemoteIPRanges",
        "PermissionGroups",
        "AuthMechanism",
        "Enabled",
        "Bindings",
    ]
    .into_iter()
    .filter(|n| raw(a, n) != raw(b, n))
    .collect()
}

/// Flags of either copy; unknown when either copy's are unknown.
fn union_flags(a: &Option<Flags>, b: Option<Flags>) -> Option<Flags> {
    let (Some(a), Some(b)) = (a.as_ref(), b) else {
        return None;
    };
    let mut b = b.to_vec();
    for f in a.iter().rev() {
        if !b.iter().any(|x| x.eq_ignore_ascii_case(f)) {
            b.insert(0, f.clone());
        }
    }
    // `None` is no flag at all: it does not survive next to a real one.
    if b.len() > 1 {
        b.retain(|x| !x.eq_ignore_ascii_case("None"));
    }
    Some(b.into())
}

/// Two conflicting copies of one connector judged as one that is at least as open as
/// either: ranges, bindings, permission groups and authentication mechanisms of both (unknown
/// when either is unknown), enabled when either is (or unknown), and each relay-relevant
/// property's evidence naming both copies. A conflict never makes the verdict better.
fn merge_open(a: &ReceiveConnector, b: ReceiveConnector) -> ReceiveConnector {
    let mut m = b;
    m.ranges = match (&a.ranges, m.ranges.take()) {
        (Some(x), Some(y)) => Some(x.union(&y)),
        _ => None,
    };
    for r in &a.bad_ranges {
        if !m.bad_ranges.contains(r) {
            m.bad_ranges.push(r.clone());
        }
    }
    for bd in &a.bindings {
        if !m.bindings.contains(bd) {
            m.bindings.push(bd.clone());
        }
    }
    m.permission_groups = union_flags(&a.permission_groups, m.permission_groups.take());
    m.auth_mechanism = union_flags(&a.auth_mechanism, m.auth_mechanism.take());
    m.enabled = match (a.enabled, m.enabled) {
        (Some(false), Some(false)) => Some(false),
        (Some(_), Some(_)) => Some(true),
        _ => None,
    };
    m.require_tls = match (a.require_tls, m.require_tls) {
        (Some(true), Some(true)) => Some(true),
        (Some(_), Some(_)) => Some(false),
        _ => None,
    };
    if a.protocol_logging.as_deref() != m.protocol_logging.as_deref() {
        m.protocol_logging = None;
    }
    let mut raw = m.raw.to_vec();
    for name in [
        "RemoteIPRanges",
        "PermissionGroups",
        "AuthMechanism",
        "Enabled",
        "Bindings",
        "RequireTLS",
        "ProtocolLoggingLevel",
    ] {
        let old = a.raw(name);
        let new = raw.iter().position(|r| r.name.eq_ignore_ascii_case(name));
        match (old, new) {
            (Some(o), Some(i)) if o.value != raw[i].value || o.truncated != raw[i].truncated => {
                let n = &mut raw[i];
                n.value = format!(
                    "{} (and '{}' in the copy at {}:{})",
                    n.value, o.value, a.src.file, o.line
                )
                .into();
                n.truncated |= o.truncated;
            }
            (Some(o), None) => raw.push(o),
            _ => {}
        }
    }
    // The ranges shown now list both copies; the set is their union.
    if let (Some(set), Some(i)) = (
        m.ranges.as_ref(),
        raw.iter().position(|r| r.name == "RemoteIPRanges"),
    ) {
        let shown = set
            .ranges()
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        raw[i].value = shown.into();
    }
    m.raw = RawSet::from(raw);
    m
}

/// Splits a flag enum's display text (`Tls, Integrated, BasicAuth`) into names.
fn split_flags(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec![],
        Value::Text(s) => s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        Value::List { items, .. } => items
            .iter()
            .flat_map(|s| s.split(','))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        // Only the flags before the cut are whole.
        Value::Cut(s) => {
            let mut v: Vec<String> = s.split(',').map(|t| t.trim().to_string()).collect();
            v.pop();
            v.retain(|t| !t.is_empty());
            v
        }
        Value::Missing(_) | Value::Unreadable(_) => vec![],
    }
}

/// Flag names for a number, for exports where only the enum value survived.
fn flags_from_number(n: u64, table: &[(&str, u64)]) -> Vec<String> {
    if n == 0 {
        return vec![table
            .iter()
            .find(|(_, v)| *v == 0)
            .map(|(s, _)| s.to_string())
            .unwrap_or_else(|| "None".into())];
    }
    table
        .iter()
        .filter(|(_, v)| *v != 0 && n & v == *v)
        .map(|(s, _)| s.to_string())
        .collect()
}

/// PermissionGroups values (FORMATS.md §5).
pub const PERMISSION_GROUPS: &[(&str, u64)] = &[
    ("None", 0),
    ("AnonymousUsers", 1),
    ("ExchangeUsers", 2),
    ("ExchangeServers", 4),
    ("ExchangeLegacyServers", 8),
    ("Partners", 16),
    ("Custom", 32),
];

/// AuthMechanism values (FORMATS.md §5).
pub const AUTH_MECHANISMS: &[(&str, u64)] = &[
    ("None", 0),
    ("Tls", 1),
    ("Integrated", 2),
    ("BasicAuth", 4),
    ("BasicAuthRequireTLS", 8),
    ("ExchangeServer", 16),
    ("ExternalAuthoritative", 32),
];

const DOMAIN_TYPES: &[(&str, u64)] = &[
    ("Authoritative", 0),
    ("ExternalRelay", 1),
    ("InternalRelay", 2),
];

const SERVER_ROLES: &[(&str, u64)] = &[("HubTransport", 32), ("FrontendTransport", 16384)];

const LOGGING_LEVELS: &[(&str, u64)] = &[("None", 0), ("Verbose", 1)];

fn flags(v: &Value, table: &[(&str, u64)]) -> Vec<String> {
    let names = split_flags(v);
    if names.len() == 1 {
        if let Ok(n) = names[0].parse::<u64>() {
            return flags_from_number(n, table);
        }
    }
    names
}

fn single_enum(v: &Value, table: &[(&str, u64)]) -> Option<String> {
    let t = v.display();
    let t = t.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(n) = t.parse::<u64>() {
        if let Some((s, _)) = table.iter().find(|(_, x)| *x == n) {
            return Some(s.to_string());
        }
    }
    Some(t.to_string())
}

pub(crate) fn parse_bool(v: &Value) -> Option<bool> {
    match v.display().trim().to_ascii_lowercase().as_str() {
        "true" | "$true" | "1" | "yes" => Some(true),
        "false" | "$false" | "0" | "no" => Some(false),
        _ => None,
    }
}

pub(super) fn items(v: &Value) -> (Vec<String>, bool) {
    match v {
        Value::Null => (vec![], false),
        Value::Text(s) if s.trim().is_empty() => (vec![], false),
        // A single value, or a joined list (`a; b` or `a, b`) from a CSV cell.
        Value::Text(s) => {
            let mut v: Vec<String> = s
                .split([',', ';'])
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            // (collected from a filter, the vector would keep room for 4)
            v.shrink_to_fit();
            (v, false)
        }
        Value::List { items, truncated } => (items.clone(), *truncated),
        // A cut cell: the last item shown may itself be cut.
        Value::Cut(s) => {
            let mut v: Vec<String> = s.split([',', ';']).map(|t| t.trim().to_string()).collect();
            v.pop();
            v.retain(|t| !t.is_empty());
            (v, true)
        }
        Value::Missing(_) | Value::Unreadable(_) => (vec![], true),
    }
}

/// Incremental model construction with per-file bookkeeping.
#[derive(Debug, Default)]
pub struct ModelBuilder {
    pub model: Model,
    pub diagnostics: Vec<Diagnostic>,
    pub(super) seen_connectors: HashMap<String, usize>,
    pub(super) seen_domains: HashMap<String, usize>,
    pub(super) seen_servers: HashMap<String, usize>,
    pub(crate) seen_legacy: HashMap<String, usize>,
    /// `.reg` exports of the IMC key, attached in [`ModelBuilder::finish`].
    pub(crate) pending_registry: Vec<(Arc<str>, Record)>,
    /// `MetaBase.xml` SMTP virtual servers, attributed in [`ModelBuilder::finish`].
    pub(crate) pending_metabase: Vec<(Arc<str>, Record)>,
    /// Receive connectors known only by a bare name, attributed in [`ModelBuilder::finish`].
    pub(super) pending_bare: Vec<(Arc<str>, Record)>,
    pub(super) resolving_bare: bool,
    pub(super) missing_rights: usize,
    /// Texts and grants read so far, each held once.
    pub(super) interner: super::interner::Interner,
    /// The shapes of the objects' exported properties, each held once.
    pub(super) shapes: raw_set::Shapes,
}

/// A receive connector's properties kept as evidence (and for the `field` predicate).
const CONNECTOR_RAW: [&str; 16] = [
    "Identity",
    "Enabled",
    "Bindings",
    "RemoteIPRanges",
    "PermissionGroups",
    "AuthMechanism",
    "RequireTLS",
    "TransportRole",
    "ProtocolLoggingLevel",
    "Fqdn",
    "Comment",
    "Banner",
    "TlsCertificateName",
    "DomainSecureEnabled",
    "MaxMessageSize",
    "AdvertiseClientSettings",
];

/// Does the model read `property` of an object of `kind`? A CliXML export's receive
/// connectors (about a hundred properties) and permission entries (about twenty) are read
/// for these only; the others are skipped unbuilt.
pub fn reads(kind: ObjectKind, property: &str) -> bool {
    let known = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(property));
    match kind {
        ObjectKind::ReceiveConnector => {
            known(&CONNECTOR_RAW) || known(&["Name", "Server", "ToString", "DistinguishedName"])
        }
        ObjectKind::AdPermission => known(&ace::PROPS),
        _ => true,
    }
}

/// The Exchange organisation a configuration object's DistinguishedName places it in:
/// `CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com` gives
/// `Contoso (contoso.com)`; `None` without one (or without a forest).
pub fn organisation_of(dn: &str) -> Option<String> {
    let rdns: Vec<&str> = dn.split(',').map(str::trim).collect();
    let forest: Vec<&str> = rdns
        .iter()
        .filter_map(|r| {
            r.get(..3)
                .filter(|p| p.eq_ignore_ascii_case("DC="))
                .map(|_| &r[3..])
        })
        .collect();
    let exchange = rdns
        .iter()
        .position(|r| r.eq_ignore_ascii_case("CN=Microsoft Exchange"))?;
    let org = rdns.get(exchange.checked_sub(1)?)?;
    let org = org.get(..3).filter(|p| p.eq_ignore_ascii_case("CN="))?;
    let name = &rdns[exchange - 1][org.len()..];
    // An Edge Transport server's configuration (AD LDS) names no forest: it belongs to
    // whichever organisation subscribed it, so it names none.
    if forest.is_empty() {
        return None;
    }
    Some(format!("{name} ({})", forest.join(".").to_lowercase()))
}

/// `into` followed by `from`; taken whole when `into` is empty (a file's hundreds of
/// thousands of permission entries are not copied, with both copies held for a moment).
fn append<T>(into: &mut Vec<T>, mut from: Vec<T>) {
    if into.is_empty() {
        std::mem::swap(into, &mut from);
    }
    into.append(&mut from);
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Added to the model.
    Added,
    /// Replaced an earlier copy of the same object (same identity).
    Replaced,
    /// Not usable (diagnostic emitted).
    Dropped,
}

impl ModelBuilder {
    pub fn new() -> ModelBuilder {
        ModelBuilder::default()
    }

    /// Notes the organisation `rec`'s DistinguishedName names, if any.
    fn note_organisation_of(&mut self, file: &Arc<str>, rec: &Record) {
        if let Some(org) = Self::text(rec, "DistinguishedName").and_then(|dn| organisation_of(&dn))
        {
            self.note_organisation(org, file);
        }
    }

    fn note_organisation(&mut self, org: String, file: &Arc<str>) {
        let known = &mut self.model.organisations;
        if known.len() < 64 && !known.iter().any(|(o, _)| o.eq_ignore_ascii_case(&org)) {
            known.push((org, file.clone()));
        }
    }

    /// Records a file's unread relay evidence.
    pub fn add_gap(&mut self, gap: InputGap) {
        self.model.gaps.push(gap);
    }

    /// Appends what `other` read (from files after this builder's, in a builder of their
    /// own, so that two files can be read at once) as if it had been read here: objects,
    /// indexes, pending attributions, diagnostics, in order. Only when the two share no
    /// object: a second copy of an object is merged property by property as it is read, so
    /// then `other` comes back (`Err`) and its files are read again here.
    pub fn absorb(&mut self, other: ModelBuilder) -> Result<(), Box<ModelBuilder>> {
        let shared = |a: &HashMap<String, usize>, b: &HashMap<String, usize>| {
            let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            small.keys().any(|k| large.contains_key(k))
        };
        if shared(&self.seen_connectors, &other.seen_connectors)
            || shared(&self.seen_domains, &other.seen_domains)
            || shared(&self.seen_servers, &other.seen_servers)
            || shared(&self.seen_legacy, &other.seen_legacy)
            || !other.model.usage.is_empty()
            || other.resolving_bare
        {
            return Err(Box::new(other));
        }
        let ModelBuilder {
            model,
            diagnostics,
            seen_connectors,
            seen_domains,
            seen_servers,
            seen_legacy,
            pending_registry,
            pending_metabase,
            pending_bare,
            resolving_bare: _,
            missing_rights,
            interner: _,
            shapes: _,
        } = other;
        let shift = |from: HashMap<String, usize>, into: &mut HashMap<String, usize>, by: usize| {
            into.extend(from.into_iter().map(|(k, i)| (k, i + by)));
        };
        shift(
            seen_connectors,
            &mut self.seen_connectors,
            self.model.connectors.len(),
        );
        shift(
            seen_domains,
            &mut self.seen_domains,
            self.model.domains.len(),
        );
        shift(
            seen_servers,
            &mut self.seen_servers,
            self.model.servers.len(),
        );
        shift(seen_legacy, &mut self.seen_legacy, self.model.legacy.len());
        let Model {
            servers,
            connectors,
            aces,
            domains,
            legacy,
            gaps,
            usage: _,
            transport,
            organisations,
        } = model;
        for (org, file) in organisations {
            self.note_organisation(org, &file);
        }
        append(&mut self.model.servers, servers);
        append(&mut self.model.connectors, connectors);
        // The collection script writes each connector's ACL to a file of its own: its grants
        // are the same dozen as every other file's, held once.
        let mut aces = aces;
        for a in &mut aces {
            a.share_grant(&mut self.interner);
        }
        append(&mut self.model.aces, aces);
        append(&mut self.model.domains, domains);
        append(&mut self.model.legacy, legacy);
        append(&mut self.model.gaps, gaps);
        append(&mut self.model.transport, transport);
        self.pending_registry.extend(pending_registry);
        self.pending_metabase.extend(pending_metabase);
        self.pending_bare.extend(pending_bare);
        self.diagnostics.extend(diagnostics);
        self.missing_rights += missing_rights;
        Ok(())
    }

    pub fn finish(mut self) -> (Model, Vec<Diagnostic>) {
        self.resolve_bare_identities();
        self.attach_registry();
        self.legacy_versions_from_servers();
        self.attach_metabase();
        (self.model, self.diagnostics)
    }

    /// Converts one record into the model.
    pub fn add(&mut self, file: &Arc<str>, rec: &Record) -> Use {
        match rec.kind {
            ObjectKind::ReceiveConnector => self.add_connector(file, rec),
            ObjectKind::AdPermission => self.add_ace(file, rec),
            ObjectKind::AcceptedDomain => self.add_domain(file, rec),
            ObjectKind::ExchangeServer => self.add_server(file, rec),
            ObjectKind::Imc | ObjectKind::SmtpVirtualServer | ObjectKind::SmtpConnector => {
                self.add_legacy(file, rec)
            }
            ObjectKind::TransportService => match transport::from_record(file, rec) {
                Some(t) => {
                    self.model.transport.push(t);
                    Use::Added
                }
                None => Use::Dropped,
            },
            ObjectKind::Input | ObjectKind::RelayUsage | ObjectKind::Probe => Use::Dropped,
        }
    }

    /// Permission entries whose echoed command named their connector by its bare name
    /// (`Get-ADPermission "Anonymous Relay"`) are attributed to the one exported connector of
    /// that name (`EX01\Anonymous Relay`); with none or several, the name stays as typed.
    fn resolve_bare_identities(&mut self) {
        let bare_aces = self
            .model
            .aces
            .iter()
            .any(|a| a.identity.as_deref().is_some_and(|id| !id.contains('\\')));
        if self.pending_bare.is_empty() && !bare_aces {
            return;
        }
        // Looked up once per bare name, never by a walk over every connector (thousands of
        // bare names against thousands of connectors would be quadratic).
        let by_name = self.connectors_by_name();
        let unique = |name: &str| -> Option<usize> {
            by_name
                .get(&name.trim().to_ascii_lowercase())
                .copied()
                .flatten()
        };
        // Connectors first: a bare name that matches exactly one exported `SERVER\name` is
        // that connector (its properties join the full export's; a conflict is judged as the
        // more open value); otherwise it stays as typed.
        self.resolving_bare = true;
        for (file, mut rec) in std::mem::take(&mut self.pending_bare) {
            let bare = Self::text(&rec, "Identity")
                .or_else(|| Self::text(&rec, "Name"))
                .unwrap_or_default();
            if let Some(i) = unique(&bare) {
                let full = self.model.connectors[i].identity.clone();
                let line = rec.line;
                rec.props
                    .retain(|p| !p.name.eq_ignore_ascii_case("Identity"));
                rec.push("Identity", Value::Text(full), line);
            }
            self.add_connector(&file, &rec);
        }
        self.resolving_bare = false;
        if !bare_aces {
            return;
        }
        let identities: std::collections::HashSet<String> = self
            .model
            .connectors
            .iter()
            .map(|c| c.identity.trim().to_lowercase())
            .collect();
        let connectors = &self.model.connectors;
        for ace in &mut self.model.aces {
            let Some(id) = ace.identity.as_deref() else {
                continue;
            };
            if id.contains('\\') || identities.contains(&id.trim().to_lowercase()) {
                continue;
            }
            if let Some(i) = unique(id) {
                ace.set_identity(self.interner.text(&connectors[i].identity));
            }
        }
    }

    /// Connectors exported as `SERVER\name`, by their name (trimmed, any case): the one
    /// connector of that name, or `None` when several servers have one.
    fn connectors_by_name(&self) -> HashMap<String, Option<usize>> {
        let mut by_name: HashMap<String, Option<usize>> = HashMap::new();
        for (i, c) in self.model.connectors.iter().enumerate() {
            if c.identity.contains('\\') {
                by_name
                    .entry(c.name.trim().to_ascii_lowercase())
                    .and_modify(|e| *e = None)
                    .or_insert(Some(i));
            }
        }
        by_name
    }

    pub(crate) fn raw(rec: &Record, name: &'static str) -> Option<Raw> {
        Self::raw_as(rec, name, |text| text.into())
    }

    /// A property as exported, its text made a shared string by `share`.
    fn raw_as(
        rec: &Record,
        name: &'static str,
        share: impl FnOnce(&str) -> Arc<str>,
    ) -> Option<Raw> {
        rec.get(name).map(|p| Raw {
            name,
            value: share(&p.value.display()),
            line: p.line,
            truncated: p.value.is_incomplete(),
        })
    }

    /// [`Self::raw`], its text shared with every equal text this builder read (connectors
    /// repeat `True`, `Tls, Integrated`, `0.0.0.0:25` thousands of times).
    fn shared_raw(&mut self, rec: &Record, name: &'static str) -> Option<Raw> {
        Self::raw_as(rec, name, |text| self.interner.text(text))
    }

    /// A property's text; `None` when absent, empty or unreadable (an unreadable Identity
    /// must not become a name something can be matched to).
    pub(crate) fn text(rec: &Record, name: &str) -> Option<String> {
        rec.value(name)
            .filter(|v| !matches!(v, Value::Unreadable(_)))
            .map(|v| v.display().trim().to_string())
            .filter(|s| !s.is_empty())
    }

    pub(crate) fn upsert<T>(
        diags: &mut Vec<Diagnostic>,
        list: &mut Vec<T>,
        seen: &mut HashMap<String, usize>,
        key: &str,
        obj: T,
        what: &str,
        src: &Source,
    ) -> Use {
        let k = key.trim().to_lowercase();
        if let Some(&i) = seen.get(&k) {
            diags.push(Diagnostic::info(
                &src.file,
                Some(src.line),
                format!("{what} '{key}' was already read from another export; this later copy replaces it"),
            ));
            list[i] = obj;
            Use::Replaced
        } else {
            seen.insert(k, list.len());
            list.push(obj);
            Use::Added
        }
    }

    fn add_connector(&mut self, file: &Arc<str>, rec: &Record) -> Use {
        self.note_organisation_of(file, rec);
        let src = Source {
            file: file.clone(),
            line: rec.line,
        };
        let name = Self::text(rec, "Name");
        let server = Self::text(rec, "Server");
        let identity = Self::text(rec, "Identity")
            .or_else(|| Self::text(rec, "ToString"))
            .or_else(|| match (&server, &name) {
                (Some(s), Some(n)) => Some(format!("{s}\\{n}")),
                _ => None,
            });
        let identity = match identity.or_else(|| name.clone()) {
            Some(id) => id,
            None => {
                // Kept and judged under a name that says where it is: a relay right or an
                // open range on it must not vanish with its identity.
                let id = format!("(connector without identity, {file}:{})", rec.line);
                self.diagnostics.push(Diagnostic::warning(
                    file,
                    Some(rec.line),
                    format!("receive connector without Identity, Name or DistinguishedName: judged as '{id}'. Export with Format-List * or Export-Clixml"),
                ));
                id
            }
        };
        if !identity.contains('\\') && !identity.starts_with('(') && !self.resolving_bare {
            // A bare name (`Get-ReceiveConnector "Anonymous Relay" | fl ...`): attributed in
            // `finish`, once every input is read, to the one `SERVER\name` of that name.
            self.pending_bare.push((file.clone(), rec.clone()));
            return Use::Added;
        }
        let (id_server, id_name) = match identity.split_once('\\') {
            Some((s, n)) => (s.to_string(), n.to_string()),
            None => (String::new(), identity.clone()),
        };
        let name = name.unwrap_or(id_name);
        let server = server.unwrap_or(id_server);

        let mut raw = Vec::new();
        for n in CONNECTOR_RAW {
            if let Some(r) = self.shared_raw(rec, n) {
                raw.push(r);
            }
        }

        let mut bindings = Vec::new();
        if let Some(v) = rec.value("Bindings") {
            let (list, _) = items(v);
            for b in list {
                match Binding::parse(&b) {
                    Some(b) => bindings.push(b),
                    None => self.diagnostics.push(Diagnostic::warning(
                        file,
                        rec.get("Bindings").map(|p| p.line),
                        format!(
                            "binding '{}' of {identity} is not IP:port; ignored",
                            crate::input::lines::clip(&b, 120)
                        ),
                    )),
                }
            }
        }

        // (held for the whole run, thousands at once: no room kept for more)
        bindings.shrink_to_fit();
        let mut bad_ranges = Vec::new();
        let ranges = rec.get("RemoteIPRanges").and_then(|p| {
            let (list, truncated) = items(&p.value);
            let mut set = IpSet::new();
            for r in &list {
                match IpRange::parse(r) {
                    Ok(r) => set.insert(r),
                    Err(e) => {
                        self.diagnostics.push(Diagnostic::warning(
                            file,
                            Some(p.line),
                            format!("RemoteIPRanges entry of {identity} not understood: {e}"),
                        ));
                        bad_ranges.push(r.clone());
                    }
                }
            }
            match &p.value {
                Value::Missing(t) => self.diagnostics.push(Diagnostic::warning(
                    file,
                    Some(p.line),
                    format!(
                        "RemoteIPRanges of {identity} was exported only as a type name ({t}): the ranges are unknown (Export-Csv without -join)"
                    ),
                )),
                Value::Unreadable(why) => self.diagnostics.push(Diagnostic::warning(
                    file,
                    Some(p.line),
                    format!("RemoteIPRanges of {identity} could not be read ({why}): the ranges are unknown"),
                )),
                _ if list.is_empty() => {
                    // Exchange never stores an empty RemoteIPRanges (the cmdlets refuse it):
                    // an empty value is evidence the export lost, never "no client".
                    self.diagnostics.push(Diagnostic::warning(
                        file,
                        Some(p.line),
                        format!(
                            "RemoteIPRanges of {identity} is empty in the export ('{}'); Exchange never stores an empty list, so the ranges are unknown",
                            p.value.display()
                        ),
                    ));
                    return None;
                }
                _ if truncated => self.diagnostics.push(Diagnostic::warning(
                    file,
                    Some(p.line),
                    format!(
                        "RemoteIPRanges of {identity} is cut off after {} entries: the remaining ranges are unknown",
                        list.len()
                    ),
                )),
                _ => {}
            }
            set.shrink_to_fit();
            (!list.is_empty()).then_some(set)
        });

        let conn = ReceiveConnector {
            identity: identity.clone(),
            name,
            server,
            src: src.clone(),
            enabled: rec.value("Enabled").and_then(parse_bool),
            bindings,
            ranges,
            bad_ranges,
            permission_groups: rec
                .value("PermissionGroups")
                .map(|v| self.interner.flags(flags(v, PERMISSION_GROUPS))),
            auth_mechanism: rec
                .value("AuthMechanism")
                .map(|v| self.interner.flags(flags(v, AUTH_MECHANISMS))),
            require_tls: rec.value("RequireTLS").and_then(parse_bool),
            transport_role: rec
                .value("TransportRole")
                .and_then(|v| single_enum(v, SERVER_ROLES)),
            protocol_logging: rec
                .value("ProtocolLoggingLevel")
                .and_then(|v| single_enum(v, LOGGING_LEVELS)),
            raw: RawSet::new(raw, rec.line, &mut self.shapes),
        };
        let key = identity.trim().to_lowercase();
        if let Some(&i) = self.seen_connectors.get(&key) {
            let before = &self.model.connectors[i];
            let differ = relay_differences(before, &conn);
            if !differ.is_empty() {
                self.diagnostics.push(Diagnostic::warning(
                    file,
                    Some(rec.line),
                    format!(
                        "receive connector '{identity}' is exported twice with different {} ({}:{} and {}:{}): which copy is current is unknown, so it is judged with the more open value of each",
                        differ.join(", "),
                        before.src.file,
                        before.src.line,
                        src.file,
                        src.line
                    ),
                ));
                let merged = merge_open(before, conn);
                self.model.connectors[i] = merged;
                return Use::Replaced;
            }
        }
        Self::upsert(
            &mut self.diagnostics,
            &mut self.model.connectors,
            &mut self.seen_connectors,
            &identity,
            conn,
            "receive connector",
            &src,
        )
    }

    fn add_domain(&mut self, file: &Arc<str>, rec: &Record) -> Use {
        self.note_organisation_of(file, rec);
        let src = Source {
            file: file.clone(),
            line: rec.line,
        };
        let domain_name = Self::text(rec, "DomainName");
        let identity = Self::text(rec, "Identity")
            .or_else(|| Self::text(rec, "Name"))
            .or_else(|| domain_name.clone());
        let Some(identity) = identity else {
            self.diagnostics.push(Diagnostic::warning(
                file,
                Some(rec.line),
                "accepted domain without Identity, Name or DomainName; skipped",
            ));
            return Use::Dropped;
        };
        // Kept without its DomainName: whether it is `*` is unknown (DOM-EVIDENCE-INCOMPLETE).
        let domain_name = domain_name.unwrap_or_default();
        let mut raw = Vec::new();
        for n in ["Identity", "Name", "DomainName", "DomainType", "Default"] {
            if let Some(r) = self.shared_raw(rec, n) {
                raw.push(r);
            }
        }
        // (one per domain, thousands at once: no spare room)
        raw.shrink_to_fit();
        let d = AcceptedDomain {
            identity: identity.clone(),
            domain_name,
            domain_type: rec
                .value("DomainType")
                .and_then(|v| single_enum(v, DOMAIN_TYPES)),
            default: rec.value("Default").and_then(parse_bool),
            src: src.clone(),
            raw,
        };
        Self::upsert(
            &mut self.diagnostics,
            &mut self.model.domains,
            &mut self.seen_domains,
            &identity,
            d,
            "accepted domain",
            &src,
        )
    }

    fn add_server(&mut self, file: &Arc<str>, rec: &Record) -> Use {
        self.note_organisation_of(file, rec);
        let src = Source {
            file: file.clone(),
            line: rec.line,
        };
        let Some(name) = Self::text(rec, "Name").or_else(|| Self::text(rec, "Identity")) else {
            self.diagnostics.push(Diagnostic::warning(
                file,
                Some(rec.line),
                "Exchange server without Name; skipped",
            ));
            return Use::Dropped;
        };
        let version = Self::raw(rec, "AdminDisplayVersion");
        let build = version
            .as_ref()
            .and_then(|v| parse_admin_display_version(&v.value));
        let mut product = build.and_then(|(a, b, c, _)| Product::from_version(a, b, c));
        // A settings file names the legacy version as the console does (`5.5`, `2003`).
        let legacy_version = Self::raw(rec, "Version");
        if version.is_none() {
            product = legacy_version
                .as_ref()
                .and_then(|v| Product::parse(&v.value));
        }
        let version = version.or(legacy_version);
        if version.is_some() && product.is_none() {
            self.diagnostics.push(Diagnostic::warning(
                file,
                version.as_ref().map(|v| v.line),
                format!(
                    "AdminDisplayVersion '{}' of {name} is not a known Exchange version",
                    version.as_ref().map(|v| v.value.as_ref()).unwrap_or("")
                ),
            ));
        }
        let s = ExchangeServer {
            name: name.clone(),
            src: src.clone(),
            version,
            product,
            build,
            roles: Self::raw(rec, "ServerRole"),
            service_pack: Self::text(rec, "service_pack").and_then(|v| v.parse().ok()),
        };
        Self::upsert(
            &mut self.diagnostics,
            &mut self.model.servers,
            &mut self.seen_servers,
            &name,
            s,
            "Exchange server",
            &src,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_products() {
        let v = parse_admin_display_version("Version 15.2 (Build 986.5)").unwrap();
        assert_eq!(v, (15, 2, 986, 5));
        assert_eq!(Product::from_version(15, 2, 986), Some(Product::Ex2019));
        assert_eq!(Product::from_version(15, 2, 2562), Some(Product::ExSe));
        assert_eq!(Product::from_version(15, 1, 2375), Some(Product::Ex2016));
        assert_eq!(Product::from_version(14, 3, 123), Some(Product::Ex2010));
        assert_eq!(Product::from_version(8, 3, 83), Some(Product::Ex2007));
    }

    #[test]
    fn flags_from_text_or_number() {
        assert_eq!(
            flags(&Value::Text("13".into()), PERMISSION_GROUPS),
            vec!["AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers"]
        );
        assert_eq!(
            flags(
                &Value::Text("Tls, ExternalAuthoritative".into()),
                AUTH_MECHANISMS
            ),
            vec!["Tls", "ExternalAuthoritative"]
        );
        assert_eq!(
            flags(&Value::Text("0".into()), AUTH_MECHANISMS),
            vec!["None"]
        );
    }

    #[test]
    fn bindings_parse() {
        assert_eq!(
            Binding::parse("[::]:25"),
            Some(Binding {
                address: "::".into(),
                port: 25
            })
        );
        assert_eq!(Binding::parse("0.0.0.0:2525").unwrap().port, 2525);
        assert_eq!(Binding::parse("nonsense"), None);
    }

    #[test]
    fn default_connectors_are_recognised() {
        let mut r = Record::new(ObjectKind::ReceiveConnector, 1);
        r.push(
            "Identity",
            Value::Text("EX01\\Default Frontend EX01".into()),
            1,
        );
        let mut b = ModelBuilder::new();
        b.add(&Arc::from("f"), &r);
        assert!(b.model.connectors[0].is_default());
        assert_eq!(b.model.connectors[0].server, "EX01");
    }
}

#[cfg(test)]
mod damaged_evidence {
    use super::*;

    fn rc(identity: &str, line: u32, props: &[(&str, Value)]) -> Record {
        let mut r = Record::new(ObjectKind::ReceiveConnector, line);
        r.push("Identity", Value::Text(identity.into()), line);
        for (n, v) in props {
            r.push(*n, v.clone(), line + 1);
        }
        r
    }

    #[test]
    fn empty_or_unreadable_remote_ip_ranges_are_unknown() {
        for v in [
            Value::Null,
            Value::Text(String::new()),
            Value::List {
                items: vec![],
                truncated: false,
            },
            Value::Unreadable("dangling <Ref>".into()),
        ] {
            let mut b = ModelBuilder::new();
            b.add(
                &Arc::from("f"),
                &rc("EX01\\R", 1, &[("RemoteIPRanges", v.clone())]),
            );
            assert!(b.model.connectors[0].ranges.is_none(), "{v:?}");
            assert!(
                b.diagnostics.iter().any(|d| d.message.contains("unknown")),
                "{v:?}"
            );
        }
    }

    #[test]
    fn conflicting_copies_are_judged_as_the_more_open() {
        let mut b = ModelBuilder::new();
        let list = |v: &[&str]| Value::List {
            items: v.iter().map(|s| s.to_string()).collect(),
            truncated: false,
        };
        b.add(
            &Arc::from("a.xml"),
            &rc(
                "EX01\\Relay",
                3,
                &[
                    ("RemoteIPRanges", list(&["0.0.0.0-255.255.255.255"])),
                    ("PermissionGroups", Value::Text("AnonymousUsers".into())),
                    ("Enabled", Value::Text("True".into())),
                ],
            ),
        );
        b.add(
            &Arc::from("b.txt"),
            &rc(
                "ex01\\relay",
                9,
                &[
                    ("RemoteIPRanges", list(&["10.0.0.1"])),
                    ("PermissionGroups", Value::Text("ExchangeServers".into())),
                    ("Enabled", Value::Text("False".into())),
                ],
            ),
        );
        assert_eq!(b.model.connectors.len(), 1);
        let c = &b.model.connectors[0];
        assert!(c.ranges.as_ref().unwrap().covers_all());
        assert!(c.has_permission_group("AnonymousUsers"));
        assert!(c.has_permission_group("ExchangeServers"));
        assert_eq!(c.enabled, Some(true));
        let d = b
            .diagnostics
            .iter()
            .find(|d| d.message.contains("exported twice"))
            .expect("a warning");
        assert_eq!(d.level, crate::diag::Level::Warning);
        assert!(
            d.message.contains("a.xml:3") && d.message.contains("b.txt:9"),
            "{d}"
        );
    }

    /// A bare name (`Get-ADPermission "Relay"`) goes to the one `SERVER\name` of that name,
    /// stays as typed when several servers have one, and a bare connector is its own.
    #[test]
    fn bare_names_go_to_the_one_connector_of_that_name() {
        let file: Arc<str> = "perms.txt".into();
        let ace = |identity: &str, line: u32| {
            let mut r = Record::new(ObjectKind::AdPermission, line);
            r.push("Identity", Value::Text(identity.into()), line);
            r.push(
                "User",
                Value::Text("NT AUTHORITY\\ANONYMOUS LOGON".into()),
                line,
            );
            r
        };
        let mut b = ModelBuilder::new();
        for (i, id) in ["EX01\\Relay", "EX01\\Shared", "EX02\\Shared"]
            .iter()
            .enumerate()
        {
            b.add(&file, &rc(id, 10 * i as u32 + 1, &[]));
        }
        b.add(&file, &rc("Lonely", 40, &[]));
        for (i, id) in ["relay ", "Shared", "Lonely", "Nowhere"].iter().enumerate() {
            b.add(&file, &ace(id, 100 + i as u32));
        }
        let (m, _) = b.finish();
        let ids: Vec<&str> = m
            .aces
            .iter()
            .map(|a| a.identity.as_deref().unwrap())
            .collect();
        assert_eq!(ids, ["EX01\\Relay", "Shared", "Lonely", "Nowhere"]);
    }
}
