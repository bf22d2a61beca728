//! The knowledge view's table from an exact tag to its attributions.
//!
//! A 3,000-tag snapshot looks up 3,000 random tags among ~100,000: nearly every lookup is a
//! cache miss, and the time goes to waiting for memory, not to hashing. The table is built so
//! that those waits overlap: one 16-byte slot holds the tag and its first attribution (four
//! slots to a cache line), probing is linear in a table at most half full (a lookup nearly
//! always reads one line), and [`TagTable::get_many`] loads the home slots of a batch of tags
//! before comparing any, so their misses are in flight together rather than one after another.

use crate::knowledge::Confidence;
use crate::tag::PoolTag;

/// A tag's attributions: `len` entries from `start` of the view's entry list, the first of
/// them described inline (so a tag with one attribution costs one probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TagSlot {
    tag: PoolTag,
    pub(super) start: u32,
    /// The first attribution's driver number.
    pub(super) driver: u32,
    pub(super) confidence: Confidence,
    pub(super) os: bool,
    pub(super) described: bool,
    /// Entries in the group, saturated at [`LONG_GROUP`] (the view counts longer groups);
    /// 0 marks an empty slot.
    len: u8,
}

const _: () = assert!(std::mem::size_of::<TagSlot>() == 16);

/// `len` of a group of this many entries or more.
pub(super) const LONG_GROUP: u8 = u8::MAX;

impl TagSlot {
    pub(super) fn new(
        tag: PoolTag,
        start: u32,
        len: usize,
        driver: u32,
        confidence: Confidence,
        os: bool,
        described: bool,
    ) -> Self {
        assert!(len > 0, "a tag slot holds at least one attribution");
        Self {
            tag,
            start,
            driver,
            confidence,
            os,
            described,
            len: u8::try_from(len).unwrap_or(LONG_GROUP),
        }
    }

