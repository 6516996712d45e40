//! The exported properties an object keeps as evidence, held compactly.
//!
//! Thousands of connectors of one export show the same properties at the same places in
//! their records: which properties, their line offsets and whether each was cut (the
//! *shape*) is held once and shared; an object keeps its first line and one shared text per
//! property.

use super::Raw;
use std::collections::HashSet;
use std::sync::Arc;

/// One property of a shape: its name, its line relative to the object's first line, and
/// whether the export cut its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slot {
    name: &'static str,
    offset: u32,
    truncated: bool,
}

/// An object's exported properties, in the order read.
#[derive(Debug, Clone, Default)]
pub struct RawSet {
    shape: Option<Arc<[Slot]>>,
    values: Box<[Arc<str>]>,
    line: u32,
}

impl RawSet {
    /// The properties `raws` of an object whose record starts on `line`, sharing their shape
    /// with the equal shapes in `shapes`.
    pub(crate) fn new(raws: Vec<Raw>, line: u32, shapes: &mut Shapes) -> RawSet {
        let mut slots = Vec::with_capacity(raws.len());
        let mut values = Vec::with_capacity(raws.len());
        for r in raws {
            slots.push(Slot {
                name: r.name,
                // (wrapping: reversed exactly in `at`, whatever the two lines are)
                offset: r.line.wrapping_sub(line),
                truncated: r.truncated,
            });
            values.push(r.value);
        }
        RawSet {
            shape: (!slots.is_empty()).then(|| shapes.share(slots)),
            values: values.into_boxed_slice(),
            line,
        }
    }

    /// The property `name` (any case).
    pub fn get(&self, name: &str) -> Option<Raw> {
        let i = self
            .slots()
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))?;
        Some(self.at(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = Raw> + '_ {
        (0..self.values.len()).map(|i| self.at(i))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn to_vec(&self) -> Vec<Raw> {
        self.iter().collect()
    }

    fn slots(&self) -> &[Slot] {
        self.shape.as_deref().unwrap_or(&[])
    }

    fn at(&self, i: usize) -> Raw {
        let s = &self.slots()[i];
        Raw {
            name: s.name,
            value: self.values[i].clone(),
            line: self.line.wrapping_add(s.offset),
            truncated: s.truncated,
        }
    }
}

impl From<Vec<Raw>> for RawSet {
    /// An object built outside an input (tests, a merge of two copies): its shape is its own.
    fn from(raws: Vec<Raw>) -> RawSet {
        let line = raws.first().map_or(0, |r| r.line);
        RawSet::new(raws, line, &mut Shapes::default())
    }
}

/// The shapes one input's objects have, each held once.
#[derive(Debug, Default)]
pub(crate) struct Shapes(HashSet<Arc<[Slot]>>);

impl Shapes {
    fn share(&mut self, slots: Vec<Slot>) -> Arc<[Slot]> {
        if let Some(s) = self.0.get(slots.as_slice()) {
            return s.clone();
        }
        let s: Arc<[Slot]> = slots.into();
        // Shapes repeat: a few per export. A crafted export of all-different shapes keeps
        // its own, unshared, past this many.
        if self.0.len() < 4_096 {
            self.0.insert(s.clone());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &'static str, value: &str, line: u32, truncated: bool) -> Raw {
        Raw {
            name,
            value: value.into(),
            line,
            truncated,
        }
    }

    #[test]
    fn properties_come_back_as_read() {
        let mut shapes = Shapes::default();
        let read = vec![
            raw("Identity", "EX01\\Relay", 40, false),
            raw(
                "RemoteIPRanges",
                "{0.0.0.0-255.255.255.255, 10.0.0.0/8...}",
                47,
                true,
            ),
        ];
        let set = RawSet::new(read.clone(), 40, &mut shapes);
        assert_eq!(set.to_vec(), read);
        let r = set.get("remoteipranges").unwrap();
        assert_eq!((r.line, r.truncated), (47, true));
        assert!(set.get("Bindings").is_none());
        // A property read before the record's own line (wrapping) still comes back.
        let early = RawSet::new(vec![raw("Enabled", "True", 3, false)], 9, &mut shapes);
        assert_eq!(early.get("Enabled").unwrap().line, 3);
    }

    #[test]
    fn equal_shapes_are_held_once() {
        let mut shapes = Shapes::default();
        let a = RawSet::new(vec![raw("Enabled", "True", 11, false)], 10, &mut shapes);
        let b = RawSet::new(vec![raw("Enabled", "False", 21, false)], 20, &mut shapes);
        assert!(Arc::ptr_eq(
            a.shape.as_ref().unwrap(),
            b.shape.as_ref().unwrap()
        ));
        assert_eq!(&*b.get("Enabled").unwrap().value, "False");
    }
}
