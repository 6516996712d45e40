//! Decode: bytes to UTF-8 text, streaming.
//!
//! Exchange exports arrive as UTF-16LE with BOM (Windows PowerShell 5.1 `>`, `Out-File`,
//! `Export-Clixml`), UTF-8 with or without BOM (PowerShell 7, converted copies), UTF-16BE,
//! BOM-less UTF-16 (alternating NUL bytes) and, for legacy exports, Windows-1252. [`sniff`]
//! names the encoding from the first bytes; [`DecodeReader`] transcodes any `Read` into UTF-8
//! in fixed-size chunks, so memory never grows with the file. Line endings are left alone:
//! parsers accept CRLF and LF.

use crate::input::blob_filter::BlobFilter;
use crate::input::utf16;
use encoding_rs::{CoderResult, Decoder, Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use std::io::{self, BufRead, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// The encodings relay-audit names in its `inputs` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16LeNoBom,
    Utf16Be,
    Utf16BeNoBom,
    Windows1252,
}

impl TextEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16LeNoBom => "utf-16le-nobom",
            TextEncoding::Utf16Be => "utf-16be",
            TextEncoding::Utf16BeNoBom => "utf-16be-nobom",
            TextEncoding::Windows1252 => "windows-1252",
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => UTF_8,
            TextEncoding::Utf16Le | TextEncoding::Utf16LeNoBom => UTF_16LE,
            TextEncoding::Utf16Be | TextEncoding::Utf16BeNoBom => UTF_16BE,
            TextEncoding::Windows1252 => WINDOWS_1252,
        }
    }

    /// Length of the byte-order mark this encoding implies.
    fn bom_len(self) -> usize {
        match self {
            TextEncoding::Utf8Bom => 3,
            TextEncoding::Utf16Le | TextEncoding::Utf16Be => 2,
            _ => 0,
        }
    }

    /// Parses an `--encoding` label (`utf-8`, `utf-16le`, `utf-16be`, `windows-1252`, `latin1`...).
    pub fn from_label(label: &str) -> Option<TextEncoding> {
        let l = label.to_ascii_lowercase().replace('_', "-");
        Some(match l.as_str() {
            "utf-8" | "utf8" => TextEncoding::Utf8,
            "utf-16le" | "utf-16" | "utf16le" | "unicode" => TextEncoding::Utf16LeNoBom,
            "utf-16be" | "utf16be" | "bigendianunicode" => TextEncoding::Utf16BeNoBom,
            "windows-1252" | "cp1252" | "latin1" | "iso-8859-1" | "ansi" => {
                TextEncoding::Windows1252
            }
            _ => return None,
        })
    }
}

/// Names the encoding from the first bytes of a file (up to 4 KiB is plenty).
///
/// BOMs win. Without a BOM, UTF-16 shows as NUL bytes in every other position for ASCII
/// text; text that is not valid UTF-8 is taken as Windows-1252 (the ANSI code page of
/// Western European Windows servers).
pub fn sniff(head: &[u8]) -> TextEncoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return TextEncoding::Utf8Bom;
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return TextEncoding::Utf16Le;
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return TextEncoding::Utf16Be;
    }
    let n = head.len() & !1;
    if n >= 4 {
        let (mut even_nul, mut odd_nul) = (0usize, 0usize);
        for pair in head[..n].chunks_exact(2) {
            even_nul += (pair[0] == 0) as usize;
            odd_nul += (pair[1] == 0) as usize;
        }
        let pairs = n / 2;
        if odd_nul * 10 >= pairs * 7 && even_nul * 10 < pairs {
            return TextEncoding::Utf16LeNoBom;
        }
        if even_nul * 10 >= pairs * 7 && odd_nul * 10 < pairs {
            return TextEncoding::Utf16BeNoBom;
        }
    }
    match std::str::from_utf8(head) {
        Ok(_) => TextEncoding::Utf8,
        // A multi-byte sequence cut at the end of the sniffed prefix is still UTF-8.
        Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
        Err(_) => TextEncoding::Windows1252,
    }
}

