//! The one host a probe may touch: the name or address given on the command line, never a
//! range, a list, a wildcard or an MX lookup.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Checks the HOST argument. Refused: CIDR (`10.0.0.0/24`), ranges (`10.0.0.1-20`), lists
/// (`a,b`, `a b`), wildcards (`*`, `?`), URLs, ports glued on (`host:25`; use `--port`) and
/// anything that is not a host name or an IP address.
pub fn check_host(host: &str) -> Result<(), String> {
    let h = host.trim();
    if h.is_empty() {
        return Err("no host given".into());
    }
    if h.contains('/') {
        return Err(format!(
            "`{h}` is a network or a URL, not a host: the probe tests exactly one host and never a range"
        ));
    }
    if h.contains(',') || h.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{h}` names several hosts: the probe tests exactly one host per run"
        ));
    }
    if h.contains('*') || h.contains('?') {
        return Err(format!(
            "`{h}` is a wildcard: the probe tests exactly one host and never a range"
        ));
    }
    let bare = h.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if h.contains(':') {
        return Err(format!(
            "`{h}` is neither a host name nor an IP address (give the port with --port)"
        ));
    }
    // nmap-style octet ranges: 10.0.0.1-20, 10.0-3.0.1
    if h.split('.').all(|p| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_digit() || c == '-')
            && p.chars().any(|c| c.is_ascii_digit())
    }) {
        return Err(format!(
            "`{h}` is an address range or not an address: the probe tests exactly one host"
        ));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let name = h.strip_suffix('.').unwrap_or(h);
    if name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(format!("`{h}` is not a host name"));
    }
    Ok(())
}

/// The addresses to probe: the first the name resolves to, or all of them with
/// `all_addresses` (one after the other). No MX lookup: a domain name is a host name here.
pub fn resolve(host: &str, port: u16, all_addresses: bool) -> Result<Vec<SocketAddr>, String> {
    check_host(host)?;
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let mut addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|e| format!("{bare}: cannot resolve: {e}"))?
        .collect();
    let mut seen = std::collections::HashSet::new();
    addrs.retain(|a| seen.insert(*a));
    if addrs.is_empty() {
        return Err(format!("{bare}: the name has no address"));
    }
    if !all_addresses {
        addrs.truncate(1);
    }
    Ok(addrs)
}

/// Is the address one the probed network may trust (loopback, private, link-local, CGNAT,
/// unique-local)? A probe from such a vantage sees what the network trusts.
pub fn inside(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_loopback()
                || v.is_private()
                || v.is_link_local()
                || (v.octets()[0] == 100 && (v.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v) => {
            v.is_loopback()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_host_only() {
        for ok in [
            "127.0.0.1",
            "::1",
            "[::1]",
            "mx.example.org",
            "localhost",
            "ex01",
        ] {
            assert!(check_host(ok).is_ok(), "{ok}");
        }
        for bad in [
            "10.0.0.0/24",
            "127.0.0.1/32",
            "10.0.0.1-20",
            "10.0-3.0.1",
            "a.example,b.example",
            "127.0.0.1 127.0.0.2",
            "*.example.org",
            "smtp://mx.example.org",
            "mx.example.org:25",
            "",
            "-x",
            "a..b",
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn literal_addresses_resolve_to_themselves() {
        assert_eq!(
            resolve("127.0.0.1", 2525, false).unwrap(),
            vec!["127.0.0.1:2525".parse().unwrap()]
        );
        assert_eq!(
            resolve("[::1]", 25, false).unwrap(),
            vec!["[::1]:25".parse().unwrap()]
        );
    }
}
