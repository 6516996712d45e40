//! Registry exports (`.reg`) of the Exchange 5.5 Internet Mail Service key (FORMATS.md §8).
//!
//! Reads `Windows Registry Editor Version 5.00` files (regedit writes them UTF-16LE with BOM;
//! `crate::input::decode` has already turned them into UTF-8) and `REGEDIT4` files (ANSI). Only
//! `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters` is used; its
//! `RelayFlags` (`dword:`), `RelayAllowList`, `RelayDenyList` and `RelayLocalIPList`
//! (`hex(7):` multi-strings, continued over lines with `\`) become one `imc` record with no
//! Name or Server: a `.reg` file does not say which computer it came from, so the model
//! attaches it to the IMC of the one Exchange 4.0-5.5 server it knows. `IPEnableRouter` of
//! `...\Services\Tcpip\Parameters`, when the same file holds that key, is added to the record.

use crate::diag::{Diagnostic, InputError};
use crate::input::record::{ObjectKind, Record, Value};

/// The IMC parameters key, as regedit writes it (compared case-insensitively).
pub const IMC_KEY: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters";

/// The TCP/IP parameters key, whose `IPEnableRouter` (1: the server forwards IP packets between
/// its interfaces) makes the local-interface relay list reachable from outside.
pub const TCPIP_KEY: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters";

/// The relay values read from the key.
pub const RELAY_VALUES: &[&str] = &[
    "RelayFlags",
    "RelayAllowList",
    "RelayDenyList",
    "RelayLocalIPList",
];

/// Does the decoded text start like a `.reg` file?
pub fn looks_like_reg(text: &str) -> bool {
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    t.starts_with("Windows Registry Editor Version 5.00") || t.starts_with("REGEDIT4")
}

/// What one `.reg` file held.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Keys in the file.
    pub keys: usize,
    /// The IMC record, if the file has the IMC parameters key.
    pub imc: bool,
    /// Notes about the input (invalid UTF-8 replaced).
    pub notes: Vec<Diagnostic>,
}

/// Decodes `hex(7):` bytes: UTF-16LE strings (ANSI in REGEDIT4) separated by NULs.
pub fn multi_sz(bytes: &[u8], utf16: bool) -> Vec<String> {
    let text: String = if utf16 {
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        bytes.iter().map(|&b| b as char).collect()
    };
    text.split('\0')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| u8::from_str_radix(t, 16).map_err(|_| format!("`{t}` is not a hex byte")))
        .collect()
}

/// A logical line (continuations joined) longer than this is refused.
const MAX_LINE: usize = 16 << 20;

/// The state of one streamed `.reg` file.
struct RegParser<'f> {
    file: &'f str,
    /// `hex(7):` strings are UTF-16LE (version 5.00) or ANSI (`REGEDIT4`).
    utf16: bool,
    out: Parsed,
    imc: Option<Record>,
    in_imc: bool,
    in_tcpip: bool,
    /// `IPEnableRouter` and its line, added to the IMC record at the end.
    forwarding: Option<(u32, u32)>,
    /// A logical line being continued, with its first line's number.
    pending: Option<(u32, String)>,
    /// Skipping the continuation lines of a value outside the IMC key.
    skipping: bool,
    error: Option<InputError>,
}