    /// The group's length, or [`LONG_GROUP`] when it is that long or longer.
    pub(super) fn len(&self) -> u8 {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    const EMPTY: Self = Self {
        tag: PoolTag::from_bytes([0; 4]),
        start: 0,
        driver: 0,
        confidence: Confidence::List,
        os: false,
        described: false,
        len: 0,
    };
}

/// Tags probed together by [`TagTable::get_many`]: enough for their misses to overlap, few
/// enough for their slots to stay in registers and L1.
const BATCH: usize = 16;

/// Open addressing with linear probing; the capacity is a power of two at least twice the
/// number of tags.
#[derive(Debug, Clone)]
pub(super) struct TagTable {
    slots: Box<[TagSlot]>,
    /// `32 - log2(capacity)`: the home slot is the top bits of a multiplicative hash.
    shift: u32,
    len: usize,
}

impl Default for TagTable {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl TagTable {
    pub(super) fn with_capacity(tags: usize) -> Self {
        let capacity = (tags.max(8) * 2).next_power_of_two();
        Self {
            slots: vec![TagSlot::EMPTY; capacity].into_boxed_slice(),
            shift: 32 - capacity.trailing_zeros(),
            len: 0,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    fn home(&self, tag: PoolTag) -> usize {
        // Fibonacci hashing: the top bits of the product mix every byte of the tag.
        (u32::from_le_bytes(*tag.bytes()).wrapping_mul(0x9E37_79B9) >> self.shift) as usize
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Adds a tag that is not in the table yet; the capacity must have room for it.
    pub(super) fn insert_new(&mut self, slot: TagSlot) {
        assert!(
            (self.len + 1) * 2 <= self.slots.len(),
            "the tag table was sized for fewer tags"
        );
        let mut at = self.home(slot.tag);
        while !self.slots[at].is_empty() {
            debug_assert!(self.slots[at].tag != slot.tag, "tag inserted twice");
            at = (at + 1) & self.mask();
        }
        self.slots[at] = slot;
        self.len += 1;
    }

    pub(super) fn get(&self, tag: PoolTag) -> Option<TagSlot> {
        let home = self.home(tag);
        self.probe(tag, home, self.slots[home])
    }

    /// The lookup of each tag, in order: the same answers as [`get`](Self::get), with the
    /// memory reads of a batch issued before any is waited on.
    pub(super) fn get_many(&self, tags: impl Iterator<Item = PoolTag>) -> Vec<Option<TagSlot>> {
        let (lower, _) = tags.size_hint();
        let mut out = Vec::with_capacity(lower);
        let mut batch = [(PoolTag::from_bytes([0; 4]), 0usize); BATCH];
        let mut tags = tags.peekable();
        while tags.peek().is_some() {
            let mut n = 0;
            for tag in tags.by_ref().take(BATCH) {
                batch[n] = (tag, self.home(tag));
                n += 1;
            }
            // Independent loads first: the processor keeps all of their misses in flight.
            let mut first = [TagSlot::EMPTY; BATCH];
            for (slot, &(_, home)) in first.iter_mut().zip(&batch[..n]) {
                *slot = self.slots[home];
            }
            for (&(tag, home), &slot) in batch[..n].iter().zip(&first) {
                out.push(self.probe(tag, home, slot));
            }
        }
        out
    }

    /// Walks from `home`, whose slot (`first`) has been read already.
    fn probe(&self, tag: PoolTag, home: usize, first: TagSlot) -> Option<TagSlot> {
        let mut slot = first;
        let mut at = home;
        loop {
            if slot.is_empty() {
                return None;
            }
            if slot.tag == tag {
                return Some(slot);
            }
            at = (at + 1) & self.mask();
            slot = self.slots[at];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn slot(tag: [u8; 4], start: u32, len: usize) -> TagSlot {
        TagSlot::new(
            PoolTag::from_bytes(tag),
            start,
            len,
            start,
            Confidence::List,
            false,
            true,
        )
    }

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let mut table = TagTable::with_capacity(3);
        table.insert_new(slot(*b"Io  ", 0, 1));
        table.insert_new(slot([0; 4], 1, 2));
        table.insert_new(slot(*b"Leak", 3, 300));
        assert_eq!(table.len(), 3);
        assert_eq!(table.get(PoolTag::from_bytes(*b"Io  ")).unwrap().start, 0);
        // The all-zero tag is a tag like any other, not the empty marker.
        assert_eq!(table.get(PoolTag::from_bytes([0; 4])).unwrap().len(), 2);
        assert_eq!(
            table.get(PoolTag::from_bytes(*b"Leak")).unwrap().len(),
            LONG_GROUP
        );
        assert_eq!(table.get(PoolTag::from_bytes(*b"Io \0")), None);
        assert_eq!(table.get(PoolTag::from_bytes(*b"io  ")), None);
    }

    #[test]
    #[should_panic(expected = "sized for fewer tags")]
    fn refuses_to_fill_past_half() {
        let mut table = TagTable::with_capacity(0);
        for i in 0..=8u8 {
            table.insert_new(slot([i, 0, 0, 0], 0, 1));
        }
    }

    proptest! {
        /// Any set of tags, probed one by one and in batches (with misses and tags that
        /// collide in their home slot among them), reads as a hash map reads.
        #[test]
        fn agrees_with_a_hash_map(
            stored in proptest::collection::hash_set(any::<[u8; 4]>(), 0..300),
            probes in proptest::collection::vec(any::<[u8; 4]>(), 0..100),
        ) {
            let mut table = TagTable::with_capacity(stored.len());
            let mut expected = HashMap::new();
            for (i, tag) in stored.iter().enumerate() {
                let s = slot(*tag, i as u32, 1 + i % 3);
                table.insert_new(s);
                expected.insert(*tag, s);
            }
            let asked: Vec<[u8; 4]> = probes.iter().chain(stored.iter()).copied().collect();
            let many = table.get_many(asked.iter().map(|t| PoolTag::from_bytes(*t)));
            prop_assert_eq!(many.len(), asked.len());
            for (tag, got) in asked.iter().zip(many) {
                let want = expected.get(tag).copied();
                prop_assert_eq!(got, want);
                prop_assert_eq!(table.get(PoolTag::from_bytes(*tag)), want);
            }
        }
    }
}
