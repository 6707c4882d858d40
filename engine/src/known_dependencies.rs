//! Dependencies visible before execution. A transaction from the same sender as an earlier
//! one always reads the nonce that one writes; so does a transaction sent by an account an
//! earlier transaction paid. Marking those writes as estimates up front makes the later
//! transaction wait for the earlier one instead of executing, failing validation and
//! executing again. The longest chain of such dependencies also bounds how much of the block
//! can run in parallel at all. And an address that several transactions pay is a busy
//! recipient, whose payments are better recorded as increments than as conflicting writes.

use crate::{
    location::{Location, TxIdx},
    mv_memory::MvMemory,
};
use alloy_primitives::{Address, TxKind, map::HashMap};
use revm::context::TxEnv;

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
    pub(crate) fn of(txs: &[TxEnv]) -> Self {
        let mut last_writer: HashMap<Address, TxIdx> = HashMap::default();
        let mut predecessor = Vec::with_capacity(txs.len());
        let mut chain_gas: Vec<u64> = Vec::with_capacity(txs.len());
        let mut payments: HashMap<Address, usize> = HashMap::default();
        for (tx, env) in txs.iter().enumerate() {
            let before = last_writer.get(&env.caller).copied();
            predecessor.push(before);
            chain_gas.push(
                env.gas_limit
                    .saturating_add(before.map_or(0, |b| chain_gas[b])),
            );
            last_writer.insert(env.caller, tx);
            if let TxKind::Call(to) = env.kind
                && !env.value.is_zero()
            {
                last_writer.insert(to, tx);
                if to != env.caller {
                    *payments.entry(to).or_default() += 1;
                }
            }
        }
        let mut busy_recipients: Vec<Address> = payments
            .into_iter()
            .filter_map(|(to, count)| (count > 1).then_some(to))
            .collect();
        busy_recipients.sort_unstable();
        Self {
            busy_recipients,
            predecessor,
            total_gas: txs
                .iter()
                .map(|tx| tx.gas_limit)
                .fold(0, u64::saturating_add),
            longest_chain_gas: chain_gas.into_iter().max().unwrap_or(0),
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

    /// Seeds `memory` with an estimate wherever a transaction's sender was last written by
    /// an earlier transaction (as its sender, or as the recipient of value).
    pub(crate) fn seed(&self, memory: &MvMemory, txs: &[TxEnv]) {
        for (env, writer) in txs.iter().zip(&self.predecessor) {
            if let Some(writer) = *writer {
                memory.seed_estimate(writer, Location::Account(env.caller));
            }
        }
    }
}
