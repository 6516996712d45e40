//! The paste front end: undoes what forums, mail clients and Markdown do to console text,
//! before any form parser (Format-List, Format-Table, CSV, header-less rows) sees a line.
//!
//! A consultant's text inputs are tickets, forum threads and e-mails. On the way the console
//! text picks up artifacts; each is undone here, once, for every form:
//!
//! * a blank line between every line (forum "paragraphs"): a run of `n` blank lines becomes
//!   `n / 2` when no two text lines in the file touch;
//! * two trailing spaces on every line (Markdown line breaks) are removed;
//! * `>` mail quote markers, when most lines carry them (one level per line);
//! * Markdown code fences (```` ``` ````, `~~~`) and BBCode `[code]` tags become blank lines;
//! * HTML entities a forum left (`&gt;`, `&lt;`, `&amp;`, `&quot;`, `&#39;`, `&nbsp;`);
//! * non-breaking and other fixed-width spaces become spaces; zero-width characters go;
//! * typographic quotes become ASCII quotes (PowerShell treats them alike).
//!
//! [`LineCleaner`] undoes what keeps lines in place and streams ([`CleanReader`], for texts
//! too large to hold); [`normalise`] also removes the doubled blank lines of a text held whole.
//! Every output line keeps the 1-based number of the input line it came from, so that a
//! diagnostic or a finding's evidence points into the file as the client sent it.
//! Column collapsing (runs of spaces reduced to one) cannot be undone here: the form parsers
//! that depend on columns say so, and the row reader works from the cells' shapes instead.

use std::io::{BufRead, Read};

/// One line after the front end, with the number of the input line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub no: u32,
    pub text: String,
}

/// The artifacts found in a text (for the input summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    pub double_spaced: bool,
    pub markdown_breaks: bool,
    pub quoted: bool,
    pub fenced: bool,
    pub entities: bool,
    pub odd_spaces: bool,
    pub smart_quotes: bool,
}

impl Artifacts {
    /// Names of the artifacts found, for a note.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (on, name) in [
            (self.double_spaced, "double spacing"),
            (self.markdown_breaks, "Markdown line breaks"),
            (self.quoted, "'>' quote markers"),
            (self.fenced, "code fences"),
            (self.entities, "HTML entities"),
            (self.odd_spaces, "non-breaking spaces"),
            (self.smart_quotes, "typographic quotes"),
        ] {
            if on {
                v.push(name);
            }
        }
        v
    }
}

/// Cleans one line: characters only (entities, spaces, quotes). Returns the flags it used.
fn clean_chars(s: &str, a: &mut Artifacts) -> String {
    // The common line: plain ASCII, nothing to undo.
    if s.is_ascii() && !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '&' {
            if let Some((rep, len)) = entity(rest) {
                a.entities = true;
                out.push(rep);
                rest = &rest[len..];
                continue;
            }
        }
        match c {
            '\u{a0}' | '\u{2007}' | '\u{202f}' | '\u{2002}' | '\u{2003}' | '\u{2009}' => {
                a.odd_spaces = true;
                out.push(' ');
            }
            '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' => {
                a.odd_spaces = true;
            }
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' => {
                a.smart_quotes = true;
                out.push('"');
            }
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' => {
                a.smart_quotes = true;
                out.push('\'');
            }
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// An HTML entity at the start of `s`: its character and length.
fn entity(s: &str) -> Option<(char, usize)> {
    const NAMED: [(&str, char); 7] = [
        ("&gt;", '>'),
        ("&lt;", '<'),
        ("&amp;", '&'),
        ("&quot;", '"'),
        ("&apos;", '\''),
        ("&nbsp;", ' '),
        ("&#39;", '\''),
    ];
    for (name, c) in NAMED {
        if s.len() >= name.len() && s[..name.len()].eq_ignore_ascii_case(name) {
            return Some((c, name.len()));
        }
    }
    let rest = s.strip_prefix("&#")?;
    let end = rest.find(';')?;
    if end == 0 || end > 7 {
        return None;
    }
    let body = &rest[..end];
    let n = match body.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => body.parse::<u32>().ok()?,
    };
    let c = char::from_u32(n)?;
    // Only printable characters: an entity must not smuggle a control character in.
    if c.is_control() && c != '\t' {
        return None;
    }
    Some((c, 2 + end + 1))
}

fn is_fence(t: &str) -> bool {
    let t = t.trim();
    t.starts_with("```")
        || t.starts_with("~~~")
        || t.eq_ignore_ascii_case("[code]")
        || t.eq_ignore_ascii_case("[/code]")
}

/// How many `>` quote levels are removed at most (a mail thread quoted again and again).
const MAX_QUOTE_LEVELS: usize = 4;

/// Characters only: entities (also escaped twice, `&amp;gt;`), spaces, quotes.
fn clean_all_chars(raw: &str, a: &mut Artifacts) -> String {
    let mut text = clean_chars(raw, a);
    for _ in 0..2 {
        if !text.contains('&') {
            break;
        }
        let again = clean_chars(&text, a);
        if again == text {
            break;
        }
        text = again;
    }
    text
}

