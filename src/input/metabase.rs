//! IIS 6 `MetaBase.xml` (`%SystemRoot%\System32\Inetsrv\MetaBase.xml`, Windows Server 2003):
//! the SMTP virtual servers Exchange 2000/2003 (or the bare IIS SMTP service) runs
//! (FORMATS.md §7).
//!
//! The file is streamed with quick-xml; only `IIsSmtpService` (`Location="/LM/SmtpSvc"`, whose
//! values the servers inherit) and `IIsSmtpServer` (`/LM/SmtpSvc/<n>`) elements are read, with
//! their `<Custom Name=… Value=…>` children. Each server becomes one record of kind
//! `smtp-virtual-server` with the property names the LDIF reader uses, so the model compares
//! the two copies property by property:
//!
//! - `RelayForAuth` (any non-zero value is on) → `allow_authenticated_relay`;
//! - `AuthFlags` (`AuthAnonymous | AuthBasic | AuthNTLM`, or a number: 1, 2, 4) → `authentication`;
//! - `ServerBindings` (one binding per line) → `server_bindings`;
//! - `RelayIpList` (hex) → `relay_ip_list` (the bytes as hex), decoded by the model;
//! - `IPSecurity` (Connection control, the same IPSECLIST) → `connection_control`;
//! - `ServerComment` → `Name`; the instance number of the location → `instance`.
//!
//! A MetaBase.xml does not name its computer: the model attributes it (see
//! `ModelBuilder::attach_metabase`). Values inherited from `IIsSmtpService` are marked so.

use crate::diag::InputError;
use crate::input::record::{ObjectKind, Record, Value};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use std::io::BufRead;

/// The property that marks a record as coming from a metabase (its `Location`).
pub const LOCATION: &str = "metabase_location";

/// An element larger than this is refused (a MetaBase.xml element is a few kilobytes).
const MAX_ELEMENT_BYTES: usize = 4 << 20;

/// Does the start of the file look like an IIS 6 metabase?
pub fn looks_like_metabase(text: &str) -> bool {
    text.contains("XML_Metabase") || text.contains("<MBProperty")
}

/// The root [`parse`] needs around a fragment: on one line, so line numbers stay those of
/// the pasted text.
const FRAGMENT_OPEN: &str =
    "<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\"><MBProperty>";
const FRAGMENT_CLOSE: &str = "</MBProperty></configuration>";

/// Byte offset of the first element of `text` when it is `<IIsSmtpServer` or
/// `<IIsSmtpService`, with only a BOM, whitespace, an XML declaration or comments before it,
/// and no `<configuration`/`<MBProperty` root anywhere.
fn fragment_start(text: &str) -> Option<usize> {
    if text.contains("<configuration") || text.contains("<MBProperty") {
        return None;
    }
    let mut at = 0;
    loop {
        let rest = &text[at..];
        let trimmed = rest.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
        at += rest.len() - trimmed.len();
        if trimmed.starts_with("<?") {
            at += trimmed.find("?>")? + 2;
        } else if trimmed.starts_with("<!--") {
            at += trimmed.find("-->")? + 3;
        } else {
            break;
        }
    }
    let rest = &text[at..];
    let smtp = ["<IIsSmtpServer", "<IIsSmtpService"].iter().any(|tag| {
        rest.get(..tag.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(tag))
            && rest[tag.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
    });
    smtp.then_some(at)
}

/// Does the text look like a lone `<IIsSmtpServer …>` (or `<IIsSmtpService …>`) element,
/// pasted without the rest of MetaBase.xml?
pub fn looks_like_metabase_fragment(text: &str) -> bool {
    fragment_start(text).is_some()
}

/// A lone `<IIsSmtpServer …>`/`<IIsSmtpService …>` element (with or without its `<Custom/>`
/// children, its end tag, or self-closing) wrapped in the minimal root [`parse`] reads, so it
/// is read exactly like the same element inside a whole MetaBase.xml. `None` when the text is
/// not such a fragment (a whole MetaBase.xml, other XML, text).
///
/// The root is added on the element's own line, so every line number [`parse`] reports is the
/// line of the pasted text. An SMTP element left open at the end (the end tag not pasted) is
/// closed.
pub fn fragment_as_document(text: &str) -> Option<String> {
    let at = fragment_start(text)?;
    let mut out = String::with_capacity(text.len() + 128);
    out.push_str(&text[..at]);
    out.push_str(FRAGMENT_OPEN);
    out.push_str(&text[at..]);
    if let Some(tag) = open_smtp_element(&text[at..]) {
        out.push_str("</");
        out.push_str(tag);
        out.push('>');
    }
    out.push_str(FRAGMENT_CLOSE);
    Some(out)
}

/// The name of the SMTP element still open at the end of a fragment (its end tag not
/// pasted), if any.
fn open_smtp_element(text: &str) -> Option<&'static str> {
    let mut rdr = Reader::from_str(text);
    rdr.config_mut().check_end_names = false;
    let mut open: Option<&'static str> = None;
    loop {
        match rdr.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name();
                let name = name.as_ref();
                if name.eq_ignore_ascii_case("IIsSmtpServer") {
                    open = Some("IIsSmtpServer");
                } else if name.eq_ignore_ascii_case("IIsSmtpService") {
                    open = Some("IIsSmtpService");
                }
            }
            Ok(Event::End(e)) => {
                let name = e.local_name();
                let name = name.as_ref();
                if name.eq_ignore_ascii_case("IIsSmtpServer")
                    || name.eq_ignore_ascii_case("IIsSmtpService")
                {
                    open = None;
                }
            }
            Ok(Event::Eof) | Err(_) => return open,
            _ => {}
        }
    }
}