impl RegParser<'_> {
    fn logical(&mut self, n: u32, line: &str) -> Result<(), InputError> {
        let file = self.file;
        let t = line.trim();
        if t.is_empty() || t.starts_with(';') {
            return Ok(());
        }
        if let Some(key) = t.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
            self.out.keys += 1;
            self.in_imc = key.trim().eq_ignore_ascii_case(IMC_KEY);
            self.in_tcpip = key.trim().eq_ignore_ascii_case(TCPIP_KEY);
            if self.in_imc && self.imc.is_none() {
                self.imc = Some(Record::new(ObjectKind::Imc, n));
            }
            return Ok(());
        }
        if !self.in_imc && !self.in_tcpip {
            return Ok(());
        }
        let Some(rest) = t.strip_prefix('"') else {
            return Ok(());
        };
        if self.in_tcpip {
            if let Some(v) = rest
                .strip_prefix("IPEnableRouter\"=dword:")
                .or_else(|| rest.strip_prefix("IPEnableRouter\"=DWORD:"))
            {
                let v = u32::from_str_radix(v.trim(), 16).map_err(|_| {
                    InputError::new(
                        file,
                        Some(n),
                        format!("IPEnableRouter: `{v}` is not a dword"),
                    )
                })?;
                self.forwarding = Some((v, n));
            }
            return Ok(());
        }
        let Some((name, value)) = rest.split_once("\"=") else {
            return Err(InputError::new(
                file,
                Some(n),
                format!("expected \"Name\"=value, found `{t}`"),
            ));
        };
        let Some(canon) = RELAY_VALUES.iter().find(|v| v.eq_ignore_ascii_case(name)) else {
            return Ok(());
        };
        let value = value.trim();
        let utf16 = self.utf16;
        if let Some(hex) = value.strip_prefix("hex(7):") {
            let bytes = hex_bytes(hex)
                .map_err(|e| InputError::new(file, Some(n), format!("{canon}: {e}")))?;
            // UTF-16 strings take two bytes each: an odd count means the value was cut or
            // damaged, and its last string cannot be trusted.
            let odd = utf16 && bytes.len() % 2 == 1;
            if odd {
                self.out.notes.push(Diagnostic::warning(
                    file,
                    Some(n),
                    format!(
                        "{canon}: hex(7) value of {} bytes, an odd count for UTF-16 strings: the value is damaged or cut and is read as incomplete",
                        bytes.len()
                    ),
                ));
            }
            let rec = self.imc.as_mut().expect("inside the IMC key");
            let mut items = multi_sz(&bytes[..bytes.len() - usize::from(odd)], utf16);
            if odd {
                // The string the lone byte belonged to is cut.
                items.pop();
            }
            rec.push(
                *canon,
                Value::List {
                    items,
                    truncated: odd,
                },
                n,
            );
            return Ok(());
        }
        let rec = self.imc.as_mut().expect("inside the IMC key");
        if let Some(hex) = value.strip_prefix("dword:") {
            let v = u32::from_str_radix(hex.trim(), 16).map_err(|_| {
                InputError::new(file, Some(n), format!("{canon}: `{hex}` is not a dword"))
            })?;
            rec.push(*canon, Value::Text(v.to_string()), n);
        } else if let Some(hex) = value.strip_prefix("hex(7):") {
            let bytes = hex_bytes(hex)
                .map_err(|e| InputError::new(file, Some(n), format!("{canon}: {e}")))?;
            rec.push(
                *canon,
                Value::List {
                    items: multi_sz(&bytes, utf16),
                    truncated: false,
                },
                n,
            );
        } else if value == "-" {
            // a deletion in a .reg meant for import: the value is absent
        } else {
            return Err(InputError::new(
                file,
                Some(n),
                format!("{canon}: expected dword: or hex(7):, found `{value}`"),
            ));
        }
        Ok(())
    }
}

impl RegParser<'_> {
    /// One physical line: joined with its continuations (`\` at the end) into a logical one.
    /// Outside the IMC key a continued value is skipped without being kept.
    fn physical(&mut self, n: u32, line: &str) -> Result<(), InputError> {
        let mut line = line.trim_end_matches(['\r', '\n']);
        if n == 1 {
            line = line.trim_start_matches('\u{feff}');
            self.utf16 = !line.trim_start().starts_with("REGEDIT4");
        }
        let continued = line.ends_with('\\') && !line.trim_start().starts_with('[');
        if self.skipping {
            self.skipping = continued;
            return Ok(());
        }
        let (start, mut acc) = match self.pending.take() {
            Some((s, mut a)) => {
                a.push_str(line.trim_start());
                (s, a)
            }
            None => {
                if continued && !self.in_imc && !line.trim_start().starts_with('[') {
                    self.skipping = true;
                    return Ok(());
                }
                (n, line.to_string())
            }
        };
        if acc.len() > MAX_LINE {
            return Err(InputError::new(
                self.file,
                Some(start),
                format!("a value of over {} MiB in the IMC key", MAX_LINE >> 20),
            ));
        }
        if continued {
            acc.pop();
            self.pending = Some((start, acc));
            Ok(())
        } else {
            self.logical(start, &acc)
        }
    }
}

impl crate::input::lines::LineSink for RegParser<'_> {
    fn line(&mut self, n: u32, text: &str) {
        if self.error.is_none() {
            self.error = self.physical(n, text).err();
        }
    }

    fn note(&mut self, d: Diagnostic) {
        self.out.notes.push(d);
    }

    fn done(&self) -> bool {
        self.error.is_some()
    }
}

