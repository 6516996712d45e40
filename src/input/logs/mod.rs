//! SMTP logs: what the servers recorded, read beside the exports.
//!
//! A log is recognised by its header or by the shape of its lines, whatever the file is
//! called: Exchange 2007-SE SMTP Receive and Send protocol logs and message tracking logs
//! (`#Software: Microsoft Exchange Server`, CSV lines), IIS SMTP service logs of Exchange
//! 2000/2003 (W3C extended or NCSA) and the Exchange 5.5 IMS protocol log. Forum copies
//! lose the header, the `*` event marker and the `#`; they add blank lines, trailing spaces
//! and quotes around the paste: each line is cleaned before it is read.
//!
//! A file is streamed in chunks; only open SMTP sessions are held (and expired when they
//! never close), and what they did goes into a [`UsageBuilder`] as per-host aggregates.

pub mod event;
mod exchange;
mod iis;

use crate::diag::{Diagnostic, InputError};
use crate::input::outcome::Outcome;
use event::{LogKind, UsageSink};
use serde::Serialize;
use std::io::Read;
use std::sync::Arc;

/// The longest line read (a longer one is skipped, with a note).
const MAX_LINE: usize = 1 << 20;
const CHUNK: usize = 1 << 20;

/// What one log file held, for the input summary (and the tests that count by hand).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LogSummary {
    pub kind: &'static str,
    /// Log data lines (not headers, not blank lines).
    pub lines: u64,
    /// SMTP sessions (distinct session id and client endpoint; for IIS, HELO to QUIT).
    pub sessions: u64,
    pub commands: u64,
    pub replies: u64,
    pub rcpt: u64,
    pub rcpt_accepted: u64,
    pub rcpt_refused: u64,
    pub rcpt_unanswered: u64,
    pub authenticated: u64,
    pub tls: u64,
    /// Lines whose event column was empty where a `*` was lost (forum copies).
    pub lost_event_marker: u64,
    /// Message tracking: RECEIVE events from SMTP.
    pub receive_smtp: u64,
    /// First and last line time (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// Recognises a log from the first decoded bytes of a file.
pub fn sniff(text: &str) -> Option<LogKind> {
    let mut exchange_header = false;
    let mut log_type: Option<LogKind> = None;
    let mut iis_header = false;
    let mut fields_iis_smtp = false;
    let mut csv_lines = 0;
    let mut msgtrk_lines = 0;
    let mut w3c_lines = 0;
    let mut ncsa_lines = 0;
    let mut ims_lines = 0;
    let mut smtp_words = false;
    // Lines that are neither headers nor log-shaped: a headerless text is a log only when
    // log lines are at least half of it (a ticket quoting two log lines beside a connector's
    // settings is a transcript).
    let mut other = 0;
    for raw in text.lines().take(64) {
        let line = clean(raw.as_bytes());
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if line.is_empty() {
            continue;
        }
        let h = line.strip_prefix('#').unwrap_or(line);
        if h.starts_with("Software: Microsoft Exchange Server") {
            exchange_header = true;
            continue;
        }
        if h.starts_with("Software: Microsoft Internet Information Services") {
            iis_header = true;
            continue;
        }
        if let Some(t) = strip_prefix_ci(h, "Log-type:") {
            let t = t.trim().to_ascii_lowercase();
            log_type = if t.contains("receive") {
                Some(LogKind::SmtpReceive)
            } else if t.contains("send") {
                Some(LogKind::SmtpSend)
            } else if t.contains("tracking") {
                Some(LogKind::MessageTracking)
            } else {
                log_type
            };
            continue;
        }
        if let Some(f) = h.strip_prefix("Fields:") {
            if f.contains("cs-method") {
                fields_iis_smtp = true;
            } else if f.contains("event-id") {
                log_type = log_type.or(Some(LogKind::MessageTracking));
            } else if f.contains("connector-id") && f.contains("session-id") {
                log_type = log_type.or(Some(LogKind::SmtpReceive));
            }
            continue;
        }
        if line.contains("SMTPSVC") || line.contains(" SMTP ") || line.ends_with(" SMTP") {
            smtp_words = true;
        }
        match line_shape(line) {
            Some(Shape::ExchangeCsv(n)) if n >= 20 => msgtrk_lines += 1,
            Some(Shape::ExchangeCsv(_)) => csv_lines += 1,
            Some(Shape::W3c) => w3c_lines += 1,
            Some(Shape::Ncsa) => ncsa_lines += 1,
            Some(Shape::Ims) => ims_lines += 1,
            None => other += 1,
        }
    }
    let shaped = csv_lines + msgtrk_lines + w3c_lines + ncsa_lines + ims_lines;
    if !exchange_header && !iis_header && shaped < other {
        return None;
    }
    if exchange_header {
        if let Some(k) = log_type {
            return Some(k);
        }
    }
    if let Some(k) = log_type.filter(|_| csv_lines + msgtrk_lines > 0) {
        return Some(k);
    }
    if (iis_header && fields_iis_smtp && smtp_words) || w3c_lines >= 1 && smtp_words {
        return Some(LogKind::IisW3c);
    }
    if ncsa_lines >= 2 {
        return Some(LogKind::IisNcsa);
    }
    if ims_lines >= 2 {
        return Some(LogKind::Ims);
    }
    if msgtrk_lines >= 1 && msgtrk_lines >= csv_lines {
        return Some(LogKind::MessageTracking);
    }
    if csv_lines >= 1 {
        return Some(LogKind::SmtpReceive);
    }
    None
}

