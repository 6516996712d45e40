//! Effective receive-connector permissions (FORMATS.md §6).
//!
//! A right is held by a *token* (the set of principal classes an SMTP session runs as: an
//! anonymous session carries Anonymous and Everyone; an authenticated user carries
//! Authenticated Users and Everyone) when an allow entry grants it to any class in the
//! token and no deny entry takes it from any class in the token. Entries come from the
//! exported `Get-ADPermission` ACEs and from the connector's PermissionGroups (each group
//! implies fixed ACEs); `AuthMechanism ExternalAuthoritative` makes every client in
//! RemoteIPRanges an Externally Secured server.

use crate::model::principal::Principal;
use crate::model::{same_identity, Ace, Model, ReceiveConnector};

/// Relay-relevant rights each permission group grants, and to whom (Microsoft's "Receive
/// connector permission groups" table, abridged to the rights relay-audit reasons about).
pub const GROUP_GRANTS: &[(&str, &[&str], &[&str])] = &[
    (
        "AnonymousUsers",
        &["anonymous"],
        &[
            "ms-Exch-SMTP-Submit",
            "ms-Exch-SMTP-Accept-Any-Sender",
            "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender",
            "ms-Exch-Accept-Headers-Routing",
        ],
    ),
    (
        "ExchangeUsers",
        &["authenticated-users"],
        &[
            "ms-Exch-SMTP-Submit",
            "ms-Exch-SMTP-Accept-Any-Recipient",
            "ms-Exch-Bypass-Anti-Spam",
            "ms-Exch-Accept-Headers-Routing",
        ],
    ),
    (
        "ExchangeServers",
        // Externally Secured Servers hold rights in the ACL of connectors with this group
        // (they only act with AuthMechanism ExternalAuthoritative).
        &[
            "exchange-servers",
            "hub-transport-servers",
            "edge-transport-servers",
            "externally-secured-servers",
        ],
        SERVER_RIGHTS,
    ),
    ("ExchangeLegacyServers", &["legacy-interop"], SERVER_RIGHTS),
    (
        "Partners",
        &["partner-servers"],
        &["ms-Exch-SMTP-Submit", "ms-Exch-Accept-Headers-Routing"],
    ),
];

const SERVER_RIGHTS: &[&str] = &[
    "ms-Exch-SMTP-Submit",
    "ms-Exch-SMTP-Accept-Any-Recipient",
    "ms-Exch-SMTP-Accept-Any-Sender",
    "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender",
    "ms-Exch-Bypass-Anti-Spam",
    "ms-Exch-Bypass-Message-Size-Limit",
    "ms-Exch-Accept-Headers-Routing",
    "ms-Exch-Accept-Headers-Organization",
    "ms-Exch-Accept-Headers-Forest",
    "ms-Exch-SMTP-Accept-Exch50",
    "ms-Exch-SMTP-Accept-XShadow",
];

/// How a right is granted.
#[derive(Debug, Clone)]
pub enum Via<'m> {
    /// An exported access-control entry.
    Ace(&'m Ace),
    /// A permission group of the connector (the ACEs it implies were not exported).
    Group(&'static str),
    /// `AuthMechanism ExternalAuthoritative`.
    ExternallySecured,
}

#[derive(Debug, Clone)]
pub struct Grant<'m> {
    pub via: Via<'m>,
    /// Whether the connector's PermissionGroups account for this grant. An ACE that no
    /// group explains was added by hand (`Add-ADPermission`).
    pub explained_by_group: bool,
}

/// The token an SMTP session of this kind runs as.
pub fn token(principal: &str) -> Vec<&str> {
    match principal {
        "anonymous" => vec!["anonymous", "everyone"],
        "authenticated-users" => vec!["authenticated-users", "everyone"],
        other => vec![other],
    }
}

fn class_matches(p: &Principal, classes: &[&str]) -> bool {
    classes.contains(&"any") || classes.contains(&p.class())
}

fn group_explains(c: &ReceiveConnector, p: &Principal, right: &str) -> bool {
    let Some(groups) = &c.permission_groups else {
        return false;
    };
    GROUP_GRANTS.iter().any(|(g, who, rights)| {
        groups.iter().any(|x| x.eq_ignore_ascii_case(g))
            && who.contains(&p.class())
            && rights.iter().any(|r| r.eq_ignore_ascii_case(right))
    }) || (c.has_auth("ExternalAuthoritative")
        && *p == Principal::ExternallySecuredServers
        && SERVER_RIGHTS.iter().any(|r| r.eq_ignore_ascii_case(right)))
}

