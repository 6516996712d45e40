//! Maps keyed by the numbers a file assigns (CliXML `RefId`s), hashed fast but keyed.
//!
//! A CliXML export defines and refers to hundreds of thousands of `RefId`s; SipHash, the
//! standard map's hash, was 2 % of a whole scan. [`IdMap`] hashes one number with a single
//! folded 128-bit multiplication by a key drawn once per process, so a crafted file cannot
//! choose ids that all fall into one bucket (as it could with an unkeyed multiply).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A map from a file's ids to `V`.
pub type IdMap<V> = HashMap<u32, V, IdState>;

/// Builds [`IdHasher`]s with this process's key.
#[derive(Clone, Copy)]
pub struct IdState(u64);

impl Default for IdState {
    fn default() -> IdState {
        static KEY: OnceLock<u64> = OnceLock::new();
        // (the standard library's random state is seeded from the operating system)
        IdState(
            *KEY.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64) | 1),
        )
    }
}

impl BuildHasher for IdState {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher { key: self.0, h: 0 }
    }
}

/// Folded multiply of the key with each number written.
pub struct IdHasher {
    key: u64,
    h: u64,
}

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.h
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        let p = u128::from(self.h ^ self.key ^ i) * u128::from(MULTIPLIER);
        self.h = (p as u64) ^ ((p >> 64) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sharing_their_low_bits_still_spread() {
        // Multiples of 65,536: an unkeyed multiply puts them all in one bucket of a table
        // of up to 65,536 buckets.
        let s = IdState::default();
        let buckets: std::collections::HashSet<u64> =
            (0..4096u32).map(|i| s.hash_one(i << 16) & 0xFFF).collect();
        assert!(buckets.len() > 2000, "{} buckets of 4096", buckets.len());
        let mut m: IdMap<u32> = IdMap::default();
        for i in 0..10_000 {
            m.insert(i << 16, i);
        }
        assert_eq!(m.get(&(77 << 16)), Some(&77));
    }
}