enum Shape {
    /// An Exchange CSV log line with this many commas.
    ExchangeCsv(usize),
    W3c,
    Ncsa,
    Ims,
}

fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// `2024-03-13T09:01:18.723Z,` then at least 7 more commas; `2006-10-09 05:00:15 ip name
/// SMTPSVC1 ...`; `ip - name [11/Oct/2006:13:16:41 -0600] "..."`; `4/2/01 11:44:31 AM : `.
fn line_shape(line: &str) -> Option<Shape> {
    let b = line.as_bytes();
    if b.len() > 20 && b[4] == b'-' && b[7] == b'-' && digits(&b[..4]) {
        if b[10] == b'T' {
            let end = b.iter().position(|&c| c == b',')?;
            if b[end - 1] == b'Z' {
                let commas = b.iter().filter(|&&c| c == b',').count();
                if commas >= 8 {
                    return Some(Shape::ExchangeCsv(commas));
                }
            }
            return None;
        }
        if b[10] == b' ' && b.len() > 19 && b[13] == b':' {
            let words: Vec<&str> = line.split(' ').take(6).collect();
            if words.len() == 6 {
                return Some(Shape::W3c);
            }
        }
        return None;
    }
    if let Some(i) = line.find(" [") {
        let rest = &line[i + 2..];
        if rest.len() > 12
            && rest.as_bytes()[2] == b'/'
            && rest.as_bytes()[6] == b'/'
            && line.contains(" SMTP\" ")
        {
            return Some(Shape::Ncsa);
        }
    }
    if let Some((head, _)) = line.split_once(" : ") {
        let mut w = head.split(' ');
        let (Some(d), Some(t), Some(ampm)) = (w.next(), w.next(), w.next()) else {
            return None;
        };
        if d.split('/').count() == 3
            && d.split('/').all(|p| digits(p.as_bytes()))
            && t.split(':').count() == 3
            && (ampm == "AM" || ampm == "PM")
        {
            return Some(Shape::Ims);
        }
    }
    None
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    (s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
        .then(|| &s[p.len()..])
}

/// Undoes what copies do to a log line: the line break, trailing blanks, a PowerShell comment
/// prefix (`\t#\t`), a quote opened before the first line or closed after the last.
pub(crate) fn clean(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let [rest @ .., b'\r' | b'\n' | b' ' | b'\t'] = l {
        l = rest;
    }
    while let [b' ' | b'\t', rest @ ..] = l {
        l = rest;
    }
    if let [0xEF, 0xBB, 0xBF, rest @ ..] = l {
        l = rest;
    }
    // `\t#\t#Software: ...`: a comment marker followed by a blank is not a log header.
    if let [b'#', b' ' | b'\t', rest @ ..] = l {
        l = rest;
        while let [b' ' | b'\t', rest @ ..] = l {
            l = rest;
        }
    }
    if l.first() == Some(&b'"') && l.get(1).is_some_and(|c| c.is_ascii_digit() || *c == b'#') {
        let quotes = memchr::memchr_iter(b'"', l).count();
        if quotes % 2 == 1 {
            l = &l[1..];
        }
    } else if l.last() == Some(&b'"') {
        let quotes = memchr::memchr_iter(b'"', l).count();
        if quotes % 2 == 1 {
            l = &l[..l.len() - 1];
        }
    }
    l
}

/// A format reader: one call per cleaned, non-empty line.
pub(crate) trait LineReader<S: UsageSink + ?Sized> {
    /// Reads one line; false when it is no line of this log (for the reader's caller to
    /// check for relay evidence, never a silent skip).
    fn line(&mut self, n: u32, line: &[u8], usage: &mut S) -> bool;
    /// End of file: closes what is still open.
    fn finish(&mut self, usage: &mut S);
    fn summary(&self) -> LogSummary;
    fn notes(&mut self) -> Vec<Diagnostic> {
        Vec::new()
    }
    /// Continues what the previous file of the same log left open.
    fn carry_in(&mut self, _c: Carry) {}
    /// What stays open at the end of this file, for the next one (`None`: nothing carries).
    fn carry_out(&mut self, _usage: &mut S) -> Option<Carry> {
        None
    }
}

/// What one file of a log leaves open for the next (the sessions an hourly rollover cut).
pub struct Carry(exchange::Open);

/// Reads one log file, reporting what it finds to `usage`. Streams: memory is one chunk
/// plus the open sessions. One file of a series (the hourly files of one folder, in order):
/// the sessions the previous file left open (`carry`) continue here, and unless this is the
/// `last` file of the series, the sessions still open at its end are handed on, not closed.
pub fn read_log_continued<R: Read, S: UsageSink + ?Sized>(
    mut reader: R,
    name: &str,
    kind: LogKind,
    usage: &mut S,
    carry: Option<Carry>,
    last: bool,
) -> (Outcome, LogSummary, Option<Carry>) {
    let file: Arc<str> = Arc::from(name);
    let mut r: Box<dyn LineReader<S>> = match kind {
        LogKind::SmtpReceive | LogKind::SmtpSend => {
            Box::new(exchange::Protocol::new(kind, file.clone()))
        }
        LogKind::MessageTracking => Box::new(exchange::Tracking::new()),
        LogKind::IisW3c => Box::new(iis::W3c::new(file.clone())),
        LogKind::IisNcsa => Box::new(iis::Ncsa::new(file.clone())),
        LogKind::Ims => Box::new(iis::Ims::new(file.clone())),
    };
    if let Some(c) = carry {
        r.carry_in(c);
    }
    let mut outcome = Outcome {
        form: Some(kind.as_str()),
        objects: Some(0),
        ..Outcome::default()
    };
    let mut buf = vec![0u8; CHUNK];
    let mut start = 0usize;
    let mut end = 0usize;
    let mut line_no: u32 = 0;
    let mut skipping = false;
    let mut eof = false;
    loop {
        // Every complete line in the buffer.
        while let Some(i) = memchr::memchr(b'\n', &buf[start..end]) {
            line_no = line_no.saturating_add(1);
            let l = &buf[start..start + i];
            start += i + 1;
            if skipping {
                skipping = false;
                continue;
            }
            let l = clean(l);
            if !l.is_empty() && !r.line(line_no, l, usage) {
                unread(&mut outcome, line_no, l);
            }
        }
        if eof {
            if start < end {
                line_no = line_no.saturating_add(1);
                let l = clean(&buf[start..end]);
                if !skipping && !l.is_empty() && !r.line(line_no, l, usage) {
                    unread(&mut outcome, line_no, l);
                }
            }
            break;
        }
        // Keep the partial line; make room.
        if start > 0 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        if end == buf.len() {
            if buf.len() >= MAX_LINE {
                // A line longer than the cap: skipped, with one note.
                if !skipping {
                    outcome.notes.push(Diagnostic::warning(
                        name,
                        Some(line_no.saturating_add(1)),
                        format!("line longer than {MAX_LINE} bytes: skipped"),
                    ));
                }
                skipping = true;
                end = 0;
            } else {
                buf.resize(buf.len() * 2, 0);
            }
        }
        match reader.read(&mut buf[end..]) {
            Ok(0) => eof = true,
            Ok(n) => end += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                outcome.error = Some(InputError::new(
                    name,
                    Some(line_no.saturating_add(1)),
                    format!("cannot read: {e}"),
                ));
                break;
            }
        }
    }
    let carry = if last { None } else { r.carry_out(usage) };
    r.finish(usage);
    outcome.notes.extend(r.notes());
    let summary = r.summary();
    // A last line without a line break is read like the others and not reported as a cut:
    // the log of the current hour is still being written when it is copied.
    if summary.lines == 0 {
        outcome.notes.push(Diagnostic::warning(
            name,
            None,
            format!(
                "looks like a {} but has no log line relay-audit could read",
                kind.as_str()
            ),
        ));
    }
    (outcome, summary, carry)
}