/// `AuthFlags` names (MBSchema.xml) and the on-screen names of the Authentication dialog.
const AUTH_FLAGS: &[(u32, &str, &str)] = &[
    (1, "AuthAnonymous", "Anonymous access"),
    (2, "AuthBasic", "Basic authentication"),
    (4, "AuthNTLM", "Integrated Windows Authentication"),
];

/// What one MetaBase.xml held.
#[derive(Debug, Default)]
pub struct Parsed {
    /// `IIsSmtpServer` elements read.
    pub servers: usize,
    /// Other elements (web sites, FTP, ...), not relay-audit's business.
    pub other_elements: usize,
}

/// One property as written, with its line.
#[derive(Clone)]
struct Prop {
    name: String,
    value: String,
    line: u32,
}

struct Element {
    location: String,
    line: u32,
    props: Vec<Prop>,
}

impl Element {
    fn get(&self, name: &str) -> Option<&Prop> {
        self.props
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// Attributes of a start tag with the line each starts on.
fn attributes(e: &BytesStart<'_>, line: u32, file: &str) -> Result<Vec<Prop>, InputError> {
    let raw: &str = e;
    let raw = raw.as_bytes();
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| {
            InputError::new(file, Some(line), format!("malformed attribute: {err}"))
        })?;
        let key: String = a.key.as_ref().to_string();
        // The attribute's own line: newlines in the tag before `key=`.
        let at = find_attr(raw, key.as_bytes()).unwrap_or(0);
        let l = line + memchr::memchr_iter(b'\n', &raw[..at]).count() as u32;
        let value = match a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
            Ok(v) => v.into_owned(),
            Err(_) => a.value.clone().into_owned(),
        };
        out.push(Prop {
            name: key,
            value,
            line: l,
        });
    }
    Ok(out)
}

