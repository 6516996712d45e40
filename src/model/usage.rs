//! Usage: what the SMTP logs show happened, held as per-host aggregates, never as lines.
//!
//! A log reader (`crate::input::logs`) follows each SMTP session and reports what it did
//! through [`UsageBuilder`]: a session ended (with its client, connector, authentication and
//! TLS), a recipient was answered, a sender was accepted. The builder folds each into the
//! aggregate of its (connector, client, authentication) key, so memory grows with the number
//! of distinct hosts, not with the size of the logs. Recipients are classified as they come:
//! inside an accepted domain, outside (relay), or unknown (no accepted domain was exported).
//!
//! Several builders (one per file, parsed in parallel) merge into one [`Usage`].

use super::domain::domain_scope;
use super::AcceptedDomain;
pub use crate::input::logs::event::{
    format_time, parse_time, Auth, FastHasher, FastMap, HostKey, LogKind, RcptEvent, SessionEnd,
    UsageSink, SHARED,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Where a recipient's domain stands against the accepted domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Inside an accepted domain: delivery, not relay.
    Accepted,
    /// Outside every accepted domain: relay.
    Foreign,
    /// No accepted domain was exported: cannot tell.
    Unknown,
}

/// Classifies recipient domains against the exported accepted domains. `*` and whole public
/// suffixes (`*.com`) are left out: such an "accepted domain" is itself the relay pitfall
/// (`DOM-RELAY-ALL`), and a recipient it covers is still someone else's.
#[derive(Debug, Clone, Default)]
pub struct Domains {
    exact: HashSet<String>,
    /// `*.contoso.com` as `.contoso.com`.
    suffixes: Vec<String>,
    known: bool,
}

impl Domains {
    pub fn new(domains: &[AcceptedDomain]) -> Domains {
        let mut d = Domains {
            known: !domains.is_empty(),
            ..Domains::default()
        };
        for a in domains {
            let name = a.domain_name.trim().to_ascii_lowercase();
            if name.is_empty() || domain_scope(&name).is_some() {
                continue;
            }
            match name.strip_prefix("*.") {
                Some(rest) => d.suffixes.push(format!(".{rest}")),
                None => {
                    d.exact.insert(name);
                }
            }
        }
        d
    }

    /// True when accepted domains were exported (recipients can be classified).
    pub fn known(&self) -> bool {
        self.known
    }

    pub fn scope(&self, domain: &str) -> Scope {
        if !self.known {
            return Scope::Unknown;
        }
        let d = domain.trim_end_matches('.');
        // No domain (`RCPT TO:<postmaster>`): the server's own, never relay.
        if d.is_empty() {
            return Scope::Accepted;
        }
        let lower;
        let d = if d.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = d.to_ascii_lowercase();
            lower.as_str()
        } else {
            d
        };
        if self.exact.contains(d) || self.suffixes.iter().any(|s| d.ends_with(s.as_str())) {
            Scope::Accepted
        } else {
            Scope::Foreign
        }
    }
}

/// Counts per distinct value, at most `cap` values; the rest are counted together.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub values: BTreeMap<String, u64>,
    /// Occurrences of values beyond the cap.
    pub other: u64,
}

impl Tally {
    pub fn add(&mut self, v: &str, n: u64, cap: usize) {
        if let Some(c) = self.values.get_mut(v) {
            *c += n;
        } else if self.values.len() < cap {
            self.values.insert(v.to_string(), n);
        } else {
            self.other += n;
        }
    }

    fn merge(&mut self, o: &Tally, cap: usize) {
        for (k, v) in &o.values {
            self.add(k, *v, cap);
        }
        self.other += o.other;
    }

    /// The values, most frequent first.
    pub fn top(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.values.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}

const DOMAIN_CAP: usize = 24;
const REPLY_CAP: usize = 8;
const HELO_CAP: usize = 4;
const SAMPLE_CAP: usize = 5;

/// Where something was first seen: a file and a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub file: Arc<str>,
    pub line: u32,
}

/// Recipients answered, by scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rcpts {
    pub accepted: u64,
    pub refused: u64,
}

