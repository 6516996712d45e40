//! Format-List text (`Get-ReceiveConnector | fl`, `fl *`, `fl Name,RemoteIPRanges`) to records.
//!
//! Takes already-decoded UTF-8 text from a [`BufRead`] (line endings `\r\n` or `\n`, mixed)
//! and reads it line by line; memory grows with the records produced, not with the file.
//! Produces one [`Record`] per object whose kind [`kind_from_property_names`] recognises,
//! plus [`Diagnostic`]s (unknown objects, cut-off collections, console junk) and the
//! commands echoed after console prompts (`[PS] C:\>Get-ReceiveConnector | fl`), which a later
//! step may use to learn what the file holds.
//!
//! What it understands (FORMATS.md §2): `Name : Value` lines with padded or collapsed labels,
//! blank lines between objects (one or more; the blank lines a forum puts between *every* line
//! are removed before, by the paste front end [`crate::input::paste`]), empty values (`Null`), braced collections (`List`) including
//! `$FormatEnumerationLimit` truncation (`...}` / `…}`), values wrapped onto continuation
//! lines, prompts, `WARNING:` lines, PowerShell error records, ANSI colour codes and
//! Markdown-doubled backslashes.
//!
//! Property or continuation? A line is a new property when it looks like `Name : Value`
//! (an identifier `[A-Za-z][A-Za-z0-9_.-]*`, optional padding, a colon, then a space or the
//! end), starts at the object's indentation and, once the object is known to be aligned
//! (a label padded with 2+ spaces), has its colon in the object's colon column. Anything else
//! inside an object continues the value before it. Joining: in aligned output the
//! indentation up to the value column is removed; a space is put between the pieces when the
//! previous line ended in whitespace (PowerShell's word wrap leaves the breaking space there),
//! when the continuation starts with whitespace beyond the value column, after a `,` inside a
//! `{...}` collection (items are separated by `, `), and for text of a collapsed paste (no
//! alignment: trailing spaces are gone too, so PowerShell's word wrap is assumed). Otherwise
//! the pieces are concatenated as they are (a hard split inside a word).
//!
//! What it does not do: decode bytes (see `decode`), interpret values (flag enums such as
//! `PermissionGroups` stay one text; the model splits them), or read Format-Table output.

use crate::diag::{Diagnostic, InputError};
use crate::input::detect::kind_from_property_names;
use crate::input::lines::{clip, split_items, strip_ansi};
use crate::input::record::{Prop, Record, Value};
use std::borrow::Cow;
use std::io::BufRead;

/// The result of parsing one Format-List file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Objects of a known kind, in file order.
    pub records: Vec<Record>,
    /// Problems with the input that did not stop parsing.
    pub diagnostics: Vec<Diagnostic>,
    /// Commands echoed after a console prompt, with their 1-based line
    /// (`Get-ReceiveConnector "EX01\Relay" | fl`).
    pub commands: Vec<(u32, String)>,
    /// Objects read, of a known kind or not (errors records excluded).
    pub objects: usize,
    /// Objects of no known kind: how many, and the line of the first.
    pub unknown_objects: usize,
    pub first_unknown_line: Option<u32>,
}

/// Parses Format-List text into records.
///
/// Returns `Err` when the input cannot be read or when no line at all looks like
/// `Name : Value` (the file is not a Format-List export; the caller decides whether that
/// means "skip this file" or "error").
pub fn parse<R: BufRead>(reader: R, file: &str) -> Result<Parsed, InputError> {
    let mut records = Vec::new();
    let mut parsed = parse_into(reader, file, &mut |r| records.push(r))?;
    parsed.records = records;
    Ok(parsed)
}

/// Streaming form of [`parse`]: each record goes to `sink` as soon as its object ends, so
/// memory does not grow with the file. `Parsed::records` stays empty.
pub fn parse_into<R: BufRead>(
    reader: R,
    file: &str,
    sink: &mut dyn FnMut(Record),
) -> Result<Parsed, InputError> {
    let mut p = Parser::new(file, sink);
    crate::input::lines::read_lines(reader, file, &mut p)?;
    p.finish()
}

/// How many informational notes of one sort a file gets before they are summarised.
const MAX_NOTES: u32 = 20;
/// How many "unknown object" warnings a file gets before they are summarised.
const MAX_UNKNOWN: u32 = 50;

/// A line that looks like `Name : Value`.
#[derive(Debug, Clone, Copy)]
struct Candidate<'a> {
    /// Leading whitespace (bytes).
    indent: usize,
    name: &'a str,
    /// Spaces between the name and the colon.
    pad: usize,
    /// Byte offset of the colon.
    colon: usize,
    /// Everything after the colon.
    rest: &'a str,
}

/// The property whose value is still being read (it may continue on the next lines).
#[derive(Debug)]
struct Pending {
    name: String,
    /// Value text so far, trimmed at both ends.
    raw: String,
    line: u32,
    /// Byte column where the value starts (`colon + 2`), where wrapped lines are indented to.
    value_col: usize,
    /// The last physical line of the value ended in whitespace (PowerShell's word wrap leaves
    /// the space that separated two words at the end of the first line).
    trailing_ws: bool,
}

impl Pending {
    fn new(c: &Candidate<'_>, line: u32) -> Pending {
        let value = c.rest.trim();
        Pending {
            name: c.name.to_string(),
            raw: value.to_string(),
            line,
            value_col: c.colon + 2,
            trailing_ws: !value.is_empty() && c.rest.trim_end().len() != c.rest.len(),
        }
    }
}

/// The object being read.
#[derive(Debug)]
struct Obj {
    line: u32,
    indent: usize,
    /// Colon column of the first property.
    colon: usize,
    first_pad: usize,
    /// `Some(true)`: labels are padded so colons line up (a new property must have its colon
    /// at `colon`); `Some(false)`: padding collapsed; `None`: not known yet.
    aligned: Option<bool>,
    props: Vec<Prop>,
    pending: Pending,
    /// The object is a PowerShell error record (`Get-ReceiveConnector : The operation ...`).
    is_error: bool,
}

impl Obj {
    fn new(c: &Candidate<'_>, line: u32) -> Obj {
        Obj {
            is_error: is_cmdlet_name(c.name),
            line,
            indent: c.indent,
            colon: c.colon,
            first_pad: c.pad,
            aligned: if c.pad >= 2 { Some(true) } else { None },
            props: Vec::new(),
            pending: Pending::new(c, line),
        }
    }

