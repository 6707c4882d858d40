//! How much of a block could run in parallel at best: the longest chain of real dependencies
//! between its transactions, taken from the engine's final read and write sets.
//!
//! Transaction `j` depends on transaction `i < j` when `j` read a location whose value `i`
//! wrote (the nearest such `i`). Balance increments (the beneficiary's fees, payments to a
//! busy recipient) commute, so they never depend on each other, but a transaction that reads
//! the account depends on every increment since its last full write. No schedule
//! on any number of threads finishes before the heaviest chain, executed one transaction
//! after another, so the speedup on `T` threads is at most `min(T, bound)`.

use crate::{TxIdx, location::Location, output::TxAccess};
use alloy_primitives::map::HashMap;
use std::cmp::Reverse;

/// The available parallelism of one block.
#[derive(Clone, Debug, PartialEq)]
pub struct Parallelism {
    /// Gas used by all transactions.
    pub total_gas: u64,
    /// The heaviest chain of dependent transactions, in block order.
    pub critical_path: Vec<TxIdx>,
    /// Gas used by the transactions of the critical path.
    pub critical_path_gas: u64,
    /// Locations through which a transaction read another's write, most dependent readers
    /// first.
    pub hot_locations: Vec<HotLocation>,
}

/// A location that made transactions depend on each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HotLocation {
    /// The account field or storage slot.
    pub location: Location,
    /// Transactions that wrote it or added to its balance.
    pub writers: usize,
    /// Transactions that read a value another transaction of the block wrote there.
    pub dependent_readers: usize,
    /// Transactions that read or wrote it.
    pub touched_by: usize,
    /// Whether the critical path runs through it.
    pub on_critical_path: bool,
}

#[derive(Default)]
struct LocationStats {
    writers: usize,
    dependent_readers: usize,
    touched_by: usize,
    on_critical_path: bool,
}

impl Parallelism {
    /// Analyses a block from each transaction's read and write sets and gas used.
    pub fn analyse(access: &[TxAccess], gas_used: &[u64]) -> Self {
        assert_eq!(
            access.len(),
            gas_used.len(),
            "one gas figure per transaction"
        );
        let mut last_writer: HashMap<Location, TxIdx> = HashMap::default();
        // Per location, the incrementer with the heaviest chain since its last full write.
        let mut heaviest_increment: HashMap<Location, TxIdx> = HashMap::default();
        let mut chain_gas: Vec<u64> = Vec::with_capacity(access.len());
        // For each transaction, the transaction and location its heaviest chain came through.
        let mut predecessor: Vec<Option<(TxIdx, Location)>> = Vec::with_capacity(access.len());
        let mut stats: HashMap<Location, LocationStats> = HashMap::default();

        for (tx, sets) in access.iter().enumerate() {
            let mut best: Option<(TxIdx, Location)> = None;
            let consider = |from: TxIdx, via: Location, best: &mut Option<(TxIdx, Location)>| {
                if best.is_none_or(|(current, _)| chain_gas[from] > chain_gas[current]) {
                    *best = Some((from, via));
                }
            };
            for location in &sets.reads {
                let entry = stats.entry(*location).or_default();
                entry.touched_by += 1;
                let mut depends = false;
                if let Some(&writer) = last_writer.get(location) {
                    consider(writer, *location, &mut best);
                    depends = true;
                }
                if let Some(&incrementer) = heaviest_increment.get(location) {
                    consider(incrementer, *location, &mut best);
                    depends = true;
                }
                if depends {
                    entry.dependent_readers += 1;
                }
            }
            chain_gas.push(gas_used[tx] + best.map_or(0, |(from, _)| chain_gas[from]));
            predecessor.push(best);

            for location in &sets.writes {
                let entry = stats.entry(*location).or_default();
                entry.writers += 1;
                if !sets.reads.contains(location) {
                    entry.touched_by += 1;
                }
                last_writer.insert(*location, tx);
                heaviest_increment.remove(location);
            }
            for location in &sets.increments {
                let entry = stats.entry(*location).or_default();
                entry.writers += 1;
                entry.touched_by += 1;
                let heaviest = heaviest_increment.entry(*location).or_insert(tx);
                if chain_gas[tx] > chain_gas[*heaviest] {
                    *heaviest = tx;
                }
            }
        }

        let mut critical_path = Vec::new();
        let mut cursor = (0..chain_gas.len()).max_by_key(|&tx| (chain_gas[tx], Reverse(tx)));
        let critical_path_gas = cursor.map_or(0, |tx| chain_gas[tx]);
        while let Some(tx) = cursor {
            critical_path.push(tx);
            cursor = predecessor[tx].map(|(from, via)| {
                if let Some(entry) = stats.get_mut(&via) {
                    entry.on_critical_path = true;
                }
                from
            });
        }
        critical_path.reverse();

        let mut hot_locations: Vec<HotLocation> = stats
            .into_iter()
            .filter(|(_, stats)| stats.dependent_readers > 0)
            .map(|(location, stats)| HotLocation {
                location,
                writers: stats.writers,
                dependent_readers: stats.dependent_readers,
                touched_by: stats.touched_by,
                on_critical_path: stats.on_critical_path,
            })
            .collect();
        hot_locations.sort_by_key(|hot| {
            (
                Reverse(hot.dependent_readers),
                Reverse(hot.touched_by),
                hot.location,
            )
        });

        Self {
            total_gas: gas_used.iter().sum(),
            critical_path,
            critical_path_gas,
            hot_locations,
        }
    }

