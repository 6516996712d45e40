//! Diff: what a change did to relay, for change review (`relay-audit diff BEFORE AFTER`).
//!
//! Two exports of one organisation are loaded and audited with the same rules. The result is
//! the configuration changes that matter for relay — RemoteIPRanges widened or narrowed,
//! rights granted or revoked, permission groups and auth mechanisms changed, connectors and
//! accepted domains added or removed — and the findings the change introduced or resolved
//! (matched by fingerprint). The `Custom` permission group is derived from the ACL: when both
//! sides exported the connector's permissions, its flip is not reported on its own, the grant
//! that caused it is.

mod deliverable;
pub use deliverable::{write_html, write_markdown};

use crate::input::record::ObjectKind;
use crate::model::ip_range::IpSet;
use crate::model::{Ace, Model, ReceiveConnector};
use crate::rules::{Finding, Severity};
use crate::scan::{FailOn, InputSummary, Loaded, ModelCounts};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One relay-relevant configuration change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ObjectKind,
    /// The object as Exchange prints it.
    pub object: String,
    /// The property (or `ACE` for a permission entry, `object` for the whole object).
    pub property: String,
    /// `added`, `removed`, `widened`, `narrowed`, `granted`, `revoked`, `changed`.
    pub change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// One line for people.
    pub description: String,
}

#[derive(Debug, Serialize)]
pub struct DiffReport {
    pub tool: crate::scan::Tool,
    pub rules_version: String,
    pub before: Vec<InputSummary>,
    pub after: Vec<InputSummary>,
    pub changes: Vec<Change>,
    /// Findings of AFTER that BEFORE did not have.
    pub introduced: Vec<Finding>,
    /// Findings of BEFORE that AFTER no longer has.
    pub resolved: Vec<Finding>,
    pub diagnostics: Vec<crate::diag::Diagnostic>,
    #[serde(skip)]
    pub errors: Vec<crate::diag::InputError>,
    /// What each export held (servers, connectors, ...), for the HTML and Markdown headers.
    #[serde(skip)]
    pub before_counts: ModelCounts,
    #[serde(skip)]
    pub after_counts: ModelCounts,
}

impl DiffReport {
    /// 1 when the change introduces a finding at or above `fail_on` (that counts), 2 when an
    /// input could not be read, else 0.
    pub fn exit_code(&self, fail_on: FailOn) -> i32 {
        if !self.errors.is_empty() {
            return 2;
        }
        match fail_on {
            FailOn::Never => 0,
            FailOn::At(s) => i32::from(
                self.introduced
                    .iter()
                    .any(|f| f.severity <= s && f.counts()),
            ),
        }
    }

    pub fn worst_introduced(&self) -> Option<Severity> {
        self.introduced.iter().map(|f| f.severity).min()
    }
}

fn key(s: &str) -> String {
    s.trim().to_lowercase()
}

fn set_of(v: &Option<crate::model::Flags>) -> BTreeSet<String> {
    v.iter().flat_map(|f| f.iter()).cloned().collect()
}

