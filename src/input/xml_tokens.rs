//! The XML tokens of a CliXML export, read from a stream into one reused buffer.
//!
//! CliXML is a small corner of XML: elements with a few quoted attributes, text with the
//! five predefined entities and character references, and (in damaged or crafted files)
//! comments, CDATA, processing instructions and a DOCTYPE. [`Tokens`] cuts a stream into
//! those pieces without copying each one out: a token borrows the buffer until the next is
//! asked for. Nothing is judged here: mismatched end tags, entities and the meaning of the
//! elements are the CliXML parser's business; a token that never ends (a tag cut by the end
//! of the file, or longer than [`MAX_TOKEN`]) is an error, and reading goes on after it.

use std::borrow::Cow;
use std::io::{self, Read};

/// The longest tag, comment, CDATA section or processing instruction read whole: 16 MiB.
/// Text is handed over in pieces, so a long value never needs more than the buffer.
pub const MAX_TOKEN: usize = 16 << 20;

const BUFFER: usize = 256 << 10;

/// Text longer than this with no `<` in sight is handed over in pieces.
const TEXT_PIECE: usize = 64 << 10;

/// One piece of the document.
#[derive(Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// `<name attributes>`, or `<name attributes/>` when `empty`.
    Start {
        tag: Tag<'a>,
        empty: bool,
    },
    /// `</name>` (the name with surrounding blanks trimmed).
    End(&'a [u8]),
    /// Character data up to the next `<`, entities not yet resolved (a long run may come in
    /// several pieces, never cut inside a character or an entity).
    Text(&'a [u8]),
    /// The content of `<![CDATA[...]]>`.
    CData(&'a [u8]),
    /// The content of `<!--...-->`.
    Comment(&'a [u8]),
    /// `<?...?>`, the XML declaration included: its content.
    Pi(&'a [u8]),
    /// `<!DOCTYPE ...>` or any other `<!` declaration: its content.
    DocType(&'a [u8]),
    Eof,
}

/// A token that could not be read: why, and the line breaks in what was skipped.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenError {
    pub message: String,
    pub newlines: u32,
}

/// A start tag: its name and attributes, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Everything between `<` and `>` (or `/>`).
    pub raw: &'a [u8],
    name_len: usize,
}

impl<'a> Tag<'a> {
    fn new(raw: &'a [u8]) -> Tag<'a> {
        let name_len = raw
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(raw.len());
        Tag { raw, name_len }
    }

    pub fn name(&self) -> &'a [u8] {
        &self.raw[..self.name_len]
    }

    /// The raw value of attribute `name` (entities unresolved); `None` when it is absent or
    /// the attributes before it cannot be read.
    pub fn attr(&self, name: &str) -> Option<&'a [u8]> {
        let mut rest = &self.raw[self.name_len..];
        loop {
            rest = trim_start(rest);
            if rest.is_empty() {
                return None;
            }
            let eq = rest.iter().position(|&b| b == b'=')?;
            let key = trim_end(&rest[..eq]);
            rest = trim_start(&rest[eq + 1..]);
            let quote = *rest.first()?;
            if quote != b'"' && quote != b'\'' {
                return None;
            }
            let len = rest[1..].iter().position(|&b| b == quote)?;
            let value = &rest[1..1 + len];
            if key == name.as_bytes() {
                return Some(value);
            }
            rest = &rest[len + 2..];
        }
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &b[n..]
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    &b[..b.len() - n]
}

/// Line breaks in a run of the document (tokens and skipped markup keep line numbers exact).
pub fn newlines(b: &[u8]) -> u32 {
    if b.len() < 64 {
        // (most runs are an indentation or a tag: a plain loop beats setting up a search)
        return b.iter().filter(|&&c| c == b'\n').count() as u32;
    }
    memchr::memchr_iter(b'\n', b).count() as u32
}

/// An attribute value as XML reads it: entities and character references resolved and
/// each tab, line break or carriage return made a space. A value with a reference that
/// cannot be resolved is returned as written.
pub fn attr_value(raw: &[u8]) -> Cow<'_, str> {
    let text = String::from_utf8_lossy(raw);
    if !text.contains(['&', '\t', '\n', '\r']) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(i) = rest.find(['&', '\t', '\n', '\r']) {
        out.push_str(&rest[..i]);
        if rest.as_bytes()[i] != b'&' {
            out.push(' ');
            rest = &rest[i + 1..];
            continue;
        }
        let Some(end) = rest[i..].find(';') else {
            return Cow::Owned(text.into_owned());
        };
        match entity(&rest[i + 1..i + end]) {
            Ok(c) => out.push_str(&c),
            Err(_) => return Cow::Owned(text.into_owned()),
        }
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Why an entity reference cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub enum EntityError {
    /// A named entity other than the five XML defines (a DTD's, which CliXML never has).
    NotAllowed,
    /// `&#...;` that names no character.
    BadCharRef(String),
}

/// Resolves the name between `&` and `;`.
pub fn entity(name: &str) -> Result<Cow<'static, str>, EntityError> {
    let fixed = match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "quot" => "\"",
        "apos" => "'",
        _ => {
            let Some(num) = name.strip_prefix('#') else {
                return Err(EntityError::NotAllowed);
            };
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => num.parse(),
            };
            return match code.ok().and_then(char::from_u32) {
                Some(c) if c != '\0' => Ok(Cow::Owned(c.to_string())),
                _ => Err(EntityError::BadCharRef(format!(
                    "&{name}; is not a character"
                ))),
            };
        }
    };
    Ok(Cow::Borrowed(fixed))
}

/// Splits a stream into [`Token`]s.
pub struct Tokens<R: Read> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Bytes before `buf[0]` (for [`Tokens::position`]).
    base: u64,
}