    /// Total gas over critical-path gas: the most any number of threads can speed the block
    /// up (1 for an empty block).
    pub fn bound(&self) -> f64 {
        if self.critical_path_gas == 0 {
            1.0
        } else {
            self.total_gas as f64 / self.critical_path_gas as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};

    fn slot(n: u64) -> Location {
        Location::Storage(Address::ZERO, U256::from(n))
    }

    const COINBASE: Address = Address::repeat_byte(0xcb);

    /// A transaction that also paid its fee to the beneficiary without reading it.
    fn access(reads: &[Location], writes: &[Location]) -> TxAccess {
        TxAccess {
            reads: reads.to_vec(),
            writes: writes.to_vec(),
            increments: vec![Location::Account(COINBASE)],
        }
    }

    #[test]
    fn independent_transactions_are_bounded_by_the_heaviest_one() {
        let sets = [
            access(&[slot(1)], &[slot(1)]),
            access(&[slot(2)], &[slot(2)]),
        ];
        let analysis = Parallelism::analyse(&sets, &[30, 10]);
        assert_eq!(analysis.critical_path, vec![0]);
        assert_eq!(analysis.critical_path_gas, 30);
        assert!((analysis.bound() - 40.0 / 30.0).abs() < 1e-9);
        assert!(analysis.hot_locations.is_empty());
    }

    #[test]
    fn a_read_of_an_earlier_write_is_a_dependency() {
        // 0 writes slot 1; 1 is independent; 2 reads slot 1; 3 reads what 2 wrote.
        let sets = [
            access(&[], &[slot(1)]),
            access(&[slot(9)], &[]),
            access(&[slot(1)], &[slot(2)]),
            access(&[slot(2)], &[]),
        ];
        let analysis = Parallelism::analyse(&sets, &[10, 25, 10, 10]);
        assert_eq!(analysis.critical_path, vec![0, 2, 3]);
        assert_eq!(analysis.critical_path_gas, 30);
        assert_eq!(analysis.total_gas, 55);
        let hot: Vec<_> = analysis.hot_locations.iter().map(|h| h.location).collect();
        assert_eq!(hot, vec![slot(1), slot(2)]);
        assert!(analysis.hot_locations.iter().all(|h| h.on_critical_path));
        assert_eq!(analysis.hot_locations[0].writers, 1);
        assert_eq!(analysis.hot_locations[0].touched_by, 2);
    }

    #[test]
    fn only_a_reader_of_the_beneficiary_depends_on_fees() {
        let coinbase = Location::Account(COINBASE);
        let sets = [
            access(&[slot(1)], &[slot(1)]),
            access(&[slot(2)], &[slot(2)]),
            // Reads the beneficiary: waits for both fees, and writes it in full.
            TxAccess {
                reads: vec![coinbase],
                writes: vec![coinbase],
                increments: vec![],
            },
            access(&[slot(3)], &[slot(3)]),
        ];
        let analysis = Parallelism::analyse(&sets, &[10, 40, 5, 10]);
        assert_eq!(analysis.critical_path, vec![1, 2]);
        assert_eq!(analysis.critical_path_gas, 45);
        assert_eq!(analysis.hot_locations.len(), 1);
        assert_eq!(analysis.hot_locations[0].location, coinbase);
        assert_eq!(analysis.hot_locations[0].dependent_readers, 1);
    }

    #[test]
    fn payments_to_one_recipient_commute_until_it_is_read() {
        let hot = Location::Account(Address::repeat_byte(0x77));
        let pay = |n| TxAccess {
            reads: vec![slot(n)],
            writes: vec![],
            increments: vec![hot],
        };
        let read_and_spend = TxAccess {
            reads: vec![hot],
            writes: vec![hot],
            increments: vec![],
        };
        let sets = [pay(1), pay(2), pay(3), read_and_spend, pay(4)];
        let analysis = Parallelism::analyse(&sets, &[10, 30, 20, 5, 10]);
        // The payments are independent; the reader waits for the heaviest of them.
        assert_eq!(analysis.critical_path, vec![1, 3]);
        assert_eq!(analysis.critical_path_gas, 35);
        let stats = &analysis.hot_locations[0];
        assert_eq!(stats.location, hot);
        assert_eq!(
            (stats.writers, stats.dependent_readers, stats.touched_by),
            (5, 1, 5)
        );
        assert!(stats.on_critical_path);
    }

    #[test]
    fn an_empty_block_has_a_bound_of_one() {
        let analysis = Parallelism::analyse(&[], &[]);
        assert_eq!(analysis.bound(), 1.0);
        assert!(analysis.critical_path.is_empty());
    }
}
