//! IIS 6 metabase copies of 2000/2003 SMTP virtual servers (FORMATS.md §7).
//!
//! Exchange keeps the authoritative settings in Active Directory and copies them one way into
//! the metabase (DS2MB), which it overwrites. So when both copies were exported:
//!
//! - the Active Directory object (LDIF or settings file) is the one audited;
//! - every setting whose metabase value differs is recorded as a [`Drift`] on it, which the
//!   `SVS-METABASE-DRIFT` rule reports: the server runs with the metabase value until the
//!   next copy, and a difference that persists means the copy is broken or bypassed.
//!
//! A metabase server with no Active Directory counterpart is audited on its own (a bare IIS
//! SMTP service, or a server whose LDIF was not exported).
//!
//! A MetaBase.xml does not name its computer. It is attributed to the 2000/2003 server whose
//! name is a folder or the start of the file name of its path (`MAIL/MetaBase.xml`,
//! `MAIL-MetaBase.xml`); failing that, to the only such server the inputs describe; failing
//! that, to `(unknown server)` with a warning.

use super::legacy::{Drift, Legacy, LegacyObject, MetabaseCopy, VirtualServer};
use super::{ModelBuilder, Product, Source};
use crate::diag::Diagnostic;
use crate::input::record::ObjectKind;

/// Does a path component name the server (`MAIL`, `MAIL-MetaBase.xml`, `mail_metabase`)?
fn names_server(path: &str, server: &str) -> bool {
    let server = server.to_ascii_lowercase();
    path.split(['/', '\\']).any(|part| {
        let part = part.to_ascii_lowercase();
        part == server
            || part
                .strip_prefix(&server)
                .is_some_and(|rest| rest.starts_with(|c: char| !c.is_ascii_alphanumeric()))
    })
}

/// The relay settings of a virtual server in one comparable line.
fn relay_text(v: &VirtualServer) -> Option<String> {
    if v.relay_list_undecoded.is_some() {
        return None;
    }
    Some(super::legacy::list_text(
        v.relay_mode?,
        &v.relay_ips,
        &v.relay_names,
    ))
}

fn sorted_lower(v: &[String]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.trim().to_lowercase()).collect();
    v.sort();
    v.dedup();
    v
}

/// The settings that differ between the Active Directory object and its metabase copy.
fn drift(
    ad: &LegacyObject,
    adv: &VirtualServer,
    mb: &VirtualServer,
    mb_raw: &LegacyObject,
) -> Vec<Drift> {
    let mut out = Vec::new();
    let line =
        |o: &LegacyObject, names: &[&str]| names.iter().find_map(|n| o.raw(n).map(|r| r.line));
    let mut push = |setting: &'static str, a: String, m: String, names: &[&str]| {
        out.push(Drift {
            setting,
            ad: a,
            ad_line: line(ad, names),
            metabase: m,
            metabase_line: line(mb_raw, names).unwrap_or(mb_raw.src.line),
        });
    };
    let relay_names = &[
        "relay_list",
        "relay",
        "msExchSmtpRelayIpList",
        "RelayIpList",
    ];
    match (
        &adv.relay_blob,
        &mb.relay_blob,
        relay_text(adv),
        relay_text(mb),
    ) {
        (_, _, Some(a), Some(m)) if a != m => push("Relay restrictions", a, m, relay_names),
        (None, Some(m), None, mt) if adv.relay_list_undecoded.is_some() => push(
            "Relay restrictions",
            "(not set)".into(),
            mt.unwrap_or_else(|| super::ipseclist::describe(m)),
            relay_names,
        ),
        (Some(a), Some(m), None, _) | (Some(a), Some(m), _, None) if a != m => push(
            "Relay restrictions (blob)",
            super::ipseclist::describe(a),
            super::ipseclist::describe(m),
            relay_names,
        ),
        _ => {}
    }
    if let (Some(a), Some(m)) = (&adv.connection, &mb.connection) {
        if a.text() != m.text() {
            push(
                "Connection control",
                a.text(),
                m.text(),
                &[
                    "connection_list",
                    "connection",
                    "msExchIPSecurity",
                    "IPSecurity",
                ],
            );
        }
    }
    if let (Some(a), Some(m)) = (adv.allow_authenticated_relay, mb.allow_authenticated_relay) {
        if a != m {
            let yn = |b: bool| if b { "ticked" } else { "not ticked" }.to_string();
            push(
                "Allow all computers which successfully authenticate to relay",
                yn(a),
                yn(m),
                &["allow_authenticated_relay"],
            );
        }
    }
    if let (Some(a), Some(m)) = (&adv.authentication, &mb.authentication) {
        if sorted_lower(a) != sorted_lower(m) {
            push(
                "Authentication",
                a.join(", "),
                m.join(", "),
                &["authentication"],
            );
        }
    }
    if let (Some(a), Some(m)) = (&adv.bindings, &mb.bindings) {
        if sorted_lower(a) != sorted_lower(m) {
            push(
                "IP address and port",
                a.join(", "),
                m.join(", "),
                &["server_bindings"],
            );
        }
    }
    out
}

