//! `Export-Csv` files (`Get-ReceiveConnector | Export-Csv rc.csv`) to records.
//!
//! Takes already-decoded UTF-8 text from a [`BufRead`] and streams it through the `csv`
//! crate: one [`Record`] per row goes to a sink as soon as it is read, so memory does not grow
//! with the file. Fills the counters and diagnostics of format_list's [`Parsed`].
//!
//! What it understands (FORMATS.md §4):
//! - Windows PowerShell 5.1's first line `#TYPE <type name>` (also `Deserialized.` from a
//!   remote session and `Selected.` from `Select-Object`); PowerShell 7 omits it. The object
//!   kind comes from that type name, else from the header via [`kind_from_property_names`].
//!   A type name of another Exchange object (`...SendConnector`) makes every row unknown.
//! - A header of (usually double-quoted) property names; the delimiter (`,`, `;` from
//!   `-Delimiter ';'` or `-UseCulture`, or tab) is the one the header line uses.
//! - Quoted cells with doubled quotes and line breaks inside; CRLF or LF.
//! - A multi-valued property exported without `-join` is the .NET type name of its collection
//!   (``Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPRange]``,
//!   `System.Object[]`, `System.Collections.ArrayList`): the data is gone, so the cell becomes
//!   [`Value::Missing`] and the model reports the evidence as incomplete.
//! - Multi-valued properties joined into one cell by the admin's script
//!   (`@{n='RemoteIPRanges';e={$_.RemoteIPRanges -join ';'}}`) become [`Value::List`], split
//!   on the separator the cell uses (`;`, else `,`, else white space; IPv6 ranges contain `:`
//!   only). A Format-List-style `{a, b}` pasted into a cell is unbraced, and a closing `...}`
//!   marks the list as cut.
//! - Every other cell is [`Value::Text`] exactly as exported (flag enums such as
//!   `AnonymousUsers, ExchangeServers` stay one text; the model splits them); an empty cell is
//!   [`Value::Null`].
//!
//! Line numbers are physical 1-based lines of the file: the `#TYPE` line counts, and a row
//! after a cell with line breaks starts further down (the csv crate counts every `\n`).
//! A property's line is the line its cell starts on.
//!
//! Rows with more or fewer cells than the header are read as far as they go, with a warning.
//! A first line that is not a header of property names (and no `#TYPE` line) is an error:
//! the file is not an Export-Csv file.

use crate::diag::{Diagnostic, InputError};
use crate::input::clixml::kind_from_type_name;
use crate::input::detect::kind_from_property_names;
use crate::input::format_list::Parsed;
use crate::input::lines::clip;
use crate::input::record::{Prop, Record, Value};
use std::cell::Cell;
use std::io::{BufRead, Read};
use std::rc::Rc;

/// Properties of the four kinds that are collections: a joined cell is split into a list.
const MULTI_VALUED: &[&str] = &[
    "RemoteIPRanges",
    "Bindings",
    "ExtendedRights",
    "AccessRights",
    "ObjectClass",
    "ChildObjectTypes",
    "Properties",
    "TlsDomainCapabilities",
];

/// Collection types that PowerShell writes without a namespace-qualified `[]` or arity.
const COLLECTION_TYPES: &[&str] = &[
    "System.Collections.ArrayList",
    "System.Collections.Hashtable",
    "System.Collections.Specialized.OrderedDictionary",
    "System.Collections.ObjectModel.Collection",
    "Microsoft.Exchange.Data.NetworkAddressCollection",
];

/// The longest first line (`#TYPE` or header) read before deciding this is no CSV file.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// How many warnings of one sort a file gets before they are summarised.
const MAX_WARNINGS: usize = 20;

/// Whether decoded text (the first few KB of a file) looks like an Export-Csv file: a first
/// line `#TYPE <type name>`, or a header row of property names separated by `,`, `;` or tab
/// among which are properties of a receive connector, AD permission, accepted domain or
/// Exchange server. A Format-Table header (one column over a row of dashes) or Format-List
/// text is not CSV.
pub fn looks_like_csv(preview: &str) -> bool {
    let t = preview.trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace());
    let (first, rest) = match t.find('\n') {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let first = first.trim_end_matches('\r');
    if let Some(name) = first.strip_prefix("#TYPE") {
        let name = name.trim();
        return first[5..].starts_with([' ', '\t'])
            && !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_alphabetic());
    }
    // A Format-Table header is followed by a row of dashes.
    if let Some(rest) = rest {
        let second = rest.lines().next().unwrap_or("").trim();
        if !second.is_empty() && second.chars().all(|c| c == '-' || c == ' ') {
            return false;
        }
    }
    let delim = detect_delimiter(first);
    let mut names = split_header(first, delim);
    if rest.is_none() && names.len() > 1 {
        // The preview may end inside the header: the last name may be cut.
        names.pop();
    }
    !names.is_empty()
        && names.iter().all(|n| is_name_like(n))
        && kind_from_property_names(names.iter().map(String::as_str)).is_some()
}

