//! Site context: what the operator knows about the network and no Exchange export holds.
//!
//! A small TOML file (`--site FILE`), written by the operator, never read from inside the
//! audited export folder (the CLI refuses that: an export is the client's data, the site file
//! is the auditor's judgement):
//!
//! ```toml
//! [[trusted]]                      # hosts that are meant to relay
//! address = "10.1.1.25"            # an address, CIDR, start-end range or address(mask)
//! description = "Printer MFP-2F"
//!
//! [[nat]]                          # NAT / load-balancer source addresses (SNAT)
//! address = "10.9.9.9"
//! description = "F5 SNAT: every Internet client arrives as this address"
//!
//! [[internet_facing]]              # servers (and ports) the Internet reaches
//! server = "EX01"
//! ports = [25]                     # absent or empty: every port
//! description = "MX points at the F5"
//! ```
//!
//! The relay matrix and `explain` use it: a relay-allowed range that contains a NAT address is
//! open to everyone behind that NAT (for an SNAT in front of Exchange: the whole Internet);
//! relay ranges outside the trusted hosts are called out; Internet-facing listeners make a
//! public relay range an open relay.

use crate::model::ip_range::{IpRange, IpSet};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::Path;

/// One address entry of the site file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    pub range: IpRange,
    /// The entry as written in the file.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Host {
    /// `10.9.9.9` or `10.9.9.9 (F5 SNAT ...)`.
    pub fn label(&self) -> String {
        match &self.description {
            Some(d) => format!("{} ({d})", self.range),
            None => self.range.to_string(),
        }
    }
}

/// A server (and ports) the Internet reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facing {
    pub server: String,
    /// Empty: every port.
    pub ports: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The operator's site file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Site {
    /// The file it was read from (for messages).
    pub file: String,
    pub trusted: Vec<Host>,
    pub nat: Vec<Host>,
    pub internet_facing: Vec<Facing>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    #[serde(default)]
    trusted: Vec<RawHost>,
    #[serde(default)]
    nat: Vec<RawHost>,
    #[serde(default)]
    internet_facing: Vec<RawFacing>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    address: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFacing {
    server: String,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    description: Option<String>,
}

