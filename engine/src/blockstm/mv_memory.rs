//! Multi-version memory: for every location, the values written by each transaction of the
//! block, so that transaction `j` reads exactly what the transactions before it wrote.

use super::{
    increments::IncrementSlots,
    lowest_writers::LowestWriters,
    value::{AccountBasic, WriteValue},
};
use crate::{
    chain::known_dependencies::KnownDependencies,
    location::{Incarnation, Location, TxIdx, Version},
    output::TxAccess,
};
use alloy_primitives::{Address, U256, map::DefaultHashBuilder};
use dashmap::DashMap;
use revm::context::TxEnv;
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

    /// The entry of the nearest transaction before `tx`.
    fn latest_before(&self, tx: TxIdx) -> Option<&(TxIdx, Entry)> {
        let end = self.0.partition_point(|(writer, _)| *writer < tx);
        end.checked_sub(1).map(|at| &self.0[at])
    }
}

/// The shared multi-version data structure of Block-STM.
///
/// Balance increments (the beneficiary's fees, payments to busy recipients) live in
/// per-transaction slots beside the map (see [`IncrementSlots`]), and reads of those accounts
/// add them up.
#[derive(Debug)]
pub(crate) struct MvMemory {
    data: DashMap<Location, Versions, DefaultHashBuilder>,
    /// Which buckets of locations lower transactions may have written, so that most reads
    /// of unwritten locations skip `data`.
    lowest_writers: LowestWriters,
    beneficiary: Address,
    /// Addresses that several transactions pay directly, sorted.
    busy_recipients: Vec<Address>,
    /// The fee each transaction credited to the beneficiary without reading it.
    fees: IncrementSlots,
    /// The payment each transaction made to a busy recipient without reading it.
    payments: IncrementSlots,
    /// Locations written by each transaction's last recorded incarnation.
    last_written: Vec<Mutex<Vec<Location>>>,
    /// Reads of each transaction's last recorded incarnation, with their origins.
    last_reads: Vec<Mutex<ReadSet>>,
}

impl MvMemory {
    pub(crate) fn new(
        block_size: usize,
        beneficiary: Address,
        busy_recipients: &[Address],
    ) -> Self {
        let mut memory = Self {
            // A transaction touches a handful of locations: size the map to avoid regrowth.
            data: DashMap::with_capacity_and_hasher(block_size * 2, DefaultHashBuilder::default()),
            lowest_writers: LowestWriters::default(),
            beneficiary,
            busy_recipients: Vec::new(),
            fees: IncrementSlots::default(),
            payments: IncrementSlots::default(),
            last_written: Vec::new(),
            last_reads: Vec::new(),
        };
        memory.reset(block_size, beneficiary, busy_recipients);
        memory
    }

    /// Prepares a [cleared](Self::clear) memory for a block of `block_size` transactions,
    /// keeping the allocations of earlier blocks: fresh memory for every block would cost a
    /// page fault per page touched.
    pub(crate) fn reset(
        &mut self,
        block_size: usize,
        beneficiary: Address,
        busy_recipients: &[Address],
    ) {
        debug_assert!(self.data.is_empty(), "reset without clear");
        self.beneficiary = beneficiary;
        self.busy_recipients.clear();
        self.busy_recipients.extend_from_slice(busy_recipients);
        self.lowest_writers.reserve(block_size);
        self.fees.reserve(block_size);
        self.payments.reserve(block_size);
        if self.last_written.len() < block_size {
            self.last_written.resize_with(block_size, Mutex::default);
            self.last_reads.resize_with(block_size, Mutex::default);
        }
    }