/// A line that is no line of the log: when it carries relay evidence (a paste of a log and
/// a connector's settings in one ticket), it is kept as unread evidence, never dropped.
fn unread(outcome: &mut Outcome, n: u32, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    if crate::input::vocabulary::relay_term(&text).is_some() {
        outcome.unread_count += 1;
        if outcome.unread.len() < 5 {
            outcome
                .unread
                .push((n, crate::input::lines::clip(&text, 200)));
        }
    }
}

/// Splits a CSV line (Exchange's logs: `"` quotes fields holding a comma or a quote, `""` is
/// a quote) into at most `out.len()` fields (the last one takes the rest), unquoted but not
/// unescaped. Returns how many.
pub(crate) fn split_csv<'a>(line: &'a [u8], out: &mut [&'a [u8]]) -> usize {
    let max = out.len();
    let n = line.len();
    let mut k = 0;
    let mut start = 0;
    // One pass for every comma; a quoted field skips the commas inside it.
    let mut commas = memchr::memchr_iter(b',', line);
    while k < max {
        let quoted = line.get(start) == Some(&b'"');
        if k + 1 == max && !quoted {
            out[k] = &line[start.min(n)..];
            return k + 1;
        }
        if quoted {
            let mut j = start + 1;
            let close = loop {
                match memchr::memchr(b'"', &line[j..]) {
                    Some(q) if line.get(j + q + 1) == Some(&b'"') => j += q + 2,
                    Some(q) => break Some(j + q),
                    None => break None,
                }
            };
            let Some(q) = close else {
                out[k] = &line[start + 1..];
                return k + 1;
            };
            out[k] = &line[start + 1..q];
            k += 1;
            loop {
                match commas.next() {
                    Some(c) if c < q => continue,
                    Some(c) => {
                        start = c + 1;
                        break;
                    }
                    None => return k,
                }
            }
        } else {
            match commas.next() {
                Some(c) => {
                    out[k] = &line[start..c];
                    k += 1;
                    start = c + 1;
                }
                None => {
                    out[k] = &line[start.min(n)..];
                    return k + 1;
                }
            }
        }
    }
    k
}

