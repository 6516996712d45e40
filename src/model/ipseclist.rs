//! The IIS `IPSECLIST` blob: `msExchSmtpRelayIpList` (Active Directory) and `RelayIpList`
//! (IIS metabase) of an Exchange 2000/2003 SMTP virtual server (FORMATS.md §7).
//!
//! Layout, little-endian DWORDs (what relay-audit relies on; see `docs/ipseclist.md` for the
//! evidence behind each field):
//!
//! ```text
//! 0   deny-by-address list    self-relative offset (0x80000000 | offset)
//! 4   grant-by-address list   self-relative offset
//! 8   deny-by-name list       self-relative offset
//! 12  grant-by-name list      self-relative offset
//! 16  (flags; 1 in every sample)   20  offset of the storage area
//! address list: count of entries, count of addresses, then per entry (20 bytes):
//!     family (2 = AF_INET), items (mask + addresses), address size (4), 0, mask (self-relative)
//! storage: per entry, the mask followed by its addresses, 4 bytes each (network order)
//! ```
//!
//! Only what is certain is decoded: a blob that breaks any check (an offset outside the blob,
//! counts that disagree, a family other than IPv4, bytes left over) is `Err` with the reason,
//! and the model reports the relay list as unknown rather than guess.

use std::net::Ipv4Addr;

use super::legacy::RelayMode;

/// A decoded relay list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayList {
    pub mode: RelayMode,
    /// `(address, mask)` entries, in blob order.
    pub addresses: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// Domain-name entries.
    pub names: Vec<String>,
}

const SELF_REL: u32 = 0x8000_0000;
const AF_INET: u32 = 2;
/// Entries per list beyond which a blob is refused (a GUI list holds a few hundred at most).
const MAX_ENTRIES: u32 = 65_536;

struct Blob<'a>(&'a [u8]);

