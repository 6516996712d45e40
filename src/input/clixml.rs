//! CliXML (`Export-Clixml`) parser: a streaming loop over the document's tokens
//! ([`xml_tokens`](crate::input::xml_tokens)) that yields one [`Record`] per top-level `<Obj>`.
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
use crate::input::id_map::IdMap;
use crate::input::record::{ObjectKind, Record, Value};
use crate::input::ref_table::{RefEntry, RefTable};
use crate::input::xml_tokens::{attr_value, entity, newlines, EntityError, Tag, Token, Tokens};
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
    /// XML comments and CDATA sections that hold an object or relay evidence: (line, text).
    /// What they hide is not read; it is relay evidence relay-audit could not read.
    pub hidden: Vec<(u32, String)>,
    /// The first resource budget the file hit (a value over the cap): (line, what).
    pub budget_hit: Option<(u32, String)>,
}

/// The first 200 characters of a text, on one line.
fn clip_one_line(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::input::lines::clip(&one, 200)
}

/// Whether a comment or CDATA section hides something an export would carry.
fn hides_evidence(text: &str) -> bool {
    text.contains("<Obj")
        || text.contains("<Props")
        || crate::input::vocabulary::relay_term(text).is_some()
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
        "TransportServer"
        | "TransportService"
        | "FrontendTransportServer"
        | "FrontendTransportService"
        | "FrontendTransportServerPresentationObject" => ObjectKind::TransportService,
        _ => return None,
    })
}

const MAX_DEPTH: usize = 256;
const MAX_VALUE_BYTES: usize = 1 << 20;
const MAX_REFS: usize = 1 << 13;
/// The largest object a `<Ref>` may reuse (bytes of its text and items): Exchange reuses
/// ADObjectIds and small lists, never megabytes.
const MAX_REF_VALUE_BYTES: usize = 64 << 10;
/// Bytes the table of reusable objects may hold before the least recently used are let go.
const MAX_REF_TABLE_BYTES: usize = 4 << 20;
/// Budget of bytes that `<Ref>` expansion may produce in one file: this much, plus
/// [`REF_BUDGET_PER_BYTE`] per byte of the file read so far (a real export reuses far less).
const REF_BUDGET_BASE: u64 = 32 << 20;
const REF_BUDGET_PER_BYTE: u64 = 4;
/// RefIds below this are remembered in a bit set (real exports number objects from 0).
const REFID_BITS: u32 = 1 << 26;
/// Problems listed one by one in a diagnostic; the rest are counted.
const MAX_LISTED: usize = 20;

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
    /// An item or the display text could not be read whole: the value is incomplete.
    incomplete: bool,
}

impl ObjState {
    fn value(&mut self) -> Value {
        if let Some(items) = self.items.take() {
            Value::List {
                items,
                truncated: self.incomplete,
            }
        } else if let Some(s) = self.to_string.take() {
            if self.incomplete {
                Value::Cut(s)
            } else {
                Value::Text(s)
            }
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
        /// The text ran past MAX_VALUE_BYTES: only its beginning is kept.
        over: bool,
    },
    /// An element whose content does not matter (`<DCT>`, `<BA>`, unknown tags).
    Skip,
    /// A property of the record that no reader wants, and everything inside it: not built,
    /// only its objects' RefIds are noted (a RefId defined twice stays an error).
    Unread,
}

struct Parser<'a> {
    file: &'a str,
    line: u32,
    stack: Vec<Node>,
    record: Option<Record>,
    record_type: Option<String>,
    /// The kind the record's type name gives, once read.
    record_kind: Option<ObjectKind>,
    /// Which properties of a record of each kind are built (`None`: all).
    wanted: Option<Wanted>,
    ready: Option<Record>,
    /// TN RefId -> (first type name, line that defined it).
    tn_cache: IdMap<(String, u32)>,
    /// TN RefIds defined twice: a `<TNRef>` to them names no type.
    tn_twice: IdMap<(u32, u32)>,
    /// RefId -> reusable value, bounded by MAX_REFS entries and MAX_REF_TABLE_BYTES.
    refs: RefTable,
    /// Every Obj RefId defined so far (bit set, plus a map for numbers past REFID_BITS).
    defined: Vec<u64>,
    defined_far: IdMap<u32>,
    /// RefIds defined twice, with both lines: a `<Ref>` to them is unreadable.
    twice: IdMap<(Option<u32>, u32)>,
    /// Lines of `<Ref>`s to objects not (or no longer) known, the first few, and how many.
    missing_refs: Vec<u32>,
    missing_count: usize,
    /// Bytes produced by `<Ref>` expansion so far; the line where the budget ran out.
    expanded: u64,
    budget_hit: Option<u32>,
    /// Bytes of the document read so far (for the expansion budget).
    consumed: u64,
    /// Tag names of the open elements, for end-tag checks (made here, not by the tokens, so
    /// that a malformed object can be closed and the next one read).
    names: Vec<u8>,
    name_starts: Vec<usize>,
    /// Why the current top-level object cannot be read, with the line where it went wrong.
    bad_object: Option<(u32, String)>,
    /// Problems that make the file malformed (exit 2): (line, message).
    problems: Vec<(u32, String)>,
    problem_count: usize,
    /// Objects after the first malformed one that were read all the same.
    recovered: usize,
    outcome: Outcome,
    saw_root: bool,
}