impl ModelBuilder {
    /// Attributes each metabase SMTP virtual server to its server, then either records it
    /// as the metabase copy of the Active Directory object (with the drift) or adds it.
    pub(crate) fn attach_metabase(&mut self) {
        for (file, rec) in std::mem::take(&mut self.pending_metabase) {
            let src = Source {
                file: file.clone(),
                line: rec.line,
            };
            let mut candidates: Vec<String> = Vec::new();
            let legacy_names = self
                .model
                .legacy
                .iter()
                .filter(|o| o.kind == ObjectKind::SmtpVirtualServer)
                .map(|o| o.server.clone());
            let server_names = self
                .model
                .servers
                .iter()
                .filter(|s| matches!(s.product, Some(Product::Ex2000 | Product::Ex2003)))
                .map(|s| s.name.clone());
            for n in legacy_names.chain(server_names) {
                if !candidates.iter().any(|c| c.eq_ignore_ascii_case(&n)) {
                    candidates.push(n);
                }
            }
            let by_path: Vec<&String> = candidates
                .iter()
                .filter(|c| names_server(&file, c))
                .collect();
            let server = match (by_path.as_slice(), candidates.as_slice()) {
                ([one], _) => (*one).clone(),
                ([], [one]) => one.clone(),
                _ => {
                    self.diagnostics.push(Diagnostic::warning(
                        &file,
                        Some(rec.line),
                        if candidates.is_empty() {
                            "the MetaBase.xml names no computer and the inputs describe no Exchange 2000/2003 server: judged as '(unknown server)' (put it in a folder named after the server)".to_string()
                        } else {
                            format!(
                                "the MetaBase.xml names no computer and the inputs describe several Exchange 2000/2003 servers ({}): judged as '(unknown server)' (put it in a folder named after the server)",
                                candidates.join(", ")
                            )
                        },
                    ));
                    "(unknown server)".to_string()
                }
            };
            let name = Self::text(&rec, "Name").unwrap_or_default();
            let identity = format!("{server}\\{name}");
            let (v, extra) = self.virtual_server(&file, &rec, &identity);
            let mut raw: Vec<super::Raw> = [
                "Name",
                "allow_authenticated_relay",
                "authentication",
                "server_bindings",
                "instance",
            ]
            .iter()
            .filter_map(|n| Self::raw(&rec, n))
            .collect();
            raw.extend(extra);
            let location = Self::text(&rec, crate::input::metabase::LOCATION).unwrap_or_default();
            let server_rec = self
                .model
                .servers
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(&server));
            let mb_obj = LegacyObject {
                kind: ObjectKind::SmtpVirtualServer,
                identity: identity.clone(),
                server: server.clone(),
                name: name.clone(),
                src: src.clone(),
                product: server_rec.and_then(|s| s.product),
                service_pack: server_rec.and_then(|s| s.service_pack),
                raw,
                detail: Legacy::VirtualServer(v.clone()),
            };
            // The Active Directory object of the same instance (or name) on the same server.
            let ad = self.model.legacy.iter().position(|o| {
                let Legacy::VirtualServer(adv) = &o.detail else {
                    return false;
                };
                o.server.eq_ignore_ascii_case(&server)
                    && adv.metabase.is_none()
                    && match (&adv.instance, &v.instance) {
                        (Some(a), Some(m)) => a == m,
                        _ => o.name.eq_ignore_ascii_case(&name),
                    }
            });
            match ad {
                Some(i) => {
                    let drift = {
                        let o = &self.model.legacy[i];
                        let Legacy::VirtualServer(adv) = &o.detail else {
                            continue;
                        };
                        drift(o, adv, &v, &mb_obj)
                    };
                    let relay = v
                        .relay_mode
                        .filter(|_| v.relay_list_undecoded.is_none())
                        .map(|m| (m, v.relay_ips.is_empty() && v.relay_names.is_empty()));
                    let relay_text = relay_text(&v).map(|t| {
                        let line = mb_obj
                            .raw("relay")
                            .map(|r| r.line)
                            .unwrap_or(mb_obj.src.line);
                        (t, line)
                    });
                    if let Legacy::VirtualServer(adv) = &mut self.model.legacy[i].detail {
                        adv.metabase = Some(MetabaseCopy {
                            src,
                            location,
                            drift,
                            relay,
                            relay_text,
                        });
                    }
                }
                None => {
                    let key = format!("{}|{identity}", ObjectKind::SmtpVirtualServer.as_str());
                    Self::upsert(
                        &mut self.diagnostics,
                        &mut self.model.legacy,
                        &mut self.seen_legacy,
                        &key,
                        mb_obj,
                        "smtp-virtual-server",
                        &src,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_in_paths() {
        assert!(names_server("exports/MAIL/MetaBase.xml", "mail"));
        assert!(names_server("exports/MAIL-MetaBase.xml", "MAIL"));
        assert!(!names_server("exports/MAILBOX/MetaBase.xml", "MAIL"));
        assert!(!names_server("exports/MetaBase.xml", "MAIL"));
    }
}
