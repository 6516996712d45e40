//! Exchange 2000/2003 (IIS SMTP service) logs, W3C extended and NCSA, and the Exchange 5.5
//! IMS protocol log.
//!
//! The IIS SMTP log has no session id: one row per command, the client address on every row,
//! `cs-username` holding the HELO name (not a user: the log never says who authenticated),
//! `cs-uri-query` the argument with `+` for spaces and `sc-status` the reply code only. Rows of
//! one client are a session from HELO/EHLO to QUIT. Rows whose user is
//! `OutboundConnectionCommand` / `OutboundConnectionResponse` are the server's own outbound
//! connections: counted, not a client.

use super::event::{
    format_time, parse_time, Auth, HostKey, LogKind, RcptEvent, SessionEnd, UsageSink,
};
use super::{address_domain, address_of, FastMap, LineReader, LogSummary};
use crate::diag::Diagnostic;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The default W3C extended field list of the SMTP service (used when a paste lost the header).
const W3C_DEFAULT: &str = "date time c-ip cs-username s-sitename s-computername s-ip s-port cs-method cs-uri-stem cs-uri-query sc-status sc-win32-status sc-bytes cs-bytes time-taken cs-version cs-host cs(User-Agent) cs(Cookie) cs(Referer)";

/// One client's rows between HELO and QUIT.
struct Conversation {
    connector: Arc<str>,
    senders: Vec<Box<str>>,
    helo: Option<Box<str>>,
    first_line: u32,
    first: i64,
    last: i64,
}

/// What the IIS formats share: sessions per client address.
struct Sessions {
    kind: LogKind,
    open: FastMap<IpAddr, Conversation>,
    summary: LogSummary,
    first: i64,
    last: i64,
}

impl Sessions {
    fn new(kind: LogKind) -> Sessions {
        Sessions {
            kind,
            open: FastMap::default(),
            summary: LogSummary {
                kind: kind.as_str(),
                ..LogSummary::default()
            },
            first: 0,
            last: 0,
        }
    }

    fn key(&self, connector: &Arc<str>, client: IpAddr) -> HostKey {
        HostKey {
            connector: connector.clone(),
            client,
            auth: Auth::Unknown,
            log: self.kind,
        }
    }

    fn close<S: UsageSink + ?Sized>(&mut self, client: IpAddr, usage: &mut S) {
        if let Some(c) = self.open.remove(&client) {
            usage.session(
                &self.key(&c.connector, client),
                &SessionEnd {
                    helo: c.helo.as_deref(),
                    senders: &c.senders,
                    tls: false,
                    proxied: false,
                    line: c.first_line,
                    first: c.first,
                    t: c.last,
                },
            );
        }
    }

    /// One inbound command row: verb, argument (spaces restored), reply code.
    #[allow(clippy::too_many_arguments)]
    fn row<S: UsageSink + ?Sized>(
        &mut self,
        usage: &mut S,
        n: u32,
        t: i64,
        connector: &str,
        client: IpAddr,
        helo_name: &str,
        verb: &str,
        arg: &str,
        status: u16,
    ) {
        self.summary.lines += 1;
        self.summary.commands += 1;
        if t != 0 {
            if self.first == 0 || t < self.first {
                self.first = t;
            }
            self.last = self.last.max(t);
        }
        let is_helo = verb.eq_ignore_ascii_case("HELO") || verb.eq_ignore_ascii_case("EHLO");
        if is_helo {
            self.close(client, usage);
        }
        if !self.open.contains_key(&client) {
            self.summary.sessions += 1;
            let c = usage.connector(connector);
            self.open.insert(
                client,
                Conversation {
                    connector: c,
                    senders: Vec::new(),
                    helo: None,
                    first_line: n,
                    first: t,
                    last: t,
                },
            );
        }
        let conv = self.open.get_mut(&client).expect("inserted above");
        conv.last = t.max(conv.last);
        if is_helo || (conv.helo.is_none() && helo_name != "-" && !helo_name.is_empty()) {
            let name = if is_helo { arg.trim() } else { helo_name };
            if !name.is_empty() && name != "-" {
                conv.helo = Some(name.into());
            }
        }
        let key = HostKey {
            connector: conv.connector.clone(),
            client,
            auth: Auth::Unknown,
            log: self.kind,
        };
        let ok = (200..300).contains(&status);
        if verb.eq_ignore_ascii_case("MAIL") {
            if ok && conv.senders.len() < 512 {
                conv.senders.push(address_domain(address_of(arg)).into());
            }
        } else if verb.eq_ignore_ascii_case("RCPT") {
            self.summary.rcpt += 1;
            if ok {
                self.summary.rcpt_accepted += 1;
            } else {
                self.summary.rcpt_refused += 1;
            }
            let addr = address_of(arg);
            usage.rcpt(
                &key,
                &RcptEvent {
                    address: addr,
                    domain: address_domain(addr),
                    code: status,
                    status: "",
                    line: n,
                    t,
                },
            );
        } else if verb.eq_ignore_ascii_case("QUIT") {
            self.close(client, usage);
        }
    }