/// Approximate bytes a value occupies (for the reference budget).
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::Text(s) | Value::Cut(s) | Value::Missing(s) | Value::Unreadable(s) => s.len(),
        Value::List { items, .. } => items.iter().map(|i| i.len() + 24).sum(),
    }
}

fn attr(e: &Tag<'_>, name: &str) -> Option<String> {
    e.attr(name)
        .map(|v| decode_escapes(attr_value(v).into_owned()))
}

/// Does the `N` attribute satisfy `test`? (Decoded only when it holds an escape: most names
/// are plain, and most are tested to be skipped.)
fn property_name_is(e: &Tag<'_>, test: impl Fn(&str) -> bool) -> bool {
    let Some(n) = e.attr("N") else {
        return false;
    };
    match std::str::from_utf8(n) {
        Ok(n) if !n.contains(['&', '_', '\t', '\n', '\r']) => test(n),
        _ => attr(e, "N").is_some_and(|n| test(&n)),
    }
}

/// `RefId="n"` without allocating.
fn ref_id(e: &Tag<'_>) -> Option<u32> {
    let v = std::str::from_utf8(e.attr("RefId")?).ok()?;
    v.trim().parse().ok()
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

    /// A problem that makes the file malformed (exit 2); the first few are listed.
    fn problem(&mut self, line: u32, message: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push((line, message));
        }
    }

    /// Something in the current top-level object cannot be read: the object is reported
    /// and left out, and reading goes on with the next one. Outside an object the file
    /// itself is malformed there.
    fn malformed(&mut self, message: String) {
        if self.stack.len() >= 2 {
            if self.bad_object.is_none() {
                self.bad_object = Some((self.line, message));
            }
        } else {
            let line = self.line;
            self.problem(line, message);
        }
    }

    /// Was `id` defined before? Marks it defined; returns the earlier line when known.
    fn define(&mut self, id: u32) -> Option<Option<u32>> {
        if id < REFID_BITS {
            let (w, b) = ((id / 64) as usize, id % 64);
            if self.defined.len() <= w {
                self.defined.resize(w + 1, 0);
            }
            let seen = self.defined[w] & (1 << b) != 0;
            self.defined[w] |= 1 << b;
            seen.then(|| self.refs.line(id))
        } else {
            self.defined_far.insert(id, self.line).map(Some)
        }
    }

    /// Defines `id` at `line`; `false` (and the problem named) when it was defined before.
    fn define_once(&mut self, id: u32, line: u32) -> bool {
        let Some(first) = self.define(id) else {
            return true;
        };
        // Never re-point a <Ref>: which of the two objects a later reference means is
        // unknown (it may move a permission entry to another connector).
        let first_line = first.or_else(|| self.twice.get(&id).and_then(|t| t.0));
        self.problem(
            line,
            format!(
                "RefId {id} is defined twice ({}line {line}): <Ref RefId=\"{id}\"> after it may mean either object, so those values are unreadable",
                first_line
                    .map(|l| format!("line {l} and "))
                    .unwrap_or_else(|| "earlier in the file and ".into())
            ),
        );
        self.twice.entry(id).or_insert((first_line, line));
        self.refs.remove(id);
        false
    }

    fn remember_ref(&mut self, id: u32, value: &Value, line: u32) {
        if !self.define_once(id, line) {
            return;
        }
        let size = value_bytes(value);
        let (value, kept) = if size <= MAX_REF_VALUE_BYTES {
            (value.clone(), size)
        } else {
            let v = Value::Unreadable(format!(
                "the object at line {line} is too large ({size} bytes) to be reused by <Ref> within the expansion budget"
            ));
            let n = value_bytes(&v);
            (v, n)
        };
        self.refs.insert(
            id,
            RefEntry {
                value,
                bytes: kept,
                line,
            },
        );
    }

    fn lookup_ref(&mut self, id: Option<u32>, line: u32) -> Value {
        if let Some((a, b)) = id.and_then(|i| self.twice.get(&i)) {
            return Value::Unreadable(format!(
                "<Ref> to RefId {} which is defined twice ({}line {b})",
                id.unwrap_or_default(),
                a.map(|l| format!("line {l} and ")).unwrap_or_default()
            ));
        }
        if self.budget_hit.is_some() {
            return Value::Unreadable(
                "<Ref> not expanded: the file's expansion budget is spent".into(),
            );
        }
        let budget = REF_BUDGET_BASE + REF_BUDGET_PER_BYTE * self.consumed;
        let found = match id.and_then(|i| self.refs.get(i)) {
            Some(e) => {
                let cost = e.bytes as u64 + 16;
                if self.expanded + cost > budget {
                    None
                } else {
                    self.expanded += cost;
                    Some(Ok(e.value.clone()))
                }
            }
            None => Some(Err(())),
        };
        match found {
            Some(Ok(v)) => {
                if let Value::Unreadable(why) = &v {
                    // A reference to an object too large to reuse: a reference bomb, or
                    // an export relay-audit cannot expand within its budget.
                    let msg = format!("reference expansion budget exceeded: {why}; this <Ref> is not expanded and its value is unreadable");
                    self.problem(line, msg);
                }
                v
            }
            None => {
                self.budget_problem(
                    line,
                    format!(
                        "expanding <Ref> back-references would produce more than {} MiB",
                        budget >> 20
                    ),
                );
                Value::Unreadable("<Ref> not expanded: the file's expansion budget is spent".into())
            }
            Some(Err(())) => {
                self.missing_count += 1;
                if self.missing_refs.len() < MAX_LISTED {
                    self.missing_refs.push(line);
                }
                Value::Unreadable(match id {
                    Some(i) => format!("<Ref RefId=\"{i}\"> to an object not seen earlier in the file (or too far back to keep, or in a property relay-audit does not read)"),
                    None => "<Ref> without a RefId".into(),
                })
            }
        }
    }

    fn budget_problem(&mut self, line: u32, why: String) {
        if self.budget_hit.is_none() {
            self.budget_hit = Some(line);
            self.problem(
                line,
                format!("reference expansion budget exceeded ({why}): is this a reference bomb? <Ref>s from here on are not expanded and their values are unreadable"),
            );
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
                // An item that could not be read whole makes the list incomplete: the
                // items shown are not all there is.
                if value.is_incomplete() {
                    owner.incomplete = true;
                }
                let item = match value {
                    Value::Null | Value::Unreadable(_) | Value::Missing(_) => return,
                    Value::Text(s) | Value::Cut(s) => s,
                    Value::List { items, .. } => items.join(", "),
                };
                owner.items.get_or_insert_with(Vec::new).push(item);
            }
        } else if let Node::Obj(owner) = &mut self.stack[n - 1] {
            // A value inside an object that is not a list (a <Ref> in place of its display
            // text): an unreadable part makes the object's value incomplete.
            if value.is_incomplete() {
                owner.incomplete = true;
            }
        }
    }

    fn start(&mut self, e: &Tag<'_>, empty: bool) -> Result<(), InputError> {
        // (a name that is not UTF-8 is no CliXML element: skipped as an unknown one)
        let tag = std::str::from_utf8(e.name()).unwrap_or("\u{FFFD}");
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.err(format!("objects nested deeper than {MAX_DEPTH} levels")));
        }
        // (a type-name list is read wherever it is: a later <TNRef> may name it)
        if matches!(self.stack.last(), Some(Node::Unread)) && tag != "TN" {
            self.unread(e, tag, empty);
            return Ok(());
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
        let name = |e: &Tag<'_>| {
            if record_member {
                attr(e, "N")
            } else {
                None
            }
        };
        if let (true, Some(wanted), Some(kind)) = (record_member, self.wanted, self.record_kind) {
            if property_name_is(e, |n| !wanted(kind, n)) {
                self.unread(e, tag, empty);
                return Ok(());
            }
        }
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
                    self.record_kind = None;
                }
                if empty {
                    let mut st = st;
                    let v = st.value();
                    if let Some(id) = st.ref_id {
                        self.remember_ref(id, &v, line);
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
                let twice = id.and_then(|i| self.tn_twice.get(&i)).copied();
                let known = twice.is_none() && id.is_some_and(|i| self.tn_cache.contains_key(&i));
                let t = if top && known {
                    id.and_then(|i| self.tn_cache.get(&i).map(|t| t.0.clone()))
                } else {
                    None
                };
                if let Some((a, b)) = twice {
                    self.malformed(format!(
                        "<TNRef RefId=\"{}\"> to a type-name list defined twice (lines {a} and {b}): the object's type is unknown",
                        id.unwrap_or_default()
                    ));
                } else if !known {
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
                let v = self.lookup_ref(ref_id(e), line);
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
                    self.scalar_done(tag, name, String::new(), line, false);
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
                        over: false,
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

    /// An element of a property no reader wants: skipped, but an object's RefId is still
    /// defined, so that one defined twice is still found.
    fn unread(&mut self, e: &Tag<'_>, tag: &str, empty: bool) {
        if tag == "Obj" {
            if let Some(id) = ref_id(e) {
                self.define_once(id, self.line);
            }
        }
        if !empty {
            self.stack.push(Node::Unread);
        }
    }

    fn set_type(&mut self, id: Option<u32>, type_name: Option<String>) {
        if let (Some(id), Some(t)) = (id, type_name.as_ref()) {
            let line = self.line;
            if let Some((_, first)) = self.tn_cache.get(&id) {
                let first = *first;
                self.tn_twice.insert(id, (first, line));
                self.problem(
                    line,
                    format!("type-name list RefId {id} is defined twice (lines {first} and {line}): a <TNRef> to it names no type"),
                );
            } else {
                self.tn_cache.insert(id, (t.clone(), line));
            }
        }
        // The type names that matter are those of the object right below.
        let n = self.stack.len();
        let is_top = n >= 2 && matches!(self.stack[n - 2], Node::Root)
            || (n >= 1 && matches!(self.stack[n - 1], Node::Obj(_)) && n == 2);
        if is_top && self.record_type.is_none() {
            self.record_kind = type_name.as_deref().and_then(kind_from_type_name);
            self.record_type = type_name;
        }
    }

    fn scalar_done(
        &mut self,
        tag: ScalarTag,
        name: Option<String>,
        text: String,
        line: u32,
        over: bool,
    ) {
        let text = decode_escapes(text);
        if over {
            let msg = format!(
                "value{} is longer than {} MiB: only its beginning is read, the value is incomplete",
                name.as_deref().map(|n| format!(" of {n}")).unwrap_or_default(),
                MAX_VALUE_BYTES >> 20
            );
            self.outcome
                .budget_hit
                .get_or_insert_with(|| (line, msg.clone()));
            self.outcome
                .diagnostics
                .push(Diagnostic::warning(self.file, Some(line), msg));
        }
        match self.stack.last_mut() {
            Some(Node::TypeNames(_, names)) => {
                if tag == ScalarTag::T {
                    names.push(text);
                }
            }
            Some(Node::Obj(o)) if name.is_none() => {
                o.incomplete |= over;
                if tag == ScalarTag::ToString {
                    o.to_string = Some(text);
                } else if o.number.is_none() {
                    // An enum's value: <Obj><TN>..System.Enum..</TN><ToString/><I32>13</I32></Obj>
                    o.number = Some(text);
                }
            }
            _ => {
                let v = if over {
                    Value::Cut(text)
                } else {
                    Value::Text(text)
                };
                self.deliver(name, v, line)
            }
        }
    }

    /// Character data: entities resolved (one CliXML cannot have is a malformed object),
    /// then appended to the scalar being read.
    fn text(&mut self, mut rest: &[u8]) {
        // Most text is the indentation between elements: kept nowhere, only its entities
        // are checked.
        let kept = matches!(
            self.stack.last(),
            Some(Node::Scalar {
                collect: true,
                over: false,
                ..
            })
        );
        if !kept && !rest.contains(&b'&') {
            return;
        }
        while let Some(a) = memchr::memchr(b'&', rest) {
            if kept {
                self.push_text(&String::from_utf8_lossy(&rest[..a]));
            }
            let name = rest[a + 1..]
                .iter()
                .take(33)
                .position(|&b| b == b';')
                .map(|n| &rest[a + 1..a + 1 + n])
                .filter(|n| {
                    !n.is_empty() && !n.iter().any(|b| b.is_ascii_whitespace() || *b == b'&')
                });
            let Some(name) = name else {
                self.malformed(
                    "a `&` that starts no entity reference (write it as `&amp;`)".into(),
                );
                rest = &rest[a + 1..];
                continue;
            };
            let name_text = String::from_utf8_lossy(name);
            match entity(&name_text) {
                Ok(c) if kept => self.push_text(&c),
                Ok(_) => {}
                Err(EntityError::NotAllowed) => self.malformed(format!(
                    "entity &{name_text}; is not allowed in CliXML (only the five XML entities are)"
                )),
                Err(EntityError::BadCharRef(why)) => {
                    self.malformed(format!("bad character reference: {why}"))
                }
            }
            rest = &rest[a + 1 + name.len() + 1..];
        }
        if kept && !rest.is_empty() {
            self.push_text(&String::from_utf8_lossy(rest));
        }
    }

    /// Appends text to the scalar being read, up to MAX_VALUE_BYTES.
    fn push_text(&mut self, s: &str) {
        if let Some(Node::Scalar {
            text,
            collect: true,
            over,
            ..
        }) = self.stack.last_mut()
        {
            if *over {
                return;
            }
            if text.len() + s.len() <= MAX_VALUE_BYTES {
                text.push_str(s);
            } else {
                let mut k = MAX_VALUE_BYTES - text.len();
                while !s.is_char_boundary(k) {
                    k -= 1;
                }
                text.push_str(&s[..k]);
                *over = true;
            }
        }
    }

    /// An end tag: closes the open element of that name. One that closes elements left
    /// open marks the object malformed (they are closed with it); one that matches no open
    /// element is ignored and marks it malformed too.
    fn close(&mut self, name: &[u8]) -> Result<(), InputError> {
        let found = (0..self.name_starts.len()).rev().find(|&i| {
            let a = self.name_starts[i];
            let b = self
                .name_starts
                .get(i + 1)
                .copied()
                .unwrap_or(self.names.len());
            &self.names[a..b] == name
        });
        let Some(i) = found else {
            self.malformed(format!(
                "end tag </{}> matches no open element",
                String::from_utf8_lossy(name)
            ));
            return Ok(());
        };
        let top = self.name_starts.len() - 1;
        if i != top {
            let a = self.name_starts[top];
            self.malformed(format!(
                "end tag </{}> where </{}> was expected",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(&self.names[a..])
            ));
        }
        while self.name_starts.len() > i {
            let a = self.name_starts.pop().unwrap_or(0);
            self.names.truncate(a);
            self.end()?;
        }
        Ok(())
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
                over,
            } => self.scalar_done(tag, name, text, line, over),
            Node::TypeNames(id, names) => {
                let first = names.into_iter().next();
                self.set_type(id, first);
            }
            Node::Obj(mut st) => {
                let v = st.value();
                if let Some(id) = st.ref_id {
                    self.remember_ref(id, &v, st.line);
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
        if let Some((at, why)) = self.bad_object.take() {
            let t = ty.as_deref().unwrap_or("(type not read)");
            let t = t.strip_prefix("Deserialized.").unwrap_or(t);
            self.problem(
                at,
                format!(
                    "the object of type {t} that starts at line {} is malformed at line {at} ({why}): it is left out",
                    rec.line
                ),
            );
            return;
        }
        if !self.problems.is_empty() {
            self.recovered += 1;
        }
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
///
/// A malformed object (a mismatched end tag, an entity that is not allowed, a stray `&`) is
/// left out and named, and reading goes on with the objects after it; a RefId or type-name
/// list defined twice, or `<Ref>` expansion past the file's budget, is named too. Any of
/// these makes the whole file an error (exit 2) once it is read to the end: its records
/// have been sent, so the report still shows what could be read.
pub fn parse<R: BufRead>(
    reader: R,
    file: &str,
    sink: &mut dyn FnMut(Record),
) -> Result<Outcome, InputError> {
    let (out, malformed) = parse_keeping_notes(reader, file, sink)?;
    match malformed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// As [`parse`], but a malformed file's outcome (its notes, skipped types, hidden objects) is
/// kept beside the error that says what was malformed, so that nothing read is lost.
pub fn parse_keeping_notes<R: BufRead>(
    reader: R,
    file: &str,
    sink: &mut dyn FnMut(Record),
) -> Result<(Outcome, Option<InputError>), InputError> {
    parse_selecting(reader, file, None, sink)
}

/// Which properties of a record of a kind are wanted (by name, as exported).
pub type Wanted = fn(ObjectKind, &str) -> bool;

/// As [`parse_keeping_notes`], building only the properties `wanted` says a reader needs:
/// a connector's hundred properties or a permission entry's twenty are mostly never read,
/// and are skipped without being built.
pub fn parse_selecting<R: BufRead>(
    reader: R,
    file: &str,
    wanted: Option<Wanted>,
    sink: &mut dyn FnMut(Record),
) -> Result<(Outcome, Option<InputError>), InputError> {
    let mut p = Parser {
        file,
        line: 1,
        stack: Vec::new(),
        record: None,
        record_type: None,
        record_kind: None,
        wanted,
        ready: None,
        tn_cache: IdMap::default(),
        tn_twice: IdMap::default(),
        refs: RefTable::new(MAX_REFS, MAX_REF_TABLE_BYTES),
        defined: Vec::new(),
        defined_far: IdMap::default(),
        twice: IdMap::default(),
        missing_refs: Vec::new(),
        missing_count: 0,
        expanded: 0,
        budget_hit: None,
        consumed: 0,
        names: Vec::new(),
        name_starts: Vec::new(),
        bad_object: None,
        problems: Vec::new(),
        problem_count: 0,
        recovered: 0,
        outcome: Outcome::default(),
        saw_root: false,
    };
    let mut tokens = Tokens::new(reader);
    loop {
        let token = match tokens.next_token() {
            Ok((at, Ok(t))) => {
                p.consumed = at;
                t
            }
            Ok((_, Err(e))) => {
                p.line += e.newlines;
                p.malformed(format!("malformed XML: {}", e.message));
                continue;
            }
            Err(e) => {
                p.problem(p.line, format!("reading stopped: {e}"));
                break;
            }
        };
        match token {
            Token::Start { tag, empty } => {
                p.start(&tag, empty)?;
                let depth = p.stack.len();
                if !empty && depth > p.name_starts.len() {
                    p.name_starts.push(p.names.len());
                    p.names.extend_from_slice(tag.name());
                }
                p.line += newlines(tag.raw);
            }
            Token::End(name) => {
                p.close(name)?;
                p.line += newlines(name);
            }
            Token::Text(t) => {
                p.line += newlines(t);
                p.text(t);
            }
            Token::CData(t) => {
                let text = String::from_utf8_lossy(t);
                if text.contains("<Obj") || text.contains("<Props") {
                    // Markup inside CDATA is text, never an object: what it shows is unread.
                    p.outcome.hidden.push((p.line, clip_one_line(&text)));
                }
                p.line += newlines(t);
                p.push_text(&text);
            }
            Token::DocType(_) => {
                return Err(p.err(
                    "DTD found: CliXML never contains one, and relay-audit refuses DTDs (entity expansion, external entities)",
                ));
            }
            Token::Comment(t) => {
                let text = String::from_utf8_lossy(t);
                if hides_evidence(&text) {
                    p.outcome.hidden.push((p.line, clip_one_line(&text)));
                }
                p.line += newlines(t);
            }
            Token::Pi(t) => {
                p.line += newlines(t);
            }
            Token::Eof => break,
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
        let line = p.line;
        p.problem(line, msg);
    }
    if p.missing_count > 0 {
        let lines = p
            .missing_refs
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let more = if p.missing_count > p.missing_refs.len() {
            format!(" and {} more", p.missing_count - p.missing_refs.len())
        } else {
            String::new()
        };
        let far = if p.refs.evicted > 0 {
            format!(
                " or too far back to keep ({} of the oldest objects were let go to bound memory)",
                p.refs.evicted
            )
        } else {
            String::new()
        };
        let first = p.missing_refs.first().copied();
        p.outcome.diagnostics.push(Diagnostic::warning(
            file,
            first,
            format!(
                "{} <Ref> back-references (lines {lines}{more}) point to objects not seen earlier in the file{far}; those values are unreadable and judged as unknown evidence",
                p.missing_count
            ),
        ));
    }
    if !p.problems.is_empty() {
        let (line, _) = p.problems[0];
        // The same problem on several lines is said once, with its lines.
        let mut grouped: Vec<(&str, Vec<u32>)> = Vec::new();
        for (l, m) in &p.problems {
            match grouped.iter_mut().find(|(g, _)| g == m) {
                Some((_, lines)) => lines.push(*l),
                None => grouped.push((m.as_str(), vec![*l])),
            }
        }
        let mut msg = String::new();
        for (i, (m, lines)) in grouped.iter().enumerate() {
            if i > 0 {
                msg.push_str(&format!("; line {}: ", lines[0]));
            }
            msg.push_str(m);
            if lines.len() > 1 {
                let rest: Vec<String> = lines[1..].iter().map(u32::to_string).collect();
                msg.push_str(&format!(" (also on line {})", rest.join(", ")));
            }
        }
        if p.problem_count > p.problems.len() {
            msg.push_str(&format!(
                "; and {} more problems",
                p.problem_count - p.problems.len()
            ));
        }
        if p.recovered > 0 {
            msg.push_str(&format!(
                " ({} objects after the first problem were read all the same)",
                p.recovered
            ));
        }
        let e = InputError::new(file, Some(line), format!("malformed XML export: {msg}"));
        return Ok((p.outcome, Some(e)));
    }
    Ok((p.outcome, None))
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
            // Every object has its own RefId (as Export-Clixml writes them); the type names
            // are defined once and referred to after.
            if i == 0 {
                x.push_str("<Obj RefId=\"0\"><TN RefId=\"0\"><T>X.AcceptedDomain</T></TN><Props>");
            } else {
                x.push_str(&format!(
                    "<Obj RefId=\"{}\"><TNRef RefId=\"0\" /><Props>",
                    n + 10 + i
                ));
            }
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
    fn a_stray_ampersand_or_a_reference_to_no_character_is_named_even_in_indentation() {
        let object = |text: &str| {
            format!("<Objs><Obj RefId=\"0\"><TN RefId=\"0\"><T>X.ReceiveConnector</T></TN><Props>{text}<S N=\"a\">x</S></Props></Obj></Objs>")
        };
        for (text, said) in [
            (
                "<S N=\"b\">Relay & Anon</S>",
                "a `&` that starts no entity reference",
            ),
            (
                "<S N=\"b\">&#0;</S>",
                "bad character reference: &#0; is not a character",
            ),
            ("<S N=\"b\">&#xD800;</S>", "bad character reference"),
            // (text kept nowhere is still read for its entities)
            ("\r\n  & \r\n", "a `&` that starts no entity reference"),
            ("&bogus;", "entity &bogus; is not allowed"),
        ] {
            let e = parse_str(&object(text)).unwrap_err();
            assert!(e.message.contains(said), "{text}: {e}");
        }
        let (recs, _) = parse_str(&object("<S N=\"b\">&#65;&#x42;&lt;&amp;</S>")).unwrap();
        assert_eq!(recs[0].value("b").and_then(Value::as_text), Some("AB<&"));
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

#[cfg(test)]
mod damaged_input {
    use super::*;

    fn parse_str(s: &str) -> (Vec<Record>, Result<Outcome, InputError>) {
        let mut recs = Vec::new();
        let out = parse(s.as_bytes(), "t.xml", &mut |r| recs.push(r));
        (recs, out)
    }

    /// A receive connector object with `props` as its members.
    fn rc(id: u32, name: &str, props: &str) -> String {
        format!(
            "<Obj RefId=\"{id}\">\n<TN RefId=\"{id}\"><T>Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector</T></TN>\n<Props>\n<S N=\"Identity\">EX01\\{name}</S>\n{props}\n</Props>\n</Obj>\n"
        )
    }

    fn doc(objs: &[String]) -> String {
        format!("<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\n{}</Objs>\n", objs.concat())
    }

    #[test]
    fn entity_in_a_value_keeps_both_sides() {
        let (recs, out) = parse_str(&doc(&[rc(
            0,
            "A",
            "<S N=\"Comment\">abc&amp;def &lt;x&gt; &#65;</S>",
        )]));
        out.unwrap();
        assert_eq!(
            recs[0].value("Comment"),
            Some(&Value::Text("abc&def <x> A".into()))
        );
    }

    #[test]
    fn value_over_the_cap_is_cut_with_a_diagnostic() {
        let big = "a".repeat(MAX_VALUE_BYTES + 10);
        let (recs, out) = parse_str(&doc(&[rc(
            0,
            "A",
            &format!("<S N=\"Comment\">{big}&amp;b</S>"),
        )]));
        let out = out.unwrap();
        match recs[0].value("Comment") {
            Some(Value::Cut(s)) => assert_eq!(s.len(), MAX_VALUE_BYTES),
            other => panic!("{other:?}"),
        }
        assert!(recs[0].value("Comment").unwrap().is_incomplete());
        let d = &out.diagnostics[0];
        assert_eq!((d.file.as_str(), d.line), ("t.xml", Some(6)));
        assert!(d.message.contains("longer than 1 MiB"), "{d}");
    }

    #[test]
    fn dangling_ref_and_nil_are_unknown_not_empty() {
        let (recs, out) = parse_str(&doc(&[rc(
            0,
            "A",
            "<Ref N=\"RemoteIPRanges\" RefId=\"99\" />\n<Obj N=\"Bindings\" RefId=\"5\"><LST><S>0.0.0.0:25</S><Ref RefId=\"77\" /></LST></Obj>",
        )]));
        let out = out.unwrap();
        assert!(matches!(
            recs[0].value("RemoteIPRanges"),
            Some(Value::Unreadable(_))
        ));
        assert_eq!(
            recs[0].value("Bindings"),
            Some(&Value::List {
                items: vec!["0.0.0.0:25".into()],
                truncated: true
            })
        );
        let d = &out.diagnostics[0];
        assert_eq!(d.line, Some(6));
        assert!(d.message.contains("lines 6, 7"), "{d}");
    }

    #[test]
    fn a_malformed_object_is_named_and_the_next_ones_still_read() {
        let objs = [
            rc(0, "First", "<S N=\"Comment\">ok</S>"),
            rc(
                1,
                "Broken",
                "<S N=\"Comment\">oops</B>\n<S N=\"Banner\">x &nope; y</S>",
            ),
            rc(2, "Third", "<S N=\"Comment\">a & b</S>"),
            rc(3, "Fourth", "<S N=\"Comment\">ok</S>\n</Props>"),
            rc(4, "Fifth", "<S N=\"Comment\">ok</S>"),
        ];
        let (recs, out) = parse_str(&doc(&objs));
        let e = out.unwrap_err();
        let ids: Vec<_> = recs
            .iter()
            .map(|r| r.value("Identity").unwrap().display())
            .collect();
        assert_eq!(ids, ["EX01\\First", "EX01\\Fifth"]);
        assert_eq!(e.line, Some(13), "{e}");
        for l in ["starts at line 9", "starts at line 17", "starts at line 24"] {
            assert!(e.message.contains(l), "{l}: {e}");
        }
        assert!(e.message.contains("</B>"), "{e}");
        assert!(e.message.contains("read all the same"), "{e}");
    }

    #[test]
    fn refid_defined_twice_is_an_error_and_never_repointed() {
        let ace = |id: u32, r: &str| {
            format!(
                "<Obj RefId=\"{id}\">\n<TNRef RefId=\"90\" />\n<Props>\n{r}\n<S N=\"User\">NT AUTHORITY\\ANONYMOUS LOGON</S>\n</Props>\n</Obj>\n"
            )
        };
        let objs = [
            "<Obj RefId=\"0\">\n<TN RefId=\"90\"><T>Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject</T></TN>\n<Props>\n<Obj N=\"Identity\" RefId=\"1\"><ToString>EX01\\Internal</ToString></Obj>\n</Props>\n</Obj>\n".to_string(),
            ace(2, "<Obj N=\"Identity\" RefId=\"1\"><ToString>EX01\\Default Frontend EX01</ToString></Obj>"),
            ace(3, "<Ref N=\"Identity\" RefId=\"1\" />"),
        ];
        let (recs, out) = parse_str(&doc(&objs));
        let e = out.unwrap_err();
        assert!(
            e.message
                .contains("RefId 1 is defined twice (line 5 and line 11)"),
            "{e}"
        );
        assert_eq!(e.line, Some(11));
        assert_eq!(recs.len(), 3);
        assert!(matches!(
            recs[2].value("Identity"),
            Some(Value::Unreadable(_))
        ));
    }

    #[test]
    fn reference_bomb_stops_within_budget() {
        // Each level is a list of 32 references to the level below: 32^n items.
        let mut x = String::from("<Objs>\n<Obj RefId=\"0\"><TN RefId=\"0\"><T>X.ReceiveConnector</T></TN><Props>\n<Obj N=\"L0\" RefId=\"1\"><ToString>0123456789abcdef0123456789abcdef</ToString></Obj>\n");
        for level in 1..12 {
            x.push_str(&format!(
                "<Obj N=\"L{level}\" RefId=\"{}\"><LST>",
                level + 1
            ));
            for _ in 0..32 {
                x.push_str(&format!("<Ref RefId=\"{level}\" />"));
            }
            x.push_str("</LST></Obj>\n");
        }
        x.push_str("</Props></Obj>\n</Objs>\n");
        assert!(x.len() < 10_000);
        let t = std::time::Instant::now();
        let (_, out) = parse_str(&x);
        let e = out.unwrap_err();
        assert!(t.elapsed().as_secs() < 5);
        assert!(e.message.contains("budget"), "{e}");
        assert!(e.line.is_some());
    }
}
