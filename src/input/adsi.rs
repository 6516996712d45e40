//! `attribute: value` / `attribute = value` listings of an Exchange 2000/2003 SMTP virtual
//! server (`protocolCfgSMTPServer`) or SMTP connector (`msExchRoutingSMTPConnector`), as
//! ldp.exe, ADSI Edit, `Get-ADObject -Properties * | fl` and KB articles print them.
//!
//! Such a listing is turned into the LDIF [`crate::input::ldif::parse`] reads, so one reader
//! serves both. The forms understood:
//!
//! - ldp.exe: `Dn: CN=1,...`, then `4> objectClass: top; protocolCfgSMTPServer;` (a count
//!   prefix `N> `, or `objectClass (2): ...` in later versions, values separated by `; `),
//!   binary values as `<ldp: Binary blob 56 bytes>`;
//! - `Get-ADObject ... -Properties * | fl`: padded names (`msExchSmtpRelayIpList : {24, 0,
//!   ...}`), multiple values and byte arrays in braces, long values wrapped onto indented
//!   lines, lists cut with `...` by `$FormatEnumerationLimit`;
//! - KB articles (KB 321757): `msExchSmtpMaxMessageSize = 0`, the DN alone on the first
//!   line(s), wrapped after a comma;
//! - binary values as hex: `0x18 0x00 ...`, or `18 00 00 80 ...` for the blob attributes.
//!
//! A value that cannot be read with certainty (an ldp blob placeholder, a byte list cut with
//! `...`, `System.Byte[]`) is never taken for an empty value: the attribute is left out of the
//! LDIF, with a comment saying so, so the reader reports it as not in the export (for
//! `msExchSmtpRelayIpList`: the relay list is not known) rather than as an empty list.
//!
//! The LDIF has its own line numbers; [`listing_to_ldif`] returns, with the text, the line of
//! the listing each LDIF line comes from, and [`remap_record`] / [`remap_error`] put records
//! and errors back on the listing's lines.

use crate::diag::InputError;
use crate::input::record::Record;

/// Attributes whose values are IPSECLIST blobs: only bytes are a value for them.
const BLOB_ATTRIBUTES: &[&str] = &["msExchSmtpRelayIpList", "msExchIPSecurity"];

/// Object classes relay-audit reads from a listing.
const CLASSES: &[&str] = &["protocolCfgSMTPServer", "msExchRoutingSMTPConnector"];

/// One `name: value` / `name = value` line of a listing.
struct AttrLine<'a> {
    name: &'a str,
    value: &'a str,
    /// ldp's form: a `N> ` prefix or a `name (N):` count.
    ldp: bool,
}

/// Is `s` an LDAP attribute name (`msExchSmtpRelayIpList`, `cn`, `Dn`)?
fn is_attribute_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic())
        && c.all(|x| x.is_ascii_alphanumeric() || x == '-')
}

/// Does the line start a DN (`CN=1, CN=SMTP, ...`) without a name before it?
fn starts_dn(line: &str) -> bool {
    let t = line.trim_start();
    ["CN=", "OU=", "DC=", "O="]
        .iter()
        .any(|p| t.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
}

/// `4> name: value`, `name (2): value`, `name   : value`, `name = value`.
fn attribute_line(line: &str) -> Option<AttrLine<'_>> {
    let mut t = line.trim();
    let mut ldp = false;
    // ldp's value count: `4> `.
    if let Some(i) = t.find('>') {
        if i > 0 && t[..i].bytes().all(|b| b.is_ascii_digit()) {
            t = t[i + 1..].trim_start();
            ldp = true;
        }
    }
    if starts_dn(t) {
        return None;
    }
    let sep = t.find([':', '='])?;
    let mut name = t[..sep].trim_end();
    // Later ldp: `objectClass (2): ...`.
    if let Some(open) = name.find(" (") {
        let count = &name[open + 2..];
        if count.ends_with(')') && count[..count.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
            name = name[..open].trim_end();
            ldp = true;
        }
    }
    if !is_attribute_name(name) {
        return None;
    }
    Some(AttrLine {
        name,
        value: t[sep + 1..].trim(),
        ldp,
    })
}