impl<R: Read> Tokens<R> {
    pub fn new(inner: R) -> Tokens<R> {
        Tokens {
            inner,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            eof: false,
            base: 0,
        }
    }

    /// Bytes of the stream handed over as tokens so far.
    pub fn position(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Reads more input after what is buffered: `false` at the end of the stream. Makes
    /// room first (moving the unread rest to the front, or growing the buffer up to
    /// [`MAX_TOKEN`] when the rest fills it).
    fn more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_TOKEN {
                return Ok(false);
            }
            let grown = (self.buf.len() * 2).min(MAX_TOKEN);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next token, with the bytes of the stream read up to its end; an I/O error
    /// ends the stream with that error.
    pub fn next_token(&mut self) -> io::Result<(u64, Result<Token<'_>, TokenError>)> {
        let span = self.next_span()?;
        let position = self.position();
        Ok((
            position,
            span.map(|(found, at, len)| match found {
                None if len == 0 => Token::Eof,
                None => Token::Text(&self.buf[at..at + len]),
                Some(f) => f.of(&self.buf[at..at + len]),
            }),
        ))
    }

    /// The next token as (its markup kind, or `None` for text; where; how long): `None`
    /// and length 0 at the end.
    fn next_span(&mut self) -> io::Result<Result<Span, TokenError>> {
        if self.start == self.end && !self.more()? {
            return Ok(Ok((None, self.start, 0)));
        }
        if self.buf[self.start] != b'<' {
            return self.text();
        }
        // Where the markup ends, searched again after each read that brings more input.
        let mut from = self.start + 1;
        loop {
            let avail = &self.buf[self.start..self.end];
            match markup_end(avail, from - self.start) {
                Some((len, found)) => {
                    let at = self.start;
                    self.start += len;
                    return Ok(Ok((Some(found), at, len)));
                }
                None => {
                    let scanned = self.end - self.start;
                    // (`more` reads nothing once the buffer holds MAX_TOKEN bytes of it)
                    if !self.more()? {
                        return if self.eof {
                            Ok(Err(self.unended()))
                        } else {
                            self.overlong().map(Err)
                        };
                    }
                    // (the search resumes a little before where it stopped: a `-->` or
                    // `]]>` may straddle the old end)
                    from = self.start + scanned.saturating_sub(2).max(1);
                }
            }
        }
    }

    /// Markup that the end of the file cuts: everything left is skipped.
    fn unended(&mut self) -> TokenError {
        let rest = &self.buf[self.start..self.end];
        let lines = newlines(rest);
        let head = String::from_utf8_lossy(&rest[..rest.len().min(40)]).into_owned();
        self.start = self.end;
        TokenError {
            message: format!(
                "the file ends inside a tag, comment or CDATA section (starting `{head}`)"
            ),
            newlines: lines,
        }
    }

    /// Markup longer than [`MAX_TOKEN`]: skipped up to its end (`-->` for a comment, `]]>`
    /// for CDATA, `?>` for a processing instruction, `>` for anything else), never read
    /// from its middle, so that what a long comment holds never becomes objects.
    fn overlong(&mut self) -> io::Result<TokenError> {
        let rest = &self.buf[self.start..self.end];
        let head = String::from_utf8_lossy(&rest[..rest.len().min(40)]).into_owned();
        let end: &[u8] = if rest.starts_with(b"<!--") {
            b"-->"
        } else if rest.starts_with(b"<![CDATA[") {
            b"]]>"
        } else if rest.starts_with(b"<?") {
            b"?>"
        } else {
            b">"
        };
        // (the search starts past the opening, so that `<!-->` is not its own end)
        let mut from = 2;
        let mut lines = 0u32;
        loop {
            let avail = &self.buf[self.start..self.end];
            let from_here = from.min(avail.len());
            if let Some(i) = memchr::memmem::find(&avail[from_here..], end) {
                let len = from_here + i + end.len();
                lines += newlines(&avail[..len]);
                self.start += len;
                break;
            }
            // Keep what may be the start of the end marker; let go of the rest.
            let keep = (end.len() - 1).min(avail.len() - from_here);
            let drop = avail.len() - keep;
            lines += newlines(&avail[..drop]);
            self.start += drop;
            from = 0;
            if !self.more()? {
                lines += newlines(&self.buf[self.start..self.end]);
                self.start = self.end;
                break;
            }
        }
        Ok(TokenError {
            message: format!(
                "markup longer than {} MiB (starting `{head}`) is skipped to its end",
                MAX_TOKEN >> 20
            ),
            newlines: lines,
        })
    }

    fn text(&mut self) -> io::Result<Result<Span, TokenError>> {
        let mut scanned = 0;
        loop {
            let avail = &self.buf[self.start..self.end];
            let len = match memchr::memchr(b'<', &avail[scanned..]) {
                Some(i) => scanned + i,
                None if self.eof => avail.len(),
                None if avail.len() >= TEXT_PIECE => safe_cut(avail),
                None => {
                    scanned = avail.len();
                    if self.more()? {
                        continue;
                    }
                    self.end - self.start
                }
            };
            let at = self.start;
            self.start += len;
            return Ok(Ok((None, at, len)));
        }
    }
}

/// Where text may be cut: not inside a UTF-8 character, nor inside an entity reference.
fn safe_cut(text: &[u8]) -> usize {
    let mut n = text.len();
    while n > 0 && n > text.len() - 4 && (text[n - 1] & 0xC0) == 0x80 {
        n -= 1;
    }
    if n > 0 && n < text.len() && text[n - 1] >= 0xC0 {
        n -= 1; // the lead byte of the character cut
    }
    let tail = &text[n.saturating_sub(40)..n];
    match memchr::memrchr(b'&', tail) {
        Some(a) if !tail[a..].contains(&b';') => n - (tail.len() - a),
        _ => n,
    }
}

/// A token before its bytes are borrowed: its markup kind (`None` for text), where it
/// starts in the buffer and how long it is (`None` and 0 at the end of the stream).
type Span = (Option<Found>, usize, usize);

/// The kind of markup found, before its bytes are borrowed.
enum Found {
    Start { empty: bool },
    End,
    CData,
    Comment,
    Pi,
    DocType,
}

impl Found {
    /// The token of markup `m` (from `<` to `>` inclusive).
    fn of(self, m: &[u8]) -> Token<'_> {
        let n = m.len();
        match self {
            Found::Start { empty } => Token::Start {
                tag: Tag::new(&m[1..n - if empty { 2 } else { 1 }]),
                empty,
            },
            Found::End => Token::End(trim_end(trim_start(&m[2..n - 1]))),
            Found::CData => Token::CData(&m[9..n - 3]),
            Found::Comment => Token::Comment(&m[4..n - 3]),
            Found::Pi => Token::Pi(&m[2..n - 2]),
            Found::DocType => Token::DocType(&m[2..n - 1]),
        }
    }
}