/// One host's use of one connector under one identity, over the logs' window.
#[derive(Debug, Clone)]
pub struct HostUsage {
    pub sessions: u64,
    pub tls_sessions: u64,
    /// Sessions (or messages) seen only through a proxy hop: a Hub session proxied by a
    /// FrontEnd (`XPROXYFROM`), a tracking entry with `original-client-ip`.
    pub proxied: u64,
    /// Senders accepted (`MAIL FROM` answered 2xx).
    pub messages: u64,
    pub helo: Tally,
    pub sender_domains: Tally,
    /// Recipients inside the accepted domains.
    pub local: Rcpts,
    /// Recipients outside them (relay).
    pub foreign: Rcpts,
    /// Recipients that could not be classified (no accepted domains exported).
    pub unclassified: Rcpts,
    /// Non-accepted domains that got a 2xx.
    pub relayed_domains: Tally,
    /// The first relayed recipients.
    pub relayed_samples: Vec<String>,
    /// Replies to RCPT, by code (`250 2.1.5`, `550 5.7.1`).
    pub replies: Tally,
    /// Log time (seconds since 1970, UTC) of the first and last line.
    pub first: i64,
    pub last: i64,
    /// The first line of the host's first session, and of its first relayed recipient.
    pub seen: Seen,
    pub relayed_at: Option<Seen>,
}

impl HostUsage {
    fn new(seen: Seen, t: i64) -> HostUsage {
        HostUsage {
            sessions: 0,
            tls_sessions: 0,
            proxied: 0,
            messages: 0,
            helo: Tally::default(),
            sender_domains: Tally::default(),
            local: Rcpts::default(),
            foreign: Rcpts::default(),
            unclassified: Rcpts::default(),
            relayed_domains: Tally::default(),
            relayed_samples: Vec::new(),
            replies: Tally::default(),
            first: t,
            last: t,
            seen,
            relayed_at: None,
        }
    }

    fn touch(&mut self, t: i64) {
        if t != 0 {
            if self.first == 0 || t < self.first {
                self.first = t;
            }
            if t > self.last {
                self.last = t;
            }
        }
    }

    fn merge(&mut self, o: &HostUsage) {
        self.sessions += o.sessions;
        self.tls_sessions += o.tls_sessions;
        self.proxied += o.proxied;
        self.messages += o.messages;
        self.helo.merge(&o.helo, HELO_CAP);
        self.sender_domains.merge(&o.sender_domains, DOMAIN_CAP);
        for (a, b) in [
            (&mut self.local, &o.local),
            (&mut self.foreign, &o.foreign),
            (&mut self.unclassified, &o.unclassified),
        ] {
            a.accepted += b.accepted;
            a.refused += b.refused;
        }
        self.relayed_domains.merge(&o.relayed_domains, DOMAIN_CAP);
        for s in &o.relayed_samples {
            if self.relayed_samples.len() < SAMPLE_CAP && !self.relayed_samples.contains(s) {
                self.relayed_samples.push(s.clone());
            }
        }
        self.replies.merge(&o.replies, REPLY_CAP);
        self.touch(o.first);
        self.touch(o.last);
        if self.relayed_at.is_none() {
            self.relayed_at = o.relayed_at.clone();
        }
    }

    /// Recipients outside the accepted domains that got a 2xx.
    pub fn relayed(&self) -> u64 {
        self.foreign.accepted
    }

    /// Recipients that got a 2xx, whatever their domain.
    pub fn accepted(&self) -> u64 {
        self.local.accepted + self.foreign.accepted + self.unclassified.accepted
    }
}

/// `SERVER\\Default …`: a connector Exchange setup creates (the Internet-facing ones).
fn default_connector(name: &str) -> bool {
    let n = name.split_once('\\').map_or(name, |(_, n)| n);
    n.len() >= 8 && n.as_bytes()[..8].eq_ignore_ascii_case(b"default ")
}

