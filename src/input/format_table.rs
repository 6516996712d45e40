//! Format-Table text (default table views, `ft Col1,Col2`, with or without `-AutoSize`) to
//! records.
//!
//! Takes already-decoded UTF-8 text from a [`BufRead`] and reads it line by line (memory grows
//! with the widest table header, not with the file); each table row becomes one [`Record`]
//! sent to a sink as soon as the row is read. A file may hold several tables, each after its
//! own prompt and echoed command, as a console transcript does.
//!
//! The shape (FORMATS.md §3): a header row, a row of dashes under each column label, then one
//! row per object, then blank lines. Column boundaries come from the dash row: each run of `-`
//! starts a column, a cell spans from its column's start to the next column's start, and the
//! last column runs to the end of the line. PowerShell draws as many dashes as the label is
//! long (never more than the column is wide) and aligns them like the label, so a
//! right-aligned column (numbers, some booleans) may show values that start left of its
//! dashes: a row whose text runs across a column start without the separating space is read
//! with that column starting after the last space before it.
//!
//! Values: cells are trimmed; an empty cell is `Null`; a cell cut at the column width ends in
//! `...` (Windows PowerShell) or `…` (PowerShell 7) and becomes `Cut(shown prefix)`; a braced
//! cell is a collection: `{a, b}` a `List`, `{a, b, c, d...}` a `List` cut by
//! `$FormatEnumerationLimit` (items whole), `{a, b, c...` (no closing brace: cut at the column
//! width) a cut `List` without its last, possibly partial, item. Markdown-doubled backslashes
//! (`EX01\\Relay`) are read as single ones.
//!
//! Names: header labels are property names, except the labels of Exchange's default
//! Get-ADPermission view (`Identity User Deny Inherited [Rights]`: `Inherited` is
//! `IsInherited`, the 2007 `Rights` column shows `ExtendedRights`) and labels cut at the column
//! width (`ProtocolLoggi...`), which are completed when exactly one known property name starts
//! with them. The object kind comes from the header names
//! ([`kind_from_property_names`]) or, when they do not tell, from the echoed command
//! ([`context_from_command`]). Rows of a table without an `Identity` column get the identity
//! the command names (`Get-ADPermission "EX01\Relay" | ft User,ExtendedRights`), and a cut
//! `Identity` cell that the command's identity starts with is completed from it; when the
//! command names no single connector the rows keep no `Identity` (the rules report such
//! entries as unattributable).
//!
//! Console junk is skipped: prompts and echoed commands (kept in [`Parsed::commands`]),
//! `>>` continuation lines, `WARNING:` lines (info diagnostics; PowerShell's "columns do not
//! fit into the display and were removed" is a warning naming the columns the `ft` command
//! asked for and the table lacks), PowerShell
//! error records, `Start-Transcript` banners, ANSI colours. Other text outside a table is
//! reported as an info diagnostic. Forum and mail artifacts (a blank line after every line,
//! code fences, quote markers, entities) are undone before, by the paste front end
//! ([`crate::input::paste`]).
//!
//! What it does not do: decode bytes, interpret values, join rows wrapped by `ft -Wrap`, or
//! read headers PowerShell 7 wraps onto several lines.

use crate::diag::{Diagnostic, InputError};
use crate::input::detect::kind_from_property_names;
use crate::input::format_list::Parsed;
use crate::input::lines::{clip, split_items, strip_ansi};
use crate::input::record::{ObjectKind, Record, Value};
use crate::input::transcript::{
    context_from_command, format_columns, prompt_command, CommandContext,
};
use std::io::BufRead;

/// Whether the start of a file looks like Format-Table output: a header line followed (at
/// most one blank line later) by a line of dash runs under its labels, within the first
/// lines, possibly after a prompt, an echoed command or a transcript banner.
pub fn looks_like_table(preview: &str) -> bool {
    let mut prev: Option<&str> = None;
    let mut blanks = 0u32;
    for (i, raw) in preview.lines().enumerate() {
        if i >= 400 {
            break;
        }
        let line = raw.trim_end_matches('\r');
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        if line.trim().is_empty() {
            blanks += 1;
            continue;
        }
        if prompt_command(line).is_some() {
            prev = None;
            continue;
        }
        if let Some(runs) = dash_runs(line) {
            if let Some(h) = prev {
                if blanks <= 1 && header_fits(&Cells::new(h), &runs) {
                    return true;
                }
            }
        }
        prev = Some(line);
        blanks = 0;
    }
    false
}

/// Parses Format-Table text into records (collected; see [`parse_into`] to stream).
pub fn parse<R: BufRead>(reader: R, file: &str) -> Result<Parsed, InputError> {
    let mut records = Vec::new();
    let mut parsed = parse_into(reader, file, &mut |r| records.push(r))?;
    parsed.records = records;
    Ok(parsed)
}

/// Streams each row's record to `sink` as soon as it is read; `Parsed::records` stays empty.
///
/// Returns `Err` when the input cannot be read or holds no table at all (no header row with
/// a row of dashes under it): the file is not Format-Table output.
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
/// How many per-table warnings a file gets before they are summarised.
const MAX_TABLE_WARNINGS: u32 = 50;

/// Property names the header labels are completed to when cut (`ProtocolLoggi...`).
const KNOWN_NAMES: [&str; 36] = [
    "Identity",
    "Name",
    "Server",
    "Enabled",
    "Bindings",
    "RemoteIPRanges",
    "PermissionGroups",
    "AuthMechanism",
    "ProtocolLoggingLevel",
    "RequireTLS",
    "TransportRole",
    "Fqdn",
    "Comment",
    "Banner",
    "TlsCertificateName",
    "DomainSecureEnabled",
    "MaxMessageSize",
    "AdvertiseClientSettings",
    "User",
    "ExtendedRights",
    "AccessRights",
    "Deny",
    "IsInherited",
    "InheritanceType",
    "DomainName",
    "DomainType",
    "Default",
    "MatchSubDomains",
    "AddressBookEnabled",
    "AdminDisplayVersion",
    "ServerRole",
    "Site",
    "Edition",
    "IsHubTransportServer",
    "IsFrontendTransportServer",
    "ExchangeVersion",
];

/// A line as screen cells: PowerShell lays tables out in display cells, and East Asian wide
/// characters take two.
struct Cells {
    chars: Vec<char>,
    /// The cell each char starts at.
    pos: Vec<usize>,
}

impl Cells {
    fn new(s: &str) -> Cells {
        let mut chars = Vec::with_capacity(s.len());
        let mut pos = Vec::with_capacity(s.len());
        let mut p = 0usize;
        for c in s.chars() {
            chars.push(c);
            pos.push(p);
            p = p.saturating_add(cell_width(c));
        }
        Cells { chars, pos }
    }

    /// Index of the first char starting at or after cell `col`.
    fn index(&self, col: usize) -> usize {
        self.pos.partition_point(|&p| p < col)
    }

    /// The chars starting in cells `[from, to)` (`to = None`: to the end).
    fn slice(&self, from: usize, to: Option<usize>) -> String {
        let a = self.index(from);
        let b = to.map_or(self.chars.len(), |t| self.index(t)).max(a);
        self.chars[a..b].iter().collect()
    }

    /// The char covering cell `col`, if any.
    fn at(&self, col: usize) -> Option<char> {
        let i = self.pos.partition_point(|&p| p <= col);
        if i == 0 {
            return None;
        }
        let c = self.chars[i - 1];
        (self.pos[i - 1] + cell_width(c) > col).then_some(c)
    }

    fn ink_at(&self, col: usize) -> bool {
        self.at(col).is_some_and(|c| !c.is_whitespace())
    }
}