/// Server names compare case-insensitively and by their first label (`EX01` = `ex01.contoso.com`).
pub fn same_server(a: &str, b: &str) -> bool {
    #[cfg(test)]
    SAME_SERVER_CALLS.with(|c| c.set(c.get() + 1));
    // Equal first labels, case-folded, compared without allocating: this runs inside loops
    // over servers and connectors.
    fn first(s: &str) -> &str {
        let s = s.trim();
        s.split('.').next().unwrap_or(s)
    }
    first(a)
        .chars()
        .flat_map(char::to_lowercase)
        .eq(first(b).chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
thread_local! {
    /// [`same_server`] and [`server_key`] calls on this thread: tests assert the algorithmic
    /// shape with it.
    pub(crate) static SAME_SERVER_CALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The key [`same_server`] compares: the first label, lower-case. Two names are the same
/// server exactly when their keys are equal, so a map on it replaces a scan.
pub fn server_key(s: &str) -> String {
    #[cfg(test)]
    SAME_SERVER_CALLS.with(|c| c.set(c.get() + 1));
    let s = s.trim();
    s.split('.').next().unwrap_or(s).to_lowercase()
}

impl Site {
    /// Reads and checks a site file; errors name the file (and the entry).
    pub fn load(path: &Path) -> Result<Site, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read site file: {e}", path.display()))?;
        Site::parse(&text, &path.display().to_string())
    }

    /// Parses site-file text (`file` names it in messages).
    pub fn parse(text: &str, file: &str) -> Result<Site, String> {
        let raw: RawSite =
            toml::from_str(text).map_err(|e| format!("{file}: not a valid site file: {e}"))?;
        let hosts = |list: Vec<RawHost>, table: &str| -> Result<Vec<Host>, String> {
            list.into_iter()
                .enumerate()
                .map(|(i, h)| {
                    let range = IpRange::parse(&h.address).map_err(|e| {
                        format!("{file}: [[{table}]] entry {}: address: {e}", i + 1)
                    })?;
                    Ok(Host {
                        range,
                        text: h.address.trim().to_string(),
                        description: h
                            .description
                            .map(|d| d.trim().to_string())
                            .filter(|d| !d.is_empty()),
                    })
                })
                .collect()
        };
        let trusted = hosts(raw.trusted, "trusted")?;
        let nat = hosts(raw.nat, "nat")?;
        let mut internet_facing = Vec::new();
        for (i, f) in raw.internet_facing.into_iter().enumerate() {
            if f.server.trim().is_empty() {
                return Err(format!(
                    "{file}: [[internet_facing]] entry {}: server is empty",
                    i + 1
                ));
            }
            internet_facing.push(Facing {
                server: f.server.trim().to_string(),
                ports: f.ports,
                description: f.description.filter(|d| !d.trim().is_empty()),
            });
        }
        Ok(Site {
            file: file.to_string(),
            trusted,
            nat,
            internet_facing,
        })
    }

    /// The NAT entries that overlap `set`.
    pub fn nat_in(&self, set: &IpSet) -> Vec<&Host> {
        self.nat
            .iter()
            .filter(|h| !set.intersection(&IpSet::from(h.range)).is_empty())
            .collect()
    }

    /// The NAT entry containing `ip`.
    pub fn nat_for(&self, ip: IpAddr) -> Option<&Host> {
        self.nat.iter().find(|h| h.range.contains(ip))
    }

    /// The trusted entry containing `ip`.
    pub fn trusted_for(&self, ip: IpAddr) -> Option<&Host> {
        self.trusted.iter().find(|h| h.range.contains(ip))
    }

    /// The trusted entry covering all of `r`.
    pub fn trusted_covering(&self, r: IpRange) -> Option<&Host> {
        self.trusted
            .iter()
            .find(|h| IpSet::from(h.range).contains_range(r))
    }

    /// Every trusted address.
    pub fn trusted_set(&self) -> IpSet {
        IpSet::from_ranges(self.trusted.iter().map(|h| h.range))
    }

    /// Whether the site file says the Internet reaches `server:port`.
    pub fn internet_facing(&self, server: &str, port: u16) -> Option<&Facing> {
        self.internet_facing.iter().find(|f| {
            same_server(&f.server, server) && (f.ports.is_empty() || f.ports.contains(&port))
        })
    }

    /// What a relay range containing NAT entry `h` means.
    pub fn nat_sentence(&self, h: &Host, what: &str) -> String {
        let desc = h
            .description
            .as_deref()
            .map(|d| format!(": \"{d}\""))
            .unwrap_or_default();
        format!(
            "{} is a NAT / load-balancer SNAT address (site file{desc}): every Internet client arrives as it, so {what} is open to the Internet",
            h.range
        )
    }

    /// Site remarks on an address set from which sessions that need no account may relay
    /// through `what` on `server:port`: NAT addresses inside it, addresses outside the
    /// trusted hosts, and public addresses on an Internet-facing listener.
    pub fn relay_notes(&self, set: &IpSet, server: &str, port: u16, what: &str) -> Vec<String> {
        let mut out = Vec::new();
        if set.is_empty() {
            return out;
        }
        for h in self.nat_in(set) {
            out.push(self.nat_sentence(h, what));
        }
        if !self.trusted.is_empty() {
            let outside = set.difference(&self.trusted_set());
            if !outside.is_empty() {
                out.push(format!(
                    "{} address(es) of it are not trusted relay hosts in the site file: {}",
                    outside.size(),
                    abbreviate(&outside, 6)
                ));
            }
        }
        if let Some(f) = self.internet_facing(server, port) {
            let public = set.public();
            if !public.is_empty() {
                out.push(format!(
                    "{server}:{port} is Internet-facing (site file{}) and {} public address(es) may relay: {}",
                    f.description
                        .as_deref()
                        .map(|d| format!(": \"{d}\""))
                        .unwrap_or_default(),
                    public.size(),
                    abbreviate(&public, 6)
                ));
            }
        }
        out
    }
}

/// At most `n` ranges of a set, then `… (k more)`.
pub fn abbreviate(set: &IpSet, n: usize) -> String {
    let rs = set.ranges();
    let mut s = rs
        .iter()
        .take(n)
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if rs.len() > n {
        s.push_str(&format!(", … ({} more)", rs.len() - n));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = r#"
[[trusted]]
address = "10.1.1.25"
description = "Printer"

[[nat]]
address = "10.9.9.9"
description = "F5 SNAT"

[[internet_facing]]
server = "ex01.contoso.com"
ports = [25]
"#;

    #[test]
    fn parses_and_answers() {
        let s = Site::parse(SITE, "site.toml").unwrap();
        assert_eq!(s.trusted.len(), 1);
        assert_eq!(s.nat[0].range.to_string(), "10.9.9.9");
        assert!(s.nat_for("10.9.9.9".parse().unwrap()).is_some());
        assert!(s.nat_for("10.9.9.8".parse().unwrap()).is_none());
        assert!(s.internet_facing("EX01", 25).is_some());
        assert!(s.internet_facing("EX01", 587).is_none());
        let set = IpSet::parse_list("10.1.1.25, 10.9.9.9").unwrap();
        let notes = s.relay_notes(&set, "EX01", 25, "this relay connector");
        assert!(
            notes[0].contains("10.9.9.9 is a NAT / load-balancer SNAT address"),
            "{notes:?}"
        );
        assert!(notes[0].contains("open to the Internet"));
        assert!(notes[1].contains("1 address(es)"), "{notes:?}");
    }

    #[test]
    fn errors_name_the_file_and_entry() {
        let e = Site::parse("[[nat]]\naddress = \"10.1.1.300\"\n", "s.toml").unwrap_err();
        assert!(e.starts_with("s.toml: [[nat]] entry 1"), "{e}");
        let e = Site::parse("[[nat]]\nadress = \"10.1.1.3\"\n", "s.toml").unwrap_err();
        assert!(e.starts_with("s.toml: not a valid site file"), "{e}");
    }

    #[test]
    fn server_names_match_by_first_label() {
        assert!(same_server("EX01", "ex01.contoso.com"));
        assert!(!same_server("EX01", "EX02"));
    }
}