fn connector_changes(
    b: &ReceiveConnector,
    a: &ReceiveConnector,
    acl_both: bool,
    out: &mut Vec<Change>,
) {
    let id = a.identity.clone();
    let mut push = |property: &str,
                    change: &'static str,
                    before: Option<String>,
                    after: Option<String>,
                    description: String| {
        out.push(Change {
            kind: ObjectKind::ReceiveConnector,
            object: id.clone(),
            property: property.to_string(),
            change,
            before,
            after,
            description,
        })
    };
    let empty = IpSet::new();
    let (rb, ra) = (
        b.ranges.as_ref().unwrap_or(&empty),
        a.ranges.as_ref().unwrap_or(&empty),
    );
    let wider = ra.difference(rb);
    let narrower = rb.difference(ra);
    if !wider.is_empty() {
        push(
            "RemoteIPRanges",
            "widened",
            Some(rb.to_string()),
            Some(ra.to_string()),
            format!(
                "{id}: RemoteIPRanges widened by {wider} ({} more addresses, {} of them public)",
                wider.size(),
                wider.public_count()
            ),
        );
    }
    if !narrower.is_empty() {
        push(
            "RemoteIPRanges",
            "narrowed",
            Some(rb.to_string()),
            Some(ra.to_string()),
            format!("{id}: RemoteIPRanges narrowed, {narrower} removed"),
        );
    }
    for (prop, before, after) in [
        (
            "PermissionGroups",
            &b.permission_groups,
            &a.permission_groups,
        ),
        ("AuthMechanism", &b.auth_mechanism, &a.auth_mechanism),
    ] {
        let (sb, sa) = (set_of(before), set_of(after));
        for f in sa.difference(&sb) {
            if prop == "PermissionGroups" && f == "Custom" && acl_both {
                continue;
            }
            push(
                prop,
                "added",
                None,
                Some(f.clone()),
                format!("{id}: {prop} gained {f}"),
            );
        }
        for f in sb.difference(&sa) {
            if prop == "PermissionGroups" && f == "Custom" && acl_both {
                continue;
            }
            push(
                prop,
                "removed",
                Some(f.clone()),
                None,
                format!("{id}: {prop} lost {f}"),
            );
        }
    }
    let bind = |c: &ReceiveConnector| -> BTreeSet<String> {
        c.bindings
            .iter()
            .map(|x| format!("{}:{}", x.address, x.port))
            .collect()
    };
    let (bb, ba) = (bind(b), bind(a));
    for x in ba.difference(&bb) {
        push(
            "Bindings",
            "added",
            None,
            Some(x.clone()),
            format!("{id}: now also bound to {x}"),
        );
    }
    for x in bb.difference(&ba) {
        push(
            "Bindings",
            "removed",
            Some(x.clone()),
            None,
            format!("{id}: no longer bound to {x}"),
        );
    }
    let scalar = |v: Option<bool>| v.map(|x| if x { "True" } else { "False" }.to_string());
    for (prop, before, after) in [
        ("Enabled", scalar(b.enabled), scalar(a.enabled)),
        ("RequireTLS", scalar(b.require_tls), scalar(a.require_tls)),
        (
            "ProtocolLoggingLevel",
            b.protocol_logging.clone(),
            a.protocol_logging.clone(),
        ),
        (
            "TransportRole",
            b.transport_role.clone(),
            a.transport_role.clone(),
        ),
    ] {
        if before != after && before.is_some() && after.is_some() {
            let d = format!(
                "{id}: {prop} {} -> {}",
                before.as_deref().unwrap_or(""),
                after.as_deref().unwrap_or("")
            );
            push(prop, "changed", before, after, d);
        }
    }
}

type AceKey = (String, String, bool);

/// (connector, user, deny) -> (display identity, display user, rights).
fn ace_map(aces: &[Ace]) -> BTreeMap<AceKey, (String, String, BTreeSet<String>)> {
    let mut m: BTreeMap<AceKey, (String, String, BTreeSet<String>)> = BTreeMap::new();
    for a in aces {
        let id = a.identity.as_deref().unwrap_or_default().to_string();
        let e = m
            .entry((key(&id), key(&a.user), a.deny))
            .or_insert_with(|| (id.clone(), a.user.clone(), BTreeSet::new()));
        for r in &a.extended_rights {
            e.2.insert(r.to_string());
        }
    }
    m
}

