//! nmap's 16 address forms (`smtp-open-relay.nse`), built from the probe's own sender and a
//! recipient in a reserved domain. Each form says where its recipient really goes: to the
//! foreign domain (a 2xx is relay) or to the server itself (a 2xx is a local mailbox, which
//! Exchange 2000/2003 accept and bounce later, KB Q304897).

use serde::Serialize;
use std::net::IpAddr;

/// Where a form's recipient is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Destination {
    /// `user@foreign`, or a source route that ends there: a 2xx is relay.
    Foreign,
    /// The server's own IP literal or name, or no domain at all (the percent hack, quoted
    /// local parts, `!` paths): a 2xx accepts a local mailbox; whether the server then relays
    /// it cannot be seen without DATA.
    Server,
}

#[derive(Debug, Clone, Serialize)]
pub struct Form {
    /// 1 to 16, nmap's numbering.
    pub n: u8,
    /// `plain`, `null-sender`, `own-hostname-sender`, `ip-literal-sender`, `percent-hack`,
    /// `quoted`, `double-at`, `source-route`, `bang-path`.
    pub kind: &'static str,
    pub mail_from: String,
    pub rcpt_to: String,
    pub destination: Destination,
}

impl Form {
    /// Forms 1–4: a plain `user@foreign` recipient; these decide "open".
    pub fn plain(&self) -> bool {
        self.n <= 4
    }
}

/// What the forms are built from.
pub struct Parts<'a> {
    /// The sender's local part (it carries the run token).
    pub sender_local: &'a str,
    /// The sender domain of form 2 (the foreign domain, as nmap does).
    pub sender_domain: &'a str,
    /// `--from`: replaces the sender of form 2.
    pub from: Option<&'a str>,
    pub rcpt_local: &'a str,
    /// The reserved foreign domain (`example.net`).
    pub domain: &'a str,
    /// The server's name: the first word after 220 in the banner (nmap's `srv`).
    pub srv: &'a str,
    /// The server's address.
    pub ip: IpAddr,
}

/// An IP literal as RFC 5321 writes it: `[192.0.2.1]`, `[IPv6:2001:db8::1]`.
pub fn literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => format!("[{v}]"),
        IpAddr::V6(v) => format!("[IPv6:{v}]"),
    }
}

/// The 16 forms, in nmap's order.
pub fn all(p: &Parts<'_>) -> Vec<Form> {
    let ip = literal(p.ip);
    let (s, d, r, srv) = (p.sender_local, p.domain, p.rcpt_local, p.srv);
    let ipsender = format!("<{s}@{ip}>");
    let plain_sender = match p.from {
        Some(f) => format!("<{f}>"),
        None => format!("<{s}@{}>", p.sender_domain),
    };
    let rcpts: [String; 16] = [
        format!("<{r}@{d}>"),
        format!("<{r}@{d}>"),
        format!("<{r}@{d}>"),
        format!("<{r}@{d}>"),
        format!("<{r}%{d}@{ip}>"),
        format!("<{r}%{d}@{srv}>"),
        format!("<\"{r}@{d}\">"),
        format!("<\"{r}%{d}\">"),
        format!("<{r}@{d}@{ip}>"),
        format!("<\"{r}@{d}\"@{ip}>"),
        format!("<{r}@{d}@{srv}>"),
        format!("<@{ip}:{r}@{d}>"),
        format!("<@{srv}:{r}@{d}>"),
        format!("<{d}!{r}>"),
        format!("<{d}!{r}@{ip}>"),
        format!("<{d}!{r}@{srv}>"),
    ];
    rcpts
        .into_iter()
        .enumerate()
        .map(|(i, rcpt_to)| {
            let n = i as u8 + 1;
            let (kind, destination) = kind_of(n);
            let mail_from = match n {
                1 => "<>".to_string(),
                2 => plain_sender.clone(),
                3 => format!("<{s}@{srv}>"),
                _ => ipsender.clone(),
            };
            Form {
                n,
                kind,
                mail_from,
                rcpt_to,
                destination,
            }
        })
        .collect()
}

/// The kind of nmap's form `n` and where its recipient goes.
pub fn kind_of(n: u8) -> (&'static str, Destination) {
    use Destination::{Foreign, Server};
    match n {
        1 => ("null-sender", Foreign),
        2 => ("plain", Foreign),
        3 => ("own-hostname-sender", Foreign),
        4 => ("ip-literal-sender", Foreign),
        5 | 6 => ("percent-hack", Server),
        7 | 8 | 10 => ("quoted", Server),
        9 | 11 => ("double-at", Server),
        12 | 13 => ("source-route", Foreign),
        _ => ("bang-path", Server),
    }
}

/// Is `s` a bare mailbox (`local@domain`, no brackets, routes, spaces or second `@`)?
/// `--to` and `--from` accept nothing else.
pub fn bare_mailbox(s: &str) -> Option<(&str, &str)> {
    let (local, domain) = s.rsplit_once('@')?;
    let ok_local = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$&'*+-/=?^_`{|}~.".contains(c));
    let ok_domain = !domain.is_empty()
        && domain.len() <= 253
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (ok_local && ok_domain && !local.starts_with('.') && !local.ends_with('.'))
        .then_some((local, domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> Parts<'static> {
        Parts {
            sender_local: "relay-audit-t1",
            sender_domain: "example.net",
            from: None,
            rcpt_local: "relaytest",
            domain: "example.net",
            srv: "mx.example.org",
            ip: "127.0.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn sixteen_forms_in_nmaps_order() {
        let f = all(&parts());
        assert_eq!(f.len(), 16);
        assert_eq!(f[0].mail_from, "<>");
        assert_eq!(f[1].mail_from, "<relay-audit-t1@example.net>");
        assert_eq!(f[2].mail_from, "<relay-audit-t1@mx.example.org>");
        assert_eq!(f[3].mail_from, "<relay-audit-t1@[127.0.0.1]>");
        assert_eq!(f[4].rcpt_to, "<relaytest%example.net@[127.0.0.1]>");
        assert_eq!(f[6].rcpt_to, "<\"relaytest@example.net\">");
        assert_eq!(f[11].rcpt_to, "<@[127.0.0.1]:relaytest@example.net>");
        assert_eq!(f[15].rcpt_to, "<example.net!relaytest@mx.example.org>");
        assert!(f[..4]
            .iter()
            .all(|x| x.plain() && x.destination == Destination::Foreign));
        assert_eq!(
            f.iter()
                .filter(|x| x.destination == Destination::Foreign)
                .count(),
            6
        );
    }

    #[test]
    fn ipv6_literal_is_rfc5321() {
        assert_eq!(literal("::1".parse().unwrap()), "[IPv6:::1]");
    }

    #[test]
    fn only_bare_mailboxes() {
        assert_eq!(
            bare_mailbox("relaytest@example.net"),
            Some(("relaytest", "example.net"))
        );
        for bad in [
            "<a@example.net>",
            "a@b@example.net",
            "@x:a@example.net",
            "a b@example.net",
            "a@[127.0.0.1]",
            "a%b@example.net",
            "a@",
            "@example.net",
            "a@example..net",
            "a@example.net\r\nDATA",
        ] {
            assert_eq!(bare_mailbox(bad), None, "{bad}");
        }
    }
}
