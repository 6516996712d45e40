//! The one outcome every reader returns.
//!
//! Whatever the format — CliXML, a transcript of console text, a settings file, `.reg`, LDIF,
//! MetaBase.xml — reading a file sends its records to a sink as they are read and returns an
//! [`Outcome`]: how many objects were read, what was skipped and why, notes with file and
//! line, "not an export" with a reason, the blocks of a transcript, and the lines that carry
//! relay evidence no reader understood. The scan applies an outcome the same way for every
//! format; the per-format knowledge stays in the adapters below.

use crate::diag::{Diagnostic, InputError};
use crate::input::record::Record;
use serde::Serialize;
use std::io::{BufRead, Read};

/// The form of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    List,
    Table,
    /// A table whose columns a paste collapsed to single spaces: read by cell shapes.
    CollapsedTable,
    Csv,
    /// Permission rows without their header and dash lines.
    Rows,
    /// An echoed `Add-ADPermission` / `Remove-ADPermission`.
    Command,
    Other,
}

impl Form {
    pub fn as_str(self) -> &'static str {
        match self {
            Form::List => "format-list",
            Form::Table => "format-table",
            Form::CollapsedTable => "format-table (collapsed columns)",
            Form::Csv => "csv",
            Form::Rows => "permission rows without header",
            Form::Command => "echoed command",
            Form::Other => "other text",
        }
    }
}

/// One block of a transcript, for the input summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// First line of the block's output (or of its command).
    pub line: u32,
    pub command: Option<String>,
    pub form: Form,
    /// Objects read from the block.
    pub objects: usize,
    /// Of those, objects the model used.
    pub used: usize,
}

/// A part of a file that was read but not used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub count: usize,
    pub reason: String,
}

/// What reading one file gave, besides the records sent to the sink.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Objects read, of a kind relay-audit reads or not; `None`: the records sent.
    pub objects: Option<usize>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<Diagnostic>,
    /// The file is no export of anything relay-audit reads: why.
    pub not_an_export: Option<String>,
    /// The form the file was read as, when the reader settled it (a text streamed as one form).
    pub form: Option<&'static str>,
    /// A text read as a transcript: its blocks.
    pub blocks: Vec<Block>,
    /// Lines that carry relay evidence no reader understood (the first few) and how many.
    pub unread: Vec<(u32, String)>,
    pub unread_count: usize,
    /// The file ends in the middle of this line (no line break after it): it looks cut off.
    pub cut: Option<(u32, String)>,
    /// An error found while reading — a malformed part, a resource budget hit (a line or
    /// value over its cap): what was read is used and reported, and the run exits 2 with this
    /// error naming the file and line.
    pub error: Option<InputError>,
}

/// Watches a stream for where it ends: a file whose last line has no line break looks cut
/// off (PowerShell's `Out-File`, `Export-Csv` and regedit end every line). Memory: the last
/// 200 bytes of the current line.
pub struct Tail<R> {
    inner: R,
    line: u32,
    last: u8,
    current: Vec<u8>,
}

impl<R: Read> Tail<R> {
    pub fn new(inner: R) -> Tail<R> {
        Tail {
            inner,
            line: 0,
            last: b'\n',
            current: Vec::new(),
        }
    }

    /// The last line, when the stream ended in the middle of it.
    pub fn cut(&self) -> Option<(u32, String)> {
        let text = String::from_utf8_lossy(&self.current);
        (!matches!(self.last, b'\n' | b'\r') && !text.trim().is_empty())
            .then(|| (self.line.saturating_add(1), text.trim().to_string()))
    }
}

impl<R: Read> Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line = self.line.saturating_add(1);
                self.current.clear();
            } else if self.current.len() < 200 {
                self.current.push(b);
            }
        }
        if n > 0 {
            self.last = buf[n - 1];
        }
        Ok(n)
    }
}