    fn finish<S: UsageSink + ?Sized>(&mut self, usage: &mut S) {
        let clients: Vec<IpAddr> = self.open.keys().copied().collect();
        for c in clients {
            self.close(c, usage);
        }
        if self.first != 0 {
            self.summary.first = Some(format_time(self.first));
            self.summary.last = Some(format_time(self.last));
        }
    }
}

/// `+TO:+<a@b>` → `TO: <a@b>`.
fn unplus(q: &str) -> String {
    q.replace('+', " ").trim().to_string()
}

fn is_outbound(user: &str) -> bool {
    user.eq_ignore_ascii_case("OutboundConnectionCommand")
        || user.eq_ignore_ascii_case("OutboundConnectionResponse")
}

/// The W3C extended log.
pub(crate) struct W3c {
    file: Arc<str>,
    fields: Vec<String>,
    s: Sessions,
    notes: Vec<Diagnostic>,
    server_named: bool,
}

impl W3c {
    pub(crate) fn new(file: Arc<str>) -> W3c {
        W3c {
            file,
            fields: W3C_DEFAULT.split(' ').map(str::to_string).collect(),
            s: Sessions::new(LogKind::IisW3c),
            notes: Vec::new(),
            server_named: false,
        }
    }
}

impl<S: UsageSink + ?Sized> LineReader<S> for W3c {
    fn line(&mut self, n: u32, line: &[u8], usage: &mut S) -> bool {
        let text = String::from_utf8_lossy(line);
        if let Some(h) = text.strip_prefix('#') {
            if let Some(f) = h.strip_prefix("Fields:") {
                self.fields = f.split_whitespace().map(str::to_string).collect();
            }
            return true;
        }
        let cells: Vec<&str> = text.split(' ').collect();
        let get = |name: &str| -> &str {
            self.fields
                .iter()
                .position(|f| f.eq_ignore_ascii_case(name))
                .and_then(|i| cells.get(i).copied())
                .unwrap_or("")
        };
        let t = parse_time(get("date").as_bytes(), Some(get("time").as_bytes()));
        if t == 0 {
            if self.notes.len() < 3 {
                self.notes.push(Diagnostic::warning(
                    &self.file,
                    Some(n),
                    format!(
                        "not a W3C log line: {}",
                        crate::input::lines::clip(&text, 100)
                    ),
                ));
            }
            return false;
        }
        usage.line_at(LogKind::IisW3c, t);
        let computer = get("s-computername");
        if !self.server_named && !computer.is_empty() && computer != "-" {
            usage.set_log(computer, LogKind::IisW3c);
            self.server_named = true;
        }
        let user = get("cs-username");
        if is_outbound(user) {
            self.s.summary.lines += 1;
            return true;
        }
        let Ok(client) = get("c-ip").parse::<IpAddr>() else {
            self.s.summary.lines += 1;
            return true;
        };
        let connector = format!("{}\\{}", computer, get("s-sitename"));
        let status: u16 = get("sc-status").parse().unwrap_or(0);
        let arg = unplus(get("cs-uri-query"));
        let verb = get("cs-method").to_string();
        self.s
            .row(usage, n, t, &connector, client, user, &verb, &arg, status);
        true
    }

    fn finish(&mut self, usage: &mut S) {
        self.s.finish(usage);
    }

    fn summary(&self) -> LogSummary {
        self.s.summary.clone()
    }

    fn notes(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.notes)
    }
}

/// The NCSA common log: `ip - user [11/Oct/2006:13:16:41 -0600] "VERB -?args SMTP" status bytes`.
pub(crate) struct Ncsa {
    s: Sessions,
    server: String,
}

