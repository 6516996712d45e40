//! Domain names: whether an accepted domain or an address space is a wildcard over every
//! domain (`*`) or over a whole public suffix (`*.com`, `*.co.uk`).

/// Second-level public suffixes under which registrations happen (abridged from the Public
/// Suffix List). A single label (`com`) is always a public suffix.
const PUBLIC_SECOND_LEVEL: &[&str] = &[
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "ne.jp",
    "or.jp", "co.za", "com.br", "com.cn", "com.mx", "com.tr", "co.in", "co.kr", "com.sg", "com.hk",
    "co.il", "com.ar",
];

/// Is `name` (`*`, `*.com`) a wildcard over everything or over a whole public suffix?
pub fn domain_scope(name: &str) -> Option<&'static str> {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n == "*" {
        return Some("everything");
    }
    let rest = n.strip_prefix("*.")?;
    if !rest.contains('.') || PUBLIC_SECOND_LEVEL.contains(&rest) {
        return Some("public-suffix");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_scopes() {
        assert_eq!(domain_scope("*"), Some("everything"));
        assert_eq!(domain_scope("*.com"), Some("public-suffix"));
        assert_eq!(domain_scope("*.CO.UK"), Some("public-suffix"));
        assert_eq!(domain_scope("*.contoso.com"), None);
        assert_eq!(domain_scope("contoso.com"), None);
    }
}
