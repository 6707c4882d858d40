//! A conservative summary of the versions map: for each bucket of locations (by hash), the
//! lowest transaction that has had an entry in any of them during the block.
//!
//! Most reads in a block of independent transactions are of locations no earlier
//! transaction wrote, and so are most re-reads in validation. With this summary such a read
//! costs one atomic load instead of a lookup in the sharded map with its lock. A bucket only
//! ever goes down, and it goes down before the entry is inserted, so "no writer below `tx`
//! here" is never wrong; a collision only costs the lookup it would have cost anyway.
//! A read that races with a lower transaction's first write to the location is caught the
//! usual way: that write is new, so the scheduler validates every higher transaction again,
//! and the validation then sees the lowered bucket.

use crate::{
    location::{Location, TxIdx},
    prefetch::prefetch,
};
use alloy_primitives::map::DefaultHashBuilder;
use std::{
    hash::BuildHasher,
    sync::atomic::{AtomicU32, Ordering},
};

/// No transaction has written to the bucket.
const NONE: u32 = u32::MAX;

/// The lowest writer of each bucket of locations.
#[derive(Default)]
pub(crate) struct LowestWriters {
    buckets: Vec<AtomicU32>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for LowestWriters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LowestWriters")
            .field("buckets", &self.buckets.len())
            .finish_non_exhaustive()
    }
}

impl LowestWriters {
    /// Makes room for a block of `block_size` transactions (a few locations each), keeping
    /// the buckets of earlier blocks. Every bucket must be empty (see [`Self::clear`]).
    pub(crate) fn reserve(&mut self, block_size: usize) {
        let wanted = block_size.saturating_mul(8).next_power_of_two().max(1024);
        if self.buckets.len() < wanted {
            self.buckets.resize_with(wanted, || AtomicU32::new(NONE));
        }
    }

    /// Empties every bucket.
    pub(crate) fn clear(&mut self) {
        for bucket in &mut self.buckets {
            *bucket.get_mut() = NONE;
        }
    }

    fn bucket(&self, location: &Location) -> &AtomicU32 {
        let hash = self.hasher.hash_one(location) as usize;
        &self.buckets[hash & (self.buckets.len() - 1)]
    }

    /// Notes that `tx` is about to get an entry at `location`.
    pub(crate) fn note(&self, location: &Location, tx: TxIdx) {
        // A transaction index beyond u32 is stored lower, which is still conservative.
        let tx = u32::try_from(tx).unwrap_or(NONE - 1);
        self.bucket(location).fetch_min(tx, Ordering::SeqCst);
    }

    /// Starts loading the bucket of `location` into the cache, for a read that comes soon.
    pub(crate) fn prefetch(&self, location: &Location) {
        prefetch(self.bucket(location));
    }

    /// Whether a transaction before `tx` may have an entry at `location`; `false` means
    /// certainly not.
    pub(crate) fn may_have_written_before(&self, location: &Location, tx: TxIdx) -> bool {
        let lowest = self.bucket(location).load(Ordering::SeqCst);
        lowest != NONE && (lowest as usize) < tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};

    #[test]
    fn only_lower_writers_count_and_clear_forgets_them() {
        let mut writers = LowestWriters::default();
        writers.reserve(10);
        let slot = Location::Storage(Address::repeat_byte(1), U256::from(7));
        assert!(!writers.may_have_written_before(&slot, 5));
        writers.note(&slot, 3);
        assert!(!writers.may_have_written_before(&slot, 3), "its own write");
        assert!(writers.may_have_written_before(&slot, 4));
        writers.note(&slot, 6);
        assert!(!writers.may_have_written_before(&slot, 2));
        writers.clear();
        assert!(!writers.may_have_written_before(&slot, 4));
    }
}
