//! Exchange 2007-SE logs: SMTP Receive / Send protocol logs and message tracking.
//!
//! Protocol log lines (`date-time,connector-id,session-id,sequence-number,local-endpoint,
//! remote-endpoint,event,data,context`) of concurrent sessions are interleaved: lines are
//! grouped by session id and client endpoint, and replies are paired with commands in order
//! (first in, first out), never by the next line: with PIPELINING the client sends MAIL and
//! RCPTs before the first reply, and a `Tarpit` line can sit between a command and its reply.

use super::event::{
    format_time, parse_time, Auth, HostKey, LogKind, RcptEvent, SessionEnd, UsageSink,
};
use super::{
    address_domain, address_of, endpoint_ip, hash_bytes, split_csv, FastMap, LineReader, LogSummary,
};
use crate::diag::Diagnostic;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Open sessions are expired when silent this long (log time): Exchange drops an idle
/// session after 5 minutes (`ConnectionInactivityTimeout`), a whole one after 10.
const EXPIRE_SECS: i64 = 30 * 60;
/// Lines between two sweeps for expired sessions.
const SWEEP_EVERY: u32 = 1 << 14;
/// Commands waiting for their reply, per session (a pipelined batch is far smaller).
const MAX_PENDING: usize = 512;
/// Open sessions held at once (far more than a server's concurrent connections).
const MAX_OPEN: usize = 1 << 18;

#[derive(Debug)]
enum Pending {
    Banner,
    Helo,
    Mail(Box<str>),
    Rcpt(Box<str>),
    Data,
    DataEnd,
    StartTls,
    Auth,
    Other,
}

#[derive(Debug)]
struct Session {
    connector: Arc<str>,
    client: IpAddr,
    auth: Auth,
    helo: Option<Box<str>>,
    tls: bool,
    proxied: bool,
    pending: VecDeque<Pending>,
    first_line: u32,
    first: i64,
    last: i64,
    account: Option<Box<str>>,
    /// The `+` line was seen.
    connected: bool,
    /// Accepted senders' domains, one per message.
    senders: Vec<Box<str>>,
}

/// Column positions, from `#Fields` (or the documented order).
#[derive(Debug, Clone, Copy)]
struct Columns {
    time: usize,
    connector: usize,
    session: usize,
    remote: usize,
    event: usize,
    data: usize,
    context: usize,
    count: usize,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            time: 0,
            connector: 1,
            session: 2,
            remote: 5,
            event: 6,
            data: 7,
            context: 8,
            count: 9,
        }
    }
}

fn header_value<'a>(line: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let l = line.strip_prefix(b"#").unwrap_or(line);
    (l.len() > name.len() && l[..name.len()].eq_ignore_ascii_case(name.as_bytes()))
        .then(|| &l[name.len()..])
}

/// A header line (`#Fields: ...`, also with the `#` lost in a forum copy).
fn is_header(line: &[u8]) -> bool {
    match line.first() {
        Some(b'#') => return true,
        Some(c) if c.is_ascii_digit() => return false,
        _ => {}
    }
    ["Software:", "Version:", "Log-type:", "Date:", "Fields:"]
        .iter()
        .any(|h| header_value(line, h).is_some())
}

/// Sessions still open at the end of a file, handed to the next file of the same folder (a
/// session the hourly rollover cut in two is one session).
pub(crate) struct Open {
    sessions: FastMap<(u64, u64), Session>,
    now: i64,
}

/// The SMTP Receive (or Send) protocol log.
pub(crate) struct Protocol {
    kind: LogKind,
    file: Arc<str>,
    cols: Columns,
    sessions: FastMap<(u64, u64), Session>,
    summary: LogSummary,
    since_sweep: u32,
    now: i64,
    first: i64,
    notes: Vec<Diagnostic>,
    odd_lines: u32,
    server_named: bool,
    /// The last line's time up to the minute (`2024-03-13T09:01`) and its seconds since
    /// 1970: lines of one minute parse only their seconds.
    minute: u128,
    minute_t: i64,
}

