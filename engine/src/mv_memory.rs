//! Multi-version memory: for every location, the values written by each transaction of the
//! block, so that transaction `j` reads exactly what the transactions before it wrote.

use crate::{
    location::{Incarnation, Location, TxIdx, Version},
    value::{AccountBasic, WriteValue},
};
use alloy_primitives::{U256, map::DefaultHashBuilder};
use dashmap::DashMap;
use std::sync::Mutex;

/// One transaction's entry at one location.
#[derive(Clone, Debug)]
enum Entry {
    /// The writer is being re-executed and will probably write here again: readers wait.
    Estimate,
    /// What the given incarnation wrote.
    Written {
        incarnation: Incarnation,
        value: WriteValue,
    },
}

/// Where a read's value came from; a read stays valid while its origin stays the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReadOrigin {
    /// The pre-state: no earlier transaction wrote the location.
    Base,
    /// A full value written by this version.
    Version(Version),
    /// Balance increments, newest first, down to (and including) the full value below them
    /// when one exists.
    Chain(Vec<Version>),
}

/// The locations one execution read, with where each value came from.
pub(crate) type ReadSet = Vec<(Location, ReadOrigin)>;

/// The result of reading a location as seen by one transaction.
#[derive(Clone, Debug)]
pub(crate) enum MvRead {
    /// An earlier transaction is being re-executed and will likely write here.
    Blocked(TxIdx),
    /// Nobody before the reader wrote here.
    Base,
    /// The full value written by the nearest earlier writer.
    Written(Version, WriteValue),
    /// Balance increments, oldest first, on top of the account value written by `below`,
    /// or on top of the pre-state when `below` is `None`.
    Increments {
        increments: Vec<(Version, U256)>,
        below: Option<(Version, Option<AccountBasic>)>,
    },
}

impl MvRead {
    /// The origin to validate this read against later.
    pub(crate) fn origin(&self) -> Option<ReadOrigin> {
        match self {
            Self::Blocked(_) => None,
            Self::Base => Some(ReadOrigin::Base),
            Self::Written(version, _) => Some(ReadOrigin::Version(*version)),
            Self::Increments { increments, below } => {
                let mut chain: Vec<Version> = increments.iter().rev().map(|(v, _)| *v).collect();
                chain.extend(below.as_ref().map(|(v, _)| *v));
                Some(ReadOrigin::Chain(chain))
            }
        }
    }
}

/// The entries of one location, sorted by transaction. Most locations have one or two
/// writers, so a sorted vector beats a tree (no node allocation, one cache line).
#[derive(Debug, Default)]
struct Versions(Vec<(TxIdx, Entry)>);

impl Versions {
    fn insert(&mut self, tx: TxIdx, entry: Entry) {
        match self.0.binary_search_by_key(&tx, |(writer, _)| *writer) {
            Ok(at) => self.0[at].1 = entry,
            Err(at) => self.0.insert(at, (tx, entry)),
        }
    }

    fn remove(&mut self, tx: TxIdx) {
        if let Ok(at) = self.0.binary_search_by_key(&tx, |(writer, _)| *writer) {
            self.0.remove(at);
        }
    }

    /// Entries of transactions before `tx`, nearest first.
    fn before(&self, tx: TxIdx) -> impl Iterator<Item = &(TxIdx, Entry)> {
        let end = self.0.partition_point(|(writer, _)| *writer < tx);
        self.0[..end].iter().rev()
    }
}

/// The shared multi-version data structure of Block-STM.
#[derive(Debug)]
pub(crate) struct MvMemory {
    data: DashMap<Location, Versions, DefaultHashBuilder>,
    /// Locations written by each transaction's last recorded incarnation.
    last_written: Box<[Mutex<Vec<Location>>]>,
    /// Reads of each transaction's last recorded incarnation, with their origins.
    last_reads: Box<[Mutex<ReadSet>]>,
}

impl MvMemory {
    pub(crate) fn new(block_size: usize) -> Self {
        Self {
            data: DashMap::with_hasher(DefaultHashBuilder::default()),
            last_written: (0..block_size).map(|_| Mutex::default()).collect(),
            last_reads: (0..block_size).map(|_| Mutex::default()).collect(),
        }
    }

