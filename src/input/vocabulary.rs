//! The vocabulary of relay evidence, kept as data in `relay_vocabulary.txt`.
//!
//! A line that holds one of these terms may show who can relay. The text reader keeps every
//! such line that no form parser understood, so that a file is never called clean while it
//! shows a relay right, a relay list or an open range that relay-audit could not read.

use std::sync::OnceLock;

const DATA: &str = include_str!("relay_vocabulary.txt");

fn terms() -> &'static [String] {
    static TERMS: OnceLock<Vec<String>> = OnceLock::new();
    TERMS.get_or_init(|| {
        DATA.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_lowercase)
            .collect()
    })
}

/// The first relay-evidence term the line holds, if any (case-insensitive).
pub fn relay_term(line: &str) -> Option<&'static str> {
    let lower = line.to_lowercase();
    terms()
        .iter()
        .find(|t| lower.contains(t.as_str()))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_found_in_any_case() {
        assert!(
            relay_term("NT AUTHORITY\\ANONYMOUS LOGON {ms-exch-smtp-accept-any-recipient}")
                .is_some()
        );
        assert!(relay_term("RemoteIPRanges : {0.0.0.0-255.255.255.255}").is_some());
        assert!(relay_term("Relay: (x) All except the list below").is_some());
        assert!(relay_term("Name : EX01").is_none());
        assert!(terms().len() > 20);
    }
}