/// Byte offset of `key` as an attribute name (preceded by whitespace, followed by `=` or
/// whitespace) in a raw start tag.
fn find_attr(raw: &[u8], key: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&raw[from..], key) {
        let at = from + i;
        let before = at.checked_sub(1).map(|j| raw[j]);
        let after = raw.get(at + key.len()).copied();
        if before.is_some_and(|b| b.is_ascii_whitespace())
            && after.is_some_and(|b| b == b'=' || b.is_ascii_whitespace())
        {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Hex digits (whitespace ignored) → lowercase hex; `Err` names the first bad character.
fn clean_hex(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| !c.is_whitespace()) {
        if !c.is_ascii_hexdigit() {
            return Err(format!("`{c}` is not a hexadecimal digit"));
        }
        out.push(c.to_ascii_lowercase());
    }
    if !out.len().is_multiple_of(2) {
        return Err("odd number of hexadecimal digits".into());
    }
    Ok(out)
}

/// `AuthFlags` as names or a number → the on-screen names; `Err` for a word not known.
fn auth_flags(s: &str) -> Result<Vec<String>, String> {
    let t = s.trim();
    let bits = if let Ok(n) = t.parse::<u32>() {
        n
    } else {
        let mut bits = 0;
        for w in t.split('|').map(str::trim).filter(|w| !w.is_empty()) {
            match AUTH_FLAGS
                .iter()
                .find(|(_, n, _)| n.eq_ignore_ascii_case(w))
            {
                Some((b, _, _)) => bits |= b,
                None => return Err(format!("AuthFlags: `{w}` is not a flag relay-audit knows")),
            }
        }
        bits
    };
    Ok(AUTH_FLAGS
        .iter()
        .filter(|(b, _, _)| bits & b != 0)
        .map(|(_, _, screen)| screen.to_string())
        .collect())
}

/// Number of a `RelayForAuth` value (`0`, `1`, `4294967295`, `-1`, `TRUE`).
fn truthy(s: &str) -> Option<bool> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Some(n != 0);
    }
    match t.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn record(server: &Element, service: Option<&Element>, file: &str) -> Result<Record, InputError> {
    let mut rec = Record::new(ObjectKind::SmtpVirtualServer, server.line);
    let instance = server
        .location
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    rec.push(LOCATION, Value::Text(server.location.clone()), server.line);
    rec.push("instance", Value::Text(instance.clone()), server.line);
    let name = match server.get("ServerComment") {
        Some(p) if !p.value.trim().is_empty() => p.value.trim().to_string(),
        _ if instance == "1" => "Default SMTP Virtual Server".to_string(),
        _ => format!("SMTP Virtual Server #{instance}"),
    };
    rec.push("Name", Value::Text(name), server.line);
    // A value the server does not set is inherited from /LM/SmtpSvc.
    let get = |name: &str| -> Option<(Prop, bool)> {
        server
            .get(name)
            .map(|p| (p.clone(), false))
            .or_else(|| service.and_then(|s| s.get(name)).map(|p| (p.clone(), true)))
    };
    let bad = |p: &Prop, msg: String| InputError::new(file, Some(p.line), msg);
    if let Some((p, inherited)) = get("RelayForAuth") {
        let Some(on) = truthy(&p.value) else {
            return Err(bad(
                &p,
                format!("RelayForAuth: `{}` is not a number", p.value),
            ));
        };
        rec.push(
            "allow_authenticated_relay",
            Value::Text(if on { "TRUE" } else { "FALSE" }.into()),
            p.line,
        );
        mark_inherited(&mut rec, "allow_authenticated_relay", inherited);
    }
    if let Some((p, inherited)) = get("AuthFlags") {
        let items = auth_flags(&p.value).map_err(|m| bad(&p, m))?;
        rec.push(
            "authentication",
            Value::List {
                items,
                truncated: false,
            },
            p.line,
        );
        mark_inherited(&mut rec, "authentication", inherited);
    }
    if let Some((p, inherited)) = get("ServerBindings") {
        let items = p
            .value
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>();
        rec.push(
            "server_bindings",
            Value::List {
                items,
                truncated: false,
            },
            p.line,
        );
        mark_inherited(&mut rec, "server_bindings", inherited);
    }
    if let Some((p, inherited)) = get("IPSecurity") {
        let hex = clean_hex(&p.value).map_err(|m| bad(&p, format!("IPSecurity: {m}")))?;
        rec.push("connection_control", Value::Text(hex), p.line);
        mark_inherited(&mut rec, "connection_control", inherited);
    }
    if let Some((p, inherited)) = get("RelayIpList") {
        let hex = clean_hex(&p.value).map_err(|m| bad(&p, format!("RelayIpList: {m}")))?;
        rec.push("relay_ip_list", Value::Text(hex), p.line);
        mark_inherited(&mut rec, "relay_ip_list", inherited);
    } else {
        rec.push(
            "relay_ip_list_absent",
            Value::Text("RelayIpList".into()),
            server.line,
        );
    }
    Ok(rec)
}

/// Records which values came from `/LM/SmtpSvc` rather than the server itself.
fn mark_inherited(rec: &mut Record, name: &str, inherited: bool) {
    if inherited {
        let line = rec.get(name).map(|p| p.line).unwrap_or(rec.line);
        rec.push(
            format!("{name}_inherited"),
            Value::Text("/LM/SmtpSvc".into()),
            line,
        );
    }
}

