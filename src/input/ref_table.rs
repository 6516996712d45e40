//! The objects a CliXML `<Ref RefId>` may reuse: a bounded table that keeps what is used.
//!
//! `Export-Clixml` writes an object once and a `<Ref>` to it afterwards (an organisation's
//! `OrganizationId`, a server's `ADObjectId`). Every object with a `RefId` is kept in case a
//! later `<Ref>` names it; memory stays bounded by two generations: new objects go into the
//! young one, and when it is full the old one is let go and the young one becomes old. An
//! object used again is moved back to the young generation, so objects referred to again
//! and again stay however far apart their uses are, at no cost per insertion beyond the
//! insertion itself.

use crate::input::id_map::IdMap;
use crate::input::record::Value;

/// A reusable object: its value, its size in bytes and the line that defined it.
#[derive(Debug)]
pub struct RefEntry {
    pub value: Value,
    pub bytes: usize,
    pub line: u32,
}

#[derive(Default)]
struct Generation {
    entries: IdMap<RefEntry>,
    bytes: usize,
}

impl Generation {
    fn remove(&mut self, id: u32) -> Option<RefEntry> {
        let e = self.entries.remove(&id)?;
        self.bytes -= e.bytes;
        Some(e)
    }

    fn insert(&mut self, id: u32, e: RefEntry) {
        self.bytes += e.bytes;
        if let Some(old) = self.entries.insert(id, e) {
            self.bytes -= old.bytes;
        }
    }
}

/// At most `max_entries` objects and about `max_bytes` of their values.
pub struct RefTable {
    young: Generation,
    old: Generation,
    max_entries: usize,
    max_bytes: usize,
    /// Objects let go to bound memory.
    pub evicted: usize,
}

impl RefTable {
    pub fn new(max_entries: usize, max_bytes: usize) -> RefTable {
        RefTable {
            young: Generation::default(),
            old: Generation::default(),
            max_entries,
            max_bytes,
            evicted: 0,
        }
    }

    /// The line that defined `id`, while it is kept.
    pub fn line(&self, id: u32) -> Option<u32> {
        let e = self
            .young
            .entries
            .get(&id)
            .or_else(|| self.old.entries.get(&id));
        e.map(|e| e.line)
    }

    pub fn remove(&mut self, id: u32) {
        self.young.remove(id);
        self.old.remove(id);
    }

    pub fn insert(&mut self, id: u32, entry: RefEntry) {
        self.old.remove(id);
        self.young.insert(id, entry);
        if self.young.entries.len() > self.max_entries / 2 || self.young.bytes > self.max_bytes / 2
        {
            self.evicted += self.old.entries.len();
            self.old = std::mem::take(&mut self.young);
        }
    }

    /// The object `id`, now counted as recently used.
    pub fn get(&mut self, id: u32) -> Option<&RefEntry> {
        if !self.young.entries.contains_key(&id) {
            let e = self.old.remove(id)?;
            self.young.insert(id, e);
        }
        self.young.entries.get(&id)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.young.entries.len() + self.old.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str, line: u32) -> RefEntry {
        RefEntry {
            value: Value::Text(text.into()),
            bytes: text.len(),
            line,
        }
    }

    #[test]
    fn bounded_and_what_is_used_stays() {
        let mut t = RefTable::new(100, 1 << 20);
        t.insert(0, entry("Contoso", 1));
        for id in 1..10_000 {
            t.insert(id, entry("o", id));
            assert!(t.len() <= 100);
            if id % 40 == 0 {
                assert_eq!(t.get(0).map(|e| e.line), Some(1), "at {id}");
            }
        }
        assert!(t.get(5).is_none(), "an old object unused is let go");
        assert!(t.evicted > 9_000);
        assert_eq!(t.line(9_999), Some(9_999));
    }

    #[test]
    fn bytes_bound_the_table_too() {
        let mut t = RefTable::new(1 << 20, 1000);
        for id in 0..1000 {
            t.insert(id, entry(&"x".repeat(100), id));
            assert!(t.young.bytes + t.old.bytes <= 1100);
        }
    }
}
