//! Permission entries (`Get-ADPermission`), kept compact.
//!
//! A collection holds every receive connector with its ACL: a dozen entries each, hundreds
//! of thousands in a large organisation, and nearly all of them the same dozen grants
//! (`NT AUTHORITY\ANONYMOUS LOGON` holds `ms-Exch-SMTP-Submit`, `MS Exchange\Externally
//! Secured Servers` holds ...) on a different connector. So what an entry grants is a
//! [`Grant`], built once per input and shared; an [`Ace`] is the connector it is on, that
//! grant, and where each of its properties was read. The texts an entry shows (its
//! identity, the exported values) are shared strings from the input's
//! [`super::interner::Interner`].

use super::builder::items;
use super::principal::Principal;
use super::{parse_bool, ModelBuilder, Raw, Source, Use, UNKNOWN_USER};
use crate::diag::Diagnostic;
use crate::input::record::{Record, Value};
use std::sync::Arc;

/// The properties of a permission entry kept as evidence, in this order.
pub(super) const PROPS: [&str; 6] = [
    "Identity",
    "User",
    "ExtendedRights",
    "AccessRights",
    "Deny",
    "IsInherited",
];

/// An exported property's text and whether the export cut it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shown {
    pub text: Arc<str>,
    pub truncated: bool,
}

/// What one permission entry grants, to whom, as exported: shared by every entry that grants
/// the same (so its own strings cost nothing per entry).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    pub user: String,
    pub principal: Principal,
    pub extended_rights: Vec<String>,
    pub extended_rights_truncated: bool,
    pub access_rights: Vec<String>,
    pub deny: bool,
    pub inherited: bool,
    /// The exported text of User, ExtendedRights, AccessRights, Deny and IsInherited
    /// (`None`: not exported).
    pub shown: [Option<Shown>; 5],
    /// Where each property stands in the entry's record: the same for every entry of one
    /// export, so it is shared with the grant.
    pub layout: Layout,
}

/// Which of [`PROPS`] an entry's record holds, each as a line offset from the record's
/// first line, and whether its Identity was cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Layout {
    offsets: [u32; 6],
    present: u8,
    identity_truncated: bool,
}

impl Grant {
    /// A grant with nothing exported beside its typed values (tests, synthetic entries).
    pub fn new(user: &str, principal: Principal, extended_rights: &[&str], deny: bool) -> Grant {
        Grant {
            user: user.into(),
            principal,
            extended_rights: extended_rights.iter().map(|r| r.to_string()).collect(),
            extended_rights_truncated: false,
            access_rights: vec![],
            deny,
            inherited: false,
            shown: Default::default(),
            layout: Layout::default(),
        }
    }

    pub fn has_right(&self, right: &str) -> bool {
        self.extended_rights
            .iter()
            .any(|r| r.eq_ignore_ascii_case(right))
    }
}

/// One access-control entry of `Get-ADPermission`: the object it is on, its grant, and the
/// lines it was read from. Reads as its [`Grant`] (`ace.user`, `ace.deny`).
#[derive(Debug, Clone)]
pub struct Ace {
    /// The object the ACE is on, as Exchange prints it (`EX01\Relay`).
    pub identity: Option<Arc<str>>,
    grant: Arc<Grant>,
    pub src: Source,
    /// The exported Identity text (the same shared text as `identity` when untrimmed).
    identity_shown: Option<Arc<str>>,
}

impl std::ops::Deref for Ace {
    type Target = Grant;
    fn deref(&self) -> &Grant {
        &self.grant
    }
}

impl Ace {
    /// An entry on `identity` read at `src`, with nothing exported beside its typed values.
    pub fn new(identity: Option<&str>, grant: Grant, src: Source) -> Ace {
        Ace {
            identity: identity.map(Arc::from),
            grant: Arc::new(grant),
            src,
            identity_shown: None,
        }
    }

    /// The grant, shared with the entries that grant the same.
    pub fn grant(&self) -> &Arc<Grant> {
        &self.grant
    }

    /// The exported property `name` (`User`, `ExtendedRights`...), as read.
    pub fn raw(&self, name: &str) -> Option<Raw> {
        let i = PROPS.iter().position(|p| p.eq_ignore_ascii_case(name))?;
        self.raw_at(i)
    }

    /// Every exported property kept as evidence, in export order of [`PROPS`].
    pub fn raws(&self) -> impl Iterator<Item = Raw> + '_ {
        (0..PROPS.len()).filter_map(|i| self.raw_at(i))
    }

    fn raw_at(&self, i: usize) -> Option<Raw> {
        let layout = &self.grant.layout;
        if layout.present & (1 << i) == 0 {
            return None;
        }
        let (value, truncated) = if i == 0 {
            (self.identity_shown.clone()?, layout.identity_truncated)
        } else {
            let s = self.grant.shown[i - 1].as_ref()?;
            (s.text.clone(), s.truncated)
        };
        Some(Raw {
            name: PROPS[i],
            value,
            line: self.src.line.wrapping_add(layout.offsets[i]),
            truncated,
        })
    }

    /// Shares the entry's grant with the equal grants `interner` holds (the entries of a
    /// file read by a builder of its own joining the model).
    pub(crate) fn share_grant(&mut self, interner: &mut super::interner::Interner) {
        self.grant = interner.share(&self.grant);
    }

    /// Re-points the entry at another object (a bare name resolved to `SERVER\name`).
    pub(crate) fn set_identity(&mut self, identity: Arc<str>) {
        self.identity = Some(identity);
    }
}

