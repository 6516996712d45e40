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
        if n == 0 {
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