/// Configuration changes from `before` to `after`.
pub fn changes(before: &Model, after: &Model) -> Vec<Change> {
    let mut out = Vec::new();
    let acl_ids = |m: &Model| -> BTreeSet<String> {
        m.aces
            .iter()
            .filter_map(|a| a.identity.as_deref().map(key))
            .collect()
    };
    let (acl_b, acl_a) = (acl_ids(before), acl_ids(after));
    let bmap: BTreeMap<String, &ReceiveConnector> = before
        .connectors
        .iter()
        .map(|c| (key(&c.identity), c))
        .collect();
    let amap: BTreeMap<String, &ReceiveConnector> = after
        .connectors
        .iter()
        .map(|c| (key(&c.identity), c))
        .collect();
    for (k, a) in &amap {
        match bmap.get(k) {
            Some(b) => connector_changes(b, a, acl_b.contains(k) && acl_a.contains(k), &mut out),
            None => out.push(Change {
                kind: ObjectKind::ReceiveConnector,
                object: a.identity.clone(),
                property: "object".into(),
                change: "added",
                before: None,
                after: a.ranges.as_ref().map(|r| r.to_string()),
                description: format!(
                    "{}: new receive connector (RemoteIPRanges {})",
                    a.identity,
                    a.ranges
                        .as_ref()
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "not exported".into())
                ),
            }),
        }
    }
    for (k, b) in &bmap {
        if !amap.contains_key(k) {
            out.push(Change {
                kind: ObjectKind::ReceiveConnector,
                object: b.identity.clone(),
                property: "object".into(),
                change: "removed",
                before: None,
                after: None,
                description: format!("{}: receive connector removed", b.identity),
            });
        }
    }
    let (ab, aa) = (ace_map(&before.aces), ace_map(&after.aces));
    let none = BTreeSet::new();
    for (k, (id, user, rights)) in &aa {
        let old = ab.get(k).map(|e| &e.2).unwrap_or(&none);
        for r in rights.difference(old) {
            let verb = if k.2 { "denied" } else { "granted" };
            out.push(Change {
                kind: ObjectKind::AdPermission,
                object: id.clone(),
                property: "ACE".into(),
                change: if k.2 { "denied" } else { "granted" },
                before: None,
                after: Some(format!("{user} {r}")),
                description: format!("{id}: {r} {verb} to {user}"),
            });
        }
    }
    for (k, (id, user, rights)) in &ab {
        let new = aa.get(k).map(|e| &e.2).unwrap_or(&none);
        for r in rights.difference(new) {
            out.push(Change {
                kind: ObjectKind::AdPermission,
                object: id.clone(),
                property: "ACE".into(),
                change: "revoked",
                before: Some(format!("{user} {r}")),
                after: None,
                description: if k.2 {
                    format!("{id}: deny of {r} to {user} removed")
                } else {
                    format!("{id}: {r} revoked from {user}")
                },
            });
        }
    }
    let db: BTreeMap<String, &crate::model::AcceptedDomain> = before
        .domains
        .iter()
        .map(|d| (key(&d.identity), d))
        .collect();
    let da: BTreeMap<String, &crate::model::AcceptedDomain> = after
        .domains
        .iter()
        .map(|d| (key(&d.identity), d))
        .collect();
    for (k, a) in &da {
        let ty = a.domain_type.clone().unwrap_or_default();
        match db.get(k) {
            None => out.push(Change {
                kind: ObjectKind::AcceptedDomain,
                object: a.identity.clone(),
                property: "object".into(),
                change: "added",
                before: None,
                after: Some(format!("{} {ty}", a.domain_name)),
                description: format!("accepted domain added: {} ({ty})", a.domain_name),
            }),
            Some(b) => {
                let tb = b.domain_type.clone().unwrap_or_default();
                if tb != ty || !b.domain_name.eq_ignore_ascii_case(&a.domain_name) {
                    out.push(Change {
                        kind: ObjectKind::AcceptedDomain,
                        object: a.identity.clone(),
                        property: "DomainType".into(),
                        change: "changed",
                        before: Some(format!("{} {tb}", b.domain_name)),
                        after: Some(format!("{} {ty}", a.domain_name)),
                        description: format!(
                            "accepted domain {}: {} {tb} -> {} {ty}",
                            a.identity, b.domain_name, a.domain_name
                        ),
                    })
                }
            }
        }
    }
    for (k, b) in &db {
        if !da.contains_key(k) {
            out.push(Change {
                kind: ObjectKind::AcceptedDomain,
                object: b.identity.clone(),
                property: "object".into(),
                change: "removed",
                before: Some(b.domain_name.clone()),
                after: None,
                description: format!("accepted domain removed: {}", b.domain_name),
            });
        }
    }
    out
}