impl Protocol {
    fn time(&mut self, stamp: &[u8]) -> i64 {
        let head = |s: &[u8]| u128::from_le_bytes(s[..16].try_into().expect("16 bytes"));
        if stamp.len() >= 19 && head(stamp) == self.minute && stamp[16] == b':' {
            let (a, b) = (stamp[17], stamp[18]);
            if a.is_ascii_digit() && b.is_ascii_digit() {
                return self.minute_t + i64::from(a - b'0') * 10 + i64::from(b - b'0');
            }
        }
        let t = parse_time(stamp, None);
        if t != 0 && stamp.len() >= 19 {
            self.minute = head(stamp);
            self.minute_t = t - t.rem_euclid(60);
        }
        t
    }

    pub(crate) fn new(kind: LogKind, file: Arc<str>) -> Protocol {
        Protocol {
            kind,
            file,
            cols: Columns::default(),
            sessions: FastMap::default(),
            summary: LogSummary {
                kind: kind.as_str(),
                ..LogSummary::default()
            },
            since_sweep: 0,
            now: 0,
            first: 0,
            notes: Vec::new(),
            odd_lines: 0,
            server_named: false,
            minute: 0,
            minute_t: 0,
        }
    }

    fn header(&mut self, line: &[u8]) {
        if let Some(f) = header_value(line, "Fields:") {
            let names: Vec<String> = String::from_utf8_lossy(f)
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect();
            let at = |n: &str, d: usize| names.iter().position(|x| x == n).unwrap_or(d);
            let d = Columns::default();
            self.cols = Columns {
                time: at("date-time", d.time),
                connector: at("connector-id", d.connector),
                session: at("session-id", d.session),
                remote: at("remote-endpoint", d.remote),
                event: at("event", d.event),
                data: at("data", d.data),
                context: at("context", d.context),
                count: names.len().clamp(9, 32),
            };
        }
    }

    fn odd(&mut self, n: u32, line: &[u8]) {
        self.odd_lines += 1;
        if self.odd_lines <= 3 {
            self.notes.push(Diagnostic::warning(
                &self.file,
                Some(n),
                format!(
                    "not a {} line: {}",
                    self.kind.as_str(),
                    crate::input::lines::clip(&String::from_utf8_lossy(line), 100)
                ),
            ));
        }
    }

    fn close<S: UsageSink + ?Sized>(&mut self, s: Session, usage: &mut S) {
        let unanswered = s
            .pending
            .iter()
            .filter(|p| matches!(p, Pending::Rcpt(_)))
            .count() as u64;
        self.summary.rcpt_unanswered += unanswered;
        if self.kind != LogKind::SmtpReceive {
            return;
        }
        let key = HostKey {
            connector: s.connector,
            client: s.client,
            auth: s.auth,
            log: self.kind,
        };
        usage.session(
            &key,
            &SessionEnd {
                helo: s.helo.as_deref(),
                senders: &s.senders,
                tls: s.tls,
                proxied: s.proxied,
                line: s.first_line,
                first: s.first,
                t: s.last,
            },
        );
    }

    /// The sessions still open (not expired) at the end of this file, for the next one.
    pub(crate) fn take_open<S: UsageSink + ?Sized>(&mut self, usage: &mut S) -> Open {
        self.sweep(usage, false);
        Open {
            sessions: std::mem::take(&mut self.sessions),
            now: self.now,
        }
    }

    /// Continues the sessions the previous file left open. Their evidence line becomes their
    /// first line in this file.
    pub(crate) fn give_open(&mut self, o: Open) {
        self.sessions = o.sessions;
        for s in self.sessions.values_mut() {
            s.first_line = 0;
        }
        self.now = self.now.max(o.now);
    }

