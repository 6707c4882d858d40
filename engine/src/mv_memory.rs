//! Multi-version memory: for every location, the values written by each transaction of the
//! block, so that transaction `j` reads exactly what the transactions before it wrote.

use crate::{
    location::{Incarnation, Location, TxIdx, Version},
    output::TxAccess,
    value::{AccountBasic, WriteValue},
};
use alloy_primitives::{Address, U256, map::DefaultHashBuilder};
use dashmap::DashMap;
use smallvec::SmallVec;
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
    /// Balance increments (beneficiary fees, payments to busy recipients), oldest first, on
    /// top of the account value written by `below`, or on top of the pre-state when `below`
    /// is `None`.
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

/// The entries of one location, sorted by transaction. Most locations have one writer, so a
/// sorted vector with room for one entry inline beats a tree (no allocation at all).
#[derive(Debug, Default)]
struct Versions(SmallVec<[(TxIdx, Entry); 1]>);

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

/// The fee one transaction credited to the block's beneficiary without reading its balance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Fee {
    /// None (yet): not executed, or it read the beneficiary and credited it in full.
    #[default]
    None,
    /// Being re-executed: a reader of the beneficiary must wait for it.
    Estimate,
    /// Credited by this incarnation.
    Paid {
        incarnation: Incarnation,
        amount: U256,
    },
}

/// The shared multi-version data structure of Block-STM.
///
/// Fees credited to the beneficiary live in a per-transaction array rather than in the map:
/// nearly every transaction pays one, and funnelling them all through one location would
/// make that location the hottest lock of the block.
#[derive(Debug)]
pub(crate) struct MvMemory {
    data: DashMap<Location, Versions, DefaultHashBuilder>,
    beneficiary: Location,
    fees: Vec<Mutex<Fee>>,
    /// Locations written by each transaction's last recorded incarnation.
    last_written: Vec<Mutex<Vec<Location>>>,
    /// Reads of each transaction's last recorded incarnation, with their origins.
    last_reads: Vec<Mutex<ReadSet>>,
}

impl MvMemory {
    pub(crate) fn new(block_size: usize, beneficiary: Address) -> Self {
        let mut memory = Self {
            // A transaction touches a handful of locations: size the map to avoid regrowth.
            data: DashMap::with_capacity_and_hasher(block_size * 2, DefaultHashBuilder::default()),
            beneficiary: Location::Account(beneficiary),
            fees: Vec::new(),
            last_written: Vec::new(),
            last_reads: Vec::new(),
        };
        memory.reset(block_size, beneficiary);
        memory
    }

    /// Prepares a [cleared](Self::clear) memory for a block of `block_size` transactions,
    /// keeping the allocations of earlier blocks: fresh memory for every block would cost a
    /// page fault per page touched.
    pub(crate) fn reset(&mut self, block_size: usize, beneficiary: Address) {
        debug_assert!(self.data.is_empty(), "reset without clear");
        self.beneficiary = Location::Account(beneficiary);
        if self.fees.len() < block_size {
            self.fees.resize_with(block_size, Mutex::default);
            self.last_written.resize_with(block_size, Mutex::default);
            self.last_reads.resize_with(block_size, Mutex::default);
        }
    }

