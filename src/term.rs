//! Text from an input, made visible before it reaches a terminal (or a report a person reads).
//!
//! Exports come from clients and may be crafted: a connector name can hold an ESC sequence
//! that clears the screen, sets the window title or draws a fake summary line, an OSC 8
//! hyperlink, a bare carriage return that overwrites the line, or a bidi override (U+202E)
//! that shows text reversed. Every writer meant for people passes input text through
//! [`visible`] (or [`visible_line`]) where it writes it: such characters become `\u{1b}`-style
//! escapes, so they are seen instead of acting. The model keeps the text as exported.
//!
//! Escaped ([`is_hidden`]): C0 controls (except line feed and tab in [`visible`]), DEL, C1
//! controls (U+0080–U+009F), the bidi embeddings, overrides and isolates (U+202A–U+202E,
//! U+2066–U+2069), the marks U+200E, U+200F and U+061C, and the line and paragraph
//! separators U+2028, U+2029.

use std::borrow::Cow;

/// Does `c` act on a terminal (or on how the text around it is shown) instead of showing
/// itself? Line feed and tab are included: [`visible`] lets them through, [`visible_line`]
/// does not.
pub fn is_hidden(c: char) -> bool {
    c.is_control() // C0, DEL, C1
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

fn escape_where(s: &str, hide: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&hide) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hide(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Input text made visible for a terminal: every [`is_hidden`] character except line feed
/// and tab is written as `\u{1b}`, `\u{202e}`, ... (Rust's escape syntax). For text that may
/// span lines (a whole report, a table cell).
pub fn visible(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| is_hidden(c) && c != '\n' && c != '\t')
}

/// [`visible`] for text that must stay on one line (a name, a value, a file name, an error
/// message): line feed and tab are escaped too, so an input cannot start a line of its own.
pub fn visible_line(s: &str) -> Cow<'_, str> {
    escape_where(s, is_hidden)
}

/// Serialised JSON with the characters serde_json writes raw (DEL, C1 controls, bidi
/// controls, line separators) written as `\uXXXX` escapes instead: the same JSON value, but
/// nothing in it acts on the terminal that shows it. Such characters can only occur inside
/// JSON strings, where a `\uXXXX` escape means the same character.
pub fn json_escaped(json: &str) -> Cow<'_, str> {
    escape_json_where(json)
}

fn escape_json_where(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_hidden_json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_hidden_json(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A writer that passes JSON on with [`json_escaped`] applied, as it is written: a report is
/// streamed, never held whole to be escaped. A character split across two writes is held
/// until its last byte arrives; bytes that are not UTF-8 pass as they are.
pub struct JsonEscaper<W: std::io::Write> {
    inner: W,
    carry: Vec<u8>,
}

impl<W: std::io::Write> JsonEscaper<W> {
    pub fn new(inner: W) -> Self {
        JsonEscaper {
            inner,
            carry: Vec::new(),
        }
    }

    fn pass(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    self.inner.write_all(escape_json_where(s).as_bytes())?;
                    rest = &[];
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // (valid UTF-8 by construction)
                    let good = std::str::from_utf8(good).unwrap_or_default();
                    self.inner.write_all(escape_json_where(good).as_bytes())?;
                    match e.error_len() {
                        // An incomplete character at the end: wait for the rest.
                        None => {
                            self.carry.extend_from_slice(bad);
                            rest = &[];
                        }
                        Some(n) => {
                            self.inner.write_all(&bad[..n])?;
                            rest = &bad[n..];
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl<W: std::io::Write> std::io::Write for JsonEscaper<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.carry.is_empty() {
            self.pass(buf)?;
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(buf);
            self.pass(&joined)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.carry.is_empty() {
            let c = std::mem::take(&mut self.carry);
            self.inner.write_all(&c)?;
        }
        self.inner.flush()
    }
}

/// Hidden characters JSON may hold raw: not line feed, tab or carriage return, which only
/// occur as JSON whitespace (inside strings serde_json escapes every C0 control).
fn is_hidden_json(c: char) -> bool {
    is_hidden(c) && !matches!(c, '\n' | '\t' | '\r' | ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streaming_escaper_matches_the_whole_one_however_the_bytes_are_cut() {
        use std::io::Write;
        let json = "{\"a\": \"x\u{202e}y\u{1b}é€😀\"}\n";
        let want = json_escaped(json).into_owned();
        for cut in 1..json.len() {
            let mut out = Vec::new();
            {
                let mut w = JsonEscaper::new(&mut out);
                for chunk in json.as_bytes().chunks(cut) {
                    w.write_all(chunk).unwrap();
                }
                w.flush().unwrap();
            }
            assert_eq!(String::from_utf8(out).unwrap(), want, "chunks of {cut}");
        }
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(visible("EX01\\Relay ü ✓"), Cow::Borrowed(_)));
        assert!(matches!(visible_line("a b"), Cow::Borrowed(_)));
    }

    #[test]
    fn controls_and_bidi_become_escapes() {
        assert_eq!(visible("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(visible("x\ry"), "x\\u{d}y");
        assert_eq!(visible("x\0y\u{7f}z\u{9b}"), "x\\u{0}y\\u{7f}z\\u{9b}");
        assert_eq!(visible("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(
            visible("\u{2066}\u{2069}\u{200e}\u{200f}"),
            "\\u{2066}\\u{2069}\\u{200e}\\u{200f}"
        );
        assert_eq!(visible("line\nnext\tcell"), "line\nnext\tcell");
        assert_eq!(visible_line("line\nnext\tcell"), "line\\u{a}next\\u{9}cell");
    }

    #[test]
    fn every_hidden_character_is_escaped() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let s = format!("a{c}b");
            let v = visible_line(&s);
            assert!(!v.chars().any(is_hidden), "{c:?}");
            if is_hidden(c) {
                assert_eq!(v, format!("a\\u{{{:x}}}b", c as u32));
            }
        }
    }

    #[test]
    fn json_stays_the_same_value() {
        let s = "R\u{202e}x\u{7f}\u{85}\u{1b}\n";
        let json = serde_json::to_string(&s).unwrap();
        let safe = json_escaped(&json);
        assert!(!safe.chars().any(is_hidden), "{safe}");
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, s);
        let pretty = serde_json::to_string_pretty(&serde_json::json!({"a": [1, 2]})).unwrap();
        assert_eq!(json_escaped(&pretty), pretty);
    }
}
