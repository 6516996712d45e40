//! Principals: who an access-control entry names, classified.
//!
//! `Get-ADPermission` prints a principal as `DOMAIN\Account`, localized on non-English
//! servers, or as a raw SID. [`Principal::classify`] maps all of those to one class using the
//! data table `principals.toml` (kept as data so a new spelling needs no code change).

use serde::Deserialize;
use std::sync::OnceLock;

/// The class of a principal. `Other` keeps the name as exported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    Anonymous,
    Everyone,
    AuthenticatedUsers,
    System,
    ExchangeServers,
    HubTransportServers,
    EdgeTransportServers,
    ExternallySecuredServers,
    PartnerServers,
    LegacyInterop,
    Other(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    principal: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    class: String,
    #[serde(default)]
    sids: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
}

fn table() -> &'static Vec<(Principal, Entry)> {
    static T: OnceLock<Vec<(Principal, Entry)>> = OnceLock::new();
    T.get_or_init(|| {
        let t: Table = toml::from_str(include_str!("principals.toml"))
            .expect("built-in principals.toml is valid (tested)");
        t.principal
            .into_iter()
            .map(|e| {
                let p = Principal::from_class(&e.class)
                    .expect("built-in principals.toml names known classes (tested)");
                (p, e)
            })
            .collect()
    })
}

