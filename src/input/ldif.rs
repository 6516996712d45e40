//! `ldifde` exports (LDIF) of Exchange 2000/2003 SMTP virtual servers and SMTP connectors
//! (FORMATS.md §7).
//!
//! Unfolds continuation lines (a line starting with one space continues the previous one),
//! decodes `attr:: base64` values, and turns each entry whose `objectClass` is
//! `protocolCfgSMTPServer` or `msExchRoutingSMTPConnector` into a record with the property
//! names of the settings file (so one model conversion serves both):
//!
//! - `msExchSmtpRelayForAuth` → `allow_authenticated_relay`;
//! - `msExchAuthenticationFlags` (1 anonymous, 2 basic, 4 integrated) → `authentication`;
//! - `msExchServerBindings` → `server_bindings`;
//! - `msExchSmtpRelayIpList` (the IIS IPSECLIST blob) → `relay_ip_list`, as hex; the model
//!   decodes it where it can do so with certainty (`crate::model::ipseclist`);
//! - `msExchIPSecurity` (Connection control, the same IPSECLIST) → `connection_control`;
//! - the `CN` (`1` for the Default SMTP Virtual Server) → `instance`;
//! - `routingList` (`SMTP:*;1`) → `address_space`.
//!
//! The server comes from the DN (`CN=1,CN=SMTP,CN=Protocols,CN=<server>,CN=Servers,...`; `CN=1`
//! is the Default SMTP Virtual Server); a connector's "server" is its routing group
//! (`CN=<connector>,CN=Connections,CN=<routing group>,...`).

use crate::diag::{Diagnostic, InputError};
use crate::input::record::{ObjectKind, Record, Value};

/// Does the decoded text look like LDIF (`dn:` entries)?
pub fn looks_like_ldif(text: &str) -> bool {
    let first = text
        .lines()
        .map(|l| l.trim_start_matches('\u{feff}'))
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'));
    matches!(first, Some(l) if l.starts_with("dn:") || l.starts_with("version:"))
        && text.lines().any(|l| l.starts_with("dn:"))
}

/// Standard base64 (RFC 4648), as LDIF uses it.
pub fn base64(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return Err(format!("`{}` is not a base64 character", c as char)),
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// One attribute value: text, or bytes from `::`.
enum Val {
    Text(String),
    Bytes(Vec<u8>),
    /// `attr:< url`: the value is elsewhere. Never followed (a crafted export could point
    /// at any local file); the attribute counts as not exported.
    Url(String),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Text(s) => s.clone(),
            Val::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Val::Url(_) => String::new(),
        }
    }
}

struct Entry {
    line: u32,
    attrs: Vec<(String, Val, u32)>,
}