    /// Reads `location` as transaction `tx` sees it: the write of the nearest earlier
    /// transaction, following balance increments down to a full value.
    pub(crate) fn read(&self, location: &Location, tx: TxIdx) -> MvRead {
        let Some(entries) = self.data.get(location) else {
            return MvRead::Base;
        };
        let mut earlier = entries.before(tx);
        let mut increments = Vec::new();
        loop {
            let Some(&(writer, ref entry)) = earlier.next() else {
                return if increments.is_empty() {
                    MvRead::Base
                } else {
                    increments.reverse();
                    MvRead::Increments {
                        increments,
                        below: None,
                    }
                };
            };
            let (incarnation, value) = match entry {
                Entry::Estimate => return MvRead::Blocked(writer),
                Entry::Written { incarnation, value } => (*incarnation, value),
            };
            let version = Version {
                tx: writer,
                incarnation,
            };
            match value {
                WriteValue::BalanceIncrement(amount) => increments.push((version, *amount)),
                WriteValue::Account(account) if !increments.is_empty() => {
                    increments.reverse();
                    return MvRead::Increments {
                        increments,
                        below: Some((version, *account)),
                    };
                }
                value => return MvRead::Written(version, value.clone()),
            }
        }
    }

    /// Publishes the writes of one incarnation and remembers its reads. Returns whether it
    /// wrote a location that the previous incarnation did not, which may invalidate reads of
    /// higher transactions that have already been validated.
    pub(crate) fn record(
        &self,
        version: Version,
        reads: ReadSet,
        writes: Vec<(Location, WriteValue)>,
    ) -> bool {
        let tx = version.tx;
        let mut last_written = self.last_written[tx]
            .lock()
            .expect("write-set lock poisoned");
        let new_locations: Vec<Location> = writes.iter().map(|(location, _)| *location).collect();
        for (location, value) in writes {
            self.data.entry(location).or_default().insert(
                tx,
                Entry::Written {
                    incarnation: version.incarnation,
                    value,
                },
            );
        }
        let new_set: hashbrown::HashSet<&Location> = new_locations.iter().collect();
        for stale in last_written
            .iter()
            .filter(|location| !new_set.contains(location))
        {
            if let Some(mut entries) = self.data.get_mut(stale) {
                entries.remove(tx);
            }
        }
        let old_set: hashbrown::HashSet<&Location> = last_written.iter().collect();
        let wrote_new_location = new_locations
            .iter()
            .any(|location| !old_set.contains(location));
        drop(old_set);
        drop(new_set);
        *last_written = new_locations;
        *self.last_reads[tx].lock().expect("read-set lock poisoned") = reads;
        wrote_new_location
    }

    /// Marks `location` as about to be written by `tx` before `tx` has run, so that later
    /// transactions reading it wait for `tx` instead of executing on a value that is sure
    /// to change (a sender's nonce in a chain of transactions from one account). If `tx`
    /// turns out not to write it, recording `tx` removes the estimate like any stale write.
    pub(crate) fn seed_estimate(&self, tx: TxIdx, location: Location) {
        let mut last_written = self.last_written[tx]
            .lock()
            .expect("write-set lock poisoned");
        if !last_written.contains(&location) {
            last_written.push(location);
            self.data
                .entry(location)
                .or_default()
                .insert(tx, Entry::Estimate);
        }
    }

    /// Marks every write of `tx` as an estimate, so readers wait for its re-execution
    /// instead of reading a value that is about to change.
    pub(crate) fn convert_writes_to_estimates(&self, tx: TxIdx) {
        let last_written = self.last_written[tx]
            .lock()
            .expect("write-set lock poisoned");
        for location in last_written.iter() {
            if let Some(mut entries) = self.data.get_mut(location) {
                entries.insert(tx, Entry::Estimate);
            }
        }
    }

