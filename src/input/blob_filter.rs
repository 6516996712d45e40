//! Blob filter: drops the content of CliXML `<BA>` (base64 binary) elements while streaming.
//!
//! Exports from a remote Exchange Management Shell carry a `SerializationData` blob on almost
//! every object: about three quarters of a real `Get-ReceiveConnector` export is base64 that
//! no rule reads. The filter runs on the decoding thread (see `decode::Pipelined`), so the XML
//! parser on the other core never sees those bytes. It keeps every line break of the dropped
//! content, so line numbers in diagnostics and evidence stay exact, and it keeps the tags
//! (`<BA N="SerializationData"></BA>`), so the document stays well-formed and the parser
//! still knows the property was there.

use memchr::memmem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Copying text; looking for `<BA`.
    Outside,
    /// Inside the `<BA ...>` start tag; copying it, looking for its `>`.
    StartTag { prev_slash: bool },
    /// Inside the element: dropping content, looking for `</BA>`.
    Content,
}

/// Streaming state across chunks.
#[derive(Debug)]
pub struct BlobFilter {
    state: State,
    /// Bytes held back at the end of a chunk that may begin a marker cut by the boundary.
    carry: Vec<u8>,
    /// Bytes dropped so far (for tests and curiosity).
    pub dropped: u64,
}

const OPEN: &[u8] = b"<BA";
const CLOSE: &[u8] = b"</BA>";

impl Default for BlobFilter {
    fn default() -> Self {
        BlobFilter::new()
    }
}

impl BlobFilter {
    pub fn new() -> BlobFilter {
        BlobFilter {
            state: State::Outside,
            carry: Vec::new(),
            dropped: 0,
        }
    }

    /// Filters `input` into `out`. With `eof`, everything held back is flushed.
    pub fn process(&mut self, input: &[u8], out: &mut Vec<u8>, eof: bool) {
        if self.carry.is_empty() {
            // (the usual case: no marker was cut at the end of the last chunk, and this one
            // is filtered where it is, not copied first)
            self.filter(input, out, eof);
        } else {
            let mut data = std::mem::take(&mut self.carry);
            data.extend_from_slice(input);
            self.filter(&data, out, eof);
        }
    }

    fn filter(&mut self, data: &[u8], out: &mut Vec<u8>, eof: bool) {
        let mut i = 0;
        let n = data.len();
        let open = memmem::Finder::new(OPEN);
        let close = memmem::Finder::new(CLOSE);
        while i < n {
            match self.state {
                State::Outside => match open.find(&data[i..]) {
                    Some(k) => {
                        let at = i + k;
                        // `<BA` must be the whole tag name: `<BA ...`, `<BA>` or `<BA/>`.
                        match data.get(at + OPEN.len()) {
                            Some(b' ' | b'>' | b'/' | b'\t' | b'\r' | b'\n') => {
                                copy_text(&data[i..at + OPEN.len()], out);
                                i = at + OPEN.len();
                                self.state = State::StartTag { prev_slash: false };
                            }
                            Some(_) => {
                                copy_text(&data[i..at + OPEN.len()], out);
                                i = at + OPEN.len();
                            }
                            None if eof => {
                                copy_text(&data[i..], out);
                                i = n;
                            }
                            None => {
                                copy_text(&data[i..at], out);
                                self.carry = data[at..].to_vec();
                                return;
                            }
                        }
                    }
                    None => {
                        // Hold back a tail that may be the start of `<BA`.
                        let keep = if eof {
                            0
                        } else {
                            partial_suffix(&data[i..], OPEN)
                        };
                        copy_text(&data[i..n - keep], out);
                        self.carry = data[n - keep..].to_vec();
                        return;
                    }
                },
                State::StartTag { prev_slash } => {
                    let mut slash = prev_slash;
                    let mut j = i;
                    while j < n && data[j] != b'>' {
                        slash = data[j] == b'/';
                        j += 1;
                    }
                    out.extend_from_slice(&data[i..(j + 1).min(n)]);
                    if j < n {
                        self.state = if slash {
                            State::Outside
                        } else {
                            State::Content
                        };
                        i = j + 1;
                    } else {
                        self.state = State::StartTag { prev_slash: slash };
                        i = n;
                    }
                }
                State::Content => match close.find(&data[i..]) {
                    Some(k) => {
                        self.drop_keeping_newlines(&data[i..i + k], out);
                        out.extend_from_slice(CLOSE);
                        i += k + CLOSE.len();
                        self.state = State::Outside;
                    }
                    None => {
                        let keep = if eof {
                            0
                        } else {
                            partial_suffix(&data[i..], CLOSE)
                        };
                        self.drop_keeping_newlines(&data[i..n - keep], out);
                        self.carry = data[n - keep..].to_vec();
                        return;
                    }
                },
            }
        }
    }