/// The artifacts that keep every line where it is (quote markers, Markdown line breaks,
/// fences, characters), decided once from a text — the whole text, or the head of a stream —
/// and then undone line by line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCleaner {
    quote_levels: usize,
    markdown_breaks: bool,
}

impl LineCleaner {
    /// Decides from `text` (all of it, or the first part of a stream).
    pub fn decide(text: &str) -> LineCleaner {
        let mut a = Artifacts::default();
        let mut lines: Vec<String> = text
            .split('\n')
            .map(|l| clean_all_chars(l.strip_suffix('\r').unwrap_or(l), &mut a))
            .collect();
        let mut quote_levels = 0;
        while quote_levels < MAX_QUOTE_LEVELS {
            let text_lines = lines.iter().filter(|l| !l.trim().is_empty()).count();
            let quoted = lines
                .iter()
                .filter(|l| l.trim_start().starts_with('>'))
                .count();
            if text_lines == 0 || quoted * 10 < text_lines * 8 {
                break;
            }
            quote_levels += 1;
            for l in &mut lines {
                *l = unquote(l).to_string();
            }
        }
        let text_lines: Vec<&String> = lines
            .iter()
            .filter(|l| !l.trim().is_empty() && !is_fence(l))
            .collect();
        let broken = text_lines.iter().filter(|l| l.ends_with("  ")).count();
        LineCleaner {
            quote_levels,
            markdown_breaks: text_lines.len() >= 2 && broken * 4 >= text_lines.len() * 3,
        }
    }

    /// One line (without its line ending) undone; a fence line or a line of spaces is empty.
    pub fn clean(&self, raw: &str, a: &mut Artifacts) -> String {
        let mut text = clean_all_chars(raw.strip_suffix('\r').unwrap_or(raw), a);
        for _ in 0..self.quote_levels {
            if text.trim_start().starts_with('>') {
                a.quoted = true;
                text = unquote(&text).to_string();
            }
        }
        if is_fence(&text) {
            a.fenced = true;
            text.clear();
        }
        if self.markdown_breaks && text.ends_with("  ") {
            a.markdown_breaks = true;
            text.truncate(text.len() - 2);
        }
        if text.trim().is_empty() {
            text.clear();
        }
        text
    }
}

/// One `>` quote marker (and the space after it) removed.
fn unquote(l: &str) -> &str {
    let t = l.trim_start();
    match t.strip_prefix('>') {
        Some(rest) => rest.strip_prefix(' ').unwrap_or(rest),
        None => l,
    }
}

/// Undoes the artifacts of a pasted text. `text` is decoded UTF-8, any line endings.
///
/// On top of what [`LineCleaner`] undoes, a text held whole loses the blank lines a forum put
/// between every line; lines keep the numbers they had in the file.
pub fn normalise(text: &str) -> (Vec<Line>, Artifacts) {
    let mut a = Artifacts::default();
    // Decided on the first 256 KiB: a paste is smaller, and a long text decides as well from
    // its start as a stream does from its head.
    let mut head = text.len().min(256 << 10);
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let cleaner = LineCleaner::decide(&text[..head]);
    let mut lines: Vec<Line> = text
        .split('\n')
        .enumerate()
        .map(|(i, raw)| Line {
            no: u32::try_from(i + 1).unwrap_or(u32::MAX),
            text: cleaner.clean(raw, &mut a),
        })
        .collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    let text_lines = lines.iter().filter(|l| !l.text.is_empty()).count();

    // Double spacing: no two text lines touch anywhere in the file (undone again for a copy
    // of a copy, which is spaced twice).
    for _ in 0..3 {
        let touching = lines
            .windows(2)
            .filter(|w| !w[0].text.is_empty() && !w[1].text.is_empty())
            .count();
        if text_lines < 6 || touching > 0 {
            break;
        }
        a.double_spaced = true;
        let mut out = Vec::with_capacity(lines.len() / 2 + 1);
        let mut blanks: Vec<Line> = Vec::new();
        for l in lines {
            if l.text.is_empty() {
                blanks.push(l);
            } else {
                let keep = blanks.len() / 2;
                out.extend(blanks.drain(..).take(keep));
                out.push(l);
            }
        }
        lines = out;
    }
    (lines, a)
}

/// The longest line a stream keeps (1 MiB): no export has longer ones, and a crafted file must
/// not make one line take gigabytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A stream read through the [`LineCleaner`] its head decided: for texts too large to hold,
/// which keeps every line where it is (line numbers stay the file's). Memory: one line.
pub struct CleanReader<R: BufRead> {
    /// Lines longer than [`MAX_LINE_BYTES`], cut there (1-based numbers).
    pub cut_lines: Vec<u32>,
    line: u32,
    inner: R,
    cleaner: LineCleaner,
    artifacts: Artifacts,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
}

