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
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(input);
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
                                out.extend_from_slice(&data[i..at + OPEN.len()]);
                                i = at + OPEN.len();
                                self.state = State::StartTag { prev_slash: false };
                            }
                            Some(_) => {
                                out.extend_from_slice(&data[i..at + OPEN.len()]);
                                i = at + OPEN.len();
                            }
                            None if eof => {
                                out.extend_from_slice(&data[i..]);
                                i = n;
                            }
                            None => {
                                out.extend_from_slice(&data[i..at]);
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
                        out.extend_from_slice(&data[i..n - keep]);
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

    #[test]
    fn drops_blob_content_keeps_tags_and_line_breaks_at_any_chunk_size() {
        let want = "<Obj>\n  <MS>\n    <BA N=\"SerializationData\">\n</BA>\n    <BAR>kept</BAR>\n    <BA N=\"x\" />\n    <S N=\"a\">&lt;BA&gt;</S>\n  </MS>\n</Obj>\n";
        for chunk in [1, 2, 3, 4, 5, 7, 16, 1000] {
            let (got, dropped) = run(DOC, chunk);
            assert_eq!(got, want, "chunk {chunk}");
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
    }
}