    /// Forgets everything recorded, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        for fee in &mut self.fees {
            *fee.get_mut().expect("fee lock poisoned") = Fee::None;
        }
        for written in &mut self.last_written {
            written.get_mut().expect("write-set lock poisoned").clear();
        }
        for reads in &mut self.last_reads {
            reads.get_mut().expect("read-set lock poisoned").clear();
        }
    }

    /// Reads `location` as transaction `tx` sees it: the write of the nearest earlier
    /// transaction, or the increments since the last full value, plus, for the
    /// beneficiary, the fees credited since that value.
    pub(crate) fn read(&self, location: &Location, tx: TxIdx) -> MvRead {
        let read = self.read_versions(location, tx);
        if *location == self.beneficiary {
            self.with_fees(read, tx)
        } else {
            read
        }
    }

    /// Adds to a read of the beneficiary the fees of the transactions after its last full
    /// value and before `tx`.
    fn with_fees(&self, read: MvRead, tx: TxIdx) -> MvRead {
        let (mut increments, below) = match read {
            MvRead::Base => (Vec::new(), None),
            MvRead::Written(version, WriteValue::Account(account)) => {
                (Vec::new(), Some((version, account)))
            }
            MvRead::Increments { increments, below } => (increments, below),
            blocked_or_other => return blocked_or_other,
        };
        let from = below.as_ref().map_or(0, |(version, _)| version.tx + 1);
        let written = increments.len();
        for payer in from..tx {
            match *self.fees[payer].lock().expect("fee lock poisoned") {
                Fee::None => {}
                Fee::Estimate => return MvRead::Blocked(payer),
                Fee::Paid {
                    incarnation,
                    amount,
                } => increments.push((
                    Version {
                        tx: payer,
                        incarnation,
                    },
                    amount,
                )),
            }
        }
        if increments.len() > written && written > 0 {
            increments.sort_by_key(|(version, _)| version.tx);
        }
        match (increments.is_empty(), below) {
            (true, None) => MvRead::Base,
            (true, Some((version, account))) => {
                MvRead::Written(version, WriteValue::Account(account))
            }
            (false, below) => MvRead::Increments { increments, below },
        }
    }

    /// The nearest earlier write of `location`, following balance increments down to the
    /// full value below them.
    fn read_versions(&self, location: &Location, tx: TxIdx) -> MvRead {
        let Some(entries) = self.data.get(location) else {
            return MvRead::Base;
        };
        let mut increments = Vec::new();
        for (writer, entry) in entries.before(tx) {
            let (incarnation, value) = match entry {
                Entry::Estimate => return MvRead::Blocked(*writer),
                Entry::Written { incarnation, value } => (*incarnation, value),
            };
            let version = Version {
                tx: *writer,
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
        if increments.is_empty() {
            MvRead::Base
        } else {
            increments.reverse();
            MvRead::Increments {
                increments,
                below: None,
            }
        }
    }

    /// Publishes the writes of one incarnation and remembers its reads. Returns whether it
    /// wrote a location that the previous incarnation did not, which may invalidate reads of
    /// higher transactions that have already been validated.
    ///
    /// `beneficiary_fee` is the fee the incarnation credited to the beneficiary without
    /// reading it.
    pub(crate) fn record(
        &self,
        version: Version,
        reads: ReadSet,
        writes: Vec<(Location, WriteValue)>,
        beneficiary_fee: Option<U256>,
    ) -> bool {
        let tx = version.tx;
        let mut last_written = self.last_written[tx]
            .lock()
            .expect("write-set lock poisoned");
        let mut new_locations: Vec<Location> =
            writes.iter().map(|(location, _)| *location).collect();
        for (location, value) in writes {
            self.data.entry(location).or_default().insert(
                tx,
                Entry::Written {
                    incarnation: version.incarnation,
                    value,
                },
            );
        }
        // Write sets are small: sorted vectors beat hashing them.
        new_locations.sort_unstable();
        last_written.sort_unstable();
        for stale in last_written
            .iter()
            .filter(|location| new_locations.binary_search(location).is_err())
        {
            if let Some(mut entries) = self.data.get_mut(stale) {
                entries.remove(tx);
            }
        }
        let mut wrote_new_location = new_locations
            .iter()
            .any(|location| last_written.binary_search(location).is_err());
        *last_written = new_locations;
        drop(last_written);

        let mut fee = self.fees[tx].lock().expect("fee lock poisoned");
        let paid_before = matches!(*fee, Fee::Paid { .. } | Fee::Estimate);
        *fee = match beneficiary_fee {
            Some(amount) => Fee::Paid {
                incarnation: version.incarnation,
                amount,
            },
            None => Fee::None,
        };
        wrote_new_location |= beneficiary_fee.is_some() && !paid_before;
        drop(fee);

        *self.last_reads[tx].lock().expect("read-set lock poisoned") = reads;
        wrote_new_location
    }

    /// The value each of `readers` (in block order) would read at the account `location`
    /// once the block is done, starting from the pre-state value `base`. `None` when an
    /// increment overflows the balance: the payment it came from would have failed.
    pub(crate) fn account_values_at(
        &self,
        location: &Location,
        base: Option<AccountBasic>,
        readers: &[TxIdx],
    ) -> Option<Vec<Option<AccountBasic>>> {
        let entries = self.data.get(location);
        let mut writes = entries
            .iter()
            .flat_map(|versions| versions.0.iter())
            .peekable();
        let mut running = base;
        let mut values = Vec::with_capacity(readers.len());
        for &reader in readers {
            while let Some((_, entry)) = writes.next_if(|(writer, _)| *writer < reader) {
                match entry {
                    Entry::Written {
                        value: WriteValue::Account(account),
                        ..
                    } => running = *account,
                    Entry::Written {
                        value: WriteValue::BalanceIncrement(amount),
                        ..
                    } => {
                        let mut account = running.unwrap_or_default();
                        account.balance = account.balance.checked_add(*amount)?;
                        running = Some(account);
                    }
                    other => unreachable!("a finished block holds {other:?} at an account"),
                }
            }
            values.push(running);
        }
        Some(values)
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
        let mut fee = self.fees[tx].lock().expect("fee lock poisoned");
        if matches!(*fee, Fee::Paid { .. }) {
            *fee = Fee::Estimate;
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

    /// The locations read, written and incremented by the last recorded incarnation of
    /// `tx`, once the block is done.
    pub(crate) fn take_access_sets(&self, tx: TxIdx) -> TxAccess {
        let reads =
            std::mem::take(&mut *self.last_reads[tx].lock().expect("read-set lock poisoned"));
        let written = std::mem::take(
            &mut *self.last_written[tx]
                .lock()
                .expect("write-set lock poisoned"),
        );
        let (increments, mut writes): (Vec<Location>, Vec<Location>) = written
            .into_iter()
            .partition(|location| self.increments_at(location, tx));
        let mut increments = increments;
        if matches!(
            *self.fees[tx].lock().expect("fee lock poisoned"),
            Fee::Paid { .. }
        ) {
            increments.push(self.beneficiary);
        }
        writes.sort_unstable();
        increments.sort_unstable();
        TxAccess {
            reads: reads.into_iter().map(|(location, _)| location).collect(),
            writes,
            increments,
        }
    }

    /// Whether `tx`'s write of `location` is a balance increment.
    fn increments_at(&self, location: &Location, tx: TxIdx) -> bool {
        self.data.get(location).is_some_and(|versions| {
            versions
                .0
                .binary_search_by_key(&tx, |(writer, _)| *writer)
                .is_ok_and(|at| {
                    matches!(
                        versions.0[at].1,
                        Entry::Written {
                            value: WriteValue::BalanceIncrement(_),
                            ..
                        }
                    )
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(tx: TxIdx, incarnation: Incarnation) -> Version {
        Version { tx, incarnation }
    }

    fn slot(n: u64) -> Location {
        Location::Storage(Address::ZERO, U256::from(n))
    }

    #[test]
    fn reads_the_nearest_earlier_write() {
        let memory = MvMemory::new(4, Address::repeat_byte(0xcb));
        memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(10)))],
            None,
        );
        memory.record(
            version(2, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(30)))],
            None,
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
        let memory = MvMemory::new(3, Address::repeat_byte(0xcb));
        memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(1)))],
            None,
        );
        memory.convert_writes_to_estimates(0);
        assert!(matches!(memory.read(&slot(1), 2), MvRead::Blocked(0)));
        // The next incarnation writes elsewhere: the old location is freed, the new one is new.
        let wrote_new = memory.record(
            version(0, 1),
            vec![],
            vec![(slot(2), WriteValue::Storage(U256::from(2)))],
            None,
        );
        assert!(wrote_new);
        assert!(matches!(memory.read(&slot(1), 2), MvRead::Base));
    }

    #[test]
    fn beneficiary_fees_add_up_down_to_a_full_value() {
        let coinbase = Address::repeat_byte(0xcb);
        let location = Location::Account(coinbase);
        let memory = MvMemory::new(5, coinbase);
        let full = Some(AccountBasic {
            balance: U256::from(100),
            nonce: 3,
        });
        memory.record(version(0, 0), vec![], vec![], Some(U256::from(1)));
        memory.record(
            version(1, 0),
            vec![],
            vec![(location, WriteValue::Account(full))],
            None,
        );
        memory.record(version(2, 0), vec![], vec![], Some(U256::from(5)));
        memory.record(version(3, 0), vec![], vec![], Some(U256::from(7)));
        // Transaction 1 read the beneficiary, so transaction 0's fee is inside its value.
        let read = memory.read(&location, 4);
        assert_eq!(
            read.origin(),
            Some(ReadOrigin::Chain(vec![
                version(3, 0),
                version(2, 0),
                version(1, 0)
            ]))
        );
        let MvRead::Increments { increments, below } = read else {
            panic!("expected increments")
        };
        assert_eq!(
            increments,
            vec![
                (version(2, 0), U256::from(5)),
                (version(3, 0), U256::from(7))
            ]
        );
        assert_eq!(below, Some((version(1, 0), full)));
        // Fees only show at the beneficiary.
        assert!(matches!(
            memory.read(&Location::Account(Address::ZERO), 4),
            MvRead::Base
        ));
    }

    #[test]
    fn a_re_executing_fee_payer_blocks_beneficiary_readers() {
        let coinbase = Address::repeat_byte(0xcb);
        let location = Location::Account(coinbase);
        let memory = MvMemory::new(3, coinbase);
        // A first fee is a new write: readers validated before it must be checked again.
        assert!(memory.record(version(0, 0), vec![], vec![], Some(U256::from(2))));
        memory.convert_writes_to_estimates(0);
        assert!(matches!(memory.read(&location, 2), MvRead::Blocked(0)));
        // Paying again after the abort is not a new write.
        assert!(!memory.record(version(0, 1), vec![], vec![], Some(U256::from(3))));
        assert_eq!(
            memory.read(&location, 2).origin(),
            Some(ReadOrigin::Chain(vec![version(0, 1)]))
        );
        // Not paying any more removes the fee.
        memory.record(version(0, 2), vec![], vec![], None);
        assert!(matches!(memory.read(&location, 2), MvRead::Base));
    }

    #[test]
    fn a_cleared_memory_forgets_the_previous_block() {
        let coinbase = Address::repeat_byte(0xcb);
        let mut memory = MvMemory::new(2, coinbase);
        memory.record(
            version(0, 0),
            vec![(slot(3), ReadOrigin::Base)],
            vec![(slot(1), WriteValue::Storage(U256::from(1)))],
            Some(U256::from(5)),
        );
        memory.seed_estimate(0, slot(2));
        memory.clear();
        memory.reset(3, Address::repeat_byte(0xcc));
        assert!(matches!(memory.read(&slot(1), 1), MvRead::Base));
        assert!(matches!(memory.read(&slot(2), 1), MvRead::Base));
        assert!(matches!(
            memory.read(&Location::Account(coinbase), 1),
            MvRead::Base
        ));
        assert_eq!(memory.take_access_sets(0), TxAccess::default());
        // The new block's first write to a location is new again.
        assert!(memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(1)))],
            None,
        ));
    }

    #[test]
    fn validation_fails_when_an_earlier_write_changes() {
        let memory = MvMemory::new(2, Address::repeat_byte(0xcb));
        let read = memory.read(&slot(1), 1).origin().unwrap();
        memory.record(version(1, 0), vec![(slot(1), read)], vec![], None);
        assert!(memory.validate_reads(1));
        memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(9)))],
            None,
        );
        assert!(!memory.validate_reads(1));
    }
}
