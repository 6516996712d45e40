//! Table rows read by the shapes of their cells, not by column positions.
//!
//! Two things reach a consultant that the column-position reader ([`super::format_table`])
//! cannot read:
//!
//! * **header-less rows**: the rows of `Get-ADPermission "EX01\Relay" | ft User,ExtendedRights`
//!   pasted without the header and dash lines
//!   (`NT AUTHORITY\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Recipient}`);
//! * **collapsed tables**: a mail client or forum reduced every run of spaces to one, so the
//!   cells no longer sit under their dashes (`EX01\Relay {0.0.0.0:25} True`).
//!
//! A row is cut into cells by shape: a braced collection `{...}` (also cut: `{a, b...`), a
//! `True` / `False`, an `ms-Exch-*` right list without braces (Exchange 2007's `Rights`
//! column, possibly several rights run together), and free text between them. The columns
//! (named by the header, by the echoed command's `ft` list, or the usual `User,ExtendedRights`)
//! are then filled from those cells by what each column holds. A row whose cells do not fit
//! the columns is not guessed: [`read_row`] returns `None` and the caller reports the line.

use crate::input::record::{ObjectKind, Record, Value};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Bool,
    Collection,
    /// Extended rights, braced or not (Exchange 2007's `Rights` column prints them bare).
    Rights,
    Text,
}

fn shape_of(column: &str) -> Shape {
    const BOOLS: [&str; 9] = [
        "Deny",
        "IsInherited",
        "Inherited",
        "Enabled",
        "Default",
        "RequireTLS",
        "DomainSecureEnabled",
        "IsValid",
        "AddressBookEnabled",
    ];
    const COLLECTIONS: [&str; 4] = ["Bindings", "RemoteIPRanges", "AccessRights", "Properties"];
    if BOOLS.iter().any(|b| b.eq_ignore_ascii_case(column)) {
        Shape::Bool
    } else if column.eq_ignore_ascii_case("ExtendedRights") || column.eq_ignore_ascii_case("Rights")
    {
        Shape::Rights
    } else if COLLECTIONS.iter().any(|c| c.eq_ignore_ascii_case(column)) {
        Shape::Collection
    } else {
        Shape::Text
    }
}

/// A piece of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Braced { items: Vec<String>, cut: bool },
    Bool(String),
    Rights(Vec<String>),
    Text(String),
}

/// The `ms-Exch-*` rights in a text, also when run together without separators.
pub fn rights_in(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut starts: Vec<usize> = lower.match_indices("ms-exch-").map(|(i, _)| i).collect();
    starts.push(text.len());
    let mut out = Vec::new();
    for w in starts.windows(2) {
        let piece = &text[w[0]..w[1]];
        let end = piece
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(piece.len());
        let right = piece[..end].trim_end_matches('-');
        if right.len() > "ms-Exch-".len() {
            out.push(right.to_string());
        }
    }
    out
}

fn pieces(row: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Piece>| {
        for word in text.split_whitespace() {
            // Booleans and bare rights are words of their own.
            if word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false") {
                out.push(Piece::Bool(word.to_string()));
            } else if word.to_ascii_lowercase().starts_with("ms-exch-") {
                let r = rights_in(word);
                match out.last_mut() {
                    Some(Piece::Rights(prev)) => prev.extend(r),
                    _ => out.push(Piece::Rights(r)),
                }
            } else {
                match out.last_mut() {
                    Some(Piece::Text(t)) => {
                        t.push(' ');
                        t.push_str(word);
                    }
                    _ => out.push(Piece::Text(word.to_string())),
                }
            }
        }
        text.clear();
    };
    let mut rest = row;
    while let Some(i) = rest.find('{') {
        text.push_str(&rest[..i]);
        flush(&mut text, &mut out);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                let inner = &after[..j];
                let (inner, cut) = strip_dots(inner);
                out.push(Piece::Braced {
                    items: items(inner),
                    cut,
                });
                rest = &after[j + 1..];
            }
            None => {
                // Cut at the column width: the last item may be partial.
                let (inner, _) = strip_dots(after.trim_end());
                let mut it = items(inner);
                it.pop();
                out.push(Piece::Braced {
                    items: it,
                    cut: true,
                });
                rest = "";
            }
        }
    }
    text.push_str(rest);
    flush(&mut text, &mut out);
    out
}

fn strip_dots(s: &str) -> (&str, bool) {
    let t = s.trim_end();
    if let Some(x) = t.strip_suffix("...") {
        (x, true)
    } else if let Some(x) = t.strip_suffix('…') {
        (x, true)
    } else {
        (t, false)
    }
}