/// A `Read` adapter yielding UTF-8 from any supported encoding, in bounded chunks.
///
/// The BOM is consumed. Malformed sequences become U+FFFD rather than errors: an export
/// with one bad byte is still worth auditing, and the replacement shows in the evidence.
pub struct DecodeReader<R: Read> {
    inner: R,
    decoder: Coder,
    in_buf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    out_buf: Vec<u8>,
    out_start: usize,
    out_end: usize,
    eof: bool,
    finished: bool,
    /// Decoded bytes still to drop at the start (a `#< CLIXML` header).
    skip_out: usize,
}

const CHUNK: usize = 64 * 1024;

/// How a [`DecodeReader`] turns its input into UTF-8.
enum Coder {
    /// UTF-8 is handed over untouched (validated by the parsers that need it).
    Pass,
    /// UTF-16, by [`utf16::decode`] (big-endian or not).
    Utf16(bool),
    /// Windows-1252, by `encoding_rs`.
    Other(Decoder),
}

impl<R: Read> DecodeReader<R> {
    /// Wraps `inner`, whose first bytes have already been sniffed as `encoding`. `head` is
    /// the prefix already read from `inner` (it is decoded first).
    pub fn new(inner: R, encoding: TextEncoding, head: Vec<u8>) -> DecodeReader<R> {
        let skip = encoding.bom_len().min(head.len());
        let passthrough = matches!(encoding, TextEncoding::Utf8 | TextEncoding::Utf8Bom);
        let mut in_buf = head;
        let in_end = in_buf.len();
        if in_buf.len() < CHUNK {
            in_buf.resize(CHUNK, 0);
        }
        DecodeReader {
            inner,
            // The BOM is already skipped: no decoder handles it again.
            decoder: match encoding.encoding() {
                _ if passthrough => Coder::Pass,
                e if e == UTF_16LE => Coder::Utf16(false),
                e if e == UTF_16BE => Coder::Utf16(true),
                e => Coder::Other(e.new_decoder_without_bom_handling()),
            },
            in_buf,
            in_start: skip,
            in_end,
            out_buf: vec![0; CHUNK * 3 + 16],
            out_start: 0,
            out_end: 0,
            eof: false,
            finished: false,
            skip_out: 0,
        }
    }

