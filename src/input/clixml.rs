//! CliXML (`Export-Clixml`) parser: a streaming quick-xml event loop that yields one
//! [`Record`] per top-level `<Obj>`.
//!
//! What it handles, from the real Exchange 2016/2019 exports (`../shared/samples`):
//! - type names in `<TN RefId>` and later `<TNRef RefId>`, with an optional `Deserialized.`
//!   prefix (remote sessions), which decide the object kind;
//! - scalars (`<S>`, `<B>`, `<I32>`, `<G>`, `<DT>`...), `<Nil/>`, `<BA>` (skipped: the
//!   remote-session `SerializationData` blobs are most of the file's bytes);
//! - complex values (`<Obj>`): enums as their `<ToString>` (or their number when it is
//!   missing), collections (`<LST>`, `<IE>`, `<ST>`, `<QUE>`, `<STK>`) as lists of their items'
//!   `<ToString>`, anything else as its `<ToString>`;
//! - `<Ref RefId>` back-references to objects seen earlier in the file (a bounded table);
//! - CliXML's own `_xHHHH_` escapes and the five XML entities.
//!
//! It refuses DTDs and unknown entities (no CliXML has them; they are how XML bombs and
//! external-entity reads start) and reports a file cut off inside an object as an error, with
//! the line where that object began. Memory is bounded by the largest object, not the file.

use crate::diag::{Diagnostic, InputError};
use crate::input::record::{ObjectKind, Record, Value};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use std::collections::HashMap;
use std::io::BufRead;

/// Objects whose type name is not one of ours, counted per type name.
/// What a CliXML file yielded besides its records.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Top-level objects read (ours and others).
    pub objects: usize,
    /// Objects of other types: (type name, first line, count).
    pub skipped: Vec<(String, u32, usize)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Maps a CliXML type name (most derived first) to the kind of Exchange object it is.
pub fn kind_from_type_name(type_name: &str) -> Option<ObjectKind> {
    let t = type_name.strip_prefix("Deserialized.").unwrap_or(type_name);
    let last = t.rsplit('.').next().unwrap_or(t);
    Some(match last {
        "ReceiveConnector" => ObjectKind::ReceiveConnector,
        "ADAcePresentationObject" | "AcePresentationObject" => ObjectKind::AdPermission,
        "AcceptedDomain" => ObjectKind::AcceptedDomain,
        "ExchangeServer" => ObjectKind::ExchangeServer,
        _ => return None,
    })
}

const MAX_DEPTH: usize = 256;
const MAX_VALUE_BYTES: usize = 1 << 20;
const MAX_REFS: usize = 1 << 16;

/// Scalar element names of the PowerShell serialization format (MS-PSRP 2.2.5.1).
fn is_scalar(tag: &str) -> bool {
    matches!(
        tag,
        "S" | "B"
            | "I32"
            | "I64"
            | "I16"
            | "U32"
            | "U64"
            | "U16"
            | "SB"
            | "By"
            | "Db"
            | "Sg"
            | "D"
            | "G"
            | "DT"
            | "TS"
            | "C"
            | "URI"
            | "Version"
            | "XD"
            | "SBK"
            | "SS"
            | "PR"
            | "ToString"
            | "T"
    )
}

fn is_collection(tag: &str) -> bool {
    matches!(tag, "LST" | "IE" | "ST" | "QUE" | "STK")
}

#[derive(Debug, Default)]
struct ObjState {
    name: Option<String>,
    ref_id: Option<u32>,
    line: u32,
    to_string: Option<String>,
    number: Option<String>,
    items: Option<Vec<String>>,
}

impl ObjState {
    fn value(&mut self) -> Value {
        if let Some(items) = self.items.take() {
            Value::List {
                items,
                truncated: false,
            }
        } else if let Some(s) = self.to_string.take() {
            Value::Text(s)
        } else if let Some(n) = self.number.take() {
            Value::Text(n)
        } else {
            Value::Null
        }
    }
}