    /// Forgets everything recorded, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.lowest_writers.clear();
        self.fees.clear();
        self.payments.clear();
        for written in &mut self.last_written {
            written.get_mut().expect("write-set lock poisoned").clear();
        }
        // Read sets are replaced by every execution, so their room is not worth keeping.
        for reads in &mut self.last_reads {
            *reads.get_mut().expect("read-set lock poisoned") = Vec::new();
        }
    }

    /// The increment slots that may hold increments of `location`, if it is the balance of
    /// the beneficiary or of a busy recipient.
    fn increment_slots(&self, location: &Location) -> Option<(Address, &IncrementSlots)> {
        match *location {
            Location::Account(address) if address == self.beneficiary => {
                Some((address, &self.fees))
            }
            Location::Account(address) if self.busy_recipients.binary_search(&address).is_ok() => {
                Some((address, &self.payments))
            }
            _ => None,
        }
    }

    /// Reads `location` as transaction `tx` sees it: the write of the nearest earlier
    /// transaction, plus, for the beneficiary and busy recipients, the increments made since.
    pub(crate) fn read(&self, location: &Location, tx: TxIdx) -> MvRead {
        let read = self.read_versions(location, tx);
        let Some((account, slots)) = self.increment_slots(location) else {
            return read;
        };
        let below = match read {
            MvRead::Base => None,
            MvRead::Written(version, WriteValue::Account(value)) => Some((version, value)),
            blocked_or_other => return blocked_or_other,
        };
        let from = below.as_ref().map_or(0, |(version, _)| version.tx + 1);
        let mut increments = Vec::new();
        if let Err(writer) = slots.collect(account, from..tx, &mut increments) {
            return MvRead::Blocked(writer);
        }
        match (increments.is_empty(), below) {
            (true, None) => MvRead::Base,
            (true, Some((version, value))) => MvRead::Written(version, WriteValue::Account(value)),
            (false, below) => MvRead::Increments { increments, below },
        }
    }

    /// Starts loading what a read of each of `locations` looks at first into the cache: a
    /// transaction's sender and recipient are known before it runs, and these loads would
    /// otherwise each wait for memory in turn.
    pub(crate) fn prefetch(&self, locations: &[Location]) {
        for location in locations {
            self.lowest_writers.prefetch(location);
        }
    }

    fn read_versions(&self, location: &Location, tx: TxIdx) -> MvRead {
        if !self.lowest_writers.may_have_written_before(location, tx) {
            return MvRead::Base;
        }
        let Some(entries) = self.data.get(location) else {
            return MvRead::Base;
        };
        match entries.latest_before(tx) {
            None => MvRead::Base,
            Some((writer, Entry::Estimate)) => MvRead::Blocked(*writer),
            Some((writer, Entry::Written { incarnation, value })) => MvRead::Written(
                Version {
                    tx: *writer,
                    incarnation: *incarnation,
                },
                value.clone(),
            ),
        }
    }

    /// Publishes the writes of one incarnation and remembers its reads. Returns whether it
    /// wrote a location that the previous incarnation did not, which may invalidate reads of
    /// higher transactions that have already been validated.
    ///
    /// `fee` is what the incarnation credited to the beneficiary, and `payment` what it paid
    /// a busy recipient, without reading them.
    pub(crate) fn record(
        &self,
        version: Version,
        reads: ReadSet,
        writes: Vec<(Location, WriteValue)>,
        fee: Option<U256>,
        payment: Option<(Address, U256)>,
    ) -> bool {
        let tx = version.tx;
        let mut writes = writes;
        let mut last_written = self.last_written[tx]
            .lock()
            .expect("write-set lock poisoned");
        // A first incarnation (the common case) has no earlier list to compare with: every
        // location it writes is new, and nothing is stale.
        let mut wrote_new_location = !writes.is_empty();
        if !last_written.is_empty() {
            // Write sets are small: sorted vectors beat hashing them, and the previous
            // incarnation's list is reused in place.
            writes.sort_unstable_by_key(|(location, _)| *location);
            last_written.sort_unstable();
            let is_written =
                |location: &Location| writes.binary_search_by_key(location, |(l, _)| *l).is_ok();
            wrote_new_location = writes
                .iter()
                .any(|(location, _)| last_written.binary_search(location).is_err());
            // What is left of the previous incarnation's list are its stale locations; the
            // new ones go after them.
            last_written.retain(|location| !is_written(location));
        }
        let stale = last_written.len();
        // Kept until the block ends: room for exactly these writes, not a growth step.
        last_written.reserve_exact(writes.len());
        for (location, value) in writes {
            last_written.push(location);
            self.publish(version, location, value);
        }
        for location in &last_written[..stale] {
            if let Some(mut entries) = self.data.get_mut(location) {
                entries.remove(tx);
            }
        }
        last_written.drain(..stale);
        drop(last_written);

        wrote_new_location |= self.record_increments(version, fee, payment);
        *self.last_reads[tx].lock().expect("read-set lock poisoned") = reads;
        wrote_new_location
    }

    /// [`Self::record`] for an execution that is committed as it finishes (it began on final
    /// values) and whose access sets nobody wants: it will never be aborted, re-executed or
    /// validated, so a first incarnation with nothing seeded keeps no list of its writes and
    /// no reads.
    pub(crate) fn record_committed(
        &self,
        version: Version,
        writes: Vec<(Location, WriteValue)>,
        fee: Option<U256>,
        payment: Option<(Address, U256)>,
    ) -> bool {
        let tx = version.tx;
        let nothing_earlier = version.incarnation == 0
            && self.last_written[tx]
                .lock()
                .expect("write-set lock poisoned")
                .is_empty();
        if !nothing_earlier {
            // Stale writes or estimates of an earlier incarnation to remove: the general way.
            return self.record(version, ReadSet::new(), writes, fee, payment);
        }
        let wrote_new_location = !writes.is_empty();
        for (location, value) in writes {
            self.publish(version, location, value);
        }
        self.record_increments(version, fee, payment) || wrote_new_location
    }

    /// Makes `value` the write of `version` at `location`.
    fn publish(&self, version: Version, location: Location, value: WriteValue) {
        self.lowest_writers.note(&location, version.tx);
        self.data.entry(location).or_default().insert(
            version.tx,
            Entry::Written {
                incarnation: version.incarnation,
                value,
            },
        );
    }

    /// Records the fee and the busy-recipient payment of `version`; returns whether either
    /// is new at its slot.
    fn record_increments(
        &self,
        version: Version,
        fee: Option<U256>,
        payment: Option<(Address, U256)>,
    ) -> bool {
        let fee = self
            .fees
            .record(version, fee.map(|fee| (self.beneficiary, fee)));
        let payment = self.payments.record(version, payment);
        fee || payment
    }

    /// The value each of `payers` (in block order, each of which paid the busy recipient
    /// `account` through a placeholder) saw of it once the block is done, starting from the
    /// pre-state value `base`. `None` when a payment overflows the balance: that payment
    /// would have failed, which the placeholder could not see.
    pub(crate) fn values_seen_by_payers(
        &self,
        account: Address,
        base: Option<AccountBasic>,
        payers: &[TxIdx],
    ) -> Option<Vec<Option<AccountBasic>>> {
        let entries = self.data.get(&Location::Account(account));
        let mut writes = entries
            .iter()
            .flat_map(|versions| versions.0.iter())
            .peekable();
        let mut running = base;
        let mut values = Vec::with_capacity(payers.len());
        for &payer in payers {
            while let Some((_, entry)) = writes.next_if(|(writer, _)| *writer < payer) {
                match entry {
                    Entry::Written {
                        value: WriteValue::Account(value),
                        ..
                    } => running = *value,
                    other => unreachable!("a finished block holds {other:?} at an account"),
                }
            }
            values.push(running);
            if let Some((_, amount)) = self.payments.paid(payer) {
                let mut value = running.unwrap_or_default();
                value.balance = value.balance.checked_add(amount)?;
                running = Some(value);
            }
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
            self.lowest_writers.note(&location, tx);
            self.data
                .entry(location)
                .or_default()
                .insert(tx, Entry::Estimate);
        }
    }

    /// Seeds an estimate wherever a transaction's sender was last written by an earlier
    /// transaction, as [`KnownDependencies`] found before execution.
    pub(crate) fn seed_known_dependencies(&self, known: &KnownDependencies, txs: &[TxEnv]) {
        for (env, writer) in txs.iter().zip(known.predecessors()) {
            if let Some(writer) = *writer {
                self.seed_estimate(writer, Location::Account(env.caller));
            }
        }
    }

    /// The last full value written to `account` by a transaction in `writers`: `None` when
    /// none wrote it, `Some(None)` when that value is the account gone, and an error when
    /// that write is an estimate (its writer is being re-executed).
    pub(crate) fn last_account_write_in(
        &self,
        account: Address,
        writers: std::ops::Range<TxIdx>,
    ) -> Result<Option<Option<AccountBasic>>, TxIdx> {
        let Some(entries) = self.data.get(&Location::Account(account)) else {
            return Ok(None);
        };
        match entries.latest_before(writers.end) {
            Some((writer, _)) if *writer < writers.start => Ok(None),
            None => Ok(None),
            Some((
                _,
                Entry::Written {
                    value: WriteValue::Account(value),
                    ..
                },
            )) => Ok(Some(*value)),
            Some((writer, _)) => Err(*writer),
        }
    }

    /// The payment `tx` made to a busy recipient through a placeholder, and to whom.
    pub(crate) fn payment(&self, tx: TxIdx) -> Option<(Address, U256)> {
        self.payments.paid(tx)
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
        self.fees.mark_estimate(tx);
        self.payments.mark_estimate(tx);
    }

    /// Whether every read of the last recorded incarnation of `tx` would still see the same
    /// writes now.
    pub(crate) fn validate_reads(&self, tx: TxIdx) -> bool {
        let reads = self.last_reads[tx].lock().expect("read-set lock poisoned");
        reads.iter().all(|(location, origin)| {
            // Most reads of independent transactions came from the pre-state, and nothing
            // below has written there since: one load of the lowest-writer summary says so,
            // without building the read. Increments live outside the versions, so the
            // accounts that take them are read in full.
            let still_base = *origin == ReadOrigin::Base
                && !self.lowest_writers.may_have_written_before(location, tx)
                && self.increment_slots(location).is_none();
            still_base || self.read(location, tx).origin().as_ref() == Some(origin)
        })
    }

    /// The locations read, written and incremented by the last recorded incarnation of
    /// `tx`, once the block is done.
    pub(crate) fn take_access_sets(&self, tx: TxIdx) -> TxAccess {
        let reads =
            std::mem::take(&mut *self.last_reads[tx].lock().expect("read-set lock poisoned"));
        let mut writes = std::mem::take(
            &mut *self.last_written[tx]
                .lock()
                .expect("write-set lock poisoned"),
        );
        writes.sort_unstable();
        let increments = [self.fees.paid(tx), self.payments.paid(tx)]
            .into_iter()
            .flatten()
            .map(|(account, _)| Location::Account(account))
            .collect();
        TxAccess {
            reads: reads.into_iter().map(|(location, _)| location).collect(),
            writes,
            increments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_of_the_memory_stays_small() {
        // A block that writes a million slots holds a million of these (see the
        // resource-bound blocks): a large variant, such as code unboxed, would grow them all.
        assert!(size_of::<(Location, Versions)>() <= 128);
        assert!(size_of::<(Location, ReadOrigin)>() <= 80);
    }

    fn version(tx: TxIdx, incarnation: Incarnation) -> Version {
        Version { tx, incarnation }
    }

    fn slot(n: u64) -> Location {
        Location::Storage(Address::ZERO, U256::from(n))
    }

    #[test]
    fn reads_the_nearest_earlier_write() {
        let memory = MvMemory::new(4, Address::repeat_byte(0xcb), &[]);
        memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(10)))],
            None,
            None,
        );
        memory.record(
            version(2, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(30)))],
            None,
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
        let memory = MvMemory::new(3, Address::repeat_byte(0xcb), &[]);
        memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(1)))],
            None,
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
            None,
        );
        assert!(wrote_new);
        assert!(matches!(memory.read(&slot(1), 2), MvRead::Base));
    }

    #[test]
    fn a_committed_execution_publishes_its_writes_and_clears_seeded_estimates() {
        let memory = MvMemory::new(3, Address::repeat_byte(0xcb), &[]);
        // Nothing seeded: the writes are published without a list of them.
        assert!(memory.record_committed(
            version(0, 0),
            vec![(slot(1), WriteValue::Storage(U256::from(7)))],
            None,
            None,
        ));
        assert!(matches!(
            memory.read(&slot(1), 2),
            MvRead::Written(v, WriteValue::Storage(x)) if v == version(0, 0) && x == U256::from(7)
        ));
        // A seeded estimate the execution did not confirm must still disappear.
        memory.seed_estimate(1, slot(2));
        assert!(matches!(memory.read(&slot(2), 2), MvRead::Blocked(1)));
        memory.record_committed(
            version(1, 0),
            vec![(slot(3), WriteValue::Storage(U256::from(8)))],
            None,
            None,
        );
        assert!(matches!(memory.read(&slot(2), 2), MvRead::Base));
        assert!(matches!(
            memory.read(&slot(3), 2),
            MvRead::Written(v, _) if v == version(1, 0)
        ));
    }

    #[test]
    fn beneficiary_fees_add_up_down_to_a_full_value() {
        let coinbase = Address::repeat_byte(0xcb);
        let location = Location::Account(coinbase);
        let memory = MvMemory::new(5, coinbase, &[]);
        let full = Some(AccountBasic {
            balance: U256::from(100),
            nonce: 3,
        });
        memory.record(version(0, 0), vec![], vec![], Some(U256::from(1)), None);
        memory.record(
            version(1, 0),
            vec![],
            vec![(location, WriteValue::Account(full))],
            None,
            None,
        );
        memory.record(version(2, 0), vec![], vec![], Some(U256::from(5)), None);
        memory.record(version(3, 0), vec![], vec![], Some(U256::from(7)), None);
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
        let memory = MvMemory::new(3, coinbase, &[]);
        // A first fee is a new write: readers validated before it must be checked again.
        assert!(memory.record(version(0, 0), vec![], vec![], Some(U256::from(2)), None));
        memory.convert_writes_to_estimates(0);
        assert!(matches!(memory.read(&location, 2), MvRead::Blocked(0)));
        // Paying again after the abort is not a new write.
        assert!(!memory.record(version(0, 1), vec![], vec![], Some(U256::from(3)), None));
        assert_eq!(
            memory.read(&location, 2).origin(),
            Some(ReadOrigin::Chain(vec![version(0, 1)]))
        );
        // Not paying any more removes the fee.
        memory.record(version(0, 2), vec![], vec![], None, None);
        assert!(matches!(memory.read(&location, 2), MvRead::Base));
    }

    #[test]
    fn a_cleared_memory_forgets_the_previous_block() {
        let coinbase = Address::repeat_byte(0xcb);
        let mut memory = MvMemory::new(2, coinbase, &[]);
        memory.record(
            version(0, 0),
            vec![(slot(3), ReadOrigin::Base)],
            vec![(slot(1), WriteValue::Storage(U256::from(1)))],
            Some(U256::from(5)),
            None,
        );
        memory.seed_estimate(0, slot(2));
        memory.clear();
        memory.reset(3, Address::repeat_byte(0xcc), &[]);
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
            None
        ));
    }

    #[test]
    fn payments_to_a_busy_recipient_add_up_and_give_each_payer_its_prior() {
        let recipient = Address::repeat_byte(0x77);
        let location = Location::Account(recipient);
        let memory = MvMemory::new(5, Address::repeat_byte(0xcb), &[recipient]);
        let paid = |amount: u64| Some((recipient, U256::from(amount)));
        memory.record(version(0, 0), vec![], vec![], None, paid(10));
        let spent = Some(AccountBasic {
            balance: U256::from(4),
            nonce: 1,
        });
        memory.record(
            version(1, 0),
            vec![],
            vec![(location, WriteValue::Account(spent))],
            None,
            None,
        );
        memory.record(version(2, 0), vec![], vec![], None, paid(20));
        memory.record(version(3, 0), vec![], vec![], None, paid(30));
        let read = memory.read(&location, 4);
        assert_eq!(
            read.origin(),
            Some(ReadOrigin::Chain(vec![
                version(3, 0),
                version(2, 0),
                version(1, 0)
            ]))
        );
        let base = Some(AccountBasic {
            balance: U256::from(100),
            nonce: 0,
        });
        let values = memory
            .values_seen_by_payers(recipient, base, &[0, 2, 3])
            .expect("no overflow");
        let balances: Vec<U256> = values.iter().map(|v| v.unwrap().balance).collect();
        assert_eq!(balances, [100, 4, 24].map(U256::from));
        // A payment that overflows is reported, for the block to run sequentially.
        let near_max = Some(AccountBasic {
            balance: U256::MAX - U256::from(15),
            nonce: 0,
        });
        assert!(
            memory
                .values_seen_by_payers(recipient, near_max, &[0])
                .is_some()
        );
        memory.record(
            version(1, 1),
            vec![],
            vec![(location, WriteValue::Account(near_max))],
            None,
            None,
        );
        assert!(
            memory
                .values_seen_by_payers(recipient, base, &[0, 2, 3])
                .is_none()
        );
    }

    #[test]
    fn validation_fails_when_an_earlier_write_changes() {
        let memory = MvMemory::new(2, Address::repeat_byte(0xcb), &[]);
        let read = memory.read(&slot(1), 1).origin().unwrap();
        memory.record(version(1, 0), vec![(slot(1), read)], vec![], None, None);
        assert!(memory.validate_reads(1));
        memory.record(
            version(0, 0),
            vec![],
            vec![(slot(1), WriteValue::Storage(U256::from(9)))],
            None,
            None,
        );
        assert!(!memory.validate_reads(1));
    }
}