/// Display width of a char in a console: 2 for East Asian wide and fullwidth characters.
fn cell_width(c: char) -> usize {
    let u = c as u32;
    let wide = (0x1100..=0x115F).contains(&u)
        || ((0x2E80..=0xA4CF).contains(&u) && u != 0x303F)
        || (0xAC00..=0xD7A3).contains(&u)
        || (0xF900..=0xFAFF).contains(&u)
        || (0xFE30..=0xFE4F).contains(&u)
        || (0xFF00..=0xFF60).contains(&u)
        || (0xFFE0..=0xFFE6).contains(&u)
        || (0x20000..=0x3FFFD).contains(&u);
    if wide {
        2
    } else {
        1
    }
}

/// The runs of a dash row, as cell ranges `[start, end)`; `None` when the line is anything
/// else than dashes and spaces.
fn dash_runs(line: &str) -> Option<Vec<(usize, usize)>> {
    let t = line.trim_end();
    if t.is_empty() || !t.bytes().all(|b| b == b'-' || b == b' ') {
        return None;
    }
    let b = t.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            let s = i;
            while i < b.len() && b[i] == b'-' {
                i += 1;
            }
            runs.push((s, i));
        } else {
            i += 1;
        }
    }
    Some(runs)
}

/// A header fits a dash row when every label sits over its dashes: each run has text above
/// it and no text of the header lies outside the runs. A single column needs a one-word
/// label exactly as long as its dashes (a Markdown heading underlined with dashes is not a
/// table).
fn header_fits(h: &Cells, runs: &[(usize, usize)]) -> bool {
    if runs.is_empty() || h.chars.iter().all(|c| c.is_whitespace()) {
        return false;
    }
    if runs.len() == 1 {
        let label: String = h.chars.iter().collect();
        let label = label.trim();
        let one_word = label.chars().count() == runs[0].1 - runs[0].0
            && label.starts_with(|c: char| c.is_ascii_alphabetic())
            && label.chars().all(|c| c.is_ascii_alphanumeric());
        if !one_word {
            return false;
        }
    }
    for (i, c) in h.chars.iter().enumerate() {
        if c.is_whitespace() {
            continue;
        }
        let p = h.pos[i];
        if !runs.iter().any(|&(a, b)| a <= p && p < b) {
            return false;
        }
    }
    runs.iter().all(|&(a, b)| (a..b).any(|col| h.ink_at(col)))
}

/// The property a header label stands for.
fn property_name(label: &str, permission_view: bool) -> String {
    let label = label.trim();
    let (shown, cut) = strip_ellipsis_end(label);
    if cut {
        let matches: Vec<&str> = KNOWN_NAMES
            .iter()
            .copied()
            .filter(|n| {
                n.len() > shown.len()
                    && n.get(..shown.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(shown))
            })
            .collect();
        if shown.len() >= 3 && matches.len() == 1 {
            return matches[0].to_string();
        }
        return label.to_string();
    }
    if permission_view {
        if label.eq_ignore_ascii_case("Inherited") {
            return "IsInherited".to_string();
        }
        if label.eq_ignore_ascii_case("Rights") {
            return "ExtendedRights".to_string();
        }
    }
    label.to_string()
}

/// `...` or `…` at the end: (text before it, true).
fn strip_ellipsis_end(s: &str) -> (&str, bool) {
    if let Some(x) = s.strip_suffix("...") {
        (x, true)
    } else if let Some(x) = s.strip_suffix('\u{2026}') {
        (x, true)
    } else {
        (s, false)
    }
}

/// A cell's value (the cell already trimmed).
fn classify(t: &str) -> Value {
    if t.is_empty() {
        return Value::Null;
    }
    if let Some(body) = t.strip_prefix('{') {
        if let Some(inner) = body.strip_suffix('}') {
            let (inner, truncated) = strip_ellipsis_end(inner.trim_end());
            return Value::List {
                items: split_items(inner),
                truncated,
            };
        }
        let (inner, cut) = strip_ellipsis_end(body);
        if cut {
            // Cut at the column width: the last item shown may itself be cut.
            let whole_last = inner.trim_end().ends_with(',');
            let mut items = split_items(inner.trim_end().trim_end_matches(','));
            if !whole_last {
                items.pop();
            }
            return Value::List {
                items,
                truncated: true,
            };
        }
        return Value::Text(t.to_string());
    }
    let (shown, cut) = strip_ellipsis_end(t);
    if cut {
        return Value::Cut(shown.to_string());
    }
    if t.starts_with("...") || t.starts_with('\u{2026}') {
        // A right-aligned cell cut at its head (`...1234`): only its end is shown.
        return Value::Cut(String::new());
    }
    Value::Text(t.to_string())
}

/// The words PowerShell starts warning, verbose and debug lines with (English, German, French,
/// Spanish, Italian, Portuguese, Dutch, Swedish, Danish/Norwegian, Finnish).
const STREAM_WORDS: [&str; 12] = [
    "WARNING",
    "VERBOSE",
    "DEBUG",
    "WARNUNG",
    "AVERTISSEMENT",
    "ADVERTENCIA",
    "AVVISO",
    "AVISO",
    "WAARSCHUWING",
    "VARNING",
    "ADVARSEL",
    "VAROITUS",
];

/// `WARNING: ...`, `VERBOSE: ...` and their translations: an all-capital word of 4+ letters,
/// a colon and a space at the start of a line.
fn stream_message(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let n = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if n < 4 {
        return None;
    }
    let rest = line[n..].trim_start_matches(' ');
    // `WARNING: text` (a colon, then a space or nothing); not a cell such as `ABCD:1`.
    let after = rest.strip_prefix(':')?;
    (after.is_empty() || after.starts_with(' ')).then(|| &line[..n])
}

/// A line inside a `Start-Transcript` banner: its title (`Windows PowerShell transcript
/// start`) or a `Label: value` line (`Start time: 20230301091512`, `Host Application: ...`).
fn is_banner_line(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    if lower.contains("transcript start") || lower.contains("transcript end") {
        return true;
    }
    let Some((label, rest)) = line.split_once(':') else {
        return false;
    };
    (rest.is_empty() || rest.starts_with(' '))
        && label.len() <= 40
        && label.starts_with(|c: char| c.is_ascii_uppercase())
        && label.chars().all(|c| c.is_ascii_alphabetic() || c == ' ')
}

/// `Get-ADPermission : The operation couldn't be performed ...`: a PowerShell error record.
fn is_error_record(line: &str) -> bool {
    const VERBS: [&str; 14] = [
        "Get", "Set", "New", "Remove", "Add", "Format", "Select", "Where", "ForEach", "Export",
        "Out", "Start", "Stop", "Import",
    ];
    let Some((name, _)) = line.split_once(" : ") else {
        return false;
    };
    let Some((verb, noun)) = name.split_once('-') else {
        return false;
    };
    VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb))
        && noun.starts_with(|c: char| c.is_ascii_uppercase())
        && noun.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// A line kept back one step: it is a header if the next line is a dash row.
struct Held {
    line: u32,
    text: String,
    blanks_before: u32,
}

struct Column {
    start: usize,
    name: String,
}

struct Table {
    columns: Vec<Column>,
    kind: Option<ObjectKind>,
    header_line: u32,
    has_identity: bool,
    /// The connector the echoed command names, for rows without an Identity column.
    identity: Option<String>,
    /// The principal the echoed `Get-ADPermission -User` names, for rows without a User column.
    user: Option<String>,
    /// The command before the table, if any.
    command: Option<String>,
    rows: usize,
    /// Columns with cells cut at the column width.
    cut_columns: Vec<String>,
    identity_completed: usize,
}