impl<R: BufRead> CleanReader<R> {
    pub fn new(inner: R, head: &str) -> CleanReader<R> {
        CleanReader {
            cut_lines: Vec::new(),
            line: 0,
            inner,
            cleaner: LineCleaner::decide(head),
            artifacts: Artifacts::default(),
            raw: Vec::new(),
            out: Vec::new(),
            pos: 0,
        }
    }
}

impl<R: BufRead> Read for CleanReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CleanReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.out.len() {
            self.raw.clear();
            self.out.clear();
            self.pos = 0;
            let n = (&mut self.inner)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.raw)?;
            if n > 0 {
                self.line = self.line.saturating_add(1);
                if self.raw.len() > MAX_LINE_BYTES && !self.raw.ends_with(b"\n") {
                    // Longer than any line an export holds: keep its start, say where it
                    // was cut, and skip the rest of it without holding it.
                    self.raw.truncate(MAX_LINE_BYTES);
                    self.cut_lines.push(self.line);
                    loop {
                        let (skip, found) = {
                            let buf = self.inner.fill_buf()?;
                            if buf.is_empty() {
                                break;
                            }
                            match buf.iter().position(|&b| b == b'\n') {
                                Some(i) => (i + 1, true),
                                None => (buf.len(), false),
                            }
                        };
                        self.inner.consume(skip);
                        if found {
                            break;
                        }
                    }
                    self.raw.extend_from_slice(b"...\n");
                }
                let ends = self.raw.ends_with(b"\n");
                let line = String::from_utf8_lossy(&self.raw);
                let line = line.strip_suffix('\n').unwrap_or(&line);
                let cleaned = self.cleaner.clean(line, &mut self.artifacts);
                self.out.extend_from_slice(cleaned.as_bytes());
                if ends {
                    self.out.push(b'\n');
                }
            }
        }
        Ok(&self.out[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.out.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &[Line]) -> Vec<&str> {
        v.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn double_spacing_is_undone_and_keeps_line_numbers() {
        let t = "a : 1\n\nb : 2\n\nc : 3\n\n\n\nd : 4\n\ne : 5\n\nf : 6\n";
        let (v, a) = normalise(t);
        assert!(a.double_spaced);
        assert_eq!(
            texts(&v),
            ["a : 1", "b : 2", "c : 3", "", "d : 4", "e : 5", "f : 6"]
        );
        assert_eq!(v[3].no, 6);
        assert_eq!(v[4].no, 9);
    }

    #[test]
    fn normal_text_is_left_alone() {
        let t = "Identity : EX01\\R\nEnabled  : True\n\nIdentity : EX01\\S\n";
        let (v, a) = normalise(t);
        assert_eq!(a, Artifacts::default());
        assert_eq!(
            texts(&v),
            [
                "Identity : EX01\\R",
                "Enabled  : True",
                "",
                "Identity : EX01\\S"
            ]
        );
    }

    #[test]
    fn quotes_fences_entities_and_odd_characters() {
        let t = "> ```\n> [PS] C:\\Windows\\system32&gt;Get-ADPermission \u{201c}EX01\\R\u{201d}\n> User\u{a0}\u{a0}: x  \n> ```\n";
        let (v, a) = normalise(t);
        assert!(a.quoted && a.fenced && a.entities && a.odd_spaces && a.smart_quotes);
        assert_eq!(
            texts(&v),
            [
                "",
                "[PS] C:\\Windows\\system32>Get-ADPermission \"EX01\\R\"",
                "User  : x  ",
                ""
            ]
        );
    }

    #[test]
    fn a_stream_is_cleaned_line_by_line_and_keeps_its_lines() {
        let text = "> [PS] C:\\&gt;Get-ReceiveConnector | fl  \n>   \n> Identity\u{a0}: EX01\\R  \n> ```\n";
        let mut r = CleanReader::new(text.as_bytes(), text);
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(
            out,
            "[PS] C:\\>Get-ReceiveConnector | fl\n\nIdentity : EX01\\R\n\n"
        );
        // The same decisions as for a text held whole, minus the double spacing.
        let (lines, _) = normalise(text);
        assert_eq!(lines.len(), out.lines().count());
    }

    #[test]
    fn quote_levels_are_bounded() {
        let t = ">".repeat(100_000);
        let (v, a) = normalise(&t);
        assert!(a.quoted);
        assert_eq!(v[0].text.len(), 100_000 - MAX_QUOTE_LEVELS);
    }

    #[test]
    fn markdown_breaks_are_removed() {
        let (v, a) = normalise("A : 1  \nB : 2  \nC : 3  \n");
        assert!(a.markdown_breaks);
        assert_eq!(texts(&v), ["A : 1", "B : 2", "C : 3"]);
    }

    #[test]
    fn entities_never_make_control_characters() {
        let (v, _) = normalise("a&#27;[2Jb &#x1b; &#65;\n");
        assert_eq!(texts(&v), ["a&#27;[2Jb &#x1b; A"]);
    }
}