    fn sweep<S: UsageSink + ?Sized>(&mut self, usage: &mut S, all: bool) {
        let limit = self.now - EXPIRE_SECS;
        let old: Vec<(u64, u64)> = self
            .sessions
            .iter()
            .filter(|(_, s)| all || s.last < limit)
            .map(|(k, _)| *k)
            .collect();
        for k in old {
            if let Some(s) = self.sessions.remove(&k) {
                self.close(s, usage);
            }
        }
    }
}

fn word_eq(w: &[u8], s: &str) -> bool {
    w.eq_ignore_ascii_case(s.as_bytes())
}

/// `250 2.1.5 Recipient OK` → (250, continuation, `2.1.5`).
fn reply_code(data: &[u8]) -> Option<(u16, bool, &str)> {
    if data.len() < 3 || !data[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = u16::from(data[0] - b'0') * 100
        + u16::from(data[1] - b'0') * 10
        + u16::from(data[2] - b'0');
    let cont = data.get(3) == Some(&b'-');
    // `2.1.5`: the first word after the code, when it is an enhanced status (ASCII).
    let rest = &data[4.min(data.len())..];
    let rest = &rest[rest.iter().take_while(|c| **c == b' ').count()..];
    let word = &rest[..memchr::memchr(b' ', rest).unwrap_or(rest.len())];
    let status = if word.len() >= 5
        && word.len() <= 9
        && word[1] == b'.'
        && word.iter().all(|c| c.is_ascii_digit() || *c == b'.')
    {
        std::str::from_utf8(word).unwrap_or("")
    } else {
        ""
    };
    Some((code, cont, status))
}

impl<S: UsageSink + ?Sized> LineReader<S> for Protocol {
    fn line(&mut self, n: u32, line: &[u8], usage: &mut S) -> bool {
        if is_header(line) {
            self.header(line);
            return true;
        }
        let mut f: [&[u8]; 32] = [b""; 32];
        let count = split_csv(line, &mut f[..self.cols.count]);
        let c = self.cols;
        if count < 8 {
            self.odd(n, line);
            return false;
        }
        let t = self.time(f[c.time]);
        if t == 0 {
            self.odd(n, line);
            return false;
        }
        self.summary.lines += 1;
        usage.line_at(self.kind, t);
        if t > self.now {
            self.now = t;
        }
        if self.first == 0 || t < self.first {
            self.first = t;
        }
        let connector = f[c.connector];
        if !self.server_named {
            if let Some(i) = memchr::memchr(b'\\', connector) {
                let server = String::from_utf8_lossy(&connector[..i]).into_owned();
                usage.set_log(&server, self.kind);
                self.server_named = true;
            }
        }
        let remote = f[c.remote];
        let key = (hash_bytes(f[c.session]), hash_bytes(remote));
        let mut event = f[c.event].first().copied().unwrap_or(0);
        if event == 0 {
            // A forum copy lost the `*` (Markdown emphasis).
            event = b'*';
            self.summary.lost_event_marker += 1;
        }
        let (cmd_event, reply_event) = match self.kind {
            LogKind::SmtpSend => (b'>', b'<'),
            _ => (b'<', b'>'),
        };
        // A second connect on a key already connected is a new session (a reused port);
        // info lines before the connect (a Send log's `attempting to connect`) are its own.
        if event == b'+' && self.sessions.get(&key).is_some_and(|s| s.connected) {
            if let Some(old) = self.sessions.remove(&key) {
                self.close(old, usage);
            }
        }
        if self.sessions.len() >= MAX_OPEN && !self.sessions.contains_key(&key) {
            self.sweep(usage, false);
            if self.sessions.len() >= MAX_OPEN {
                self.notes.push(Diagnostic::warning(
                    &self.file,
                    Some(n),
                    format!("more than {MAX_OPEN} open sessions: the oldest were closed early"),
                ));
                self.sweep(usage, true);
            }
        }
        // One lookup per line: the session, or a new one.
        let s = match self.sessions.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                self.summary.sessions += 1;
                let name = String::from_utf8_lossy(connector);
                let mut pending = VecDeque::new();
                // A session from its start: the banner answers the connection.
                if event == b'+' || f[3] == b"0" {
                    pending.push_back(Pending::Banner);
                }
                let started = event == b'+' || f[3] == b"0" || f[3] == b"1";
                v.insert(Session {
                    connector: usage.connector(&name),
                    client: endpoint_ip(remote).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    auth: if started {
                        Auth::Anonymous
                    } else {
                        Auth::Continued
                    },
                    helo: None,
                    tls: false,
                    proxied: false,
                    pending,
                    first_line: n,
                    first: t,
                    last: t,
                    account: None,
                    connected: false,
                    senders: Vec::new(),
                })
            }
        };
        s.last = t;
        if s.first_line == 0 {
            s.first_line = n;
        }
        if event == b'+' {
            s.connected = true;
            if s.pending.is_empty() {
                s.pending.push_back(Pending::Banner);
            }
            if s.auth == Auth::Continued {
                s.auth = Auth::Anonymous;
            }
        }
        let data = f[c.data];
        if event == cmd_event {
            self.summary.commands += 1;
            let verb_end = memchr::memchr(b' ', data).unwrap_or(data.len());
            let verb = &data[..verb_end];
            let arg = std::str::from_utf8(&data[verb_end..]).unwrap_or("").trim();
            let p = if word_eq(verb, "EHLO") || word_eq(verb, "HELO") {
                s.helo = Some(arg.into());
                Pending::Helo
            } else if word_eq(verb, "MAIL") {
                Pending::Mail(address_domain(address_of(arg)).into())
            } else if word_eq(verb, "RCPT") {
                self.summary.rcpt += 1;
                Pending::Rcpt(address_of(arg).into())
            } else if word_eq(verb, "DATA") {
                Pending::Data
            } else if word_eq(verb, "STARTTLS") {
                Pending::StartTls
            } else if word_eq(verb, "AUTH") {
                Pending::Auth
            } else if word_eq(verb, "XPROXYFROM") {
                // The FrontEnd hands the real client to the Hub: `IP=` and `AUTHSRC=`.
                for kv in arg.split(' ') {
                    if let Some(ip) = kv.strip_prefix("IP=").and_then(|v| v.parse().ok()) {
                        s.client = ip;
                        s.proxied = true;
                    }
                    if let Some(a) = kv.strip_prefix("AUTHSRC=") {
                        if !a.eq_ignore_ascii_case("Anonymous") && s.auth == Auth::Anonymous {
                            s.auth = Auth::Account(format!("(authenticated at the FrontEnd: {a})"));
                        }
                    }
                }
                Pending::Other
            } else if matches!(s.pending.front(), Some(Pending::Auth)) {
                // The client's answer to a 334 challenge: no reply of its own yet.
                return true;
            } else {
                Pending::Other
            };
            if s.pending.len() < MAX_PENDING {
                s.pending.push_back(p);
            }
        } else if event == reply_event {
            self.summary.replies += 1;
            let Some((code, cont, status)) = reply_code(data) else {
                return true;
            };
            if cont {
                return true;
            }
            // A sender reply (`2.1.0 Sender OK`, `5.1.7`, `5.1.8`) never answers a RCPT: in an
            // excerpt that starts after a pipelined MAIL, it answers the MAIL not shown.
            if matches!(s.pending.front(), Some(Pending::Rcpt(_)))
                && [".1.0", ".1.7", ".1.8"]
                    .iter()
                    .any(|x| status.len() == 5 && status.ends_with(x))
            {
                return true;
            }
            // The banner is a 220: another reply means the banner line is not in the log.
            if code != 220 && matches!(s.pending.front(), Some(Pending::Banner)) {
                s.pending.pop_front();
            }
            let Some(p) = s.pending.pop_front() else {
                return true;
            };
            let ok = (200..300).contains(&code);
            match p {
                Pending::Mail(domain) => {
                    if ok && s.senders.len() < MAX_PENDING {
                        s.senders.push(domain);
                    }
                }
                Pending::Rcpt(addr) => {
                    if ok {
                        self.summary.rcpt_accepted += 1;
                    } else {
                        self.summary.rcpt_refused += 1;
                    }
                    if self.kind == LogKind::SmtpReceive {
                        let key = HostKey {
                            connector: s.connector.clone(),
                            client: s.client,
                            auth: s.auth.clone(),
                            log: self.kind,
                        };
                        usage.rcpt(
                            &key,
                            &RcptEvent {
                                address: &addr,
                                domain: address_domain(&addr),
                                code,
                                status,
                                line: n,
                                t,
                            },
                        );
                    }
                }
                Pending::Data if code == 354 => s.pending.push_front(Pending::DataEnd),
                Pending::StartTls if code == 220 => {
                    if !s.tls {
                        self.summary.tls += 1;
                    }
                    s.tls = true;
                }
                Pending::Auth if code == 334 => s.pending.push_front(Pending::Auth),
                Pending::Auth if code == 235 => {
                    let who = s
                        .account
                        .as_deref()
                        .map(str::to_string)
                        .unwrap_or_else(|| "(authenticated)".into());
                    s.auth = Auth::Account(who);
                }
                Pending::Banner
                | Pending::Helo
                | Pending::Data
                | Pending::DataEnd
                | Pending::StartTls
                | Pending::Auth
                | Pending::Other => {}
            }
        } else if event == b'*' {
            let context = f[c.context];
            if word_eq(context, "authenticated") && !data.is_empty() {
                let who = String::from_utf8_lossy(data).into_owned();
                self.summary.authenticated += 1;
                s.account = Some(who.as_str().into());
                s.auth = Auth::Account(who);
            }
        } else if event == b'-' {
            if let Some(s) = self.sessions.remove(&key) {
                self.close(s, usage);
            }
        }
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            self.sweep(usage, false);
        }
        true
    }

    fn finish(&mut self, usage: &mut S) {
        self.sweep(usage, true);
        if self.first != 0 {
            self.summary.first = Some(format_time(self.first));
            self.summary.last = Some(format_time(self.now));
        }
    }

    fn carry_in(&mut self, c: super::Carry) {
        self.give_open(c.0);
    }

    fn carry_out(&mut self, usage: &mut S) -> Option<super::Carry> {
        Some(super::Carry(self.take_open(usage)))
    }

    fn summary(&self) -> LogSummary {
        self.summary.clone()
    }

    fn notes(&mut self) -> Vec<Diagnostic> {
        if self.odd_lines > 3 {
            self.notes.push(Diagnostic::info(
                &self.file,
                None,
                format!("{} lines in all were not log lines", self.odd_lines),
            ));
        }
        std::mem::take(&mut self.notes)
    }
}

