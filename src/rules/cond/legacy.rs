//! The predicates of Exchange 4.0-2003 objects: the 5.5 Internet Mail Service (Routing tab,
//! registry relay values), the 2000/2003 SMTP virtual server (relay restrictions, metabase)
//! and SMTP connectors.

use super::{ev, holds_bool, Cond, Evidence};
use crate::model::legacy::{Legacy, LegacyObject, RelayMode};

fn legacy_ev(o: &LegacyObject, property: &str) -> Evidence {
    match o.raw(property) {
        Some(r) if r.value.trim().is_empty() => ev(&o.src, r.name, "(empty)", Some(r.line)),
        Some(r) => ev(&o.src, r.name, r.value.to_string(), Some(r.line)),
        None => ev(&o.src, property, "(not recorded)", None),
    }
}

/// Evidence from the `.reg` export of an IMC.
fn ev_reg(
    r: &crate::model::legacy::RegistryRelay,
    property: &str,
    value: impl Into<String>,
    line: Option<u32>,
) -> Evidence {
    ev(&r.src, property, value, line)
}

pub(super) fn eval_legacy(cond: &Cond, o: &LegacyObject) -> Option<Vec<Evidence>> {
    let e = |p: &str| vec![legacy_ev(o, p)];
    if let Cond::ServicePackLt(n) = cond {
        return (o.service_pack? < *n).then(|| e("service_pack"));
    }
    if let Legacy::Imc(crate::model::legacy::Imc {
        registry: Some(reg),
        ..
    }) = &o.detail
    {
        let flags_ev = || {
            ev(
                &reg.src,
                "RelayFlags",
                reg.flags_text(),
                reg.flags.map(|(_, l)| l),
            )
        };
        let allow_ev = || match &reg.allow {
            Some((v, l)) => ev(&reg.src, "RelayAllowList", v.join(", "), Some(*l)),
            None => ev(&reg.src, "RelayAllowList", "(not in the export)", None),
        };
        let flags = reg.flags.map(|(f, _)| f);
        match cond {
            Cond::RelayFlagsDenyOnly(want) => {
                let f = flags?;
                let deny_only = f & 1 != 0 && f & 6 == 0;
                return holds_bool(*want, deny_only, || vec![flags_ev()]);
            }
            Cond::RegistryAllowAddressesGt(n) | Cond::RegistryAllowPublicAddressesGt(n) => {
                if flags? & 2 == 0 {
                    return None;
                }
                let count = if matches!(cond, Cond::RegistryAllowPublicAddressesGt(_)) {
                    reg.allow_ips.public_count()
                } else {
                    reg.allow_ips.size()
                };
                return (count > *n).then(|| vec![flags_ev(), allow_ev()]);
            }
            Cond::RegistryListIncomplete(want) => {
                return holds_bool(*want, !reg.incomplete.is_empty(), || {
                    reg.incomplete
                        .iter()
                        .map(|(name, line)| {
                            ev_reg(
                                reg,
                                name,
                                "(only in part: a hex(7) value with an odd byte count)",
                                Some(*line),
                            )
                        })
                        .collect()
                });
            }
            Cond::RegistryRelayValues(want) => {
                let allow = reg.allow.as_ref().is_some_and(|(v, _)| !v.is_empty());
                let auth = flags.is_some_and(|f| f & 8 != 0);
                return holds_bool(*want, allow || auth, || {
                    let mut v = vec![flags_ev()];
                    if allow {
                        v.push(allow_ev());
                    }
                    v
                });
            }
            _ => {}
        }
    }
    if let (Legacy::Imc(i), Cond::LocalInterfaceForwarding(want)) = (&o.detail, cond) {
        let reg = i.registry.as_ref();
        // the local-interface list in force, and where it is
        let mut ev = Vec::new();
        let by_reg = reg.and_then(|r| {
            let on = r.flags.is_some_and(|(f, _)| f & 4 != 0)
                && r.local.as_ref().is_some_and(|(v, _)| !v.is_empty());
            on.then(|| {
                vec![
                    ev_reg(r, "RelayFlags", r.flags_text(), r.flags.map(|(_, l)| l)),
                    ev_reg(
                        r,
                        "RelayLocalIPList",
                        r.local
                            .as_ref()
                            .map(|(v, _)| v.join(", "))
                            .unwrap_or_default(),
                        r.local.as_ref().map(|(_, l)| *l),
                    ),
                ]
            })
        });
        let by_settings = (i.internal_ticked && !i.internal_addresses.is_empty()).then(|| {
            vec![
                legacy_ev(o, "hosts_connecting_to_these_internal_addresses"),
                legacy_ev(o, "internal_addresses"),
            ]
        });
        let local = by_reg.or(by_settings);
        let forwarding = match reg.and_then(|r| r.ip_forwarding.map(|f| (r, f))) {
            Some((r, (on, line))) => {
                if on {
                    ev.push(ev_reg(
                        r,
                        "IPEnableRouter",
                        "1 (IP routing enabled)",
                        Some(line),
                    ));
                }
                Some(on)
            }
            None => {
                if i.ip_forwarding == Some(true) {
                    ev.push(legacy_ev(o, "ip_forwarding"));
                }
                i.ip_forwarding
            }
        };
        let holds = local.is_some() && forwarding == Some(true);
        if !holds && (local.is_none() || forwarding.is_none()) && *want {
            return None;
        }
        return holds_bool(*want, holds, || {
            let mut v = local.unwrap_or_default();
            v.extend(ev);
            v
        });
    }
    match (&o.detail, cond) {
        (Legacy::Imc(i), Cond::Reroute(want)) => holds_bool(*want, i.reroute?, || e("routing")),
        (Legacy::Imc(i), Cond::RoutingRestricted(want)) => {
            let restricted = i.authenticate || i.ip_addresses_ticked || i.internal_ticked;
            holds_bool(*want, restricted, || {
                if i.restrictions_recorded {
                    vec![
                        legacy_ev(o, "hosts_that_successfully_authenticate"),
                        legacy_ev(o, "hosts_and_clients_with_these_ip_addresses"),
                        legacy_ev(o, "hosts_connecting_to_these_internal_addresses"),
                    ]
                } else {
                    e("routing_restrictions")
                }
            })
        }
        (Legacy::Imc(i), Cond::EmptyIpListTrick(want)) => {
            let trick = i.ip_addresses_ticked && i.ip_addresses.is_empty();
            holds_bool(*want, trick, || {
                vec![
                    legacy_ev(o, "hosts_and_clients_with_these_ip_addresses"),
                    legacy_ev(o, "ip_addresses"),
                ]
            })
        }
        (Legacy::Imc(i), Cond::OverrideRelayBroad(want)) => {
            let broad: Vec<_> = i
                .routing_entries
                .iter()
                .filter(|r| r.override_relay && r.is_broad())
                .collect();
            holds_bool(*want, !broad.is_empty(), || {
                let mut ev = legacy_ev(o, "routing_entries");
                if let Some(b) = broad.first() {
                    ev.value = format!("{} (override relay restrictions)", b.domain);
                }
                vec![ev]
            })
        }
        (Legacy::Imc(i), Cond::EncapsulatedRelayHotfix(want)) => {
            holds_bool(*want, i.hotfix_encapsulated_relay.unwrap_or(false), || {
                e("hotfix_encapsulated_relay")
            })
        }
        (Legacy::VirtualServer(v), Cond::RelayMode(want)) => {
            let mode = match v.relay_mode? {
                RelayMode::OnlyTheList => "only-the-list",
                RelayMode::AllExcept => "all-except",
            };
            (mode == want).then(|| e("relay"))
        }
        (Legacy::VirtualServer(v), Cond::RelayListEmpty(want)) => {
            let empty = v.relay_ips.size() == 0 && v.relay_names.is_empty();
            holds_bool(*want, empty, || e("relay_list"))
        }
        (Legacy::VirtualServer(v), Cond::RelayListAddressesGt(n)) => {
            (v.relay_ips.size() > *n).then(|| e("relay_list"))
        }
        (Legacy::VirtualServer(v), Cond::RelayListPublicAddressesGt(n)) => {
            (v.relay_ips.public_count() > *n).then(|| e("relay_list"))
        }
        (Legacy::VirtualServer(v), Cond::RelayListNames(want)) => {
            holds_bool(*want, !v.relay_names.is_empty(), || {
                let mut ev = legacy_ev(o, "relay_list");
                ev.value = v.relay_names.join(", ");
                vec![ev]
            })
        }
        (Legacy::VirtualServer(v), Cond::AuthenticatedRelay(want)) => {
            holds_bool(*want, v.allow_authenticated_relay?, || {
                e("allow_authenticated_relay")
            })
        }
        (Legacy::VirtualServer(v), Cond::Authentication(m)) => {
            let word = match m.as_str() {
                "anonymous" => "anonymous",
                "basic" => "basic",
                _ => "integrated",
            };
            v.authentication
                .as_ref()?
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with(word))
                .then(|| e("authentication"))
        }
        (Legacy::VirtualServer(v), Cond::RelayListDecoded(want)) => {
            holds_bool(*want, v.relay_list_undecoded.is_none(), || {
                e(if v.relay_list_undecoded.is_none() {
                    "relay_list"
                } else if o.raw("RelayIpList").is_some() {
                    "RelayIpList"
                } else {
                    "msExchSmtpRelayIpList"
                })
            })
        }
        (Legacy::VirtualServer(v), Cond::MetabaseRelayOpen(want)) => {
            let copy = v.metabase.as_ref()?;
            let (mode, _) = copy.relay?;
            let mb_open = mode == RelayMode::AllExcept;
            let ad_open = v.relay_mode == Some(RelayMode::AllExcept);
            holds_bool(*want, mb_open && !ad_open, || {
                let mut out = vec![legacy_ev(o, "relay")];
                if let Some((t, line)) = &copy.relay_text {
                    out.push(ev(
                        &copy.src,
                        &format!("Relay restrictions (metabase {})", copy.location),
                        t.clone(),
                        Some(*line),
                    ));
                }
                out
            })
        }
        (Legacy::VirtualServer(v), Cond::MetabaseDrift(want)) => {
            let copy = v.metabase.as_ref()?;
            holds_bool(*want, !copy.drift.is_empty(), || {
                let mut out = Vec::new();
                for d in &copy.drift {
                    out.push(ev(
                        &o.src,
                        &format!("{} (Active Directory)", d.setting),
                        d.ad.clone(),
                        d.ad_line,
                    ));
                    out.push(ev(
                        &copy.src,
                        &format!("{} (metabase {})", d.setting, copy.location),
                        d.metabase.clone(),
                        Some(d.metabase_line),
                    ));
                }
                out
            })
        }
        (Legacy::VirtualServer(v), Cond::InternetFacing(want)) => {
            holds_bool(*want, v.internet_facing?, || e("internet_facing"))
        }
        (Legacy::Connector(c), Cond::AddressSpaceAll(want)) => {
            let all = c.all_domains();
            holds_bool(*want, !all.is_empty(), || e("address_space"))
        }
        (Legacy::Connector(c), Cond::RelayToAddressSpace(want)) => {
            holds_bool(*want, c.allow_relay?, || e("allow_relay_to_these_domains"))
        }
        _ => None,
    }
}