/// Facts about one receive connector.
#[derive(Debug)]
pub struct ConnectorFacts<'m> {
    pub connector: &'m ReceiveConnector,
    /// The exported ACEs on this connector.
    pub aces: Vec<&'m Ace>,
}

impl<'m> ConnectorFacts<'m> {
    /// Were any `Get-ADPermission` entries exported for this connector?
    pub fn permissions_exported(&self) -> bool {
        !self.aces.is_empty()
    }

    /// Allow grants of `right` to any class of `classes` (`any` matches every principal),
    /// unless a deny entry for a class of the same token takes it away. Returns the grants
    /// and the deny entries that override them (grants are empty when denied).
    pub fn holds(&self, classes: &[&str], right: &str) -> (Vec<Grant<'m>>, Vec<&'m Ace>) {
        let c = self.connector;
        let denies: Vec<&'m Ace> = self
            .aces
            .iter()
            .copied()
            .filter(|a| a.deny && a.has_right(right) && class_matches(&a.principal, classes))
            .collect();
        if !denies.is_empty() && !classes.contains(&"any") {
            return (vec![], denies);
        }
        let mut grants = Vec::new();
        for a in &self.aces {
            if !a.deny && a.has_right(right) && class_matches(&a.principal, classes) {
                // With "any", a deny only removes the grant of its own principal.
                if denies.iter().any(|d| d.principal == a.principal) {
                    continue;
                }
                grants.push(Grant {
                    via: Via::Ace(a),
                    explained_by_group: group_explains(c, &a.principal, right),
                });
            }
        }
        if let Some(groups) = &c.permission_groups {
            for (g, who, rights) in GROUP_GRANTS {
                if groups.iter().any(|x| x.eq_ignore_ascii_case(g))
                    && who
                        .iter()
                        .any(|w| classes.contains(w) || classes.contains(&"any"))
                    && rights.iter().any(|r| r.eq_ignore_ascii_case(right))
                    && !denies.iter().any(|d| who.contains(&d.principal.class()))
                {
                    grants.push(Grant {
                        via: Via::Group(g),
                        explained_by_group: true,
                    });
                }
            }
        }
        if c.has_auth("ExternalAuthoritative")
            && (classes.contains(&"externally-secured-servers") || classes.contains(&"any"))
            && SERVER_RIGHTS.iter().any(|r| r.eq_ignore_ascii_case(right))
        {
            grants.push(Grant {
                via: Via::ExternallySecured,
                explained_by_group: true,
            });
        }
        (grants, denies)
    }
}

/// Facts for the whole model.
#[derive(Debug)]
pub struct Facts<'m> {
    pub connectors: Vec<ConnectorFacts<'m>>,
    /// ACEs whose Identity names no exported connector.
    pub orphan_aces: Vec<&'m Ace>,
    /// Lower-cased identity -> index in `connectors`.
    by_id: std::collections::HashMap<String, usize>,
}

impl<'m> Facts<'m> {
    pub fn compute(model: &'m Model) -> Facts<'m> {
        use std::collections::HashMap;
        let mut by_id: HashMap<String, usize> = HashMap::new();
        let mut connectors: Vec<ConnectorFacts<'m>> = model
            .connectors
            .iter()
            .enumerate()
            .map(|(i, c)| {
                by_id.insert(c.identity.trim().to_lowercase(), i);
                ConnectorFacts {
                    connector: c,
                    aces: Vec::new(),
                }
            })
            .collect();
        let mut orphan_aces = Vec::new();
        for a in &model.aces {
            let idx = a
                .identity
                .as_ref()
                .and_then(|id| by_id.get(&id.trim().to_lowercase()).copied());
            match idx {
                Some(i) => connectors[i].aces.push(a),
                None => orphan_aces.push(a),
            }
        }
        debug_assert!(connectors.iter().all(|f| f.aces.iter().all(|a| a
            .identity
            .as_deref()
            .is_some_and(|id| same_identity(id, &f.connector.identity)))));
        Facts {
            connectors,
            orphan_aces,
            by_id,
        }
    }

    /// The connector with this identity (case-insensitive), in constant time: rules ask once
    /// per permission entry, and organisations have hundreds of thousands of entries.
    pub fn connector(&self, identity: &str) -> Option<&ConnectorFacts<'m>> {
        let key = identity.trim();
        let hit = self
            .by_id
            .get(key)
            .or_else(|| self.by_id.get(&key.to_lowercase()));
        hit.map(|&i| &self.connectors[i])
    }
}
