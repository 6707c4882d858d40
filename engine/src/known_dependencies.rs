//! Dependencies visible before execution. A transaction from the same sender as an earlier
//! one always reads the nonce that one writes; so does a transaction sent by an account an
//! earlier transaction paid. Marking those writes as estimates up front makes the later
//! transaction wait for the earlier one instead of executing, failing validation and
//! executing again.

use crate::{
    location::{Location, TxIdx},
    mv_memory::MvMemory,
};
use alloy_primitives::{Address, TxKind, map::HashMap};
use revm::context::TxEnv;

/// Seeds `memory` with an estimate wherever a transaction's sender was last written by an
/// earlier transaction (as its sender, or as the recipient of value).
pub(crate) fn seed_known_dependencies(memory: &MvMemory, txs: &[TxEnv]) {
    let mut last_writer: HashMap<Address, TxIdx> = HashMap::default();
    for (tx, env) in txs.iter().enumerate() {
        if let Some(&writer) = last_writer.get(&env.caller) {
            memory.seed_estimate(writer, Location::Account(env.caller));
        }
        last_writer.insert(env.caller, tx);
        if let TxKind::Call(to) = env.kind
            && !env.value.is_zero()
        {
            last_writer.insert(to, tx);
        }
    }
}
