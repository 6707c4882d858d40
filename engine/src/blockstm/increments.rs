//! Balance increments kept beside the versions map: the fee each transaction credits to the
//! beneficiary, and the payment each makes to a busy recipient, without reading the balance.
//!
//! Nearly every transaction pays a fee, and a busy recipient may be paid by hundreds of
//! transactions. Kept in the versions map, all of them would go through one location and
//! its lock; here every transaction has a slot of its own, and only the rare reader of such
//! an account walks the slots.

use crate::location::{Incarnation, TxIdx, Version};
use alloy_primitives::{Address, U256};
use std::sync::Mutex;

/// What one transaction added to an account's balance without reading it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Increment {
    /// Nothing (yet): not executed, or it read the account and wrote it in full.
    #[default]
    None,
    /// Being re-executed: a reader of the account it paid must wait for it.
    Estimate { account: Address },
    /// Added by this incarnation.
    Paid {
        incarnation: Incarnation,
        account: Address,
        amount: U256,
    },
}

/// One increment slot per transaction of the block.
#[derive(Debug, Default)]
pub(crate) struct IncrementSlots(Vec<Mutex<Increment>>);

impl IncrementSlots {
    /// Makes room for a block of `block_size` transactions.
    pub(crate) fn reserve(&mut self, block_size: usize) {
        if self.0.len() < block_size {
            self.0.resize_with(block_size, Mutex::default);
        }
    }

    /// Forgets every increment, keeping the slots.
    pub(crate) fn clear(&mut self) {
        for slot in &mut self.0 {
            *slot.get_mut().expect("increment lock poisoned") = Increment::None;
        }
    }

    fn slot(&self, tx: TxIdx) -> std::sync::MutexGuard<'_, Increment> {
        self.0[tx].lock().expect("increment lock poisoned")
    }

    /// Records what incarnation `version` added. Returns whether the transaction adds where
    /// its previous incarnation did not, which may invalidate reads of later transactions.
    pub(crate) fn record(&self, version: Version, paid: Option<(Address, U256)>) -> bool {
        let mut slot = self.slot(version.tx);
        let added_before = *slot != Increment::None;
        *slot = match paid {
            Some((account, amount)) => Increment::Paid {
                incarnation: version.incarnation,
                account,
                amount,
            },
            None => Increment::None,
        };
        paid.is_some() && !added_before
    }

    /// Marks `tx`'s increment as about to change: its readers wait for `tx`.
    pub(crate) fn mark_estimate(&self, tx: TxIdx) {
        let mut slot = self.slot(tx);
        if let Increment::Paid { account, .. } = *slot {
            *slot = Increment::Estimate { account };
        }
    }

    /// The account `tx` added to and the amount, once the block is done.
    pub(crate) fn paid(&self, tx: TxIdx) -> Option<(Address, U256)> {
        match *self.slot(tx) {
            Increment::Paid {
                account, amount, ..
            } => Some((account, amount)),
            _ => None,
        }
    }

    /// Appends the increments of `account` by the transactions in `range`, oldest first; or
    /// returns the first of them being re-executed.
    pub(crate) fn collect(
        &self,
        account: Address,
        range: std::ops::Range<TxIdx>,
        into: &mut Vec<(Version, U256)>,
    ) -> Result<(), TxIdx> {
        for tx in range {
            match *self.slot(tx) {
                Increment::Paid {
                    incarnation,
                    account: paid,
                    amount,
                } if paid == account => into.push((Version { tx, incarnation }, amount)),
                Increment::Estimate { account: paid } if paid == account => return Err(tx),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(tx: TxIdx, incarnation: Incarnation) -> Version {
        Version { tx, incarnation }
    }

    #[test]
    fn collects_one_account_in_order_and_stops_at_estimates() {
        let (a, b) = (Address::repeat_byte(0xa), Address::repeat_byte(0xb));
        let mut slots = IncrementSlots::default();
        slots.reserve(4);
        assert!(slots.record(version(0, 0), Some((a, U256::from(1)))));
        assert!(slots.record(version(1, 0), Some((b, U256::from(2)))));
        assert!(slots.record(version(2, 0), Some((a, U256::from(3)))));
        let mut found = Vec::new();
        slots.collect(a, 0..4, &mut found).unwrap();
        assert_eq!(
            found,
            vec![
                (version(0, 0), U256::from(1)),
                (version(2, 0), U256::from(3))
            ]
        );
        slots.mark_estimate(2);
        assert_eq!(slots.collect(a, 0..4, &mut Vec::new()), Err(2));
        assert_eq!(slots.collect(b, 0..4, &mut Vec::new()), Ok(()));
        // Adding again after the abort is not new; stopping is not either.
        assert!(!slots.record(version(2, 1), Some((a, U256::from(4)))));
        assert_eq!(slots.paid(2), Some((a, U256::from(4))));
        assert!(!slots.record(version(2, 2), None));
        assert_eq!(slots.paid(2), None);
        slots.clear();
        assert_eq!(slots.paid(0), None);
    }
}
