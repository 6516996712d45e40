//! The IIS `IPSECLIST` blob: `msExchSmtpRelayIpList` (Active Directory) and `RelayIpList`
//! (IIS metabase) of an Exchange 2000/2003 SMTP virtual server (FORMATS.md §7).
//!
//! The layout is the one the Windows SDK header `iiscnfg.h` documents ("MD_IP_SEC binary
//! format description"); all DWORDs little-endian, a SELFREFINDEX is an offset from the start
//! of the blob with the high bit set:
//!
//! ```text
//! header      iDenyAddr, iGrantAddr, iDenyName, iGrantName (SELFREFINDEX), dwFlags,
//!             cRefSize (size of the reference area: where masks, addresses and names begin)
//! ADDRESS_HEADER     cEntries, cAddresses (addresses in all entries), Entries[]
//! ADDRESS_LIST_ENTRY iFamily (2, AF_INET), cAddresses (the mask's slot + its addresses),
//!                    cFullBytes, LastByte (the mask as 0xFF bytes + last byte),
//!                    iFirstAddress -> the mask, then the addresses, 4 bytes each
//! NAME_HEADER        cEntries, cNames, Entries[]
//! NAME_LIST_ENTRY    cComponents (labels of the name), cNames, iName[cNames] -> '\0'-ended
//! ```
//!
//! One entry per mask; the SMTP Relay Restrictions dialog fills the grant lists for "Only the
//! list below" and the deny lists for "All except the list below". What the bytes mean for
//! relay (`docs/ipseclist.md` has the evidence for each):
//!
//! - deny entries: "All except the list below", those entries refused, everyone else relays;
//! - grant entries only: "Only the list below"; the dialog stores an *empty* "Only the list
//!   below" as the single grant entry 0.0.0.0 mask 255.255.255.255, which matches no client;
//! - no entry at all, or a zero-length value: "All except the list below" with an empty list
//!   (everyone relays) — which is why the dialog needs that sentinel.
//!
//! Everything else is checked and a blob that breaks any check (an offset outside the blob or
//! into the wrong area, counts that disagree, a family other than IPv4, a mask that disagrees
//! with its byte counts, both grant and deny entries) is `Err` with the reason: the model then
//! reports the relay list as unknown rather than guess.

use std::net::Ipv4Addr;

use super::legacy::RelayMode;

/// A decoded relay list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayList {
    pub mode: RelayMode,
    /// `(address, mask)` entries of the list in force, in blob order (the sentinel removed).
    pub addresses: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// Domain-name entries of the list in force.
    pub names: Vec<String>,
    /// What in the bytes gave the mode, for evidence (`no entry in any list`).
    pub how: &'static str,
}

const SELF_REL: u32 = 0x8000_0000;
const AF_INET: u32 = 2;
/// Entries per list beyond which a blob is refused (a dialog list holds a few hundred at most).
const MAX_ITEMS: u32 = 1 << 16;

struct Blob<'a> {
    bytes: &'a [u8],
    /// Where the data area (masks, addresses, names) begins.
    data: usize,
    /// Bytes of the reference area read so far, and data ranges claimed (no overlaps).
    claimed: Vec<(usize, usize)>,
}