/// The message tracking log (`MSGTRK*.LOG`): the RECEIVE events from SMTP, with the client
/// and the recipients the server accepted.
pub(crate) struct Tracking {
    cols: Option<TrackingColumns>,
    summary: LogSummary,
    first: i64,
    last: i64,
    notes: Vec<Diagnostic>,
    server_named: bool,
}

#[derive(Debug, Clone, Copy)]
struct TrackingColumns {
    time: usize,
    client_ip: usize,
    server_host: usize,
    connector: usize,
    source: usize,
    event: usize,
    recipients: usize,
    sender: usize,
    directionality: Option<usize>,
    original_client: Option<usize>,
    count: usize,
}

impl TrackingColumns {
    /// The 2007/2010 26-field layout (2013+ adds columns after `message-id` and at the end;
    /// a file with its header is read by name).
    fn from_names(names: &[String]) -> Option<TrackingColumns> {
        let at = |n: &str| names.iter().position(|x| x == n);
        Some(TrackingColumns {
            time: at("date-time")?,
            client_ip: at("client-ip")?,
            server_host: at("server-hostname")?,
            connector: at("connector-id")?,
            source: at("source")?,
            event: at("event-id")?,
            recipients: at("recipient-address")?,
            sender: at("sender-address")?,
            directionality: at("directionality"),
            original_client: at("original-client-ip"),
            count: names.len().min(40),
        })
    }
}