    fn fill_input(&mut self) -> io::Result<()> {
        if self.in_start > 0 {
            self.in_buf.copy_within(self.in_start..self.in_end, 0);
            self.in_end -= self.in_start;
            self.in_start = 0;
        }
        while !self.eof && self.in_end < self.in_buf.len() {
            match self.inner.read(&mut self.in_buf[self.in_end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.in_end += n;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for DecodeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.skip_out > 0 {
            let mut tmp = [0u8; 64];
            let want = self.skip_out.min(tmp.len());
            match self.read_decoded(&mut tmp[..want])? {
                0 => self.skip_out = 0,
                n => self.skip_out -= n,
            }
        }
        self.read_decoded(buf)
    }
}

impl<R: Read> DecodeReader<R> {
    fn read_decoded(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = (self.out_end - self.out_start).min(buf.len());
                buf[..n].copy_from_slice(&self.out_buf[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.in_start == self.in_end {
                self.fill_input()?;
            }
            let last = self.eof && self.in_start == self.in_end;
            match &mut self.decoder {
                Coder::Pass => {
                    // Pass-through: hand the input bytes over directly.
                    if last {
                        self.finished = true;
                        return Ok(0);
                    }
                    let n = (self.in_end - self.in_start).min(buf.len());
                    buf[..n].copy_from_slice(&self.in_buf[self.in_start..self.in_start + n]);
                    self.in_start += n;
                    return Ok(n);
                }
                Coder::Utf16(big) => {
                    let input = &self.in_buf[self.in_start..self.in_end];
                    // Straight into the caller's buffer when it has room (the large reads
                    // of the pipelined reader): one copy of every byte fewer.
                    let direct = buf.len() >= 1024;
                    let out = if direct {
                        &mut buf[..]
                    } else {
                        &mut self.out_buf[..]
                    };
                    // All the input is in the buffer once the reader is at its end (a split
                    // unit left there is decoded as U+FFFD).
                    let (read, written) = utf16::decode(*big, input, out, self.eof);
                    self.in_start += read;
                    if self.eof && self.in_start == self.in_end {
                        self.finished = true;
                    }
                    if direct && written > 0 {
                        return Ok(written);
                    }
                    self.out_start = 0;
                    self.out_end = if direct { 0 } else { written };
                    if written == 0 && !last && read == 0 {
                        // Need more input (a split code unit): read more.
                        self.fill_input()?;
                    }
                }
                Coder::Other(dec) => {
                    let input = &self.in_buf[self.in_start..self.in_end];
                    let (result, read, written, _) =
                        dec.decode_to_utf8(input, &mut self.out_buf, last);
                    self.in_start += read;
                    self.out_start = 0;
                    self.out_end = written;
                    if last && result == CoderResult::InputEmpty {
                        self.finished = true;
                    }
                    if written == 0 && !last && read == 0 {
                        // Need more input (a split code unit): read more.
                        self.fill_input()?;
                    }
                }
            }
        }
    }
}

/// The line `powershell -OutputFormat xml` and some remoting tools write before `<Objs`.
pub const CLIXML_HEADER: &str = "#< CLIXML";

/// How far [`decode`] reads ahead for the root element of an XML file whose start is a
/// long prolog (comments, processing instructions, whitespace): 1 MiB.
pub const MAX_XML_LOOKAHEAD: usize = 1 << 20;

/// The start of an XML text, as far as a prefix of it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlStart<'a> {
    /// The text does not start with `<` (after a BOM, whitespace and a `#< CLIXML` line).
    NotXml,
    /// The prefix ends inside the prolog: the root element is further on.
    Pending,
    /// The root element's name (`Objs`, `configuration`, ...).
    Root(&'a str),
    /// Something after the prolog that is not an element (text, a stray `<`).
    Malformed,
}

/// Finds the root element of `text` (a prefix of a file, decoded): skips a BOM, whitespace,
/// a `#< CLIXML` line, then the XML declaration, processing instructions, comments and a
/// document type declaration.
pub fn xml_start(text: &str) -> XmlStart<'_> {
    let ws = ['\u{feff}', ' ', '\t', '\r', '\n'];
    let mut t = text.trim_start_matches(ws);
    if let Some(rest) = t.strip_prefix(CLIXML_HEADER) {
        t = rest.trim_start_matches(ws);
    }
    if !t.starts_with('<') {
        return if t.is_empty() {
            XmlStart::Pending
        } else {
            XmlStart::NotXml
        };
    }
    loop {
        t = t.trim_start_matches(ws);
        if t.is_empty() {
            return XmlStart::Pending;
        }
        let end = if t.starts_with("<?") {
            t.find("?>").map(|i| i + 2)
        } else if let Some(body) = t.strip_prefix("<!--") {
            body.find("-->").map(|i| i + 7)
        } else if t.starts_with("<!") {
            // `<!DOCTYPE x [ ... ]>` or `<!DOCTYPE x SYSTEM "...">`
            match (t.find('['), t.find('>')) {
                (Some(b), Some(g)) if b < g => t[b..].find("]>").map(|i| b + i + 2),
                (_, g) => g.map(|i| i + 1),
            }
        } else if let Some(rest) = t.strip_prefix('<') {
            let name_len = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/'))
                .unwrap_or(rest.len());
            if name_len == rest.len() {
                return XmlStart::Pending;
            }
            let name = &rest[..name_len];
            return if name.is_empty() {
                XmlStart::Malformed
            } else {
                XmlStart::Root(name)
            };
        } else {
            return XmlStart::Malformed;
        };
        match end {
            Some(e) => t = &t[e..],
            None => return XmlStart::Pending,
        }
    }
}

/// Does the encoding come from a byte-order mark?
fn from_bom(e: TextEncoding) -> bool {
    matches!(
        e,
        TextEncoding::Utf8Bom | TextEncoding::Utf16Le | TextEncoding::Utf16Be
    )
}

/// Reads into `buf` until it is full or the input ends; returns the bytes read.
fn fill<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn decode_prefix(enc: TextEncoding, head: &[u8]) -> Vec<u8> {
    let mut preview = Vec::new();
    let mut d = DecodeReader::new(&[][..], enc, head.to_vec());
    let _ = d.read_decoded_to_end(&mut preview);
    preview
}

impl<R: Read> DecodeReader<R> {
    fn read_decoded_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut chunk = vec![0u8; CHUNK];
        loop {
            match self.read_decoded(&mut chunk)? {
                0 => return Ok(()),
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// Opens `reader` as text: sniffs (unless `forced`), then returns the encoding found, the
/// decoded start of the text (for format detection) and a UTF-8 reader positioned after
/// the BOM.
///
/// - A byte-order mark wins over `forced`: it names the encoding of this very file, while
///   `--encoding` is a guess for the files that carry none.
/// - The start read is 4 KiB, more when the text is XML whose root element is not in it yet
///   (a long comment or whitespace before it), up to [`MAX_XML_LOOKAHEAD`].
/// - A leading `#< CLIXML` line is dropped from the reader (its line break stays, so line
///   numbers are those of the file); the returned start still shows it.
pub fn decode<R: Read>(
    mut reader: R,
    forced: Option<TextEncoding>,
) -> io::Result<(TextEncoding, Vec<u8>, DecodeReader<R>)> {
    let mut head = vec![0u8; 4096];
    let n = fill(&mut reader, &mut head)?;
    let mut eof = n < head.len();
    head.truncate(n);
    let sniffed = sniff(&head);
    let enc = match forced {
        _ if from_bom(sniffed) => sniffed,
        // A forced encoding still honours a BOM-less sniff that says the same thing.
        Some(f) if f.encoding() == sniffed.encoding() => sniffed,
        Some(f) => f,
        None => sniffed,
    };
    let mut preview = decode_prefix(enc, &head);
    while !eof
        && head.len() < MAX_XML_LOOKAHEAD
        && xml_start(&String::from_utf8_lossy(&preview)) == XmlStart::Pending
    {
        let old = head.len();
        head.resize((old * 2).min(MAX_XML_LOOKAHEAD), 0);
        let n = fill(&mut reader, &mut head[old..])?;
        eof = old + n < head.len();
        head.truncate(old + n);
        preview = decode_prefix(enc, &head);
    }
    let mut r = DecodeReader::new(reader, enc, head);
    if preview.starts_with(CLIXML_HEADER.as_bytes()) {
        r.skip_out = CLIXML_HEADER.len();
    }
    Ok((enc, preview, r))
}

/// Reads (and decodes) on a second thread, handing full chunks to the parser: on a
/// two-core machine the UTF-16 transcoding and the XML parse overlap instead of adding up.
/// Memory stays bounded: at most `DEPTH` chunks are in flight and buffers are recycled.
pub struct Pipelined {
    rx: Receiver<io::Result<Vec<u8>>>,
    back: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

const PIPE_CHUNK: usize = 256 * 1024;
const DEPTH: usize = 4;

impl Pipelined {
    pub fn new<R: Read + Send + 'static>(inner: R) -> Pipelined {
        Pipelined::with_filter(inner, None)
    }

    /// Like [`Pipelined::new`], with a [`BlobFilter`] run on the reading thread (CliXML:
    /// the parser then never sees the base64 blobs).
    pub fn with_filter<R: Read + Send + 'static>(
        mut inner: R,
        mut filter: Option<BlobFilter>,
    ) -> Pipelined {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        let (back, spare) = sync_channel::<Vec<u8>>(DEPTH + 2);
        std::thread::spawn(move || {
            let mut raw = vec![0u8; PIPE_CHUNK];
            loop {
                let mut n = 0;
                while n < PIPE_CHUNK {
                    match inner.read(&mut raw[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                let mut buf = spare.try_recv().unwrap_or_default();
                buf.clear();
                match filter.as_mut() {
                    Some(f) => f.process(&raw[..n], &mut buf, n == 0),
                    None => buf.extend_from_slice(&raw[..n]),
                }
                if !buf.is_empty() && tx.send(Ok(buf)).is_err() {
                    return; // the parser stopped reading
                }
                if n == 0 {
                    return; // dropping `tx` is end of input
                }
            }
        });
        Pipelined {
            rx,
            back,
            cur: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl BufRead for Pipelined {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.cur.len() && !self.done {
            match self.rx.recv() {
                Ok(Ok(next)) => {
                    let old = std::mem::replace(&mut self.cur, next);
                    let _ = self.back.try_send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        if self.done && self.pos >= self.cur.len() {
            return Ok(&[]);
        }
        Ok(&self.cur[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.cur.len());
    }
}

impl Read for Pipelined {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut v = if bom { vec![0xFF, 0xFE] } else { vec![] };
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    }

    fn utf16be(s: &str, bom: bool) -> Vec<u8> {
        let mut v = if bom { vec![0xFE, 0xFF] } else { vec![] };
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_be_bytes());
        }
        v
    }

    fn roundtrip(bytes: Vec<u8>) -> (TextEncoding, String) {
        let (enc, _, mut r) = decode(&bytes[..], None).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        (enc, s)
    }

    const TEXT: &str =
        "Identity : EX01\\Default Frontend EX01\r\nUser : NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG\r\n";

    #[test]
    fn every_encoding_decodes_to_the_same_text() {
        let cases = [
            (TEXT.as_bytes().to_vec(), TextEncoding::Utf8),
            (
                [&[0xEF, 0xBB, 0xBF][..], TEXT.as_bytes()].concat(),
                TextEncoding::Utf8Bom,
            ),
            (utf16le(TEXT, true), TextEncoding::Utf16Le),
            (utf16le(TEXT, false), TextEncoding::Utf16LeNoBom),
            (utf16be(TEXT, true), TextEncoding::Utf16Be),
            (utf16be(TEXT, false), TextEncoding::Utf16BeNoBom),
        ];
        for (bytes, want) in cases {
            let (enc, s) = roundtrip(bytes);
            assert_eq!(enc, want);
            assert_eq!(s, TEXT);
        }
    }

    #[test]
    fn windows_1252_is_recognised_and_decoded() {
        let bytes = b"User : NT-AUTORIT\xC4T\\ANONYMOUS-ANMELDUNG\r\n".to_vec();
        let (enc, s) = roundtrip(bytes);
        assert_eq!(enc, TextEncoding::Windows1252);
        assert!(s.contains("NT-AUTORITÄT"));
    }

    #[test]
    fn large_utf16_streams_in_chunks() {
        let line = "      <S N=\"Name\">Default Frontend EX01 — ünïcödé</S>\r\n";
        let text: String = std::iter::repeat_n(line, 20_000).collect();
        let (enc, s) = roundtrip(utf16le(&text, true));
        assert_eq!(enc, TextEncoding::Utf16Le);
        assert_eq!(s, text);
    }

    #[test]
    fn odd_trailing_byte_does_not_panic() {
        let mut b = utf16le("abc", true);
        b.push(0x41);
        let (_, s) = roundtrip(b);
        assert!(s.starts_with("abc"));
    }

    #[test]
    fn pipelined_reader_yields_the_same_bytes() {
        let line = "<S N=\"Name\">Default Frontend EX01</S>\r\n";
        let text: String = std::iter::repeat_n(line, 50_000).collect();
        let bytes = utf16le(&text, true);
        let (_, _, r) = decode(std::io::Cursor::new(bytes), None).unwrap();
        let mut p = Pipelined::new(r);
        let mut s = String::new();
        p.read_to_string(&mut s).unwrap();
        assert_eq!(s, text);
    }

    #[test]
    fn xml_start_skips_the_prolog_and_the_clixml_header() {
        assert_eq!(xml_start("<Objs Version=\"1\">"), XmlStart::Root("Objs"));
        assert_eq!(
            xml_start("\u{feff}#< CLIXML\r\n<Objs>"),
            XmlStart::Root("Objs")
        );
        assert_eq!(
            xml_start("<?xml version=\"1.0\"?>\n<!-- a <b> -->\n<!DOCTYPE x [<!ENTITY y \"z\">]>\n<configuration/>"),
            XmlStart::Root("configuration")
        );
        assert_eq!(xml_start("<!-- not closed yet"), XmlStart::Pending);
        assert_eq!(xml_start("<Ob"), XmlStart::Pending);
        assert_eq!(xml_start("Identity : x"), XmlStart::NotXml);
        assert_eq!(xml_start("<?xml?> text"), XmlStart::Malformed);
    }

    #[test]
    fn forced_label_parses() {
        assert_eq!(
            TextEncoding::from_label("Windows-1252"),
            Some(TextEncoding::Windows1252)
        );
        assert_eq!(TextEncoding::from_label("klingon"), None);
    }
}
