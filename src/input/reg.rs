//! Registry exports (`.reg`) of the Exchange 5.5 Internet Mail Service key (FORMATS.md §8).
//!
//! Reads `Windows Registry Editor Version 5.00` files (regedit writes them UTF-16LE with BOM;
//! `crate::input::decode` has already turned them into UTF-8) and `REGEDIT4` files (ANSI). Only
//! `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters` is used; its
//! `RelayFlags` (`dword:`), `RelayAllowList`, `RelayDenyList` and `RelayLocalIPList`
//! (`hex(7):` multi-strings, continued over lines with `\`) become one `imc` record with no
//! Name or Server: a `.reg` file does not say which computer it came from, so the model
//! attaches it to the IMC of the one Exchange 4.0-5.5 server it knows.

use crate::diag::InputError;
use crate::input::record::{ObjectKind, Record, Value};

/// The IMC parameters key, as regedit writes it (compared case-insensitively).
pub const IMC_KEY: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters";

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

/// Parses a `.reg` file and yields the IMC record, if any.
pub fn parse(text: &str, file: &str, sink: &mut dyn FnMut(Record)) -> Result<Parsed, InputError> {
    let text = text.trim_start_matches('\u{feff}');
    let utf16 = !text.trim_start().starts_with("REGEDIT4");
    let mut out = Parsed::default();
    let mut imc: Option<Record> = None;
    let mut in_imc = false;
    // Join continuation lines (`\` at the end), keeping the first line's number.
    let mut logical: Vec<(u32, String)> = Vec::new();
    let mut pending: Option<(u32, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let n = i as u32 + 1;
        let (start, mut acc) = match pending.take() {
            Some((s, a)) => (s, a + line.trim_start()),
            None => (n, line.to_string()),
        };
        if acc.ends_with('\\') && !acc.trim_start().starts_with('[') {
            acc.pop();
            pending = Some((start, acc));
        } else {
            logical.push((start, acc));
        }
    }
    if let Some(p) = pending {
        logical.push(p);
    }
    for (n, line) in logical {
        let t = line.trim();
        if t.is_empty() || t.starts_with(';') {
            continue;
        }
        if let Some(key) = t.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
            out.keys += 1;
            in_imc = key.trim().eq_ignore_ascii_case(IMC_KEY);
            if in_imc && imc.is_none() {
                imc = Some(Record::new(ObjectKind::Imc, n));
            }
            continue;
        }
        if !in_imc {
            continue;
        }
        let Some(rest) = t.strip_prefix('"') else {
            continue;
        };
        let Some((name, value)) = rest.split_once("\"=") else {
            return Err(InputError::new(
                file,
                Some(n),
                format!("expected \"Name\"=value, found `{t}`"),
            ));
        };
        let Some(canon) = RELAY_VALUES.iter().find(|v| v.eq_ignore_ascii_case(name)) else {
            continue;
        };
        let value = value.trim();
        let rec = imc.as_mut().expect("inside the IMC key");
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
    }
    if let Some(r) = imc {
        out.imc = true;
        sink(r);
    }
    Ok(out)
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
        let p = parse(&text, "imc.reg", &mut |r| recs.push(r)).unwrap();
        assert!(p.imc);
        assert_eq!(recs[0].value("RelayFlags").unwrap().as_text(), Some("2"));
        assert_eq!(
            recs[0].value("RelayAllowList").unwrap().display(),
            "10.0.0.0;255.0.0.0, 192.168.1.25;255.255.255.255"
        );
        assert_eq!(recs[0].get("RelayAllowList").unwrap().line, 5);
    }

    #[test]
    fn regedit4_multi_strings_are_ansi() {
        let text = format!(
            "REGEDIT4\n\n[{IMC_KEY}]\n\"RelayDenyList\"=hex(7):31,2e,32,2e,33,2e,34,00,00\n"
        );
        let mut recs = Vec::new();
        parse(&text, "imc.reg", &mut |r| recs.push(r)).unwrap();
        assert_eq!(recs[0].value("RelayDenyList").unwrap().display(), "1.2.3.4");
    }

    #[test]
    fn other_keys_yield_nothing_and_bad_values_fail() {
        let mut recs = Vec::new();
        let p = parse(
            "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\n\"RelayFlags\"=dword:1\n",
            "x.reg",
            &mut |r| recs.push(r),
        )
        .unwrap();
        assert!(!p.imc && recs.is_empty());
        let e = parse(
            &format!("REGEDIT4\n[{IMC_KEY}]\n\"RelayFlags\"=dword:zz\n"),
            "x.reg",
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
    }
}