    fn has_name(&self, name: &str) -> bool {
        self.pending.name.eq_ignore_ascii_case(name)
            || self.props.iter().any(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether a `Name : Value`-looking line inside this object is a new property (else it is
    /// a continuation of the value being read). Learns the alignment as it goes.
    fn accepts(&mut self, c: &Candidate<'_>) -> bool {
        if c.indent != self.indent {
            return false;
        }
        match self.aligned {
            Some(true) => c.colon == self.colon,
            Some(false) => true,
            None => {
                if c.colon == self.colon {
                    if c.pad >= 2 || self.first_pad >= 2 {
                        self.aligned = Some(true);
                    }
                } else {
                    // The first label was not padded (so it is the longest, or padding was
                    // collapsed) and this colon is elsewhere: collapsed padding.
                    self.aligned = Some(false);
                }
                true
            }
        }
    }

    /// Appends a continuation line to the value being read.
    fn continue_value(&mut self, line: &str) {
        let aligned = self.aligned == Some(true);
        let p = &mut self.pending;
        let w = line
            .bytes()
            .take_while(|b| *b == b' ' || *b == b'\t')
            .count();
        // In aligned output wrapped lines are indented to the value column; whitespace beyond
        // it belongs to the value (a hard split just before a space).
        let (chunk, lead_ws) = if aligned && w >= p.value_col && w > self.indent {
            let c = &line[p.value_col..];
            let t = c.trim_start();
            (t, t.len() != c.len())
        } else {
            (line.trim_start(), false)
        };
        let body = chunk.trim_end();
        if body.is_empty() {
            return;
        }
        let trailing = body.len() != chunk.len();
        if !p.raw.is_empty() {
            let list = p.raw.starts_with('{');
            let space = lead_ws
                || p.trailing_ws
                // Items are separated by `, `; a break there may have lost the space.
                || (list && p.raw.ends_with(','))
                // A pasted copy with collapsed padding lost its trailing spaces too: assume
                // PowerShell's word wrap (which breaks at spaces) for text.
                || (!list && !aligned);
            if space {
                p.raw.push(' ');
            }
        }
        p.raw.push_str(body);
        p.trailing_ws = trailing;
    }
}

struct Parser<'f, 's> {
    file: &'f str,
    line_no: u32,
    sink: &'s mut dyn FnMut(Record),
    objects: usize,
    first_unknown_line: Option<u32>,
    diagnostics: Vec<Diagnostic>,
    commands: Vec<(u32, String)>,
    /// What the last echoed command says, read once per command (see [`Parser::context`]).
    context: Option<crate::input::transcript::CommandContext>,
    blank_run: u32,
    /// The previous line was a prompt (a `>> ` line continues its command).
    after_prompt: bool,
    obj: Option<Obj>,
    property_lines: u64,
    backslashes_reported: bool,
    ignored_lines: u32,
    warning_lines: u32,
    unknown_objects: u32,
}

impl<'f, 's> crate::input::lines::LineSink for Parser<'f, 's> {
    fn line(&mut self, line_no: u32, text: &str) {
        self.line_no = line_no;
        Parser::line(self, text);
    }

    fn note(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }
}

impl<'f, 's> Parser<'f, 's> {
    fn new(file: &'f str, sink: &'s mut dyn FnMut(Record)) -> Parser<'f, 's> {
        Parser {
            file,
            line_no: 0,
            sink,
            objects: 0,
            first_unknown_line: None,
            diagnostics: Vec::new(),
            commands: Vec::new(),
            context: None,
            blank_run: 0,
            after_prompt: false,
            obj: None,
            property_lines: 0,
            backslashes_reported: false,
            ignored_lines: 0,
            warning_lines: 0,
            unknown_objects: 0,
        }
    }

    fn line(&mut self, text: &str) {
        let mut line = text.strip_suffix('\n').unwrap_or(text);
        while let Some(l) = line.strip_suffix('\r') {
            line = l;
        }
        if self.line_no == 1 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let cleaned: Cow<'_, str> = if line.contains('\x1b') {
            Cow::Owned(strip_ansi(line))
        } else {
            Cow::Borrowed(line)
        };
        let line = &*cleaned;
        let ln = self.line_no;

        if line.trim().is_empty() {
            self.blank_run = self.blank_run.saturating_add(1);
            self.after_prompt = false;
            return;
        }
        let blanks = std::mem::take(&mut self.blank_run);

        // Console junk.
        if let Some(cmd) = crate::input::transcript::prompt_command(line) {
            self.finish_object();
            if !cmd.is_empty() {
                self.commands.push((ln, cmd.to_string()));
                self.context = None;
            }
            self.after_prompt = true;
            return;
        }
        if self.after_prompt {
            if let Some(more) = line.trim_start().strip_prefix(">>") {
                if let Some((_, cmd)) = self.commands.last_mut() {
                    let more = more.trim();
                    if !more.is_empty() {
                        cmd.push(' ');
                        cmd.push_str(more);
                        self.context = None;
                    }
                }
                return;
            }
        }
        self.after_prompt = false;
        if let Some(word) = stream_message(line) {
            self.finish_object();
            if word != "VERBOSE" && word != "DEBUG" {
                self.warning_lines += 1;
                if self.warning_lines <= MAX_NOTES {
                    self.diagnostics.push(Diagnostic::info(
                        self.file,
                        Some(ln),
                        format!(
                            "PowerShell message in the export: {}",
                            clip(line.trim(), 200)
                        ),
                    ));
                }
            }
            return;
        }

        let cand = scan_property(line);

        // Object boundaries: a blank line ends an object (the paste front end has already
        // removed the blank lines a forum put between every line).
        if self.obj.is_some() && blanks > 0 {
            self.finish_object();
        }

        let Some(obj) = self.obj.as_mut() else {
            match cand {
                Some(c) => self.start_object(&c, ln),
                None => self.ignore_line(ln, line),
            }
            return;
        };
        match cand {
            // A PowerShell error record starts a new object, and a `Name : Value` line after
            // one ends it, even with no blank line between them.
            Some(c) if c.indent == obj.indent && (obj.is_error || is_cmdlet_name(c.name)) => {
                self.finish_object();
                self.start_object(&c, ln);
            }
            Some(c) if obj.accepts(&c) => {
                if obj.has_name(c.name) {
                    // A second object without a blank line.
                    self.finish_object();
                    self.start_object(&c, ln);
                } else {
                    let next = Pending::new(&c, ln);
                    let done = std::mem::replace(&mut obj.pending, next);
                    let prop = self.finalize(done);
                    if let Some(obj) = self.obj.as_mut() {
                        obj.props.push(prop);
                    }
                    self.property_lines += 1;
                }
            }
            _ => obj.continue_value(line),
        }
    }

    fn start_object(&mut self, c: &Candidate<'_>, ln: u32) {
        self.property_lines += 1;
        self.obj = Some(Obj::new(c, ln));
    }

    fn ignore_line(&mut self, ln: u32, line: &str) {
        self.ignored_lines += 1;
        if self.ignored_lines <= MAX_NOTES {
            self.diagnostics.push(Diagnostic::info(
                self.file,
                Some(ln),
                format!(
                    "ignored text outside any \"Name : Value\" object: {}",
                    clip(line.trim(), 80)
                ),
            ));
        }
    }

    /// Turns a finished property's text into a value.
    fn finalize(&mut self, p: Pending) -> Prop {
        let mut raw = p.raw;
        if raw.contains("\\\\") {
            // A UNC path (`\\server\share`) is the one legitimate double backslash.
            let unc = raw.starts_with("\\\\") && !raw[2..].contains("\\\\");
            if !unc {
                raw = raw.replace("\\\\", "\\");
                if !self.backslashes_reported {
                    self.backslashes_reported = true;
                    self.diagnostics.push(Diagnostic::info(
                        self.file,
                        Some(p.line),
                        "doubled backslashes (as in a Markdown copy, `EX01\\\\Default`) were read as single ones in all values",
                    ));
                }
            }
        }
        let value = self.classify(&p.name, raw, p.line);
        Prop {
            name: p.name,
            value,
            line: p.line,
        }
    }

    fn classify(&mut self, name: &str, raw: String, line: u32) -> Value {
        if raw.is_empty() {
            return Value::Null;
        }
        let Some(body) = raw.strip_prefix('{') else {
            return Value::Text(raw);
        };
        if let Some(inner) = body.strip_suffix('}') {
            let (inner, truncated) = strip_ellipsis(inner);
            return Value::List {
                items: split_items(inner),
                truncated,
            };
        }
        if body.contains('}') {
            // `{x} and more`: not a collection.
            return Value::Text(raw);
        }
        // An unterminated collection: the file was cut off inside it.
        let (inner, ellipsis) = strip_ellipsis(body.trim_end());
        let last_complete = ellipsis || inner.ends_with(',');
        let mut items = split_items(inner.trim_end_matches(','));
        let dropped = if last_complete { None } else { items.pop() };
        let mut msg = format!(
            "{name}: the collection is not closed with '}}' (the file looks cut off); {} item(s) kept and the list marked incomplete",
            items.len()
        );
        if let Some(d) = dropped {
            msg.push_str(&format!(
                "; the last item '{}' may be cut and was dropped",
                clip(&d, 60)
            ));
        }
        self.diagnostics
            .push(Diagnostic::warning(self.file, Some(line), msg));
        Value::List {
            items,
            truncated: true,
        }
    }

    fn finish_object(&mut self) {
        let Some(obj) = self.obj.take() else {
            return;
        };
        let line = obj.line;
        let mut props = obj.props;
        let last = self.finalize(obj.pending);
        props.push(last);

        if obj.is_error {
            let text = props[0].value.display();
            let text = text.split(" At line:").next().unwrap_or("");
            self.diagnostics.push(Diagnostic::warning(
                self.file,
                Some(line),
                format!(
                    "PowerShell error in the export (output may be incomplete): {} : {}",
                    props[0].name,
                    clip(text, 200)
                ),
            ));
            return;
        }
        self.objects += 1;
        // The properties tell the kind; when they do not (`Get-ReceiveConnector "Relay" | fl
        // Name,Enabled`), the echoed command does.
        let kind = kind_from_property_names(props.iter().map(|p| p.name.as_str()))
            .or_else(|| self.context().and_then(|c| c.kind));
        match kind {
            Some(kind) => {
                let mut props = props;
                let has = |props: &[Prop], name: &str| {
                    props.iter().any(|p| p.name.eq_ignore_ascii_case(name))
                };
                if let Some(ctx) = self.context().filter(|c| c.kind == Some(kind)) {
                    // `Get-ADPermission "EX01\Relay" | fl User,ExtendedRights` prints no
                    // Identity, and the audit one-liner `... | Get-ADPermission -User "NT
                    // Authority\Anonymous Logon" | ... | fl Identity,ExtendedRights` no User:
                    // the echoed command names them.
                    let identity = ctx.connector_identity().map(str::to_string);
                    let user = ctx
                        .user
                        .clone()
                        .filter(|_| kind == crate::input::record::ObjectKind::AdPermission);
                    for (name, value) in [("Identity", identity), ("User", user)] {
                        if let Some(v) = value.filter(|_| !has(&props, name)) {
                            props.push(Prop {
                                name: name.into(),
                                value: Value::Text(v),
                                line,
                            });
                        }
                    }
                }
                (self.sink)(Record { kind, line, props })
            }
            None => {
                self.unknown_objects += 1;
                self.first_unknown_line.get_or_insert(line);
                if self.unknown_objects <= MAX_UNKNOWN {
                    self.diagnostics.push(Diagnostic::warning(
                        self.file,
                        Some(line),
                        format!(
                            "object at line {line} has none of the properties of a receive connector, AD permission, accepted domain or Exchange server; skipped"
                        ),
                    ));
                }
            }
        }
    }

    /// What the last echoed command says about the objects after it.
    fn context(&mut self) -> Option<&crate::input::transcript::CommandContext> {
        if self.context.is_none() {
            let (_, cmd) = self.commands.last()?;
            self.context = Some(crate::input::transcript::context_from_command(cmd));
        }
        self.context.as_ref()
    }

    fn finish(mut self) -> Result<Parsed, InputError> {
        self.finish_object();
        if self.property_lines == 0 {
            return Err(InputError::new(
                self.file,
                None,
                "not a Format-List export: no \"Name : Value\" lines found",
            ));
        }
        crate::input::lines::summarise_overflow(
            &mut self.diagnostics,
            self.file,
            crate::diag::Level::Warning,
            self.unknown_objects,
            MAX_UNKNOWN,
            "objects of unknown kind skipped",
        );
        crate::input::lines::summarise_overflow(
            &mut self.diagnostics,
            self.file,
            crate::diag::Level::Info,
            self.ignored_lines,
            MAX_NOTES,
            "lines outside any object ignored",
        );
        crate::input::lines::summarise_overflow(
            &mut self.diagnostics,
            self.file,
            crate::diag::Level::Info,
            self.warning_lines,
            MAX_NOTES,
            "PowerShell messages ignored",
        );
        Ok(Parsed {
            records: Vec::new(),
            diagnostics: self.diagnostics,
            commands: self.commands,
            objects: self.objects,
            unknown_objects: self.unknown_objects as usize,
            first_unknown_line: self.first_unknown_line,
        })
    }
}

/// `Name : Value`, `Name: Value`, `Name :` — a property identifier
/// (`[A-Za-z][A-Za-z0-9_.-]*`), optional padding, a colon, then whitespace or the end.
fn scan_property(line: &str) -> Option<Candidate<'_>> {
    let b = line.as_bytes();
    let is_ws = |c: u8| c == b' ' || c == b'\t';
    let mut i = 0;
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    let indent = i;
    if i >= b.len() || !b[i].is_ascii_alphabetic() {
        return None;
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'-')) {
        i += 1;
    }
    let name_end = i;
    if name_end - start > 128 {
        return None;
    }
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    if i >= b.len() || b[i] != b':' {
        return None;
    }
    let colon = i;
    if colon + 1 < b.len() && !is_ws(b[colon + 1]) {
        return None;
    }
    Some(Candidate {
        indent,
        name: &line[start..name_end],
        pad: colon - name_end,
        colon,
        rest: &line[colon + 1..],
    })
}