/// An attribute as read: name, the value text (continuations joined), ldp form, first line.
struct Raw {
    name: String,
    value: String,
    ldp: bool,
    line: u32,
}

/// One object of the listing.
#[derive(Default)]
struct Object {
    dn: Option<(String, u32)>,
    attrs: Vec<Raw>,
}

/// Reads the listing into objects: a second DN starts a new object.
fn read(text: &str) -> Vec<Object> {
    let mut objects: Vec<Object> = vec![Object::default()];
    // What a continuation line extends: the DN or the last attribute.
    enum Last {
        None,
        Dn,
        Attr,
    }
    let mut last = Last::None;
    for (i, raw) in text.lines().enumerate() {
        let n = i as u32 + 1;
        let line = raw.trim_start_matches('\u{feff}').trim_end();
        if line.trim().is_empty() {
            last = Last::None;
            continue;
        }
        let cur = objects.last_mut().expect("one object");
        let attr = attribute_line(line);
        let indented = line.starts_with([' ', '\t']);
        // A line that is not an attribute continues the DN or value before it.
        if attr.is_none() {
            match last {
                Last::Dn => {
                    let dn = cur.dn.as_mut().expect("dn");
                    if dn.0.ends_with(',') || indented || starts_dn(line) {
                        dn.0.push_str(line.trim());
                        continue;
                    }
                }
                Last::Attr if indented => {
                    let a = cur.attrs.last_mut().expect("attr");
                    a.value.push_str(line.trim());
                    continue;
                }
                _ => {}
            }
            if starts_dn(line) {
                start_dn(&mut objects, line.trim().to_string(), n);
                last = Last::Dn;
            } else {
                last = Last::None;
            }
            continue;
        }
        let a = attr.expect("attribute");
        if a.name.eq_ignore_ascii_case("dn") || a.name.eq_ignore_ascii_case("distinguishedName") {
            start_dn(&mut objects, a.value.to_string(), n);
            last = Last::Dn;
            continue;
        }
        cur.attrs.push(Raw {
            name: a.name.to_string(),
            value: a.value.to_string(),
            ldp: a.ldp,
            line: n,
        });
        last = Last::Attr;
    }
    objects.retain(|o| o.dn.is_some() || !o.attrs.is_empty());
    objects
}

/// Sets the DN of the current object, or starts a new object when it has one already.
fn start_dn(objects: &mut Vec<Object>, dn: String, line: u32) {
    let cur = objects.last_mut().expect("one object");
    if cur
        .dn
        .as_ref()
        .is_some_and(|(d, _)| !d.eq_ignore_ascii_case(&dn))
    {
        objects.push(Object::default());
    }
    let cur = objects.last_mut().expect("one object");
    if cur.dn.is_none() {
        cur.dn = Some((dn, line));
    }
}

/// One value as the listing shows it.
#[derive(Debug, PartialEq)]
enum Val {
    Text(String),
    Bytes(Vec<u8>),
}

/// The values of an attribute, or `Err` with the reason they cannot be read with certainty.
fn values(a: &Raw, ldp_listing: bool) -> Result<Vec<Val>, &'static str> {
    let blob = BLOB_ATTRIBUTES
        .iter()
        .any(|b| b.eq_ignore_ascii_case(&a.name));
    let mut v = a.value.trim();
    let low = v.to_ascii_lowercase();
    if low.starts_with('<') && (low.contains("blob") || low.contains("binary")) {
        return Err("a binary value the tool did not print");
    }
    let texts: Vec<&str> = if let Some(inner) = v.strip_prefix('{') {
        let Some(inner) = inner.strip_suffix('}') else {
            return Err("a list cut off");
        };
        let inner = inner.trim();
        if inner.ends_with("...") || inner.ends_with('\u{2026}') {
            return Err("a list cut with `...`");
        }
        if inner.is_empty() {
            vec![]
        } else {
            inner.split(',').map(str::trim).collect()
        }
    } else if a.ldp || ldp_listing {
        v = v.strip_suffix(';').unwrap_or(v).trim_end();
        if v.is_empty() {
            vec![]
        } else {
            v.split("; ").map(str::trim).collect()
        }
    } else {
        vec![v]
    };
    if let Some(bytes) = byte_list(&texts, blob) {
        return Ok(vec![Val::Bytes(bytes)]);
    }
    if blob {
        if texts.len() == 1 {
            if let Some(bytes) = hex_bytes(texts[0]) {
                return Ok(vec![Val::Bytes(bytes)]);
            }
        }
        return Err("not a byte list");
    }
    if texts
        .iter()
        .any(|t| t.ends_with("...") || t.ends_with('\u{2026}'))
    {
        return Err("a value cut with `...`");
    }
    Ok(texts
        .into_iter()
        .map(|t| Val::Text(t.to_string()))
        .collect())
}