impl Ncsa {
    pub(crate) fn new(file: Arc<str>) -> Ncsa {
        // NCSA rows do not name the server: the file does.
        let server = file.rsplit(['/', '\\']).nth(1).unwrap_or("IIS").to_string();
        Ncsa {
            s: Sessions::new(LogKind::IisNcsa),
            server,
        }
    }
}

/// `11/Oct/2006:13:16:41 -0600` → seconds since 1970 (UTC).
fn ncsa_time(s: &str) -> i64 {
    let (dt, zone) = s.split_once(' ').unwrap_or((s, "+0000"));
    let mut p = dt.splitn(4, [':', '/']);
    let (Some(d), Some(mon), Some(y), Some(hms)) = (p.next(), p.next(), p.next(), p.next()) else {
        return 0;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Some(m) = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(mon)) else {
        return 0;
    };
    let date = format!("{y}-{:02}-{d:0>2}", m + 1);
    let local = parse_time(date.as_bytes(), Some(hms.as_bytes()));
    if local == 0 {
        return 0;
    }
    let z = zone.trim();
    let sign = if z.starts_with('-') { -1 } else { 1 };
    let digits: String = z.chars().filter(char::is_ascii_digit).collect();
    let off = digits
        .get(..2)
        .and_then(|h| h.parse::<i64>().ok())
        .unwrap_or(0)
        * 3600
        + digits
            .get(2..4)
            .and_then(|m| m.parse::<i64>().ok())
            .unwrap_or(0)
            * 60;
    local - sign * off
}

impl<S: UsageSink + ?Sized> LineReader<S> for Ncsa {
    fn line(&mut self, n: u32, line: &[u8], usage: &mut S) -> bool {
        let text = String::from_utf8_lossy(line);
        let (Some(lb), Some(rb)) = (text.find(" ["), text.find("] \"")) else {
            return false;
        };
        let head: Vec<&str> = text[..lb].split(' ').collect();
        let (Some(ip), Some(user)) = (head.first(), head.get(2)) else {
            return false;
        };
        let t = ncsa_time(&text[lb + 2..rb]);
        usage.set_log(&self.server.clone(), LogKind::IisNcsa);
        usage.line_at(LogKind::IisNcsa, t);
        let rest = &text[rb + 3..];
        // The request may hold unescaped quotes (`END+WITH+"."`): it ends at the last one.
        let Some(q) = rest.rfind('"') else {
            return false;
        };
        let request = &rest[..q];
        let status: u16 = rest[q + 1..]
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if is_outbound(user) {
            self.s.summary.lines += 1;
            return true;
        }
        let Ok(client) = ip.parse::<IpAddr>() else {
            self.s.summary.lines += 1;
            return true;
        };
        let request = request.strip_suffix(" SMTP").unwrap_or(request);
        let (verb, arg) = request.split_once(' ').unwrap_or((request, ""));
        let arg = unplus(arg.strip_prefix("-?").unwrap_or(arg));
        let connector = format!("{}\\SMTPSVC", self.server);
        self.s
            .row(usage, n, t, &connector, client, user, verb, &arg, status);
        true
    }

    fn finish(&mut self, usage: &mut S) {
        self.s.finish(usage);
    }

    fn summary(&self) -> LogSummary {
        self.s.summary.clone()
    }
}

/// The Exchange 5.5 IMS protocol log: `4/2/01 11:44:31 AM : <<< RCPT To:<a@b>` (local time,
/// US order), `>>> 250 OK - Recipient <a@b>`. One connection at a time per file.
pub(crate) struct Ims {
    file: Arc<str>,
    summary: LogSummary,
    client: Option<(String, u32, i64)>,
    pending: std::collections::VecDeque<Option<String>>,
    first: i64,
    last: i64,
}

impl Ims {
    pub(crate) fn new(file: Arc<str>) -> Ims {
        Ims {
            file,
            summary: LogSummary {
                kind: LogKind::Ims.as_str(),
                ..LogSummary::default()
            },
            client: None,
            pending: std::collections::VecDeque::new(),
            first: 0,
            last: 0,
        }
    }

    fn key<S: UsageSink + ?Sized>(&self, usage: &mut S) -> HostKey {
        let name = self
            .client
            .as_ref()
            .map(|c| c.0.clone())
            .unwrap_or_default();
        HostKey {
            connector: usage.connector("IMS"),
            client: name
                .trim_end_matches('.')
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            auth: Auth::Unknown,
            log: LogKind::Ims,
        }
    }

