//! Rule conditions: a closed set of typed predicates, deserialized from a rule's `when`.
//!
//! Not a programming language: `all` / `any` / `not` combine domain predicates, each of which
//! answers one question about the object (through `crate::analysis`) and, when true, returns
//! the evidence that made it true. A condition reads like the pitfall it describes:
//!
//! ```toml
//! when.all = [
//!   { holds = { principal = "anonymous", right = "ms-Exch-SMTP-Accept-Any-Recipient" } },
//!   { ranges_cover_all = true },
//! ]
//! ```
//!
//! Each predicate states which object kinds it applies to; a rule that uses one on the wrong
//! kind is refused when the rule file is loaded.

use crate::analysis::{ConnectorFacts, Via};
use crate::input::record::ObjectKind;
use crate::model::domain::domain_scope;
use crate::model::legacy::LegacyObject;
use crate::model::{AcceptedDomain, Ace, GapKind, InputGap, ReceiveConnector, Source};
use serde::{Deserialize, Serialize};

mod legacy;
pub(crate) mod probe;
pub(crate) mod usage;

use legacy::eval_legacy;
use usage::eval_usage;

/// A piece of evidence: the exported property (and where it is) that decided a predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub property: String,
    pub value: String,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// The object a rule is evaluated on.
pub enum Subject<'a, 'm> {
    Connector(&'a ConnectorFacts<'m>),
    Domain(&'m AcceptedDomain),
    /// An ACE and the exported connector it is on (`None`: not named, or not exported).
    Ace {
        ace: &'m Ace,
        connector: Option<&'a ConnectorFacts<'m>>,
    },
    /// An Exchange 4.0-2003 object (IMC, SMTP virtual server, SMTP connector).
    Legacy(&'m LegacyObject),
    /// An input file with relay evidence no reader understood.
    Input(&'m InputGap),
    /// A receive connector as the SMTP logs show it.
    Usage(&'a crate::analysis::usage::ConnectorUsage<'m>),
    Probe(&'a probe::ProbeSubject<'m>),
}

/// Who a `holds` / `ace` predicate asks about.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Principals {
    One(String),
    Many(Vec<String>),
}

impl Principals {
    pub fn list(&self) -> Vec<&str> {
        match self {
            Principals::One(s) => vec![s.as_str()],
            Principals::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsSpec {
    /// A principal class (`anonymous`, `authenticated-users`, `everyone`,
    /// `externally-secured-servers`, ... or `any`), or a list of them. `anonymous` and
    /// `authenticated-users` mean the session token, which also carries Everyone.
    pub principal: Principals,
    /// The extended right, e.g. `ms-Exch-SMTP-Accept-Any-Recipient` (any case).
    pub right: String,
    /// Only grants that the connector's PermissionGroups do not account for (added by hand
    /// with `Add-ADPermission`).
    #[serde(default)]
    pub explicit: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagSpec {
    /// `PermissionGroups` or `AuthMechanism`.
    pub property: String,
    pub flag: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Property name as exported (case-insensitive).
    pub name: String,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub one_of: Option<Vec<String>>,
    /// A regular expression (linear-time `regex` crate; size-limited).
    #[serde(default)]
    pub matches: Option<String>,
    /// True: the property is absent from the export or empty.
    #[serde(default)]
    pub missing: Option<bool>,
    /// True: the export has no such property at all (a column or line never exported), as
    /// opposed to an exported empty value.
    #[serde(default)]
    pub absent: Option<bool>,
    /// `matches`, compiled once for the rule, not once per object.
    #[serde(skip)]
    compiled: std::sync::OnceLock<Option<regex::Regex>>,
}

impl FieldSpec {
    fn regex(&self) -> Option<&regex::Regex> {
        let re = self.matches.as_deref()?;
        self.compiled
            .get_or_init(|| {
                regex::RegexBuilder::new(re)
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .ok()
            })
            .as_ref()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AceSpec {
    pub principal: Principals,
    /// The extended right; when absent, any entry for the principal matches.
    #[serde(default)]
    pub right: Option<String>,
    #[serde(default)]
    pub deny: bool,
}

/// The predicates. See each variant for the object kinds it applies to.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Cond {
    /// Every condition holds (evidence of all of them).
    All(Vec<Cond>),
    /// At least one holds (evidence of the first that does).
    Any(Vec<Cond>),
    /// The condition does not hold.
    Not(Box<Cond>),
    /// receive-connector: the principal effectively holds the right (allowed by an ACE, a
    /// permission group or Externally Secured, and not denied).
    Holds(HoldsSpec),
    /// receive-connector: a flag enum property has the flag.
    HasFlag(FlagSpec),
    /// receive-connector: RemoteIPRanges cover all of IPv4 or all of IPv6 (the whole
    /// Internet). True on a truncated list when the ranges shown already cover all.
    RangesCoverAll(bool),
    /// receive-connector: RemoteIPRanges hold more than N addresses (the shown part of a
    /// truncated list counts: more ranges only add addresses).
    AddressesGt(u128),
    /// receive-connector: RemoteIPRanges are complete and hold at most N addresses.
    AddressesLe(u128),
    /// receive-connector: RemoteIPRanges hold more than N globally routable addresses
    /// (IANA special-purpose blocks excluded).
    PublicAddressesGt(u128),
    /// receive-connector: RemoteIPRanges are in the export and not cut off (or what is shown
    /// already covers everything).
    RangesKnown(bool),
    /// receive-connector: bound to this TCP port.
    Port(u16),
    /// receive-connector: `Default <S>` or `Default Frontend <S>`.
    DefaultConnector(bool),
    /// receive-connector: Enabled (a connector exported without Enabled counts as enabled).
    Enabled(bool),
    /// receive-connector: Get-ADPermission entries were exported for it.
    PermissionsExported(bool),
    /// receive-connector: its Get-ADPermission entries were exported *with their rights*
    /// (every entry has a complete ExtendedRights value; a missing column, a cut list or an
    /// Export-Csv type name leaves the rights unknown).
    PermissionRightsKnown(bool),
    /// any kind: compare an exported property.
    Field(FieldSpec),
    /// accepted-domain: `everything` (`*`) or `public-suffix` (`*.com`, `*.co.uk`).
    DomainScope(String),
    /// ad-permission: the entry grants (or with `deny`, denies) the right to the principal.
    Ace(AceSpec),
    /// ad-permission: the connector the entry is on was exported.
    ConnectorExported(bool),
    /// any kind: one of these properties is in the export but incomplete: a list cut off
    /// (`{a, b, c, d...}`), a cell cut (`EX01\Anonymous Re...`) or only a type name
    /// (Export-Csv without `-join`).
    Incomplete(Vec<String>),
    /// imc: "Reroute incoming SMTP mail" (true) or "Do not reroute incoming SMTP mail"
    /// (false) is selected on the Routing tab.
    Reroute(bool),
    /// imc: a Routing Restriction limits who may route through the IMC: "Hosts and clients
    /// that successfully authenticate", "... with these IP addresses" or "... connecting to
    /// these internal addresses" is ticked.
    RoutingRestricted(bool),
    /// imc: "Hosts and clients with these IP addresses" ticked and its list empty (the
    /// undocumented way to refuse relay to every unauthenticated client).
    EmptyIpListTrick(bool),
    /// imc: a routing entry says "Override relay restrictions" for every domain (`*`) or a
    /// whole public suffix (`com`, `co.uk`; an entry without `#` covers its subdomains).
    OverrideRelayBroad(bool),
    /// imc, smtp-virtual-server, smtp-connector: the recorded service pack is below N (an
    /// unrecorded service pack never matches).
    ServicePackLt(u32),
    /// imc: the post-SP2 IMC hotfix for encapsulated addresses (MS99-027) is recorded as
    /// installed.
    EncapsulatedRelayHotfix(bool),
    /// smtp-virtual-server: the Relay choice, `only-the-list` ("Only the list below") or
    /// `all-except` ("All except the list below").
    RelayMode(String),
    /// smtp-virtual-server: the relay list has no entry.
    RelayListEmpty(bool),
    /// smtp-virtual-server: the IP entries of the relay list hold more than N addresses.
    RelayListAddressesGt(u128),
    /// smtp-virtual-server: the IP entries of the relay list hold more than N globally
    /// routable addresses.
    RelayListPublicAddressesGt(u128),
    /// smtp-virtual-server: the relay list has domain-name entries (granted by reverse DNS).
    RelayListNames(bool),
    /// smtp-virtual-server: "Allow all computers which successfully authenticate to relay,
    /// regardless of the list above" is ticked.
    AuthenticatedRelay(bool),
    /// smtp-virtual-server: the authentication method `anonymous`, `basic` or `integrated`
    /// is ticked.
    Authentication(String),
    /// smtp-virtual-server: recorded as reachable on port 25 from the Internet.
    InternetFacing(bool),
    /// smtp-virtual-server: the relay list is known: recorded in a settings file, or (false)
    /// exported as an `msExchSmtpRelayIpList` blob relay-audit cannot decode with certainty.
    RelayListDecoded(bool),
    /// smtp-virtual-server: a MetaBase.xml copy of the server was read and differs from the
    /// Active Directory settings (relay restrictions, authenticated relay, authentication,
    /// bindings). Evidence: each setting, with both values and both lines.
    MetabaseDrift(bool),
    /// smtp-virtual-server: the metabase copy (what the SMTP service runs on) relays for every
    /// host not on a deny list ("All except the list below"), while the Active Directory
    /// settings do not.
    MetabaseRelayOpen(bool),
    /// smtp-connector: the address space holds `*` (every SMTP domain).
    AddressSpaceAll(bool),
    /// smtp-connector: "Allow messages to be relayed to these domains" is ticked.
    RelayToAddressSpace(bool),
    /// imc (`.reg` export): `RelayFlags` has the deny-list bit (1) but neither the allow-list
    /// (2) nor the local-interface (4) bit: everyone not on the deny list may relay.
    RelayFlagsDenyOnly(bool),
    /// imc (`.reg` export): `RelayFlags` applies the allow list (bit 2) and `RelayAllowList`
    /// holds more than N addresses.
    RegistryAllowAddressesGt(u128),
    /// imc (`.reg` export): as `registry_allow_addresses_gt`, counting globally routable
    /// addresses only.
    RegistryAllowPublicAddressesGt(u128),
    /// imc (`.reg` export): the registry still holds relay values that grant relay: entries in
    /// `RelayAllowList`, or `RelayFlags` bit 8 (authenticated clients may relay).
    RegistryRelayValues(bool),
    /// imc: hosts connecting to the server's internal addresses may relay (RelayFlags bit 4
    /// with a `RelayLocalIPList`, or "Hosts connecting to these internal addresses" ticked
    /// with addresses), and the server forwards IP packets between its interfaces
    /// (`IPEnableRouter` = 1, or `ip_forwarding = true`): an outside host can reach an
    /// internal address through the server and relay.
    LocalInterfaceForwarding(bool),
    /// ad-permission: an allow entry the export cut off (User or ExtendedRights ends in `...`,
    /// or the rights list was cut) whose visible part is consistent with granting the right to
    /// the principal (`NT AUTHORIT...` / `ms-Exch-SMTP-Accep...`), and that is not already a
    /// whole match (`ace` covers those).
    AceMay(AceSpec),
    /// ad-permission: the connector the entry is on is not named or not exported, or its
    /// RemoteIPRanges are unknown (missing, cut) or hold more than 16 addresses.
    ConnectorScopeOpen(bool),
    /// imc (`.reg` export): a relay list (`RelayAllowList`, `RelayDenyList`,
    /// `RelayLocalIPList`) is in the export only in part: what it holds beyond is unknown.
    RegistryListIncomplete(bool),
    /// input: the file has lines that carry relay evidence (a relay right, RemoteIPRanges,
    /// PermissionGroups, a relay list, ...) that no reader understood.
    NotUnderstood(bool),
    /// input: the file ends in the middle of a line (no line break after its last line): it
    /// looks cut off, and what followed is unknown.
    CutOff(bool),
    /// relay-usage: a host relayed through the connector: the logs show a 2xx for a recipient
    /// outside every accepted domain (`*` and public-suffix accepted domains do not count).
    /// Evidence: each matching host, with sessions, counts, sample recipients and window.
    Relayed(usage::RelayedSpec),
    /// relay-usage: the export lets hosts relay here without authenticating (anonymous
    /// `ms-Exch-SMTP-Accept-Any-Recipient`, or Externally Secured).
    RelayCapable(bool),
    /// relay-usage: a relay connector (not a default one) whose RemoteIPRanges hold more than
    /// 4 times as many addresses as the hosts the logs show using it (and 16 more).
    RangesWiderThanUse(bool),
    /// relay-usage: the export shows ProtocolLoggingLevel None: the logs cannot show who
    /// uses the connector.
    UsageLoggingOff(bool),
    /// relay-usage: the server's receive protocol logs cover fewer days than the retention
    /// (Exchange's default, 30 days), or none was read.
    UsageWindowShort(bool),
    /// relay-usage: recipients were accepted but no accepted domain was exported, so relay
    /// cannot be told from delivery.
    UsageDomainsUnknown(bool),
    /// probe: the overall live verdict is one of these (`open`, `auth-required`, `refused`,
    /// `accepted-as-local`, `inconclusive`). Evidence: the verdict and the forms behind it.
    ProbeVerdict(Principals),
    /// probe (with `--export`): the live verdict and the export's `explain` verdict for the
    /// same conversation disagree.
    ProbeContradictsExport(bool),
    /// probe: an odd address form (percent hack, quoted, `!` path) got a 2xx for a mailbox
    /// the server took as its own (KB Q304897).
    ProbeAcceptedAsLocal(bool),
    /// probe (with `--export`): the live wording reads as another Exchange generation than
    /// the export's AdminDisplayVersion.
    ProbeVersionDiffers(bool),
}

impl Cond {
    /// The object kinds a predicate applies to (`None`: any kind).
    pub fn kinds(&self) -> Option<&'static [ObjectKind]> {
        use ObjectKind::*;
        match self {
            Cond::All(_) | Cond::Any(_) | Cond::Not(_) | Cond::Field(_) | Cond::Incomplete(_) => {
                None
            }
            Cond::DomainScope(_) => Some(&[AcceptedDomain]),
            Cond::Ace(_)
            | Cond::AceMay(_)
            | Cond::ConnectorScopeOpen(_)
            | Cond::ConnectorExported(_) => Some(&[AdPermission]),
            Cond::Reroute(_)
            | Cond::RoutingRestricted(_)
            | Cond::EmptyIpListTrick(_)
            | Cond::OverrideRelayBroad(_)
            | Cond::EncapsulatedRelayHotfix(_)
            | Cond::RelayFlagsDenyOnly(_)
            | Cond::RegistryAllowAddressesGt(_)
            | Cond::RegistryAllowPublicAddressesGt(_)
            | Cond::RegistryRelayValues(_)
            | Cond::RegistryListIncomplete(_)
            | Cond::LocalInterfaceForwarding(_) => Some(&[Imc]),
            Cond::ServicePackLt(_) => Some(&[Imc, SmtpVirtualServer, SmtpConnector]),
            Cond::RelayMode(_)
            | Cond::RelayListEmpty(_)
            | Cond::RelayListAddressesGt(_)
            | Cond::RelayListPublicAddressesGt(_)
            | Cond::RelayListNames(_)
            | Cond::AuthenticatedRelay(_)
            | Cond::Authentication(_)
            | Cond::InternetFacing(_)
            | Cond::RelayListDecoded(_)
            | Cond::MetabaseDrift(_)
            | Cond::MetabaseRelayOpen(_) => Some(&[SmtpVirtualServer]),
            Cond::AddressSpaceAll(_) | Cond::RelayToAddressSpace(_) => Some(&[SmtpConnector]),
            Cond::NotUnderstood(_) | Cond::CutOff(_) => Some(&[Input]),
            Cond::Relayed(_)
            | Cond::RelayCapable(_)
            | Cond::RangesWiderThanUse(_)
            | Cond::UsageLoggingOff(_)
            | Cond::UsageWindowShort(_)
            | Cond::UsageDomainsUnknown(_) => Some(&[RelayUsage]),
            Cond::ProbeVerdict(_)
            | Cond::ProbeContradictsExport(_)
            | Cond::ProbeAcceptedAsLocal(_)
            | Cond::ProbeVersionDiffers(_) => Some(&[Probe]),
            _ => Some(&[ReceiveConnector]),
        }
    }

    /// Checks what serde cannot: kinds, principal classes, regexes, enum words. Returns
    /// `(message, offending text)` for each problem.
    pub fn validate(&self, kind: ObjectKind, problems: &mut Vec<(String, String)>) {
        if let Some(kinds) = self.kinds() {
            if !kinds.contains(&kind) {
                problems.push((
                    format!(
                        "predicate `{}` applies to {}, not to {}",
                        self.name(),
                        kinds
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        kind.as_str()
                    ),
                    self.name().to_string(),
                ));
            }
        }
        let check_principals = |p: &Principals, problems: &mut Vec<(String, String)>| {
            for c in p.list() {
                if c != "any" && !crate::model::principal::Principal::CLASSES.contains(&c) {
                    problems.push((
                        format!(
                            "unknown principal class `{c}`, expected one of: any, {}",
                            crate::model::principal::Principal::CLASSES.join(", ")
                        ),
                        c.to_string(),
                    ));
                }
            }
        };
        match self {
            Cond::All(v) | Cond::Any(v) => v.iter().for_each(|c| c.validate(kind, problems)),
            Cond::Not(c) => c.validate(kind, problems),
            Cond::Holds(h) => check_principals(&h.principal, problems),
            Cond::Relayed(r) => r.validate(problems),
            Cond::ProbeVerdict(v) => probe::validate(v, problems),
            Cond::Ace(a) | Cond::AceMay(a) => check_principals(&a.principal, problems),
            Cond::HasFlag(f) => {
                let p = f.property.to_ascii_lowercase();
                if p != "permissiongroups" && p != "authmechanism" {
                    problems.push((
                        format!(
                            "has_flag works on PermissionGroups or AuthMechanism, not `{}`",
                            f.property
                        ),
                        f.property.clone(),
                    ));
                }
            }
            Cond::Field(f) => {
                if let Some(re) = &f.matches {
                    if let Err(e) = regex::RegexBuilder::new(re)
                        .case_insensitive(true)
                        .size_limit(1 << 20)
                        .build()
                    {
                        problems.push((format!("bad regular expression: {e}"), re.clone()));
                    }
                }
                if f.equals.is_none()
                    && f.one_of.is_none()
                    && f.matches.is_none()
                    && f.missing.is_none()
                    && f.absent.is_none()
                {
                    problems.push((
                        "field needs one of equals, one_of, matches, missing or absent".into(),
                        f.name.clone(),
                    ));
                }
            }
            Cond::DomainScope(s) if s != "everything" && s != "public-suffix" => {
                problems.push((
                    format!("domain_scope must be `everything` or `public-suffix`, found `{s}`"),
                    s.clone(),
                ));
            }
            Cond::RelayMode(m) if m != "only-the-list" && m != "all-except" => {
                problems.push((
                    format!("relay_mode must be `only-the-list` or `all-except`, found `{m}`"),
                    m.clone(),
                ));
            }
            Cond::Authentication(m)
                if !["anonymous", "basic", "integrated"].contains(&m.as_str()) =>
            {
                problems.push((
                    format!(
                        "authentication must be `anonymous`, `basic` or `integrated`, found `{m}`"
                    ),
                    m.clone(),
                ));
            }
            _ => {}
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Cond::All(_) => "all",
            Cond::Any(_) => "any",
            Cond::Not(_) => "not",
            Cond::Holds(_) => "holds",
            Cond::HasFlag(_) => "has_flag",
            Cond::RangesCoverAll(_) => "ranges_cover_all",
            Cond::AddressesGt(_) => "addresses_gt",
            Cond::AddressesLe(_) => "addresses_le",
            Cond::PublicAddressesGt(_) => "public_addresses_gt",
            Cond::RangesKnown(_) => "ranges_known",
            Cond::Port(_) => "port",
            Cond::DefaultConnector(_) => "default_connector",
            Cond::Enabled(_) => "enabled",
            Cond::PermissionsExported(_) => "permissions_exported",
            Cond::PermissionRightsKnown(_) => "permission_rights_known",
            Cond::Field(_) => "field",
            Cond::DomainScope(_) => "domain_scope",
            Cond::Ace(_) => "ace",
            Cond::ConnectorExported(_) => "connector_exported",
            Cond::Incomplete(_) => "incomplete",
            Cond::Reroute(_) => "reroute",
            Cond::RoutingRestricted(_) => "routing_restricted",
            Cond::EmptyIpListTrick(_) => "empty_ip_list_trick",
            Cond::OverrideRelayBroad(_) => "override_relay_broad",
            Cond::ServicePackLt(_) => "service_pack_lt",
            Cond::EncapsulatedRelayHotfix(_) => "encapsulated_relay_hotfix",
            Cond::RelayMode(_) => "relay_mode",
            Cond::RelayListEmpty(_) => "relay_list_empty",
            Cond::RelayListAddressesGt(_) => "relay_list_addresses_gt",
            Cond::RelayListPublicAddressesGt(_) => "relay_list_public_addresses_gt",
            Cond::RelayListNames(_) => "relay_list_names",
            Cond::AuthenticatedRelay(_) => "authenticated_relay",
            Cond::Authentication(_) => "authentication",
            Cond::InternetFacing(_) => "internet_facing",
            Cond::RelayListDecoded(_) => "relay_list_decoded",
            Cond::MetabaseDrift(_) => "metabase_drift",
            Cond::MetabaseRelayOpen(_) => "metabase_relay_open",
            Cond::AddressSpaceAll(_) => "address_space_all",
            Cond::RelayToAddressSpace(_) => "relay_to_address_space",
            Cond::RelayFlagsDenyOnly(_) => "relay_flags_deny_only",
            Cond::RegistryAllowAddressesGt(_) => "registry_allow_addresses_gt",
            Cond::RegistryAllowPublicAddressesGt(_) => "registry_allow_public_addresses_gt",
            Cond::RegistryRelayValues(_) => "registry_relay_values",
            Cond::LocalInterfaceForwarding(_) => "local_interface_forwarding",
            Cond::NotUnderstood(_) => "not_understood",
            Cond::RegistryListIncomplete(_) => "registry_list_incomplete",
            Cond::CutOff(_) => "cut_off",
            Cond::AceMay(_) => "ace_may",
            Cond::ConnectorScopeOpen(_) => "connector_scope_open",
            Cond::Relayed(_) => "relayed",
            Cond::RelayCapable(_) => "relay_capable",
            Cond::RangesWiderThanUse(_) => "ranges_wider_than_use",
            Cond::UsageLoggingOff(_) => "usage_logging_off",
            Cond::UsageWindowShort(_) => "usage_window_short",
            Cond::UsageDomainsUnknown(_) => "usage_domains_unknown",
            Cond::ProbeVerdict(_) => "probe_verdict",
            Cond::ProbeContradictsExport(_) => "probe_contradicts_export",
            Cond::ProbeAcceptedAsLocal(_) => "probe_accepted_as_local",
            Cond::ProbeVersionDiffers(_) => "probe_version_differs",
        }
    }

    /// Evaluates the condition; `Some(evidence)` when it holds.
    pub fn eval(&self, s: &Subject<'_, '_>) -> Option<Vec<Evidence>> {
        match self {
            Cond::All(v) => {
                let mut ev = Vec::new();
                for c in v {
                    ev.extend(c.eval(s)?);
                }
                Some(ev)
            }
            Cond::Any(v) => v.iter().find_map(|c| c.eval(s)),
            Cond::Not(c) => match c.eval(s) {
                Some(_) => None,
                None => Some(vec![]),
            },
            Cond::Field(f) => eval_field(f, s),
            Cond::Incomplete(names) => eval_incomplete(names, s),
            _ => match s {
                Subject::Connector(f) => eval_connector(self, f),
                Subject::Domain(d) => eval_domain(self, d),
                Subject::Ace { ace, connector } => eval_ace(self, ace, *connector),
                Subject::Legacy(o) => eval_legacy(self, o),
                Subject::Input(g) => eval_input(self, g),
                Subject::Usage(c) => eval_usage(self, c),
                Subject::Probe(p) => probe::eval_probe(self, p),
            },
        }
    }
}

fn ev(src: &Source, property: &str, value: impl Into<String>, line: Option<u32>) -> Evidence {
    Evidence {
        property: property.to_string(),
        value: value.into(),
        file: src.file.to_string(),
        line: line.or(Some(src.line)),
    }
}

fn raw_ev(c: &ReceiveConnector, property: &str) -> Evidence {
    match c.raw(property) {
        Some(r) => ev(&c.src, r.name, r.value.to_string(), Some(r.line)),
        None => ev(&c.src, property, "(not in the export)", None),
    }
}

fn truncated(c: &ReceiveConnector, property: &str) -> bool {
    c.raw(property).is_some_and(|r| r.truncated)
}

fn holds_bool(
    want: bool,
    actual: bool,
    evidence: impl FnOnce() -> Vec<Evidence>,
) -> Option<Vec<Evidence>> {
    (want == actual).then(evidence)
}

fn eval_connector(cond: &Cond, f: &ConnectorFacts<'_>) -> Option<Vec<Evidence>> {
    let c = f.connector;
    match cond {
        Cond::Holds(h) => {
            let mut classes = Vec::new();
            for p in h.principal.list() {
                for t in crate::analysis::permissions::token(p) {
                    if !classes.contains(&t) {
                        classes.push(t);
                    }
                }
            }
            let (grants, _) = f.holds(&classes, &h.right);
            let grants: Vec<_> = grants
                .into_iter()
                .filter(|g| !h.explicit || !g.explained_by_group)
                .collect();
            if grants.is_empty() {
                return None;
            }
            Some(
                grants
                    .iter()
                    .map(|g| match &g.via {
                        Via::Ace(a) => Evidence {
                            property: "ExtendedRights".into(),
                            value: format!(
                                "{} {} {}",
                                a.user,
                                if a.deny { "deny" } else { "allow" },
                                h.right
                            ),
                            file: a.src.file.to_string(),
                            line: Some(a.src.line),
                        },
                        Via::Group(g) => {
                            let mut e = raw_ev(c, "PermissionGroups");
                            e.value = format!("{} (group {g} grants {})", e.value, h.right);
                            e
                        }
                        Via::ExternallySecured => raw_ev(c, "AuthMechanism"),
                    })
                    .collect(),
            )
        }
        Cond::HasFlag(fl) => {
            let list = if fl.property.eq_ignore_ascii_case("PermissionGroups") {
                &c.permission_groups
            } else {
                &c.auth_mechanism
            };
            let has = list
                .as_ref()
                .is_some_and(|v| v.iter().any(|x| x.eq_ignore_ascii_case(&fl.flag)));
            has.then(|| vec![raw_ev(c, &fl.property)])
        }
        Cond::RangesCoverAll(want) => {
            let all = c.ranges.as_ref().is_some_and(|r| r.covers_all());
            holds_bool(*want, all, || vec![raw_ev(c, "RemoteIPRanges")])
        }
        Cond::AddressesGt(n) => {
            let size = c.ranges.as_ref().map(|r| r.size())?;
            (size > *n).then(|| vec![raw_ev(c, "RemoteIPRanges")])
        }
        Cond::AddressesLe(n) => {
            let r = c.ranges.as_ref()?;
            if truncated(c, "RemoteIPRanges") || !c.bad_ranges.is_empty() {
                return None;
            }
            (r.size() <= *n).then(|| vec![raw_ev(c, "RemoteIPRanges")])
        }
        Cond::PublicAddressesGt(n) => {
            let p = c.ranges.as_ref().map(|r| r.public_count())?;
            (p > *n).then(|| vec![raw_ev(c, "RemoteIPRanges")])
        }
        Cond::RangesKnown(want) => {
            let known = match &c.ranges {
                None => false,
                Some(r) => {
                    r.covers_all() || (!truncated(c, "RemoteIPRanges") && c.bad_ranges.is_empty())
                }
            };
            holds_bool(*want, known, || vec![raw_ev(c, "RemoteIPRanges")])
        }
        Cond::Port(p) => c
            .bindings
            .iter()
            .any(|b| b.port == *p)
            .then(|| vec![raw_ev(c, "Bindings")]),
        Cond::DefaultConnector(want) => holds_bool(*want, c.is_default(), || {
            vec![ev(&c.src, "Identity", c.identity.clone(), None)]
        }),
        Cond::Enabled(want) => holds_bool(*want, c.enabled.unwrap_or(true), || {
            vec![raw_ev(c, "Enabled")]
        }),
        Cond::PermissionRightsKnown(want) => {
            let unknown: Vec<_> = f
                .aces
                .iter()
                .filter(|a| a.raw("ExtendedRights").is_none_or(|r| r.truncated))
                .collect();
            let known = f.permissions_exported() && unknown.is_empty();
            holds_bool(*want, known, || match unknown.first() {
                Some(a) => vec![Evidence {
                    property: "ExtendedRights".into(),
                    value: format!(
                        "rights of {} of {} entries not in the export (first: {})",
                        unknown.len(),
                        f.aces.len(),
                        a.user
                    ),
                    file: a.src.file.to_string(),
                    line: Some(a.src.line),
                }],
                None => vec![ev(
                    &c.src,
                    "Get-ADPermission",
                    "no entries exported for this connector",
                    None,
                )],
            })
        }
        Cond::PermissionsExported(want) => holds_bool(*want, f.permissions_exported(), || {
            vec![ev(
                &c.src,
                "Get-ADPermission",
                if f.permissions_exported() {
                    format!("{} entries exported", f.aces.len())
                } else {
                    "no entries exported for this connector".to_string()
                },
                None,
            )]
        }),
        _ => None,
    }
}

fn eval_domain(cond: &Cond, d: &AcceptedDomain) -> Option<Vec<Evidence>> {
    match cond {
        Cond::DomainScope(want) => {
            let scope = domain_scope(&d.domain_name)?;
            (scope == want).then(|| {
                let line = d
                    .raw
                    .iter()
                    .find(|r| r.name == "DomainName")
                    .map(|r| r.line);
                vec![ev(&d.src, "DomainName", d.domain_name.clone(), line)]
            })
        }
        _ => None,
    }
}

fn eval_ace(cond: &Cond, a: &Ace, connector: Option<&ConnectorFacts<'_>>) -> Option<Vec<Evidence>> {
    let connector_exported = connector.is_some();
    match cond {
        Cond::AceMay(spec) => ace_may(spec, a),
        Cond::ConnectorScopeOpen(want) => {
            let (open, why) = match connector {
                None => (
                    true,
                    format!(
                        "{} (no Get-ReceiveConnector export has it)",
                        a.identity.as_deref().unwrap_or("(connector not named)")
                    ),
                ),
                Some(f) => {
                    let c = f.connector;
                    let known = c.ranges.as_ref().is_some_and(|r| {
                        r.covers_all()
                            || (!truncated(c, "RemoteIPRanges") && c.bad_ranges.is_empty())
                    });
                    let broad = c.ranges.as_ref().is_some_and(|r| r.size() > 16);
                    let shown = c
                        .raw("RemoteIPRanges")
                        .map(|r| r.value.clone())
                        .unwrap_or_else(|| "(not in the export)".into());
                    (
                        !known || broad,
                        format!("{}: RemoteIPRanges {shown}", c.identity),
                    )
                }
            };
            holds_bool(*want, open, || {
                vec![Evidence {
                    property: "Identity".into(),
                    value: why,
                    file: a.src.file.to_string(),
                    line: Some(a.src.line),
                }]
            })
        }
        Cond::Ace(spec) => {
            let mut classes = Vec::new();
            for p in spec.principal.list() {
                for t in crate::analysis::permissions::token(p) {
                    classes.push(t);
                }
            }
            let principal_ok = classes.contains(&"any") || classes.contains(&a.principal.class());
            let right_ok = spec.right.as_ref().is_none_or(|r| a.has_right(r));
            (principal_ok && a.deny == spec.deny && right_ok).then(|| {
                let rights = match &spec.right {
                    Some(r) => r.clone(),
                    None if a.extended_rights.is_empty() => "(rights not in the export)".into(),
                    None => a.extended_rights.join(", "),
                };
                vec![Evidence {
                    property: "ExtendedRights".into(),
                    value: format!(
                        "{} {} {}",
                        a.user,
                        if a.deny { "deny" } else { "allow" },
                        rights
                    ),
                    file: a.src.file.to_string(),
                    line: Some(a.src.line),
                }]
            })
        }
        Cond::ConnectorExported(want) => holds_bool(*want, connector_exported, || {
            vec![Evidence {
                property: "Identity".into(),
                value: format!(
                    "{} (no Get-ReceiveConnector export has it)",
                    a.identity.as_deref().unwrap_or("(none)")
                ),
                file: a.src.file.to_string(),
                line: Some(a.src.line),
            }]
        }),
        _ => None,
    }
}

/// The source of a subject that is no exported object (a live probe).
static NO_SOURCE: std::sync::LazyLock<Source> = std::sync::LazyLock::new(|| Source {
    file: "(live probe)".into(),
    line: 0,
});

/// The exported property `name` of the subject, and the subject's source.
fn raw_of<'s>(s: &'s Subject<'_, '_>, name: &str) -> (Option<crate::model::Raw>, &'s Source) {
    match s {
        Subject::Connector(c) => (c.connector.raw(name), &c.connector.src),
        Subject::Domain(d) => (
            d.raw
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(name))
                .cloned(),
            &d.src,
        ),
        Subject::Ace { ace, .. } => (ace.raw(name), &ace.src),
        Subject::Legacy(o) => (o.raw(name).cloned(), &o.src),
        Subject::Input(g) => (None, &g.src),
        Subject::Usage(c) => (c.connector.and_then(|x| x.raw(name)), &c.src),
        Subject::Probe(_) => (None, &NO_SOURCE),
    }
}

/// See [`Cond::AceMay`].
fn ace_may(spec: &AceSpec, a: &Ace) -> Option<Vec<Evidence>> {
    if a.deny != spec.deny {
        return None;
    }
    let raw = |n: &str| a.raw(n);
    // A principal the export cut off or lost: what is shown (nothing, when lost) is a prefix.
    let user_cut = raw("User").is_none_or(|r| r.truncated);
    // Rights exported only as a type name are PERM-RIGHTS-NOT-EXPORTED's case, not a cut.
    let rights_cut = a.extended_rights_truncated
        && raw("ExtendedRights").is_some_and(|r| !r.value.starts_with("(not exported"));
    if !user_cut && !rights_cut {
        return None;
    }
    let principal_ok = spec.principal.list().iter().any(|class| {
        *class == "any"
            || crate::analysis::permissions::token(class).contains(&a.principal.class())
            || (user_cut
                && crate::analysis::permissions::token(class).iter().any(|t| {
                    let user = raw("User");
                    crate::model::principal::Principal::may_be(
                        user.as_ref()
                            .map(|r| r.value.trim_end_matches("..."))
                            .unwrap_or(""),
                        t,
                    )
                }))
    });
    let right_ok = match &spec.right {
        None => true,
        Some(r) => {
            let want = r.to_lowercase();
            a.has_right(r)
                || (rights_cut
                    && (a.extended_rights.is_empty()
                        || a.extended_rights
                            .iter()
                            .any(|x| want.starts_with(&x.to_lowercase()))
                        || raw("ExtendedRights").is_some_and(|x| {
                            let shown = x.value.trim_end_matches("...").to_lowercase();
                            let last = shown.rsplit(',').next().unwrap_or("").trim().to_string();
                            want.starts_with(&last)
                        })))
        }
    };
    (principal_ok && right_ok).then(|| {
        a.raws()
            .filter(|r| matches!(r.name, "User" | "ExtendedRights" | "Identity"))
            .map(|r| Evidence {
                property: r.name.to_string(),
                value: r.value.to_string(),
                file: a.src.file.to_string(),
                line: Some(r.line),
            })
            .collect()
    })
}

fn eval_input(c: &Cond, g: &InputGap) -> Option<Vec<Evidence>> {
    match c {
        Cond::CutOff(want) => holds_bool(*want, g.kind == GapKind::CutOff, || {
            g.lines
                .iter()
                .map(|(line, text)| Evidence {
                    property: "last line, without a line break".into(),
                    value: crate::input::lines::clip(text, 200),
                    file: g.src.file.to_string(),
                    line: Some(*line),
                })
                .collect()
        }),
        Cond::NotUnderstood(want) => holds_bool(
            *want,
            g.kind == GapKind::NotUnderstood && !g.lines.is_empty(),
            || {
                g.lines
                    .iter()
                    .map(|(line, text)| Evidence {
                        property: "not understood".into(),
                        value: crate::input::lines::clip(text, 200),
                        file: g.src.file.to_string(),
                        line: Some(*line),
                    })
                    .collect()
            },
        ),
        _ => None,
    }
}

fn eval_incomplete(names: &[String], s: &Subject<'_, '_>) -> Option<Vec<Evidence>> {
    let ev: Vec<Evidence> = names
        .iter()
        .filter_map(|n| {
            let (raw, src) = raw_of(s, n);
            raw.filter(|r| r.truncated)
                .map(|r| ev(src, r.name, r.value.to_string(), Some(r.line)))
        })
        .collect();
    (!ev.is_empty()).then_some(ev)
}

fn eval_field(f: &FieldSpec, s: &Subject<'_, '_>) -> Option<Vec<Evidence>> {
    let (raw, src) = raw_of(s, &f.name);
    if let Some(a) = f.absent {
        if a != raw.is_none() {
            return None;
        }
    }
    let value = raw
        .as_ref()
        .map(|r| r.value.trim())
        .filter(|v| !v.is_empty());
    let evidence = || {
        vec![match &raw {
            Some(r) => ev(src, r.name, r.value.to_string(), Some(r.line)),
            None => ev(src, &f.name, "(not in the export)", None),
        }]
    };
    if let Some(m) = f.missing {
        if m != value.is_none() {
            return None;
        }
    }
    if f.equals.is_some() || f.one_of.is_some() || f.matches.is_some() {
        let v = value?;
        if let Some(e) = &f.equals {
            if !v.eq_ignore_ascii_case(e) {
                return None;
            }
        }
        if let Some(list) = &f.one_of {
            if !list.iter().any(|e| v.eq_ignore_ascii_case(e)) {
                return None;
            }
        }
        if f.matches.is_some() && !f.regex()?.is_match(v) {
            return None;
        }
    }
    Some(evidence())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_deserialize_and_reject_typos() {
        let c: Cond = toml::from_str::<toml::Table>(
            r#"when = { all = [ { holds = { principal = "anonymous", right = "ms-Exch-SMTP-Accept-Any-Recipient" } }, { ranges_cover_all = true } ] }"#,
        )
        .unwrap()["when"]
            .clone()
            .try_into()
            .unwrap();
        assert!(matches!(c, Cond::All(ref v) if v.len() == 2));
        let bad: Result<Cond, _> =
            toml::Value::Table(toml::from_str::<toml::Table>("public_adresses_gt = 5").unwrap())
                .try_into();
        assert!(bad.unwrap_err().to_string().contains("public_addresses_gt"));
    }

    #[test]
    fn validation_catches_wrong_kind_and_classes() {
        let c = Cond::All(vec![
            Cond::DomainScope("everything".into()),
            Cond::Holds(HoldsSpec {
                principal: Principals::One("anonymus".into()),
                right: "x".into(),
                explicit: false,
            }),
        ]);
        let mut p = Vec::new();
        c.validate(ObjectKind::ReceiveConnector, &mut p);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].0.contains("domain_scope"));
        assert!(p[1].0.contains("anonymus"));
    }

    /// Legacy objects from a settings-file snippet (the first `[[server]]` header is added).
    fn legacy(body: &str) -> Vec<LegacyObject> {
        let text = format!("[[server]]\nname = \"S\"\n{body}");
        let mut b = crate::model::ModelBuilder::new();
        let file: std::sync::Arc<str> = std::sync::Arc::from("s.toml");
        crate::input::settings::parse(&text, "s.toml", &mut |r| {
            b.add(&file, &r);
        })
        .unwrap();
        b.finish().0.legacy
    }

    fn holds(c: Cond, o: &LegacyObject) -> bool {
        let mut p = Vec::new();
        c.validate(o.kind, &mut p);
        assert!(p.is_empty(), "{p:?}");
        c.eval(&Subject::Legacy(o)).is_some()
    }

    const IMC55: &str = "version = \"5.5\"\nservice_pack = 2\n[server.imc]\nrouting = \"Reroute incoming SMTP mail\"\n";

    #[test]
    fn reroute() {
        let o = &legacy(IMC55)[0];
        assert!(holds(Cond::Reroute(true), o));
        let o = &legacy(
            "version = \"5.5\"\n[server.imc]\nrouting = \"Do not reroute incoming SMTP mail\"\n",
        )[0];
        assert!(holds(Cond::Reroute(false), o));
        assert_eq!(Cond::Reroute(true).kinds(), Some(&[ObjectKind::Imc][..]));
    }

    #[test]
    fn routing_restricted() {
        assert!(holds(Cond::RoutingRestricted(false), &legacy(IMC55)[0]));
        let o = &legacy(&format!("{IMC55}[server.imc.routing_restrictions]\nhosts_that_successfully_authenticate = true\n"))[0];
        assert!(holds(Cond::RoutingRestricted(true), o));
    }

    #[test]
    fn empty_ip_list_trick() {
        let o = &legacy(&format!("{IMC55}[server.imc.routing_restrictions]\nhosts_and_clients_with_these_ip_addresses = true\nip_addresses = []\n"))[0];
        assert!(holds(Cond::EmptyIpListTrick(true), o));
        let o = &legacy(&format!("{IMC55}[server.imc.routing_restrictions]\nhosts_and_clients_with_these_ip_addresses = true\nip_addresses = [\"10.0.0.5 255.255.255.255\"]\n"))[0];
        assert!(holds(Cond::EmptyIpListTrick(false), o));
    }

    #[test]
    fn override_relay_broad() {
        let o = &legacy(&format!("{IMC55}routing_entries = [ {{ domain = \"*\", action = \"reroute to\", host = \"h\", override_relay_restrictions = true }} ]\n"))[0];
        assert!(holds(Cond::OverrideRelayBroad(true), o));
        let o = &legacy(&format!("{IMC55}routing_entries = [ {{ domain = \"#p.example\", action = \"reroute to\", host = \"h\", override_relay_restrictions = true }} ]\n"))[0];
        assert!(holds(Cond::OverrideRelayBroad(false), o));
    }

    #[test]
    fn service_pack_lt_and_hotfix() {
        let o = &legacy(IMC55)[0];
        assert!(holds(Cond::ServicePackLt(3), o));
        assert!(!holds(Cond::ServicePackLt(2), o));
        assert!(holds(Cond::EncapsulatedRelayHotfix(false), o));
        // an unrecorded service pack never matches
        let o = &legacy("version = \"5.5\"\n[server.imc]\n")[0];
        assert!(!holds(Cond::ServicePackLt(4), o));
        let o = &legacy("version = \"5.5\"\nhotfix_encapsulated_relay = true\n[server.imc]\n")[0];
        assert!(holds(Cond::EncapsulatedRelayHotfix(true), o));
    }

    const SVS: &str = "version = \"2003\"\n[[server.smtp_virtual_server]]\nname = \"Default SMTP Virtual Server\"\n";

    #[test]
    fn relay_mode_and_empty_list() {
        let o = &legacy(&format!("{SVS}relay = \"All except the list below\"\n"))[0];
        assert!(holds(Cond::RelayMode("all-except".into()), o));
        assert!(holds(Cond::RelayListEmpty(true), o));
        let o = &legacy(&format!(
            "{SVS}relay = \"Only the list below\"\nrelay_list = [\"10.0.0.5 255.255.255.255\"]\n"
        ))[0];
        assert!(holds(Cond::RelayMode("only-the-list".into()), o));
        assert!(holds(Cond::RelayListEmpty(false), o));
        let mut p = Vec::new();
        Cond::RelayMode("all".into()).validate(ObjectKind::SmtpVirtualServer, &mut p);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn relay_list_sizes_and_names() {
        let o = &legacy(&format!("{SVS}relay_list = [\"10.0.0.0 255.0.0.0\", \"81.2.69.0 255.255.255.0\", \"partner.example\"]\n"))[0];
        assert!(holds(Cond::RelayListAddressesGt(256), o));
        assert!(holds(Cond::RelayListPublicAddressesGt(16), o));
        assert!(!holds(Cond::RelayListPublicAddressesGt(256), o));
        assert!(holds(Cond::RelayListNames(true), o));
    }

    #[test]
    fn authenticated_relay_authentication_internet_facing() {
        let o = &legacy(&format!("{SVS}allow_authenticated_relay = true\nauthentication = [\"Anonymous access\", \"Basic authentication\"]\ninternet_facing = true\n"))[0];
        assert!(holds(Cond::AuthenticatedRelay(true), o));
        assert!(holds(Cond::Authentication("basic".into()), o));
        assert!(holds(Cond::Authentication("anonymous".into()), o));
        assert!(!holds(Cond::Authentication("integrated".into()), o));
        assert!(holds(Cond::InternetFacing(true), o));
        let mut p = Vec::new();
        Cond::InternetFacing(true).validate(ObjectKind::Imc, &mut p);
        assert_eq!(p.len(), 1, "wrong kind is refused");
    }

    #[test]
    fn address_space_all_and_relay() {
        let o = &legacy("version = \"2003\"\n[[server.smtp_connector]]\nname = \"C\"\naddress_space = [\"SMTP:*;1\"]\nallow_relay_to_these_domains = true\n")[0];
        assert!(holds(Cond::AddressSpaceAll(true), o));
        assert!(holds(Cond::RelayToAddressSpace(true), o));
        let o = &legacy("version = \"2003\"\n[[server.smtp_connector]]\nname = \"C\"\naddress_space = [\"SMTP:partner.example;1\"]\n")[0];
        assert!(holds(Cond::AddressSpaceAll(false), o));
        // not recorded: neither true nor false
        assert!(!holds(Cond::RelayToAddressSpace(false), o));
    }

    fn with_registry(settings: &str, reg: &str) -> Vec<LegacyObject> {
        let mut b = crate::model::ModelBuilder::new();
        let f1: std::sync::Arc<str> = std::sync::Arc::from("s.toml");
        let f2: std::sync::Arc<str> = std::sync::Arc::from("imc.reg");
        if !settings.is_empty() {
            crate::input::settings::parse(settings, "s.toml", &mut |r| {
                b.add(&f1, &r);
            })
            .unwrap();
        }
        let text = format!("REGEDIT4\n\n[{}]\n{reg}", crate::input::reg::IMC_KEY);
        crate::input::reg::parse(text.as_bytes(), "imc.reg", &mut |r| {
            b.add(&f2, &r);
        })
        .unwrap();
        b.finish().0.legacy
    }

    /// `a;b` as REGEDIT4 hex(7) bytes.
    fn hex7(items: &[&str]) -> String {
        let mut bytes: Vec<u8> = Vec::new();
        for i in items {
            bytes.extend(i.bytes());
            bytes.push(0);
        }
        bytes.push(0);
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn relay_flags_deny_only() {
        let o = &with_registry("", "\"RelayFlags\"=dword:00000001\n")[0];
        assert!(holds(Cond::RelayFlagsDenyOnly(true), o));
        let o = &with_registry("", "\"RelayFlags\"=dword:00000003\n")[0];
        assert!(holds(Cond::RelayFlagsDenyOnly(false), o));
        assert_eq!(o.identity, "(unknown server)\\Internet Mail Service");
    }

    #[test]
    fn registry_allow_addresses() {
        let reg = format!(
            "\"RelayFlags\"=dword:00000002\n\"RelayAllowList\"=hex(7):{}\n",
            hex7(&["10.0.0.0;255.0.0.0", "81.2.69.0;255.255.255.0"])
        );
        let o = &with_registry("", &reg)[0];
        assert!(holds(Cond::RegistryAllowAddressesGt(256), o));
        assert!(holds(Cond::RegistryAllowPublicAddressesGt(16), o));
        // the list does not apply without bit 2
        let o = &with_registry("", &reg.replace("dword:00000002", "dword:00000001"))[0];
        assert!(!holds(Cond::RegistryAllowAddressesGt(256), o));
    }

    #[test]
    fn registry_relay_values_attach_to_the_settings_imc() {
        let reg = format!(
            "\"RelayFlags\"=dword:00000002\n\"RelayAllowList\"=hex(7):{}\n",
            hex7(&["192.168.1.25;255.255.255.255"])
        );
        let objs = with_registry(
            "[[server]]\nname = \"M\"\nversion = \"5.5\"\n[server.imc]\nrouting = \"Do not reroute incoming SMTP mail\"\n",
            &reg,
        );
        assert_eq!(objs.len(), 1, "attached, not a second IMC");
        assert!(holds(Cond::RegistryRelayValues(true), &objs[0]));
        assert!(holds(Cond::Reroute(false), &objs[0]));
        let o = &with_registry("", "\"RelayFlags\"=dword:00000001\n")[0];
        assert!(holds(Cond::RegistryRelayValues(false), o));
    }

    #[test]
    fn relay_list_decoded() {
        let o = &legacy(&format!("{SVS}relay = \"Only the list below\"\n"))[0];
        assert!(holds(Cond::RelayListDecoded(true), o));
        let mut b = crate::model::ModelBuilder::new();
        let f: std::sync::Arc<str> = std::sync::Arc::from("smtp.ldf");
        crate::input::ldif::parse(
            "dn: CN=1,CN=SMTP,CN=Protocols,CN=MAIL,CN=Servers,DC=x\nobjectClass: protocolCfgSMTPServer\nmsExchSmtpRelayIpList:: AQIDBA==\n".as_bytes(),
            "smtp.ldf",
            &mut |r| {
                b.add(&f, &r);
            },
        )
        .unwrap();
        let objs = b.finish().0.legacy;
        assert!(holds(Cond::RelayListDecoded(false), &objs[0]));
        let ev = Cond::RelayListDecoded(false)
            .eval(&Subject::Legacy(&objs[0]))
            .unwrap();
        assert_eq!(ev[0].line, Some(3));
    }
}