const TRACKING_2013: &str = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version";
const TRACKING_2010: &str = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data";

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect()
}

impl Tracking {
    pub(crate) fn new() -> Tracking {
        Tracking {
            cols: None,
            summary: LogSummary {
                kind: LogKind::MessageTracking.as_str(),
                ..LogSummary::default()
            },
            first: 0,
            last: 0,
            notes: Vec::new(),
            server_named: false,
        }
    }
}

impl<S: UsageSink + ?Sized> LineReader<S> for Tracking {
    fn line(&mut self, n: u32, line: &[u8], usage: &mut S) -> bool {
        if is_header(line) {
            if let Some(f) = header_value(line, "Fields:") {
                self.cols = TrackingColumns::from_names(&names(&String::from_utf8_lossy(f)));
            }
            return true;
        }
        let mut f: [&[u8]; 40] = [b""; 40];
        let count = split_csv(line, &mut f);
        if parse_time(f[0], None) == 0 {
            return false;
        }
        // Without a header: the layout by the number of fields.
        let cols = match self.cols {
            Some(c) => c,
            None => {
                let layout = if count >= 28 {
                    TRACKING_2013
                } else {
                    TRACKING_2010
                };
                let c = TrackingColumns::from_names(&names(layout)).expect("known layout");
                self.cols = Some(c);
                c
            }
        };
        let _ = cols.count;
        let t = parse_time(f[cols.time], None);
        self.summary.lines += 1;
        usage.line_at(LogKind::MessageTracking, t);
        if self.first == 0 || t < self.first {
            self.first = t;
        }
        self.last = self.last.max(t);
        if !self.server_named && !f[cols.server_host].is_empty() {
            let host = String::from_utf8_lossy(f[cols.server_host]);
            let server = host.split('.').next().unwrap_or(&host).to_string();
            usage.set_log(&server, LogKind::MessageTracking);
            self.server_named = true;
        }
        if !(word_eq(f[cols.event], "RECEIVE") && word_eq(f[cols.source], "SMTP")) {
            return true;
        }
        self.summary.receive_smtp += 1;
        let client = endpoint_ip(f[cols.client_ip]);
        let original = cols.original_client.and_then(|i| endpoint_ip(f[i]));
        let real = original
            .or(client)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let proxied = original.is_some() && original != client;
        let auth = match cols.directionality.map(|i| f[i]) {
            Some(d) if word_eq(d, "Incoming") => Auth::Anonymous,
            Some(d) if word_eq(d, "Originating") => {
                Auth::Account("(authenticated: Originating)".into())
            }
            _ => Auth::Unknown,
        };
        let connector = usage.connector(&String::from_utf8_lossy(f[cols.connector]));
        let key = HostKey {
            connector,
            client: real,
            auth,
            log: LogKind::MessageTracking,
        };
        let sender: Box<str> = address_domain(&String::from_utf8_lossy(f[cols.sender])).into();
        for r in String::from_utf8_lossy(f[cols.recipients]).split(';') {
            let r = r.trim();
            if r.is_empty() {
                continue;
            }
            self.summary.rcpt += 1;
            self.summary.rcpt_accepted += 1;
            usage.rcpt(
                &key,
                &RcptEvent {
                    address: r,
                    domain: address_domain(r),
                    code: 250,
                    status: "",
                    line: n,
                    t,
                },
            );
        }
        usage.session(
            &key,
            &SessionEnd {
                helo: None,
                senders: std::slice::from_ref(&sender),
                tls: false,
                proxied,
                line: n,
                first: t,
                t,
            },
        );
        true
    }

    fn finish(&mut self, _usage: &mut S) {
        if self.first != 0 {
            self.summary.first = Some(format_time(self.first));
            self.summary.last = Some(format_time(self.last));
        }
    }

    fn summary(&self) -> LogSummary {
        self.summary.clone()
    }

    fn notes(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.notes)
    }
}
