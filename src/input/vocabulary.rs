//! The vocabulary of relay evidence, kept as data in `relay_vocabulary.txt`.
//!
//! A line that holds one of these terms may show who can relay. The text reader keeps every
//! such line that no form parser understood, so that a file is never called clean while it
//! shows a relay right, a relay list or an open range that relay-audit could not read.

use std::sync::OnceLock;

const DATA: &str = include_str!("relay_vocabulary.txt");

/// All terms as one case-insensitive alternation (searched without copying the line).
fn matcher() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let alternation: Vec<String> = terms().iter().map(|t| regex::escape(t)).collect();
        regex::RegexBuilder::new(&alternation.join("|"))
            .case_insensitive(true)
            .build()
            .expect("the built-in vocabulary is a valid pattern (tested)")
    })
}

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
    let m = matcher().find(line)?;
    let found = m.as_str().to_lowercase();
    terms()
        .iter()
        .find(|t| **t == found)
        .map(String::as_str)
        .or(Some("(relay vocabulary)"))
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