struct Parser<'f, 's> {
    file: &'f str,
    line_no: u32,
    sink: &'s mut dyn FnMut(Record),
    diagnostics: Vec<Diagnostic>,
    commands: Vec<(u32, String)>,
    context: CommandContext,
    after_prompt: bool,
    in_banner: bool,
    in_error: bool,
    blanks: u32,
    held: Option<Held>,
    table: Option<Table>,
    tables: u32,
    objects: usize,
    unknown_objects: usize,
    first_unknown_line: Option<u32>,
    backslashes_reported: bool,
    ignored_lines: u32,
    message_lines: u32,
    table_warnings: u32,
    /// PowerShell said it removed columns from the table that follows: (line, message).
    columns_removed: Option<(u32, String)>,
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
            diagnostics: Vec::new(),
            commands: Vec::new(),
            context: CommandContext::default(),
            after_prompt: false,
            in_banner: false,
            in_error: false,
            blanks: 0,
            held: None,
            table: None,
            tables: 0,
            objects: 0,
            unknown_objects: 0,
            first_unknown_line: None,
            backslashes_reported: false,
            ignored_lines: 0,
            message_lines: 0,
            table_warnings: 0,
            columns_removed: None,
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
        let cleaned;
        let line = if line.contains('\x1b') {
            cleaned = strip_ansi(line);
            cleaned.as_str()
        } else {
            line
        };
        let ln = self.line_no;
        let trimmed = line.trim();