impl Principal {
    /// The class name used in rule files (`anonymous`, `authenticated-users`...).
    pub fn class(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Everyone => "everyone",
            Principal::AuthenticatedUsers => "authenticated-users",
            Principal::System => "system",
            Principal::ExchangeServers => "exchange-servers",
            Principal::HubTransportServers => "hub-transport-servers",
            Principal::EdgeTransportServers => "edge-transport-servers",
            Principal::ExternallySecuredServers => "externally-secured-servers",
            Principal::PartnerServers => "partner-servers",
            Principal::LegacyInterop => "legacy-interop",
            Principal::Other(_) => "other",
        }
    }

    pub fn from_class(s: &str) -> Option<Principal> {
        Some(match s {
            "anonymous" => Principal::Anonymous,
            "everyone" => Principal::Everyone,
            "authenticated-users" => Principal::AuthenticatedUsers,
            "system" => Principal::System,
            "exchange-servers" => Principal::ExchangeServers,
            "hub-transport-servers" => Principal::HubTransportServers,
            "edge-transport-servers" => Principal::EdgeTransportServers,
            "externally-secured-servers" => Principal::ExternallySecuredServers,
            "partner-servers" => Principal::PartnerServers,
            "legacy-interop" => Principal::LegacyInterop,
            _ => return None,
        })
    }

    /// Every class name, for rule validation messages.
    pub const CLASSES: &'static [&'static str] = &[
        "anonymous",
        "everyone",
        "authenticated-users",
        "system",
        "exchange-servers",
        "hub-transport-servers",
        "edge-transport-servers",
        "externally-secured-servers",
        "partner-servers",
        "legacy-interop",
        "other",
    ];

    /// Classifies a principal as printed by Get-ADPermission (name or SID).
    pub fn classify(name: &str) -> Principal {
        let n = name.trim().replace("\\\\", "\\");
        let lower = n.to_lowercase();
        let account = lower.rsplit('\\').next().unwrap_or(&lower).trim();
        for (p, e) in table() {
            if e.sids.iter().any(|s| s.eq_ignore_ascii_case(&lower))
                || e.names.iter().any(|s| s.to_lowercase() == lower)
                || e.accounts.iter().any(|s| s.to_lowercase() == account)
            {
                return p.clone();
            }
        }
        Principal::Other(n)
    }

    /// Whether a name the export cut off (`NT AUTHORIT`, `NT AUTHORITY\ANON`, `Every`) could be
    /// a principal of `class`: its account part starts a well-known account of the class, or
    /// the cut fell inside the domain part, where every class is still possible.
    pub fn may_be(prefix: &str, class: &str) -> bool {
        let n = prefix.trim().replace("\\\\", "\\").to_lowercase();
        let Some(wanted) = Principal::from_class(class) else {
            return class == "any";
        };
        let Some(entry) = table().iter().find(|(p, _)| *p == wanted).map(|(_, e)| e) else {
            return false;
        };
        let starts = |full: &str| full.to_lowercase().starts_with(&n);
        match n.rsplit_once('\\') {
            Some((_, account)) => entry
                .accounts
                .iter()
                .any(|a| a.to_lowercase().starts_with(account.trim())),
            // Cut inside the domain (`NT AUTHORIT`): any account of any domain may follow,
            // unless the text already reads as a whole other name.
            None => {
                n.chars().count() < 3
                    || entry.names.iter().any(|x| starts(x))
                    || entry.accounts.iter().any(|x| starts(x))
                    || [
                        "nt authority",
                        "nt-autorität",
                        "autorite nt",
                        "nt instans",
                        "zarządzanie nt",
                    ]
                    .iter()
                    .any(|d| d.starts_with(&n) || n.starts_with(d))
            }
        }
    }

    /// Classifies a principal whose name the export cut off (`NT AUTHORITY\ANON...` in a
    /// Format-Table cell): the class whose well-known accounts alone start with the shown
    /// account prefix, or `Other` when the prefix is too short or fits several classes.
    pub fn classify_prefix(prefix: &str) -> Principal {
        let n = prefix.trim().replace("\\\\", "\\").to_lowercase();
        let Some((_, account)) = n.rsplit_once('\\') else {
            return Principal::Other(format!("{}...", prefix.trim()));
        };
        let account = account.trim();
        if account.chars().count() < 3 {
            return Principal::Other(format!("{}...", prefix.trim()));
        }
        let mut found: Option<&Principal> = None;
        for (p, e) in table() {
            if e.accounts
                .iter()
                .any(|a| a.to_lowercase().starts_with(account))
            {
                match found {
                    Some(f) if f != p => return Principal::Other(format!("{}...", prefix.trim())),
                    _ => found = Some(p),
                }
            }
        }
        found
            .cloned()
            .unwrap_or_else(|| Principal::Other(format!("{}...", prefix.trim())))
    }

    /// Anonymous or Everyone: anyone who can open a TCP connection. Everyone is treated as
    /// covering anonymous sessions (Exchange's anonymous SMTP token carries the Everyone SID).
    pub fn is_anyone(&self) -> bool {
        matches!(self, Principal::Anonymous | Principal::Everyone)
    }

    /// One of Exchange's own server groups (or SYSTEM).
    pub fn is_exchange_server(&self) -> bool {
        matches!(
            self,
            Principal::System
                | Principal::ExchangeServers
                | Principal::HubTransportServers
                | Principal::EdgeTransportServers
                | Principal::ExternallySecuredServers
                | Principal::PartnerServers
                | Principal::LegacyInterop
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_names_classify_only_when_unambiguous() {
        assert_eq!(
            Principal::classify_prefix("NT AUTHORITY\\ANON"),
            Principal::Anonymous
        );
        assert_eq!(
            Principal::classify_prefix("NT AUTHORITY\\Authenticated Us"),
            Principal::AuthenticatedUsers
        );
        assert!(matches!(
            Principal::classify_prefix("NT AUTH"),
            Principal::Other(_)
        ));
        assert!(matches!(
            Principal::classify_prefix("NT AUTHORITY\\A"),
            Principal::Other(_)
        ));
    }

    #[test]
    fn builtin_table_loads() {
        assert!(table().len() >= 10);
    }

    #[test]
    fn classifies_english_localized_and_sids() {
        for n in [
            "NT AUTHORITY\\ANONYMOUS LOGON",
            "nt authority\\anonymous logon",
            "NT-AUTORITÄT\\ANONYMOUS-ANMELDUNG",
            "AUTORITE NT\\OUVERTURE DE SESSION ANONYME",
            "S-1-5-7",
            "NT AUTHORITY\\\\ANONYMOUS LOGON",
        ] {
            assert_eq!(Principal::classify(n), Principal::Anonymous, "{n}");
        }
        assert_eq!(Principal::classify("Everyone"), Principal::Everyone);
        assert_eq!(Principal::classify("S-1-1-0"), Principal::Everyone);
        assert_eq!(Principal::classify("Jeder"), Principal::Everyone);
        assert_eq!(
            Principal::classify("NT AUTHORITY\\Authenticated Users"),
            Principal::AuthenticatedUsers
        );
        assert_eq!(
            Principal::classify("S-1-5-11"),
            Principal::AuthenticatedUsers
        );
        assert_eq!(
            Principal::classify("CONTOSO\\Exchange Servers"),
            Principal::ExchangeServers
        );
        assert_eq!(
            Principal::classify("MS Exchange\\Externally Secured Servers"),
            Principal::ExternallySecuredServers
        );
        assert_eq!(
            Principal::classify("CONTOSO\\svc-scanner"),
            Principal::Other("CONTOSO\\svc-scanner".into())
        );
    }
}