#[derive(Debug)]
enum Node {
    Root,
    Obj(Box<ObjState>),
    /// `<Props>` or `<MS>`: children with `N` are properties of the Obj below.
    Members,
    /// `<LST>` and friends: children are items of the Obj below.
    Collection,
    /// `<TN RefId>`: the type names being collected.
    TypeNames(Option<u32>, Vec<String>),
    Scalar {
        tag: ScalarTag,
        name: Option<String>,
        text: String,
        collect: bool,
        line: u32,
    },
    /// An element whose content does not matter (`<DCT>`, `<BA>`, unknown tags).
    Skip,
}

struct Parser<'a> {
    file: &'a str,
    line: u32,
    stack: Vec<Node>,
    record: Option<Record>,
    record_type: Option<String>,
    ready: Option<Record>,
    tn_cache: HashMap<u32, String>,
    /// RefId -> (value, last use), bounded by MAX_REFS (least recently used dropped first).
    refs: HashMap<u32, (Value, u64)>,
    tick: u64,
    evicted: usize,
    missing_refs: usize,
    outcome: Outcome,
    saw_root: bool,
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().map(|a| {
        match a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
            Ok(v) => decode_escapes(v.into_owned()),
            Err(_) => decode_escapes(a.value.into_owned()),
        }
    })
}

/// Line breaks in a text run (SIMD search: most text is long base64 with none).
fn newlines(b: &[u8]) -> u32 {
    memchr::memchr_iter(b'\n', b).count() as u32
}

/// `RefId="n"` without allocating.
fn ref_id(e: &quick_xml::events::BytesStart<'_>) -> Option<u32> {
    e.try_get_attribute("RefId")
        .ok()
        .flatten()
        .and_then(|a| a.value.trim().parse().ok())
}

/// What a scalar element is for: a type name, an object's display text, or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarTag {
    T,
    ToString,
    Value,
}

impl ScalarTag {
    fn of(tag: &str) -> ScalarTag {
        match tag {
            "T" => ScalarTag::T,
            "ToString" => ScalarTag::ToString,
            _ => ScalarTag::Value,
        }
    }
}

/// Decodes CliXML's `_xHHHH_` escapes (`_x000D__x000A_` is CR LF, `_x005F_` is `_`).
pub fn decode_escapes(s: String) -> String {
    if !s.contains("_x") {
        return s;
    }
    let s = s.as_str();
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    let mut pending_high: Option<u16> = None;
    while i < b.len() {
        if b[i] == b'_'
            && i + 7 <= b.len()
            && b[i + 1] == b'x'
            && b[i + 6] == b'_'
            && b[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit)
        {
            let code = u16::from_str_radix(&s[i + 2..i + 6], 16).unwrap_or(0xFFFD);
            i += 7;
            if (0xD800..0xDC00).contains(&code) {
                pending_high = Some(code);
                continue;
            }
            if let Some(hi) = pending_high.take() {
                let c = char::decode_utf16([hi, code])
                    .next()
                    .and_then(Result::ok)
                    .unwrap_or('\u{FFFD}');
                out.push(c);
                continue;
            }
            out.push(char::from_u32(code as u32).unwrap_or('\u{FFFD}'));
            continue;
        }
        if pending_high.take().is_some() {
            out.push('\u{FFFD}');
        }
        let ch = s[i..].chars().next().unwrap_or('\u{FFFD}');
        out.push(ch);
        i += ch.len_utf8();
    }
    if pending_high.is_some() {
        out.push('\u{FFFD}');
    }
    out
}

impl<'a> Parser<'a> {
    fn err(&self, message: impl Into<String>) -> InputError {
        InputError::new(self.file, Some(self.line), message)
    }

    fn remember_ref(&mut self, id: u32, value: &Value) {
        // Only small values are worth keeping: Exchange uses Ref for repeated ADObjectIds.
        let small = match value {
            Value::Null => true,
            Value::Text(s) => s.len() <= 1024,
            Value::List { items, .. } => items.len() <= 64,
            Value::Cut(_) | Value::Missing(_) => true,
        };
        if !small {
            return;
        }
        self.tick += 1;
        self.refs.insert(id, (value.clone(), self.tick));
        if self.refs.len() > MAX_REFS {
            // Bounded memory: drop the least recently used half. Objects referred to again
            // and again (the organisation's OrganizationId, a server's ADObjectId) stay.
            let mut ticks: Vec<u64> = self.refs.values().map(|(_, t)| *t).collect();
            let mid = ticks.len() / 2;
            let (_, median, _) = ticks.select_nth_unstable(mid);
            let median = *median;
            let before = self.refs.len();
            self.refs.retain(|_, (_, t)| *t >= median);
            self.evicted += before - self.refs.len();
        }
    }