/// The domain of an address (`<user@Contoso.com>`, `user@x` with parameters after it, a
/// source route `<@a,@b:user@c>`, a quoted local part `<"a@b"@c>`): after the last `@`
/// outside quotes. Empty when there is none.
pub(crate) fn address_domain(addr: &str) -> &str {
    let a = addr.trim();
    // A bare address as it is (its quoted local part may hold `<`); brackets dropped.
    let a = if a.starts_with('<') { address_of(a) } else { a };
    // A source route: the address is after the colon.
    let a = match a.rfind(':') {
        Some(i) if a.starts_with('@') => &a[i + 1..],
        _ => a,
    };
    let mut quoted = false;
    let mut at = None;
    for (i, c) in a.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '@' if !quoted => at = Some(i),
            _ => {}
        }
    }
    match at {
        Some(i) => a[i + 1..].trim().trim_end_matches('.'),
        None => "",
    }
}

/// The address inside `TO:<...>` / `FROM:<...>` (the brackets dropped; a quoted local part
/// may itself hold `<` and `>`), or the first word when there are no brackets.
pub(crate) fn address_of(arg: &str) -> &str {
    let a = arg.trim();
    // The bracket that closes the first `<`, outside quotes (`SIZE=… AUTH=<>` may follow).
    let close = |i: usize| {
        let mut quoted = false;
        a[i + 1..].char_indices().find_map(|(k, c)| match c {
            '"' => {
                quoted = !quoted;
                None
            }
            '>' if !quoted => Some(i + 1 + k),
            _ => None,
        })
    };
    match a.find('<').and_then(|i| close(i).map(|j| (i, j))) {
        Some((i, j)) => &a[i + 1..j],
        _ => {
            let a = a.split_once(':').map_or(a, |(_, r)| r).trim();
            a.split(' ').next().unwrap_or(a)
        }
    }
}

