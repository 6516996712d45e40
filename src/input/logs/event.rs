//! What a log reader reports, and to what: the events of an SMTP session (a session ended, a
//! recipient answered), the keys they are counted under, and the [`UsageSink`] that receives
//! them. The readers know nothing of the model; `crate::model::usage` implements the sink
//! and folds the events into per-host aggregates.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Receives what a log reader finds, event by event.
pub trait UsageSink {
    /// Interns a connector name (`EX01\Default Frontend EX01`).
    fn connector(&mut self, name: &str) -> Arc<str>;
    /// Names the server and kind of the log set the file belongs to.
    fn set_log(&mut self, server: &str, kind: LogKind);
    /// A log line at time `t` (seconds since 1970; 0: no time).
    fn line_at(&mut self, kind: LogKind, t: i64);
    /// A session ended (or was last seen).
    fn session(&mut self, key: &HostKey, s: &SessionEnd<'_>);
    /// A recipient was answered.
    fn rcpt(&mut self, key: &HostKey, r: &RcptEvent<'_>);
}

/// An FxHash-style hasher for hot tables (session ids, host keys): the keys are short and
/// not chosen by an attacker who could gain from collisions beyond slowing one scan.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.write_u64(v);
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// The kinds of log relay-audit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogKind {
    /// Exchange 2007-SE SMTP Receive protocol log (`RECV*.LOG`).
    SmtpReceive,
    /// Exchange 2007-SE SMTP Send protocol log (`SEND*.LOG`).
    SmtpSend,
    /// Exchange 2007-SE message tracking log (`MSGTRK*.LOG`).
    MessageTracking,
    /// IIS SMTP service (Exchange 2000/2003) W3C extended log.
    IisW3c,
    /// IIS SMTP service NCSA common log.
    IisNcsa,
    /// Exchange 5.5 Internet Mail Service protocol log.
    Ims,
}

impl LogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::SmtpReceive => "smtp-receive",
            LogKind::SmtpSend => "smtp-send",
            LogKind::MessageTracking => "message-tracking",
            LogKind::IisW3c => "iis-w3c",
            LogKind::IisNcsa => "iis-ncsa",
            LogKind::Ims => "ims",
        }
    }
}

/// Who the session was, as far as the log says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Auth {
    /// No successful authentication in the session.
    Anonymous,
    /// Authenticated as this account (`CONTOSO\svc-scan`), or `(authenticated)` when the log
    /// says only that (message tracking's `Originating`).
    Account(String),
    /// The log cannot tell (an IIS log never records authentication).
    Unknown,
    /// The session began before the first line of this file (an hourly rollover, a cut
    /// excerpt): whether it authenticated is in the lines not read here. Never taken for
    /// anonymous, so a rollover in an authenticated session is no "abuse".
    Continued,
}

impl Auth {
    pub fn label(&self) -> String {
        match self {
            Auth::Anonymous => "anonymous".into(),
            Auth::Account(a) => a.clone(),
            Auth::Unknown => "authentication unknown".into(),
            Auth::Continued => "session began in an earlier file".into(),
        }
    }
}

/// The key a host's activity is counted under.
#[derive(Debug, Clone, PartialOrd, Ord)]
pub struct HostKey {
    /// The receive connector as the log names it (`EX01\Default Frontend EX01`), or the
    /// SMTP virtual server (`EX01\SMTPSVC1`).
    pub connector: Arc<str>,
    pub client: IpAddr,
    pub auth: Auth,
    /// The log that showed it: a session in a protocol log and the same message in message
    /// tracking are two views, counted apart.
    pub log: LogKind,
}

impl PartialEq for HostKey {
    fn eq(&self, o: &Self) -> bool {
        // Connector names are interned per file: the same name is usually the same pointer.
        (Arc::ptr_eq(&self.connector, &o.connector) || self.connector == o.connector)
            && self.client == o.client
            && self.log == o.log
            && self.auth == o.auth
    }
}

impl Eq for HostKey {}

impl std::hash::Hash for HostKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // The same fields `eq` compares, the connector by its text.
        self.connector.hash(h);
        self.client.hash(h);
        self.auth.hash(h);
        self.log.hash(h);
    }
}

/// The client of a connector's shared aggregate: the Internet hosts that only delivered
/// inside the accepted domains, anonymously, through a default connector.
pub const SHARED: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

impl HostKey {
    /// The shared aggregate of a connector's Internet hosts (see [`UsageBuilder`]).
    pub fn is_shared(&self) -> bool {
        self.client == SHARED
    }
}

/// A session that ended (or was last seen).
pub struct SessionEnd<'a> {
    pub helo: Option<&'a str>,
    /// The domain of each sender the session got accepted (one per message), counted with
    /// the session so that a host's messages land where its session does.
    pub senders: &'a [Box<str>],
    pub tls: bool,
    pub proxied: bool,
    /// The session's first line and time, and its last time.
    pub line: u32,
    pub first: i64,
    pub t: i64,
}

/// A recipient's answer.
pub struct RcptEvent<'a> {
    pub address: &'a str,
    pub domain: &'a str,
    /// The reply code (`250`) and enhanced status (`2.1.5`), if any.
    pub code: u16,
    pub status: &'a str,
    pub line: u32,
    pub t: i64,
}

/// Seconds since 1970 of an ISO 8601 UTC time (`2024-03-13T09:01:18.723Z`) or of a W3C
/// `2006-10-09 05:00:15` (date and time). 0 when it does not parse.
pub fn parse_time(date: &[u8], time: Option<&[u8]>) -> i64 {
    fn num(b: &[u8]) -> Option<i64> {
        let mut n = 0i64;
        if b.is_empty() {
            return None;
        }
        for &c in b {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(n)
    }
    let (d, t) = match time {
        Some(t) => (date, t),
        None => {
            if date.len() < 19 {
                return 0;
            }
            (&date[..10], &date[11..])
        }
    };
    if d.len() < 10 || t.len() < 8 || d[4] != b'-' || d[7] != b'-' {
        return 0;
    }
    let (Some(y), Some(m), Some(day), Some(hh), Some(mm), Some(ss)) = (
        num(&d[..4]),
        num(&d[5..7]),
        num(&d[8..10]),
        num(&t[..2]),
        num(&t[3..5]),
        num(&t[6..8]),
    ) else {
        return 0;
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return 0;
    }
    days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2024-03-13T09:01:18Z` of seconds since 1970.
pub fn format_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let t = parse_time(b"2024-03-13T09:01:18.723Z", None);
        assert_eq!(format_time(t), "2024-03-13T09:01:18Z");
        assert_eq!(
            parse_time(b"2006-10-09", Some(b"05:00:15")),
            parse_time(b"2006-10-09T05:00:15Z", None)
        );
        assert_eq!(parse_time(b"garbage", None), 0);
    }
}
