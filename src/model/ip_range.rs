//! IP address ranges and sets of them, with set algebra and a "public address" view.
//!
//! **Takes** the textual entries of an Exchange receive connector's `RemoteIPRanges` (and
//! anything else written the same way), in IPv4 or IPv6:
//!
//! | form                | example                                   |
//! |---------------------|-------------------------------------------|
//! | single address      | `192.168.1.10`, `2001:db8::1`             |
//! | CIDR                | `10.0.0.0/8`, `2001:db8::/32`             |
//! | start-end           | `192.168.1.10-192.168.1.20`, `::-ffff:…`  |
//! | address(subnet mask)| `192.168.1.0(255.255.255.0)`              |
//!
//! Surrounding whitespace (and whitespace around `/`, `-`, `(`, `)`) is ignored. Host bits set
//! in a CIDR or mask entry (`192.168.1.10/24`) are cleared, i.e. the entry means the whole
//! network that contains the address. Everything else (garbage, a start above the end, an
//! IPv4 start with an IPv6 end, a non-contiguous mask such as `255.0.255.0`, IPv6 zone
//! indices such as `fe80::1%eth0`) is an `Err` with a message that quotes the input.
//!
//! **Produces** an [`IpRange`] (one inclusive interval of one family) per entry, and an
//! [`IpSet`]: a normalized union of ranges supporting union, intersection, difference,
//! subset tests, sizes, "covers the whole address space" tests and the [`IpSet::public`]
//! view.
//!
//! **Terms.**
//! * *Interval*: an inclusive `lo..=hi` pair of integers (`u32` for IPv4, `u128` for IPv6).
//! * *Normalized*: intervals sorted by start, disjoint and non-adjacent (an interval ending at
//!   `x` is never followed by one starting at `x + 1`; such pairs are coalesced). Two
//!   normalized sets are equal exactly when they contain the same addresses, so `==` on
//!   [`IpSet`] is set equality.
//! * *Canonical text* of a range: the bare address when it holds one address, `addr/len`
//!   when it is exactly one CIDR prefix, otherwise `start-end`.
//! * *Public*: globally reachable unicast, per the IANA special-purpose registries (see
//!   [`NON_GLOBAL_V4`] for the precise rule, the tables and their date).
//! * *Covers all*: every address of a family is in the set (`0.0.0.0/0` or `::/0`), which is
//!   what an "anyone on the Internet" connector looks like.
//!
//! IPv4 and IPv6 are kept apart: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is an IPv6
//! address here and is not contained in `10.0.0.0/8`.
//!
//! All set operations on normalized sets are linear merges, `O(n + m)`; [`IpSet::insert`] is
//! a binary search plus one splice; [`IpSet::contains`] is a binary search.

#![forbid(unsafe_code)]

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// IpRange
// ---------------------------------------------------------------------------------------------

/// One inclusive interval of addresses of a single family. Invariant: `lo <= hi` (every
/// constructor in this module checks it; code building the variants by hand must keep it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpRange {
    V4 { lo: u32, hi: u32 },
    V6 { lo: u128, hi: u128 },
}

const EXPECTED: &str = "expected an IP address, CIDR, start-end range or address(mask)";

/// Quote (Debug-escape) an input for an error message, truncated to a readable length.
fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 80;
    if s.chars().count() <= MAX_CHARS {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(MAX_CHARS).collect();
        format!("{cut:?}…")
    }
}

fn family(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

fn mask_v4(len: u8) -> u32 {
    // len <= 32 is checked by callers; checked_shl keeps this panic-free regardless.
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn mask_v6(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

impl IpRange {
    /// Every IPv4 address, `0.0.0.0/0`.
    pub const ALL_V4: IpRange = IpRange::V4 {
        lo: 0,
        hi: u32::MAX,
    };
    /// Every IPv6 address, `::/0`.
    pub const ALL_V6: IpRange = IpRange::V6 {
        lo: 0,
        hi: u128::MAX,
    };

    /// Parse one `RemoteIPRanges` entry (see the module documentation for the forms).
    pub fn parse(s: &str) -> Result<IpRange, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err(format!("{EXPECTED}, found an empty string"));
        }
        if let Some((addr, rest)) = t.split_once('(') {
            let Some(mask) = rest.trim_end().strip_suffix(')') else {
                return Err(format!(
                    "{EXPECTED}, found {} (unbalanced parenthesis)",
                    quote(t)
                ));
            };
            let addr = part_addr(addr, "address", t)?;
            let mask = part_addr(mask, "subnet mask", t)?;
            let len = mask_len(mask).ok_or_else(|| {
                format!(
                    "subnet mask {mask} in {} is not contiguous (ones must precede zeros)",
                    quote(t)
                )
            })?;
            if family(addr) != family(mask) {
                return Err(format!(
                    "{} mixes an {} address with an {} subnet mask",
                    quote(t),
                    family(addr),
                    family(mask)
                ));
            }
            return IpRange::from_prefix(addr, len);
        }
        if t.contains(')') {
            return Err(format!(
                "{EXPECTED}, found {} (unbalanced parenthesis)",
                quote(t)
            ));
        }
        if let Some((addr, len)) = t.split_once('/') {
            let addr = part_addr(addr, "address", t)?;
            let len_txt = len.trim();
            let max = match addr {
                IpAddr::V4(_) => 32,
                IpAddr::V6(_) => 128,
            };
            let len = if !len_txt.is_empty() && len_txt.bytes().all(|b| b.is_ascii_digit()) {
                len_txt.parse::<u8>().ok().filter(|&l| l <= max)
            } else {
                None
            };
            let Some(len) = len else {
                return Err(format!(
                    "invalid prefix length {} in {} ({} allows 0-{max})",
                    quote(len_txt),
                    quote(t),
                    family(addr)
                ));
            };
            return IpRange::from_prefix(addr, len);
        }
        if let Some((a, b)) = t.split_once('-') {
            let start = part_addr(a, "range start", t)?;
            let end = part_addr(b, "range end", t)?;
            return IpRange::from_bounds(start, end).map_err(|e| format!("{e} in {}", quote(t)));
        }
        match t.parse::<IpAddr>() {
            Ok(ip) => Ok(IpRange::from(ip)),
            Err(_) => Err(format!("{EXPECTED}, found {}", quote(t))),
        }
    }

    /// The range `start..=end`. Errors when the families differ or `start > end`.
    pub fn from_bounds(start: IpAddr, end: IpAddr) -> Result<IpRange, String> {
        match (start, end) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let (lo, hi) = (u32::from(a), u32::from(b));
                if lo > hi {
                    return Err(format!("range start {a} is greater than range end {b}"));
                }
                Ok(IpRange::V4 { lo, hi })
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let (lo, hi) = (u128::from(a), u128::from(b));
                if lo > hi {
                    return Err(format!("range start {a} is greater than range end {b}"));
                }
                Ok(IpRange::V6 { lo, hi })
            }
            _ => Err(format!(
                "range mixes an {} start ({start}) with an {} end ({end})",
                family(start),
                family(end)
            )),
        }
    }

    /// The CIDR block `addr/len`; host bits of `addr` are cleared. Errors when `len` exceeds
    /// the family's width.
    pub fn from_prefix(addr: IpAddr, len: u8) -> Result<IpRange, String> {
        match addr {
            IpAddr::V4(a) if len <= 32 => {
                let m = mask_v4(len);
                let lo = u32::from(a) & m;
                Ok(IpRange::V4 { lo, hi: lo | !m })
            }
            IpAddr::V6(a) if len <= 128 => {
                let m = mask_v6(len);
                let lo = u128::from(a) & m;
                Ok(IpRange::V6 { lo, hi: lo | !m })
            }
            _ => Err(format!(
                "invalid prefix length {len} for {addr} ({} allows 0-{})",
                family(addr),
                if addr.is_ipv4() { 32 } else { 128 }
            )),
        }
    }

    /// Whether `ip` (of the same family) lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, ip) {
            (IpRange::V4 { lo, hi }, IpAddr::V4(a)) => (lo..=hi).contains(&u32::from(a)),
            (IpRange::V6 { lo, hi }, IpAddr::V6(a)) => (lo..=hi).contains(&u128::from(a)),
            _ => false,
        }
    }

    /// Number of addresses; the whole IPv6 space (2^128) saturates to `u128::MAX`.
    pub fn size(&self) -> u128 {
        match *self {
            IpRange::V4 { lo, hi } => u32::count(lo, hi),
            IpRange::V6 { lo, hi } => u128::count(lo, hi),
        }
    }

    pub fn is_v4(&self) -> bool {
        matches!(self, IpRange::V4 { .. })
    }

    pub fn is_v6(&self) -> bool {
        matches!(self, IpRange::V6 { .. })
    }

    /// First address.
    pub fn start(&self) -> IpAddr {
        match *self {
            IpRange::V4 { lo, .. } => IpAddr::V4(Ipv4Addr::from(lo)),
            IpRange::V6 { lo, .. } => IpAddr::V6(Ipv6Addr::from(lo)),
        }
    }

    /// Last address.
    pub fn end(&self) -> IpAddr {
        match *self {
            IpRange::V4 { hi, .. } => IpAddr::V4(Ipv4Addr::from(hi)),
            IpRange::V6 { hi, .. } => IpAddr::V6(Ipv6Addr::from(hi)),
        }
    }

    /// The prefix length when the range is exactly one CIDR block, else `None`.
    pub fn prefix_len(&self) -> Option<u8> {
        match *self {
            IpRange::V4 { lo, hi } => {
                let (lo, hi) = (lo.min(hi), lo.max(hi));
                let n = u64::from(hi - lo) + 1;
                (n.is_power_of_two() && u64::from(lo) % n == 0)
                    .then(|| 32 - n.trailing_zeros() as u8)
            }
            IpRange::V6 { lo, hi } => {
                let (lo, hi) = (lo.min(hi), lo.max(hi));
                // Overflows only for the whole space, which is ::/0.
                let Some(n) = (hi - lo).checked_add(1) else {
                    return Some(0);
                };
                (n.is_power_of_two() && lo % n == 0).then(|| 128 - n.trailing_zeros() as u8)
            }
        }
    }
}