    /// Whether every read of the last recorded incarnation of `tx` would still see the same
    /// writes now.
    pub(crate) fn validate_reads(&self, tx: TxIdx) -> bool {
        let reads = self.last_reads[tx].lock().expect("read-set lock poisoned");
        reads
            .iter()
            .all(|(location, origin)| self.read(location, tx).origin().as_ref() == Some(origin))
    }

    /// The locations read and written by the last recorded incarnation of `tx`.
    pub(crate) fn take_access_sets(&self, tx: TxIdx) -> (Vec<Location>, Vec<Location>) {
        let reads =
            std::mem::take(&mut *self.last_reads[tx].lock().expect("read-set lock poisoned"));
        let writes = self.last_written[tx]
            .lock()
            .expect("write-set lock poisoned")
            .clone();
        (
            reads.into_iter().map(|(location, _)| location).collect(),
            writes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    fn version(tx: TxIdx, incarnation: Incarnation) -> Version {
        Version { tx, incarnation }
    }

    fn slot(n: u64) -> Location {
        Location::Storage(Address::ZERO, U256::from(n))
    }

    #[test]
    fn reads_the_nearest_earlier_write() {
        let memory = MvMemory::new(4);
        memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(10)))],
        );
        memory.record(
            version(2, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(30)))],
        );
        assert!(matches!(memory.read(&slot(1), 0), MvRead::Base));
        assert!(matches!(
            memory.read(&slot(1), 1),
            MvRead::Written(v, WriteValue::Storage(x)) if v == version(0, 0) && x == U256::from(10)
        ));
        assert!(matches!(
            memory.read(&slot(1), 3),
            MvRead::Written(v, WriteValue::Storage(x)) if v == version(2, 0) && x == U256::from(30)
        ));
        // Different slots of the same contract are different locations.
        assert!(matches!(memory.read(&slot(2), 3), MvRead::Base));
    }

    #[test]
    fn estimates_block_readers_and_stale_writes_disappear() {
        let memory = MvMemory::new(3);
        memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(1)))],
        );
        memory.convert_writes_to_estimates(0);
        assert!(matches!(memory.read(&slot(1), 2), MvRead::Blocked(0)));
        // The next incarnation writes elsewhere: the old location is freed, the new one is new.
        let wrote_new = memory.record(
            version(0, 1),
            vec![],
            vec![(slot(2), WriteValue::Storage(U256::from(2)))],
        );
        assert!(wrote_new);
        assert!(matches!(memory.read(&slot(1), 2), MvRead::Base));
    }

    #[test]
    fn balance_increments_chain_down_to_a_full_value() {
        let coinbase = Location::Account(Address::repeat_byte(0xc0));
        let memory = MvMemory::new(4);
        let full = Some(AccountBasic {
            balance: U256::from(100),
            nonce: 3,
        });
        memory.record(
            version(0, 0),
            vec![],
            vec![(coinbase, WriteValue::Account(full))],
        );
        memory.record(
            version(1, 0),
            vec![],
            vec![(coinbase, WriteValue::BalanceIncrement(U256::from(5)))],
        );
        memory.record(
            version(2, 0),
            vec![],
            vec![(coinbase, WriteValue::BalanceIncrement(U256::from(7)))],
        );
        let read = memory.read(&coinbase, 3);
        assert_eq!(
            read.origin(),
            Some(ReadOrigin::Chain(vec![
                version(2, 0),
                version(1, 0),
                version(0, 0)
            ]))
        );
        let MvRead::Increments { increments, below } = read else {
            panic!("expected increments")
        };
        assert_eq!(
            increments,
            vec![
                (version(1, 0), U256::from(5)),
                (version(2, 0), U256::from(7))
            ]
        );
        assert_eq!(below, Some((version(0, 0), full)));
    }

    #[test]
    fn validation_fails_when_an_earlier_write_changes() {
        let memory = MvMemory::new(2);
        let read = memory.read(&slot(1), 1).origin().unwrap();
        memory.record(version(1, 0), vec![(slot(1), read)], vec![]);
        assert!(memory.validate_reads(1));
        memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(9)))],
        );
        assert!(!memory.validate_reads(1));
    }
}