fn items(inner: &str) -> Vec<String> {
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Two-word domains of well-known principals (`NT AUTHORITY\...`, `MS Exchange\...`).
const TWO_WORD_DOMAINS: [&str; 3] = ["NT AUTHORITY", "MS Exchange", "NT SERVICE"];

/// Splits `SERVER\Connector name DOMAIN\user name` into identity and user at the start of the
/// principal: the word holding the second backslash, or the two-word domain before it.
fn split_identity_user(text: &str) -> Option<(String, String)> {
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    let with_bs: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].contains('\\'))
        .collect();
    if with_bs.len() != 2 {
        return None;
    }
    let mut start = with_bs[1];
    if start >= 1 {
        let two = format!(
            "{} {}",
            words[start - 1],
            words[start].split('\\').next().unwrap_or("")
        );
        if TWO_WORD_DOMAINS
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&two))
        {
            start -= 1;
        }
    }
    if start <= with_bs[0] {
        return None;
    }
    Some((words[..start].join(" "), words[start..].join(" ")))
}

/// Text that ends with `...` / `…` is a cut cell.
fn text_value(s: &str) -> Value {
    let (t, cut) = strip_dots(s);
    if cut {
        Value::Cut(t.trim().to_string())
    } else if t.trim().is_empty() {
        Value::Null
    } else {
        Value::Text(t.trim().to_string())
    }
}

/// The columns a header-less rights row is read with when nothing names them.
pub const DEFAULT_RIGHTS_COLUMNS: [&str; 4] = ["User", "ExtendedRights", "Deny", "IsInherited"];

/// Whether a line looks like a permission row: a principal (`DOMAIN\name`, `Everyone`, a SID)
/// followed by extended rights (braced or `ms-Exch-*`).
pub fn looks_like_rights_row(line: &str) -> bool {
    let t = line.trim();
    // A quoted CSV row is not a console row.
    if t.contains("\",\"") || t.contains("\";\"") {
        return false;
    }
    let Some(i) = t.to_ascii_lowercase().find("ms-exch-") else {
        return false;
    };
    let head = t[..i].trim_end().trim_end_matches('{').trim_end();
    !head.is_empty()
        && (head.contains('\\')
            || head.to_ascii_lowercase().starts_with("everyone")
            || head.starts_with("S-1-"))
}

/// Rows a paste ran together on one line (`A\x {r1} B\y {r2}`): split after a closing
/// brace that is followed by another permission row.
pub fn split_run_together(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in line.match_indices('}') {
        // The row's own True/False cells stay with it.
        let mut cut = i + 1;
        loop {
            let rest = &line[cut..];
            let word = rest.split_whitespace().next().unwrap_or("");
            if word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false") {
                cut += rest.find(word).unwrap_or(0) + word.len();
            } else {
                break;
            }
        }
        let rest = &line[cut..];
        if start < i && looks_like_rights_row(rest) && rest.trim_start().len() < rest.len() {
            out.push(&line[start..cut]);
            start = cut;
        }
    }
    out.push(&line[start..]);
    out
}