/// Streams a MetaBase.xml and yields one record per `IIsSmtpServer`.
pub fn parse<R: BufRead>(
    reader: R,
    file: &str,
    sink: &mut dyn FnMut(Record),
) -> Result<Parsed, InputError> {
    let mut rdr = Reader::from_reader(reader);
    rdr.config_mut().trim_text(false);
    let mut parsed = Parsed::default();
    let mut line: u32 = 1;
    let mut service: Option<Element> = None;
    let mut servers: Vec<Element> = Vec::new();
    // The SMTP element whose <Custom> children are being read.
    let mut open: Option<Element> = None;
    let mut saw_root = false;
    let mut buf = Vec::with_capacity(8 << 10);
    loop {
        buf.clear();
        let ev = rdr
            .read_event_into(&mut buf)
            .map_err(|e| InputError::new(file, Some(line), format!("malformed XML: {e}")))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let start_line = line;
                let raw: &str = e;
                if raw.len() > MAX_ELEMENT_BYTES {
                    return Err(InputError::new(
                        file,
                        Some(line),
                        format!(
                            "an element of over {} MiB: not a metabase",
                            MAX_ELEMENT_BYTES >> 20
                        ),
                    ));
                }
                line += memchr::memchr_iter(b'\n', raw.as_bytes()).count() as u32;
                let tag = e.local_name().as_ref().to_string();
                if tag == "configuration" || tag == "MBProperty" {
                    saw_root = true;
                    continue;
                }
                let smtp = tag.eq_ignore_ascii_case("IIsSmtpServer")
                    || tag.eq_ignore_ascii_case("IIsSmtpService");
                if tag.eq_ignore_ascii_case("Custom") {
                    // <Custom Name="RelayIpList" Value="..." .../> inside an SMTP element.
                    if let Some(el) = open.as_mut() {
                        let attrs = attributes(e, start_line, file)?;
                        let get = |n: &str| {
                            attrs
                                .iter()
                                .find(|p| p.name.eq_ignore_ascii_case(n))
                                .cloned()
                        };
                        if let (Some(n), Some(v)) = (get("Name"), get("Value")) {
                            el.props.push(Prop {
                                name: n.value,
                                value: v.value,
                                line: v.line,
                            });
                        }
                    }
                    continue;
                }
                if !smtp {
                    parsed.other_elements += 1;
                    continue;
                }
                let props = attributes(e, start_line, file)?;
                let location = props
                    .iter()
                    .find(|p| p.name.eq_ignore_ascii_case("Location"))
                    .map(|p| p.value.trim().to_string())
                    .ok_or_else(|| {
                        InputError::new(
                            file,
                            Some(start_line),
                            format!("<{tag}> without a Location"),
                        )
                    })?;
                let el = Element {
                    location,
                    line: start_line,
                    props,
                };
                let is_service = tag.eq_ignore_ascii_case("IIsSmtpService");
                if empty {
                    finish(el, is_service, &mut service, &mut servers);
                } else {
                    open = Some(el);
                }
            }
            Event::End(ref e) => {
                let tag = e.local_name().as_ref().to_string();
                if tag.eq_ignore_ascii_case("IIsSmtpServer")
                    || tag.eq_ignore_ascii_case("IIsSmtpService")
                {
                    if let Some(el) = open.take() {
                        finish(
                            el,
                            tag.eq_ignore_ascii_case("IIsSmtpService"),
                            &mut service,
                            &mut servers,
                        );
                    }
                }
            }
            Event::Text(ref t) => {
                let t: &str = t;
                line += memchr::memchr_iter(b'\n', t.as_bytes()).count() as u32
            }
            Event::Comment(ref t) => {
                let t: &str = t;
                line += memchr::memchr_iter(b'\n', t.as_bytes()).count() as u32
            }
            Event::CData(ref t) => {
                let t: &str = t;
                line += memchr::memchr_iter(b'\n', t.as_bytes()).count() as u32
            }
            Event::DocType(_) => {
                return Err(InputError::new(
                    file,
                    Some(line),
                    "DTD found: a MetaBase.xml never contains one, and relay-audit refuses DTDs",
                ))
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(InputError::new(
            file,
            None,
            "not an IIS metabase: no <configuration>/<MBProperty> element",
        ));
    }
    if open.is_some() {
        return Err(InputError::new(
            file,
            Some(line),
            "the file ends inside an SMTP element: cut off",
        ));
    }
    for s in &servers {
        parsed.servers += 1;
        sink(record(s, service.as_ref(), file)?);
    }
    Ok(parsed)
}

