//! Dependencies visible before execution. A transaction from the same sender as an earlier
//! one always reads the nonce that one writes; so does a transaction sent by an account an
//! earlier transaction paid. Marking those writes as estimates up front makes the later
//! transaction wait for the earlier one instead of executing, failing validation and
//! executing again. The longest chain of such dependencies also bounds how much of the block
//! can run in parallel at all. And an address that several transactions pay is a busy
//! recipient, whose payments are better recorded as increments than as conflicting writes.

use crate::{
    address_table::{AddressEntry, AddressTable},
    location::TxIdx,
};
use alloy_primitives::{Address, TxKind, U256};
use revm::context::TxEnv;

/// Per address, the last transaction that wrote it and how many transactions paid it: the
/// scratch table of [`KnownDependencies::of_reusing`].
pub(crate) type AddressScratch = AddressTable;

/// How many transactions ahead the pass starts loading the table's slots: enough for the
/// loads to overlap, few enough that they are still in the cache when their turn comes.
const LOOK_AHEAD: usize = 8;

/// The dependencies between a block's transactions that its senders and values reveal.
#[derive(Debug)]
pub(crate) struct KnownDependencies {
    /// For each transaction, the earlier one that last wrote its sender, if any.
    predecessor: Vec<Option<TxIdx>>,
    /// Gas limit of all transactions.
    pub(crate) total_gas: u64,
    /// Gas limit of the heaviest chain of known dependencies: at best, the block takes as
    /// long as executing this chain one transaction after another.
    pub(crate) longest_chain_gas: u64,
    /// Addresses that more than one transaction pays directly, sorted.
    pub(crate) busy_recipients: Vec<Address>,
}

impl KnownDependencies {
    #[cfg(test)]
    pub(crate) fn of(txs: &[TxEnv]) -> Self {
        Self::of_reusing(txs, &mut AddressScratch::default())
    }

    /// The known dependencies of `txs`, with `seen` as the scratch map (kept by the caller
    /// from block to block: a fresh map for a block of tens of thousands of transactions
    /// costs a page fault for every page it touches).
    pub(crate) fn of_reusing(txs: &[TxEnv], seen: &mut AddressScratch) -> Self {
        // Per address: the last transaction that wrote it (as sender or as a recipient of
        // value) and how many transactions paid it, looked up once per sender and once per
        // recipient. In a block of tens of thousands of plain transfers this pass runs
        // before any worker starts, and its cost is the table's cache misses: the slots of
        // the transactions a few places ahead are loaded while this one is looked up.
        if u32::try_from(txs.len()).is_err() {
            // Far beyond any block that fits in memory; the dependencies are only hints.
            return Self::unknown(txs);
        }
        // One lookup per sender and one per payment: room for that many addresses.
        let payments = txs.iter().filter(|tx| paid(tx).is_some()).count();
        seen.reset(txs.len() + payments);
        let mut predecessor = Vec::with_capacity(txs.len());
        let mut chain_gas: Vec<u64> = Vec::with_capacity(txs.len());
        let mut total_gas = 0u64;
        let mut busy_recipients = Vec::new();
        // The hashes of the sender and the paid recipient of the transactions ahead, by
        // position modulo LOOK_AHEAD, their slots already loading.
        let mut ahead = [(0, None); LOOK_AHEAD];
        for (tx, env) in txs.iter().enumerate().take(LOOK_AHEAD) {
            ahead[tx] = hashes_prefetched(seen, env);
        }
        for (tx, env) in txs.iter().enumerate() {
            let (caller_hash, to_hash) = ahead[tx % LOOK_AHEAD];
            if let Some(later) = txs.get(tx + LOOK_AHEAD) {
                ahead[tx % LOOK_AHEAD] = hashes_prefetched(seen, later);
            }
            // The block's indices fit in 32 bits (checked above).
            let index = tx as u32;
            let fresh = AddressEntry {
                last_writer: index,
                payments: 0,
            };
            let before = match seen.entry(caller_hash, env.caller, fresh) {
                (entry, true) => Some(std::mem::replace(&mut entry.last_writer, index) as TxIdx),
                (_, false) => None,
            };
            predecessor.push(before);
            chain_gas.push(
                env.gas_limit
                    .saturating_add(before.map_or(0, |b| chain_gas[b])),
            );
            total_gas = total_gas.saturating_add(env.gas_limit);
            if let (Some(to), Some(to_hash)) = (paid(env), to_hash) {
                let (recipient, _) = seen.entry(to_hash, to, fresh);
                recipient.last_writer = index;
                if to != env.caller {
                    recipient.payments = recipient.payments.saturating_add(1);
                    if recipient.payments == 2 {
                        busy_recipients.push(to);
                    }
                }
            }
        }
        busy_recipients.sort_unstable();
        Self {
            busy_recipients,
            predecessor,
            total_gas,
            longest_chain_gas: chain_gas.into_iter().max().unwrap_or(0),
        }
    }