/// `{24, 0, 0, 128, ...}` items as bytes: all decimal 0-255, and either a blob attribute or
/// more than three of them (a list of small numbers is not taken for bytes otherwise).
fn byte_list(items: &[&str], blob: bool) -> Option<Vec<u8>> {
    if items.is_empty() || (!blob && items.len() < 4) {
        return None;
    }
    items
        .iter()
        .map(|t| {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                t.parse::<u8>().ok()
            }
        })
        .collect()
}

/// `0x18 0x00 ...` or `18 00 00 80 ...` (whitespace-separated, two digits each) as bytes.
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let tokens: Vec<&str> = s.split_whitespace().collect();
    if tokens.is_empty() {
        return None;
    }
    tokens
        .iter()
        .map(|t| {
            let h = t
                .strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t);
            // Two digits, or one after `0x`.
            let digits_ok = h.len() == 2 || (h.len() == 1 && h.len() < t.len());
            if !digits_ok || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                None
            } else {
                u8::from_str_radix(h, 16).ok()
            }
        })
        .collect()
}

/// Standard base64 (RFC 4648) with padding, as LDIF writes it.
fn to_base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Does the text hold an SMTP virtual server or connector listing: `objectClass` naming
/// `protocolCfgSMTPServer` or `msExchRoutingSMTPConnector`, or at least two `msExchSmtp*` /
/// `msExchRouting*` attributes, as `name: value` or `name = value` lines? LDIF and XML are
/// not listings (their own readers read them).
pub fn looks_like_listing(text: &str) -> bool {
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if t.starts_with('<') || crate::input::ldif::looks_like_ldif(text) {
        return false;
    }
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        let Some(a) = attribute_line(line.trim_start_matches('\u{feff}')) else {
            continue;
        };
        if a.name.eq_ignore_ascii_case("objectClass")
            && CLASSES.iter().any(|c| {
                a.value
                    .to_ascii_lowercase()
                    .contains(&c.to_ascii_lowercase())
            })
        {
            return true;
        }
        let low = a.name.to_ascii_lowercase();
        if (low.starts_with("msexchsmtp") || low.starts_with("msexchrouting"))
            && !names.contains(&low)
        {
            names.push(low);
        }
    }
    names.len() >= 2
}