impl Entry {
    fn all(&self, name: &str) -> Vec<&(String, Val, u32)> {
        self.attrs
            .iter()
            .filter(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .collect()
    }

    fn first(&self, name: &str) -> Option<&(String, Val, u32)> {
        self.all(name).into_iter().next()
    }
}

/// `CN=a,CN=b` → ["a", "b"] (escaped commas kept).
fn dn_parts(dn: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut esc = false;
    for c in dn.chars() {
        if esc {
            cur.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == ',' {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| match p.split_once('=') {
            Some((_, v)) => v.trim().to_string(),
            None => p.trim().to_string(),
        })
        .collect()
}

/// What one LDIF file held.
#[derive(Debug, Default)]
pub struct Parsed {
    pub entries: usize,
    pub used: usize,
    /// Notes about the input (invalid UTF-8 replaced).
    pub notes: Vec<Diagnostic>,
}

const AUTH_FLAGS: &[(u32, &str)] = &[
    (1, "Anonymous access"),
    (2, "Basic authentication"),
    (4, "Integrated Windows Authentication"),
];

/// A logical line (continuations joined) longer than this is refused.
const MAX_LINE: usize = 16 << 20;

/// Adds one logical line (`attr: value`, `attr:: base64`, `attr:< url`) to the entry being
/// read; comments and `version:` are skipped.
fn logical(cur: &mut Option<Entry>, n: u32, l: &str, file: &str) -> Result<(), InputError> {
    if l.starts_with('#') || l.starts_with("version:") {
        return Ok(());
    }
    let Some((name, rest)) = l.split_once(':') else {
        return Err(InputError::new(
            file,
            Some(n),
            format!("expected `attribute: value`, found `{l}`"),
        ));
    };
    let val = if let Some(b) = rest.strip_prefix(':') {
        Val::Bytes(
            base64(b.trim())
                .map_err(|e| InputError::new(file, Some(n), format!("{name}: bad base64: {e}")))?,
        )
    } else if let Some(url) = rest.strip_prefix('<') {
        Val::Url(url.trim().to_string())
    } else {
        Val::Text(rest.trim().to_string())
    };
    let e = cur.get_or_insert_with(|| Entry {
        line: n,
        attrs: Vec::new(),
    });
    e.attrs.push((name.trim().to_string(), val, n));
    Ok(())
}

/// Reads the entries of an LDIF file line by line (`crate::input::lines`): a line starting
/// with exactly one space continues the previous one; a blank line ends an entry. Only the
/// entry being read is held.
struct Reader<'f, 'a> {
    file: &'f str,
    cur: Option<Entry>,
    /// The logical line being continued, and its first line's number.
    pending: Option<(u32, String)>,
    each: &'a mut dyn FnMut(Entry) -> Result<(), InputError>,
    error: Option<InputError>,
    notes: Vec<Diagnostic>,
}

impl Reader<'_, '_> {
    fn take_line(&mut self, n: u32, line: &str) -> Result<(), InputError> {
        let line = line
            .trim_end_matches(['\r', '\n'])
            .trim_start_matches('\u{feff}');
        if let (Some(rest), Some((start, acc))) = (line.strip_prefix(' '), self.pending.as_mut()) {
            if acc.len() + rest.len() > MAX_LINE {
                return Err(InputError::new(
                    self.file,
                    Some(*start),
                    format!("a value of over {} MiB", MAX_LINE >> 20),
                ));
            }
            acc.push_str(rest);
            return Ok(());
        }
        self.flush_line()?;
        if line.trim().is_empty() {
            return self.flush_entry();
        }
        self.pending = Some((n, line.to_string()));
        Ok(())
    }

    fn flush_line(&mut self) -> Result<(), InputError> {
        match self.pending.take() {
            Some((start, acc)) => logical(&mut self.cur, start, &acc, self.file),
            None => Ok(()),
        }
    }

    fn flush_entry(&mut self) -> Result<(), InputError> {
        match self.cur.take() {
            Some(e) => (self.each)(e),
            None => Ok(()),
        }
    }
}

impl crate::input::lines::LineSink for Reader<'_, '_> {
    fn line(&mut self, n: u32, text: &str) {
        if self.error.is_none() {
            self.error = self.take_line(n, text).err();
        }
    }

    fn note(&mut self, d: Diagnostic) {
        self.notes.push(d);
    }

    fn done(&self) -> bool {
        self.error.is_some()
    }
}

fn entries<R: std::io::BufRead>(
    reader: R,
    file: &str,
    each: &mut dyn FnMut(Entry) -> Result<(), InputError>,
) -> Result<Vec<Diagnostic>, InputError> {
    let mut r = Reader {
        file,
        cur: None,
        pending: None,
        each,
        error: None,
        notes: Vec::new(),
    };
    crate::input::lines::read_lines(reader, file, &mut r)?;
    if let Some(e) = r.error.take() {
        return Err(e);
    }
    r.flush_line()?;
    r.flush_entry()?;
    Ok(r.notes)
}

/// Parses an LDIF file and yields its SMTP virtual server and SMTP connector records.
pub fn parse<R: std::io::BufRead>(
    reader: R,
    file: &str,
    sink: &mut dyn FnMut(Record),
) -> Result<Parsed, InputError> {
    let mut p = Parsed::default();
    let mut notes = entries(reader, file, &mut |e| entry(e, file, &mut p, sink))?;
    notes.append(&mut p.notes);
    p.notes = notes;
    Ok(p)
}

/// One entry: a record if it is an SMTP virtual server or connector.
fn entry(
    e: Entry,
    file: &str,
    p: &mut Parsed,
    sink: &mut dyn FnMut(Record),
) -> Result<(), InputError> {
    let mut e = e;
    e.attrs.retain(|(name, v, line)| match v {
        Val::Url(url) => {
            p.notes.push(Diagnostic::warning(
                file,
                Some(*line),
                format!("{name} is given as a URL ({url}), which relay-audit never follows: the attribute is treated as not exported"),
            ));
            false
        }
        _ => true,
    });
    {
        p.entries += 1;
        let classes: Vec<String> = e.all("objectClass").iter().map(|a| a.1.text()).collect();
        let is = |c: &str| classes.iter().any(|x| x.eq_ignore_ascii_case(c));
        let Some(dn) = e.first("dn") else {
            return Ok(());
        };
        let parts = dn_parts(&dn.1.text());
        let svs = is("protocolCfgSMTPServer");
        let conn = is("msExchRoutingSMTPConnector");
        if !svs && !conn {
            return Ok(());
        }
        let cn = parts.first().cloned().unwrap_or_default();
        let mut rec;
        if svs {
            // CN=1,CN=SMTP,CN=Protocols,CN=<server>,...
            let server = parts
                .iter()
                .position(|x| x.eq_ignore_ascii_case("Protocols"))
                .and_then(|i| parts.get(i + 1))
                .cloned()
                .unwrap_or_else(|| "(unknown server)".into());
            let name = match e.first("adminDisplayName") {
                Some(a) => a.1.text(),
                None if cn == "1" => "Default SMTP Virtual Server".to_string(),
                None => format!("SMTP Virtual Server #{cn}"),
            };
            rec = Record::new(ObjectKind::SmtpVirtualServer, e.line);
            rec.push("Name", Value::Text(name), dn.2);
            rec.push("Server", Value::Text(server), dn.2);
            rec.push("instance", Value::Text(cn.clone()), dn.2);
            if let Some((_, v, l)) = e.first("msExchSmtpRelayForAuth") {
                rec.push("allow_authenticated_relay", Value::Text(v.text()), *l);
            }
            if let Some((_, v, l)) = e.first("msExchAuthenticationFlags") {
                let t = v.text();
                let Ok(f) = t.trim().parse::<u32>() else {
                    return Err(InputError::new(
                        file,
                        Some(*l),
                        format!("msExchAuthenticationFlags: `{t}` is not a number"),
                    ));
                };
                let items = AUTH_FLAGS
                    .iter()
                    .filter(|(b, _)| f & b != 0)
                    .map(|(_, n)| n.to_string())
                    .collect();
                rec.push(
                    "authentication",
                    Value::List {
                        items,
                        truncated: false,
                    },
                    *l,
                );
            }
            let bindings: Vec<String> = e
                .all("msExchServerBindings")
                .iter()
                .map(|a| a.1.text())
                .collect();
            if let Some(first) = e.first("msExchServerBindings") {
                rec.push(
                    "server_bindings",
                    Value::List {
                        items: bindings,
                        truncated: false,
                    },
                    first.2,
                );
            }
            if let Some((_, v, l)) = e.first("msExchIPSecurity") {
                let bytes = match v {
                    Val::Bytes(b) => b.clone(),
                    Val::Text(t) => t.as_bytes().to_vec(),
                    Val::Url(_) => Vec::new(),
                };
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                rec.push("connection_control", Value::Text(hex), *l);
            }
            if let Some((_, v, l)) = e.first("msExchSmtpRelayIpList") {
                let bytes = match v {
                    Val::Bytes(b) => b.clone(),
                    Val::Text(t) => t.as_bytes().to_vec(),
                    Val::Url(_) => Vec::new(),
                };
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                rec.push("relay_ip_list", Value::Text(hex), *l);
            } else {
                rec.push(
                    "relay_ip_list_absent",
                    Value::Text("msExchSmtpRelayIpList".into()),
                    e.line,
                );
            }
        } else {
            // CN=<connector>,CN=Connections,CN=<routing group>,...
            let group = parts
                .iter()
                .position(|x| x.eq_ignore_ascii_case("Connections"))
                .and_then(|i| parts.get(i + 1))
                .cloned()
                .unwrap_or_else(|| "(unknown routing group)".into());
            rec = Record::new(ObjectKind::SmtpConnector, e.line);
            rec.push("Name", Value::Text(cn), dn.2);
            rec.push("Server", Value::Text(group), dn.2);
            let spaces: Vec<String> = e.all("routingList").iter().map(|a| a.1.text()).collect();
            if let Some(first) = e.first("routingList") {
                rec.push(
                    "address_space",
                    Value::List {
                        items: spaces,
                        truncated: false,
                    },
                    first.2,
                );
            }
        }
        p.used += 1;
        sink(rec);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_values_are_never_followed_and_count_as_not_exported() {
        let text = "dn: CN=1,CN=SMTP,CN=Protocols,CN=MAIL,CN=Servers,CN=First Administrative Group,CN=Administrative Groups,CN=Org,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\nobjectClass: protocolCfgSMTPServer\nmsExchSmtpRelayIpList:< file:///etc/passwd\n\n";
        let mut recs = Vec::new();
        let p = parse(text.as_bytes(), "smtp.ldf", &mut |r| recs.push(r)).unwrap();
        let r = &recs[0];
        assert!(r.value("relay_ip_list").is_none());
        assert!(r.value("relay_ip_list_absent").is_some());
        assert_eq!(p.notes.len(), 1);
        assert_eq!(p.notes[0].line, Some(3));
        assert!(p.notes[0].message.contains("never follows"));
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(base64("TWFu").unwrap(), b"Man");
        assert_eq!(base64("TWE=").unwrap(), b"Ma");
        assert!(base64("T*").is_err());
    }

    #[test]
    fn virtual_server_with_folded_lines_and_blob() {
        let text = "dn: CN=1,CN=SMTP,CN=Protocols,CN=MAIL,CN=Servers,CN=First Administrative Gr\n oup,CN=Administrative Groups,CN=Org,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\nchangetype: add\nobjectClass: protocolCfgSMTPServer\nmsExchSmtpRelayForAuth: TRUE\nmsExchAuthenticationFlags: 3\nmsExchServerBindings: :25:\nmsExchSmtpRelayIpList:: AQIDBA==\n\n";
        assert!(looks_like_ldif(text));
        let mut recs = Vec::new();
        parse(text.as_bytes(), "smtp.ldf", &mut |r| recs.push(r)).unwrap();
        let r = &recs[0];
        assert_eq!(r.kind, ObjectKind::SmtpVirtualServer);
        assert_eq!(r.value("Server").unwrap().as_text(), Some("MAIL"));
        assert_eq!(
            r.value("Name").unwrap().as_text(),
            Some("Default SMTP Virtual Server")
        );
        assert_eq!(
            r.value("authentication").unwrap().display(),
            "Anonymous access, Basic authentication"
        );
        assert_eq!(
            r.value("relay_ip_list").unwrap().as_text(),
            Some("01020304")
        );
        assert_eq!(r.get("relay_ip_list").unwrap().line, 8);
        assert_eq!(r.value("instance").unwrap().as_text(), Some("1"));
    }

    #[test]
    fn crlf_bom_comments_and_no_final_newline() {
        let text = "\u{feff}version: 1\r\n# exported by ldifde\r\ndn: CN=2,CN=SMTP,CN=Protocols,CN=MAIL,CN=Serv\r\n ers,DC=x\r\nobjectClass: protocolCfgSMTPServer\r\nadminDisplayName: Relay VS\r\nmsExchSmtpRelayForAuth: FALSE";
        let mut recs = Vec::new();
        let p = parse(text.as_bytes(), "s.ldf", &mut |r| recs.push(r)).unwrap();
        assert_eq!((p.entries, p.used), (1, 1));
        assert_eq!(recs[0].value("Name").unwrap().as_text(), Some("Relay VS"));
        assert_eq!(recs[0].value("instance").unwrap().as_text(), Some("2"));
        assert_eq!(recs[0].get("allow_authenticated_relay").unwrap().line, 7);
        assert_eq!(
            recs[0].value("relay_ip_list_absent").unwrap().as_text(),
            Some("msExchSmtpRelayIpList")
        );
        let bad = parse("dn: CN=1\nno colon here\n".as_bytes(), "b.ldf", &mut |_| {}).unwrap_err();
        assert_eq!(bad.line, Some(2));
    }

    #[test]
    fn connector_routing_list() {
        let text = "dn: CN=Internet Connector,CN=Connections,CN=First Routing Group,CN=Routing Groups,CN=AG,DC=x\nobjectClass: top\nobjectClass: msExchRoutingSMTPConnector\nroutingList: SMTP:*;1\n";
        let mut recs = Vec::new();
        parse(text.as_bytes(), "c.ldf", &mut |r| recs.push(r)).unwrap();
        assert_eq!(recs[0].kind, ObjectKind::SmtpConnector);
        assert_eq!(
            recs[0].value("Server").unwrap().as_text(),
            Some("First Routing Group")
        );
        assert_eq!(
            recs[0].value("address_space").unwrap().display(),
            "SMTP:*;1"
        );
    }
}