/// The length of the markup at the start of `b` (which starts with `<`) and its kind;
/// `None` when `b` ends first (the search may start at `from`).
fn markup_end(b: &[u8], from: usize) -> Option<(usize, Found)> {
    let find = |pat: &[u8], min: usize| -> Option<usize> {
        let from = from.max(min);
        if from > b.len() {
            return None;
        }
        memchr::memmem::find(&b[from..], pat).map(|i| from + i + pat.len())
    };
    if b.starts_with(b"<!--") {
        find(b"-->", 4).map(|n| (n, Found::Comment))
    } else if b.starts_with(b"<![CDATA[") {
        find(b"]]>", 9).map(|n| (n, Found::CData))
    } else if b.starts_with(b"<?") {
        find(b"?>", 2).map(|n| (n, Found::Pi))
    } else if b.len() < 9 && (b"<!--".starts_with(b) || b"<![CDATA[".starts_with(b)) {
        None // not yet known which
    } else if b.starts_with(b"<!") {
        find(b">", 2).map(|n| (n, Found::DocType))
    } else if b.starts_with(b"</") {
        find(b">", 2).map(|n| (n, Found::End))
    } else {
        // A start tag: the first `>` outside quoted attribute values. (Scanned from the
        // start each time: a tag is short, and a quote may open before `from`.)
        let mut i = 1;
        loop {
            let Some(k) = memchr::memchr3(b'>', b'"', b'\'', &b[i..]) else {
                break None;
            };
            let at = i + k;
            if b[at] == b'>' {
                let empty = at > 1 && b[at - 1] == b'/';
                break Some((at + 1, Found::Start { empty }));
            }
            match memchr::memchr(b[at], &b[at + 1..]) {
                Some(close) => i = at + 1 + close + 1,
                None => break None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands over at most `step` bytes per call (tokens straddle reads).
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn tokens(text: &str, step: usize) -> Vec<String> {
        let mut t = Tokens::new(Trickle(text.as_bytes(), step));
        let mut out = Vec::new();
        loop {
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            match t.next_token().expect("no I/O error").1 {
                Ok(Token::Eof) => return out,
                Ok(Token::Start { tag, empty }) => out.push(format!(
                    "start {} N={:?} empty={empty}",
                    s(tag.name()),
                    tag.attr("N").map(s)
                )),
                Ok(Token::End(n)) => out.push(format!("end {}", s(n))),
                Ok(Token::Text(x)) => match out.last_mut() {
                    // (text may come in pieces: compare it joined)
                    Some(l) if l.starts_with("text ") => l.push_str(&s(x)),
                    _ => out.push(format!("text {}", s(x))),
                },
                Ok(Token::CData(x)) => out.push(format!("cdata {}", s(x))),
                Ok(Token::Comment(x)) => out.push(format!("comment {}", s(x))),
                Ok(Token::Pi(x)) => out.push(format!("pi {}", s(x))),
                Ok(Token::DocType(x)) => out.push(format!("doctype {}", s(x))),
                Err(e) => out.push(format!("error {}", e.message)),
            }
        }
    }

    const DOC: &str = "<?xml version=\"1.0\"?>\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\r\n  <Obj RefId=\"0\">\r\n    <TNRef RefId=\"0\" />\r\n    <Props>\r\n      <S N=\"Name\">Relay &amp; \"more\" &gt; 1</S>\r\n      <S N='a&gt;b'>x</S>\r\n      <!-- a > comment -- -->\r\n      <S N=\"Q\"><![CDATA[<Obj>]]></S>\r\n    </Props>\r\n  </Obj>\r\n</Objs >\r\n";

    #[test]
    fn a_document_is_the_same_tokens_however_it_arrives() {
        let whole = tokens(DOC, usize::MAX);
        assert_eq!(whole[0], "pi xml version=\"1.0\"");
        assert!(whole.contains(&"start Obj N=None empty=false".to_string()));
        assert!(whole.contains(&"start TNRef N=None empty=true".to_string()));
        assert!(whole.contains(&"start S N=Some(\"a&gt;b\") empty=false".to_string()));
        assert!(whole.contains(&"comment  a > comment -- ".to_string()));
        assert!(whole.contains(&"cdata <Obj>".to_string()));
        assert!(whole.contains(&"end Objs".to_string()));
        for step in [1, 2, 3, 7, 64] {
            assert_eq!(tokens(DOC, step), whole, "read {step} bytes at a time");
        }
    }

    #[test]
    fn markup_cut_by_the_end_of_the_file_is_an_error_not_a_hang() {
        for cut in [
            "<Objs><Obj RefId=\"1",
            "<Objs><!-- never closed",
            "<Objs><![CDATA[x",
        ] {
            let t = tokens(cut, 3);
            assert!(
                t.last()
                    .is_some_and(|l| l.starts_with("error the file ends inside")),
                "{t:?}"
            );
        }
    }

    #[test]
    fn overlong_markup_is_skipped_to_its_end_never_read_from_its_middle() {
        // A comment past the token budget, hiding an object: the object never appears, the
        // line breaks in it are still counted, and what follows the comment is read.
        let filler = "x\n".repeat(MAX_TOKEN / 2 + 10);
        let doc = format!(
            "<Objs><!--{filler}<Obj RefId=\"9\">hidden</Obj>{filler}--><Obj RefId=\"1\"/></Objs>"
        );
        let mut t = Tokens::new(Trickle(doc.as_bytes(), 1 << 20));
        let mut seen = Vec::new();
        let mut lines = 0;
        loop {
            match t.next_token().unwrap().1 {
                Ok(Token::Eof) => break,
                Ok(Token::Start { tag, .. }) => {
                    seen.push(String::from_utf8_lossy(tag.raw).into_owned())
                }
                Ok(_) => {}
                Err(e) => {
                    assert!(e.message.contains("is skipped to its end"), "{}", e.message);
                    lines += e.newlines;
                }
            }
        }
        assert_eq!(seen, ["Objs", "Obj RefId=\"1\""]);
        assert_eq!(lines as usize, 2 * (MAX_TOKEN / 2 + 10));
    }

    #[test]
    fn long_text_comes_in_pieces_never_cut_in_a_character_or_an_entity() {
        let body = "é&amp;".repeat(40_000);
        let doc = format!("<S>{body}</S>");
        let mut t = Tokens::new(Trickle(doc.as_bytes(), 4096));
        let mut pieces = 0;
        let mut text = Vec::new();
        loop {
            match t.next_token().unwrap().1.unwrap() {
                Token::Text(x) => {
                    assert!(
                        std::str::from_utf8(x).is_ok(),
                        "a piece cut inside a character"
                    );
                    let last_amp = x.iter().rposition(|&b| b == b'&');
                    assert!(
                        last_amp.is_none_or(|a| x[a..].contains(&b';')),
                        "cut in an entity"
                    );
                    pieces += 1;
                    text.extend_from_slice(x);
                }
                Token::Eof => break,
                _ => {}
            }
        }
        assert!(pieces > 1);
        assert_eq!(text, body.as_bytes());
    }

    #[test]
    fn attribute_values_read_as_xml_reads_them() {
        assert_eq!(
            attr_value(b"Default Frontend EX01"),
            "Default Frontend EX01"
        );
        assert_eq!(attr_value(b"a&amp;b&#x41;&#66;\tc"), "a&bAB c");
        assert_eq!(attr_value(b"bad &nope; ref"), "bad &nope; ref");
        assert_eq!(
            entity("#0"),
            Err(EntityError::BadCharRef("&#0; is not a character".into()))
        );
        assert_eq!(entity("nbsp"), Err(EntityError::NotAllowed));
    }
}