/// The last line of a whole text, when the text ends in the middle of it.
pub fn cut_of(text: &str) -> Option<(u32, String)> {
    if text.ends_with(['\n', '\r']) {
        return None;
    }
    let last = text.rsplit('\n').next().unwrap_or(text).trim();
    if last.is_empty() {
        return None;
    }
    let breaks = memchr::memchr_iter(b'\n', text.as_bytes()).count();
    let line = u32::try_from(breaks + 1).unwrap_or(u32::MAX);
    Some((line, crate::input::lines::clip(last, 200)))
}

impl Outcome {
    pub fn not_an_export(reason: impl Into<String>) -> Outcome {
        Outcome {
            not_an_export: Some(reason.into()),
            ..Outcome::default()
        }
    }
}

/// The sink a reader sends records to; it returns whether the model used the record.
pub type Sink<'a> = dyn FnMut(Record) -> bool + 'a;

/// Our TOML settings file.
pub fn settings<R: Read>(
    mut reader: R,
    file: &str,
    sink: &mut Sink<'_>,
) -> Result<Outcome, InputError> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|e| InputError::new(file, None, format!("cannot read: {e}")))?;
    crate::input::settings::parse(&text, file, &mut |r| {
        sink(r);
    })?;
    Ok(Outcome::default())
}

/// A regedit export of the IMC key.
pub fn reg<R: BufRead>(reader: R, file: &str, sink: &mut Sink<'_>) -> Result<Outcome, InputError> {
    let mut tail = Tail::new(reader);
    let p = crate::input::reg::parse(std::io::BufReader::new(&mut tail), file, &mut |r| {
        sink(r);
    })?;
    if !p.imc {
        return Ok(Outcome::not_an_export(format!(
            "registry export without the key {}",
            crate::input::reg::IMC_KEY
        )));
    }
    Ok(Outcome {
        notes: p.notes,
        cut: tail.cut(),
        ..Outcome::default()
    })
}

/// An `ldifde` export of SMTP virtual servers and connectors.
pub fn ldif<R: BufRead>(reader: R, file: &str, sink: &mut Sink<'_>) -> Result<Outcome, InputError> {
    let mut tail = Tail::new(reader);
    let p = crate::input::ldif::parse(std::io::BufReader::new(&mut tail), file, &mut |r| {
        sink(r);
    })?;
    if p.used == 0 {
        return Ok(Outcome::not_an_export(
            "LDIF without protocolCfgSMTPServer or msExchRoutingSMTPConnector entries",
        ));
    }
    let mut out = Outcome {
        notes: p.notes,
        cut: tail.cut(),
        ..Outcome::default()
    };
    if p.entries > p.used {
        out.skipped.push(Skipped {
            line: None,
            count: p.entries - p.used,
            reason:
                "LDIF entries that are neither protocolCfgSMTPServer nor msExchRoutingSMTPConnector"
                    .into(),
        });
    }
    Ok(out)
}

/// An IIS 6 `MetaBase.xml`.
pub fn metabase<R: BufRead>(
    reader: R,
    file: &str,
    sink: &mut Sink<'_>,
) -> Result<Outcome, InputError> {
    let p = crate::input::metabase::parse(reader, file, &mut |r| {
        sink(r);
    })?;
    if p.servers == 0 {
        return Ok(Outcome::not_an_export(
            "IIS metabase without an IIsSmtpServer element",
        ));
    }
    let mut out = Outcome::default();
    if p.other_elements > 0 {
        out.skipped.push(Skipped {
            line: None,
            count: p.other_elements,
            reason: "metabase elements other than SMTP virtual servers (web and FTP sites, SMTP domains, filters, ...)".into(),
        });
    }
    Ok(out)
}

/// The most of a MetaBase.xml fragment that is read (a pasted element is a few KiB).
const MAX_FRAGMENT_BYTES: u64 = 4 << 20;