/// One set of logs: a server's logs of one kind, with the window they cover.
#[derive(Debug, Clone)]
pub struct LogSet {
    pub server: String,
    pub kind: LogKind,
    pub files: u64,
    pub lines: u64,
    pub sessions: u64,
    pub first: i64,
    pub last: i64,
}

impl LogSet {
    /// Days covered, rounded down.
    pub fn days(&self) -> f64 {
        if self.last <= self.first {
            0.0
        } else {
            (self.last - self.first) as f64 / 86_400.0
        }
    }
}

/// Everything the logs showed.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub hosts: BTreeMap<HostKey, HostUsage>,
    pub sets: Vec<LogSet>,
    /// Accepted domains were exported, so relayed recipients can be told from local ones.
    pub domains_known: bool,
}

impl Usage {
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Adds one file's findings.
    pub fn merge(&mut self, b: UsageBuilder) {
        for (k, h) in b.hosts {
            match self.hosts.get_mut(&k) {
                Some(x) => x.merge(&h),
                None => {
                    self.hosts.insert(k, h);
                }
            }
        }
        if let Some(mut set) = b.set {
            match self
                .sets
                .iter_mut()
                .find(|s| s.kind == set.kind && s.server.eq_ignore_ascii_case(&set.server))
            {
                Some(s) => {
                    s.files += set.files;
                    s.lines += set.lines;
                    s.sessions += set.sessions;
                    if set.first != 0 && (s.first == 0 || set.first < s.first) {
                        s.first = set.first;
                    }
                    s.last = s.last.max(set.last);
                }
                None => {
                    set.files = 1;
                    self.sets.push(set);
                }
            }
        }
        self.domains_known = b.domains.known();
    }

    /// The window (first, last) of every set of this kind for a server (`None`: no log).
    pub fn window(&self, server: &str, kind: LogKind) -> Option<(i64, i64)> {
        let s = self
            .sets
            .iter()
            .find(|s| s.kind == kind && s.server.eq_ignore_ascii_case(server))?;
        Some((s.first, s.last))
    }
}

/// What one log file contributes, built line by line.
#[derive(Debug)]
pub struct UsageBuilder {
    hosts: FastMap<HostKey, HostUsage>,
    domains: Arc<Domains>,
    set: Option<LogSet>,
    file: Arc<str>,
    connectors: FastMap<Box<str>, (Arc<str>, bool)>,
}

impl UsageBuilder {
    pub fn new(file: Arc<str>, domains: Arc<Domains>) -> UsageBuilder {
        UsageBuilder {
            hosts: FastMap::default(),
            domains,
            set: None,
            file,
            connectors: FastMap::default(),
        }
    }

    /// Interns a connector name.
    pub fn connector(&mut self, name: &str) -> Arc<str> {
        if let Some(c) = self.connectors.get(name) {
            return c.0.clone();
        }
        let c: Arc<str> = Arc::from(name);
        self.connectors
            .insert(name.into(), (c.clone(), default_connector(name)));
        c
    }

    /// A default connector (`Default …`; an IIS SMTP virtual server), from the interned name.
    fn is_default(&self, key: &HostKey) -> bool {
        match self.connectors.get(&*key.connector) {
            Some(c) => c.1,
            None => default_connector(&key.connector),
        }
    }

    /// Names the log set this file belongs to (its server and kind) and counts its lines and
    /// time window.
    pub fn set(&mut self, server: &str, kind: LogKind) -> &mut LogSet {
        let set = self.set.get_or_insert_with(|| LogSet {
            server: server.to_string(),
            kind,
            files: 1,
            lines: 0,
            sessions: 0,
            first: 0,
            last: 0,
        });
        if set.server.is_empty() && !server.is_empty() {
            set.server = server.to_string();
        }
        set
    }

    /// Counts a log line at time `t` (0: no time) in the window.
    pub fn line_at(&mut self, kind: LogKind, t: i64) {
        let set = self.set("", kind);
        set.lines += 1;
        if t != 0 {
            if set.first == 0 || t < set.first {
                set.first = t;
            }
            set.last = set.last.max(t);
        }
    }