/// Parse one part of a composite entry (address, range bound, mask).
fn part_addr(part: &str, what: &str, whole: &str) -> Result<IpAddr, String> {
    let p = part.trim();
    p.parse::<IpAddr>().map_err(|_| {
        if p.is_empty() {
            format!("missing {what} in {}", quote(whole))
        } else {
            format!(
                "invalid {what} {} in {}: not an IP address",
                quote(p),
                quote(whole)
            )
        }
    })
}

/// Prefix length of a contiguous subnet mask, `None` when the mask is not contiguous.
fn mask_len(mask: IpAddr) -> Option<u8> {
    match mask {
        IpAddr::V4(m) => {
            let m = u32::from(m);
            (m.leading_ones() + m.trailing_zeros() == 32).then_some(m.leading_ones() as u8)
        }
        IpAddr::V6(m) => {
            let m = u128::from(m);
            (m.leading_ones() + m.trailing_zeros() == 128).then_some(m.leading_ones() as u8)
        }
    }
}

impl From<IpAddr> for IpRange {
    fn from(ip: IpAddr) -> IpRange {
        match ip {
            IpAddr::V4(a) => IpRange::from(a),
            IpAddr::V6(a) => IpRange::from(a),
        }
    }
}

impl From<Ipv4Addr> for IpRange {
    fn from(a: Ipv4Addr) -> IpRange {
        let x = u32::from(a);
        IpRange::V4 { lo: x, hi: x }
    }
}

impl From<Ipv6Addr> for IpRange {
    fn from(a: Ipv6Addr) -> IpRange {
        let x = u128::from(a);
        IpRange::V6 { lo: x, hi: x }
    }
}

impl FromStr for IpRange {
    type Err = String;
    fn from_str(s: &str) -> Result<IpRange, String> {
        IpRange::parse(s)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, end) = (self.start(), self.end());
        if start == end {
            write!(f, "{start}")
        } else if let Some(len) = self.prefix_len() {
            write!(f, "{start}/{len}")
        } else {
            write!(f, "{start}-{end}")
        }
    }
}

impl Serialize for IpRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IpRange, D::Error> {
        let s = String::deserialize(d)?;
        IpRange::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Interval algorithms, generic over the family's integer type
// ---------------------------------------------------------------------------------------------

/// The integer type of a family's addresses.
trait Bound: Copy + Ord {
    const MAX: Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
    /// Number of values in `lo..=hi`, saturating at `u128::MAX`.
    fn count(lo: Self, hi: Self) -> u128;
}

impl Bound for u32 {
    const MAX: u32 = u32::MAX;
    fn succ(self) -> Option<u32> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<u32> {
        self.checked_sub(1)
    }
    fn count(lo: u32, hi: u32) -> u128 {
        u128::from(hi.abs_diff(lo)) + 1
    }
}

impl Bound for u128 {
    const MAX: u128 = u128::MAX;
    fn succ(self) -> Option<u128> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<u128> {
        self.checked_sub(1)
    }
    fn count(lo: u128, hi: u128) -> u128 {
        hi.abs_diff(lo).saturating_add(1)
    }
}

type Iv<T> = (T, T);

/// Whether an interval starting at `next_lo` (>= the previous start) overlaps or touches one
/// ending at `prev_hi`. No `hi + 1` overflow: an interval ending at MAX touches everything
/// after it.
fn touches<T: Bound>(prev_hi: T, next_lo: T) -> bool {
    match prev_hi.succ() {
        Some(n) => next_lo <= n,
        None => true,
    }
}

/// Append to a normalized vector an interval whose start is >= every start already in it.
fn push_coalesce<T: Bound>(out: &mut Vec<Iv<T>>, (lo, hi): Iv<T>) {
    if let Some(last) = out.last_mut() {
        if touches(last.1, lo) {
            if hi > last.1 {
                last.1 = hi;
            }
            return;
        }
    }
    out.push((lo, hi));
}

fn normalize<T: Bound>(mut v: Vec<Iv<T>>) -> Vec<Iv<T>> {
    v.sort_unstable();
    let mut out = Vec::with_capacity(v.len());
    for iv in v {
        push_coalesce(&mut out, iv);
    }
    out
}

fn insert_iv<T: Bound>(v: &mut Vec<Iv<T>>, (lo, hi): Iv<T>) {
    // First interval that reaches `lo` or touches it from the left ...
    let i = v.partition_point(|&(_, h)| !touches(h, lo));
    // ... and the first that starts strictly after `hi + 1`.
    let j = v.partition_point(|&(l, _)| touches(hi, l));
    let (mut nlo, mut nhi) = (lo, hi);
    if i < j {
        nlo = nlo.min(v[i].0);
        nhi = nhi.max(v[j - 1].1);
    }
    v.splice(i..j, std::iter::once((nlo, nhi)));
}

fn union_iv<T: Bound>(a: &[Iv<T>], b: &[Iv<T>]) -> Vec<Iv<T>> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j >= b.len() || (i < a.len() && a[i].0 <= b[j].0);
        if take_a {
            push_coalesce(&mut out, a[i]);
            i += 1;
        } else {
            push_coalesce(&mut out, b[j]);
            j += 1;
        }
    }
    out
}

fn intersection_iv<T: Bound>(a: &[Iv<T>], b: &[Iv<T>]) -> Vec<Iv<T>> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn difference_iv<T: Bound>(a: &[Iv<T>], b: &[Iv<T>]) -> Vec<Iv<T>> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(alo, ahi) in a {
        // Intervals of `b` entirely before this one can never matter again.
        while j < b.len() && b[j].1 < alo {
            j += 1;
        }
        let mut cur = alo;
        let mut k = j;
        let mut consumed = false;
        while k < b.len() && b[k].0 <= ahi {
            let (blo, bhi) = b[k];
            if blo > cur {
                // blo > cur >= 0, so pred exists.
                if let Some(p) = blo.pred() {
                    out.push((cur, p));
                }
            }
            match bhi.succ() {
                Some(n) if bhi < ahi => cur = n.max(cur),
                _ => {
                    consumed = true;
                    break;
                }
            }
            k += 1;
        }
        if !consumed {
            out.push((cur, ahi));
        }
        // b[k-1] may also overlap the next interval of `a`; keep j where it is (it only
        // advances past intervals ending before the next `alo`).
    }
    out
}

fn is_subset_iv<T: Bound>(a: &[Iv<T>], b: &[Iv<T>]) -> bool {
    // `b` is normalized, so each interval of `a` must sit inside a single interval of `b`.
    let mut j = 0;
    for &(lo, hi) in a {
        while j < b.len() && b[j].1 < lo {
            j += 1;
        }
        match b.get(j) {
            Some(&(blo, bhi)) if blo <= lo && hi <= bhi => {}
            _ => return false,
        }
    }
    true
}