/// An `ip:port` endpoint's address (`[::1]:25` too). `None` when it is anonymised (`x.x.x.x`).
pub(crate) fn endpoint_ip(ep: &[u8]) -> Option<std::net::IpAddr> {
    let s = std::str::from_utf8(ep).ok()?.trim();
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    let host = match s.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|c| c.is_ascii_digit()) => h,
        _ => s,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.split('%').next().unwrap_or(host);
    host.parse().ok()
}

pub(crate) use event::FastMap;

/// A 64-bit hash of bytes (session ids, endpoints), eight at a time.
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = event::FastHasher::default();
    h.write(b);
    h.write_u64(b.len() as u64);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_keep_quoted_commas() {
        let mut v: [&[u8]; 9] = [b""; 9];
        let n = split_csv(
            b"2024-03-13T09:01:18.723Z,EX\\Default ,08DC,1,a:25,b:1,>,\"220 x, y\",",
            &mut v,
        );
        assert_eq!(n, 9);
        assert_eq!(v[1], b"EX\\Default ");
        assert_eq!(v[7], b"220 x, y");
        assert_eq!(v[8], b"");
    }

    #[test]
    fn domains_of_addresses() {
        assert_eq!(address_domain("<edv@Contoso.com>"), "Contoso.com");
        assert_eq!(address_domain("<@a.com,@b.com:u@c.org>"), "c.org");
        assert_eq!(address_domain("<@damericz.com>"), "damericz.com");
        assert_eq!(address_domain("<>"), "");
        assert_eq!(address_of("TO:<a@b> NOTIFY=NEVER"), "a@b");
        assert_eq!(
            address_domain("<\"victim@foreign.example\"@contoso.com>"),
            "contoso.com"
        );
        assert_eq!(address_domain("<\"<x>\"@gmail.com>"), "gmail.com");
        assert_eq!(address_of("FROM:<a@b.com> SIZE=0 AUTH=<>"), "a@b.com");
        assert_eq!(
            address_domain("<victim%foreign.example@contoso.com>"),
            "contoso.com"
        );
    }

    #[test]
    fn cleaning_undoes_paste_damage() {
        assert_eq!(clean(b"\t#\t#Software: x\r"), b"#Software: x");
        assert_eq!(
            clean(b"\"2020-11-27T09:34:39.143Z,a,b    "),
            b"2020-11-27T09:34:39.143Z,a,b"
        );
        assert_eq!(clean(b"2020,a,\"x, y\""), b"2020,a,\"x, y\"");
        assert_eq!(clean(b"2020,a,x\""), b"2020,a,x");
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint_ip(b"10.0.0.1:25"),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(endpoint_ip(b"[::1]:25"), Some("::1".parse().unwrap()));
        assert_eq!(endpoint_ip(b"x.x.x.x:25"), None);
    }
}
