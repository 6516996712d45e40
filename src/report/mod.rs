//! Report writers: one file per `--format` value, all taking the same [`Report`].
//!
//! Writers only format: they never analyse, filter or re-sort (findings arrive sorted worst
//! first). Output is deterministic.

pub mod csv;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod table;

pub use crate::scan::Report;

/// Escapes text from an export for Markdown (tables, inline HTML, emphasis, links).
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}