fn finish(
    el: Element,
    is_service: bool,
    service: &mut Option<Element>,
    servers: &mut Vec<Element>,
) {
    if is_service {
        *service = Some(el);
    } else {
        servers.push(el);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n<IIsWebServer\tLocation =\"/LM/W3SVC/1\"\r\n\t\tServerComment=\"Default Web Site\"\r\n\t>\r\n</IIsWebServer>\r\n<IIsSmtpService\tLocation =\"/LM/SmtpSvc\"\r\n\t\tAuthFlags=\"AuthAnonymous | AuthBasic | AuthNTLM\"\r\n\t>\r\n</IIsSmtpService>\r\n<IIsSmtpServer\tLocation =\"/LM/SmtpSvc/1\"\r\n\t\tRelayForAuth=\"4294967295\"\r\n\t\tRelayIpList=\"0A0B\"\r\n\t\tServerBindings=\":25:\r\n\t\t\t10.0.0.5:2525:\"\r\n\t\tServerComment=\"Default SMTP Virtual Server\"\r\n\t>\r\n\t<Custom\tName=\"X\"\r\n\t\tValue=\"1\"\r\n\t/>\r\n</IIsSmtpServer>\r\n</MBProperty>\r\n</configuration>\r\n";

    #[test]
    fn reads_smtp_servers_with_lines_and_inheritance() {
        assert!(looks_like_metabase(SAMPLE));
        let mut recs = Vec::new();
        let p = parse(SAMPLE.as_bytes(), "MetaBase.xml", &mut |r| recs.push(r)).unwrap();
        assert_eq!(p.servers, 1);
        assert_eq!(p.other_elements, 1);
        let r = &recs[0];
        assert_eq!(r.line, 12);
        assert_eq!(r.value("instance").unwrap().as_text(), Some("1"));
        assert_eq!(
            r.value("Name").unwrap().as_text(),
            Some("Default SMTP Virtual Server")
        );
        assert_eq!(
            r.value("allow_authenticated_relay").unwrap().as_text(),
            Some("TRUE")
        );
        assert_eq!(r.get("allow_authenticated_relay").unwrap().line, 13);
        assert_eq!(r.value("relay_ip_list").unwrap().as_text(), Some("0a0b"));
        assert_eq!(r.get("relay_ip_list").unwrap().line, 14);
        assert_eq!(
            r.value("server_bindings").unwrap().display(),
            ":25:, 10.0.0.5:2525:"
        );
        assert_eq!(
            r.value("authentication").unwrap().display(),
            "Anonymous access, Basic authentication, Integrated Windows Authentication"
        );
        assert_eq!(r.get("authentication").unwrap().line, 9);
        assert!(r.get("authentication_inherited").is_some());
    }

    #[test]
    fn bad_values_name_their_line() {
        let bad = SAMPLE.replace("0A0B", "0A0G");
        let e = parse(bad.as_bytes(), "MetaBase.xml", &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("MetaBase.xml:14"), "{e}");
        let bad = SAMPLE.replace("AuthBasic", "AuthBogus");
        let e = parse(bad.as_bytes(), "MetaBase.xml", &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("AuthBogus"), "{e}");
        let cut = &SAMPLE[..SAMPLE.find("</IIsSmtpServer>").unwrap()];
        assert!(parse(cut.as_bytes(), "m.xml", &mut |_| {}).is_err());
        let dtd = SAMPLE.replace(
            "<configuration",
            "<!DOCTYPE x [<!ENTITY a \"b\">]><configuration",
        );
        assert!(parse(dtd.as_bytes(), "m.xml", &mut |_| {}).is_err());
    }

    /// "All except the list below" with an empty list (fixtures/legacy-2003-ldif).
    const ALL_EXCEPT_EMPTY: &str = "1800008020000080280000803000008001000000380000000000000000000000000000000000000000000000000000000000000000000000";

    fn element(close: &str) -> String {
        format!(
            "<IIsSmtpServer\tLocation =\"/LM/SmtpSvc/1\"\r\n\t\tAuthFlags=\"AuthAnonymous | AuthBasic\"\r\n\t\tRelayForAuth=\"0\"\r\n\t\tRelayIpList=\"{ALL_EXCEPT_EMPTY}\"\r\n\t\tServerBindings=\":25:\"\r\n\t\tServerComment=\"Default SMTP Virtual Server\"\r\n\t{close}"
        )
    }

    fn read(text: &str) -> Vec<Record> {
        let mut recs = Vec::new();
        parse(text.as_bytes(), "m.xml", &mut |r| recs.push(r)).unwrap();
        recs
    }

    #[test]
    fn fragment_reads_like_the_whole_file() {
        let body = element(
            ">\r\n\t<Custom\tName=\"X\"\r\n\t\tValue=\"1\"\r\n\t/>\r\n</IIsSmtpServer>\r\n",
        );
        let whole = format!(
            "<?xml version =\"1.0\"?>\r\n<configuration xmlns=\"urn:microsoft-catalog:XML_Metabase_V64_0\">\r\n<MBProperty>\r\n{body}</MBProperty>\r\n</configuration>\r\n"
        );
        assert!(fragment_as_document(&whole).is_none());
        assert!(!looks_like_metabase_fragment(&whole));
        let expected = read(&whole);
        assert_eq!(expected.len(), 1);
        assert_eq!(
            expected[0].value("relay_ip_list").unwrap().as_text(),
            Some(ALL_EXCEPT_EMPTY.to_ascii_lowercase().as_str())
        );
        // Lines of the fragment are its own: the element starts on line 1, not 4.
        let shift = |recs: Vec<Record>, by: u32| -> Vec<Record> {
            recs.into_iter()
                .map(|mut r| {
                    r.line += by;
                    for p in &mut r.props {
                        p.line += by;
                    }
                    r
                })
                .collect()
        };
        let closed_forms = [
            body.clone(),
            body.replace("</IIsSmtpServer>\r\n", ""),
            format!("\u{feff}  \r\n{body}").replacen("\r\n", "", 1),
        ];
        for frag in closed_forms {
            assert!(looks_like_metabase_fragment(&frag), "{frag}");
            let doc = fragment_as_document(&frag).unwrap();
            assert!(looks_like_metabase(&doc));
            let got = shift(read(&doc), 3);
            assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{frag}");
        }
        // Self-closing, and after an XML declaration.
        let empty = element("/>\r\n");
        let whole_empty = whole.replace(&body, &empty);
        let expected = read(&whole_empty);
        let frag = format!("<?xml version =\"1.0\"?>\r\n<!-- pasted -->\r\n{empty}");
        let got = shift(read(&fragment_as_document(&frag).unwrap()), 1);
        assert_eq!(format!("{got:?}"), format!("{expected:?}"));
    }

    #[test]
    fn fragment_service_and_not_fragments() {
        let frag = "<IIsSmtpService Location=\"/LM/SmtpSvc\" AuthFlags=\"AuthBasic\">\n</IIsSmtpService>\n<IIsSmtpServer Location=\"/LM/SmtpSvc/2\" RelayIpList=\"0A0B\"/>";
        let recs = read(&fragment_as_document(frag).unwrap());
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].value("instance").unwrap().as_text(), Some("2"));
        assert_eq!(recs[0].line, 3);
        assert!(recs[0].get("authentication_inherited").is_some());
        for not in [
            "<IIsWebServer Location=\"/LM/W3SVC/1\"/>",
            "<IIsSmtpServerX Location=\"/LM/SmtpSvc/1\"/>",
            "text <IIsSmtpServer Location=\"/LM/SmtpSvc/1\"/>",
            "<Objs><IIsSmtpServer Location=\"/LM/SmtpSvc/1\"/></Objs>",
            "",
        ] {
            assert!(fragment_as_document(not).is_none(), "{not}");
            assert!(!looks_like_metabase_fragment(not), "{not}");
        }
    }

    #[test]
    fn auth_flags_by_number_and_name() {
        assert_eq!(auth_flags("5").unwrap().len(), 2);
        assert_eq!(
            auth_flags("AuthBasic").unwrap(),
            vec!["Basic authentication".to_string()]
        );
        assert!(auth_flags("0").unwrap().is_empty());
    }
}