/// Compares two loaded exports and their findings.
pub fn diff(
    before: Loaded,
    before_findings: Vec<Finding>,
    after: Loaded,
    after_findings: Vec<Finding>,
    rules: &crate::rules::RuleSet,
) -> DiffReport {
    let changes = changes(&before.model, &after.model);
    let (before_counts, after_counts) = (counts(&before.model), counts(&after.model));
    let fb: BTreeSet<&str> = before_findings
        .iter()
        .map(|f| f.fingerprint.as_str())
        .collect();
    let fa: BTreeSet<&str> = after_findings
        .iter()
        .map(|f| f.fingerprint.as_str())
        .collect();
    let introduced: Vec<Finding> = after_findings
        .iter()
        .filter(|f| !fb.contains(f.fingerprint.as_str()))
        .cloned()
        .collect();
    let resolved: Vec<Finding> = before_findings
        .iter()
        .filter(|f| !fa.contains(f.fingerprint.as_str()))
        .cloned()
        .collect();
    let mut diagnostics = before.diagnostics;
    diagnostics.extend(after.diagnostics);
    let mut errors = before.errors;
    errors.extend(after.errors);
    DiffReport {
        tool: crate::scan::Tool {
            name: "relay-audit",
            version: env!("CARGO_PKG_VERSION"),
        },
        rules_version: rules.version(),
        before: before.inputs,
        after: after.inputs,
        changes,
        introduced,
        resolved,
        diagnostics,
        errors,
        before_counts,
        after_counts,
    }
}

/// What an export held, as a scan report counts it.
fn counts(m: &Model) -> ModelCounts {
    let legacy = |k: ObjectKind| m.legacy.iter().filter(|o| o.kind == k).count();
    ModelCounts {
        servers: m.servers.len(),
        connectors: m.connectors.len(),
        permissions: m.aces.len(),
        domains: m.domains.len(),
        imcs: legacy(ObjectKind::Imc),
        virtual_servers: legacy(ObjectKind::SmtpVirtualServer),
        smtp_connectors: legacy(ObjectKind::SmtpConnector),
        log_sets: m.usage.sets.len(),
        probes: 0,
    }
}

/// `--format table` (and the body of `--format markdown`) for people.
pub fn write_text(
    d: &DiffReport,
    fail_on: FailOn,
    markdown: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let verdict = status(d, fail_on);
    if markdown {
        writeln!(out, "## {} {verdict}\n", mark(d, fail_on))?;
    } else {
        writeln!(out, "{verdict}\n")?;
    }
    write_body(d, markdown, out)
}

/// ✅ when the review passes, ❌ when it fails or an input could not be read.
fn mark(d: &DiffReport, fail_on: FailOn) -> &'static str {
    if d.exit_code(fail_on) == 0 {
        "✅"
    } else {
        "❌"
    }
}

/// The status line: `relay-audit diff: the change introduces ...`.
fn status(d: &DiffReport, fail_on: FailOn) -> String {
    let verdict = match (d.exit_code(fail_on), fail_on) {
        (2, _) => "an input could not be read".to_string(),
        (1, FailOn::At(s)) => format!("the change introduces findings at or above {s}"),
        (_, FailOn::At(s)) => format!("the change introduces no finding at or above {s}"),
        (_, FailOn::Never) => "report only (--fail-on never)".to_string(),
    };
    format!("relay-audit diff: {verdict}")
}

/// Everything after the status line: changes, introduced and resolved findings, errors.
fn write_body(d: &DiffReport, markdown: bool, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let esc = |s: &str| -> String {
        if markdown {
            crate::report::markdown::escape(s)
        } else {
            crate::term::visible_line(s).into_owned()
        }
    };
    let bullet = if markdown { "- " } else { "  " };
    writeln!(
        out,
        "{}Configuration changes that matter for relay ({})",
        if markdown { "### " } else { "" },
        d.changes.len()
    )?;
    if markdown {
        writeln!(out)?;
    }
    for c in &d.changes {
        writeln!(out, "{bullet}{}", esc(&c.description))?;
    }
    if d.changes.is_empty() {
        writeln!(out, "{bullet}none")?;
    }
    writeln!(out)?;
    for (title, list) in [
        ("Findings introduced", &d.introduced),
        ("Findings resolved", &d.resolved),
    ] {
        writeln!(
            out,
            "{}{title} ({})",
            if markdown { "### " } else { "" },
            list.len()
        )?;
        if markdown {
            writeln!(out)?;
        }
        for f in list {
            writeln!(
                out,
                "{bullet}{} {} on {}: {}",
                f.severity,
                esc(&f.rule),
                esc(&f.object.id),
                esc(&f.message)
            )?;
        }
        if list.is_empty() {
            writeln!(out, "{bullet}none")?;
        }
        writeln!(out)?;
    }
    for e in &d.errors {
        writeln!(out, "{bullet}error: {}", esc(&e.text()))?;
    }
    Ok(())
}