/// Reads one row by cell shapes into a record of `kind` with `columns`. `None` when the
/// cells do not fit the columns (more cells than columns of their shape, two text columns
/// that cannot be told apart).
pub fn read_row(row: &str, columns: &[String], kind: ObjectKind, line: u32) -> Option<Record> {
    let ps = pieces(row);
    if ps.is_empty() {
        return None;
    }
    let shapes: Vec<Shape> = columns.iter().map(|c| shape_of(c)).collect();
    let mut values: Vec<Option<Value>> = vec![None; columns.len()];
    // Typed cells are given to typed columns in order.
    let mut texts: Vec<String> = Vec::new();
    let mut next_col = 0usize;
    for p in ps {
        let want: &[Shape] = match &p {
            Piece::Bool(_) => &[Shape::Bool],
            Piece::Braced { .. } => &[Shape::Collection, Shape::Rights],
            Piece::Rights(_) => &[Shape::Rights],
            Piece::Text(_) => &[Shape::Text],
        };
        if let Piece::Text(t) = &p {
            // Text columns are filled after the typed ones are placed.
            texts.push(t.clone());
            continue;
        }
        let col = (next_col..columns.len())
            .find(|&c| want.contains(&shapes[c]) && values[c].is_none())?;
        // Text columns skipped on the way stay for the free text.
        next_col = col + 1;
        values[col] = Some(match p {
            Piece::Bool(b) => Value::Text(if b.eq_ignore_ascii_case("true") {
                "True".into()
            } else {
                "False".into()
            }),
            Piece::Braced { items, cut } => {
                if shapes[col] == Shape::Rights {
                    let mut r: Vec<String> = items.iter().flat_map(|i| rights_in(i)).collect();
                    if r.is_empty() {
                        r = items;
                    }
                    Value::List {
                        items: r,
                        truncated: cut,
                    }
                } else {
                    Value::List {
                        items,
                        truncated: cut,
                    }
                }
            }
            Piece::Rights(r) => {
                let cut = row.trim_end().ends_with("...") || row.trim_end().ends_with('…');
                Value::List {
                    items: r,
                    truncated: cut,
                }
            }
            Piece::Text(_) => unreachable!(),
        });
    }
    let text_cols: Vec<usize> = (0..columns.len())
        .filter(|&c| shapes[c] == Shape::Text && values[c].is_none())
        .collect();
    let all_text = texts.join(" ");
    match (text_cols.len(), texts.len()) {
        (_, 0) => {}
        (1, _) => values[text_cols[0]] = Some(text_value(&all_text)),
        (n, _) if n >= 2 => {
            let names: Vec<&str> = text_cols.iter().map(|&c| columns[c].as_str()).collect();
            let id = names
                .iter()
                .position(|n| n.eq_ignore_ascii_case("Identity"))?;
            let user = names.iter().position(|n| n.eq_ignore_ascii_case("User"))?;
            if n != 2 || id > user {
                return None;
            }
            let (i, u) = split_identity_user(&all_text)?;
            values[text_cols[id]] = Some(text_value(&i));
            values[text_cols[user]] = Some(text_value(&u));
        }
        _ => return None,
    }
    let mut rec = Record::new(kind, line);
    for (c, v) in columns.iter().zip(values) {
        if let Some(v) = v {
            rec.push(c.clone(), v, line);
        }
    }
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn header_less_rights_row() {
        let r = read_row(
            "NT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Recipient} False False",
            &cols(&DEFAULT_RIGHTS_COLUMNS),
            ObjectKind::AdPermission,
            7,
        )
        .unwrap();
        assert_eq!(
            r.value("User"),
            Some(&Value::Text("NT AUTHORITY\\ANONYMOUS LOGON".into()))
        );
        assert_eq!(
            r.value("ExtendedRights"),
            Some(&Value::List {
                items: vec!["ms-Exch-SMTP-Accept-Any-Recipient".into()],
                truncated: false
            })
        );
        assert_eq!(r.value("Deny"), Some(&Value::Text("False".into())));
    }

    #[test]
    fn rights_run_together() {
        assert_eq!(
            rights_in("ms-Exch-SMTP-Submitms-Exch-SMTP-Accept-Any-Recipient"),
            ["ms-Exch-SMTP-Submit", "ms-Exch-SMTP-Accept-Any-Recipient"]
        );
        let r = read_row(
            "NT AUTHORITY\\ANONYMOUS LOGON ms-Exch-SMTP-Submit ms-Exch-SMTP-Accept-Any-Recipient",
            &cols(&["User", "ExtendedRights"]),
            ObjectKind::AdPermission,
            1,
        )
        .unwrap();
        assert_eq!(
            r.value("ExtendedRights"),
            Some(&Value::List {
                items: vec![
                    "ms-Exch-SMTP-Submit".into(),
                    "ms-Exch-SMTP-Accept-Any-Recipient".into()
                ],
                truncated: false
            })
        );
    }

    #[test]
    fn collapsed_default_view_with_identity_and_user() {
        let r = read_row(
            "EX01\\Anonymous Relay NT AUTHORITY\\ANONYMOUS LOGON False False ms-Exch-SMTP-Accept-Any-Recipient",
            &cols(&["Identity", "User", "Deny", "Inherited", "Rights"]),
            ObjectKind::AdPermission,
            3,
        )
        .unwrap();
        assert_eq!(
            r.value("Identity"),
            Some(&Value::Text("EX01\\Anonymous Relay".into()))
        );
        assert_eq!(
            r.value("User"),
            Some(&Value::Text("NT AUTHORITY\\ANONYMOUS LOGON".into()))
        );
    }

    #[test]
    fn cut_cells_stay_cut() {
        let r = read_row(
            "EX07\\Default EX07 NT AUTHORIT... False False ms-Exch-SMTP-Accep...",
            &cols(&["Identity", "User", "Deny", "Inherited", "Rights"]),
            ObjectKind::AdPermission,
            3,
        );
        // Two text columns, one backslash: not split by guessing.
        assert!(r.is_none());
        let r = read_row(
            "NT AUTHORIT... {ms-Exch-SMTP-Accept-Any-Recipient, ms-Exch-Bypass-Anti-Spam...",
            &cols(&["User", "ExtendedRights"]),
            ObjectKind::AdPermission,
            3,
        )
        .unwrap();
        assert_eq!(r.value("User"), Some(&Value::Cut("NT AUTHORIT".into())));
        assert!(r.value("ExtendedRights").unwrap().is_incomplete());
    }

    #[test]
    fn rows_run_together_are_split() {
        let v = split_run_together(
            "NT AUTHORITY\\Authenticated Users {ms-Exch-SMTP-Submit} False False NT AUTHORITY\\ANONYMOUS LOGON {ms-Exch-SMTP-Accept-Any-Recipient} False False",
        );
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].trim_end().ends_with("False False"));
        assert!(v[1].trim_start().starts_with("NT AUTHORITY\\ANONYMOUS"));
    }

    #[test]
    fn looks_like_rows() {
        assert!(looks_like_rights_row(
            "NT AUTHORITY\\ANONYMOUS LOGON  {ms-Exch-SMTP-Accept-Any-Recipient}"
        ));
        assert!(looks_like_rights_row("Everyone ms-Exch-SMTP-Submit"));
        assert!(!looks_like_rights_row(
            "ExtendedRights : {ms-Exch-SMTP-Submit}"
        ));
    }
}