/// `WARNING: ...`, `VERBOSE: ...`, `DEBUG: ...` and their translations (`WARNUNG:`,
/// `AVERTISSEMENT :`): an all-capital word of 4+ letters and a colon at the start of a
/// line. Exchange property names are never all capitals.
fn stream_message(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let n = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if n < 4 {
        return None;
    }
    let rest = line[n..].trim_start_matches(' ');
    if rest.starts_with(':') {
        Some(&line[..n])
    } else {
        None
    }
}

/// `Get-ReceiveConnector` and the like: the label of a PowerShell error record
/// (`Get-ReceiveConnector : The operation couldn't be performed ...`).
fn is_cmdlet_name(name: &str) -> bool {
    const VERBS: [&str; 24] = [
        "Add", "Clear", "Connect", "Disable", "Enable", "Enter", "Export", "ForEach", "Format",
        "Get", "Import", "Invoke", "Move", "New", "Out", "Remove", "Resume", "Select", "Set",
        "Start", "Stop", "Test", "Update", "Where",
    ];
    let Some((verb, noun)) = name.split_once('-') else {
        return false;
    };
    VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb))
        && noun.starts_with(|c: char| c.is_ascii_uppercase())
        && noun.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// Strips a `$FormatEnumerationLimit` marker (`...` or `…`) from the end.