/// Parses Export-Csv text, sending each row's record to `sink` as soon as it is read.
/// `Parsed::records` stays empty.
///
/// Returns `Err` when the input cannot be read, has no header row, or its first line is
/// neither `#TYPE ...` nor a header of property names.
pub fn parse_into<R: BufRead>(
    mut reader: R,
    file: &str,
    sink: &mut dyn FnMut(Record),
) -> Result<Parsed, InputError> {
    let read_err = |line: u32, e: std::io::Error| {
        InputError::new(file, Some(line), format!("cannot read: {e}"))
    };
    // Lines before the header: blank lines and the `#TYPE` line.
    let mut before: u32 = 0;
    let mut type_name: Option<String> = None;
    let mut header = Vec::new();
    loop {
        header.clear();
        let n = (&mut reader)
            .take(MAX_HEADER_BYTES + 1)
            .read_until(b'\n', &mut header)
            .map_err(|e| read_err(before.saturating_add(1), e))?;
        if n as u64 > MAX_HEADER_BYTES {
            return Err(InputError::new(
                file,
                Some(before.saturating_add(1)),
                "not a CSV export: the first line is longer than 1 MiB",
            ));
        }
        if n == 0 {
            return Err(InputError::new(
                file,
                None,
                "not a CSV export: no header row found",
            ));
        }
        let text = String::from_utf8_lossy(&header);
        let line = text.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            before = before.saturating_add(1);
            continue;
        }
        if type_name.is_none() {
            if let Some(rest) = line.strip_prefix("#TYPE") {
                if rest.is_empty() || rest.starts_with([' ', '\t']) {
                    // A file saved again by Excel pads the line with delimiters.
                    let t = rest.trim_end_matches([',', ';', '\t', ' ', '"']).trim();
                    type_name = Some(t.to_string());
                    before = before.saturating_add(1);
                    continue;
                }
            }
        }
        break;
    }
    // A UTF-8 BOM left in the text (the decoder normally removes it).
    if header.starts_with(b"\xEF\xBB\xBF") {
        header.drain(..3);
    }
    let header_line = before.saturating_add(1);
    let header_text = String::from_utf8_lossy(&header).into_owned();
    let delim = detect_delimiter(header_text.trim_end_matches(['\r', '\n']));

    // Records end at `\n` only (a CRLF line leaves a `\r` at the end of its last cell, which
    // is removed below): then the csv crate's line count after a record is exact, and the
    // record's first line follows from it (see `record_line`).
    let seen = Rc::new(Cell::new((0u64, 0u8)));
    let mut rdr = ::csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .quoting(true)
        .double_quote(true)
        .comment(None)
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_reader(Tap {
            inner: std::io::Cursor::new(header).chain(reader),
            seen: seen.clone(),
        });

    let mut diagnostics = Vec::new();
    let mut bad_utf8 = false;
    let mut row = ::csv::ByteRecord::new();
    let csv_err = |e: ::csv::Error, fallback: u32| {
        let line = e
            .position()
            .map(|p| phys_line(before, p.line()))
            .unwrap_or(fallback);
        InputError::new(file, Some(line), format!("cannot read CSV: {e}"))
    };
    match rdr.read_byte_record(&mut row) {
        Ok(true) => {}
        Ok(false) => {
            return Err(InputError::new(
                file,
                None,
                "not a CSV export: no header row found",
            ))
        }
        Err(e) => return Err(csv_err(e, header_line)),
    }
    let names: Vec<String> = cells(&row)
        .map(|f| text_of(f, &mut bad_utf8).trim().to_string())
        .collect();

    // The kind: from the type name, else from the columns.
    let mut foreign_type: Option<String> = None;
    let kind = match type_name.as_deref() {
        Some(t) => {
            let bare = strip_type_prefixes(t);
            match kind_from_type_name(bare) {
                Some(k) => Some(k),
                None if bare.starts_with("Microsoft.Exchange.") => {
                    foreign_type = Some(t.to_string());
                    None
                }
                None => kind_from_property_names(names.iter().map(String::as_str)),
            }
        }
        None => kind_from_property_names(names.iter().map(String::as_str)),
    };
    if type_name.is_none()
        && kind.is_none()
        && !(names.iter().any(|n| !n.is_empty()) && names.iter().all(|n| is_name_like(n)))
    {
        return Err(InputError::new(
            file,
            Some(header_line),
            "not a CSV export: the first line is not a header of property names",
        ));
    }
    let multi: Vec<bool> = names
        .iter()
        .map(|n| MULTI_VALUED.iter().any(|m| m.eq_ignore_ascii_case(n)))
        .collect();

    let mut objects = 0usize;
    let mut unknown_objects = 0usize;
    let mut first_unknown_line = None;
    let mut ragged = 0usize;
    loop {
        match rdr.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(e, header_line)),
        }
        let line = phys_line(before, record_line(&row, rdr.position(), seen.get()));
        // A blank line (or one of white space) is no object.
        if row.len() == 1 && row[0].iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        objects += 1;
        if row.len() != names.len() {
            ragged += 1;
            if ragged <= MAX_WARNINGS {
                diagnostics.push(Diagnostic::warning(
                    file,
                    Some(line),
                    format!(
                        "row has {} cells but the header names {} columns (malformed CSV); {}",
                        row.len(),
                        names.len(),
                        if row.len() > names.len() {
                            "the extra cells were ignored"
                        } else {
                            "the missing cells were left out"
                        }
                    ),
                ));
            }
        }
        let Some(kind) = kind else {
            unknown_objects += 1;
            first_unknown_line.get_or_insert(line);
            continue;
        };
        let mut rec = Record::new(kind, line);
        let mut cell_line = line;
        for (i, field) in cells(&row).enumerate() {
            let Some(name) = names.get(i) else { break };
            if !name.is_empty() {
                let raw = text_of(field, &mut bad_utf8);
                rec.props.push(Prop {
                    name: name.clone(),
                    value: classify(&raw, multi[i]),
                    line: cell_line,
                });
            }
            let breaks = field.iter().filter(|&&b| b == b'\n').count();
            cell_line = cell_line.saturating_add(u32::try_from(breaks).unwrap_or(u32::MAX));
        }
        sink(rec);
    }

    if ragged > MAX_WARNINGS {
        diagnostics.push(Diagnostic::warning(
            file,
            None,
            format!(
                "{} more rows with a cell count different from the header",
                ragged - MAX_WARNINGS
            ),
        ));
    }
    if bad_utf8 {
        diagnostics.push(Diagnostic::info(
            file,
            None,
            "text is not valid UTF-8; invalid bytes were replaced with U+FFFD",
        ));
    }
    if unknown_objects > 0 {
        let message = match &foreign_type {
            Some(t) => format!(
                "{unknown_objects} row(s) of type {t}, which is not an object relay-audit reads; skipped"
            ),
            None => format!(
                "{unknown_objects} row(s) whose columns ({}) have none of the properties of a receive connector, AD permission, accepted domain or Exchange server; skipped",
                clip(&names.join(", "), 120)
            ),
        };
        diagnostics.push(Diagnostic::warning(file, Some(header_line), message));
    }
    Ok(Parsed {
        records: Vec::new(),
        diagnostics,
        commands: Vec::new(),
        objects,
        unknown_objects,
        first_unknown_line,
    })
}

/// Counts the bytes the csv reader has taken from the input and remembers the last one.
struct Tap<R> {
    inner: R,
    seen: Rc<Cell<(u64, u8)>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            let (total, _) = self.seen.get();
            self.seen
                .set((total.saturating_add(n as u64), buf[n.min(buf.len()) - 1]));
        }
        Ok(n)
    }
}

/// The cells of a row, without the `\r` a CRLF line end leaves on the last one.
fn cells(row: &::csv::ByteRecord) -> impl Iterator<Item = &[u8]> {
    let last = row.len().saturating_sub(1);
    row.iter().enumerate().map(move |(i, f)| {
        if i == last {
            f.strip_suffix(b"\r").unwrap_or(f)
        } else {
            f
        }
    })
}

/// The line (counted from the header line, 1-based) on which a row just read starts.
///
/// The csv crate counts every `\n` it consumed (blank lines and line breaks inside quoted
/// cells included); right after a row that count is the row's last line, plus one when the
/// row's terminating `\n` was consumed. That is always so unless the row ends the input
/// without a line break: it consumed the last byte read (`seen`) and that byte is no `\n`.
/// Line breaks inside the row's cells lead back to its first line.
fn record_line(row: &::csv::ByteRecord, end: &::csv::Position, seen: (u64, u8)) -> u64 {
    let (total, last_byte) = seen;
    let terminated = end.byte() < total || last_byte == b'\n';
    let last_line = end.line().saturating_sub(u64::from(terminated));
    let inner = row.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
    last_line.saturating_sub(inner).max(1)
}

/// The physical line of a csv-crate line number (1-based, counted from the header line).
fn phys_line(before: u32, csv_line: u64) -> u32 {
    u32::try_from(csv_line)
        .unwrap_or(u32::MAX)
        .saturating_add(before)
        .max(1)
}

fn text_of(field: &[u8], bad_utf8: &mut bool) -> String {
    match std::str::from_utf8(field) {
        Ok(s) => s.to_string(),
        Err(_) => {
            *bad_utf8 = true;
            String::from_utf8_lossy(field).into_owned()
        }
    }
}