fn contains_iv<T: Bound>(v: &[Iv<T>], x: T) -> bool {
    let i = v.partition_point(|&(_, hi)| hi < x);
    v.get(i).is_some_and(|&(lo, _)| lo <= x)
}

fn count_iv<T: Bound>(v: &[Iv<T>]) -> u128 {
    v.iter()
        .fold(0u128, |acc, &(lo, hi)| acc.saturating_add(T::count(lo, hi)))
}

fn covers_all_iv<T: Bound>(v: &[Iv<T>], zero: T) -> bool {
    v == [(zero, T::MAX)]
}

// ---------------------------------------------------------------------------------------------
// IpSet
// ---------------------------------------------------------------------------------------------

/// A set of addresses of both families, kept normalized (sorted, disjoint, non-adjacent
/// inclusive intervals), so that `==` is set equality.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IpSet {
    v4: Vec<Iv<u32>>,
    v6: Vec<Iv<u128>>,
}

impl IpSet {
    /// The empty set.
    pub fn new() -> IpSet {
        IpSet::default()
    }

    /// Every IPv4 and every IPv6 address.
    pub fn all() -> IpSet {
        IpSet::from_ranges([IpRange::ALL_V4, IpRange::ALL_V6])
    }

    /// The union of `it` (sorted and merged once, `O(k log k)`).
    pub fn from_ranges<I: IntoIterator<Item = IpRange>>(it: I) -> IpSet {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for r in it {
            match r {
                IpRange::V4 { lo, hi } => v4.push((lo.min(hi), hi.max(lo))),
                IpRange::V6 { lo, hi } => v6.push((lo.min(hi), hi.max(lo))),
            }
        }
        IpSet {
            v4: normalize(v4),
            v6: normalize(v6),
        }
    }

    /// Parse a comma-separated list of entries (the inverse of `Display`); the first bad
    /// entry is the error.
    pub fn parse_list(s: &str) -> Result<IpSet, String> {
        let mut set = IpSet::new();
        for part in s.split(',') {
            if !part.trim().is_empty() {
                set.insert(IpRange::parse(part)?);
            }
        }
        Ok(set)
    }

    /// Gives back the room kept for more intervals (a set held for the rest of a run).
    pub fn shrink_to_fit(&mut self) {
        self.v4.shrink_to_fit();
        self.v6.shrink_to_fit();
    }

    /// Add a range, merging it with overlapping or adjacent intervals.
    pub fn insert(&mut self, r: IpRange) {
        match r {
            IpRange::V4 { lo, hi } => insert_iv(&mut self.v4, (lo.min(hi), hi.max(lo))),
            IpRange::V6 { lo, hi } => insert_iv(&mut self.v6, (lo.min(hi), hi.max(lo))),
        }
    }

    pub fn union(&self, other: &IpSet) -> IpSet {
        IpSet {
            v4: union_iv(&self.v4, &other.v4),
            v6: union_iv(&self.v6, &other.v6),
        }
    }

    pub fn intersection(&self, other: &IpSet) -> IpSet {
        IpSet {
            v4: intersection_iv(&self.v4, &other.v4),
            v6: intersection_iv(&self.v6, &other.v6),
        }
    }

    /// Addresses in `self` but not in `other`.
    pub fn difference(&self, other: &IpSet) -> IpSet {
        IpSet {
            v4: difference_iv(&self.v4, &other.v4),
            v6: difference_iv(&self.v6, &other.v6),
        }
    }

    /// Every address (of both families) not in `self`.
    pub fn complement(&self) -> IpSet {
        IpSet::all().difference(self)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => contains_iv(&self.v4, u32::from(a)),
            IpAddr::V6(a) => contains_iv(&self.v6, u128::from(a)),
        }
    }

    /// Whether every address of `r` is in the set.
    pub fn contains_range(&self, r: IpRange) -> bool {
        match r {
            IpRange::V4 { lo, hi } => is_subset_iv(&[(lo, hi)], &self.v4),
            IpRange::V6 { lo, hi } => is_subset_iv(&[(lo, hi)], &self.v6),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Number of normalized intervals (both families).
    pub fn interval_count(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Number of IPv4 addresses (at most 2^32).
    pub fn size_v4(&self) -> u64 {
        self.v4
            .iter()
            .map(|&(lo, hi)| u64::from(hi) - u64::from(lo) + 1)
            .sum()
    }

    /// Number of IPv6 addresses, saturating at `u128::MAX` (only `::/0` reaches it).
    pub fn size_v6(&self) -> u128 {
        count_iv(&self.v6)
    }

    /// IPv4 plus IPv6 addresses, saturating.
    pub fn size(&self) -> u128 {
        u128::from(self.size_v4()).saturating_add(self.size_v6())
    }

    /// `0.0.0.0-255.255.255.255` is fully covered.
    pub fn covers_all_v4(&self) -> bool {
        covers_all_iv(&self.v4, 0)
    }

    /// `::/0` is fully covered.
    pub fn covers_all_v6(&self) -> bool {
        covers_all_iv(&self.v6, 0)
    }

    /// Either family is fully covered: "the whole Internet".
    pub fn covers_all(&self) -> bool {
        self.covers_all_v4() || self.covers_all_v6()
    }

    /// The globally reachable unicast part of the set: `self ∩ public_space()`.
    pub fn public(&self) -> IpSet {
        self.intersection(public_space())
    }

    pub fn public_count_v4(&self) -> u64 {
        self.public().size_v4()
    }

    pub fn public_count_v6(&self) -> u128 {
        self.public().size_v6()
    }

    pub fn public_count(&self) -> u128 {
        self.public().size()
    }

    /// The normalized intervals, IPv4 first, each family in ascending order.
    pub fn ranges(&self) -> Vec<IpRange> {
        self.v4
            .iter()
            .map(|&(lo, hi)| IpRange::V4 { lo, hi })
            .chain(self.v6.iter().map(|&(lo, hi)| IpRange::V6 { lo, hi }))
            .collect()
    }

    /// Whether every address of `self` is in `other`.
    pub fn is_subset(&self, other: &IpSet) -> bool {
        is_subset_iv(&self.v4, &other.v4) && is_subset_iv(&self.v6, &other.v6)
    }
}

impl From<IpRange> for IpSet {
    fn from(r: IpRange) -> IpSet {
        IpSet::from_ranges([r])
    }
}

impl FromIterator<IpRange> for IpSet {
    fn from_iter<I: IntoIterator<Item = IpRange>>(it: I) -> IpSet {
        IpSet::from_ranges(it)
    }
}

impl Extend<IpRange> for IpSet {
    fn extend<I: IntoIterator<Item = IpRange>>(&mut self, it: I) {
        *self = self.union(&IpSet::from_ranges(it));
    }
}

/// Comma-separated canonical ranges (`10.0.0.0/8, 192.168.1.10-192.168.1.20, 2001:db8::/32`);
/// the empty set prints as nothing.
impl fmt::Display for IpSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A sequence of canonical range strings.
impl Serialize for IpSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.ranges())
    }
}