    fn lookup_ref(&mut self, id: Option<u32>) -> Value {
        self.tick += 1;
        let tick = self.tick;
        match id.and_then(|i| self.refs.get_mut(&i)) {
            Some((v, t)) => {
                *t = tick;
                v.clone()
            }
            None => {
                self.missing_refs += 1;
                Value::Null
            }
        }
    }

    /// Is the top of the stack the member list of the top-level object?
    fn at_record_members(&self) -> bool {
        let n = self.stack.len();
        n >= 3
            && matches!(self.stack[n - 1], Node::Members)
            && matches!(self.stack[n - 2], Node::Obj(_))
            && matches!(self.stack[n - 3], Node::Root)
    }

    /// Delivers a finished value to whatever contains it.
    fn deliver(&mut self, name: Option<String>, value: Value, line: u32) {
        let n = self.stack.len();
        if n == 0 {
            return;
        }
        if self.at_record_members() {
            if let (Some(name), Some(rec)) = (name, self.record.as_mut()) {
                rec.push(name, value, line);
            }
            return;
        }
        if matches!(self.stack[n - 1], Node::Collection) && n >= 2 {
            if let Node::Obj(owner) = &mut self.stack[n - 2] {
                let item = match value {
                    Value::Null => return,
                    Value::Text(s) => s,
                    Value::List { items, .. } => items.join(", "),
                    other => other.display(),
                };
                owner.items.get_or_insert_with(Vec::new).push(item);
            }
        }
    }