/// `Selected.`, `Deserialized.` (in any order, as `Select-Object` in a remote session
/// writes `Selected.Deserialized.`...).
fn strip_type_prefixes(t: &str) -> &str {
    let mut t = t.trim();
    loop {
        if let Some(r) = t.strip_prefix("Selected.") {
            t = r;
        } else if let Some(r) = t.strip_prefix("Deserialized.") {
            t = r;
        } else {
            return t;
        }
    }
}

/// One cell to a value.
fn classify(raw: &str, multi_valued: bool) -> Value {
    let t = raw.trim();
    if t.is_empty() {
        return Value::Null;
    }
    if is_type_name(t) {
        return Value::Missing(t.to_string());
    }
    if !multi_valued {
        return Value::Text(raw.to_string());
    }
    let (inner, truncated) = match t.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some(inner) => {
            let inner = inner.trim_end();
            if let Some(s) = inner.strip_suffix("...") {
                (s, true)
            } else if let Some(s) = inner.strip_suffix('\u{2026}') {
                (s, true)
            } else {
                (inner, false)
            }
        }
        None => (t, false),
    };
    Value::List {
        items: split_joined(inner),
        truncated,
    }
}

/// Splits a joined cell on the separator it uses: `;`, else `,`, else white space.
fn split_joined(s: &str) -> Vec<String> {
    let parts: Vec<&str> = if s.contains(';') {
        s.split(';').collect()
    } else if s.contains(',') {
        s.split(',').collect()
    } else {
        s.split_whitespace().collect()
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether a cell is a .NET type name written in place of the value: a namespace-qualified
/// name with a generic arity (``...MultiValuedProperty`1[...]``), an array (`System.Object[]`,
/// `...ExtendedRightIdParameter[]`) or a known collection class. `Contoso.Relay` or
/// `EX01\Default EX01` are values.
fn is_type_name(s: &str) -> bool {
    let s = strip_type_prefixes(s);
    let ident_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '+'))
        .unwrap_or(s.len());
    let (ident, rest) = s.split_at(ident_end);
    if !is_dotted_identifier(ident) {
        return false;
    }
    if rest.is_empty() {
        return COLLECTION_TYPES.contains(&ident);
    }
    if let Some(r) = rest.strip_prefix('`') {
        // Generic: arity digits, then `[` ... `]`, possibly followed by `[]`.
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        let r = &r[digits..];
        return digits > 0 && r.starts_with('[') && r.ends_with(']') && balanced(r);
    }
    // Arrays: `[]`, `[][]`, `[,]`.
    let mut r = rest;
    let mut any = false;
    while let Some(x) = r.strip_prefix('[') {
        let commas = x.bytes().take_while(|&b| b == b',').count();
        match x[commas..].strip_prefix(']') {
            Some(y) => {
                r = y;
                any = true;
            }
            None => return false,
        }
    }
    any && r.is_empty()
}

/// `Namespace.Type` (at least two segments, each an identifier; `+` for nested types).
fn is_dotted_identifier(s: &str) -> bool {
    let mut n = 0;
    for seg in s.split('.') {
        for part in seg.split('+') {
            let mut cs = part.chars();
            match cs.next() {
                Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
                _ => return false,
            }
            if !cs.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return false;
            }
        }
        n += 1;
    }
    n >= 2 && s.starts_with(|c: char| c.is_ascii_uppercase())
}

fn balanced(s: &str) -> bool {
    let mut depth: i64 = 0;
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// The delimiter a header line uses: the most frequent of `,`, `;` and tab outside quotes
/// (`,` when there is none: a one-column file).
fn detect_delimiter(line: &str) -> u8 {
    let (mut comma, mut semi, mut tab) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    for b in line.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => comma += 1,
            b';' if !quoted => semi += 1,
            b'\t' if !quoted => tab += 1,
            _ => {}
        }
    }
    if semi > comma && semi >= tab {
        b';'
    } else if tab > comma && tab > semi {
        b'\t'
    } else {
        b','
    }
}

