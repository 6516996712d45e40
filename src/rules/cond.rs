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
use crate::model::{AcceptedDomain, Ace, ReceiveConnector, Source};
use serde::{Deserialize, Serialize};

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
    /// An ACE; `connector_exported` says whether the connector it is on was exported.
    Ace {
        ace: &'m Ace,
        connector_exported: bool,
    },
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
}

/// Second-level public suffixes under which registrations happen (abridged from the Public
/// Suffix List). A single label (`com`) is always a public suffix.
const PUBLIC_SECOND_LEVEL: &[&str] = &[
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "ne.jp",
    "or.jp", "co.za", "com.br", "com.cn", "com.mx", "com.tr", "co.in", "co.kr", "com.sg", "com.hk",
    "co.il", "com.ar",
];

impl Cond {
    /// The object kinds a predicate applies to (`None`: any kind).
    pub fn kinds(&self) -> Option<&'static [ObjectKind]> {
        use ObjectKind::*;
        match self {
            Cond::All(_) | Cond::Any(_) | Cond::Not(_) | Cond::Field(_) | Cond::Incomplete(_) => {
                None
            }
            Cond::DomainScope(_) => Some(&[AcceptedDomain]),
            Cond::Ace(_) | Cond::ConnectorExported(_) => Some(&[AdPermission]),
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
            Cond::Ace(a) => check_principals(&a.principal, problems),
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
                Subject::Ace {
                    ace,
                    connector_exported,
                } => eval_ace(self, ace, *connector_exported),
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
        Some(r) => ev(&c.src, r.name, r.value.clone(), Some(r.line)),
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
                .filter(|a| {
                    a.raw
                        .iter()
                        .find(|r| r.name == "ExtendedRights")
                        .is_none_or(|r| r.truncated)
                })
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

/// Is `name` (`*`, `*.com`) a wildcard over everything or over a whole public suffix?
pub fn domain_scope(name: &str) -> Option<&'static str> {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n == "*" {
        return Some("everything");
    }
    let rest = n.strip_prefix("*.")?;
    if !rest.contains('.') || PUBLIC_SECOND_LEVEL.contains(&rest) {
        return Some("public-suffix");
    }
    None
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

fn eval_ace(cond: &Cond, a: &Ace, connector_exported: bool) -> Option<Vec<Evidence>> {
    match cond {
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

/// The exported property `name` of the subject, and the subject's source.
fn raw_of<'s>(s: &'s Subject<'_, '_>, name: &str) -> (Option<&'s crate::model::Raw>, &'s Source) {
    match s {
        Subject::Connector(c) => (c.connector.raw(name), &c.connector.src),
        Subject::Domain(d) => (
            d.raw.iter().find(|r| r.name.eq_ignore_ascii_case(name)),
            &d.src,
        ),
        Subject::Ace { ace, .. } => (
            ace.raw.iter().find(|r| r.name.eq_ignore_ascii_case(name)),
            &ace.src,
        ),
    }
}

fn eval_incomplete(names: &[String], s: &Subject<'_, '_>) -> Option<Vec<Evidence>> {
    let ev: Vec<Evidence> = names
        .iter()
        .filter_map(|n| {
            let (raw, src) = raw_of(s, n);
            raw.filter(|r| r.truncated)
                .map(|r| ev(src, r.name, r.value.clone(), Some(r.line)))
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
    let value = raw.map(|r| r.value.trim()).filter(|v| !v.is_empty());
    let evidence = || {
        vec![match raw {
            Some(r) => ev(src, r.name, r.value.clone(), Some(r.line)),
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
        if let Some(re) = &f.matches {
            let re = regex::RegexBuilder::new(re)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .ok()?;
            if !re.is_match(v) {
                return None;
            }
        }
    }
    Some(evidence())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_scopes() {
        assert_eq!(domain_scope("*"), Some("everything"));
        assert_eq!(domain_scope("*.com"), Some("public-suffix"));
        assert_eq!(domain_scope("*.CO.UK"), Some("public-suffix"));
        assert_eq!(domain_scope("*.contoso.com"), None);
        assert_eq!(domain_scope("contoso.com"), None);
    }

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
}