        // Start-Transcript banners: a line of asterisks opens and closes each block.
        let stars = trimmed.len() >= 10 && trimmed.bytes().all(|b| b == b'*');
        if self.in_banner {
            if stars {
                self.in_banner = false;
                return;
            }
            if is_banner_line(trimmed) {
                return;
            }
            // Not a transcript banner after all (a row of asterisks in a note).
            self.in_banner = false;
        }
        if trimmed.is_empty() {
            self.blanks = self.blanks.saturating_add(1);
            self.after_prompt = false;
            self.in_error = false;
            return;
        }
        if stars {
            self.flush_held();
            self.end_table();
            self.in_banner = true;
            return;
        }
        if trimmed.starts_with("Transcript started, output file is")
            || trimmed.starts_with("Transcript stopped, output file is")
        {
            return;
        }
        if let Some(cmd) = prompt_command(line) {
            self.flush_held();
            self.end_table();
            self.report_removed_columns(None);
            self.in_error = false;
            if !cmd.is_empty() {
                self.commands.push((ln, cmd.to_string()));
            }
            self.context = context_from_command(cmd);
            self.after_prompt = true;
            self.blanks = 0;
            return;
        }
        if self.after_prompt {
            if let Some(more) = trimmed.strip_prefix(">>") {
                if let Some((_, cmd)) = self.commands.last_mut() {
                    let more = more.trim();
                    if !more.is_empty() {
                        cmd.push(' ');
                        cmd.push_str(more);
                    }
                    self.context = context_from_command(cmd);
                }
                return;
            }
        }
        self.after_prompt = false;
        if let Some(word) = stream_message(line) {
            // Between rows only the usual words count: a cell may read `ABCD: x`.
            let among_rows = self.table.as_ref().is_some() && self.blanks == 0;
            if !among_rows || STREAM_WORDS.contains(&word) {
                self.flush_held();
                self.stream_message(ln, word, trimmed);
                return;
            }
        }
        if is_error_record(trimmed) {
            self.flush_held();
            self.end_table();
            self.in_error = true;
            self.diagnostics.push(Diagnostic::warning(
                self.file,
                Some(ln),
                format!(
                    "PowerShell error in the export (output may be incomplete): {}",
                    clip(trimmed, 200)
                ),
            ));
            return;
        }
        if self.in_error {
            // `At line:1 char:1`, `+ CategoryInfo ...`: the rest of the error record.
            return;
        }
        if let Some(runs) = dash_runs(line) {
            if self.blanks == 0 {
                if let Some(h) = self.held.take() {
                    let header = Cells::new(&h.text);
                    if header_fits(&header, &runs) {
                        self.end_table();
                        self.start_table(&header, &runs, h.line);
                        self.blanks = 0;
                        return;
                    }
                    self.held = Some(h);
                }
            }
        }
        self.flush_held();
        self.held = Some(Held {
            line: ln,
            text: line.to_string(),
            blanks_before: self.blanks,
        });
        self.blanks = 0;
    }

    fn stream_message(&mut self, ln: u32, word: &str, text: &str) {
        if text.contains("do not fit into the display") {
            // Reported with the table it applies to, which can tell the columns.
            self.report_removed_columns(None);
            self.columns_removed = Some((ln, clip(text, 200)));
            return;
        }
        if word == "VERBOSE" || word == "DEBUG" {
            return;
        }
        self.message_lines += 1;
        if self.message_lines <= MAX_NOTES {
            self.diagnostics.push(Diagnostic::info(
                self.file,
                Some(ln),
                format!("PowerShell message in the export: {}", clip(text, 200)),
            ));
        }
    }

    /// Reports a pending "columns do not fit" message; `labels`: the header of the table it
    /// applies to (the removed columns are those the `ft` command names and the header lacks).
    fn report_removed_columns(&mut self, labels: Option<&[String]>) {
        let Some((ln, text)) = self.columns_removed.take() else {
            return;
        };
        let removed: Option<Vec<String>> = labels.and_then(|labels| {
            let asked = format_columns(self.commands.last().map(|(_, c)| c.as_str())?)?;
            Some(
                asked
                    .into_iter()
                    .filter(|a| !labels.iter().any(|l| l.eq_ignore_ascii_case(a)))
                    .collect(),
            )
        });
        let msg = match removed {
            Some(r) if !r.is_empty() => format!(
                "PowerShell removed the column(s) {} from the table because they did not fit the console width: those properties are not in the export",
                r.join(", ")
            ),
            _ => format!(
                "PowerShell removed table columns that did not fit the console width, so those properties are not in the export: {text}"
            ),
        };
        self.diagnostics
            .push(Diagnostic::warning(self.file, Some(ln), msg));
    }

    /// Decides what the held line was: a row of the open table, or stray text.
    fn flush_held(&mut self) {
        let Some(h) = self.held.take() else {
            return;
        };
        let in_table = self.table.as_ref().is_some() && h.blanks_before == 0;
        if in_table {
            self.row(h.line, &h.text);
            return;
        }
        self.end_table();
        self.ignored_lines += 1;
        if self.ignored_lines <= MAX_NOTES {
            self.diagnostics.push(Diagnostic::info(
                self.file,
                Some(h.line),
                format!(
                    "ignored text outside any table: {}",
                    clip(h.text.trim(), 80)
                ),
            ));
        }
    }

    fn start_table(&mut self, header: &Cells, runs: &[(usize, usize)], line: u32) {
        self.tables += 1;
        let mut bounds: Vec<usize> = runs.iter().map(|r| r.0).collect();
        bounds.push(usize::MAX);
        let labels: Vec<String> = (0..runs.len())
            .map(|i| {
                let to = (bounds[i + 1] != usize::MAX).then_some(bounds[i + 1]);
                header.slice(bounds[i], to).trim().to_string()
            })
            .collect();
        self.report_removed_columns(Some(&labels));
        let has = |n: &str| labels.iter().any(|l| l.eq_ignore_ascii_case(n));
        let permission_view = has("User") && (has("Deny") || has("Inherited"));
        let columns: Vec<Column> = runs
            .iter()
            .zip(&labels)
            .map(|(r, l)| Column {
                start: r.0,
                name: property_name(l, permission_view),
            })
            .collect();
        let kind =
            kind_from_property_names(columns.iter().map(|c| c.name.as_str())).or(self.context.kind);
        let has_identity = columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case("Identity"));
        let identity = match kind {
            Some(k @ (ObjectKind::ReceiveConnector | ObjectKind::AdPermission))
                if self.context.kind == Some(k) =>
            {
                self.context.connector_identity().map(str::to_string)
            }
            _ => None,
        };
        let command = self.commands.last().map(|(_, c)| c.clone());
        if kind == Some(ObjectKind::AdPermission) && !has_identity && identity.is_none() {
            self.table_warning(
                line,
                format!(
                    "the permission table at line {line} has no Identity column and {}: its entries cannot be attributed to a connector",
                    match &command {
                        Some(c) => format!(
                            "its command ({}) does not name one connector",
                            clip(c, 120)
                        ),
                        None => "no echoed command names the connector".to_string(),
                    }
                ),
            );
        }
        let user = match kind {
            Some(ObjectKind::AdPermission)
                if self.context.kind == kind
                    && !columns.iter().any(|c| c.name.eq_ignore_ascii_case("User")) =>
            {
                self.context.user.clone()
            }
            _ => None,
        };
        self.table = Some(Table {
            columns,
            kind,
            header_line: line,
            has_identity,
            identity,
            user,
            command,
            rows: 0,
            cut_columns: Vec::new(),
            identity_completed: 0,
        });
    }

    fn table_warning(&mut self, line: u32, msg: String) {
        self.table_warnings += 1;
        if self.table_warnings <= MAX_TABLE_WARNINGS {
            self.diagnostics
                .push(Diagnostic::warning(self.file, Some(line), msg));
        }
    }

    fn end_table(&mut self) {
        let Some(t) = self.table.take() else {
            return;
        };
        if t.kind.is_none() && t.rows > 0 {
            let labels: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            self.table_warning(
                t.header_line,
                format!(
                    "table at line {} ({}{}) has none of the columns of a receive connector, AD permission, accepted domain or Exchange server; its {} row(s) were skipped",
                    t.header_line,
                    clip(&labels.join(", "), 120),
                    t.command
                        .as_deref()
                        .map(|c| format!("; command: {}", clip(c, 80)))
                        .unwrap_or_default(),
                    t.rows
                ),
            );
        }
        if !t.cut_columns.is_empty() && t.kind.is_some() {
            self.diagnostics.push(Diagnostic::info(
                self.file,
                Some(t.header_line),
                format!(
                    "table at line {}: values wider than their column were cut ('...') in {}; only their beginning is known",
                    t.header_line,
                    t.cut_columns.join(", ")
                ),
            ));
        }
        if t.identity_completed > 0 {
            if let Some(id) = &t.identity {
                self.diagnostics.push(Diagnostic::info(
                    self.file,
                    Some(t.header_line),
                    format!(
                        "table at line {}: {} cut Identity cell(s) completed to '{}', the connector the command names",
                        t.header_line, t.identity_completed, id
                    ),
                ));
            }
        }
    }

    fn row(&mut self, ln: u32, text: &str) {
        let cells = Cells::new(text);
        let Some(table) = self.table.as_mut() else {
            return;
        };
        table.rows += 1;
        self.objects += 1;
        let Some(kind) = table.kind else {
            self.unknown_objects += 1;
            self.first_unknown_line.get_or_insert(ln);
            return;
        };
        // Column starts for this row, moved left where a right-aligned value runs across one.
        let mut starts: Vec<usize> = table.columns.iter().map(|c| c.start).collect();
        for i in 1..starts.len() {
            let s = starts[i];
            if s > 0 && cells.ink_at(s) && cells.ink_at(s - 1) {
                let lo = starts[i - 1] + 1;
                let mut p = s - 1;
                while p >= lo {
                    if !cells.ink_at(p) {
                        starts[i] = p + 1;
                        break;
                    }
                    p -= 1;
                }
            }
        }
        let mut rec = Record::new(kind, ln);
        let mut doubled_backslashes = false;
        for (i, col) in table.columns.iter().enumerate() {
            let to = starts.get(i + 1).copied();
            let raw = cells.slice(starts[i], to);
            let mut t = raw.trim().to_string();
            if t.contains("\\\\") {
                // A UNC path (`\\server\share`) is the one legitimate double backslash.
                let unc = t.starts_with("\\\\") && !t[2..].contains("\\\\");
                if !unc {
                    while t.contains("\\\\") {
                        t = t.replace("\\\\", "\\");
                    }
                    doubled_backslashes = true;
                }
            }
            let mut value = classify(&t);
            if matches!(
                value,
                Value::Cut(_)
                    | Value::List {
                        truncated: true,
                        ..
                    }
            ) && !t.ends_with('}')
                && !table.cut_columns.iter().any(|c| c == &col.name)
            {
                table.cut_columns.push(col.name.clone());
            }
            if col.name.eq_ignore_ascii_case("Identity") {
                if let (Value::Cut(prefix), Some(id)) = (&value, &table.identity) {
                    let p = prefix.to_lowercase();
                    if id.to_lowercase().starts_with(&p) {
                        value = Value::Text(id.clone());
                        table.identity_completed += 1;
                    }
                }
            }
            rec.push(col.name.clone(), value, ln);
        }
        if !table.has_identity {
            if let Some(id) = &table.identity {
                rec.push("Identity", Value::Text(id.clone()), ln);
            }
        }
        if let Some(u) = &table.user {
            rec.push("User", Value::Text(u.clone()), ln);
        }
        if doubled_backslashes && !self.backslashes_reported {
            self.backslashes_reported = true;
            self.diagnostics.push(Diagnostic::info(
                self.file,
                Some(ln),
                "doubled backslashes (as in a Markdown copy, `EX01\\\\Default`) were read as single ones in all values",
            ));
        }
        (self.sink)(rec);
    }

    fn finish(mut self) -> Result<Parsed, InputError> {
        self.flush_held();
        self.end_table();
        self.report_removed_columns(None);
        if self.tables == 0 {
            return Err(InputError::new(
                self.file,
                None,
                "not a Format-Table export: no header row with a row of dashes under it",
            ));
        }
        crate::input::lines::summarise_overflow(
            &mut self.diagnostics,
            self.file,
            crate::diag::Level::Warning,
            self.table_warnings,
            MAX_TABLE_WARNINGS,
            "table warnings left out",
        );
        crate::input::lines::summarise_overflow(
            &mut self.diagnostics,
            self.file,
            crate::diag::Level::Info,
            self.ignored_lines,
            MAX_NOTES,
            "lines outside any table ignored",
        );
        crate::input::lines::summarise_overflow(
            &mut self.diagnostics,
            self.file,
            crate::diag::Level::Info,
            self.message_lines,
            MAX_NOTES,
            "PowerShell messages ignored",
        );
        Ok(Parsed {
            records: Vec::new(),
            diagnostics: self.diagnostics,
            commands: self.commands,
            objects: self.objects,
            unknown_objects: self.unknown_objects,
            first_unknown_line: self.first_unknown_line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Level;
    use proptest::prelude::*;

    /// Through the paste front end and the transcript reader, as a pasted text is read.
    fn run_pasted(t: &str) -> Parsed {
        crate::input::text::parse_pasted(t)
    }

    fn run(text: &str) -> Parsed {
        parse(text.as_bytes(), "t.txt").expect("parses")
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

    fn cut<'a>(r: &'a Record, name: &str) -> &'a str {
        match r.value(name) {
            Some(Value::Cut(s)) => s,
            other => panic!("{name}: expected a cut value, got {other:?}"),
        }
    }

    fn warnings(p: &Parsed) -> Vec<&Diagnostic> {
        p.diagnostics
            .iter()
            .filter(|d| d.level == Level::Warning)
            .collect()
    }

    /// Exchange 2007's default Get-ADPermission table (fixed widths 20/20/5/9, `Rights`
    /// last), as pasted with its prompt.
    const PERMS_2007: &str = concat!(
        "[PS] C:\\Windows\\system32>Get-ADPermission \"EX01\\Anonymous Relay for Printers\"\n",
        "\n",
        "Identity             User                 Deny  Inherited Rights\n",
        "--------             ----                 ----  --------- ------\n",
        "EX01\\Anonymous Re... NT AUTHORITY\\ANON... False False     ms-Exch-SMTP-Submit\n",
        "EX01\\Anonymous Re... NT AUTHORITY\\ANON... False False     ms-Exch-SMTP-Accept-Any-Recipient\n",
        "EX01\\Anonymous Re... MS Exchange\\Hub T... False False     ms-Exch-SMTP-Accept-Any-Recipient\n",
        "EX01\\Anonymous Re... NT AUTHORITY\\SYSTEM  False True      \n",
        "\n",
        "\n",
        "[PS] C:\\Windows\\system32>\n",
    );

    #[test]
    fn permissions_2007_default_view() {
        let p = run(PERMS_2007);
        assert_eq!(p.records.len(), 4, "{:#?}", p.diagnostics);
        assert!(warnings(&p).is_empty(), "{:#?}", p.diagnostics);
        let a = &p.records[1];
        assert_eq!(a.kind, ObjectKind::AdPermission);
        assert_eq!(a.line, 6);
        // The cut identity is the connector the command names.
        assert_eq!(text(a, "Identity"), "EX01\\Anonymous Relay for Printers");
        assert_eq!(cut(a, "User"), "NT AUTHORITY\\ANON");
        assert_eq!(text(a, "Deny"), "False");
        assert_eq!(text(a, "IsInherited"), "False");
        assert_eq!(
            text(a, "ExtendedRights"),
            "ms-Exch-SMTP-Accept-Any-Recipient"
        );
        assert!(a.props.iter().all(|p| p.line == 6));
        let s = &p.records[3];
        assert_eq!(text(s, "User"), "NT AUTHORITY\\SYSTEM");
        assert_eq!(text(s, "IsInherited"), "True");
        assert_eq!(s.value("ExtendedRights"), Some(&Value::Null));
        assert_eq!(
            p.commands,
            vec![(
                1,
                "Get-ADPermission \"EX01\\Anonymous Relay for Printers\"".to_string()
            )]
        );
        assert_eq!(p.objects, 4);

        // Without the command the identity stays cut.
        let t = PERMS_2007.split_once('\n').unwrap().1;
        let p = run(t);
        assert_eq!(cut(&p.records[0], "Identity"), "EX01\\Anonymous Re");
        assert_eq!(p.records[0].line, 4);
    }

    #[test]
    fn permissions_2010_default_view_has_no_rights() {
        let t = concat!(
            "[PS] C:\\Windows\\system32>Get-ReceiveConnector \"EX01\\Default Frontend EX01\" | Get-ADPermission\n",
            "\n",
            "Identity             User                 Deny  Inherited\n",
            "--------             ----                 ----  ---------\n",
            "EX01\\Default Fron... NT AUTHORITY\\ANON... False False\n",
            "EX01\\Default Fron... MS Exchange\\Hub T... False False\n",
            "EX01\\Default Fron... CONTOSO\\Organizat... False True\n",
            "\n",
        );
        let p = run(t);
        assert_eq!(p.records.len(), 3);
        for r in &p.records {
            assert_eq!(r.kind, ObjectKind::AdPermission);
            assert_eq!(text(r, "Identity"), "EX01\\Default Frontend EX01");
            assert!(r.value("ExtendedRights").is_none());
            assert!(r.get("IsInherited").is_some());
        }
        assert_eq!(text(&p.records[2], "IsInherited"), "True");
        assert!(p
            .diagnostics
            .iter()
            .any(|d| d.message.contains("3 cut Identity cell(s) completed")));
    }

    /// `ft User,ExtendedRights` without -AutoSize: PowerShell shares the 119 columns equally.
    const FT_USER_RIGHTS: &str = concat!(
        "[PS] C:\\Windows\\system32>Get-ADPermission \"EX01\\Relay\" | ft User,ExtendedRights\n",
        "\n",
        "User                                                        ExtendedRights\n",
        "----                                                        --------------\n",
        "NT AUTHORITY\\ANONYMOUS LOGON                                {ms-Exch-SMTP-Accept-Any-Recipient}\n",
        "NT AUTHORITY\\ANONYMOUS LOGON                                {ms-Exch-SMTP-Submit}\n",
        "NT AUTHORITY\\SYSTEM                                         \n",
        "\n",
        "\n",
    );

    #[test]
    fn ft_user_extended_rights_after_prompt() {
        let p = run(FT_USER_RIGHTS);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        assert_eq!(p.records.len(), 3);
        let a = &p.records[0];
        assert_eq!(a.kind, ObjectKind::AdPermission);
        assert_eq!(a.line, 5);
        assert_eq!(text(a, "User"), "NT AUTHORITY\\ANONYMOUS LOGON");
        assert_eq!(
            list(a, "ExtendedRights"),
            (vec!["ms-Exch-SMTP-Accept-Any-Recipient"], false)
        );
        // The identity comes from the command, on the row's line.
        assert_eq!(text(a, "Identity"), "EX01\\Relay");
        assert_eq!(a.get("Identity").unwrap().line, 5);
        assert_eq!(p.records[2].value("ExtendedRights"), Some(&Value::Null));
        assert_eq!(text(&p.records[2], "Identity"), "EX01\\Relay");
    }

    #[test]
    fn the_audit_one_liner_as_a_table_takes_its_user_from_the_command() {
        let t = "[PS] C:\\Windows\\system32>Get-ReceiveConnector | Get-ADPermission -User \"NT Authority\\Anonymous Logon\" | ? {$_.ExtendedRights -like \"ms-Exch-SMTP-Accept-Any-Recipient\"} | ft Identity,ExtendedRights -AutoSize\n\nIdentity              ExtendedRights\n--------              --------------\nEX2010\\Default EX2010 {ms-Exch-SMTP-Accept-Any-Recipient}\n\n";
        let p = run(t);
        assert_eq!(p.records.len(), 1, "{:#?}", p.diagnostics);
        assert_eq!(text(&p.records[0], "User"), "NT Authority\\Anonymous Logon");
        assert_eq!(text(&p.records[0], "Identity"), "EX2010\\Default EX2010");
    }

    #[test]
    fn rows_of_several_connectors_stay_unattributed() {
        let t = FT_USER_RIGHTS.replace(
            "Get-ADPermission \"EX01\\Relay\" |",
            "Get-ReceiveConnector | Get-ADPermission |",
        );
        let p = run(&t);
        assert_eq!(p.records.len(), 3);
        assert!(p.records.iter().all(|r| r.get("Identity").is_none()));
        let w = warnings(&p);
        assert_eq!(w.len(), 1, "{:#?}", p.diagnostics);
        assert_eq!(w[0].line, Some(3));
        assert!(w[0].message.contains("cannot be attributed"));
        // No command at all: the same.
        let p = run(FT_USER_RIGHTS.split_once('\n').unwrap().1);
        assert!(p.records.iter().all(|r| r.get("Identity").is_none()));
        assert_eq!(warnings(&p).len(), 1);
        // A bare name is not the Identity the connector export shows: not used.
        let t = FT_USER_RIGHTS.replace("\"EX01\\Relay\"", "Relay");
        let p = run(&t);
        assert!(p.records.iter().all(|r| r.get("Identity").is_none()));
    }

    #[test]
    fn receive_connector_default_view_with_cut_identity() {
        let t = concat!(
            "PS C:\\> Get-ReceiveConnector\n",
            "\n",
            "Identity                         Bindings                       Enabled\n",
            "--------                         --------                       -------\n",
            "EX01\\Default EX01                {0.0.0.0:2525, [::]:2525}      True\n",
            "EX01\\Client Proxy EX01           {[::]:465, 0.0.0.0:465}        True\n",
            "EX01\\Anonymous Relay for Prin... {0.0.0.0:25}                   True\n",
            "EX01\\Old Relay                   {10.0.0.21:25}                 False\n",
        );
        let p = run(t);
        assert!(warnings(&p).is_empty(), "{:#?}", p.diagnostics);
        assert_eq!(p.records.len(), 4);
        let r = &p.records;
        assert!(r.iter().all(|r| r.kind == ObjectKind::ReceiveConnector));
        assert_eq!(text(&r[0], "Identity"), "EX01\\Default EX01");
        assert_eq!(
            list(&r[0], "Bindings"),
            (vec!["0.0.0.0:2525", "[::]:2525"], false)
        );
        assert_eq!(cut(&r[2], "Identity"), "EX01\\Anonymous Relay for Prin");
        assert_eq!(
            r[2].value("Identity").unwrap().display(),
            "EX01\\Anonymous Relay for Prin..."
        );
        assert_eq!(text(&r[3], "Enabled"), "False");
        assert_eq!(r[3].line, 8);
        // Several connectors: the command names none, no identity is added.
        assert_eq!(r[1].props.len(), 3);
        assert!(p
            .diagnostics
            .iter()
            .any(|d| d.level == Level::Info && d.message.contains("cut ('...') in Identity")));
    }

    /// `ft ... -AutoSize` through `Out-String -Width 250`: columns as wide as their widest
    /// value, collections cut by $FormatEnumerationLimit.
    const AUTOSIZE: &str = concat!(
        "[PS] C:\\Windows\\system32>Get-ReceiveConnector | ft Identity,RemoteIPRanges,PermissionGroups,AuthMechanism -AutoSize | Out-String -Width 250\n",
        "\n",
        "Identity                   RemoteIPRanges                                                        PermissionGroups                                       AuthMechanism\n",
        "--------                   --------------                                                        ----------------                                       -------------\n",
        "EX01\\Default Frontend EX01 {::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0.0.0.0-255.255.255.255} AnonymousUsers, ExchangeServers, ExchangeLegacyServers Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer\n",
        "EX01\\Printers              {10.1.2.10, 10.1.2.11, 10.1.2.12, 10.1.2.13...}                       AnonymousUsers, Custom                                 Tls\n",
        "EX01\\Client Frontend EX01  {::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0.0.0.0-255.255.255.255} ExchangeUsers                                          Tls, BasicAuth, BasicAuthRequireTLS\n",
        "EX01\\Nothing               {}                                                                    None                                                   None\n",
        "\n",
        "\n",
    );

    #[test]
    fn autosize_with_collections() {
        let p = run(AUTOSIZE);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        let r = &p.records;
        assert_eq!(r.len(), 4);
        assert_eq!(
            list(&r[0], "RemoteIPRanges"),
            (
                vec![
                    "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                    "0.0.0.0-255.255.255.255"
                ],
                false
            )
        );
        assert_eq!(
            text(&r[0], "PermissionGroups"),
            "AnonymousUsers, ExchangeServers, ExchangeLegacyServers"
        );
        assert_eq!(
            text(&r[0], "AuthMechanism"),
            "Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer"
        );
        assert_eq!(
            list(&r[1], "RemoteIPRanges"),
            (
                vec!["10.1.2.10", "10.1.2.11", "10.1.2.12", "10.1.2.13"],
                true
            )
        );
        assert_eq!(list(&r[3], "RemoteIPRanges"), (vec![], false));
        assert_eq!(text(&r[3], "AuthMechanism"), "None");
    }

    #[test]
    fn accepted_domains_default_view() {
        let t = concat!(
            "[PS] C:\\Windows\\system32>Get-AcceptedDomain\n",
            "\n",
            "Name                           DomainName                     DomainType                     Default\n",
            "----                           ----------                     ----------                     -------\n",
            "contoso.com                    contoso.com                    Authoritative                  True\n",
            "mail.contoso.com               mail.contoso.com               Authoritative                  False\n",
            "Relay Everything               *                              InternalRelay                  False\n",
            "\n",
            "\n",
        );
        let p = run(t);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        assert_eq!(p.records.len(), 3);
        let d = &p.records[2];
        assert_eq!(d.kind, ObjectKind::AcceptedDomain);
        assert_eq!(text(d, "Name"), "Relay Everything");
        assert_eq!(text(d, "DomainName"), "*");
        assert_eq!(text(d, "DomainType"), "InternalRelay");
        assert_eq!(text(d, "Default"), "False");
        assert!(d.get("Identity").is_none());
    }

    /// Default Get-ExchangeServer table: five columns of 23, long values cut.
    const SERVERS: &str = concat!(
        "[PS] C:\\Windows\\system32>Get-ExchangeServer\n",
        "\n",
        "Name                    Site                    ServerRole              Edition                 AdminDisplayVersion\n",
        "----                    ----                    ----------              -------                 -------------------\n",
        "EX01                    contoso.com/Configur... Mailbox                 Standard                Version 15.2 (Build ...\n",
        "EX02                    contoso.com/Configur... Mailbox                 Standard                Version 15.2 (Build ...\n",
        "\n",
        "\n",
    );

    #[test]
    fn exchange_servers_default_view() {
        let p = run(SERVERS);
        assert_eq!(p.records.len(), 2);
        let s = &p.records[0];
        assert_eq!(s.kind, ObjectKind::ExchangeServer);
        assert_eq!(text(s, "Name"), "EX01");
        assert_eq!(cut(s, "Site"), "contoso.com/Configur");
        assert_eq!(text(s, "ServerRole"), "Mailbox");
        assert_eq!(cut(s, "AdminDisplayVersion"), "Version 15.2 (Build ");
        assert!(warnings(&p).is_empty(), "{:#?}", p.diagnostics);
    }

    #[test]
    fn crlf_small_buffer_and_trailing_spaces_stripped() {
        let crlf = PERMS_2007.replace('\n', "\r\n");
        let r = std::io::BufReader::with_capacity(5, crlf.as_bytes());
        let p = parse(r, "t.txt").unwrap();
        assert_eq!(p, run(PERMS_2007));
        let stripped: String = AUTOSIZE
            .lines()
            .map(|l| format!("{}\r\n", l.trim_end()))
            .collect();
        assert_eq!(run(&stripped), run(AUTOSIZE));
    }

    #[test]
    fn transcript_with_several_tables() {
        let mut t = String::from(concat!(
            "\u{feff}**********************\n",
            "Windows PowerShell transcript start\n",
            "Start time: 20230226143931\n",
            "Username: CONTOSO\\admin\n",
            "Machine: EX01 (Microsoft Windows NT 10.0.17763.0)\n",
            "PSVersion: 5.1.17763.3770\n",
            "**********************\n",
            "Transcript started, output file is C:\\Users\\admin\\Documents\\relay.txt\n",
        ));
        t.push_str(SERVERS);
        t.push_str(AUTOSIZE);
        t.push_str(FT_USER_RIGHTS);
        t.push_str(PERMS_2007.trim_end_matches("[PS] C:\\Windows\\system32>\n"));
        t.push_str(concat!(
            "[PS] C:\\Windows\\system32>Stop-Transcript\n",
            "**********************\n",
            "Windows PowerShell transcript end\n",
            "End time: 20230226144512\n",
            "**********************\n",
        ));
        let p = run(&t);
        let kinds: Vec<ObjectKind> = p.records.iter().map(|r| r.kind).collect();
        use ObjectKind::*;
        assert_eq!(
            kinds,
            [
                vec![ExchangeServer; 2],
                vec![ReceiveConnector; 4],
                vec![AdPermission; 3],
                vec![AdPermission; 4]
            ]
            .concat()
        );
        assert_eq!(text(&p.records[6], "Identity"), "EX01\\Relay");
        assert_eq!(
            text(&p.records[9], "Identity"),
            "EX01\\Anonymous Relay for Printers"
        );
        assert_eq!(p.records[0].line, 13);
        assert_eq!(p.commands.len(), 5);
        assert_eq!(p.objects, 13);
        // Five echoed commands (the last is Stop-Transcript); the banners are skipped silently.
        assert!(warnings(&p).is_empty(), "{:#?}", p.diagnostics);
        assert!(!p
            .diagnostics
            .iter()
            .any(|d| d.message.contains("ignored text")));
    }

    #[test]
    fn a_row_of_asterisks_is_not_a_banner() {
        let t = format!("Relay settings as requested\n**********************\n{FT_USER_RIGHTS}");
        let p = run(&t);
        assert_eq!(p.records.len(), 3, "{:#?}", p.diagnostics);
        assert_eq!(text(&p.records[0], "Identity"), "EX01\\Relay");
        // PowerShell 7's banner and the per-command header of -IncludeInvocationHeader.
        let t = format!(
            "**********************\nPowerShell transcript start\nStart time: 20230301091512\n**********************\n**********************\nCommand start time: 20230301091520\n**********************\n{FT_USER_RIGHTS}"
        );
        let p = run(&t);
        assert_eq!(p.records.len(), 3);
        assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    }

    #[test]
    fn powershell_7_ellipsis() {
        let t = concat!(
            "PS C:\\> Get-ReceiveConnector | ft Identity,RemoteIPRanges,Enabled\n",
            "\n",
            "Identity                         RemoteIPRanges                                      Enabled\n",
            "--------                         --------------                                      -------\n",
            "EX01\\Anonymous Relay for Print… {10.1.2.10, 10.1.2.11, 10.1.2.12, 10.1.2.13…}       True\n",
            "EX01\\Relay                       {10.1.2.10, 10.1.2.11, 10.1.2.12, 10.1.2.13, 10.1.… True\n",
        );
        let p = run(t);
        let r = &p.records;
        assert_eq!(r.len(), 2);
        assert_eq!(cut(&r[0], "Identity"), "EX01\\Anonymous Relay for Print");
        assert_eq!(
            list(&r[0], "RemoteIPRanges"),
            (
                vec!["10.1.2.10", "10.1.2.11", "10.1.2.12", "10.1.2.13"],
                true
            )
        );
        // Cut at the column width inside an item: the partial item is dropped.
        assert_eq!(
            list(&r[1], "RemoteIPRanges"),
            (
                vec!["10.1.2.10", "10.1.2.11", "10.1.2.12", "10.1.2.13"],
                true
            )
        );
        assert_eq!(text(&r[1], "Enabled"), "True");
    }

    #[test]
    fn right_aligned_values_wider_than_their_dashes() {
        let t = concat!(
            "[PS] C:\\>Get-ReceiveConnector | ft Identity,@{n=\"Max\";e={$_.MaxMessageSize.Value.ToBytes()}},Enabled -AutoSize\n",
            "\n",
            "Identity                        Max Enabled\n",
            "--------                        --- -------\n",
            "EX01\\Default EX01          37748736 True\n",
            "EX01\\Default Frontend EX01 37748736 True\n",
            "EX01\\Relay                   102400 False\n",
        );
        let p = run(t);
        let r = &p.records;
        assert_eq!(r.len(), 3, "{:#?}", p.diagnostics);
        assert_eq!(r[0].kind, ObjectKind::ReceiveConnector);
        assert_eq!(text(&r[0], "Identity"), "EX01\\Default EX01");
        assert_eq!(text(&r[0], "Max"), "37748736");
        assert_eq!(text(&r[1], "Identity"), "EX01\\Default Frontend EX01");
        assert_eq!(text(&r[1], "Max"), "37748736");
        assert_eq!(text(&r[2], "Max"), "102400");
        assert_eq!(text(&r[2], "Enabled"), "False");
    }

    #[test]
    fn stray_notes_unknown_tables_errors_and_warnings() {
        let t = concat!(
            "Here are the connectors you asked for:\n",
            "[PS] C:\\Windows\\system32>Get-TransportService | ft Name,MaxOutboundConnections\n",
            "\n",
            "Name MaxOutboundConnections\n",
            "---- ----------------------\n",
            "EX01 1000\n",
            "EX02 1000\n",
            "\n",
            "[PS] C:\\Windows\\system32>Get-ADPermission \"EX01\\Gone\" | ft User,ExtendedRights\n",
            "Get-ADPermission : The operation couldn't be performed because object 'EX01\\Gone' couldn't be found.\n",
            "At line:1 char:1\n",
            "+ Get-ADPermission \"EX01\\Gone\" | ft User,ExtendedRights\n",
            "    + CategoryInfo          : NotSpecified: (:) [Get-ADPermission], ManagementObjectNotFoundException\n",
            "\n",
            "[PS] C:\\Windows\\system32>Get-ReceiveConnector | ft Identity,Enabled,Bindings,RemoteIPRanges,PermissionGroups,AuthMechanism,ProtocolLoggingLevel -AutoSize\n",
            "WARNING: 3 columns do not fit into the display and were removed.\n",
            "\n",
            "Identity                    Enabled Bindings                RemoteIPRanges\n",
            "--------                    ------- --------                --------------\n",
            "EX01\\Default Frontend EX01    True {[::]:25, 0.0.0.0:25}   {::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, 0...\n",
            "\n",
            "That is all.\n",
        );
        let p = run(t);
        assert_eq!(p.records.len(), 1, "{:#?}", p.diagnostics);
        assert_eq!(p.objects, 3);
        assert_eq!(p.unknown_objects, 2);
        assert_eq!(p.first_unknown_line, Some(6));
        let r = &p.records[0];
        assert_eq!(text(r, "Enabled"), "True");
        assert_eq!(
            list(r, "RemoteIPRanges"),
            (vec!["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], true)
        );
        let lines = |level: Level| -> Vec<Option<u32>> {
            p.diagnostics
                .iter()
                .filter(|d| d.level == level)
                .map(|d| d.line)
                .collect()
        };
        // The unknown table, the error record, the removed columns.
        assert_eq!(lines(Level::Warning), vec![Some(4), Some(10), Some(16)]);
        assert!(p.diagnostics.iter().any(|d| d.message.starts_with(
            "PowerShell removed the column(s) PermissionGroups, AuthMechanism, ProtocolLoggingLevel from the table"
        )));
        // The two notes, and the cut RemoteIPRanges cell.
        assert_eq!(lines(Level::Info), vec![Some(1), Some(18), Some(22)]);
    }

    #[test]
    fn cells_that_look_like_console_messages() {
        let t = "\nName    Comment\n----    -------\nWARN:1  ABCD:x\nABCD: 2 WARNING:none\nWARNING: late\n";
        let p = run(t);
        assert_eq!(p.records.len(), 0);
        assert_eq!(p.objects, 2, "{:#?}", p.diagnostics);
        assert_eq!(p.diagnostics.len(), 2, "{:#?}", p.diagnostics);
        assert_eq!(p.diagnostics[0].line, Some(6));
    }

    #[test]
    fn doubled_backslashes_and_indented_markdown_copy() {
        let t: String = FT_USER_RIGHTS
            .replace('\\', "\\\\")
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect();
        let p = run_pasted(&format!("```\n{t}```\n"));
        assert_eq!(p.records.len(), 3, "{:#?}", p.diagnostics);
        assert_eq!(text(&p.records[0], "User"), "NT AUTHORITY\\ANONYMOUS LOGON");
        assert_eq!(text(&p.records[0], "Identity"), "EX01\\Relay");
        assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
        assert!(p.diagnostics[0].message.contains("doubled backslashes"));
    }

    #[test]
    fn every_line_doubled() {
        let t: String = AUTOSIZE.lines().map(|l| format!("{l}\n\n")).collect();
        let p = run_pasted(&t);
        assert_eq!(p.records.len(), 4, "{:#?}", p.diagnostics);
        assert_eq!(p.records[1].line, 11);
        assert_eq!(
            list(&p.records[1], "RemoteIPRanges").0,
            vec!["10.1.2.10", "10.1.2.11", "10.1.2.12", "10.1.2.13"]
        );
    }

    #[test]
    fn short_rows_cut_header_labels_and_kind_from_command() {
        let t = concat!(
            "[PS] C:\\>Get-ReceiveConnector \"EX01\\Relay\" | ft Name,Enabled,ProtocolLoggingLevel,Comment\n",
            "\n",
            "Name            Enabled         ProtocolLoggi... Comment\n",
            "----            -------         ---------------- -------\n",
            "Relay           True            None\n",
        );
        let p = run(t);
        let r = &p.records[0];
        // Name/Enabled/Comment do not tell the kind; the command does.
        assert_eq!(r.kind, ObjectKind::ReceiveConnector);
        assert_eq!(text(r, "ProtocolLoggingLevel"), "None");
        assert_eq!(r.value("Comment"), Some(&Value::Null));
        assert_eq!(text(r, "Identity"), "EX01\\Relay");
        assert_eq!(r.props.len(), 5);
    }

    #[test]
    fn not_a_table() {
        for t in [
            "",
            "Identity : EX01\\Relay\nEnabled  : True\n",
            "Identity,Enabled\nEX01\\Relay,True\n",
            "Relay audit notes\n\n-----------------\n\nNothing here\n",
            "Summary\n---\n",
        ] {
            assert!(parse(t.as_bytes(), "t.txt").is_err(), "{t}");
        }
    }

    #[test]
    fn detection() {
        assert!(looks_like_table(PERMS_2007));
        assert!(looks_like_table(FT_USER_RIGHTS));
        assert!(looks_like_table(SERVERS));
        assert!(looks_like_table(&format!(
            "\u{feff}**********************\nWindows PowerShell transcript start\n**********************\n{AUTOSIZE}"
        )));
        assert!(looks_like_table(
            "\r\nIdentity\r\n--------\r\nEX01\\Relay\r\n"
        ));
        // Not tables: Format-List, CSV, a Markdown heading, a Markdown table, dashes alone.
        assert!(!looks_like_table(
            "Identity : EX01\\Relay\nRemoteIPRanges : {10.0.0.1}\n"
        ));
        assert!(!looks_like_table(
            "\"Identity\",\"Enabled\"\n\"EX01\\Relay\",\"True\"\n"
        ));
        assert!(!looks_like_table(
            "Relay audit notes\n-----------------\n\ntext\n"
        ));
        assert!(!looks_like_table("Summary\n---\n"));
        assert!(!looks_like_table("| a | b |\n|---|---|\n| 1 | 2 |\n"));
        assert!(!looks_like_table("----\n"));
        // The dashes must sit under the labels.
        assert!(!looks_like_table("Identity Enabled\n----- -- -------\n"));
    }

    fn table_line() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~…{}\\\\]{0,90}",
            "[-]{1,12}( {1,3}[-]{1,12}){0,5}",
            "[A-Za-z]{1,12}( {1,6}[A-Za-z]{1,12}){0,5}",
            " {0,40}[A-Za-z0-9.…{},\\\\ ]{0,60}(\\.\\.\\.)?",
            Just(String::new()),
            Just("[PS] C:\\>Get-ADPermission \"EX01\\Relay\" | ft User,ExtendedRights".to_string()),
            Just("**********************".to_string()),
            Just("WARNING: 2 columns do not fit into the display and were removed.".to_string()),
            Just("Get-ADPermission : error".to_string()),
            Just(">> | ft".to_string()),
            Just("漢字漢字 EX01".to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn never_panics(s in "[ -~\t\r\n{}…\u{0}\u{1b}\u{feff}é漢-]{0,600}") {
            let _ = looks_like_table(&s);
            let _ = parse(s.as_bytes(), "p.txt");
        }

        #[test]
        fn never_panics_on_table_like_lines(
            lines in prop::collection::vec(table_line(), 0..50),
            crlf in any::<bool>(),
        ) {
            let sep = if crlf { "\r\n" } else { "\n" };
            let t = lines.join(sep);
            let _ = looks_like_table(&t);
            if let Ok(p) = parse(t.as_bytes(), "p.txt") {
                prop_assert!(p.unknown_objects <= p.objects);
                for r in &p.records {
                    prop_assert!(r.line >= 1);
                    for prop in &r.props {
                        prop_assert_eq!(prop.line, r.line);
                    }
                }
            }
        }

        #[test]
        fn never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&b[..], "p.txt");
        }

        /// Any table PowerShell draws (left-aligned, padded, last column unpadded) gives back
        /// its cells.
        #[test]
        fn round_trip(
            rows in prop::collection::vec(
                prop::collection::vec("[A-Za-z0-9][A-Za-z0-9 .:\\\\-]{0,14}[A-Za-z0-9]", 3),
                1..6,
            ),
        ) {
            let labels = ["Identity", "User", "ExtendedRights"];
            let widths: Vec<usize> = (0..3)
                .map(|i| rows.iter().map(|r| r[i].len()).chain([labels[i].len()]).max().unwrap())
                .collect();
            let line = |cells: &[&str]| -> String {
                let mut s = String::new();
                for (i, c) in cells.iter().enumerate() {
                    if i > 0 { s.push(' '); }
                    if i < 2 { s.push_str(&format!("{c:<w$}", w = widths[i])); } else { s.push_str(c); }
                }
                s
            };
            let mut t = String::from("\n");
            t += &line(&labels); t.push('\n');
            let dashes: Vec<String> = labels.iter().map(|l| "-".repeat(l.len())).collect();
            t += &line(&dashes.iter().map(String::as_str).collect::<Vec<_>>()); t.push('\n');
            for r in &rows {
                t += &line(&r.iter().map(String::as_str).collect::<Vec<_>>()); t.push('\n');
            }
            // A first cell reading `WARNING: x` would be a console message.
            prop_assume!(rows.iter().all(|r| stream_message(&r[0])
                .is_none_or(|w| !STREAM_WORDS.contains(&w))));
            let p = parse(t.as_bytes(), "p.txt").unwrap();
            prop_assert_eq!(p.records.len(), rows.len());
            for (rec, row) in p.records.iter().zip(&rows) {
                for (i, l) in labels.iter().enumerate() {
                    let mut want = row[i].clone();
                    while want.contains("\\\\") { want = want.replace("\\\\", "\\"); }
                    prop_assert_eq!(rec.value(l), Some(&classify(&want)));
                }
            }
        }
    }
}