impl<'de> Deserialize<'de> for IpSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IpSet, D::Error> {
        Ok(IpSet::from_ranges(Vec::<IpRange>::deserialize(d)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Special-purpose (non-global) address blocks
// ---------------------------------------------------------------------------------------------

/// One row of a special-purpose table: the CIDR block `addr/len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialBlock {
    /// Network address (host bits are zero; a unit test checks every row).
    pub addr: IpAddr,
    pub len: u8,
    pub name: &'static str,
    /// Defining document.
    pub reference: &'static str,
}

impl SpecialBlock {
    pub fn range(&self) -> IpRange {
        // Rows are checked by a unit test; a bad length would degrade to a single address.
        IpRange::from_prefix(self.addr, self.len).unwrap_or_else(|_| IpRange::from(self.addr))
    }
}

const fn b4(
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    len: u8,
    name: &'static str,
    reference: &'static str,
) -> SpecialBlock {
    SpecialBlock {
        addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        len,
        name,
        reference,
    }
}

const fn b6(seg: [u16; 8], len: u8, name: &'static str, reference: &'static str) -> SpecialBlock {
    SpecialBlock {
        addr: IpAddr::V6(Ipv6Addr::new(
            seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7],
        )),
        len,
        name,
        reference,
    }
}

/// IPv4 blocks that are not globally reachable.
///
/// Source: IANA IPv4 Special-Purpose Address Registry and IANA IPv6 Special-Purpose Address
/// Registry (<https://www.iana.org/assignments/iana-ipv4-special-registry/>,
/// <https://www.iana.org/assignments/iana-ipv6-special-registry/>; RFC 6890, RFC 8190 and the
/// RFCs named per row), transcribed 2026-11. IPv6 rows: the registry as last updated
/// 2024-10-22 (3fff::/20 RFC 9637, 5f00::/16 RFC 9602) plus 2001:1::3/128 (RFC 9665) and
/// 100:0:0:1::/64 (RFC 9780). Re-check the registries when touching these tables.
///
/// The rule, "public" = globally reachable:
/// * A block is NOT public when its "Globally Reachable" column is False, and also when it is
///   "N/A" (deprecated or undefined blocks: 192.88.99.0/24 ex-6to4 relay anycast, RFC 7526;
///   2001::/32 Teredo and 2001:10::/28 ex-ORCHID, both inside 2001::/23 anyway; 2002::/16
///   6to4). 6to4 choice: 2002::/16 counts as non-public. Its addresses merely re-encode IPv4
///   addresses (whose own public-ness the IPv4 view already answers), relays are deprecated
///   (RFC 7526) and the registry does not call it globally reachable.
/// * IPv4 multicast 224.0.0.0/4 (not in the special registry; multicast is not unicast) and
///   240.0.0.0/4 Reserved (which includes 255.255.255.255) are non-public.
/// * A more specific block whose "Globally Reachable" is True overrides a containing False
///   block: 192.0.0.9/32, 192.0.0.10/32 inside 192.0.0.0/24; 2001:1::1/128, 2001:1::2/128,
///   2001:1::3/128, 2001:3::/32, 2001:4:112::/48, 2001:20::/28, 2001:30::/28 inside 2001::/23.
///   Blocks listed as globally reachable outside any non-global block (192.31.196.0/24 AS112,
///   192.52.193.0/24 AMT, 192.175.48.0/24 AS112 direct delegation, 2620:4f:8000::/48) are
///   simply public and need no row.
/// * IPv6 only: the space considered at all is [`GLOBAL_UNICAST_V6`] (2000::/3, the global
///   unicast space, plus 64:ff9b::/96 which the registry lists as globally reachable). Anything
///   else (::/128, ::1, ::ffff:0:0/96, 100::/64, fc00::/7, fe80::/10, ff00::/8, unassigned
///   space) is not public. Non-global rows outside 2000::/3 (including 5f00::/16) are kept in
///   the tables for documentation and for [`special_purpose`].
#[rustfmt::skip]
pub const NON_GLOBAL_V4: &[SpecialBlock] = &[
    b4(0, 0, 0, 0, 8,           "\"This network\"", "RFC 791"),
    b4(10, 0, 0, 0, 8,          "Private-Use", "RFC 1918"),
    b4(100, 64, 0, 0, 10,       "Shared Address Space", "RFC 6598"),
    b4(127, 0, 0, 0, 8,         "Loopback", "RFC 1122"),
    b4(169, 254, 0, 0, 16,      "Link Local", "RFC 3927"),
    b4(172, 16, 0, 0, 12,       "Private-Use", "RFC 1918"),
    b4(192, 0, 0, 0, 24,        "IETF Protocol Assignments", "RFC 6890"),
    b4(192, 0, 0, 0, 29,        "IPv4 Service Continuity Prefix", "RFC 7335"),
    b4(192, 0, 0, 8, 32,        "IPv4 dummy address", "RFC 7600"),
    b4(192, 0, 0, 170, 32,      "NAT64/DNS64 Discovery", "RFC 8880"),
    b4(192, 0, 0, 171, 32,      "NAT64/DNS64 Discovery", "RFC 8880"),
    b4(192, 0, 2, 0, 24,        "Documentation (TEST-NET-1)", "RFC 5737"),
    b4(192, 88, 99, 0, 24,      "Deprecated (6to4 Relay Anycast), N/A", "RFC 7526"),
    b4(192, 168, 0, 0, 16,      "Private-Use", "RFC 1918"),
    b4(198, 18, 0, 0, 15,       "Benchmarking", "RFC 2544"),
    b4(198, 51, 100, 0, 24,     "Documentation (TEST-NET-2)", "RFC 5737"),
    b4(203, 0, 113, 0, 24,      "Documentation (TEST-NET-3)", "RFC 5737"),
    b4(224, 0, 0, 0, 4,         "Multicast (not in the special registry)", "RFC 5771"),
    b4(240, 0, 0, 0, 4,         "Reserved", "RFC 1112"),
    b4(255, 255, 255, 255, 32,  "Limited Broadcast", "RFC 919"),
];

/// Globally reachable IPv4 blocks nested inside a [`NON_GLOBAL_V4`] block.
#[rustfmt::skip]
pub const GLOBAL_EXCEPTIONS_V4: &[SpecialBlock] = &[
    b4(192, 0, 0, 9, 32,        "Port Control Protocol Anycast", "RFC 7723"),
    b4(192, 0, 0, 10, 32,       "Traversal Using Relays around NAT Anycast", "RFC 8155"),
];

/// IPv6 blocks that are not globally reachable (same source and rule as [`NON_GLOBAL_V4`]).
#[rustfmt::skip]
pub const NON_GLOBAL_V6: &[SpecialBlock] = &[
    b6([0, 0, 0, 0, 0, 0, 0, 0], 128,           "Unspecified Address", "RFC 4291"),
    b6([0, 0, 0, 0, 0, 0, 0, 1], 128,           "Loopback Address", "RFC 4291"),
    b6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96,       "IPv4-mapped Address", "RFC 4291"),
    b6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48,    "IPv4-IPv6 Translat. (local use)", "RFC 8215"),
    b6([0x100, 0, 0, 0, 0, 0, 0, 0], 64,        "Discard-Only Address Block", "RFC 6666"),
    b6([0x100, 0, 0, 1, 0, 0, 0, 0], 64,        "Dummy IPv6 Prefix", "RFC 9780"),
    b6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23,       "IETF Protocol Assignments", "RFC 2928"),
    b6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32,       "TEREDO, N/A", "RFC 4380"),
    b6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48,       "Benchmarking", "RFC 5180"),
    b6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28,    "Deprecated (previously ORCHID), N/A", "RFC 4843"),
    b6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32,   "Documentation", "RFC 3849"),
    b6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16,       "6to4, N/A", "RFC 3056"),
    b6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20,       "Documentation", "RFC 9637"),
    b6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16,       "Segment Routing (SRv6) SIDs", "RFC 9602"),
    b6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7,        "Unique-Local", "RFC 4193"),
    b6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10,       "Link-Local Unicast", "RFC 4291"),
    b6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8,        "Multicast (not in the special registry)", "RFC 4291"),
];

/// Globally reachable IPv6 blocks nested inside a [`NON_GLOBAL_V6`] block (all inside
/// 2001::/23).
#[rustfmt::skip]
pub const GLOBAL_EXCEPTIONS_V6: &[SpecialBlock] = &[
    b6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128,      "Port Control Protocol Anycast", "RFC 7723"),
    b6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128,      "Traversal Using Relays around NAT Anycast", "RFC 8155"),
    b6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128,      "DNS-SD Service Registration Protocol Anycast", "RFC 9665"),
    b6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32,       "AMT", "RFC 7450"),
    b6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48,   "AS112-v6", "RFC 7535"),
    b6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28,    "ORCHIDv2", "RFC 7343"),
    b6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28,    "Drone Remote ID Protocol Entity Tags (DETs)", "RFC 9374"),
];

/// The IPv6 space that can be public at all: global unicast plus the globally reachable
/// IPv4/IPv6 translation prefix.
#[rustfmt::skip]
pub const GLOBAL_UNICAST_V6: &[SpecialBlock] = &[
    b6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96,    "IPv4-IPv6 Translat. (globally reachable)", "RFC 6052"),
    b6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3,        "Global Unicast", "RFC 4291"),
];

fn set_of(blocks: &[SpecialBlock]) -> IpSet {
    IpSet::from_ranges(blocks.iter().map(SpecialBlock::range))
}