/// Streams a `.reg` file (`crate::input::lines`) and yields the IMC record, if any. Lines
/// outside the IMC key are read and dropped (a whole-hive export costs time, not memory).
pub fn parse<R: std::io::BufRead>(
    reader: R,
    file: &str,
    sink: &mut dyn FnMut(Record),
) -> Result<Parsed, InputError> {
    let mut p = RegParser {
        file,
        utf16: true,
        out: Parsed::default(),
        imc: None,
        in_imc: false,
        in_tcpip: false,
        forwarding: None,
        pending: None,
        skipping: false,
        error: None,
    };
    crate::input::lines::read_lines(reader, file, &mut p)?;
    if let Some(e) = p.error.take() {
        return Err(e);
    }
    if let Some((s, a)) = p.pending.take() {
        p.logical(s, &a)?;
    }
    if let Some(mut r) = p.imc {
        if let Some((v, line)) = p.forwarding {
            r.push("IPEnableRouter", Value::Text(v.to_string()), line);
        }
        p.out.imc = true;
        sink(r);
    }
    Ok(p.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16_hex(items: &[&str]) -> String {
        let mut bytes = Vec::new();
        for i in items {
            for u in i.encode_utf16() {
                bytes.extend(u.to_le_bytes());
            }
            bytes.extend([0, 0]);
        }
        bytes.extend([0, 0]);
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn reads_flags_and_multi_strings_with_continuations() {
        let hex = utf16_hex(&["10.0.0.0;255.0.0.0", "192.168.1.25;255.255.255.255"]);
        let (a, b) = hex.split_at(40);
        let text = format!(
            "\u{feff}Windows Registry Editor Version 5.00\r\n\r\n[{IMC_KEY}]\r\n\"RelayFlags\"=dword:00000002\r\n\"RelayAllowList\"=hex(7):{a}\\\r\n  {b}\r\n\"Other\"=\"x\"\r\n"
        );
        assert!(looks_like_reg(&text));
        let mut recs = Vec::new();
        let p = parse(text.as_bytes(), "imc.reg", &mut |r| recs.push(r)).unwrap();
        assert!(p.imc);
        assert_eq!(recs[0].value("RelayFlags").unwrap().as_text(), Some("2"));
        assert_eq!(
            recs[0].value("RelayAllowList").unwrap().display(),
            "10.0.0.0;255.0.0.0, 192.168.1.25;255.255.255.255"
        );
        assert_eq!(recs[0].get("RelayAllowList").unwrap().line, 5);
    }

    #[test]
    fn odd_hex7_byte_count_is_a_diagnostic_and_incomplete() {
        let hex = utf16_hex(&["10.0.0.0;255.0.0.0", "192.168.1.25;255.255.255.255"]);
        let cut = &hex[..hex.len() - 9]; // drop the terminator and one byte of the last string
        let text = format!(
            "Windows Registry Editor Version 5.00\r\n\r\n[{IMC_KEY}]\r\n\"RelayAllowList\"=hex(7):{cut}\r\n"
        );
        let mut recs = Vec::new();
        let p = parse(text.as_bytes(), "imc.reg", &mut |r| recs.push(r)).unwrap();
        let v = recs[0].value("RelayAllowList").unwrap();
        assert!(v.is_incomplete(), "{v:?}");
        assert_eq!(v.display(), "10.0.0.0;255.0.0.0...");
        assert_eq!(p.notes.len(), 1);
        assert_eq!(p.notes[0].line, Some(4));
        assert!(p.notes[0].message.contains("odd"), "{}", p.notes[0]);
    }

    #[test]
    fn regedit4_multi_strings_are_ansi() {
        let text = format!(
            "REGEDIT4\n\n[{IMC_KEY}]\n\"RelayDenyList\"=hex(7):31,2e,32,2e,33,2e,34,00,00\n"
        );
        let mut recs = Vec::new();
        parse(text.as_bytes(), "imc.reg", &mut |r| recs.push(r)).unwrap();
        assert_eq!(recs[0].value("RelayDenyList").unwrap().display(), "1.2.3.4");
    }

    #[test]
    fn other_keys_yield_nothing_and_bad_values_fail() {
        let mut recs = Vec::new();
        let p = parse(
            "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\n\"RelayFlags\"=dword:1\n".as_bytes(),
            "x.reg",
            &mut |r| recs.push(r),
        )
        .unwrap();
        assert!(!p.imc && recs.is_empty());
        let e = parse(
            format!("REGEDIT4\n[{IMC_KEY}]\n\"RelayFlags\"=dword:zz\n").as_bytes(),
            "x.reg",
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
    }
}
