//! Model: typed Exchange objects built from records, one conversion per kind.
//!
//! A record stays close to the export (names as exported, values as text); a model object is
//! typed: IP ranges are an [`ip_range::IpSet`], flag enums are lists of flag names (from their
//! display text or, when only the number survived, from the number), principals are
//! classified ([`principal::Principal`]). Every field keeps the line it came from, so a
//! finding can cite its evidence. Conversion problems (an IP range that does not parse, a
//! truncated list) become diagnostics here, never silent drops.
//!
//! The model is built incrementally ([`ModelBuilder::add`]) so parsers can stream: a record
//! is converted as soon as it is read and then dropped.

pub mod ace;
mod builder;
pub mod domain;
mod interner;
pub mod ip_range;
pub mod ipseclist;
pub mod legacy;
mod metabase;
pub mod principal;
pub mod raw_set;
pub mod transport;
pub mod usage;

pub use ace::{Ace, Grant};
pub(crate) use builder::parse_bool;
pub use builder::{organisation_of, reads, ModelBuilder, Use, AUTH_MECHANISMS, PERMISSION_GROUPS};
use ip_range::IpSet;
pub use raw_set::RawSet;
use std::sync::Arc;

/// A list of flag names (`AnonymousUsers, ExchangeServers`), shared by every object that
/// shows the same list.
pub type Flags = Arc<[String]>;

/// Where an object or a field came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: Arc<str>,
    pub line: u32,
}

/// A property as exported (`raw`, for evidence) and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub name: &'static str,
    /// Shared: the same text (`True`, `Tls, Integrated`, a principal) is held once per input.
    pub value: Arc<str>,
    pub line: u32,
    /// The export cut the collection off (`{a, b, c, d...}`).
    pub truncated: bool,
}

/// Exchange product generation, from `AdminDisplayVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Product {
    /// Exchange 4.0 (from a settings file)
    Ex40,
    /// Exchange 5.0
    Ex50,
    /// Exchange 5.5
    Ex55,
    Ex2000,
    Ex2003,
    Ex2007,
    Ex2010,
    Ex2013,
    Ex2016,
    Ex2019,
    ExSe,
}

impl Product {
    /// The name used in rule files and reports (`2019`, `SE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Ex40 => "4.0",
            Product::Ex50 => "5.0",
            Product::Ex55 => "5.5",
            Product::Ex2000 => "2000",
            Product::Ex2003 => "2003",
            Product::Ex2007 => "2007",
            Product::Ex2010 => "2010",
            Product::Ex2013 => "2013",
            Product::Ex2016 => "2016",
            Product::Ex2019 => "2019",
            Product::ExSe => "SE",
        }
    }

    pub fn parse(s: &str) -> Option<Product> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "4.0" => Product::Ex40,
            "5.0" => Product::Ex50,
            "5.5" => Product::Ex55,
            "2000" => Product::Ex2000,
            "2003" => Product::Ex2003,
            "2007" => Product::Ex2007,
            "2010" => Product::Ex2010,
            "2013" => Product::Ex2013,
            "2016" => Product::Ex2016,
            "2019" => Product::Ex2019,
            "SE" => Product::ExSe,
            _ => return None,
        })
    }

    /// Major.minor.build to product (FORMATS.md §6: 8 = 2007, 14 = 2010, 15.0 = 2013,
    /// 15.1 = 2016, 15.2 = 2019, and Subscription Edition from build 15.2.2562).
    pub fn from_version(major: u32, minor: u32, build: u32) -> Option<Product> {
        Some(match (major, minor) {
            (4, 0) => Product::Ex40,
            (5, 0) => Product::Ex50,
            (5, 5) => Product::Ex55,
            (6, 0) => Product::Ex2000,
            (6, 5) => Product::Ex2003,
            (8, _) => Product::Ex2007,
            (14, _) => Product::Ex2010,
            (15, 0) => Product::Ex2013,
            (15, 1) => Product::Ex2016,
            (15, 2) if build >= 2562 => Product::ExSe,
            (15, 2) => Product::Ex2019,
            _ => return None,
        })
    }
}

/// Parses `Version 15.2 (Build 986.5)` (also `15.2.986.5`).
pub fn parse_admin_display_version(s: &str) -> Option<(u32, u32, u32, u32)> {
    let nums: Vec<u32> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.parse().ok())
        .collect();
    match nums.as_slice() {
        [a, b, c, d, ..] => Some((*a, *b, *c, *d)),
        [a, b, c] => Some((*a, *b, *c, 0)),
        [a, b] => Some((*a, *b, 0, 0)),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub struct ExchangeServer {
    pub name: String,
    pub src: Source,
    pub version: Option<Raw>,
    pub product: Option<Product>,
    pub build: Option<(u32, u32, u32, u32)>,
    pub roles: Option<Raw>,
    /// Service pack number (settings files of legacy versions).
    pub service_pack: Option<u32>,
}

/// An `IP:port` binding of a receive connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub address: String,
    pub port: u16,
}