impl Blob<'_> {
    fn dword(&self, at: usize) -> Result<u32, String> {
        let b = self
            .bytes
            .get(at..at + 4)
            .ok_or_else(|| format!("offset {at} is past the end ({} bytes)", self.bytes.len()))?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A SELFREFINDEX at `at`, pointing into the reference area (`data = false`) or the data
    /// area (`data = true`).
    fn pointer(&self, at: usize, data: bool) -> Result<usize, String> {
        let v = self.dword(at)?;
        if v & SELF_REL == 0 {
            return Err(format!(
                "the DWORD at {at} ({v:#010x}) is not a self-relative offset"
            ));
        }
        let off = (v & !SELF_REL) as usize;
        let ok = if data {
            off >= self.data && off < self.bytes.len()
        } else {
            off >= 24 && off < self.data
        };
        if !ok {
            return Err(format!(
                "the offset at {at} ({off}) is outside the {} area",
                if data { "data" } else { "reference" }
            ));
        }
        Ok(off)
    }

    /// Claims `len` data bytes from `at`; overlapping claims are refused.
    fn claim(&mut self, at: usize, len: usize) -> Result<(), String> {
        if at + len > self.bytes.len() {
            return Err(format!("{len} bytes at {at} run past the end"));
        }
        if self
            .claimed
            .iter()
            .any(|&(a, l)| at < a + l && a < at + len)
        {
            return Err(format!("two lists share the bytes at {at}"));
        }
        self.claimed.push((at, len));
        Ok(())
    }

    fn ipv4(&self, at: usize) -> Ipv4Addr {
        let b = &self.bytes[at..at + 4];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
}

/// Reads an ADDRESS_HEADER and its entries; returns the `(address, mask)` pairs and the end
/// of the header in the reference area.
fn address_list(
    blob: &mut Blob<'_>,
    header: usize,
) -> Result<(Vec<(Ipv4Addr, Ipv4Addr)>, usize), String> {
    let entries = blob.dword(header)?;
    let total = blob.dword(header + 4)?;
    if entries > MAX_ITEMS || total > MAX_ITEMS {
        return Err(format!(
            "the address list at {header} claims {entries} entries and {total} addresses"
        ));
    }
    let mut out = Vec::new();
    for i in 0..entries as usize {
        let at = header + 8 + i * 20;
        let family = blob.dword(at)?;
        let slots = blob.dword(at + 4)?;
        let full = blob.dword(at + 8)?;
        let last = blob.dword(at + 12)?;
        if family != AF_INET {
            return Err(format!(
                "entry {i} of the address list at {header} has family {family}, not AF_INET"
            ));
        }
        if slots == 0 || slots > MAX_ITEMS {
            return Err(format!(
                "entry {i} of the address list at {header} holds {slots} slots"
            ));
        }
        let first = blob.pointer(at + 16, true)?;
        blob.claim(first, slots as usize * 4)?;
        let mask = blob.ipv4(first);
        let m = mask.octets();
        // The mask as "bytes all 0xFF, then the last byte"; a mask that is not contiguous
        // is stored with both counts 0.
        let contiguous = u32::from(mask).leading_ones() + u32::from(mask).trailing_zeros() == 32;
        let (want_full, want_last) = if contiguous {
            let f = m.iter().take_while(|&&b| b == 0xff).count() as u32;
            (f, m.get(f as usize).copied().unwrap_or(0) as u32)
        } else {
            (0, 0)
        };
        if full != want_full || last != want_last {
            return Err(format!(
                "entry {i} of the address list at {header}: mask {mask} stored as {full} full bytes and last byte {last:#x}"
            ));
        }
        for k in 1..slots as usize {
            out.push((blob.ipv4(first + 4 * k), mask));
        }
    }
    if out.len() != total as usize {
        return Err(format!(
            "the address list at {header} claims {total} addresses but its entries hold {}",
            out.len()
        ));
    }
    Ok((out, header + 8 + entries as usize * 20))
}

/// Reads a NAME_HEADER and its entries; returns the names and the end of the header.
fn name_list(blob: &mut Blob<'_>, header: usize) -> Result<(Vec<String>, usize), String> {
    let entries = blob.dword(header)?;
    let total = blob.dword(header + 4)?;
    if entries > MAX_ITEMS || total > MAX_ITEMS {
        return Err(format!(
            "the name list at {header} claims {entries} entries and {total} names"
        ));
    }
    let mut out = Vec::new();
    let mut at = header + 8;
    for i in 0..entries as usize {
        let components = blob.dword(at)? & !SELF_REL;
        let names = blob.dword(at + 4)?;
        if names > MAX_ITEMS {
            return Err(format!(
                "entry {i} of the name list at {header} holds {names} names"
            ));
        }
        for k in 0..names as usize {
            let p = blob.pointer(at + 8 + 4 * k, true)?;
            let len = blob.bytes[p..]
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| format!("the name at {p} has no terminating NUL"))?;
            blob.claim(p, len + 1)?;
            // ANSI (the system code page): Windows-1252 for the Latin range.
            let (name, _, _) = encoding_rs::WINDOWS_1252.decode(&blob.bytes[p..p + len]);
            let labels = name.split('.').count() as u32;
            if name.is_empty() || labels != components {
                return Err(format!(
                    "the name `{name}` at {p} has {labels} labels, its entry says {components}"
                ));
            }
            out.push(name.into_owned());
        }
        at += 8 + 4 * names as usize;
    }
    if out.len() != total as usize {
        return Err(format!(
            "the name list at {header} claims {total} names but its entries hold {}",
            out.len()
        ));
    }
    Ok((out, at))
}

