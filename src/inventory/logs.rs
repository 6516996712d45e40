//! The inventory's view of the SMTP logs, as text: who used which connector, and the hosts
//! each migrated relay connector was seen serving.

use super::{short_list, Inventory, Migration, UsageRow};
use std::fmt::Write as _;

/// Lines of the usage table in the text form (the JSON has every row).
const USAGE_LINES: usize = 60;

pub(super) fn write_text(o: &mut String, inv: &Inventory) {
    if !inv.usage.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "Relay usage (SMTP logs, where each client connected; relaying hosts first)"
        );
        let direct: Vec<&UsageRow> = inv.usage.iter().filter(|r| !r.via_proxy).collect();
        for r in direct.iter().take(USAGE_LINES) {
            let _ = writeln!(
                o,
                "  {:<34} {:<16} {:<28} {:>5} sessions {:>5} msgs  inside {:>5}  relayed {:>5}  refused {:>4}  {} .. {}{}",
                r.connector,
                r.client,
                format!(
                    "{}{}",
                    r.auth,
                    r.helo.as_deref().map(|h| format!(", {h}")).unwrap_or_default()
                ),
                r.sessions,
                r.messages,
                r.inside,
                r.relayed,
                r.refused,
                &r.first[..10.min(r.first.len())],
                &r.last[..10.min(r.last.len())],
                match r.trusted {
                    Some(true) => "  (trusted)",
                    Some(false) if r.relayed > 0 => "  (NOT in the site file)",
                    _ => "",
                }
            );
        }
        if direct.len() > USAGE_LINES {
            let _ = writeln!(o, "  … {} more (--format json)", direct.len() - USAGE_LINES);
        }
    }
    let seen: Vec<&Migration> = inv
        .migration
        .iter()
        .filter(|m| m.observed.is_some() && m.migrated)
        .collect();
    if !seen.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "Hosts seen relaying (SMTP logs)");
        for m in seen {
            let Some(ob) = &m.observed else { continue };
            let _ = writeln!(o, "  {} — logs: {}", m.connector, ob.window);
            if ob.logging_off {
                let _ = writeln!(
                    o,
                    "    ProtocolLoggingLevel None: the logs cannot show who uses it"
                );
            }
            let _ = writeln!(o, "    seen:    {}", short_list(&ob.hosts, 24));
            let _ = writeln!(o, "    allowed, never seen: {}", short_list(&ob.unseen, 24));
        }
    }
}