    fn start(
        &mut self,
        e: &quick_xml::events::BytesStart<'_>,
        empty: bool,
    ) -> Result<(), InputError> {
        let qname = e.name();
        let tag: &str = qname.as_ref();
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.err(format!("objects nested deeper than {MAX_DEPTH} levels")));
        }
        let parent_skip = matches!(self.stack.last(), Some(Node::Skip));
        if self.stack.is_empty() {
            if tag != "Objs" {
                return Err(self.err(format!(
                    "not a CliXML export: root element is <{tag}>, expected <Objs>"
                )));
            }
            self.saw_root = true;
            if !empty {
                self.stack.push(Node::Root);
            }
            return Ok(());
        }
        if parent_skip {
            if !empty {
                self.stack.push(Node::Skip);
            }
            return Ok(());
        }
        let line = self.line;
        // Property names matter only on the record's own members: don't allocate elsewhere.
        let record_member = self.at_record_members();
        let name = |e: &quick_xml::events::BytesStart<'_>| {
            if record_member {
                attr(e, "N")
            } else {
                None
            }
        };
        match tag {
            "Obj" => {
                let st = ObjState {
                    name: name(e),
                    ref_id: ref_id(e),
                    line,
                    ..ObjState::default()
                };
                let top = matches!(self.stack.last(), Some(Node::Root));
                if top {
                    self.outcome.objects += 1;
                    self.record = Some(Record::new(ObjectKind::ReceiveConnector, line));
                    self.record_type = None;
                }
                if empty {
                    let mut st = st;
                    let v = st.value();
                    if let Some(id) = st.ref_id {
                        self.remember_ref(id, &v);
                    }
                    if top {
                        self.finish_record(None);
                    } else {
                        self.deliver(st.name, v, line);
                    }
                } else {
                    self.stack.push(Node::Obj(Box::new(st)));
                }
            }
            "Props" | "MS" if matches!(self.stack.last(), Some(Node::Obj(_))) => {
                if !empty {
                    self.stack.push(Node::Members);
                }
            }
            "TN" => {
                let id = ref_id(e);
                if empty {
                    self.set_type(id, None);
                } else {
                    self.stack.push(Node::TypeNames(id, Vec::new()));
                }
            }
            "TNRef" => {
                let id = ref_id(e);
                // Only the top-level object's type name is needed (it decides the kind).
                let top = self.stack.len() == 2 && matches!(self.stack[0], Node::Root);
                let known = id.is_some_and(|i| self.tn_cache.contains_key(&i));
                let t = if top {
                    id.and_then(|i| self.tn_cache.get(&i).cloned())
                } else {
                    None
                };
                if !known {
                    self.outcome.diagnostics.push(Diagnostic::warning(
                        self.file,
                        Some(line),
                        "<TNRef> to a type-name list never defined; object type unknown",
                    ));
                }
                self.set_type(None, t);
                if !empty {
                    self.stack.push(Node::Skip);
                }
            }
            "Ref" => {
                let name = name(e);
                let v = self.lookup_ref(ref_id(e));
                self.deliver(name, v, line);
                if !empty {
                    self.stack.push(Node::Skip);
                }
            }
            "Nil" => {
                let name = name(e);
                self.deliver(name, Value::Null, line);
                if !empty {
                    self.stack.push(Node::Skip);
                }
            }
            t if is_collection(t) && matches!(self.stack.last(), Some(Node::Obj(_))) => {
                if let Some(Node::Obj(o)) = self.stack.last_mut() {
                    o.items.get_or_insert_with(Vec::new);
                }
                if !empty {
                    self.stack.push(Node::Collection);
                }
            }
            t if is_scalar(t) => {
                let name = name(e);
                let tag = ScalarTag::of(t);
                if empty {
                    self.scalar_done(tag, name, String::new(), line);
                } else {
                    // Only collect text where it can end up somewhere: a property of the
                    // record, an item, or the ToString / enum number of an object.
                    let collect = match self.stack.last() {
                        Some(Node::Members) => self.at_record_members(),
                        Some(Node::Collection) | Some(Node::Obj(_)) => true,
                        Some(Node::TypeNames(..)) => true,
                        _ => false,
                    };
                    self.stack.push(Node::Scalar {
                        tag,
                        name,
                        text: String::new(),
                        collect,
                        line,
                    });
                }
            }
            "BA" => {
                // Binary (base64): never needed, and SerializationData blobs are huge.
                let name = name(e);
                self.deliver(name, Value::Null, line);
                if !empty {
                    self.stack.push(Node::Skip);
                }
            }
            _ => {
                if !empty {
                    self.stack.push(Node::Skip);
                }
            }
        }
        Ok(())
    }

    fn set_type(&mut self, id: Option<u32>, type_name: Option<String>) {
        if let (Some(id), Some(t)) = (id, type_name.as_ref()) {
            self.tn_cache.insert(id, t.clone());
        }
        // The type names that matter are those of the object right below.
        let n = self.stack.len();
        let is_top = n >= 2 && matches!(self.stack[n - 2], Node::Root)
            || (n >= 1 && matches!(self.stack[n - 1], Node::Obj(_)) && n == 2);
        if is_top && self.record_type.is_none() {
            self.record_type = type_name;
        }
    }

    fn scalar_done(&mut self, tag: ScalarTag, name: Option<String>, text: String, line: u32) {
        let text = decode_escapes(text);
        match self.stack.last_mut() {
            Some(Node::TypeNames(_, names)) => {
                if tag == ScalarTag::T {
                    names.push(text);
                }
            }
            Some(Node::Obj(o)) if name.is_none() => {
                if tag == ScalarTag::ToString {
                    o.to_string = Some(text);
                } else if o.number.is_none() {
                    // An enum's value: <Obj><TN>..System.Enum..</TN><ToString/><I32>13</I32></Obj>
                    o.number = Some(text);
                }
            }
            _ => self.deliver(name, Value::Text(text), line),
        }
    }

    fn end(&mut self) -> Result<(), InputError> {
        let node = match self.stack.pop() {
            Some(n) => n,
            None => return Ok(()),
        };
        match node {
            Node::Scalar {
                tag,
                name,
                text,
                collect: true,
                line,
            } => self.scalar_done(tag, name, text, line),
            Node::TypeNames(id, names) => {
                let first = names.into_iter().next();
                self.set_type(id, first);
            }
            Node::Obj(mut st) => {
                let v = st.value();
                if let Some(id) = st.ref_id {
                    self.remember_ref(id, &v);
                }
                if matches!(self.stack.last(), Some(Node::Root)) {
                    let to_string = match &v {
                        Value::Text(s) => Some(s.clone()),
                        _ => None,
                    };
                    self.finish_record(to_string);
                } else {
                    self.deliver(st.name.take(), v, st.line);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Completes the top-level record; a record of a known kind waits in `ready`.
    fn finish_record(&mut self, to_string: Option<String>) {
        let Some(mut rec) = self.record.take() else {
            return;
        };
        let ty = self.record_type.take();
        match ty.as_deref().and_then(kind_from_type_name) {
            Some(kind) => {
                rec.kind = kind;
                if let Some(s) = to_string {
                    if rec.get("ToString").is_none() {
                        rec.push("ToString", Value::Text(s), rec.line);
                    }
                }
                self.ready = Some(rec);
            }
            None => {
                let t = ty.unwrap_or_else(|| "(no type name)".to_string());
                let t = t.strip_prefix("Deserialized.").unwrap_or(&t).to_string();
                match self.outcome.skipped.iter_mut().find(|(n, _, _)| *n == t) {
                    Some(e) => e.2 += 1,
                    None => self.outcome.skipped.push((t, rec.line, 1)),
                }
            }
        }
    }
}

/// Parses a CliXML document from UTF-8 text, calling `sink` with each record of a known
/// kind as soon as its `</Obj>` is read.
pub fn parse<R: BufRead>(
    reader: R,
    file: &str,
    sink: &mut dyn FnMut(Record),
) -> Result<Outcome, InputError> {
    let mut rdr = Reader::from_reader(reader);
    // Whitespace is significant inside <S>; never trim (see CRATES.md §1).
    rdr.config_mut().trim_text(false);
    let mut p = Parser {
        file,
        line: 1,
        stack: Vec::new(),
        record: None,
        record_type: None,
        ready: None,
        tn_cache: HashMap::new(),
        refs: HashMap::new(),
        tick: 0,
        evicted: 0,
        missing_refs: 0,
        outcome: Outcome::default(),
        saw_root: false,
    };
    let mut buf = Vec::with_capacity(16 << 10);
    loop {
        buf.clear();
        let ev = match rdr.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => return Err(p.err(format!("malformed XML: {e}"))),
        };
        match ev {
            Event::Start(e) => p.start(&e, false)?,
            Event::Empty(e) => p.start(&e, true)?,
            Event::End(_) => p.end()?,
            Event::Text(t) => {
                let s: &str = &t;
                p.line += newlines(s.as_bytes());
                if let Some(Node::Scalar {
                    text,
                    collect: true,
                    ..
                }) = p.stack.last_mut()
                {
                    if text.len() + s.len() <= MAX_VALUE_BYTES {
                        text.push_str(s);
                    }
                }
            }
            Event::CData(t) => {
                let s = t.into_inner();
                p.line += newlines(s.as_bytes());
                if let Some(Node::Scalar {
                    text,
                    collect: true,
                    ..
                }) = p.stack.last_mut()
                {
                    if text.len() + s.len() <= MAX_VALUE_BYTES {
                        text.push_str(&s);
                    }
                }
            }
            Event::GeneralRef(r) => {
                let resolved: String = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match resolve_predefined_entity(&r) {
                        Some(s) => s.to_string(),
                        None => {
                            return Err(p.err(format!(
                            "entity &{}; is not allowed in CliXML (only the five XML entities are)",
                            &*r
                        )))
                        }
                    },
                    Err(e) => return Err(p.err(format!("bad character reference: {e}"))),
                };
                if let Some(Node::Scalar {
                    text,
                    collect: true,
                    ..
                }) = p.stack.last_mut()
                {
                    text.push_str(&resolved);
                }
            }
            Event::DocType(_) => {
                return Err(p.err(
                    "DTD found: CliXML never contains one, and relay-audit refuses DTDs (entity expansion, external entities)",
                ));
            }
            Event::Comment(t) => {
                p.line += newlines(t.as_bytes());
            }
            Event::Eof => break,
            _ => {}
        }
        if let Some(rec) = p.ready.take() {
            sink(rec);
        }
    }
    if !p.saw_root {
        return Err(InputError::new(
            file,
            None,
            "not a CliXML export: no <Objs> root element",
        ));
    }
    if !p.stack.is_empty() {
        let open = p.stack.iter().rev().find_map(|n| match n {
            Node::Obj(o) => Some(o.line),
            _ => None,
        });
        let msg = match open {
            Some(l) => format!(
                "file ends inside the object that starts at line {l}: the export is cut off"
            ),
            None => "file ends before </Objs>: the export is cut off".to_string(),
        };
        return Err(p.err(msg));
    }
    if p.missing_refs > 0 {
        let msg = if p.evicted > 0 {
            format!(
                "{} <Ref> back-references point to objects not seen earlier in the file or too far back to keep ({} of the oldest objects were let go to bound memory); those values are empty",
                p.missing_refs, p.evicted
            )
        } else {
            format!(
                "{} <Ref> back-references point to objects not seen earlier in the file; those values are empty",
                p.missing_refs
            )
        };
        p.outcome
            .diagnostics
            .push(Diagnostic::warning(file, None, msg));
    }
    Ok(p.outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<(Vec<Record>, Outcome), InputError> {
        let mut recs = Vec::new();
        let out = parse(s.as_bytes(), "t.xml", &mut |r| recs.push(r))?;
        Ok((recs, out))
    }

    const RC: &str = r#"<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">
  <Obj RefId="0">
    <TN RefId="0">
      <T>Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector</T>
      <T>System.Object</T>
    </TN>
    <ToString>EX01\Relay &amp; Anon</ToString>
    <Props>
      <Obj N="PermissionGroups" RefId="1">
        <TN RefId="1"><T>Microsoft.Exchange.Data.PermissionGroups</T><T>System.Enum</T></TN>
        <ToString>AnonymousUsers, Custom</ToString>
        <I32>33</I32>
      </Obj>
      <Obj N="AuthMechanism" RefId="2">
        <TNRef RefId="1" />
        <I32>32</I32>
      </Obj>
      <Obj N="RemoteIPRanges" RefId="3">
        <TN RefId="2"><T>Microsoft.Exchange.Data.MultiValuedProperty`1[[Microsoft.Exchange.Data.IPRange]]</T></TN>
        <LST>
          <Obj RefId="4"><TN RefId="3"><T>Microsoft.Exchange.Data.IPRange</T></TN><ToString>10.1.1.25</ToString>
            <Props><S N="LowerBound">10.1.1.25</S></Props></Obj>
          <Obj RefId="5"><TNRef RefId="3" /><ToString>10.1.1.26</ToString></Obj>
        </LST>
      </Obj>
      <S N="Comment">line1_x000D__x000A_line2 _x005F_x</S>
      <S N="Banner"></S>
      <Nil N="DefaultDomain" />
      <B N="Enabled">true</B>
      <Obj N="Identity" RefId="6"><TN RefId="4"><T>Microsoft.Exchange.Data.Directory.ADObjectId</T></TN><ToString>EX01\Relay &amp; Anon</ToString></Obj>
      <Ref N="Id" RefId="6" />
    </Props>
    <MS>
      <S N="PSComputerName">ex01.contoso.com</S>
      <BA N="SerializationData">AAEAAAD/////AQAAAAAAAAAMAgAAAFtNaWNyb3NvZnQ=</BA>
    </MS>
  </Obj>
  <Obj RefId="7">
    <TN RefId="5"><T>System.String</T></TN>
    <ToString>hello</ToString>
  </Obj>
</Objs>
"#;

    #[test]
    fn reads_properties_enums_lists_refs_and_escapes() {
        let (recs, out) = parse_str(RC).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(out.objects, 2);
        assert_eq!(out.skipped, vec![("System.String".to_string(), 38, 1)]);
        let r = &recs[0];
        assert_eq!(r.kind, ObjectKind::ReceiveConnector);
        assert_eq!(r.line, 2);
        assert_eq!(
            r.value("PermissionGroups"),
            Some(&Value::Text("AnonymousUsers, Custom".into()))
        );
        assert_eq!(r.value("AuthMechanism"), Some(&Value::Text("32".into())));
        assert_eq!(
            r.value("RemoteIPRanges"),
            Some(&Value::List {
                items: vec!["10.1.1.25".into(), "10.1.1.26".into()],
                truncated: false
            })
        );
        assert_eq!(r.get("RemoteIPRanges").unwrap().line, 18);
        assert_eq!(
            r.value("Comment"),
            Some(&Value::Text("line1\r\nline2 _x".into()))
        );
        assert_eq!(r.value("Banner"), Some(&Value::Text(String::new())));
        assert_eq!(r.value("DefaultDomain"), Some(&Value::Null));
        assert_eq!(
            r.value("Id"),
            Some(&Value::Text("EX01\\Relay & Anon".into()))
        );
        assert_eq!(
            r.value("PSComputerName"),
            Some(&Value::Text("ex01.contoso.com".into()))
        );
        assert_eq!(r.value("SerializationData"), Some(&Value::Null));
    }

    #[test]
    fn often_used_refs_survive_the_bounded_table() {
        // OrganizationId is defined once and referred to by every later object, as in real
        // exports; far more objects than the table holds come in between.
        let mut x = String::from("<Objs>\n");
        let n = MAX_REFS + 5_000;
        for i in 0..n {
            x.push_str("<Obj RefId=\"0\"><TN RefId=\"0\"><T>X.AcceptedDomain</T></TN><Props>");
            if i == 0 {
                x.push_str(
                    "<Obj N=\"OrganizationId\" RefId=\"1\"><ToString>Contoso</ToString></Obj>",
                );
            } else {
                x.push_str(&format!(
                    "<Obj N=\"Other\" RefId=\"{}\"><ToString>o</ToString></Obj>",
                    i + 1
                ));
                if i % 1000 == 0 || i == n - 1 {
                    x.push_str("<Ref N=\"OrganizationId\" RefId=\"1\" />");
                }
            }
            x.push_str("</Props></Obj>\n");
        }
        x.push_str("</Objs>\n");
        let (recs, out) = parse_str(&x).unwrap();
        assert_eq!(recs.len(), n);
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        assert_eq!(
            recs[n - 1].value("OrganizationId"),
            Some(&Value::Text("Contoso".into()))
        );
    }

    #[test]
    fn refuses_dtd_and_unknown_entities() {
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><Objs><Obj RefId=\"0\"><S N=\"a\">&lol;</S></Obj></Objs>";
        let e = parse_str(bomb).unwrap_err();
        assert!(e.message.contains("DTD"), "{e}");
        let ent = "<Objs><Obj RefId=\"0\"><TN RefId=\"0\"><T>X.ReceiveConnector</T></TN><Props><S N=\"a\">&xxe;</S></Props></Obj></Objs>";
        let e = parse_str(ent).unwrap_err();
        assert!(e.message.contains("&xxe;"), "{e}");
    }

    #[test]
    fn cut_off_file_is_an_error_naming_the_object_line() {
        let cut = &RC[..RC.find("<B N=\"Enabled\">").unwrap()];
        let e = parse_str(cut).unwrap_err();
        assert!(e.message.contains("starts at line 2"), "{e}");
        assert_eq!(e.file, "t.xml");
    }

    #[test]
    fn not_clixml_is_an_error() {
        assert!(parse_str("<html><body/></html>").is_err());
        assert!(parse_str("Name : Value\r\n").is_err());
        assert!(parse_str("").is_err());
    }

    #[test]
    fn escapes_decode_including_surrogates() {
        assert_eq!(decode_escapes(String::from("a_x0041_b")), "aAb");
        assert_eq!(decode_escapes(String::from("_xD83D__xDE00_")), "\u{1F600}");
        assert_eq!(decode_escapes(String::from("_x12_")), "_x12_");
        assert_eq!(decode_escapes(String::from("_xD83D_")), "\u{FFFD}");
    }

    #[test]
    fn type_names_map_to_kinds() {
        assert_eq!(
            kind_from_type_name(
                "Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain"
            ),
            Some(ObjectKind::AcceptedDomain)
        );
        assert_eq!(
            kind_from_type_name("Microsoft.Exchange.Data.Directory.Management.ExchangeServer"),
            Some(ObjectKind::ExchangeServer)
        );
        assert_eq!(kind_from_type_name("System.String"), None);
    }
}