/// Decodes a relay-list blob, or says why it cannot be decoded with certainty.
pub fn decode(bytes: &[u8]) -> Result<RelayList, String> {
    if bytes.is_empty() {
        return Ok(RelayList {
            mode: RelayMode::AllExcept,
            addresses: Vec::new(),
            names: Vec::new(),
            how: "a zero-length value",
        });
    }
    if bytes.len() < 24 {
        return Err(format!(
            "{} bytes: shorter than the 24-byte header",
            bytes.len()
        ));
    }
    let mut blob = Blob {
        bytes,
        data: 0,
        claimed: Vec::new(),
    };
    let ref_size = blob.dword(20)? as usize;
    if ref_size < 24 + 4 * 8 || ref_size > bytes.len() {
        return Err(format!(
            "the reference area size {ref_size} does not fit the blob ({} bytes)",
            bytes.len()
        ));
    }
    blob.data = ref_size;
    let flags = blob.dword(16)?;
    if flags > 1 {
        return Err(format!(
            "header flags {flags:#x}: only bit 0 (reverse-DNS check) is known"
        ));
    }
    let heads: Vec<usize> = (0..4)
        .map(|i| blob.pointer(4 * i, false))
        .collect::<Result<_, _>>()?;
    let (deny, deny_end) = address_list(&mut blob, heads[0])?;
    let (grant, grant_end) = address_list(&mut blob, heads[1])?;
    let (deny_names, dn_end) = name_list(&mut blob, heads[2])?;
    let (grant_names, gn_end) = name_list(&mut blob, heads[3])?;
    // The four headers and their entries fill the reference area exactly, without overlap.
    let mut spans = [
        (heads[0], deny_end),
        (heads[1], grant_end),
        (heads[2], dn_end),
        (heads[3], gn_end),
    ];
    spans.sort();
    let mut expect = 24;
    for (start, end) in spans {
        if start != expect {
            return Err(format!(
                "the list headers do not tile the reference area (a list starts at {start}, expected {expect})"
            ));
        }
        expect = end;
    }
    if expect != ref_size {
        return Err(format!(
            "the list headers end at {expect}, the reference area at {ref_size}"
        ));
    }
    let denies = !deny.is_empty() || !deny_names.is_empty();
    let grants = !grant.is_empty() || !grant_names.is_empty();
    let sentinel = (Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST);
    Ok(match (denies, grants) {
        (true, true) => {
            return Err(
                "both the grant and the deny lists hold entries, which the Relay Restrictions dialog never writes"
                    .into(),
            )
        }
        (true, false) => RelayList {
            mode: RelayMode::AllExcept,
            addresses: deny,
            names: deny_names,
            how: "entries in the deny lists",
        },
        (false, true) => {
            let only_sentinel = grant == [sentinel] && grant_names.is_empty();
            RelayList {
                mode: RelayMode::OnlyTheList,
                addresses: grant.into_iter().filter(|e| *e != sentinel).collect(),
                names: grant_names,
                how: if only_sentinel {
                    "the grant entry 0.0.0.0 mask 255.255.255.255 alone, the dialog's empty list"
                } else {
                    "entries in the grant lists"
                },
            }
        }
        (false, false) => RelayList {
            mode: RelayMode::AllExcept,
            addresses: Vec::new(),
            names: Vec::new(),
            how: "no entry in any list",
        },
    })
}