    fn drop_keeping_newlines(&mut self, dropped: &[u8], out: &mut Vec<u8>) {
        self.dropped += dropped.len() as u64;
        for _ in memchr::memchr_iter(b'\n', dropped) {
            out.push(b'\n');
        }
    }
}

/// Copies text outside blobs, dropping indentation: the spaces and tabs between a line break
/// and the next tag. They are insignificant in CliXML (a line break inside a value is written
/// as `_x000A_`), and the parser then has fewer bytes to move. A run that reaches the end of
/// the chunk is kept as it is; line breaks are always kept.
fn copy_text(src: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', src) {
        out.extend_from_slice(&src[start..=nl]);
        let mut k = nl + 1;
        while k < src.len() && (src[k] == b' ' || src[k] == b'\t') {
            k += 1;
        }
        start = if k < src.len() && src[k] == b'<' {
            k
        } else {
            nl + 1
        };
    }
    out.extend_from_slice(&src[start..]);
}

/// The length of the longest suffix of `data` that is a proper prefix of `marker`.
fn partial_suffix(data: &[u8], marker: &[u8]) -> usize {
    let max = (marker.len() - 1).min(data.len());
    (1..=max)
        .rev()
        .find(|&k| data[data.len() - k..] == marker[..k])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str, chunk: usize) -> (String, u64) {
        let mut f = BlobFilter::new();
        let mut out = Vec::new();
        for c in input.as_bytes().chunks(chunk.max(1)) {
            f.process(c, &mut out, false);
        }
        f.process(&[], &mut out, true);
        (String::from_utf8(out).unwrap(), f.dropped)
    }

    const DOC: &str = "<Obj>\n  <MS>\n    <BA N=\"SerializationData\">AAEAAAD/////AQ\nAAAAAAAAAAMAgAAAFtNaW</BA>\n    <BAR>kept</BAR>\n    <BA N=\"x\" />\n    <S N=\"a\">&lt;BA&gt;</S>\n  </MS>\n</Obj>\n";

    /// Indentation may survive at a chunk boundary: compare without it.
    fn unindent(s: &str) -> String {
        s.lines()
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn drops_blob_content_keeps_tags_and_line_breaks_at_any_chunk_size() {
        let want = "<Obj>\n<MS>\n<BA N=\"SerializationData\">\n</BA>\n<BAR>kept</BAR>\n<BA N=\"x\" />\n<S N=\"a\">&lt;BA&gt;</S>\n</MS>\n</Obj>\n";
        assert_eq!(run(DOC, 1000).0, want);
        for chunk in [1, 2, 3, 4, 5, 7, 16, 1000] {
            let (got, dropped) = run(DOC, chunk);
            assert_eq!(unindent(&got), unindent(want), "chunk {chunk}");
            assert_eq!(got.matches('\n').count(), DOC.matches('\n').count());
            assert_eq!(dropped, 36, "chunk {chunk}");
        }
    }

    #[test]
    fn a_cut_off_blob_does_not_lose_the_rest() {
        let (got, _) = run("<BA N=\"x\">AAAA", 3);
        assert_eq!(got, "<BA N=\"x\">");
        let (got, _) = run("text <B", 2);
        assert_eq!(got, "text <B");
        // indentation before text (not a tag) is kept: it may be part of a value
        let (got, _) = run("<S>a\n   b</S>\n  <T/>", 100);
        assert_eq!(got, "<S>a\n   b</S>\n<T/>");
    }
}