/// The names of a header line (quotes removed, `""` inside quotes is one `"`).
fn split_header(line: &str, delim: u8) -> Vec<String> {
    let delim = delim as char;
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == delim && !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// A plausible PowerShell property name (also a calculated one such as `Remote IP Ranges`):
/// starts with a letter or `_`, at most 128 characters, none of the characters of
/// Format-List/Format-Table/XML text.
fn is_name_like(n: &str) -> bool {
    n.len() <= 128
        && n.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && !n
            .chars()
            .any(|c| c.is_control() || matches!(c, ':' | '<' | '>' | '{' | '}' | '=' | '\\' | '"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Level;
    use crate::input::record::ObjectKind;
    use proptest::prelude::*;

    fn run(t: &str) -> (Vec<Record>, Parsed) {
        let mut recs = Vec::new();
        let p = parse_into(t.as_bytes(), "x.csv", &mut |r| recs.push(r)).unwrap();
        assert!(p.records.is_empty());
        (recs, p)
    }

    fn text<'a>(r: &'a Record, name: &str) -> &'a str {
        match r.value(name) {
            Some(Value::Text(s)) => s,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn list(r: &Record, name: &str) -> (Vec<String>, bool) {
        match r.value(name) {
            Some(Value::List { items, truncated }) => (items.clone(), *truncated),
            other => panic!("{name}: {other:?}"),
        }
    }

    fn missing<'a>(r: &'a Record, name: &str) -> &'a str {
        match r.value(name) {
            Some(Value::Missing(t)) => t,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn warnings(p: &Parsed) -> Vec<&Diagnostic> {
        p.diagnostics
            .iter()
            .filter(|d| d.level == Level::Warning)
            .collect()
    }

    const MVP_BINDING: &str =
        "Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPBinding]";
    const MVP_RANGE: &str =
        "Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPRange]";

    /// `Get-ReceiveConnector | Export-Csv rc.csv` in an EMS remote session (Windows PowerShell
    /// 5.1): #TYPE line, every property quoted, collections as their type name, CRLF.
    const RC_FULL: &str = concat!(
        "#TYPE Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector\r\n",
        "\"RunspaceId\",\"AuthMechanism\",\"Banner\",\"BinaryMimeEnabled\",\"Bindings\",\"ChunkingEnabled\",\"DefaultDomain\",\"DeliveryStatusNotificationEnabled\",\"EightBitMimeEnabled\",\"SmtpUtf8Enabled\",\"BareLinefeedRejectionEnabled\",\"DomainSecureEnabled\",\"EnhancedStatusCodesEnabled\",\"LongAddressesEnabled\",\"OrarEnabled\",\"SuppressXAnonymousTls\",\"ProxyEnabled\",\"AdvertiseClientSettings\",\"Fqdn\",\"ServiceDiscoveryFqdn\",\"TlsCertificateName\",\"Comment\",\"Enabled\",\"ConnectionTimeout\",\"ConnectionInactivityTimeout\",\"MessageRateLimit\",\"MessageRateSource\",\"MaxInboundConnection\",\"MaxInboundConnectionPerSource\",\"MaxInboundConnectionPercentagePerSource\",\"MaxHeaderSize\",\"MaxHopCount\",\"MaxLocalHopCount\",\"MaxLogonFailures\",\"MaxMessageSize\",\"MaxProtocolErrors\",\"MaxRecipientsPerMessage\",\"PermissionGroups\",\"PipeliningEnabled\",\"ProtocolLoggingLevel\",\"RemoteIPRanges\",\"RequireEHLODomain\",\"RequireTLS\",\"EnableAuthGSSAPI\",\"ExtendedProtectionPolicy\",\"LiveCredentialEnabled\",\"TlsDomainCapabilities\",\"Server\",\"TransportRole\",\"RejectReservedTopLevelRecipientDomains\",\"RejectReservedSecondLevelRecipientDomains\",\"RejectSingleLabelRecipientDomains\",\"AcceptConsumerMail\",\"SizeEnabled\",\"TarpitInterval\",\"AuthTarpitInterval\",\"MaxAcknowledgementDelay\",\"AdminDisplayName\",\"ExchangeVersion\",\"Name\",\"DistinguishedName\",\"Identity\",\"Guid\",\"ObjectCategory\",\"ObjectClass\",\"WhenChanged\",\"WhenCreated\",\"WhenChangedUTC\",\"WhenCreatedUTC\",\"OrganizationId\",\"Id\",\"OriginatingServer\",\"IsValid\",\"ObjectState\"\r\n",
        "\"aface18d-1319-5a2d-a5c1-8f3ef746f84c\",\"Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer\",\"\",\"True\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPBinding]\",\"True\",\"\",\"True\",\"True\",\"True\",\"False\",\"True\",\"True\",\"False\",\"False\",\"False\",\"False\",\"False\",\"EX01.contoso.com\",\"\",\"<I>CN=EX01<S>CN=EX01\",\"\",\"True\",\"00:10:00\",\"00:05:00\",\"Unlimited\",\"IPAddress\",\"5000\",\"20\",\"2\",\"256 KB (262,144 bytes)\",\"60\",\"5\",\"3\",\"36 MB (37,748,736 bytes)\",\"5\",\"200\",\"AnonymousUsers, ExchangeServers, ExchangeLegacyServers, Custom\",\"True\",\"Verbose\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPRange]\",\"False\",\"False\",\"False\",\"None\",\"False\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.SmtpReceiveDomainCapabilities]\",\"EX01\",\"FrontendTransport\",\"False\",\"False\",\"False\",\"False\",\"Enabled\",\"00:00:05\",\"00:00:05\",\"00:00:30\",\"\",\"0.1 (8.0.535.0)\",\"Default Frontend EX01\",\"CN=Default Frontend EX01,CN=SMTP Receive Connectors,CN=Protocols,CN=EX01,CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\",\"EX01\\Default Frontend EX01\",\"c6281ef0-6804-53cc-ada8-f0bdd265a0bb\",\"contoso.com/Configuration/Schema/ms-Exch-Smtp-Receive-Connector\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]\",\"2/26/2023 2:39:31 PM\",\"11/8/2022 2:29:31 PM\",\"2/26/2023 1:39:31 PM\",\"11/8/2022 1:29:31 PM\",\"\",\"EX01\\Default Frontend EX01\",\"DC01.contoso.com\",\"True\",\"Unchanged\"\r\n",
        "\"aface18d-1319-5a2d-a5c1-8f3ef746f84c\",\"Tls, Integrated, BasicAuth, BasicAuthRequireTLS\",\"\",\"True\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPBinding]\",\"True\",\"\",\"True\",\"True\",\"True\",\"False\",\"False\",\"True\",\"False\",\"False\",\"False\",\"False\",\"False\",\"EX01.contoso.com\",\"\",\"\",\"\",\"True\",\"00:10:00\",\"00:05:00\",\"Unlimited\",\"User\",\"5000\",\"20\",\"2\",\"256 KB (262,144 bytes)\",\"60\",\"5\",\"3\",\"36 MB (37,748,736 bytes)\",\"5\",\"200\",\"ExchangeUsers\",\"True\",\"None\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPRange]\",\"False\",\"False\",\"False\",\"None\",\"False\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.SmtpReceiveDomainCapabilities]\",\"EX01\",\"FrontendTransport\",\"False\",\"False\",\"False\",\"False\",\"Enabled\",\"00:00:05\",\"00:00:05\",\"00:00:30\",\"\",\"0.1 (8.0.535.0)\",\"Client Frontend EX01\",\"CN=Client Frontend EX01,CN=SMTP Receive Connectors,CN=Protocols,CN=EX01,CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\",\"EX01\\Client Frontend EX01\",\"0b7c5a4e-3d43-5b5f-9e8a-6c0a3b2f1d11\",\"contoso.com/Configuration/Schema/ms-Exch-Smtp-Receive-Connector\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]\",\"11/8/2022 2:29:31 PM\",\"11/8/2022 2:29:31 PM\",\"11/8/2022 1:29:31 PM\",\"11/8/2022 1:29:31 PM\",\"\",\"EX01\\Client Frontend EX01\",\"DC01.contoso.com\",\"True\",\"Unchanged\"\r\n",
    );

    #[test]
    fn full_receive_connector_export_with_type_names() {
        let (recs, p) = run(RC_FULL);
        assert_eq!(p.objects, 2);
        assert_eq!(p.unknown_objects, 0);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        assert_eq!(recs.len(), 2);
        let r = &recs[0];
        assert_eq!(r.kind, ObjectKind::ReceiveConnector);
        assert_eq!(r.line, 3);
        assert_eq!(recs[1].line, 4);
        assert_eq!(r.props.len(), 74);
        assert_eq!(r.props[0].name, "RunspaceId");
        assert!(r.props.iter().all(|p| p.line == 3));
        assert_eq!(text(r, "Identity"), "EX01\\Default Frontend EX01");
        assert_eq!(text(r, "Name"), "Default Frontend EX01");
        assert_eq!(missing(r, "Bindings"), MVP_BINDING);
        assert_eq!(missing(r, "RemoteIPRanges"), MVP_RANGE);
        assert_eq!(
            missing(r, "ObjectClass"),
            "Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]"
        );
        // Flag enums stay one text; the model splits them.
        assert_eq!(
            text(r, "PermissionGroups"),
            "AnonymousUsers, ExchangeServers, ExchangeLegacyServers, Custom"
        );
        assert_eq!(
            text(r, "AuthMechanism"),
            "Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer"
        );
        // Commas inside quotes are not delimiters.
        assert_eq!(text(r, "MaxMessageSize"), "36 MB (37,748,736 bytes)");
        assert!(text(r, "DistinguishedName").ends_with(",DC=contoso,DC=com"));
        assert_eq!(r.value("Banner"), Some(&Value::Null));
        assert_eq!(r.value("OrganizationId"), Some(&Value::Null));
        assert_eq!(text(r, "ExchangeVersion"), "0.1 (8.0.535.0)");
        assert_eq!(text(&recs[1], "PermissionGroups"), "ExchangeUsers");
    }

    #[test]
    fn selected_with_joined_ranges() {
        // Get-ReceiveConnector | Select Identity,@{n='RemoteIPRanges';e={$_.RemoteIPRanges -join ';'}},
        //   PermissionGroups,AuthMechanism | Export-Csv rc.csv
        let t = concat!(
            "#TYPE Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector\r\n",
            "\"Identity\",\"RemoteIPRanges\",\"PermissionGroups\",\"AuthMechanism\"\r\n",
            "\"EX01\\Default Frontend EX01\",\"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff;0.0.0.0-255.255.255.255\",\"AnonymousUsers, ExchangeServers, ExchangeLegacyServers\",\"Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer\"\r\n",
            "\"EX01\\Anonymous Relay EX01\",\"10.1.1.25;10.1.1.26;192.168.10.0/24;fe80::1-fe80::ff\",\"AnonymousUsers, Custom\",\"Tls\"\r\n",
            "\"EX01\\Outbound Proxy Frontend EX01\",\"\",\"ExchangeServers\",\"Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer\"\r\n",
        );
        let (recs, p) = run(t);
        assert!(p.diagnostics.is_empty());
        assert_eq!(recs.len(), 3);
        assert_eq!(
            list(&recs[0], "RemoteIPRanges"),
            (
                vec![
                    "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".to_string(),
                    "0.0.0.0-255.255.255.255".to_string()
                ],
                false
            )
        );
        assert_eq!(
            list(&recs[1], "RemoteIPRanges").0,
            vec![
                "10.1.1.25",
                "10.1.1.26",
                "192.168.10.0/24",
                "fe80::1-fe80::ff"
            ]
        );
        assert_eq!(recs[2].value("RemoteIPRanges"), Some(&Value::Null));
        assert_eq!(text(&recs[1], "PermissionGroups"), "AnonymousUsers, Custom");
        assert_eq!(recs[1].line, 4);
    }

    #[test]
    fn joined_with_comma_or_space_or_braces() {
        let t = concat!(
            "\"Identity\",\"Bindings\",\"RemoteIPRanges\"\n",
            "\"EX01\\A\",\"[::]:25 0.0.0.0:25\",\"10.0.0.1, 10.0.0.2\"\n",
            "\"EX01\\B\",\"0.0.0.0:2525\",\"{10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4...}\"\n",
            "\"EX01\\C\",\"{[::]:25, 0.0.0.0:25}\",\"{}\"\n",
        );
        let (recs, _) = run(t);
        assert_eq!(list(&recs[0], "Bindings").0, vec!["[::]:25", "0.0.0.0:25"]);
        assert_eq!(
            list(&recs[0], "RemoteIPRanges").0,
            vec!["10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(list(&recs[1], "Bindings").0, vec!["0.0.0.0:2525"]);
        assert_eq!(
            list(&recs[1], "RemoteIPRanges"),
            (
                vec![
                    "10.0.0.1".to_string(),
                    "10.0.0.2".to_string(),
                    "10.0.0.3".to_string(),
                    "10.0.0.4".to_string()
                ],
                true
            )
        );
        assert_eq!(list(&recs[2], "Bindings").0, vec!["[::]:25", "0.0.0.0:25"]);
        assert_eq!(list(&recs[2], "RemoteIPRanges"), (vec![], false));
    }

    #[test]
    fn semicolon_delimited_german_permissions() {
        // Get-ReceiveConnector | Get-ADPermission | Select Identity,User,
        //   @{n='ExtendedRights';e={$_.ExtendedRights -join ','}},... | Export-Csv -Delimiter ';'
        // on a German server: Windows PowerShell 5.1 writes ASCII, so the Ä became '?'.
        let t = concat!(
            "#TYPE Selected.Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject\r\n",
            "\"Identity\";\"User\";\"ExtendedRights\";\"AccessRights\";\"Deny\";\"IsInherited\"\r\n",
            "\"EX01\\Anonymous Relay EX01\";\"NT-AUTORIT?T\\ANONYMOUS-ANMELDUNG\";\"ms-Exch-SMTP-Submit,ms-Exch-SMTP-Accept-Any-Recipient\";\"ExtendedRight\";\"False\";\"False\"\r\n",
            "\"EX01\\Anonymous Relay EX01\";\"CONTOSO\\Organization Management\";\"\";\"GenericAll\";\"False\";\"True\"\r\n",
            "\"EX01\\Anonymous Relay EX01\";\"NT-AUTORIT?T\\Authentifizierte Benutzer\";\"\";\"ReadProperty, GenericExecute\";\"False\";\"True\"\r\n",
        );
        assert!(looks_like_csv(t));
        let (recs, p) = run(t);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        assert_eq!(recs.len(), 3);
        let r = &recs[0];
        assert_eq!(r.kind, ObjectKind::AdPermission);
        assert_eq!(text(r, "User"), "NT-AUTORIT?T\\ANONYMOUS-ANMELDUNG");
        assert_eq!(
            list(r, "ExtendedRights").0,
            vec!["ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Recipient"]
        );
        assert_eq!(list(r, "AccessRights").0, vec!["ExtendedRight"]);
        assert_eq!(text(r, "Deny"), "False");
        assert_eq!(recs[1].value("ExtendedRights"), Some(&Value::Null));
        assert_eq!(
            list(&recs[2], "AccessRights").0,
            vec!["ReadProperty", "GenericExecute"]
        );
        assert_eq!(recs[2].line, 5);
    }

    #[test]
    fn powershell7_without_type_line() {
        // PowerShell 7: no #TYPE, UTF-8, LF; -UseQuotes AsNeeded leaves most names bare.
        let t = concat!(
            "\"Identity\",\"Bindings\",\"Enabled\",\"PermissionGroups\"\n",
            "\"EX01\\Default EX01\",\"[::]:2525;0.0.0.0:2525\",\"True\",\"ExchangeUsers, ExchangeServers, ExchangeLegacyServers\"\n",
        );
        assert!(looks_like_csv(t));
        let (recs, p) = run(t);
        assert_eq!(p.objects, 1);
        assert_eq!(recs[0].kind, ObjectKind::ReceiveConnector);
        assert_eq!(recs[0].line, 2);
        assert_eq!(
            list(&recs[0], "Bindings").0,
            vec!["[::]:2525", "0.0.0.0:2525"]
        );
        let bare = "Identity,Bindings,Enabled\nEX01\\Default EX01,0.0.0.0:2525,True\n";
        assert!(looks_like_csv(bare));
        let (recs, _) = run(bare);
        assert_eq!(text(&recs[0], "Identity"), "EX01\\Default EX01");
        assert_eq!(list(&recs[0], "Bindings").0, vec!["0.0.0.0:2525"]);
    }

    /// `Get-ReceiveConnector "EX01\Default Frontend EX01" | Get-ADPermission | Export-Csv`
    /// (no -join): both collections are type names.
    #[test]
    fn adpermission_type_names_vs_joined() {
        let naive = concat!(
            "#TYPE Deserialized.Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject\r\n",
            "\"AccessRights\",\"ExtendedRights\",\"ChildObjectTypes\",\"InheritedObjectType\",\"Properties\",\"IsValid\",\"Deny\",\"InheritanceType\",\"User\",\"Identity\",\"IsInherited\",\"ObjectState\",\"PSComputerName\",\"RunspaceId\",\"PSShowComputerName\"\r\n",
            "\"System.DirectoryServices.ActiveDirectoryRights[]\",\"Microsoft.Exchange.Configuration.Tasks.ExtendedRightIdParameter[]\",\"\",\"\",\"\",\"True\",\"False\",\"All\",\"NT AUTHORITY\\ANONYMOUS LOGON\",\"EX01\\Default Frontend EX01\",\"False\",\"Unchanged\",\"ex01.contoso.com\",\"aface18d-1319-5a2d-a5c1-8f3ef746f84c\",\"False\"\r\n",
            "\"System.DirectoryServices.ActiveDirectoryRights[]\",\"\",\"\",\"\",\"\",\"True\",\"False\",\"All\",\"NT AUTHORITY\\SYSTEM\",\"EX01\\Default Frontend EX01\",\"True\",\"Unchanged\",\"ex01.contoso.com\",\"aface18d-1319-5a2d-a5c1-8f3ef746f84c\",\"False\"\r\n",
        );
        let (recs, p) = run(naive);
        assert!(p.diagnostics.is_empty());
        assert_eq!(recs[0].kind, ObjectKind::AdPermission);
        assert_eq!(
            missing(&recs[0], "ExtendedRights"),
            "Microsoft.Exchange.Configuration.Tasks.ExtendedRightIdParameter[]"
        );
        assert_eq!(
            missing(&recs[0], "AccessRights"),
            "System.DirectoryServices.ActiveDirectoryRights[]"
        );
        assert_eq!(recs[1].value("ExtendedRights"), Some(&Value::Null));
        assert_eq!(text(&recs[1], "IsInherited"), "True");

        let joined = concat!(
            "#TYPE Selected.Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject\r\n",
            "\"Identity\",\"User\",\"ExtendedRights\",\"AccessRights\",\"Deny\",\"IsInherited\"\r\n",
            "\"EX01\\Default Frontend EX01\",\"NT AUTHORITY\\ANONYMOUS LOGON\",\"ms-Exch-SMTP-Accept-Any-Recipient\",\"ExtendedRight\",\"False\",\"False\"\r\n",
        );
        let (recs, _) = run(joined);
        assert_eq!(
            list(&recs[0], "ExtendedRights").0,
            vec!["ms-Exch-SMTP-Accept-Any-Recipient"]
        );
    }

    #[test]
    fn accepted_domains_and_servers() {
        let domains = concat!(
            "#TYPE Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain\r\n",
            "\"RunspaceId\",\"DomainName\",\"CatchAllRecipientID\",\"DomainType\",\"MatchSubDomains\",\"AddressBookEnabled\",\"Default\",\"EmailOnly\",\"ExternallyManaged\",\"AuthenticationType\",\"LiveIdInstanceType\",\"PendingRemoval\",\"PendingCompletion\",\"FederatedOrganizationLink\",\"MailFlowPartner\",\"OutboundOnly\",\"PendingFederatedAccountNamespace\",\"PendingFederatedDomain\",\"IsCoexistenceDomain\",\"PerimeterDuplicateDetected\",\"IsDefaultFederatedDomain\",\"EnableNego2Authentication\",\"InitialDomain\",\"AdminDisplayName\",\"ExchangeVersion\",\"Name\",\"DistinguishedName\",\"Identity\",\"Guid\",\"ObjectCategory\",\"ObjectClass\",\"WhenChanged\",\"WhenCreated\",\"WhenChangedUTC\",\"WhenCreatedUTC\",\"OrganizationId\",\"Id\",\"OriginatingServer\",\"IsValid\",\"ObjectState\"\r\n",
            "\"5f2c3b1a-0d4e-5c6f-8a9b-1c2d3e4f5a6b\",\"contoso.com\",\"\",\"Authoritative\",\"False\",\"True\",\"True\",\"False\",\"False\",\"\",\"\",\"False\",\"False\",\"\",\"\",\"False\",\"False\",\"False\",\"False\",\"False\",\"False\",\"False\",\"False\",\"\",\"0.1 (8.0.535.0)\",\"contoso.com\",\"CN=contoso.com,CN=Accepted Domains,CN=Transport Settings,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\",\"contoso.com\",\"3e1f0c7a-6a55-5b1e-b7d4-0f9e8d7c6b5a\",\"contoso.com/Configuration/Schema/ms-Exch-Accepted-Domain\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]\",\"11/8/2022 2:25:31 PM\",\"11/8/2022 2:25:31 PM\",\"11/8/2022 1:25:31 PM\",\"11/8/2022 1:25:31 PM\",\"\",\"contoso.com\",\"DC01.contoso.com\",\"True\",\"Unchanged\"\r\n",
            "\"5f2c3b1a-0d4e-5c6f-8a9b-1c2d3e4f5a6b\",\"*\",\"\",\"InternalRelay\",\"True\",\"False\",\"False\",\"False\",\"False\",\"\",\"\",\"False\",\"False\",\"\",\"\",\"False\",\"False\",\"False\",\"False\",\"False\",\"False\",\"False\",\"False\",\"\",\"0.1 (8.0.535.0)\",\"Relay Everything\",\"CN=Relay Everything,CN=Accepted Domains,CN=Transport Settings,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com\",\"Relay Everything\",\"7a6b5c4d-3e2f-5a1b-9c8d-7e6f5a4b3c2d\",\"contoso.com/Configuration/Schema/ms-Exch-Accepted-Domain\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]\",\"3/8/2023 2:22:31 PM\",\"3/8/2023 2:22:31 PM\",\"3/8/2023 1:22:31 PM\",\"3/8/2023 1:22:31 PM\",\"\",\"Relay Everything\",\"DC01.contoso.com\",\"True\",\"Unchanged\"\r\n",
        );
        let (recs, _) = run(domains);
        assert_eq!(recs.len(), 2);
        assert!(recs.iter().all(|r| r.kind == ObjectKind::AcceptedDomain));
        assert_eq!(text(&recs[1], "DomainName"), "*");
        assert_eq!(text(&recs[1], "DomainType"), "InternalRelay");
        assert_eq!(text(&recs[1], "Identity"), "Relay Everything");
        assert!(matches!(
            recs[1].value("ObjectClass"),
            Some(Value::Missing(_))
        ));

        let servers = concat!(
            "#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.ExchangeServer\r\n",
            "\"RunspaceId\",\"Name\",\"DataPath\",\"Domain\",\"Edition\",\"ExchangeLegacyDN\",\"ExchangeLegacyServerRole\",\"Fqdn\",\"CustomerFeedbackEnabled\",\"InternetWebProxy\",\"IsHubTransportServer\",\"IsClientAccessServer\",\"IsExchange2007OrLater\",\"IsEdgeServer\",\"IsMailboxServer\",\"IsE14OrLater\",\"IsE15OrLater\",\"IsProvisionedServer\",\"IsUnifiedMessagingServer\",\"IsFrontendTransportServer\",\"NetworkAddress\",\"OrganizationalUnit\",\"AdminDisplayVersion\",\"Site\",\"ServerRole\",\"IsExchangeTrialEdition\",\"IsExpiredExchangeTrialEdition\",\"Identity\"\r\n",
            "\"5f2c3b1a-0d4e-5c6f-8a9b-1c2d3e4f5a6b\",\"EX01\",\"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Mailbox\",\"contoso.com\",\"Standard\",\"/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn=EX01\",\"0\",\"EX01.contoso.com\",\"\",\"\",\"True\",\"True\",\"True\",\"False\",\"True\",\"True\",\"True\",\"False\",\"False\",\"True\",\"Microsoft.Exchange.Data.NetworkAddressCollection\",\"contoso.com/EX01\",\"Version 15.2 (Build 1118.7)\",\"contoso.com/Configuration/Sites/Default-First-Site-Name\",\"Mailbox, ClientAccess\",\"False\",\"False\",\"EX01\"\r\n",
        );
        let (recs, _) = run(servers);
        assert_eq!(recs[0].kind, ObjectKind::ExchangeServer);
        assert_eq!(
            text(&recs[0], "AdminDisplayVersion"),
            "Version 15.2 (Build 1118.7)"
        );
        assert_eq!(text(&recs[0], "ServerRole"), "Mailbox, ClientAccess");
        assert_eq!(
            missing(&recs[0], "NetworkAddress"),
            "Microsoft.Exchange.Data.NetworkAddressCollection"
        );
        assert_eq!(text(&recs[0], "Domain"), "contoso.com");
    }

    #[test]
    fn type_prefixes_and_kind_sources() {
        let body = "\"Identity\",\"User\"\r\n\"EX01\\Relay\",\"NT AUTHORITY\\ANONYMOUS LOGON\"\r\n";
        // Identity,User alone do not tell the kind; the type name does.
        for t in [
            "Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject",
            "Deserialized.Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject",
            "Selected.Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject",
            "Selected.Deserialized.Microsoft.Exchange.Management.RecipientTasks.ADAcePresentationObject",
        ] {
            let (recs, p) = run(&format!("#TYPE {t}\r\n{body}"));
            assert_eq!(recs.len(), 1, "{t}");
            assert_eq!(recs[0].kind, ObjectKind::AdPermission, "{t}");
            assert_eq!(recs[0].line, 3);
            assert_eq!(p.unknown_objects, 0);
        }
        // A generic type name: the columns decide.
        let t = "#TYPE System.Management.Automation.PSCustomObject\r\n\"Name\",\"RemoteIPRanges\"\r\n\"Relay\",\"10.0.0.1\"\r\n";
        let (recs, _) = run(t);
        assert_eq!(recs[0].kind, ObjectKind::ReceiveConnector);
        // Neither tells: counted, skipped, one warning at the header.
        let (recs, p) = run(&format!(
            "#TYPE System.Management.Automation.PSCustomObject\r\n{body}{body}"
        ));
        assert!(recs.is_empty());
        assert_eq!(p.objects, 3);
        assert_eq!(p.unknown_objects, 3);
        assert_eq!(p.first_unknown_line, Some(3));
        let w = warnings(&p);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, Some(2));
        // A header row "Identity","User" in the middle of the data is just a row.
        assert!(w[0].message.contains("Identity, User"), "{}", w[0].message);
    }

    #[test]
    fn other_exchange_type_is_skipped_even_with_telling_columns() {
        let t = concat!(
            "#TYPE Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.SmtpSendConnectorConfig\r\n",
            "\"Identity\",\"AddressSpaces\",\"SmartHosts\",\"AuthMechanism\"\r\n",
            "\"Outbound\",\"Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.AddressSpace]\",\"\",\"None\"\r\n",
        );
        let (recs, p) = run(t);
        assert!(recs.is_empty());
        assert_eq!(p.objects, 1);
        assert_eq!(p.unknown_objects, 1);
        let w = warnings(&p);
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("SmtpSendConnectorConfig"));
    }

    #[test]
    fn quoted_cells_with_quotes_and_line_breaks() {
        let t = concat!(
            "#TYPE Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector\r\n",
            "\"Identity\",\"Comment\",\"RemoteIPRanges\",\"Banner\"\r\n",
            "\"EX01\\Relay EX01\",\"Copiers \"\"MFP-2F\"\" and \"\"MFP-3F\"\"\r\nticket 4711\r\nsee wiki\",\"10.1.1.25;10.1.1.26\",\"220 \"\"mail\"\", ready\"\r\n",
            "\"EX01\\Relay2 EX01\",\"\",\"10.1.1.27\",\"\"\r\n",
        );
        let (recs, p) = run(t);
        assert!(p.diagnostics.is_empty());
        let r = &recs[0];
        assert_eq!(r.line, 3);
        assert_eq!(
            text(r, "Comment"),
            "Copiers \"MFP-2F\" and \"MFP-3F\"\r\nticket 4711\r\nsee wiki"
        );
        assert_eq!(r.get("Comment").unwrap().line, 3);
        // Cells after the comment start two lines further down.
        assert_eq!(r.get("RemoteIPRanges").unwrap().line, 5);
        assert_eq!(text(r, "Banner"), "220 \"mail\", ready");
        assert_eq!(recs[1].line, 6);
    }

    #[test]
    fn tab_delimited_and_lf() {
        let t = "\"Name\"\t\"DomainName\"\t\"DomainType\"\n\"contoso.com\"\t\"contoso.com\"\t\"Authoritative\"\n";
        assert!(looks_like_csv(t));
        let (recs, _) = run(t);
        assert_eq!(recs[0].kind, ObjectKind::AcceptedDomain);
        assert_eq!(text(&recs[0], "DomainType"), "Authoritative");
    }

    #[test]
    fn ragged_rows_are_read_with_a_warning() {
        let t = concat!(
            "\"Identity\",\"RemoteIPRanges\",\"PermissionGroups\"\r\n",
            "\"EX01\\A\",\"10.0.0.1\"\r\n",
            "\"EX01\\B\",\"10.0.0.2\",\"AnonymousUsers\",\"junk\"\r\n",
            "\"EX01\\C\",\"10.0.0.3\",\"AnonymousUsers\"\r\n",
            "   \r\n",
        );
        let (recs, p) = run(t);
        assert_eq!(recs.len(), 3);
        assert_eq!(p.objects, 3);
        assert!(recs[0].value("PermissionGroups").is_none());
        assert_eq!(recs[1].props.len(), 3);
        let w = warnings(&p);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].line, w[1].line), (Some(2), Some(3)));
        assert!(w[0].message.contains("malformed CSV"));
    }

    #[test]
    fn bom_and_blank_lines_before_the_type_line() {
        let t = "\u{feff}\r\n#TYPE Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector\r\n\"Identity\",\"Bindings\"\r\n\"EX01\\A\",\"0.0.0.0:25\"\r\n";
        assert!(looks_like_csv(t));
        let (recs, _) = run(t);
        assert_eq!(recs[0].line, 4);
        let t = "\u{feff}\"Identity\",\"Bindings\"\r\n\"EX01\\A\",\"0.0.0.0:25\"\r\n";
        let (recs, _) = run(t);
        assert_eq!(recs[0].props[0].name, "Identity");
        assert_eq!(recs[0].line, 2);
    }

    #[test]
    fn saved_again_by_excel() {
        // Opened in a German Excel and saved as CSV: `;`, quotes only where needed, the
        // #TYPE line padded with delimiters.
        let t = concat!(
            "#TYPE Selected.Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector;;;\r\n",
            "Identity;RemoteIPRanges;PermissionGroups;AuthMechanism\r\n",
            "EX01\\Relay EX01;10.1.1.25;10.1.1.26;AnonymousUsers, Custom;Tls\r\n",
            "EX01\\Relay2 EX01;\"10.1.1.27\";\"AnonymousUsers; Custom\";Tls\r\n",
        );
        assert!(looks_like_csv(t));
        let (recs, p) = run(t);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].kind, ObjectKind::ReceiveConnector);
        // An unquoted `;` inside a cell is a delimiter: the row is ragged, and says so.
        assert_eq!(warnings(&p).len(), 1);
        assert_eq!(warnings(&p)[0].line, Some(3));
        assert_eq!(text(&recs[1], "PermissionGroups"), "AnonymousUsers; Custom");
        assert_eq!(list(&recs[1], "RemoteIPRanges").0, vec!["10.1.1.27"]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let b = b"\"Identity\",\"User\",\"Deny\"\n\"EX01\\A\",\"NT-AUTORIT\xC4T\\ANONYMOUS-ANMELDUNG\",\"False\"\n";
        let mut recs = Vec::new();
        let p = parse_into(&b[..], "x.csv", &mut |r| recs.push(r)).unwrap();
        assert_eq!(
            text(&recs[0], "User"),
            "NT-AUTORIT\u{fffd}T\\ANONYMOUS-ANMELDUNG"
        );
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].level, Level::Info);
    }

    #[test]
    fn not_csv_is_an_error() {
        for t in [
            "",
            "\r\n\r\n",
            "#TYPE Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector\r\n",
            "Identity : EX01\\Relay\nRemoteIPRanges : {10.0.0.1}\n",
            "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\n",
            "12,34,56\n1,2,3\n",
            &"x".repeat(1 << 21),
        ] {
            let e = parse_into(t.as_bytes(), "x.csv", &mut |_| {}).unwrap_err();
            assert_eq!(e.file, "x.csv");
            assert!(e.message.starts_with("not a CSV export"), "{t:?}: {e}");
        }
    }

    #[test]
    fn detection() {
        assert!(looks_like_csv(RC_FULL));
        assert!(looks_like_csv(
            "#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.ExchangeServer\r\n"
        ));
        // The preview may stop inside a long header.
        let cut = &RC_FULL[RC_FULL.find('\n').unwrap() + 1..][..300];
        assert!(looks_like_csv(cut));
        assert!(looks_like_csv(
            "\"Identity\";\"User\";\"ExtendedRights\"\r\n\"EX01\\A\";\"x\";\"y\"\r\n"
        ));
        for t in [
            "",
            "#TYPE\r\n",
            "#TYPEX Foo\r\n",
            "\n\nRunspaceId     : aface18d\nRemoteIPRanges : {10.0.0.1}\n",
            "Identity                   Bindings          Enabled\n--------                   --------          -------\nEX01\\Relay  {0.0.0.0:25}  True\n",
            "RemoteIPRanges\n--------------\n{10.0.0.1}\n",
            "<Objs Version=\"1.1.0.1\">",
            "\"Name\",\"Guid\"\r\n\"a\",\"b\"\r\n",
            "Lorem ipsum, dolor sit amet; consectetur\n",
            "PS C:\\> Get-ReceiveConnector | Export-Csv rc.csv\n",
        ] {
            assert!(!looks_like_csv(t), "{t:?}");
        }
    }

    #[test]
    fn type_names() {
        for t in [
            "Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPRange]",
            "Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPBinding]",
            "Microsoft.Exchange.Data.MultiValuedProperty`1[[Microsoft.Exchange.Data.IPRange, Microsoft.Exchange.Data, Version=15.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35]]",
            "Deserialized.Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Data.IPRange]",
            "Microsoft.Exchange.Configuration.Tasks.ExtendedRightIdParameter[]",
            "System.DirectoryServices.ActiveDirectoryRights[]",
            "System.Object[]",
            "System.String[]",
            "System.Byte[,]",
            "System.Collections.ArrayList",
            "Deserialized.System.Collections.ArrayList",
            "Microsoft.Exchange.Data.NetworkAddressCollection",
            "System.Collections.Generic.List`1[System.String]",
            "System.Collections.Generic.Dictionary`2[System.String,System.Object]",
        ] {
            assert!(is_type_name(t), "{t}");
        }
        for v in [
            "Contoso.Relay",
            "EX01\\Default Frontend EX01",
            "0.0.0.0:25",
            "[::]:25",
            "Version 15.2 (Build 1118.7)",
            "ms-Exch-SMTP-Accept-Any-Recipient",
            "36 MB (37,748,736 bytes)",
            "ExtendedRight",
            "System",
            "System.Object[",
            "System.Object[]x",
            "Foo.Bar`x[a]",
            "contoso.com",
            "mail.contoso.com[]",
            "Microsoft.Exchange.Data.ExchangeObjectVersion",
            "`1[]",
            "",
        ] {
            assert!(!is_type_name(v), "{v}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn never_panics(s in "[ -~\t\r\n\"';,`\\[\\]{}\u{0}\u{feff}é…漢]{0,600}") {
            let _ = looks_like_csv(&s);
            let _ = parse_into(s.as_bytes(), "p.csv", &mut |_| {});
            let with_header = format!("\"Identity\",\"RemoteIPRanges\",\"User\"\n{s}");
            let _ = parse_into(with_header.as_bytes(), "p.csv", &mut |_| {});
        }

        #[test]
        fn never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_into(&b[..], "p.csv", &mut |_| {});
            let _ = looks_like_csv(&String::from_utf8_lossy(&b));
        }

        /// Rows written the way Export-Csv writes them come back cell for cell, on the line
        /// they start on.
        #[test]
        fn export_csv_round_trip(
            rows in prop::collection::vec(
                prop::collection::vec("[ -~\r\n]{0,30}", 3),
                0..12,
            ),
            delim in prop_oneof![Just(','), Just(';'), Just('\t')],
            type_line in any::<bool>(),
        ) {
            let names = ["Identity", "Comment", "AuthMechanism"];
            let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            let d = delim.to_string();
            let mut t = String::new();
            if type_line {
                t.push_str("#TYPE Selected.Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector\r\n");
            }
            t.push_str(&names.iter().map(|n| q(n)).collect::<Vec<_>>().join(&d));
            t.push_str("\r\n");
            let mut lines = Vec::new();
            for r in &rows {
                lines.push(t.matches('\n').count() as u32 + 1);
                t.push_str(&r.iter().map(|c| q(c)).collect::<Vec<_>>().join(&d));
                t.push_str("\r\n");
            }
            let mut recs = Vec::new();
            let p = parse_into(t.as_bytes(), "p.csv", &mut |r| recs.push(r)).unwrap();
            prop_assert_eq!(p.objects, rows.len());
            prop_assert_eq!(recs.len(), rows.len());
            for ((rec, row), line) in recs.iter().zip(&rows).zip(&lines) {
                prop_assert_eq!(rec.line, *line);
                for (name, cell) in names.iter().zip(row) {
                    let v = rec.value(name).unwrap();
                    if cell.trim().is_empty() {
                        prop_assert_eq!(v, &Value::Null);
                    } else if !is_type_name(cell.trim()) {
                        prop_assert_eq!(v, &Value::Text(cell.clone()));
                    }
                }
            }
        }
    }
}