    /// No dependencies known: every transaction on its own.
    fn unknown(txs: &[TxEnv]) -> Self {
        let gas = txs.iter().map(|tx| tx.gas_limit);
        Self {
            predecessor: vec![None; txs.len()],
            total_gas: gas.clone().fold(0, u64::saturating_add),
            longest_chain_gas: gas.max().unwrap_or(0),
            busy_recipients: Vec::new(),
        }
    }

    /// How many times faster than sequential the block could run with unlimited threads,
    /// judging by gas limits and the known dependencies alone.
    pub(crate) fn parallelism(&self) -> f64 {
        if self.longest_chain_gas == 0 {
            return 1.0;
        }
        self.total_gas as f64 / self.longest_chain_gas as f64
    }

    /// For each transaction, the earlier one that last wrote its sender (as its sender, or
    /// as the recipient of value), if any.
    pub(crate) fn predecessors(&self) -> &[Option<TxIdx>] {
        &self.predecessor
    }
}

/// The table hashes of the sender of `tx` and of the account it pays, if any, after starting
/// to load their slots.
fn hashes_prefetched(seen: &AddressScratch, tx: &TxEnv) -> (u64, Option<u64>) {
    let caller = seen.hash(&tx.caller);
    seen.prefetch(caller);
    let to = paid(tx).map(|to| seen.hash(&to));
    if let Some(to) = to {
        seen.prefetch(to);
    }
    (caller, to)
}

/// The account `tx` pays value to directly, if any.
fn paid(tx: &TxEnv) -> Option<Address> {
    match tx.kind {
        TxKind::Call(to) if tx.value != U256::ZERO => Some(to),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(from: u8, to: u8, value: u64, gas_limit: u64) -> TxEnv {
        TxEnv {
            caller: Address::repeat_byte(from),
            kind: TxKind::Call(Address::repeat_byte(to)),
            value: U256::from(value),
            gas_limit,
            ..Default::default()
        }
    }

    #[test]
    fn a_reused_scratch_map_gives_what_a_fresh_one_gives() {
        let big: Vec<TxEnv> = (0..200u8)
            .map(|i| tx(i, i.wrapping_add(1), 1, 10))
            .collect();
        let small = [
            tx(1, 2, 5, 100),
            tx(2, 9, 1, 50),
            tx(3, 9, 1, 7),
            tx(1, 4, 0, 1),
        ];
        let mut scratch = AddressScratch::default();
        for txs in [&big[..], &small[..], &small[..], &big[..]] {
            let reused = KnownDependencies::of_reusing(txs, &mut scratch);
            let fresh = KnownDependencies::of(txs);
            assert_eq!(reused.predecessor, fresh.predecessor);
            assert_eq!(reused.busy_recipients, fresh.busy_recipients);
            assert_eq!(reused.total_gas, fresh.total_gas);
            assert_eq!(reused.longest_chain_gas, fresh.longest_chain_gas);
        }
    }

    #[test]
    fn chains_follow_senders_and_the_accounts_they_were_paid_into() {
        let txs = [
            tx(1, 2, 5, 100), // 0
            tx(3, 4, 0, 10),  // 1: no value, so 4 is not written
            tx(2, 5, 1, 50),  // 2: 2 was paid by 0
            tx(4, 6, 1, 7),   // 3: 4 was never written
            tx(1, 1, 1, 1),   // 4: sender 1 again, paying itself
            tx(1, 9, 0, 1),   // 5
        ];
        let known = KnownDependencies::of(&txs);
        assert_eq!(
            known.predecessor,
            [None, None, Some(0), None, Some(0), Some(4)]
        );
        assert_eq!(known.total_gas, 169);
        assert_eq!(known.longest_chain_gas, 150, "0 then 2");
        assert!((known.parallelism() - 169.0 / 150.0).abs() < 1e-9);
    }

    #[test]
    fn busy_recipients_are_paid_by_two_or_more_others() {
        let txs = [
            tx(1, 9, 1, 21_000),
            tx(2, 9, 1, 21_000),
            tx(3, 8, 1, 21_000),
            tx(3, 8, 0, 21_000), // no value: not a payment
            tx(7, 7, 1, 21_000), // to itself
            tx(7, 7, 1, 21_000),
            tx(4, 6, 1, 21_000),
            tx(5, 6, 1, 21_000),
            tx(6, 6, 1, 21_000), // 6 pays itself: not counted
        ];
        let known = KnownDependencies::of(&txs);
        assert_eq!(
            known.busy_recipients,
            [Address::repeat_byte(6), Address::repeat_byte(9)]
        );
    }
}