impl ModelBuilder {
    pub(super) fn add_ace(&mut self, file: &Arc<str>, rec: &Record) -> Use {
        // An entry whose principal the export lost is kept and judged: the right it grants
        // may be anyone's (PERM-RELAY-PRINCIPAL-UNKNOWN, PERM-RELAY-RIGHT-CUT).
        let user = match Self::text(rec, "User") {
            Some(u) => u,
            None => {
                self.diagnostics.push(Diagnostic::warning(
                    file,
                    Some(rec.line),
                    "permission entry without User: judged as an unknown principal",
                ));
                UNKNOWN_USER.to_string()
            }
        };
        let (extended_rights, extended_rights_truncated) =
            rec.value("ExtendedRights").map(items).unwrap_or_default();
        let (access_rights, _) = rec.value("AccessRights").map(items).unwrap_or_default();
        let mut layout = Layout::default();
        let mut identity_shown = None;
        let mut shown: [Option<Shown>; 5] = Default::default();
        for (i, name) in PROPS.iter().enumerate() {
            let Some(p) = rec.get(name) else { continue };
            // (wrapping: reversed exactly in `raw_at`, whatever the two lines are)
            layout.offsets[i] = p.line.wrapping_sub(rec.line);
            layout.present |= 1 << i;
            let text = self.interner.text(&p.value.display());
            match i {
                0 => {
                    identity_shown = Some(text);
                    layout.identity_truncated = p.value.is_incomplete();
                }
                _ => {
                    shown[i - 1] = Some(Shown {
                        text,
                        truncated: p.value.is_incomplete(),
                    })
                }
            }
        }
        let identity = Self::text(rec, "Identity").map(|t| self.interner.text(&t));
        let principal = match rec.value("User") {
            Some(Value::Cut(prefix)) => Principal::classify_prefix(prefix),
            _ => self.interner.principal(&user),
        };
        let grant = Grant {
            user,
            principal,
            extended_rights,
            extended_rights_truncated,
            access_rights,
            deny: rec.value("Deny").and_then(parse_bool).unwrap_or(false),
            inherited: rec
                .value("IsInherited")
                .and_then(parse_bool)
                .unwrap_or(false),
            shown,
            layout,
        };
        if let Some(Value::Missing(_)) = rec.value("ExtendedRights") {
            self.missing_rights += 1;
            if self.missing_rights == 1 {
                self.diagnostics.push(Diagnostic::warning(
                    file,
                    Some(rec.line),
                    "ExtendedRights were exported only as a type name (Export-Csv without -join): the rights of these permission entries are unknown",
                ));
            }
        } else if grant.extended_rights_truncated {
            self.diagnostics.push(Diagnostic::warning(
                file,
                Some(rec.line),
                format!(
                    "ExtendedRights of the entry for {} is cut off: the remaining rights are unknown",
                    grant.user
                ),
            ));
        }
        let grant = self.interner.grant(grant);
        let src = Source {
            file: file.clone(),
            line: rec.line,
        };
        self.model.aces.push(Ace {
            identity,
            grant,
            src,
            identity_shown,
        });
        Use::Added
    }
}

#[cfg(test)]
mod tests {
    use super::super::interner::Interner;
    use super::*;

    #[test]
    fn an_entry_stays_small() {
        // Hundreds of thousands are held at once: what an entry grants is shared.
        assert!(
            std::mem::size_of::<Ace>() <= 104,
            "{}",
            std::mem::size_of::<Ace>()
        );
    }

    #[test]
    fn equal_grants_are_held_once() {
        let mut i = Interner::default();
        let a = i.grant(Grant::new(
            "NT AUTHORITY\\ANONYMOUS LOGON",
            Principal::Anonymous,
            &["ms-Exch-SMTP-Submit"],
            false,
        ));
        let b = i.grant(Grant::new(
            "NT AUTHORITY\\ANONYMOUS LOGON",
            Principal::Anonymous,
            &["ms-Exch-SMTP-Submit"],
            false,
        ));
        let c = i.grant(Grant::new(
            "NT AUTHORITY\\ANONYMOUS LOGON",
            Principal::Anonymous,
            &["ms-Exch-SMTP-Submit"],
            true,
        ));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(&i.text("True"), &i.text("True")));
    }

    #[test]
    fn raw_properties_come_back_as_read() {
        let mut g = Grant::new(
            "NT AUTHORITY\\ANONYMOUS LOGON",
            Principal::Anonymous,
            &[],
            false,
        );
        g.shown[0] = Some(Shown {
            text: "NT AUTHORITY\\ANO...".into(),
            truncated: true,
        });
        g.layout = Layout {
            offsets: [0, 2, 0, 0, 0, 0],
            present: 0b11,
            identity_truncated: false,
        };
        let a = Ace {
            identity: Some("EX01\\Relay".into()),
            grant: Arc::new(g),
            src: Source {
                file: "p.txt".into(),
                line: 10,
            },
            identity_shown: Some("EX01\\Relay".into()),
        };
        let user = a.raw("user").unwrap();
        assert_eq!(
            (user.name, &*user.value, user.line, user.truncated),
            ("User", "NT AUTHORITY\\ANO...", 12, true)
        );
        let id = a.raw("Identity").unwrap();
        assert_eq!((&*id.value, id.line), ("EX01\\Relay", 10));
        assert_eq!(
            a.raws().map(|r| r.name).collect::<Vec<_>>(),
            ["Identity", "User"]
        );
        assert!(a.raw("ExtendedRights").is_none());
    }
}