    /// Where a host's activity is counted: its own aggregate, or — for an Internet host that
    /// only talked to a default connector anonymously and never asked for an outside
    /// recipient — the connector's shared aggregate of such hosts ([`HostKey::is_shared`]).
    /// Memory then grows with the hosts that matter (relaying, internal, authenticated), not
    /// with every address the Internet connects from.
    fn route(&self, key: &HostKey, foreign: bool) -> Option<HostKey> {
        if foreign
            || !matches!(key.auth, Auth::Anonymous | Auth::Unknown)
            || self.hosts.contains_key(key)
            || !(self.is_default(key) || matches!(key.log, LogKind::IisW3c | LogKind::IisNcsa))
            || !super::ip_range::public_space().contains(key.client)
        {
            return None;
        }
        Some(HostKey {
            connector: key.connector.clone(),
            client: SHARED,
            auth: key.auth.clone(),
            log: key.log,
        })
    }

    fn host(&mut self, key: &HostKey, line: u32, t: i64) -> &mut HostUsage {
        if !self.hosts.contains_key(key) {
            let seen = Seen {
                file: self.file.clone(),
                line,
            };
            self.hosts.insert(key.clone(), HostUsage::new(seen, t));
        }
        let h = self.hosts.get_mut(key).expect("inserted above");
        h.touch(t);
        h
    }

    /// A session ended (or was last seen): counts it for its host.
    pub fn session(&mut self, key: &HostKey, s: &SessionEnd<'_>) {
        if let Some(set) = self.set.as_mut() {
            set.sessions += 1;
        }
        let routed = self.route(key, false);
        let h = self.host(routed.as_ref().unwrap_or(key), s.line, s.t);
        h.touch(s.first);
        h.sessions += 1;
        h.tls_sessions += u64::from(s.tls);
        h.proxied += u64::from(s.proxied);
        h.messages += s.senders.len() as u64;
        for d in s.senders.iter().filter(|d| !d.is_empty()) {
            h.sender_domains.add(&d.to_ascii_lowercase(), 1, DOMAIN_CAP);
        }
        let helo = s.helo;
        if let Some(n) = helo.filter(|n| !n.is_empty()) {
            h.helo.add(n, 1, HELO_CAP);
        }
    }

    /// A recipient was answered.
    pub fn rcpt(&mut self, key: &HostKey, r: &RcptEvent<'_>) {
        let scope = self.domains.scope(r.domain);
        let file = self.file.clone();
        let routed = self.route(key, scope == Scope::Foreign);
        let h = self.host(routed.as_ref().unwrap_or(key), r.line, r.t);
        let ok = (200..300).contains(&r.code);
        let bucket = match scope {
            Scope::Accepted => &mut h.local,
            Scope::Foreign => &mut h.foreign,
            Scope::Unknown => &mut h.unclassified,
        };
        if ok {
            bucket.accepted += 1;
        } else {
            bucket.refused += 1;
        }
        let mut code = [0u8; 16];
        let text = reply_label(r.code, r.status, &mut code);
        h.replies.add(text, 1, REPLY_CAP);
        if ok && scope == Scope::Foreign {
            h.relayed_domains
                .add(&r.domain.to_ascii_lowercase(), 1, DOMAIN_CAP);
            if h.relayed_samples.len() < SAMPLE_CAP
                && !h.relayed_samples.iter().any(|s| s == r.address)
            {
                h.relayed_samples.push(r.address.to_string());
            }
            if h.relayed_at.is_none() {
                h.relayed_at = Some(Seen { file, line: r.line });
            }
        }
    }
}

/// `250 2.1.5` (or `250` when there is no enhanced status), in a stack buffer.
fn reply_label<'a>(code: u16, status: &str, buf: &'a mut [u8; 16]) -> &'a str {
    use std::io::Write;
    let mut w = &mut buf[..];
    let _ = if status.is_empty() || status.len() > 9 {
        write!(w, "{code}")
    } else {
        write!(w, "{code} {status}")
    };
    let left = w.len();
    let n = 16 - left;
    std::str::from_utf8(&buf[..n]).unwrap_or("")
}

