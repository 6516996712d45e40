//! Detection from content: which kind of Exchange object a set of property names describes.
//!
//! Takes the property names of one exported object (Format-List labels, CSV headers,
//! Format-Table column headers), compares them case-insensitively against properties that
//! only one of the four kinds has, and returns the [`ObjectKind`] or `None`. It never looks
//! at file names or values, and does not parse anything itself.

use crate::input::record::ObjectKind;

// One bit per property name that tells kinds apart.
const REMOTE_IP_RANGES: u32 = 1 << 0;
const BINDINGS: u32 = 1 << 1;
const PERMISSION_GROUPS: u32 = 1 << 2;
const AUTH_MECHANISM: u32 = 1 << 3;
const EXTENDED_RIGHTS: u32 = 1 << 4;
const ACCESS_RIGHTS: u32 = 1 << 5;
const USER: u32 = 1 << 6;
const DENY: u32 = 1 << 7;
const DOMAIN_TYPE: u32 = 1 << 8;
const DOMAIN_NAME: u32 = 1 << 9;
const ADDRESS_BOOK_ENABLED: u32 = 1 << 10;
const MATCH_SUB_DOMAINS: u32 = 1 << 11;
const ADMIN_DISPLAY_VERSION: u32 = 1 << 12;
const SERVER_ROLE: u32 = 1 << 13;
const IS_HUB_TRANSPORT_SERVER: u32 = 1 << 14;
const IS_FRONTEND_TRANSPORT_SERVER: u32 = 1 << 15;
const DEFAULT: u32 = 1 << 16;
const RECEIVE_PROTOCOL_LOG: u32 = 1 << 17;

const NAMES: [(&str, u32); 20] = [
    ("ReceiveProtocolLogMaxAge", RECEIVE_PROTOCOL_LOG),
    ("ReceiveProtocolLogPath", RECEIVE_PROTOCOL_LOG),
    ("ReceiveProtocolLogMaxDirectorySize", RECEIVE_PROTOCOL_LOG),
    ("RemoteIPRanges", REMOTE_IP_RANGES),
    ("Bindings", BINDINGS),
    ("PermissionGroups", PERMISSION_GROUPS),
    ("AuthMechanism", AUTH_MECHANISM),
    ("ExtendedRights", EXTENDED_RIGHTS),
    ("AccessRights", ACCESS_RIGHTS),
    ("User", USER),
    ("Deny", DENY),
    ("DomainType", DOMAIN_TYPE),
    ("DomainName", DOMAIN_NAME),
    ("AddressBookEnabled", ADDRESS_BOOK_ENABLED),
    ("MatchSubDomains", MATCH_SUB_DOMAINS),
    ("AdminDisplayVersion", ADMIN_DISPLAY_VERSION),
    ("ServerRole", SERVER_ROLE),
    ("IsHubTransportServer", IS_HUB_TRANSPORT_SERVER),
    ("IsFrontendTransportServer", IS_FRONTEND_TRANSPORT_SERVER),
    ("Default", DEFAULT),
];

