//! A table keyed by address for one pass over a block's transactions, built so that the
//! pass can load the slots of the transactions a few places ahead while it works on the
//! current one.
//!
//! In a block of tens of thousands of plain transfers nearly every sender and recipient is
//! new, so each lookup misses the cache, and in a general-purpose map each miss is waited
//! for in turn (about 150 ns per transfer, before any worker starts). Here a slot's place is
//! known from its address alone, so it can be prefetched. Emptying the table for the next
//! block is a counter's increment, not a walk over every slot.

use alloy_primitives::{Address, map::DefaultHashBuilder};
use std::hash::BuildHasher;

use crate::prefetch::prefetch;

/// What the pass keeps per address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AddressEntry {
    /// The last transaction that wrote the address (32 bits keep a slot to half a cache
    /// line; the caller checks that the block's indices fit).
    pub(crate) last_writer: u32,
    /// How many transactions paid it.
    pub(crate) payments: u32,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    entry: AddressEntry,
    address: Address,
    /// The slot is in use when this equals the table's generation.
    generation: u32,
}

/// An open-addressing table with linear probing, at most three quarters full.
#[derive(Default)]
pub(crate) struct AddressTable {
    /// A power of two in length, or empty.
    slots: Vec<Slot>,
    /// The current generation: slots of older ones are free. Never 0, the generation of a
    /// fresh slot, once the table has been reset.
    generation: u32,
    used: usize,
    /// Seeded per process, so that a block's author cannot pick addresses that collide.
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for AddressTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressTable")
            .field("slots", &self.slots.len())
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

impl AddressTable {
    /// Empties the table and makes room for `addresses` distinct addresses.
    pub(crate) fn reset(&mut self, addresses: usize) {
        let wanted = addresses
            .saturating_add(addresses / 2)
            .next_power_of_two()
            .max(64);
        // A table sized for a far larger block would spread a small block over more lines.
        if self.slots.len() < wanted || self.slots.len() > 4 * wanted {
            self.slots = vec![Slot::default(); wanted];
            self.generation = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // After four billion blocks, slots of generation 1 may linger: forget them all.
            self.slots.fill(Slot::default());
            self.generation = 1;
        }
        self.used = 0;
    }

    /// The hash that places `address` in the table: compute it once per lookup and pass
    /// it to [`Self::prefetch`] and [`Self::entry`].
    pub(crate) fn hash(&self, address: &Address) -> u64 {
        // Three words rather than twenty bytes: a byte-wise hash costs several times more.
        let bytes: &[u8; 20] = &address.0.0;
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let tail = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
        self.hasher.hash_one((word(0), word(8), tail))
    }

    const fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// Starts loading the slot where the address of `hash` is most likely found.
    pub(crate) fn prefetch(&self, hash: u64) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(hash)]);
        }
    }

    /// The entry of `address`, whose [hash](Self::hash) is `hash`, and whether it was there
    /// already; a new one is `fresh`.
    pub(crate) fn entry(
        &mut self,
        hash: u64,
        address: Address,
        fresh: AddressEntry,
    ) -> (&mut AddressEntry, bool) {
        debug_assert_eq!(hash, self.hash(&address));
        if 4 * (self.used + 1) > 3 * self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        loop {
            let slot = &self.slots[at];
            if slot.generation != self.generation {
                break;
            }
            if slot.address == address {
                return (&mut self.slots[at].entry, true);
            }
            at = (at + 1) & mask;
        }
        self.used += 1;
        self.slots[at] = Slot {
            entry: fresh,
            address,
            generation: self.generation,
        };
        (&mut self.slots[at].entry, false)
    }

    /// Doubles the table (more distinct addresses than [`Self::reset`] made room for).
    fn grow(&mut self) {
        let generation = self.generation;
        let kept: Vec<Slot> = self
            .slots
            .iter()
            .filter(|slot| slot.generation == generation && generation != 0)
            .copied()
            .collect();
        self.reset(self.slots.len().max(32));
        for slot in kept {
            self.entry(self.hash(&slot.address), slot.address, slot.entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn address(i: u64) -> Address {
        Address::left_padding_from(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes())
    }

    #[test]
    fn agrees_with_a_hash_map_across_resets_and_growth() {
        let mut table = AddressTable::default();
        // Sizes below, at and far above what reset made room for; a reused table must
        // forget the previous block.
        for (room, count, modulus) in [(10, 10, 7), (10, 500, 300), (1000, 40, 40), (5, 3000, 2500)]
        {
            table.reset(room);
            let mut reference: HashMap<Address, AddressEntry> = HashMap::new();
            for i in 0..count {
                let key = address(i % modulus);
                let fresh = AddressEntry {
                    last_writer: i as u32,
                    payments: 0,
                };
                let (entry, present) = table.entry(table.hash(&key), key, fresh);
                assert_eq!(present, reference.contains_key(&key));
                entry.payments += 1;
                let expected = reference.entry(key).or_insert(fresh);
                expected.payments += 1;
                assert_eq!(entry, expected);
            }
            for (key, expected) in &reference {
                let hash = table.hash(key);
                let found = table.entry(hash, *key, AddressEntry::default());
                assert_eq!(found, (&mut expected.clone(), true));
            }
            assert_eq!(table.used, reference.len());
        }
    }

    #[test]
    fn a_wrapped_generation_forgets_every_slot() {
        let mut table = AddressTable::default();
        table.reset(4);
        let hash = table.hash(&address(1));
        table.entry(hash, address(1), AddressEntry::default());
        table.generation = u32::MAX;
        table.reset(4);
        assert!(!table.entry(hash, address(1), AddressEntry::default()).1);
    }
}