impl Binding {
    /// Parses `0.0.0.0:25`, `[::]:25`, `10.0.0.5:2525`.
    pub fn parse(s: &str) -> Option<Binding> {
        let s = s.trim();
        let (addr, port) = s.rsplit_once(':')?;
        let port: u16 = port.trim().parse().ok()?;
        let addr = addr.trim().trim_start_matches('[').trim_end_matches(']');
        Some(Binding {
            address: addr.to_string(),
            port,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ReceiveConnector {
    /// `SERVER\Name`, as Exchange prints it.
    pub identity: String,
    pub name: String,
    pub server: String,
    pub src: Source,
    pub enabled: Option<bool>,
    pub bindings: Vec<Binding>,
    /// RemoteIPRanges as a set. `None` when the export did not include the property.
    pub ranges: Option<IpSet>,
    /// Range entries that could not be parsed (kept for the report).
    pub bad_ranges: Vec<String>,
    pub permission_groups: Option<Flags>,
    pub auth_mechanism: Option<Flags>,
    pub require_tls: Option<bool>,
    pub transport_role: Option<String>,
    pub protocol_logging: Option<String>,
    /// Every property the model reads, as exported, for evidence and the `field` predicate.
    pub raw: RawSet,
}

impl ReceiveConnector {
    pub fn raw(&self, name: &str) -> Option<Raw> {
        self.raw.get(name)
    }

    pub fn has_permission_group(&self, g: &str) -> bool {
        self.permission_groups
            .as_ref()
            .is_some_and(|v| v.iter().any(|x| x.eq_ignore_ascii_case(g)))
    }

    pub fn has_auth(&self, m: &str) -> bool {
        self.auth_mechanism
            .as_ref()
            .is_some_and(|v| v.iter().any(|x| x.eq_ignore_ascii_case(m)))
    }

    /// `Default <S>` or `Default Frontend <S>` (and 2007/2010 `Default <S>`): the connectors
    /// Exchange setup creates, which Microsoft says never to open for relay.
    pub fn is_default(&self) -> bool {
        let n = self.name.to_ascii_lowercase();
        let s = self.server.to_ascii_lowercase();
        if s.is_empty() {
            return n.starts_with("default ");
        }
        n == format!("default {s}") || n == format!("default frontend {s}")
    }
}

#[derive(Debug, Clone)]
pub struct AcceptedDomain {
    pub identity: String,
    pub domain_name: String,
    pub domain_type: Option<String>,
    pub default: Option<bool>,
    pub src: Source,
    pub raw: Vec<Raw>,
}

/// The whole organisation as read from every input.
#[derive(Debug, Default)]
pub struct Model {
    pub servers: Vec<ExchangeServer>,
    pub connectors: Vec<ReceiveConnector>,
    pub aces: Vec<Ace>,
    pub domains: Vec<AcceptedDomain>,
    /// Exchange 4.0-2003 objects (IMC, SMTP virtual servers, SMTP connectors).
    pub legacy: Vec<legacy::LegacyObject>,
    /// Input files that show relay evidence relay-audit could not read.
    pub gaps: Vec<InputGap>,
    /// What the SMTP logs read beside the exports show (empty without logs).
    pub usage: usage::Usage,
    /// Transport services: the protocol-log retention per server.
    pub transport: Vec<transport::TransportService>,
    /// The Exchange organisations the objects' DistinguishedNames name
    /// (`Contoso (contoso.com)`), each with the first file that named it: more than one is
    /// more than one organisation in one audit.
    pub organisations: Vec<(String, Arc<str>)>,
}

/// The `User` of a permission entry whose export does not show it.
pub const UNKNOWN_USER: &str = "(User not exported)";

/// What an input could not give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// Lines that carry relay evidence (a relay right, a range, a relay list) that no reader
    /// understood (`INPUT-NOT-UNDERSTOOD`).
    NotUnderstood,
    /// The file ends in the middle of a line: it looks cut off, and what followed is unknown
    /// (`INPUT-CUT-OFF`).
    CutOff,
}

/// An input file whose evidence is incomplete in a way no object shows: never a quiet skip.
#[derive(Debug, Clone)]
pub struct InputGap {
    pub kind: GapKind,
    /// The file, at its first unread relay-bearing line.
    pub src: Source,
    /// The first such lines: (1-based line, text).
    pub lines: Vec<(u32, String)>,
    /// How many such lines the file has.
    pub count: usize,
    /// Objects of the file that went into the model (0: nothing at all was understood).
    pub objects_used: usize,
}

impl Model {
    pub fn server(&self, name: &str) -> Option<&ExchangeServer> {
        self.servers
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    pub fn connector(&self, identity: &str) -> Option<&ReceiveConnector> {
        self.connectors
            .iter()
            .find(|c| same_identity(&c.identity, identity))
    }
}

/// Identities compare case-insensitively (AD names are case-insensitive).
pub fn same_identity(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}
