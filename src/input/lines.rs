//! Line reading shared by the text parsers (Format-List, Format-Table): one line at a time
//! into a reused buffer, 1-based line numbers, invalid UTF-8 replaced (and said once).

use crate::diag::{Diagnostic, InputError};
use std::io::BufRead;

/// What a line-oriented parser implements.
pub(crate) trait LineSink {
    /// One line (with its line ending, if any) and its 1-based number.
    fn line(&mut self, line_no: u32, text: &str);
    /// A note about the input (invalid UTF-8).
    fn note(&mut self, d: Diagnostic);
    /// True once the sink needs no more lines (it met an error): reading stops.
    fn done(&self) -> bool {
        false
    }
}

/// Feeds every line of `reader` to `sink`; memory is one line.
pub(crate) fn read_lines<R: BufRead>(
    mut reader: R,
    file: &str,
    sink: &mut dyn LineSink,
) -> Result<(), InputError> {
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut line_no: u32 = 0;
    let mut bad_utf8_reported = false;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| {
            InputError::new(
                file,
                Some(line_no.saturating_add(1)),
                format!("cannot read: {e}"),
            )
        })?;
        if n == 0 || sink.done() {
            return Ok(());
        }
        line_no = line_no.saturating_add(1);
        match std::str::from_utf8(&buf) {
            Ok(s) => sink.line(line_no, s),
            Err(_) => {
                if !bad_utf8_reported {
                    bad_utf8_reported = true;
                    sink.note(Diagnostic::info(
                        file,
                        Some(line_no),
                        "text is not valid UTF-8; invalid bytes were replaced with U+FFFD",
                    ));
                }
                sink.line(line_no, &String::from_utf8_lossy(&buf));
            }
        }
    }
}

/// Removes ANSI escape sequences (PowerShell 7 colours labels in a console transcript).
pub(crate) fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters, then a final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// At most `max` characters of `s`, with `…` when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Items of a collection as Format-List joins them (`, `).
pub(crate) fn split_items(inner: &str) -> Vec<String> {
    if inner.trim().is_empty() {
        return Vec::new();
    }
    inner
        .split(", ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// After `max` notes of one sort, the rest of them are summarised in one line.
pub(crate) fn summarise_overflow(
    diagnostics: &mut Vec<crate::diag::Diagnostic>,
    file: &str,
    level: crate::diag::Level,
    count: u32,
    max: u32,
    what: &str,
) {
    if count > max {
        diagnostics.push(crate::diag::Diagnostic {
            level,
            file: file.to_string(),
            line: None,
            message: format!("{} more {what}", count - max),
        });
    }
}