impl Blob<'_> {
    fn dword(&self, at: usize) -> Result<u32, String> {
        let b = self
            .0
            .get(at..at + 4)
            .ok_or_else(|| format!("offset {at} is past the end ({} bytes)", self.0.len()))?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A self-relative pointer (high bit set) to an offset inside the blob.
    fn pointer(&self, at: usize) -> Result<usize, String> {
        let v = self.dword(at)?;
        if v & SELF_REL == 0 {
            return Err(format!(
                "the DWORD at {at} ({v:#010x}) is not a self-relative offset"
            ));
        }
        let off = (v & !SELF_REL) as usize;
        if off + 4 > self.0.len() {
            return Err(format!(
                "the offset at {at} points past the end ({off} of {} bytes)",
                self.0.len()
            ));
        }
        Ok(off)
    }

    fn ipv4(&self, at: usize) -> Result<Ipv4Addr, String> {
        let b = self.0.get(at..at + 4).ok_or("an address past the end")?;
        Ok(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

/// Reads one address list; returns its `(address, mask)` entries and the storage bytes used.
fn address_list(
    blob: &Blob<'_>,
    header: usize,
    storage: usize,
    used: &mut [bool],
) -> Result<Vec<(Ipv4Addr, Ipv4Addr)>, String> {
    let entries = blob.dword(header)?;
    let addresses = blob.dword(header + 4)?;
    if entries > MAX_ENTRIES || addresses > MAX_ENTRIES {
        return Err(format!(
            "the list at {header} claims {entries} entries and {addresses} addresses"
        ));
    }
    mark(used, header, 8)?;
    let mut out = Vec::new();
    for i in 0..entries as usize {
        let at = header + 8 + i * 20;
        let family = blob.dword(at)?;
        let items = blob.dword(at + 4)?;
        let size = blob.dword(at + 8)?;
        let reserved = blob.dword(at + 12)?;
        if family != AF_INET || size != 4 || reserved != 0 {
            return Err(format!(
                "entry {i} of the list at {header} is not an IPv4 entry as known (family {family}, address size {size}, {reserved})"
            ));
        }
        if items == 0 || items > MAX_ENTRIES {
            return Err(format!(
                "entry {i} of the list at {header} holds {items} items"
            ));
        }
        let mask_at = blob.pointer(at + 16)?;
        if mask_at < storage || at + 20 > storage {
            return Err(format!(
                "entry {i} of the list at {header} is not laid out as known (header, then storage from {storage})"
            ));
        }
        mark(used, at, 20)?;
        mark(used, mask_at, items as usize * 4)?;
        let mask = blob.ipv4(mask_at)?;
        for k in 1..items as usize {
            out.push((blob.ipv4(mask_at + 4 * k)?, mask));
        }
    }
    if out.len() != addresses as usize {
        return Err(format!(
            "the list at {header} claims {addresses} addresses but its entries hold {}",
            out.len()
        ));
    }
    Ok(out)
}

/// Marks `len` bytes from `at` as read; overlapping structures are refused.
fn mark(used: &mut [bool], at: usize, len: usize) -> Result<(), String> {
    let r = used
        .get_mut(at..at + len)
        .ok_or_else(|| format!("{len} bytes at {at} run past the end"))?;
    if r.iter().any(|&u| u) {
        return Err(format!("structures overlap at offset {at}"));
    }
    r.fill(true);
    Ok(())
}

/// Decodes a relay-list blob, or says why it cannot be decoded with certainty.
pub fn decode(bytes: &[u8]) -> Result<RelayList, String> {
    let blob = Blob(bytes);
    if bytes.len() < 24 {
        return Err(format!(
            "{} bytes: shorter than the 24-byte header",
            bytes.len()
        ));
    }
    let flags = blob.dword(16)?;
    if flags != 1 {
        return Err(format!(
            "the header DWORD at 16 is {flags}, not the 1 of every known sample; its meaning is not known with certainty"
        ));
    }
    let storage = blob.dword(20)? as usize;
    let mut used = vec![false; bytes.len()];
    mark(&mut used, 0, 24)?;
    let deny = blob.pointer(0)?;
    let grant = blob.pointer(4)?;
    let deny_names = blob.pointer(8)?;
    let grant_names = blob.pointer(12)?;
    let deny_list = address_list(&blob, deny, storage, &mut used)?;
    let grant_list = address_list(&blob, grant, storage, &mut used)?;
    for (what, at) in [("deny-by-name", deny_names), ("grant-by-name", grant_names)] {
        let a = blob.dword(at)?;
        let b = blob.dword(at + 4)?;
        if a != 0 || b != 0 {
            return Err(format!(
                "the {what} list is not empty, and its layout is not known with certainty"
            ));
        }
        mark(&mut used, at, 8)?;
    }
    // Structures before the storage offset, masks and addresses from it on.
    if storage > bytes.len() || used[..storage].contains(&false) {
        return Err(format!(
            "the storage offset {storage} does not end the list headers"
        ));
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(format!(
            "bytes from offset {i} are not part of any known structure"
        ));
    }
    let mode = match (deny_list.is_empty(), grant_list.is_empty()) {
        (true, false) => RelayMode::OnlyTheList,
        (false, true) => RelayMode::AllExcept,
        (true, true) => {
            return Err(
                "both address lists are empty, and the header does not say with certainty whether that is \"Only the list below\" (nobody relays) or \"All except the list below\" (everyone relays)"
                    .into(),
            )
        }
        (false, false) => {
            return Err("both the grant and the deny list hold addresses".into());
        }
    };
    Ok(RelayList {
        mode,
        addresses: if mode == RelayMode::OnlyTheList {
            grant_list
        } else {
            deny_list
        },
        names: Vec::new(),
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
mod tests {
    use super::*;

    /// "Only the list below" with 127.0.0.1, as the SMTP Relay Restrictions dialog writes it
    /// (the example of the SaltStack `win_smtp_server` module).
    pub const ONE_HOST: [u8; 84] = [
        24, 0, 0, 128, 32, 0, 0, 128, 60, 0, 0, 128, 68, 0, 0, 128, 1, 0, 0, 0, 76, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0,
        76, 0, 0, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 127, 0,
        0, 1,
    ];

    #[test]
    fn decodes_the_gui_example() {
        let l = decode(&ONE_HOST).unwrap();
        assert_eq!(l.mode, RelayMode::OnlyTheList);
        assert_eq!(
            l.addresses,
            vec![(Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::BROADCAST)]
        );
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
        // trailing bytes
        let mut v = ONE_HOST.to_vec();
        v.extend([1, 2, 3, 4]);
        assert!(decode(&v).is_err());
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(from_hex("0aff"), Some(vec![10, 255]));
        assert_eq!(from_hex("0af"), None);
        assert_eq!(describe(&[1, 2]), "2 bytes (01 02)");
    }
}