/// The special-purpose non-global blocks of both families (the tables' non-global rows minus
/// their globally reachable exceptions). Note that for IPv6 this is not the whole non-public
/// space: unassigned space outside [`GLOBAL_UNICAST_V6`] is also non-public; see
/// [`non_public`].
pub fn special_purpose() -> &'static IpSet {
    static SET: OnceLock<IpSet> = OnceLock::new();
    SET.get_or_init(|| {
        let non_global = set_of(NON_GLOBAL_V4).union(&set_of(NON_GLOBAL_V6));
        let exceptions = set_of(GLOBAL_EXCEPTIONS_V4).union(&set_of(GLOBAL_EXCEPTIONS_V6));
        non_global.difference(&exceptions)
    })
}

/// Every public (globally reachable unicast) address: all of IPv4, and
/// [`GLOBAL_UNICAST_V6`] for IPv6, minus [`special_purpose`].
pub fn public_space() -> &'static IpSet {
    static SET: OnceLock<IpSet> = OnceLock::new();
    SET.get_or_init(|| {
        let space = IpSet::from(IpRange::ALL_V4).union(&set_of(GLOBAL_UNICAST_V6));
        space.difference(special_purpose())
    })
}

/// Every address that is not public: the complement of [`public_space`].
pub fn non_public() -> &'static IpSet {
    static SET: OnceLock<IpSet> = OnceLock::new();
    SET.get_or_init(|| public_space().complement())
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn p(s: &str) -> IpRange {
        IpRange::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn set(list: &str) -> IpSet {
        IpSet::parse_list(list).unwrap_or_else(|e| panic!("{list:?} should parse: {e}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn err(s: &str) -> String {
        match IpRange::parse(s) {
            Ok(r) => panic!("{s:?} should be rejected, parsed as {r}"),
            Err(e) => e,
        }
    }

    // ---- parsing -------------------------------------------------------------------------

    #[test]
    fn parse_single_addresses() {
        assert_eq!(
            p("192.168.1.10"),
            IpRange::V4 {
                lo: 0xC0A8_010A,
                hi: 0xC0A8_010A
            }
        );
        assert_eq!(p("  \t192.168.1.10 \r\n"), p("192.168.1.10"));
        assert_eq!(
            p("2001:db8::1"),
            IpRange::V6 {
                lo: 0x2001_0db8_0000_0000_0000_0000_0000_0001,
                hi: 0x2001_0db8_0000_0000_0000_0000_0000_0001
            }
        );
        assert_eq!(p("::"), IpRange::V6 { lo: 0, hi: 0 });
        assert_eq!(p("::ffff:10.0.0.1").size(), 1);
        assert!(p("::ffff:10.0.0.1").is_v6());
        assert_eq!(
            p("255.255.255.255"),
            IpRange::V4 {
                lo: u32::MAX,
                hi: u32::MAX
            }
        );
    }

    #[test]
    fn parse_cidr() {
        assert_eq!(
            p("10.0.0.0/8"),
            IpRange::V4 {
                lo: 0x0A00_0000,
                hi: 0x0AFF_FFFF
            }
        );
        assert_eq!(p("0.0.0.0/0"), IpRange::ALL_V4);
        assert_eq!(p("::/0"), IpRange::ALL_V6);
        assert_eq!(p("10.1.2.3/32"), p("10.1.2.3"));
        assert_eq!(p("2001:db8::1/128"), p("2001:db8::1"));
        assert_eq!(
            p("2001:db8::/32"),
            IpRange::V6 {
                lo: 0x2001_0db8 << 96,
                hi: (0x2001_0db8 << 96) | ((1u128 << 96) - 1)
            }
        );
        // Host bits are cleared: the entry means the network containing the address.
        assert_eq!(p("192.168.1.10/24"), p("192.168.1.0/24"));
        assert_eq!(p("2001:db8::1/32"), p("2001:db8::/32"));
        assert_eq!(p(" 10.0.0.0 / 8 "), p("10.0.0.0/8"));
        assert_eq!(p("10.0.0.0/08"), p("10.0.0.0/8"));
    }

    #[test]
    fn parse_start_end() {
        assert_eq!(p("0.0.0.0-255.255.255.255"), IpRange::ALL_V4);
        assert_eq!(
            p("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            IpRange::ALL_V6
        );
        assert_eq!(
            p("192.168.1.10-192.168.1.20"),
            IpRange::V4 {
                lo: 0xC0A8_010A,
                hi: 0xC0A8_0114
            }
        );
        assert_eq!(
            p("192.168.1.10 - 192.168.1.20"),
            p("192.168.1.10-192.168.1.20")
        );
        assert_eq!(p("10.0.0.1-10.0.0.1"), p("10.0.0.1"));
        assert_eq!(p("2001:db8::1-2001:db8::ff").size(), 255);
    }

    #[test]
    fn parse_mask_form() {
        assert_eq!(p("192.168.1.0(255.255.255.0)"), p("192.168.1.0/24"));
        assert_eq!(p("10.1.2.3(255.0.0.0)"), p("10.0.0.0/8"));
        assert_eq!(p("1.2.3.4(0.0.0.0)"), IpRange::ALL_V4);
        assert_eq!(p("1.2.3.4(255.255.255.255)"), p("1.2.3.4"));
        assert_eq!(p(" 192.168.1.0 ( 255.255.254.0 ) "), p("192.168.0.0/23"));
        assert_eq!(p("2001:db8::(ffff:ffff::)"), p("2001:db8::/32"));
    }

    #[test]
    fn parse_errors() {
        let e = err("foo");
        assert_eq!(
            e,
            "expected an IP address, CIDR, start-end range or address(mask), found \"foo\""
        );
        assert!(err("").contains("empty"));
        assert!(err("   ").contains("empty"));
        assert!(err("10.0.0").contains("expected an IP address"));
        assert!(err("256.0.0.1").contains("\"256.0.0.1\""));
        assert!(err("fe80::1%eth0").contains("expected"));
        assert!(err("1.2.3.4 5.6.7.8").contains("expected"));

        // start > end
        let e = err("10.0.0.5-10.0.0.1");
        assert!(e.contains("greater than"), "{e}");
        assert!(e.contains("\"10.0.0.5-10.0.0.1\""), "{e}");
        assert!(err("2001:db8::2-2001:db8::1").contains("greater than"));

        // mixed families
        assert!(err("10.0.0.1-::1").contains("mixes"));
        assert!(err("::1-10.0.0.1").contains("mixes"));
        assert!(err("10.0.0.0(ffff:ffff::)").contains("mixes"));
        assert!(err("2001:db8::(255.255.0.0)").contains("mixes"));

        // bad masks
        let e = err("192.168.1.0(255.0.255.0)");
        assert!(e.contains("not contiguous"), "{e}");
        assert!(err("192.168.1.0(0.0.0.255)").contains("not contiguous"));
        assert!(err("192.168.1.0(255.255.255.0").contains("unbalanced"));
        assert!(err("192.168.1.0)").contains("unbalanced"));
        assert!(err("192.168.1.0(255.255.255.0)x").contains("unbalanced"));
        assert!(err("192.168.1.0(foo)").contains("subnet mask"));
        assert!(err("(255.255.255.0)").contains("missing address"));

        // bad prefix lengths
        assert!(err("10.0.0.0/33").contains("0-32"));
        assert!(err("::/129").contains("0-128"));
        assert!(err("10.0.0.0/").contains("prefix length"));
        assert!(err("10.0.0.0/-1").contains("prefix length"));
        assert!(err("10.0.0.0/+8").contains("prefix length"));
        assert!(err("10.0.0.0/8/8").contains("prefix length"));
        assert!(err("10.0.0.0/99999999999999999999").contains("prefix length"));
        assert!(err("/8").contains("missing address"));
        assert!(err("foo/8").contains("invalid address"));

        // bad ranges
        assert!(err("1.2.3.4-").contains("missing range end"));
        assert!(err("-1.2.3.4").contains("missing range start"));
        assert!(err("1.2.3.4-5-6").contains("range end"));
        assert!(err("a-b").contains("invalid range start"));

        // long garbage is truncated in the message
        let long = "x".repeat(500);
        assert!(err(&long).len() < 200);
    }

    #[test]
    fn from_prefix_and_bounds() {
        assert!(IpRange::from_prefix(ip("10.0.0.0"), 33).is_err());
        assert!(IpRange::from_prefix(ip("::"), 129).is_err());
        assert!(IpRange::from_bounds(ip("10.0.0.2"), ip("10.0.0.1")).is_err());
        assert!(IpRange::from_bounds(ip("10.0.0.2"), ip("::1")).is_err());
        assert_eq!(
            IpRange::from_bounds(ip("10.0.0.1"), ip("10.0.0.2")),
            Ok(p("10.0.0.1-10.0.0.2"))
        );
        assert_eq!("10.0.0.0/8".parse::<IpRange>(), Ok(p("10.0.0.0/8")));
    }

    // ---- range properties and display ----------------------------------------------------

    #[test]
    fn range_contains_and_size() {
        let r = p("10.0.0.0/8");
        assert!(r.contains(ip("10.255.255.255")));
        assert!(!r.contains(ip("11.0.0.0")));
        assert!(!r.contains(ip("::ffff:10.0.0.1")), "families never mix");
        assert_eq!(r.size(), 1 << 24);
        assert_eq!(IpRange::ALL_V4.size(), 1 << 32);
        assert_eq!(p("2001:db8::/64").size(), 1 << 64);
        assert_eq!(p("::/1").size(), 1 << 127);
        assert_eq!(IpRange::ALL_V6.size(), u128::MAX, "2^128 saturates");
        assert!(IpRange::ALL_V6.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert_eq!(p("1.2.3.4").start(), ip("1.2.3.4"));
        assert_eq!(p("1.2.3.0/24").end(), ip("1.2.3.255"));
    }

    #[test]
    fn hand_built_inverted_ranges_do_not_panic() {
        let r4 = IpRange::V4 { lo: 5, hi: 1 };
        let r6 = IpRange::V6 {
            lo: u128::MAX,
            hi: 0,
        };
        assert_eq!(r4.size(), 5);
        assert_eq!(r6.size(), u128::MAX);
        assert_eq!(r6.prefix_len(), Some(0));
        let _ = (r4.to_string(), r6.to_string(), r4.prefix_len());
        // Sets order the bounds.
        assert_eq!(IpSet::from(r4), set("0.0.0.1-0.0.0.5"));
        let mut s = IpSet::new();
        s.insert(r6);
        assert!(s.covers_all_v6());
    }

    #[test]
    fn display_is_canonical() {
        let cases = [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("0.0.0.0-255.255.255.255", "0.0.0.0/0"),
            ("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0"),
            ("10.0.0.1/32", "10.0.0.1"),
            ("192.168.1.10-192.168.1.20", "192.168.1.10-192.168.1.20"),
            ("10.0.0.0-10.0.0.1", "10.0.0.0/31"),
            ("10.0.0.1-10.0.0.2", "10.0.0.1-10.0.0.2"),
            ("192.168.1.0(255.255.255.0)", "192.168.1.0/24"),
            ("2001:DB8::/32", "2001:db8::/32"),
            ("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
            ("255.255.255.254-255.255.255.255", "255.255.255.254/31"),
            ("0.0.0.0-127.255.255.255", "0.0.0.0/1"),
            ("0.0.0.0-127.255.255.254", "0.0.0.0-127.255.255.254"),
        ];
        for (input, shown) in cases {
            let r = p(input);
            assert_eq!(r.to_string(), shown, "display of {input}");
            assert_eq!(p(&r.to_string()), r, "round trip of {input}");
        }
    }

    // ---- sets ----------------------------------------------------------------------------

    #[test]
    fn covers_all() {
        assert!(set("0.0.0.0-255.255.255.255").covers_all_v4());
        assert!(set("0.0.0.0/0").covers_all());
        let halves = set("0.0.0.0/1").union(&set("128.0.0.0/1"));
        assert!(halves.covers_all_v4());
        assert!(halves.covers_all());
        assert_eq!(halves.ranges(), vec![IpRange::ALL_V4]);
        assert!(!set("0.0.0.0-255.255.255.254").covers_all_v4());
        assert!(!set("0.0.0.0-255.255.255.254").covers_all());
        assert!(!set("0.0.0.1-255.255.255.255").covers_all());
        assert!(set("::/1, 8000::/1").covers_all_v6());
        assert!(set("::/1, 8000::/1").covers_all());
        assert!(!set("::/1, 8000::/1").covers_all_v4());
        assert!(!set("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe").covers_all());
        assert!(!IpSet::new().covers_all());
        assert!(IpSet::all().covers_all_v4() && IpSet::all().covers_all_v6());
        // Many pieces that together cover everything.
        let mut s = IpSet::new();
        for i in 0..=255u8 {
            s.insert(p(&format!("{i}.0.0.0/8")));
        }
        assert!(s.covers_all_v4());
    }

    #[test]
    fn insert_merges_adjacent_at_the_top_edge() {
        let mut s = IpSet::new();
        s.insert(p("255.255.255.255"));
        s.insert(p("255.255.255.254"));
        assert_eq!(s.ranges(), vec![p("255.255.255.254/31")]);
        s.insert(p("0.0.0.0-255.255.255.253"));
        assert!(s.covers_all_v4());

        let mut s = IpSet::new();
        s.insert(p("0.0.0.0-255.255.255.254"));
        s.insert(p("255.255.255.255"));
        assert!(s.covers_all_v4());

        let mut s = IpSet::new();
        s.insert(p("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        s.insert(p("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
        assert!(s.covers_all_v6());
        assert_eq!(s.size_v6(), u128::MAX);
        assert_eq!(s.size(), u128::MAX);

        // Not adjacent: a gap of one address stays.
        let s = set("10.0.0.1, 10.0.0.3");
        assert_eq!(s.interval_count(), 2);
        assert_eq!(s.size(), 2);
    }

    #[test]
    fn set_operations_examples() {
        let a = set("10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32");
        let b = set("10.1.0.0/16, 172.16.0.0/12, 2001:db8::/48");
        assert_eq!(
            a.intersection(&b),
            set("10.1.0.0/16, 2001:db8::/48"),
            "intersection"
        );
        assert_eq!(
            a.difference(&b).to_string(),
            "10.0.0.0/16, 10.2.0.0-10.255.255.255, 192.168.0.0/16, \
             2001:db8:1::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert_eq!(
            a.union(&b).to_string(),
            "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 2001:db8::/32"
        );
        assert!(set("10.1.0.0/16").is_subset(&a));
        assert!(!b.is_subset(&a));
        assert!(IpSet::new().is_subset(&IpSet::new()));
        assert!(a.contains(ip("2001:db8::1")));
        assert!(!a.contains(ip("2001:db9::1")));
        assert!(a.contains_range(p("10.2.0.0/16")));
        assert!(!a.contains_range(p("10.0.0.0/7")));
        assert_eq!(a.size_v4(), (1 << 24) + (1 << 16));
        assert_eq!(a.size_v6(), 1 << 96);
        assert_eq!(a.complement().intersection(&a), IpSet::new());
        assert!(a.complement().union(&a).covers_all_v4());
        assert_eq!(IpSet::new().to_string(), "");
        let mut e = IpSet::new();
        e.extend([p("10.0.0.0/9"), p("10.128.0.0/9")]);
        assert_eq!(e, set("10.0.0.0/8"));
        let c: IpSet = [p("::1"), p("127.0.0.1")].into_iter().collect();
        assert_eq!(c.ranges(), vec![p("127.0.0.1"), p("::1")], "IPv4 first");
    }

    #[test]
    fn parse_list_errors() {
        assert!(IpSet::parse_list("10.0.0.0/8, foo").is_err());
        assert_eq!(IpSet::parse_list(""), Ok(IpSet::new()));
        assert_eq!(IpSet::parse_list(" , 10.0.0.1 ,"), Ok(set("10.0.0.1")));
    }

    #[test]
    fn serde_round_trip() {
        let s = set("10.0.0.0/8, 192.168.1.10-192.168.1.20, 2001:db8::1");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"["10.0.0.0/8","192.168.1.10-192.168.1.20","2001:db8::1"]"#
        );
        assert_eq!(serde_json::from_str::<IpSet>(&json).unwrap(), s);
        assert_eq!(
            serde_json::from_str::<IpRange>(r#""192.168.1.0(255.255.255.0)""#).unwrap(),
            p("192.168.1.0/24")
        );
        assert!(serde_json::from_str::<IpRange>(r#""foo""#).is_err());
    }

    // ---- public / special-purpose ---------------------------------------------------------

    #[test]
    fn table_rows_are_aligned_prefixes() {
        let tables = [
            NON_GLOBAL_V4,
            GLOBAL_EXCEPTIONS_V4,
            NON_GLOBAL_V6,
            GLOBAL_EXCEPTIONS_V6,
            GLOBAL_UNICAST_V6,
        ];
        for (t, rows) in tables.iter().enumerate() {
            for b in rows.iter() {
                let r = IpRange::from_prefix(b.addr, b.len)
                    .unwrap_or_else(|e| panic!("table {t} row {}: {e}", b.name));
                assert_eq!(r.start(), b.addr, "host bits set in {}/{}", b.addr, b.len);
                assert_eq!(b.range(), r);
                assert_eq!(r.is_v4(), t < 2, "family of {}/{}", b.addr, b.len);
            }
        }
        // Every exception sits inside a non-global block (otherwise it needs no row).
        for b in GLOBAL_EXCEPTIONS_V4.iter().chain(GLOBAL_EXCEPTIONS_V6) {
            assert!(
                set_of(NON_GLOBAL_V4)
                    .union(&set_of(NON_GLOBAL_V6))
                    .contains_range(b.range()),
                "{} is not nested",
                b.name
            );
        }
    }

    #[test]
    fn public_counts_examples() {
        assert_eq!(set("10.0.0.0/8").public_count(), 0);
        assert_eq!(set("8.8.8.0/24").public_count(), 256);
        assert_eq!(set("8.8.8.0/24").public_count_v4(), 256);
        assert_eq!(set("192.0.2.5").public_count(), 0);
        assert_eq!(
            set("192.0.0.0/24").public().to_string(),
            "192.0.0.9-192.0.0.10"
        );
        assert_eq!(
            set("192.31.196.0/24").public_count(),
            256,
            "AS112-v4 is global"
        );
        assert_eq!(set("192.52.193.0/24").public_count(), 256, "AMT is global");
        assert_eq!(
            set("192.175.48.0/24").public_count(),
            256,
            "AS112 is global"
        );
        assert_eq!(
            set("192.88.99.0/24").public_count(),
            0,
            "deprecated 6to4 relay"
        );
        assert_eq!(set("224.0.0.0/3").public_count(), 0);
        assert_eq!(set("255.255.255.255").public_count(), 0);
        assert_eq!(set("100.63.255.255-100.128.0.0").public_count(), 2);

        assert_eq!(set("2001:4860::/32").public_count_v6(), 1 << 96);
        assert_eq!(set("2001:db8::/32").public_count(), 0);
        assert_eq!(
            set("2002::/16").public_count(),
            0,
            "6to4 counted as non-public"
        );
        assert_eq!(
            set("fc00::/7, fe80::/10, ff00::/8, ::1, ::").public_count(),
            0
        );
        assert_eq!(set("::ffff:0:0/96").public_count(), 0);
        assert_eq!(set("64:ff9b::/96").public_count(), 1 << 32);
        assert_eq!(set("64:ff9b:1::/48").public_count(), 0);
        assert_eq!(
            set("2001:1::/32").public().to_string(),
            "2001:1::1-2001:1::3"
        );
        assert_eq!(set("2001:3::/32").public_count(), 1 << 96, "AMT is global");
        assert_eq!(set("2001:2::/48").public_count(), 0);
        assert_eq!(set("2620:4f:8000::/48").public_count(), 1 << 80);
        assert_eq!(set("3fff::/20, 5f00::/16").public_count(), 0);

        assert!(public_space().is_subset(&special_purpose().complement()));
        assert_eq!(non_public().union(public_space()), IpSet::all());
        assert!(non_public().intersection(public_space()).is_empty());
        assert!(special_purpose().is_subset(non_public()));
    }

    #[test]
    fn public_count_of_everything() {
        // IPv4: 2^32 = 4_294_967_296 minus the non-global blocks (none overlap except
        // 224/4 + 240/4, which is 224.0.0.0/3 and already contains 255.255.255.255):
        //   0/8, 10/8, 127/8            3 * 16_777_216 = 50_331_648
        //   100.64/10                               4_194_304
        //   172.16/12                               1_048_576
        //   169.254/16, 192.168/16          2 * 65_536 = 131_072
        //   198.18/15                                 131_072
        //   192.0.0/24 minus .9 and .10                   254
        //   192.0.2/24, 192.88.99/24,
        //   198.51.100/24, 203.0.113/24         4 * 256 = 1_024
        //   224.0.0.0/3                           536_870_912
        //   total                                 592_708_862
        // 4_294_967_296 - 592_708_862 = 3_702_258_434.
        let all_v4 = set("0.0.0.0/0");
        assert_eq!(all_v4.public_count_v4(), 3_702_258_434);
        assert_eq!(all_v4.public_count(), 3_702_258_434);
        assert_eq!(special_purpose().size_v4(), 592_708_862);

        // IPv6: 2000::/3 (2^125) + 64:ff9b::/96 (2^32)
        //   - 2001::/23 (2^105), but add back its global exceptions
        //       2001:1::1, ::2, ::3 (3), 2001:3::/32 (2^96), 2001:4:112::/48 (2^80),
        //       2001:20::/28 and 2001:30::/28 (2 * 2^100)
        //   - 2001:db8::/32 (2^96) - 2002::/16 (2^112) - 3fff::/20 (2^108)
        // (5f00::/16 and the other non-global rows lie outside 2000::/3 and change nothing.)
        // = 42_529_741_020_188_316_757_504_082_008_994_742_275
        //   (0x1ffe_ee20_0001_0000_0000_0001_0000_0003), about 2^125 * 0.9998.
        let expected_v6: u128 =
            (1 << 125) + (1 << 32) - (1 << 105) + 3 + (1 << 96) + (1 << 80) + 2 * (1 << 100)
                - (1 << 96)
                - (1 << 112)
                - (1 << 108);
        assert_eq!(
            expected_v6,
            42_529_741_020_188_316_757_504_082_008_994_742_275
        );
        let all_v6 = set("::/0");
        assert_eq!(all_v6.public_count_v6(), expected_v6);
        assert_eq!(all_v6.public_count(), expected_v6);
        assert_eq!(
            IpSet::all().public_count(),
            expected_v6 + 3_702_258_434,
            "both families"
        );
        assert_eq!(public_space().size(), expected_v6 + 3_702_258_434);
    }

    // ---- property tests against a BTreeSet model -----------------------------------------

    /// Enumerate a set's intervals of one family (guarded: the model universes are small).
    fn expand<T: Bound>(ivs: &[Iv<T>]) -> BTreeSet<T> {
        let mut out = BTreeSet::new();
        for &(lo, hi) in ivs {
            assert!(T::count(lo, hi) <= 100_000, "interval unexpectedly large");
            let mut x = lo;
            loop {
                out.insert(x);
                match x.succ() {
                    Some(n) if n <= hi => x = n,
                    _ => break,
                }
            }
        }
        out
    }

    fn assert_normalized<T: Bound + fmt::Debug>(ivs: &[Iv<T>]) {
        for &(lo, hi) in ivs {
            assert!(lo <= hi, "inverted interval {lo:?}-{hi:?}");
        }
        for w in ivs.windows(2) {
            let (prev, next) = (w[0], w[1]);
            let gap_start = prev.1.succ().expect("interval after one ending at MAX");
            assert!(
                next.0 > gap_start,
                "overlapping or adjacent: {prev:?} {next:?}"
            );
        }
    }

    /// Check every set operation of one family against the model. `get` picks the family's
    /// intervals out of a set, `mk` builds a range, `addr` an address.
    fn check_family<T: Bound + fmt::Debug>(
        a: &[Iv<T>],
        b: &[Iv<T>],
        probes: &[T],
        mk: fn(T, T) -> IpRange,
        addr: fn(T) -> IpAddr,
        get: fn(&IpSet) -> &Vec<Iv<T>>,
    ) {
        let sa = IpSet::from_ranges(a.iter().map(|&(l, h)| mk(l, h)));
        let sb = IpSet::from_ranges(b.iter().map(|&(l, h)| mk(l, h)));
        let ma = expand(a);
        let mb = expand(b);

        // Normalization and model equality.
        for s in [&sa, &sb] {
            assert_normalized(get(s));
        }
        assert_eq!(expand(get(&sa)), ma);
        assert_eq!(expand(get(&sb)), mb);

        // Incremental insertion gives the same normalized set.
        let mut inc = IpSet::new();
        for &(l, h) in a {
            inc.insert(mk(l, h));
            assert_normalized(get(&inc));
        }
        assert_eq!(inc, sa);

        let u = sa.union(&sb);
        let i = sa.intersection(&sb);
        let d = sa.difference(&sb);
        for s in [&u, &i, &d] {
            assert_normalized(get(s));
        }
        assert_eq!(expand(get(&u)), ma.union(&mb).copied().collect());
        assert_eq!(expand(get(&i)), ma.intersection(&mb).copied().collect());
        assert_eq!(expand(get(&d)), ma.difference(&mb).copied().collect());
        assert_eq!(u, sb.union(&sa));
        assert_eq!(i, sb.intersection(&sa));

        assert_eq!(sa.size(), ma.len() as u128);
        assert_eq!(u.size(), (ma.len() + mb.len() - i.size() as usize) as u128);
        assert_eq!(sa.is_subset(&sb), ma.is_subset(&mb));
        assert_eq!(sb.is_subset(&sa), mb.is_subset(&ma));
        assert!(i.is_subset(&sa) && i.is_subset(&sb));
        assert!(sa.is_subset(&u) && d.is_subset(&sa));
        assert!(d.intersection(&sb).is_empty());
        assert_eq!(sa.is_empty(), ma.is_empty());
        for &x in probes {
            assert_eq!(sa.contains(addr(x)), ma.contains(&x), "contains {x:?}");
            assert_eq!(u.contains(addr(x)), ma.contains(&x) || mb.contains(&x));
        }

        // Complement: disjoint, and together everything.
        let c = sa.complement();
        assert_normalized(get(&c));
        assert!(c.intersection(&sa).is_empty());
        assert_eq!(c.union(&sa), IpSet::all());
        assert_eq!(c.complement(), sa);

        // Display / parse round trip of the whole set.
        assert_eq!(IpSet::parse_list(&sa.to_string()), Ok(sa.clone()));
    }

    const EDGE: u32 = 300;

    /// IPv4 ranges within 0..=300 or within the top 301 addresses (touching 255.255.255.255).
    fn v4_range() -> impl Strategy<Value = Iv<u32>> {
        let region = prop_oneof![Just(0u32), Just(u32::MAX - EDGE)];
        (region, 0..=EDGE, 0..=EDGE, any::<bool>()).prop_map(|(base, x, y, short)| {
            let (lo, mut hi) = (x.min(y), x.max(y));
            if short {
                // Mostly short ranges, so that gaps and adjacency are common.
                hi = (lo + (hi - lo) % 8).min(EDGE);
            }
            (base + lo, base + hi)
        })
    }

    fn v4_probes() -> Vec<u32> {
        (0..=EDGE + 2)
            .chain((u32::MAX - EDGE - 2)..=u32::MAX)
            .collect()
    }

    const BASES_V6: [u128; 3] = [0, 1 << 64, u128::MAX - 300];

    /// IPv6 ranges in three small windows: at ::, around 0:0:0:1::, and touching the top.
    fn v6_range() -> impl Strategy<Value = Iv<u128>> {
        (0..BASES_V6.len(), 0..=300u128, 0..=300u128).prop_map(|(k, x, y)| {
            let base = BASES_V6[k];
            (base + x.min(y), base + x.max(y))
        })
    }

    fn v6_probes() -> Vec<u128> {
        BASES_V6
            .iter()
            .flat_map(|&b| (0..=300u128).map(move |x| b + x))
            .chain([301, (1 << 64) - 1, (1 << 64) + 301])
            .collect()
    }

    fn mk4(lo: u32, hi: u32) -> IpRange {
        IpRange::V4 { lo, hi }
    }
    fn mk6(lo: u128, hi: u128) -> IpRange {
        IpRange::V6 { lo, hi }
    }
    fn addr4(x: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(x))
    }
    fn addr6(x: u128) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(x))
    }
    fn get4(s: &IpSet) -> &Vec<Iv<u32>> {
        &s.v4
    }
    fn get6(s: &IpSet) -> &Vec<Iv<u128>> {
        &s.v6
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn prop_v4_ops_match_model(
            a in prop::collection::vec(v4_range(), 0..10),
            b in prop::collection::vec(v4_range(), 0..10),
        ) {
            check_family(&a, &b, &v4_probes(), mk4, addr4, get4);
        }

        #[test]
        fn prop_v6_ops_match_model(
            a in prop::collection::vec(v6_range(), 0..10),
            b in prop::collection::vec(v6_range(), 0..10),
        ) {
            check_family(&a, &b, &v6_probes(), mk6, addr6, get6);
        }

        #[test]
        fn prop_mixed_families_stay_apart(
            a in prop::collection::vec(v4_range(), 0..6),
            b in prop::collection::vec(v6_range(), 0..6),
        ) {
            let s4 = IpSet::from_ranges(a.iter().map(|&(l, h)| mk4(l, h)));
            let s6 = IpSet::from_ranges(b.iter().map(|&(l, h)| mk6(l, h)));
            let u = s4.union(&s6);
            prop_assert!(s4.intersection(&s6).is_empty());
            prop_assert_eq!(u.size(), s4.size() + s6.size());
            prop_assert_eq!(u.difference(&s6), s4.clone());
            prop_assert_eq!(u.ranges().iter().filter(|r| r.is_v4()).count(), s4.interval_count());
        }

        #[test]
        fn prop_v4_display_round_trips(x in any::<u32>(), y in any::<u32>()) {
            let r = mk4(x.min(y), x.max(y));
            prop_assert_eq!(IpRange::parse(&r.to_string()), Ok(r));
        }

        #[test]
        fn prop_v4_prefix_round_trips(x in any::<u32>(), len in 0u8..=32) {
            let r = IpRange::from_prefix(addr4(x), len).unwrap();
            prop_assert_eq!(r.prefix_len(), Some(len));
            prop_assert_eq!(r.size(), 1u128 << (32 - len));
            let shown = r.to_string();
            prop_assert_eq!(IpRange::parse(&shown), Ok(r));
            if len < 32 {
                prop_assert_eq!(shown, format!("{}/{len}", r.start()));
            }
        }

        #[test]
        fn prop_v6_display_round_trips(x in any::<u128>(), y in any::<u128>()) {
            let r = mk6(x.min(y), x.max(y));
            prop_assert_eq!(IpRange::parse(&r.to_string()), Ok(r));
        }

        #[test]
        fn prop_v6_prefix_round_trips(x in any::<u128>(), len in 0u8..=128) {
            let r = IpRange::from_prefix(addr6(x), len).unwrap();
            prop_assert_eq!(r.prefix_len(), Some(len));
            prop_assert_eq!(IpRange::parse(&r.to_string()), Ok(r));
        }

        #[test]
        fn prop_mask_form_equals_cidr(x in any::<u32>(), len in 0u8..=32) {
            let mask = Ipv4Addr::from(mask_v4(len));
            let a = Ipv4Addr::from(x);
            prop_assert_eq!(
                IpRange::parse(&format!("{a}({mask})")),
                IpRange::parse(&format!("{a}/{len}"))
            );
        }

        #[test]
        fn prop_non_contiguous_masks_rejected(m in any::<u32>()) {
            prop_assume!(m.leading_ones() + m.trailing_zeros() != 32);
            let e = IpRange::parse(&format!("10.0.0.0({})", Ipv4Addr::from(m)));
            prop_assert!(e.is_err());
        }

        #[test]
        fn prop_parse_never_panics(s in any::<String>()) {
            let _ = IpRange::parse(&s);
            let _ = IpSet::parse_list(&s);
        }

        #[test]
        fn prop_parse_ip_like_never_panics_and_round_trips(
            s in "[ 0-9a-fA-F:./()%,-]{0,48}"
        ) {
            if let Ok(r) = IpRange::parse(&s) {
                prop_assert_eq!(IpRange::parse(&r.to_string()), Ok(r));
            }
        }

        #[test]
        fn prop_public_is_subset_and_complementary(
            x in any::<u32>(), y in any::<u32>(), u in any::<u128>(), v in any::<u128>()
        ) {
            let s = IpSet::from_ranges([mk4(x.min(y), x.max(y)), mk6(u.min(v), u.max(v))]);
            let pubs = s.public();
            prop_assert!(pubs.is_subset(&s));
            prop_assert!(pubs.intersection(non_public()).is_empty());
            prop_assert_eq!(pubs.union(&s.intersection(non_public())), s.clone());
            prop_assert_eq!(s.public_count(), pubs.size());
            prop_assert_eq!(
                s.public_count(),
                u128::from(s.public_count_v4()) + s.public_count_v6()
            );
        }
    }
}