    fn close<S: UsageSink + ?Sized>(&mut self, usage: &mut S) {
        if let Some((name, line, first)) = self.client.clone() {
            let key = self.key(usage);
            usage.session(
                &key,
                &SessionEnd {
                    helo: Some(name.trim_end_matches('.')),
                    senders: &[],
                    tls: false,
                    proxied: false,
                    line,
                    first,
                    t: self.last,
                },
            );
        }
        self.client = None;
        self.pending.clear();
    }
}

/// `4/2/01 11:44:31 AM` → seconds since 1970 (read as UTC: the log keeps local time).
fn ims_time(s: &str) -> i64 {
    let mut w = s.split(' ');
    let (Some(d), Some(t), Some(ampm)) = (w.next(), w.next(), w.next()) else {
        return 0;
    };
    let p: Vec<i64> = d.split('/').filter_map(|x| x.parse().ok()).collect();
    let h: Vec<i64> = t.split(':').filter_map(|x| x.parse().ok()).collect();
    if p.len() != 3 || h.len() != 3 {
        return 0;
    }
    let year = if p[2] < 100 { 2000 + p[2] } else { p[2] };
    let hour = match (h[0] % 12, ampm) {
        (x, "PM") => x + 12,
        (x, _) => x,
    };
    let date = format!("{year:04}-{:02}-{:02}", p[0], p[1]);
    let time = format!("{hour:02}:{:02}:{:02}", h[1], h[2]);
    parse_time(date.as_bytes(), Some(time.as_bytes()))
}

impl<S: UsageSink + ?Sized> LineReader<S> for Ims {
    fn line(&mut self, n: u32, line: &[u8], usage: &mut S) -> bool {
        let text = String::from_utf8_lossy(line);
        let Some((stamp, rest)) = text.split_once(" : ") else {
            return false;
        };
        let t = ims_time(stamp);
        if t == 0 {
            return false;
        }
        self.summary.lines += 1;
        usage.set_log("", LogKind::Ims);
        usage.line_at(LogKind::Ims, t);
        if self.first == 0 || t < self.first {
            self.first = t;
        }
        self.last = self.last.max(t);
        if let Some(from) = rest.strip_prefix("A connection was accepted from ") {
            self.close(usage);
            self.summary.sessions += 1;
            self.client = Some((from.trim().to_string(), n, t));
        } else if let Some(cmd) = rest.strip_prefix("<<< ") {
            if cmd.starts_with("IO: ") {
                return true;
            }
            self.summary.commands += 1;
            let upper = cmd.to_ascii_uppercase();
            if upper.starts_with("RCPT") {
                self.summary.rcpt += 1;
                self.pending
                    .push_back(Some(address_of(&cmd[4..]).to_string()));
            } else {
                self.pending.push_back(None);
            }
        } else if let Some(reply) = rest.strip_prefix(">>> ") {
            self.summary.replies += 1;
            let code: u16 = reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            if let Some(Some(addr)) = self.pending.pop_front() {
                if (200..300).contains(&code) {
                    self.summary.rcpt_accepted += 1;
                } else {
                    self.summary.rcpt_refused += 1;
                }
                let key = self.key(usage);
                usage.rcpt(
                    &key,
                    &RcptEvent {
                        address: &addr,
                        domain: address_domain(&addr),
                        code,
                        status: "",
                        line: n,
                        t,
                    },
                );
            }
        }
        true
    }

    fn finish(&mut self, usage: &mut S) {
        self.summary.rcpt_unanswered += self.pending.iter().filter(|p| p.is_some()).count() as u64;
        self.close(usage);
        let _ = &self.file;
        if self.first != 0 {
            self.summary.first = Some(format_time(self.first));
            self.summary.last = Some(format_time(self.last));
        }
    }

    fn summary(&self) -> LogSummary {
        self.summary.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncsa_and_ims_times() {
        assert_eq!(
            format_time(ncsa_time("11/Oct/2006:13:16:41 -0600")),
            "2006-10-11T19:16:41Z"
        );
        assert_eq!(
            format_time(ims_time("4/2/01 11:44:31 AM")),
            "2001-04-02T11:44:31Z"
        );
        assert_eq!(
            format_time(ims_time("4/2/01 1:44:31 PM")),
            "2001-04-02T13:44:31Z"
        );
    }
}