/// `0a0b...` → bytes (the input layer has checked the digits).
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The first bytes of a blob, for evidence: `84 bytes (18 00 00 80 ...)`.
pub fn describe(bytes: &[u8]) -> String {
    let head: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{} bytes ({}{})",
        bytes.len(),
        head.join(" "),
        if bytes.len() > 16 { " ..." } else { "" }
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The blob the directory-listing reader (`input::adsi`) turns an ADSI `{24, 0, 0, 128,
    /// ...}` byte list into: "All except the list below" with an empty list.
    #[test]
    fn the_adsi_listing_blob_is_all_except_empty() {
        let hex = "1800008020000080280000803000008001000000380000000000000000000000000000000000000000000000000000000000000000000000";
        let decoded = decode(&from_hex(hex).unwrap()).unwrap();
        assert_eq!(decoded.mode, crate::model::legacy::RelayMode::AllExcept);
        assert!(decoded.addresses.is_empty() && decoded.names.is_empty());
    }

    /// "Only the list below" with 127.0.0.1, as the SMTP Relay Restrictions dialog writes it
    /// (the example of the SaltStack `win_smtp_server` module, `set_relay_ip_list`).
    pub const ONE_HOST: [u8; 84] = [
        24, 0, 0, 128, 32, 0, 0, 128, 60, 0, 0, 128, 68, 0, 0, 128, 1, 0, 0, 0, 76, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0,
        76, 0, 0, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 127, 0,
        0, 1,
    ];

    fn hex(s: &str) -> Vec<u8> {
        from_hex(&s.split_whitespace().collect::<String>()).unwrap()
    }

    /// "Only the list below" with no entry: the 0.0.0.0/32 sentinel.
    pub const EMPTY_ONLY: &str = "18000080200000803c00008044000080010000004c000000 0000000000000000 0100000001000000 02000000020000000400000000000000 4c000080 0000000000000000 0000000000000000 ffffffff00000000";

    #[test]
    fn decodes_the_dialog_example() {
        let l = decode(&ONE_HOST).unwrap();
        assert_eq!(l.mode, RelayMode::OnlyTheList);
        assert_eq!(
            l.addresses,
            vec![(Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::BROADCAST)]
        );
    }

    #[test]
    fn empty_lists_in_each_mode() {
        let l = decode(&hex(EMPTY_ONLY)).unwrap();
        assert_eq!(l.mode, RelayMode::OnlyTheList);
        assert!(l.addresses.is_empty());
        assert!(l.how.contains("0.0.0.0"));
        // the 56-byte structure with every list empty, and a zero-length value
        let none = hex("180000802000008028000080300000800100000038000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000");
        assert_eq!(decode(&none).unwrap().mode, RelayMode::AllExcept);
        assert_eq!(decode(&[]).unwrap().mode, RelayMode::AllExcept);
    }

    #[test]
    fn two_masks_deny_list_and_names() {
        // grant: 10.20.0.0/24 and 192.168.1.25/32, one entry per mask
        let two = hex("18000080200000805000008058000080010000006000000000000000000000000200000002000000 0200000002000000030000000000000068000080 0200000002000000040000000000000060000080 0000000000000000 0000000000000000 ffffffffc0a80119 ffffff000a140000");
        let l = decode(&two).unwrap();
        assert_eq!(l.mode, RelayMode::OnlyTheList);
        assert_eq!(l.addresses.len(), 2);
        assert!(l
            .addresses
            .contains(&(Ipv4Addr::new(10, 20, 0, 0), Ipv4Addr::new(255, 255, 255, 0))));
        // deny: 192.168.171.1 and .2
        let deny = hex("18000080340000803c00008044000080010000004c000000 0100000002000000 02000000030000000400000000000000 4c000080 0000000000000000 0000000000000000 0000000000000000 ffffffffc0a8ab01c0a8ab02");
        let l = decode(&deny).unwrap();
        assert_eq!(l.mode, RelayMode::AllExcept);
        assert_eq!(l.addresses.len(), 2);
        // grant names: contoso.com, mail.fabrikam.com
        let mut names = hex("180000802000008028000080300000800100000050000000 0000000000000000 0000000000000000 0000000000000000 0200000002000000 020000000100000050000080 03000080010000005c000080");
        names.extend(b"contoso.com\0mail.fabrikam.com\0");
        let l = decode(&names).unwrap();
        assert_eq!(l.mode, RelayMode::OnlyTheList);
        assert_eq!(l.names, vec!["contoso.com", "mail.fabrikam.com"]);
    }

    #[test]
    fn refuses_what_it_cannot_be_sure_of() {
        // cut off
        assert!(decode(&ONE_HOST[..80]).is_err());
        // a count that disagrees
        let mut b = ONE_HOST;
        b[36] = 2;
        assert!(decode(&b).is_err());
        // an offset that is not self-relative
        let mut b = ONE_HOST;
        b[3] = 0;
        assert!(decode(&b).is_err());
        // a mask that disagrees with its byte counts
        let mut b = ONE_HOST;
        b[48] = 3;
        assert!(decode(&b).is_err());
        // a family other than AF_INET
        let mut b = ONE_HOST;
        b[40] = 23;
        assert!(decode(&b).is_err());
        // unknown header flags
        let mut b = ONE_HOST;
        b[16] = 4;
        assert!(decode(&b).is_err());
        assert!(decode(&[1, 2, 3]).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any bytes, and the dialog example with any byte changed: `Ok` or `Err`, no panic.
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
                        at in 0usize..84, v in proptest::prelude::any::<u8>()) {
            let _ = decode(&bytes);
            let mut b = ONE_HOST;
            b[at] = v;
            let _ = decode(&b);
        }
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(from_hex("0aff"), Some(vec![10, 255]));
        assert_eq!(from_hex("0af"), None);
        assert_eq!(describe(&[1, 2]), "2 bytes (01 02)");
    }
}