impl UsageSink for UsageBuilder {
    fn connector(&mut self, name: &str) -> Arc<str> {
        UsageBuilder::connector(self, name)
    }
    fn set_log(&mut self, server: &str, kind: LogKind) {
        self.set(server, kind);
    }
    fn line_at(&mut self, kind: LogKind, t: i64) {
        UsageBuilder::line_at(self, kind, t)
    }
    fn session(&mut self, key: &HostKey, s: &SessionEnd<'_>) {
        UsageBuilder::session(self, key, s)
    }
    fn rcpt(&mut self, key: &HostKey, r: &RcptEvent<'_>) {
        UsageBuilder::rcpt(self, key, r)
    }
}

/// Reads one whole log file into a new builder (the readers report to any [`UsageSink`]).
pub fn read_log<R: std::io::Read>(
    reader: R,
    name: &str,
    kind: LogKind,
    domains: Arc<Domains>,
) -> (
    crate::input::outcome::Outcome,
    UsageBuilder,
    crate::input::logs::LogSummary,
) {
    let mut usage = UsageBuilder::new(Arc::from(name), domains);
    let (o, s, _) =
        crate::input::logs::read_log_continued(reader, name, kind, &mut usage, None, true);
    (o, usage, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_labels() {
        let mut b = [0u8; 16];
        assert_eq!(reply_label(250, "2.1.5", &mut b), "250 2.1.5");
        assert_eq!(reply_label(550, "", &mut b), "550");
    }
}

#[cfg(test)]
mod sharing {
    use super::*;

    fn builder() -> UsageBuilder {
        let d = AcceptedDomain {
            identity: "contoso.com".into(),
            domain_name: "contoso.com".into(),
            domain_type: None,
            default: None,
            src: super::super::Source {
                file: Arc::from("d"),
                line: 1,
            },
            raw: Vec::new(),
        };
        UsageBuilder::new(Arc::from("f"), Arc::new(Domains::new(&[d])))
    }

    fn key(b: &mut UsageBuilder, conn: &str, ip: &str) -> HostKey {
        HostKey {
            connector: b.connector(conn),
            client: ip.parse().unwrap(),
            auth: Auth::Anonymous,
            log: LogKind::SmtpReceive,
        }
    }

    fn rcpt(b: &mut UsageBuilder, k: &HostKey, to: &str) {
        b.rcpt(
            k,
            &RcptEvent {
                address: to,
                domain: to.split('@').nth(1).unwrap(),
                code: 250,
                status: "2.1.5",
                line: 1,
                t: 1,
            },
        );
    }

    /// Internet hosts delivering inside through a default connector share one aggregate; a
    /// host that relays, an internal host, a custom connector's host each get their own.
    #[test]
    fn only_the_hosts_that_matter_are_held_one_by_one() {
        let mut b = builder();
        for i in 1..=200u8 {
            let k = key(&mut b, "EX01\\Default Frontend EX01", &format!("8.8.{i}.1"));
            rcpt(&mut b, &k, "a@contoso.com");
        }
        let spam = key(&mut b, "EX01\\Default Frontend EX01", "45.95.147.10");
        rcpt(&mut b, &spam, "x@gmail.com");
        rcpt(&mut b, &spam, "a@contoso.com");
        let inside = key(&mut b, "EX01\\Default Frontend EX01", "10.1.1.25");
        rcpt(&mut b, &inside, "a@contoso.com");
        let app = key(&mut b, "EX01\\Relay EX01", "8.8.8.8");
        rcpt(&mut b, &app, "a@contoso.com");
        let mut u = Usage::default();
        u.merge(b);
        assert_eq!(u.hosts.len(), 4, "{:?}", u.hosts.keys().collect::<Vec<_>>());
        let shared = u.hosts.iter().find(|(k, _)| k.is_shared()).unwrap().1;
        assert_eq!(shared.local.accepted, 200);
        let s = u
            .hosts
            .iter()
            .find(|(k, _)| k.client == spam.client)
            .unwrap()
            .1;
        assert_eq!((s.foreign.accepted, s.local.accepted), (1, 1));
    }
}