/// Converts a listing ([`looks_like_listing`]) to LDIF that [`crate::input::ldif::parse`]
/// reads: per object, `dn:` (the listing's DN, or one made up:
/// `CN=<cn or 1>,CN=SMTP,CN=Protocols,CN=(unknown server),CN=Servers` for a virtual server,
/// `CN=<cn>,CN=Connections,CN=(unknown routing group)` for a connector), its `objectClass`
/// lines (inferred when the listing has none), then each value as `name: value`, bytes as
/// `name:: base64`, one line per value. A value that cannot be read is left out, with a
/// `#` comment naming it.
///
/// Returns the LDIF and, for each of its lines (index 0 is LDIF line 1), the line of the
/// listing it comes from. `None` when no object is found.
pub fn listing_to_ldif(text: &str) -> Option<(String, Vec<u32>)> {
    let ldp_listing = text.lines().any(|l| {
        let t = l.trim_start_matches('\u{feff}');
        t.starts_with("Dn: ") || attribute_line(t).is_some_and(|a| a.ldp)
    });
    let objects = read(text);
    if objects.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut map: Vec<u32> = Vec::new();
    let emit = |out: &mut String, map: &mut Vec<u32>, s: &str, line: u32| {
        out.push_str(s);
        out.push('\n');
        map.push(line);
    };
    for o in &objects {
        let first =
            o.dn.as_ref()
                .map(|d| d.1)
                .into_iter()
                .chain(o.attrs.iter().map(|a| a.line))
                .min()
                .unwrap_or(1);
        let mut classes: Vec<(String, u32)> = Vec::new();
        for a in o
            .attrs
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case("objectClass"))
        {
            if let Ok(vs) = values(a, ldp_listing) {
                for v in vs {
                    if let Val::Text(t) = v {
                        classes.push((t, a.line));
                    }
                }
            }
        }
        let has_class = |c: &str| classes.iter().any(|(x, _)| x.eq_ignore_ascii_case(c));
        let dn_low =
            o.dn.as_ref()
                .map(|d| d.0.to_ascii_lowercase().replace(' ', ""))
                .unwrap_or_default();
        let prefixed = |p: &str| {
            o.attrs
                .iter()
                .any(|a| a.name.to_ascii_lowercase().starts_with(p))
        };
        let connector = if has_class("msExchRoutingSMTPConnector") {
            true
        } else if has_class("protocolCfgSMTPServer") || !classes.is_empty() {
            false
        } else if dn_low.contains(",cn=connections,") {
            true
        } else if dn_low.contains(",cn=protocols,") || prefixed("msexchsmtp") {
            false
        } else {
            prefixed("msexchrouting") || prefixed("routinglist")
        };
        let cn = o
            .attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case("cn"))
            .map(|a| a.value.trim().trim_end_matches(';').trim().to_string());
        let dn = match &o.dn {
            Some((d, _)) => d.clone(),
            None if connector => format!(
                "CN={},CN=Connections,CN=(unknown routing group)",
                cn.unwrap_or_else(|| "(unknown connector)".into())
            ),
            None => format!(
                "CN={},CN=SMTP,CN=Protocols,CN=(unknown server),CN=Servers",
                cn.unwrap_or_else(|| "1".into())
            ),
        };
        let dn_line = o.dn.as_ref().map_or(first, |d| d.1);
        emit(&mut out, &mut map, &format!("dn: {dn}"), dn_line);
        if classes.is_empty() {
            let class = if connector {
                "msExchRoutingSMTPConnector"
            } else {
                "protocolCfgSMTPServer"
            };
            emit(&mut out, &mut map, "objectClass: top", first);
            emit(&mut out, &mut map, &format!("objectClass: {class}"), first);
        } else {
            for (c, l) in &classes {
                emit(&mut out, &mut map, &format!("objectClass: {c}"), *l);
            }
        }
        for a in o
            .attrs
            .iter()
            .filter(|a| !a.name.eq_ignore_ascii_case("objectClass"))
        {
            match values(a, ldp_listing) {
                Ok(vs) => {
                    for v in vs {
                        let line = match v {
                            Val::Text(t) => format!("{}: {}", a.name, t),
                            Val::Bytes(b) => format!("{}:: {}", a.name, to_base64(&b)),
                        };
                        emit(&mut out, &mut map, &line, a.line);
                    }
                }
                Err(why) => {
                    let shown: String = a.value.chars().take(80).collect();
                    emit(
                        &mut out,
                        &mut map,
                        &format!(
                            "# {} shown as `{}`: {}, not read (left out, not taken for empty)",
                            a.name, shown, why
                        ),
                        a.line,
                    );
                }
            }
        }
        emit(&mut out, &mut map, "", first);
    }
    Some((out, map))
}

/// The listing's line for LDIF line `n` (1-based), from the map [`listing_to_ldif`] returns.
pub fn original_line(map: &[u32], n: u32) -> u32 {
    n.checked_sub(1)
        .and_then(|i| map.get(i as usize))
        .copied()
        .unwrap_or(n)
}

/// Puts a record read from the LDIF back on the listing's lines.
pub fn remap_record(rec: &mut Record, map: &[u32]) {
    rec.line = original_line(map, rec.line);
    for p in &mut rec.props {
        p.line = original_line(map, p.line);
    }
}