/// A lone `<IIsSmtpServer>` element (a paste, small): read as the whole MetaBase.xml it came
/// from; line numbers stay those of the paste.
pub fn metabase_fragment<R: Read>(
    mut reader: R,
    file: &str,
    sink: &mut Sink<'_>,
) -> Result<Outcome, InputError> {
    let mut text = String::new();
    (&mut reader)
        .take(MAX_FRAGMENT_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| InputError::new(file, None, format!("cannot read: {e}")))?;
    match crate::input::metabase::fragment_as_document(&text) {
        Some(doc) => metabase(doc.as_bytes(), file, sink),
        None => Ok(Outcome::not_an_export(
            "XML that starts like an IIsSmtpServer element but cannot be read as one",
        )),
    }
}

/// An `attribute: value` / `attribute = value` listing of a `protocolCfgSMTPServer` or
/// `msExchRoutingSMTPConnector` object (ldp.exe, ADSI Edit, `Get-ADObject | fl`, KB
/// articles), read as the LDIF entry it shows. `None` when the listing yields no object.
/// `numbers[i]` is the file's line number of line `i + 1` of `text`.
pub fn listing(
    text: &str,
    numbers: &[u32],
    file: &str,
    sink: &mut Sink<'_>,
) -> Option<Result<Outcome, InputError>> {
    let (ldif, map) = crate::input::adsi::listing_to_ldif(text)?;
    // LDIF line -> listing line -> the file's line.
    let map: Vec<u32> = map
        .iter()
        .map(|&n| {
            let i = (n as usize).saturating_sub(1);
            numbers.get(i).copied().unwrap_or(n)
        })
        .collect();
    let parsed = crate::input::ldif::parse(ldif.as_bytes(), file, &mut |mut rec| {
        crate::input::adsi::remap_record(&mut rec, &map);
        sink(rec);
    });
    match parsed {
        Err(e) => Some(Err(crate::input::adsi::remap_error(e, &map))),
        Ok(p) if p.used == 0 => None,
        Ok(p) => Some(Ok(Outcome {
            notes: p
                .notes
                .into_iter()
                .map(|mut d| {
                    d.line = d.line.map(|n| crate::input::adsi::original_line(&map, n));
                    d
                })
                .collect(),
            form: Some("directory attribute listing"),
            ..Outcome::default()
        })),
    }
}

/// A PowerShell `Export-Clixml` file.
/// Only the properties `wanted` names are built (`None`: all).
pub fn clixml<R: BufRead>(
    reader: R,
    file: &str,
    wanted: Option<crate::input::clixml::Wanted>,
    sink: &mut Sink<'_>,
) -> Result<Outcome, InputError> {
    let mut ours = 0usize;
    let (p, malformed) = crate::input::clixml::parse_selecting(reader, file, wanted, &mut |r| {
        ours += 1;
        sink(r);
    })?;
    if ours == 0 && p.hidden.is_empty() && malformed.is_none() {
        // Objects only of types relay-audit does not read, or none at all: nothing here
        // could be audited, which must never read as "clean".
        let types = p
            .skipped
            .iter()
            .map(|(t, line, n)| format!("{t} ({n} from line {line})"))
            .collect::<Vec<_>>()
            .join(", ");
        return Ok(Outcome::not_an_export(if p.objects == 0 {
            "CliXML export without any object".to_string()
        } else {
            format!(
                "CliXML export of {} objects, none of a type relay-audit reads: {types}",
                p.objects
            )
        }));
    }
    Ok(Outcome {
        objects: Some(p.objects),
        skipped: p
            .skipped
            .into_iter()
            .map(|(t, line, count)| Skipped {
                line: Some(line),
                count,
                reason: format!("object of type {t} is not one relay-audit reads"),
            })
            .collect(),
        error: malformed.or_else(|| {
            p.budget_hit.map(|(line, what)| {
                InputError::new(file, Some(line), format!("resource budget: {what}"))
            })
        }),
        notes: p.diagnostics,
        unread_count: p.hidden.len(),
        unread: p
            .hidden
            .into_iter()
            .take(5)
            .map(|(line, text)| (line, format!("(in an XML comment or CDATA) {text}")))
            .collect(),
        ..Outcome::default()
    })
}