fn strip_ellipsis(s: &str) -> (&str, bool) {
    let t = s.trim_end();
    if let Some(x) = t.strip_suffix("...") {
        (x, true)
    } else if let Some(x) = t.strip_suffix('\u{2026}') {
        (x, true)
    } else {
        (s, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Level;
    use crate::input::record::ObjectKind;
    use proptest::prelude::*;

    fn run(text: &str) -> Parsed {
        parse(text.as_bytes(), "t.txt").expect("parses")
    }

    /// Through the paste front end and the transcript reader, as a pasted text is read.
    fn run_pasted(t: &str) -> Parsed {
        crate::input::text::parse_pasted(t)
    }

    fn text<'a>(r: &'a Record, name: &str) -> &'a str {
        match r.value(name) {
            Some(Value::Text(s)) => s,
            other => panic!("{name}: expected text, got {other:?}"),
        }
    }

    fn list<'a>(r: &'a Record, name: &str) -> (Vec<&'a str>, bool) {
        match r.value(name) {
            Some(Value::List { items, truncated }) => {
                (items.iter().map(String::as_str).collect(), *truncated)
            }
            other => panic!("{name}: expected list, got {other:?}"),
        }
    }

    fn warnings(p: &Parsed) -> Vec<&Diagnostic> {
        p.diagnostics
            .iter()
            .filter(|d| d.level == Level::Warning)
            .collect()
    }

    /// `Get-ReceiveConnector | fl *` (subset of the properties, Exchange 2019) at console
    /// width 120, as PowerShell writes it: labels padded to 41, colons at column 43, long
    /// values word-wrapped to the value column with the breaking space left at the end of
    /// the line, `Name : ` with a trailing space for empty values.
    const CONNECTORS_FL_STAR: &str = concat!(
        "\n",
        "\n",
        "RunspaceId                                : 8f3a8c52-5d1e-4b1c-9c59-2b0c1a7e6f11\n",
        "AuthMechanism                             : Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer\n",
        "Banner                                    : \n",
        "BinaryMimeEnabled                         : True\n",
        "Bindings                                  : {[::]:25, 0.0.0.0:25}\n",
        "ChunkingEnabled                           : True\n",
        "DefaultDomain                             : \n",
        "DeliveryStatusNotificationEnabled         : True\n",
        "EightBitMimeEnabled                       : True\n",
        "DomainSecureEnabled                       : True\n",
        "Fqdn                                      : EX01.contoso.com\n",
        "TlsCertificateName                        : \n",
        "Comment                                   : \n",
        "Enabled                                   : True\n",
        "ConnectionTimeout                         : 00:10:00\n",
        "ConnectionInactivityTimeout               : 00:05:00\n",
        "MessageRateLimit                          : Unlimited\n",
        "MaxInboundConnectionPercentagePerSource   : 2\n",
        "MaxMessageSize                            : 36 MB (37,748,736 bytes)\n",
        "PermissionGroups                          : AnonymousUsers, ExchangeServers, ExchangeLegacyServers\n",
        "ProtocolLoggingLevel                      : Verbose\n",
        "RemoteIPRanges                            : {::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0.0.0.0-255.255.255.255}\n",
        "RequireTLS                                : False\n",
        "Server                                    : EX01\n",
        "TransportRole                             : FrontendTransport\n",
        "AdminDisplayName                          : \n",
        "ExchangeVersion                           : 0.1 (8.0.535.0)\n",
        "Name                                      : Default Frontend EX01\n",
        "DistinguishedName                         : CN=Default Frontend EX01,CN=SMTP Receive \n",
        "                                            Connectors,CN=Protocols,CN=EX01,CN=Servers,CN=Exchange Administrative Group \n",
        "                                            (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso,CN=Microsoft \n",
        "                                            Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\n",
        "Identity                                  : EX01\\Default Frontend EX01\n",
        "Guid                                      : d9a3c1a7-6b3e-4b8e-8f0e-1c2d3e4f5a6b\n",
        "ObjectCategory                            : contoso.com/Configuration/Schema/ms-Exch-Smtp-Receive-Connector\n",
        "ObjectClass                               : {top, msExchSmtpReceiveConnector}\n",
        "WhenChanged                               : 8/21/2021 10:43:54 AM\n",
        "OriginatingServer                         : DC01.contoso.com\n",
        "IsValid                                   : True\n",
        "ObjectState                               : Unchanged\n",
        "\n",
        "RunspaceId                                : 8f3a8c52-5d1e-4b1c-9c59-2b0c1a7e6f11\n",
        "AuthMechanism                             : Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer\n",
        "Banner                                    : \n",
        "BinaryMimeEnabled                         : True\n",
        "Bindings                                  : {0.0.0.0:25}\n",
        "ChunkingEnabled                           : True\n",
        "DefaultDomain                             : \n",
        "DeliveryStatusNotificationEnabled         : True\n",
        "EightBitMimeEnabled                       : True\n",
        "DomainSecureEnabled                       : True\n",
        "Fqdn                                      : EX01.contoso.com\n",
        "TlsCertificateName                        : \n",
        "Comment                                   : Note: relay for printers : do not remove (ticket 4711, approved by J. Smith \n",
        "                                            in the change advisory board)\n",
        "Enabled                                   : True\n",
        "ConnectionTimeout                         : 00:10:00\n",
        "ConnectionInactivityTimeout               : 00:05:00\n",
        "MessageRateLimit                          : Unlimited\n",
        "MaxInboundConnectionPercentagePerSource   : 2\n",
        "MaxMessageSize                            : 36 MB (37,748,736 bytes)\n",
        "PermissionGroups                          : AnonymousUsers\n",
        "ProtocolLoggingLevel                      : Verbose\n",
        "RemoteIPRanges                            : {192.168.10.21, 192.168.10.22, 192.168.10.23, 192.168.10.24, 192.168.11.25, \n",
        "                                            192.168.11.26, 192.168.11.27, 192.168.11.28, 192.168.12.29, 192.168.12.30, \n",
        "                                            192.168.12.31}\n",
        "RequireTLS                                : False\n",
        "Server                                    : EX01\n",
        "TransportRole                             : FrontendTransport\n",
        "AdminDisplayName                          : \n",
        "ExchangeVersion                           : 0.1 (8.0.535.0)\n",
        "Name                                      : Anonymous Relay\n",
        "DistinguishedName                         : CN=Anonymous Relay,CN=SMTP Receive \n",
        "                                            Connectors,CN=Protocols,CN=EX01,CN=Servers,CN=Exchange Administrative Group \n",
        "                                            (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso,CN=Microsoft \n",
        "                                            Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\n",
        "Identity                                  : EX01\\Anonymous Relay\n",
        "Guid                                      : d9a3c1a7-6b3e-4b8e-8f0e-1c2d3e4f5a6b\n",
        "ObjectCategory                            : contoso.com/Configuration/Schema/ms-Exch-Smtp-Receive-Connector\n",
        "ObjectClass                               : {top, msExchSmtpReceiveConnector}\n",
        "WhenChanged                               : 8/21/2021 10:43:54 AM\n",
        "OriginatingServer                         : DC01.contoso.com\n",
        "IsValid                                   : True\n",
        "ObjectState                               : Unchanged\n",
        "\n",
    );

    const DN1: &str = "CN=Default Frontend EX01,CN=SMTP Receive Connectors,CN=Protocols,CN=EX01,CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com";

    fn relay_ips() -> Vec<String> {
        (0..11)
            .map(|i| format!("192.168.{}.{}", 10 + i / 4, 21 + i))
            .collect()
    }

    fn check_connectors(p: &Parsed, exact_text: bool) {
        assert_eq!(p.records.len(), 2, "{:#?}", p.diagnostics);
        let a = &p.records[0];
        assert_eq!(a.kind, ObjectKind::ReceiveConnector);
        assert_eq!(a.line, 3);
        assert_eq!(a.props.len(), 37);
        assert_eq!(
            text(a, "AuthMechanism"),
            "Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer"
        );
        assert_eq!(a.value("Banner"), Some(&Value::Null));
        assert_eq!(a.value("Comment"), Some(&Value::Null));
        assert_eq!(text(a, "BinaryMimeEnabled"), "True");
        assert_eq!(list(a, "Bindings"), (vec!["[::]:25", "0.0.0.0:25"], false));
        assert_eq!(text(a, "Fqdn"), "EX01.contoso.com");
        assert_eq!(text(a, "ConnectionTimeout"), "00:10:00");
        assert_eq!(text(a, "MaxMessageSize"), "36 MB (37,748,736 bytes)");
        assert_eq!(
            text(a, "PermissionGroups"),
            "AnonymousUsers, ExchangeServers, ExchangeLegacyServers"
        );
        assert_eq!(
            list(a, "RemoteIPRanges"),
            (
                vec![
                    "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                    "0.0.0.0-255.255.255.255"
                ],
                false
            )
        );
        assert_eq!(text(a, "ExchangeVersion"), "0.1 (8.0.535.0)");
        assert_eq!(text(a, "Identity"), "EX01\\Default Frontend EX01");
        assert_eq!(text(a, "WhenChanged"), "8/21/2021 10:43:54 AM");
        assert_eq!(
            list(a, "ObjectClass"),
            (vec!["top", "msExchSmtpReceiveConnector"], false)
        );
        assert_eq!(text(a, "ObjectState"), "Unchanged");
        let dn = a.get("DistinguishedName").unwrap();
        assert_eq!(dn.line, 31);
        assert_eq!(a.get("Identity").unwrap().line, 35);
        if exact_text {
            assert_eq!(text(a, "DistinguishedName"), DN1);
        }

        let b = &p.records[1];
        assert_eq!(b.kind, ObjectKind::ReceiveConnector);
        assert_eq!(b.line, 44);
        assert_eq!(text(b, "Identity"), "EX01\\Anonymous Relay");
        assert_eq!(list(b, "Bindings"), (vec!["0.0.0.0:25"], false));
        let (ips, truncated) = list(b, "RemoteIPRanges");
        assert_eq!(ips, relay_ips());
        assert!(!truncated);
        assert_eq!(b.get("RemoteIPRanges").unwrap().line, 66);
        assert_eq!(b.get("RequireTLS").unwrap().line, 69);
        if exact_text {
            assert_eq!(
                text(b, "Comment"),
                "Note: relay for printers : do not remove (ticket 4711, approved by J. Smith in the change advisory board)"
            );
            assert_eq!(
                text(b, "DistinguishedName"),
                DN1.replace("Default Frontend EX01", "Anonymous Relay")
            );
        }
        assert!(warnings(p).is_empty(), "{:#?}", p.diagnostics);
    }

    #[test]
    fn fl_star_padded_and_word_wrapped() {
        let p = run(CONNECTORS_FL_STAR);
        check_connectors(&p, true);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        assert!(p.commands.is_empty());
    }

    #[test]
    fn crlf_and_mixed_line_endings() {
        check_connectors(&run(&CONNECTORS_FL_STAR.replace('\n', "\r\n")), true);
        let mixed: String = CONNECTORS_FL_STAR
            .split_inclusive('\n')
            .enumerate()
            .map(|(i, l)| {
                if i % 3 == 0 {
                    l.replace('\n', "\r\n")
                } else {
                    l.to_string()
                }
            })
            .collect();
        check_connectors(&run(&mixed), true);
    }

    #[test]
    fn trailing_spaces_stripped_or_added() {
        // An editor stripped trailing whitespace: lists, identities and flags survive (the
        // space at a word-wrap break is gone, so wrapped prose is joined without it).
        let stripped: String = CONNECTORS_FL_STAR
            .lines()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect();
        check_connectors(&run(&stripped), false);
        // A forum copy added trailing spaces to every line, blank ones included.
        let added: String = CONNECTORS_FL_STAR
            .lines()
            .map(|l| format!("{l}   \n"))
            .collect();
        check_connectors(&run(&added), true);
    }

    #[test]
    fn small_read_buffer() {
        let r = std::io::BufReader::with_capacity(7, CONNECTORS_FL_STAR.as_bytes());
        check_connectors(&parse(r, "t.txt").unwrap(), true);
    }

    #[test]
    fn ad_permissions_after_prompt() {
        let t = concat!(
            "[PS] C:\\Windows\\system32>Get-ADPermission \"EX01\\Anonymous Relay\" | fl\n",
            "\n",
            "\n",
            "AccessRights        : {ExtendedRight}\n",
            "ExtendedRights      : {ms-Exch-SMTP-Accept-Any-Recipient}\n",
            "ChildObjectTypes    :\n",
            "InheritedObjectType :\n",
            "Properties          :\n",
            "IsValid             : True\n",
            "Deny                : False\n",
            "InheritanceType     : All\n",
            "User                : NT AUTHORITY\\ANONYMOUS LOGON\n",
            "Identity            : EX01\\Anonymous Relay\n",
            "IsInherited         : False\n",
            "ObjectState         : Unchanged\n",
            "\n",
            "AccessRights        : {ExtendedRight}\n",
            "ExtendedRights      : {ms-Exch-SMTP-Submit}\n",
            "ChildObjectTypes    :\n",
            "InheritedObjectType :\n",
            "Properties          :\n",
            "IsValid             : True\n",
            "Deny                : False\n",
            "InheritanceType     : All\n",
            "User                : NT AUTHORITY\\ANONYMOUS LOGON\n",
            "Identity            : EX01\\Anonymous Relay\n",
            "IsInherited         : False\n",
            "ObjectState         : Unchanged\n",
            "\n",
            "\n",
            "[PS] C:\\Windows\\system32>\n",
        );
        let p = run(t);
        assert_eq!(
            p.commands,
            vec![(
                1,
                "Get-ADPermission \"EX01\\Anonymous Relay\" | fl".to_string()
            )]
        );
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        assert_eq!(p.records.len(), 2);
        let a = &p.records[0];
        assert_eq!(a.kind, ObjectKind::AdPermission);
        assert_eq!(a.line, 4);
        assert_eq!(list(a, "AccessRights"), (vec!["ExtendedRight"], false));
        assert_eq!(
            list(a, "ExtendedRights"),
            (vec!["ms-Exch-SMTP-Accept-Any-Recipient"], false)
        );
        assert_eq!(a.value("ChildObjectTypes"), Some(&Value::Null));
        assert_eq!(text(a, "User"), "NT AUTHORITY\\ANONYMOUS LOGON");
        assert_eq!(text(a, "Deny"), "False");
        assert_eq!(a.get("User").unwrap().line, 12);
        assert_eq!(p.records[1].line, 17);
        assert_eq!(
            list(&p.records[1], "ExtendedRights"),
            (vec!["ms-Exch-SMTP-Submit"], false)
        );
    }

    #[test]
    fn accepted_domains_collapsed_padding_doubled_blanks_trailing_spaces() {
        let t = concat!(
            "PS C:\\> Get-AcceptedDomain | fl *   \n",
            "  \n",
            "\n",
            "DomainName: contoso.com  \n",
            "CatchAllRecipientID:\n",
            "DomainType: Authoritative\n",
            "MatchSubDomains: False \n",
            "AddressBookEnabled: True\n",
            "Default: True\n",
            "Name: contoso.com\n",
            "Identity: contoso.com\n",
            "   \n",
            "\n",
            "\n",
            "DomainName : *\n",
            "CatchAllRecipientID :   \n",
            "DomainType : InternalRelay\n",
            "MatchSubDomains : False\n",
            "AddressBookEnabled : False\n",
            "Default : False\n",
            "Name : Relay all\n",
            "Identity : Relay all\n",
        );
        let p = run(t);
        assert_eq!(
            p.commands,
            vec![(1, "Get-AcceptedDomain | fl *".to_string())]
        );
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        assert_eq!(p.records.len(), 2);
        let a = &p.records[0];
        assert_eq!(a.kind, ObjectKind::AcceptedDomain);
        assert_eq!(a.line, 4);
        assert_eq!(text(a, "DomainName"), "contoso.com");
        assert_eq!(a.value("CatchAllRecipientID"), Some(&Value::Null));
        assert_eq!(text(a, "MatchSubDomains"), "False");
        let b = &p.records[1];
        assert_eq!(b.line, 15);
        assert_eq!(text(b, "DomainName"), "*");
        assert_eq!(b.value("CatchAllRecipientID"), Some(&Value::Null));
        assert_eq!(text(b, "DomainType"), "InternalRelay");
        assert_eq!(text(b, "Identity"), "Relay all");
    }

    #[test]
    fn exchange_server() {
        let t = "\n\nName : EX01\nDataPath : C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Mailbox\n\
                 Domain : contoso.com\nEdition : Standard\n\
                 ExchangeLegacyDN : /o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn=EX01\n\
                 Fqdn : EX01.contoso.com\nServerRole : Mailbox\nSite : contoso.com/Configuration/Sites/Default-First-Site-Name\n\
                 AdminDisplayVersion : Version 15.2 (Build 1118.7)\nIsFrontendTransportServer : True\nIdentity : EX01\n\n";
        let p = run(t);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        assert_eq!(p.records.len(), 1);
        let s = &p.records[0];
        assert_eq!(s.kind, ObjectKind::ExchangeServer);
        assert_eq!(s.line, 3);
        assert_eq!(
            text(s, "AdminDisplayVersion"),
            "Version 15.2 (Build 1118.7)"
        );
        assert_eq!(
            text(s, "DataPath"),
            "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Mailbox"
        );
        assert_eq!(
            text(s, "ExchangeLegacyDN"),
            "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn=EX01"
        );
    }

    #[test]
    fn truncated_and_empty_collections() {
        let t = concat!(
            "Name           : Relay A\n",
            "RemoteIPRanges : {10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4...}\n",
            "Bindings       : {}\n",
            "\n",
            "Name           : Relay B\n",
            "RemoteIPRanges : {10.0.1.1, 10.0.1.2, 10.0.1.3, 10.0.1.4\u{2026}}\n",
            "Bindings       : {0.0.0.0:25}\n",
            "\n",
            "Name           : Relay C\n",
            "RemoteIPRanges : {...}\n",
            "Bindings       : { }\n",
        );
        let p = run(t);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        let r = &p.records;
        assert_eq!(
            list(&r[0], "RemoteIPRanges"),
            (vec!["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"], true)
        );
        assert_eq!(list(&r[0], "Bindings"), (vec![], false));
        assert_eq!(
            list(&r[1], "RemoteIPRanges"),
            (vec!["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"], true)
        );
        assert_eq!(list(&r[2], "RemoteIPRanges"), (vec![], true));
        assert_eq!(list(&r[2], "Bindings"), (vec![], false));
        assert_eq!(
            r[0].value("RemoteIPRanges").unwrap().display(),
            "10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4..."
        );
    }

    #[test]
    fn wrapped_list_three_lines_aligned_without_trailing_spaces() {
        // As pasted from a console: indented continuation lines, trailing spaces gone.
        let t = concat!(
            "Identity       : EX01\\Printers\n",
            "RemoteIPRanges : {10.1.2.10, 10.1.2.11, 10.1.2.12, 10.1.2.13, 10.1.2.14,\n",
            "                 10.1.2.15, 10.1.2.16, 10.1.2.17-10.1.2.30, 10.1.3.0/24,\n",
            "                 2001:db8::/48}\n",
            "Enabled        : True\n",
        );
        let p = run(t);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        let r = &p.records[0];
        assert_eq!(
            list(r, "RemoteIPRanges"),
            (
                vec![
                    "10.1.2.10",
                    "10.1.2.11",
                    "10.1.2.12",
                    "10.1.2.13",
                    "10.1.2.14",
                    "10.1.2.15",
                    "10.1.2.16",
                    "10.1.2.17-10.1.2.30",
                    "10.1.3.0/24",
                    "2001:db8::/48"
                ],
                false
            )
        );
        assert_eq!(r.get("Enabled").unwrap().line, 5);
    }

    #[test]
    fn wrapped_list_broken_mid_item() {
        // Hard split (PowerShell in a culture without word wrap, or a console cut at the
        // window width with no indentation): the pieces are joined exactly.
        let t = concat!(
            "Identity       : EX01\\Relay\n",
            "RemoteIPRanges : {::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0.0.0.0-255.25\n",
            "5.255.255, 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, 10.0.0.6, 10.0.0.\n",
            "7}\n",
            "Enabled        : True\n",
            "\n",
            "Identity : EX01\\Relay2\n",
            "RemoteIPRanges : {::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0.0.0.0-255.25\n",
            "                 5.255.255, 10.0.0.1}\n",
        );
        let p = run(t);
        assert_eq!(
            list(&p.records[0], "RemoteIPRanges").0,
            vec![
                "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "0.0.0.0-255.255.255.255",
                "10.0.0.1",
                "10.0.0.2",
                "10.0.0.3",
                "10.0.0.4",
                "10.0.0.5",
                "10.0.0.6",
                "10.0.0.7"
            ]
        );
        assert_eq!(
            list(&p.records[1], "RemoteIPRanges").0,
            vec![
                "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "0.0.0.0-255.255.255.255",
                "10.0.0.1"
            ]
        );
    }

    #[test]
    fn wrapped_collapsed_copy() {
        // Padding, indentation and trailing spaces all collapsed by a web page.
        let t = concat!(
            "Identity: EX01\\Relay\n",
            "RemoteIPRanges: {10.0.0.1, 10.0.0.2,\n",
            "10.0.0.3, 10.0.0.4}\n",
            "DistinguishedName: CN=Relay,CN=SMTP Receive Connectors,CN=Protocols,CN=EX01,CN=Servers,CN=Exchange\n",
            "Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups\n",
            "Comment: Note: relay for printers\n",
            "Note: do not remove\n",
        );
        let p = run(t);
        let r = &p.records[0];
        assert_eq!(
            list(r, "RemoteIPRanges").0,
            vec!["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
        );
        assert_eq!(
            text(r, "DistinguishedName"),
            "CN=Relay,CN=SMTP Receive Connectors,CN=Protocols,CN=EX01,CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups"
        );
        assert_eq!(text(r, "Comment"), "Note: relay for printers");
        // Without alignment a wrapped `Note: ...` cannot be told from a property.
        assert_eq!(text(r, "Note"), "do not remove");
    }

    #[test]
    fn continuation_that_looks_like_a_property_in_aligned_output() {
        let t = concat!(
            "Identity : EX01\\Relay\n",
            "Bindings : {0.0.0.0:25}\n",
            "Comment  : Note: relay for\n",
            "           printers : do not remove\n",
            "Note: this is not a property either\n",
            "Enabled  : True\n",
        );
        let p = run(t);
        let r = &p.records[0];
        assert_eq!(r.props.len(), 4, "{r:#?}");
        assert_eq!(
            text(r, "Comment"),
            "Note: relay forprinters : do not removeNote: this is not a property either"
        );
        // With PowerShell's trailing space at the break the words stay apart.
        let p = run(&t
            .replace("relay for\n", "relay for \n")
            .replace("do not remove\n", "do not remove \n"));
        assert_eq!(
            text(&p.records[0], "Comment"),
            "Note: relay for printers : do not remove Note: this is not a property either"
        );
        assert_eq!(text(&p.records[0], "Enabled"), "True");
    }

    #[test]
    fn value_with_colons() {
        let t = "Identity : EX01\\Relay\nComment : Note: relay for printers : do not remove\nBindings : {[::]:25, 10.0.0.5:2525}\nConnectionTimeout : 00:10:00\n";
        let p = run(t);
        let r = &p.records[0];
        assert_eq!(
            text(r, "Comment"),
            "Note: relay for printers : do not remove"
        );
        assert_eq!(list(r, "Bindings").0, vec!["[::]:25", "10.0.0.5:2525"]);
        assert_eq!(text(r, "ConnectionTimeout"), "00:10:00");
    }

    #[test]
    fn doubled_backslashes_collapsed_once() {
        let t = concat!(
            "User           : NT AUTHORITY\\\\ANONYMOUS LOGON\n",
            "Identity       : EX01\\\\Anonymous Relay\n",
            "ExtendedRights : {ms-Exch-SMTP-Accept-Any-Recipient}\n",
            "\n",
            "User           : CONTOSO\\\\Exchange Servers\n",
            "Identity       : EX01\\\\Anonymous Relay\n",
            "ExtendedRights : {ms-Exch-SMTP-Accept-Any-Recipient}\n",
            "\n",
            "Name       : EX01\n",
            "DataPath   : \\\\fs01\\exchange\n",
            "ServerRole : Mailbox\n",
        );
        let p = run(t);
        assert_eq!(text(&p.records[0], "User"), "NT AUTHORITY\\ANONYMOUS LOGON");
        assert_eq!(text(&p.records[0], "Identity"), "EX01\\Anonymous Relay");
        assert_eq!(text(&p.records[1], "User"), "CONTOSO\\Exchange Servers");
        // A UNC path keeps its leading double backslash.
        assert_eq!(text(&p.records[2], "DataPath"), "\\\\fs01\\exchange");
        assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
        assert_eq!(p.diagnostics[0].level, Level::Info);
        assert_eq!(p.diagnostics[0].line, Some(1));
    }

    #[test]
    fn unknown_kind_is_a_warning() {
        let t = "Name : Outbound\nAddressSpaces : {SMTP:*;1}\nSmartHosts : {}\n\nName : Relay\nRemoteIPRanges : {10.0.0.1}\n";
        let p = run(t);
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].line, 5);
        let w = warnings(&p);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, Some(1));
        assert_eq!(
            w[0].message,
            "object at line 1 has none of the properties of a receive connector, AD permission, accepted domain or Exchange server; skipped"
        );
    }

    #[test]
    fn not_format_list() {
        for t in [
            "",
            "\n\n   \n",
            "\"Identity\",\"Bindings\",\"Enabled\"\n\"EX01\\Default EX01\",\"0.0.0.0:25\",\"True\"\n",
            "#TYPE Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector\n\"Name\",\"RemoteIPRanges\"\n",
            "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\n  <Obj RefId=\"0\">\n    <S N=\"Name\">x</S>\n  </Obj>\n</Objs>\n",
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\nSed do eiusmod tempor: 12:30\n",
            "Identity         Bindings      Enabled\n--------         --------      -------\nEX01\\Relay       {0.0.0.0:25}  True\n",
            "WARNING: something\nPS C:\\> Get-ReceiveConnector | fl\n",
        ] {
            let e = parse(t.as_bytes(), "x.txt").unwrap_err();
            assert_eq!(e.file, "x.txt");
            assert_eq!(
                e.message,
                "not a Format-List export: no \"Name : Value\" lines found"
            );
        }
    }

    #[test]
    fn unterminated_collection_at_eof() {
        let p = run("Identity : EX01\\Relay\nRemoteIPRanges : {10.0.0.1, 10.0.0.2,");
        assert_eq!(
            list(&p.records[0], "RemoteIPRanges"),
            (vec!["10.0.0.1", "10.0.0.2"], true)
        );
        let w = warnings(&p);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, Some(2));
        assert!(w[0].message.contains("RemoteIPRanges"), "{}", w[0].message);

        // Cut inside an item: the possibly partial item is dropped.
        let p = run("Identity : EX01\\Relay\nRemoteIPRanges : {10.0.0.1, 10.0.0.2,\n                  10.0.0.12\n");
        assert_eq!(
            list(&p.records[0], "RemoteIPRanges"),
            (vec!["10.0.0.1", "10.0.0.2"], true)
        );
        assert!(warnings(&p)[0].message.contains("'10.0.0.12'"));
    }

    #[test]
    fn console_junk() {
        let t = concat!(
            "\u{feff}Windows PowerShell\n",
            "[EX01]: PS C:\\Users\\admin\\Documents> Get-ReceiveConnector |\n",
            ">> fl Name,RemoteIPRanges\n",
            "WARNING: The object EX01\\Old has been corrupted, and it's in an inconsistent state.\n",
            "\n",
            "Name           : Old\n",
            "RemoteIPRanges : {10.9.9.9}\n",
            "\n",
            "Get-ReceiveConnector : The operation couldn't be performed because object 'EX01\\Gone' couldn't be found on 'DC01.contoso.com'.\n",
            "At line:1 char:1\n",
            "+ Get-ReceiveConnector EX01\\Gone | fl\n",
            "+ ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n",
            "    + CategoryInfo          : NotSpecified: (:) [Get-ReceiveConnector], ManagementObjectNotFoundException\n",
            "    + FullyQualifiedErrorId : [Server=EX01,RequestId=1,TimeStamp=8/21/2021 10:43:54 AM] 5E0F1B2C,Microsoft.Exchange.Management.SystemConfigurationTasks.GetReceiveConnector\n",
            "\n",
            "\x1b[32;1mName           : \x1b[0mNew\n",
            "\x1b[32;1mRemoteIPRanges : \x1b[0m{10.8.8.8}\n",
            "VERBOSE: done\n",
            "Name           : Newer\n",
            "RemoteIPRanges : {10.7.7.7}\n",
        );
        let p = run(t);
        assert_eq!(
            p.commands,
            vec![(
                2,
                "Get-ReceiveConnector | fl Name,RemoteIPRanges".to_string()
            )]
        );
        let names: Vec<_> = p.records.iter().map(|r| text(r, "Name")).collect();
        assert_eq!(names, vec!["Old", "New", "Newer"]);
        assert_eq!(p.records[1].line, 16);
        assert_eq!(list(&p.records[1], "RemoteIPRanges").0, vec!["10.8.8.8"]);
        let lines: Vec<_> = p.diagnostics.iter().map(|d| (d.level, d.line)).collect();
        assert_eq!(
            lines,
            vec![
                (Level::Info, Some(1)),
                (Level::Info, Some(4)),
                (Level::Warning, Some(9))
            ],
            "{:#?}",
            p.diagnostics
        );
        assert!(p.diagnostics[2].message.contains("couldn't be found"));
        assert!(!p.diagnostics[2].message.contains("CategoryInfo"));
    }

    #[test]
    fn error_record_without_blank_lines() {
        let t = concat!(
            "Name           : A\n",
            "RemoteIPRanges : {10.0.0.1}\n",
            "Get-ReceiveConnector : The operation couldn't be performed because object 'EX01\\Gone' couldn't be found.\n",
            "At line:1 char:1\n",
            "    + CategoryInfo          : NotSpecified: (:) [Get-ReceiveConnector], ManagementObjectNotFoundException\n",
            "Name           : B\n",
            "RemoteIPRanges : {10.0.0.2}\n",
        );
        let p = run(t);
        assert_eq!(p.records.len(), 2, "{:#?}", p);
        assert_eq!(list(&p.records[0], "RemoteIPRanges").0, vec!["10.0.0.1"]);
        assert_eq!(p.records[1].line, 6);
        let w = warnings(&p);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, Some(3));
    }

    #[test]
    fn every_line_doubled() {
        let t = concat!(
            "\n\n",
            "Identity : EX01\\Relay\n\n",
            "RemoteIPRanges : {10.0.0.1, 10.0.0.2,\n\n",
            "                  10.0.0.3}\n\n",
            "Enabled : True\n\n",
            "\n\n",
            "Identity : EX01\\Relay2\n\n",
            "Enabled : False\n\n",
            "\n\n",
            "Identity : EX01\\Relay3\n\n",
            "Bindings : {0.0.0.0:25}\n\n",
        );
        let p = run_pasted(t);
        assert_eq!(p.records.len(), 2, "{:#?}", p.diagnostics);
        assert_eq!(
            list(&p.records[0], "RemoteIPRanges").0,
            vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        );
        assert_eq!(text(&p.records[0], "Enabled"), "True");
        assert_eq!(text(&p.records[1], "Identity"), "EX01\\Relay3");
        assert_eq!(p.records[1].line, 19);
        // The second object (line 13) has no connector property: skipped with a warning.
        let w = warnings(&p);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, Some(13));
    }

    #[test]
    fn one_property_objects_are_not_merged() {
        let t = "\nIdentity : EX01\\A\n\nIdentity : EX01\\B\n\nRemoteIPRanges : {10.0.0.1}\n";
        let p = run(t);
        // Three one-property objects; only the last is recognisable.
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].line, 6);
        assert_eq!(warnings(&p).len(), 2);
    }

    #[test]
    fn objects_without_blank_line_split_on_repeated_name() {
        let t = "Name : A\nRemoteIPRanges : {10.0.0.1}\nName : B\nRemoteIPRanges : {10.0.0.2}\n";
        let p = run(t);
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.records[1].line, 3);
    }

    /// PowerShell-style word wrap (FORMATS.md §2): each word keeps the space after it, a word
    /// that does not fit goes to the next line, a word longer than a line is split by
    /// character, continuation lines are indented to the value column.
    fn ps_fl(props: &[(String, String)], width: usize) -> String {
        let label = props.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut out = String::from("\n\n");
        for (name, value) in props {
            let prefix = format!("{name:<label$} : ");
            let field = width.saturating_sub(prefix.len()).max(1);
            let mut lines: Vec<String> = Vec::new();
            if value.chars().count() <= field {
                lines.push(value.clone());
            } else {
                let words: Vec<&str> = value.split(' ').collect();
                let mut cur = String::new();
                let mut left = field;
                for (i, w) in words.iter().enumerate() {
                    let tok = if i + 1 < words.len() {
                        format!("{w} ")
                    } else {
                        w.to_string()
                    };
                    let n = tok.chars().count();
                    if n > field {
                        for c in tok.chars() {
                            // A word's trailing space stays on its line (PowerShell never
                            // starts a continuation line with the separating space).
                            if left == 0 && c == ' ' {
                                cur.push(c);
                                continue;
                            }
                            if left == 0 {
                                lines.push(std::mem::take(&mut cur));
                                left = field;
                            }
                            cur.push(c);
                            left -= 1;
                        }
                    } else if n > left {
                        lines.push(std::mem::replace(&mut cur, tok));
                        left = field - n;
                    } else {
                        cur.push_str(&tok);
                        left -= n;
                    }
                }
                lines.push(cur);
            }
            for (i, l) in lines.iter().enumerate() {
                if i == 0 {
                    out.push_str(&prefix);
                } else {
                    out.push_str(&" ".repeat(prefix.len()));
                }
                out.push_str(l);
                out.push('\n');
            }
        }
        out.push_str("\n\n");
        out
    }

    /// Words of scalar values. No backslash (a doubled one is collapsed on purpose, see
    /// `doubled_backslashes_collapsed_once`) and no `{` (a value that starts with one is a
    /// collection, joined by other rules).
    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9=,():.-]{1,12}",
            "[A-Za-z0-9=,]{20,90}",
            Just("CN=Exchange".to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Word-wrapped PowerShell output gives back exactly the values it was made from.
        #[test]
        fn word_wrap_round_trip(
            values in prop::collection::vec(prop::collection::vec(word(), 1..25), 1..6),
            width in 60usize..200,
        ) {
            let mut props: Vec<(String, String)> = values
                .iter()
                .enumerate()
                .map(|(i, ws)| {
                    // No doubled backslashes: those are read as Markdown escapes.
                    let mut v = ws.join(" ");
                    while v.contains("\\\\") {
                        v = v.replace("\\\\", "\\");
                    }
                    // Keep text values text: no leading brace.
                    (format!("Prop{i}Name"), v.trim_start_matches('{').to_string())
                })
                .collect();
            props.push(("RemoteIPRanges".into(), "{10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, 10.0.0.6}".into()));
            let t = ps_fl(&props, width);
            let p = parse(t.as_bytes(), "p.txt").unwrap();
            prop_assert_eq!(p.records.len(), 1, "{}", t);
            let r = &p.records[0];
            prop_assert_eq!(r.props.len(), props.len(), "{}", t);
            for (name, v) in &props[..props.len() - 1] {
                let v = v.trim();
                let want = if v.is_empty() { Value::Null } else { Value::Text(v.to_string()) };
                // A trailing `{...` word makes the value an (unclosed) list: skip those.
                if v.starts_with('{') { continue; }
                prop_assert_eq!(r.value(name), Some(&want), "{}", t);
            }
            prop_assert_eq!(list(r, "RemoteIPRanges").0.len(), 6);
        }

        /// Never panics, whatever the text.
        #[test]
        fn never_panics(s in "[ -~\t\r\n{}:,.…\u{0}\u{1b}\u{feff}é漢]{0,600}") {
            let _ = parse(s.as_bytes(), "p.txt");
            let _ = parse(s.replace(' ', "\n").as_bytes(), "p.txt");
        }

        #[test]
        fn never_panics_on_fl_like_lines(
            lines in prop::collection::vec(
                prop_oneof![
                    "[A-Za-z][A-Za-z0-9_.-]{0,20} {0,30}: ?[ -~…{}]{0,60}",
                    " {0,50}[ -~…{}:]{0,60}",
                    Just(String::new()),
                    Just("RemoteIPRanges : {a, b,".to_string()),
                    Just("PS C:\\> fl".to_string()),
                    Just(">> more".to_string()),
                    Just("WARNING: x".to_string()),
                ],
                0..60,
            ),
            crlf in any::<bool>(),
        ) {
            let sep = if crlf { "\r\n" } else { "\n" };
            let t = lines.join(sep);
            if let Ok(p) = parse(t.as_bytes(), "p.txt") {
                for r in &p.records {
                    prop_assert!(r.line >= 1);
                    for prop in &r.props {
                        prop_assert!(prop.line >= r.line);
                    }
                }
            }
        }

        #[test]
        fn never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&b[..], "p.txt");
        }
    }
}