/// Object kind from the property names of one object (Format-List, CSV headers, Format-Table headers).
///
/// Case-insensitive; surrounding whitespace and double quotes around a name are ignored.
/// Permissions are checked first, so an ACE (which has `Identity`, `User`, `Deny`,
/// `ExtendedRights`, ...) is never taken for a connector. Partial listings work as long as
/// one telling property is there (`fl Name,RemoteIPRanges`, `fl Identity,User,ExtendedRights`).
pub fn kind_from_property_names<'a, I: IntoIterator<Item = &'a str>>(
    names: I,
) -> Option<ObjectKind> {
    let mut seen = 0u32;
    for name in names {
        let name = name.trim().trim_matches('"').trim();
        if let Some((_, bit)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            seen |= bit;
        }
    }
    let has = |bits: u32| seen & bits != 0;
    let all = |bits: u32| seen & bits == bits;

    if has(EXTENDED_RIGHTS | ACCESS_RIGHTS) || all(USER | DENY) {
        Some(ObjectKind::AdPermission)
    } else if has(REMOTE_IP_RANGES | BINDINGS | PERMISSION_GROUPS | AUTH_MECHANISM) {
        Some(ObjectKind::ReceiveConnector)
    } else if has(DOMAIN_TYPE)
        || (has(DOMAIN_NAME) && has(ADDRESS_BOOK_ENABLED | MATCH_SUB_DOMAINS | DEFAULT))
    {
        Some(ObjectKind::AcceptedDomain)
    } else if has(RECEIVE_PROTOCOL_LOG) {
        Some(ObjectKind::TransportService)
    } else if has(ADMIN_DISPLAY_VERSION
        | SERVER_ROLE
        | IS_HUB_TRANSPORT_SERVER
        | IS_FRONTEND_TRANSPORT_SERVER)
    {
        Some(ObjectKind::ExchangeServer)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(names: &str) -> Option<ObjectKind> {
        kind_from_property_names(names.split(','))
    }

    #[test]
    fn transport_service_by_its_log_settings() {
        assert_eq!(
            kind("Name,ReceiveProtocolLogMaxAge,ReceiveProtocolLogPath,Identity"),
            Some(ObjectKind::TransportService)
        );
        assert_eq!(
            kind("Name,AdminDisplayVersion,ServerRole"),
            Some(ObjectKind::ExchangeServer)
        );
    }

    #[test]
    fn receive_connector_full_and_partial() {
        assert_eq!(
            kind("RunspaceId,AuthMechanism,Banner,Bindings,Fqdn,PermissionGroups,RemoteIPRanges,Identity,Name"),
            Some(ObjectKind::ReceiveConnector)
        );
        assert_eq!(
            kind("Name,RemoteIPRanges"),
            Some(ObjectKind::ReceiveConnector)
        );
        assert_eq!(
            kind("Identity,Bindings,Enabled"),
            Some(ObjectKind::ReceiveConnector)
        );
        assert_eq!(
            kind("name, remoteipranges"),
            Some(ObjectKind::ReceiveConnector)
        );
        assert_eq!(
            kind("\"Identity\",\"AuthMechanism\""),
            Some(ObjectKind::ReceiveConnector)
        );
    }

    #[test]
    fn permission_is_never_a_connector() {
        let ace = "AccessRights,ExtendedRights,ChildObjectTypes,InheritedObjectType,Properties,\
                   IsValid,Deny,InheritanceType,User,Identity,IsInherited,ObjectState";
        assert_eq!(kind(ace), Some(ObjectKind::AdPermission));
        assert_eq!(
            kind("Identity,User,ExtendedRights"),
            Some(ObjectKind::AdPermission)
        );
        assert_eq!(kind("User,ExtendedRights"), Some(ObjectKind::AdPermission));
        assert_eq!(
            kind("Identity,User,Deny,IsInherited"),
            Some(ObjectKind::AdPermission)
        );
        assert_eq!(kind("USER,DENY"), Some(ObjectKind::AdPermission));
        // A permission listing that also carried connector-like names stays a permission.
        assert_eq!(kind("User,Deny,Bindings"), Some(ObjectKind::AdPermission));
        assert_eq!(kind("Identity,User"), None);
    }

    #[test]
    fn accepted_domain() {
        assert_eq!(
            kind("DomainName,CatchAllRecipientID,DomainType,MatchSubDomains,AddressBookEnabled,Default,Name,Identity"),
            Some(ObjectKind::AcceptedDomain)
        );
        assert_eq!(kind("Name,DomainType"), Some(ObjectKind::AcceptedDomain));
        assert_eq!(
            kind("DomainName,MatchSubDomains"),
            Some(ObjectKind::AcceptedDomain)
        );
        assert_eq!(kind("DomainName"), None);
    }

    #[test]
    fn exchange_server() {
        assert_eq!(
            kind("Name,DataPath,Domain,Edition,ExchangeLegacyDN,Fqdn,ServerRole,Site,AdminDisplayVersion,IsFrontendTransportServer,Identity"),
            Some(ObjectKind::ExchangeServer)
        );
        assert_eq!(
            kind("Name,AdminDisplayVersion"),
            Some(ObjectKind::ExchangeServer)
        );
        assert_eq!(
            kind("Name,IsHubTransportServer"),
            Some(ObjectKind::ExchangeServer)
        );
    }

    #[test]
    fn unknown() {
        assert_eq!(kind("Name,Identity,Guid"), None);
        assert_eq!(kind_from_property_names(std::iter::empty()), None);
        assert_eq!(
            kind("AddressSpaces,SmartHosts,SourceTransportServers"),
            None
        );
    }
}