/// Puts an error from reading the LDIF back on the listing's lines.
pub fn remap_error(mut e: InputError, map: &[u32]) -> InputError {
    e.line = e.line.map(|l| original_line(map, l));
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::ldif;
    use crate::input::record::ObjectKind;

    /// "All except the list below" with an empty list (fixtures/legacy-2003-ldif).
    const ALL_EXCEPT_EMPTY: &str = "24, 0, 0, 128, 32, 0, 0, 128, 40, 0, 0, 128, 48, 0, 0, 128, 1, 0, 0, 0, 56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0";
    const ALL_EXCEPT_EMPTY_HEX: &str = "1800008020000080280000803000008001000000380000000000000000000000000000000000000000000000000000000000000000000000";

    fn records(text: &str) -> Vec<Record> {
        assert!(looks_like_listing(text), "{text}");
        let (l, map) = listing_to_ldif(text).unwrap();
        assert_eq!(map.len(), l.lines().count(), "{l}");
        let mut recs = Vec::new();
        ldif::parse(l.as_bytes(), "paste.txt", &mut |mut r| {
            remap_record(&mut r, &map);
            recs.push(r)
        })
        .unwrap_or_else(|e| panic!("{e}\n{l}"));
        recs
    }

    #[test]
    fn kb321757_listing_with_wrapped_dn() {
        let text =
            include_str!("../../fixtures/pastes/13-e2000-smtp-vs-ad-attributes-kb321757.txt");
        let (l, _) = listing_to_ldif(text).unwrap();
        assert!(l.starts_with("dn: CN=1, CN=SMTP, CN=Protocols,CN=<Exchange Server Name>, CN=Servers, CN=<Administrative Group Name>, CN=Administrative Groups,CN=<Exchange Organization Name>, CN=Microsoft"), "{l}");
        let recs = records(text);
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(r.kind, ObjectKind::SmtpVirtualServer);
        assert_eq!(r.line, 1);
        assert_eq!(
            r.value("Server").unwrap().as_text(),
            Some("<Exchange Server Name>")
        );
        assert_eq!(r.value("instance").unwrap().as_text(), Some("1"));
        assert_eq!(
            r.value("authentication").unwrap().display(),
            "Anonymous access, Basic authentication, Integrated Windows Authentication"
        );
        assert_eq!(r.get("authentication").unwrap().line, 4);
        assert_eq!(r.value("server_bindings").unwrap().display(), ":25:");
        assert_eq!(r.get("server_bindings").unwrap().line, 10);
        // No msExchSmtpRelayIpList in the article: not known, never "empty".
        assert!(r.get("relay_ip_list").is_none());
        assert!(r.get("relay_ip_list_absent").is_some());
    }

    #[test]
    fn ldp_dump_with_blob_placeholder() {
        let text = "***Searching...\r\nldap_search_s(ld, \"CN=1,CN=SMTP,CN=Protocols,CN=MAIL,CN=Servers,CN=First Administrative Group,CN=Administrative Groups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\", 0, \"(objectclass=*)\", attrList,  0, &msg)\r\nGetting 1 entries:\r\nDn: CN=1,CN=SMTP,CN=Protocols,CN=MAIL,CN=Servers,CN=First Administrative Group,CN=Administrative Groups,\r\n  CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\r\n4> objectClass: top; protocolCfg; protocolCfgSMTP; protocolCfgSMTPServer; \r\n1> cn: 1; \r\n1> msExchAuthenticationFlags: 7; \r\n2> msExchServerBindings: :25:; 10.0.0.5:2525:; \r\n1> msExchSmtpRelayForAuth: TRUE; \r\n1> msExchSmtpRelayIpList: <ldp: Binary blob 56 bytes>; \r\n1> msExchSmtpMaxMessageSize: 4096; \r\n-----------\r\n";
        let recs = records(text);
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(r.kind, ObjectKind::SmtpVirtualServer);
        assert_eq!(r.value("Server").unwrap().as_text(), Some("MAIL"));
        assert_eq!(r.line, 4);
        assert_eq!(
            r.value("server_bindings").unwrap().display(),
            ":25:, 10.0.0.5:2525:"
        );
        assert_eq!(
            r.value("allow_authenticated_relay").unwrap().as_text(),
            Some("TRUE")
        );
        // The blob is not readable: the relay list is not known, not empty.
        assert!(r.get("relay_ip_list").is_none());
        assert_eq!(
            r.value("relay_ip_list_absent").unwrap().as_text(),
            Some("msExchSmtpRelayIpList")
        );
        let (l, _) = listing_to_ldif(text).unwrap();
        assert!(
            l.contains("# msExchSmtpRelayIpList shown as `<ldp: Binary blob 56 bytes>;`"),
            "{l}"
        );
        // Later ldp: `objectClass (4): ...`, tab-indented attributes.
        let later = "Dn: CN=2,CN=SMTP,CN=Protocols,CN=MAIL,CN=Servers,DC=x\n\tobjectClass (2): top; protocolCfgSMTPServer; \n\tmsExchSmtpRelayForAuth: FALSE; \n";
        let recs = records(later);
        assert_eq!(recs[0].value("instance").unwrap().as_text(), Some("2"));
        assert_eq!(recs[0].get("allow_authenticated_relay").unwrap().line, 3);
    }

    #[test]
    fn get_adobject_fl_with_decimal_byte_list() {
        let text = format!(
            "PS C:\\> Get-ADObject \"CN=1,CN=SMTP,CN=Protocols,CN=MAIL,...\" -Properties * | fl\r\n\r\n\
CanonicalName                      : contoso.com/Configuration/Services/Microsoft Exchange/Contoso/Administrative Groups/First Administrative Group/Servers/MAIL/Protocols/SMTP/1\r\n\
CN                                 : 1\r\n\
DistinguishedName                  : CN=1,CN=SMTP,CN=Protocols,CN=MAIL,CN=Servers,CN=First Administrative Group,CN=Administrative Gro\r\n\
                                     ups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\r\n\
msExchAuthenticationFlags          : 1\r\n\
msExchServerBindings               : {{:25:}}\r\n\
msExchSmtpRelayForAuth             : False\r\n\
msExchSmtpRelayIpList              : {{{ALL_EXCEPT_EMPTY}}}\r\n\
nTSecurityDescriptor               : System.DirectoryServices.ActiveDirectorySecurity\r\n\
ObjectClass                        : protocolCfgSMTPServer\r\n\
whenChanged                        : 3/4/2005 10:12:44 AM\r\n"
        );
        let recs = records(&text);
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(r.value("Server").unwrap().as_text(), Some("MAIL"));
        assert_eq!(r.line, 5);
        assert_eq!(
            r.value("relay_ip_list").unwrap().as_text(),
            Some(ALL_EXCEPT_EMPTY_HEX)
        );
        assert_eq!(r.get("relay_ip_list").unwrap().line, 10);
        // (That this blob is "All except the list below" with an empty list is the model's
        // to say: model::ipseclist's test `the_adsi_listing_blob_is_all_except_empty`.)
        assert_eq!(r.value("server_bindings").unwrap().display(), ":25:");
        assert_eq!(
            r.value("allow_authenticated_relay").unwrap().as_text(),
            Some("False")
        );
        // $FormatEnumerationLimit cut the list: not known, not empty.
        let cut = text.replace(ALL_EXCEPT_EMPTY, "24, 0, 0, 128...");
        let r = &records(&cut)[0];
        assert!(r.get("relay_ip_list").is_none());
        assert!(r.get("relay_ip_list_absent").is_some());
        // An empty brace list is no blob either.
        let empty = text.replace(ALL_EXCEPT_EMPTY, "");
        assert!(records(&empty)[0].get("relay_ip_list").is_none());
        // Hex bytes, and a byte list wrapped by fl.
        let hex: String = ALL_EXCEPT_EMPTY_HEX
            .as_bytes()
            .chunks(2)
            .map(|c| format!("0x{} ", std::str::from_utf8(c).unwrap()))
            .collect();
        let r = &records(&text.replace(&format!("{{{ALL_EXCEPT_EMPTY}}}"), hex.trim()))[0];
        assert_eq!(
            r.value("relay_ip_list").unwrap().as_text(),
            Some(ALL_EXCEPT_EMPTY_HEX)
        );
        let wrapped = text.replace(
            "48, 0, 0, 128, ",
            "48, 0, 0, 128,\r\n                                     ",
        );
        let r = &records(&wrapped)[0];
        assert_eq!(
            r.value("relay_ip_list").unwrap().as_text(),
            Some(ALL_EXCEPT_EMPTY_HEX)
        );
    }

    #[test]
    fn inferred_class_and_made_up_dn() {
        let text = "msExchSmtpRelayForAuth = TRUE\nmsExchSmtpRelayIpList = 0x18 0x00\nmsExchAuthenticationFlags = 3\n";
        let (l, map) = listing_to_ldif(text).unwrap();
        assert!(l.starts_with("dn: CN=1,CN=SMTP,CN=Protocols,CN=(unknown server),CN=Servers\nobjectClass: top\nobjectClass: protocolCfgSMTPServer\n"), "{l}");
        assert_eq!(map[..3], [1, 1, 1]);
        let r = &records(text)[0];
        assert_eq!(
            r.value("Server").unwrap().as_text(),
            Some("(unknown server)")
        );
        assert_eq!(r.value("relay_ip_list").unwrap().as_text(), Some("1800"));
        assert_eq!(r.get("relay_ip_list").unwrap().line, 2);
        let conn = "routingList: SMTP:*;1\nmsExchRoutingGroupConnector: x\ncn: Internet Connector\nmsExchSmtpSmartHost: relay.example.com\n";
        let (l, _) = listing_to_ldif(conn).unwrap();
        assert!(
            l.contains("objectClass: protocolCfgSMTPServer"),
            "msExchSmtp* names a server"
        );
        let conn = "Dn: CN=Internet Connector,CN=Connections,CN=First Routing Group,CN=Routing Groups,DC=x\nroutingList: SMTP:*;1\nmsExchRoutingAcceptMessageType: 0\nmsExchSmtpSmartHost: relay.example.com\n";
        let r = &records(conn)[0];
        assert_eq!(r.kind, ObjectKind::SmtpConnector);
        assert_eq!(r.value("address_space").unwrap().display(), "SMTP:*;1");
    }

    #[test]
    fn not_listings() {
        assert!(!looks_like_listing(
            "dn: CN=1,CN=SMTP\nobjectClass: protocolCfgSMTPServer\n"
        ));
        assert!(!looks_like_listing(
            "<IIsSmtpServer Location=\"/LM/SmtpSvc/1\"/>"
        ));
        assert!(!looks_like_listing(
            "Identity : MAIL\\Default\nRemoteIPRanges : {0.0.0.0-255.255.255.255}\n"
        ));
        assert!(!looks_like_listing(
            "msExchSmtpRelayIpList is the attribute to check.\n"
        ));
        assert!(looks_like_listing("objectClass = protocolCfgSMTPServer\n"));
        assert!(listing_to_ldif("").is_none());
    }

    #[test]
    fn hex_forms_and_line_map() {
        assert_eq!(hex_bytes("18 00 00 80"), Some(vec![0x18, 0, 0, 0x80]));
        assert_eq!(hex_bytes("0x18 0x0 0X80"), Some(vec![0x18, 0, 0x80]));
        assert_eq!(hex_bytes("18 0 00"), None);
        assert_eq!(hex_bytes("System.Byte[]"), None);
        // ADSI Edit's octet string for the blob; `System.Byte[]` is not a value.
        let text = "msExchSmtpRelayForAuth: TRUE\nmsExchSmtpRelayIpList: 18 00 00 80\nmsExchIPSecurity: System.Byte[]\n";
        let (l, map) = listing_to_ldif(text).unwrap();
        assert!(l.contains("msExchSmtpRelayIpList:: GAAAgA==\n"), "{l}");
        assert!(
            l.contains("# msExchIPSecurity shown as `System.Byte[]`"),
            "{l}"
        );
        assert_eq!(original_line(&map, 5), 2);
        assert_eq!(original_line(&map, 99), 99);
        let e = remap_error(InputError::new("p.txt", Some(5), "x"), &map);
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn base64_round_trips_through_the_ldif_reader() {
        for n in 0..8u8 {
            let b: Vec<u8> = (0..n).map(|i| i.wrapping_mul(97)).collect();
            assert_eq!(ldif::base64(&to_base64(&b)).unwrap(), b);
        }
    }
}
