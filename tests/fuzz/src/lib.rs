//! Shared harness code of Parallax's fuzz targets (see `README.md`): the differential
//! execution check, the trie properties, and scratch files for the path-only importers.

pub mod consensus;
pub mod differential;
pub mod scratch;
pub mod trie;

use alloy_consensus::Transaction;
use alloy_primitives::U256;
use parallax_replay::ReplayBlock;
use revm::DatabaseRef;

/// Reads what executing a loaded block would read first (the beneficiary, every sender, and
/// a slot of every recipient) through its pre-state: errors are fine, panics are not.
pub fn touch(block: &ReplayBlock) {
    let state = &block.pre_state;
    let _ = state.basic_ref(block.header.beneficiary);
    for tx in block.transactions.iter().take(64) {
        let _ = state.basic_ref(tx.signer());
        if let Some(to) = tx.to() {
            let _ = state.basic_ref(to);
            let _ = state.storage_ref(to, U256::ZERO);
        }
    }
    let _ = state.block_hash_ref(block.header.number.saturating_sub(1));
}

/// Prints `what` to stderr when `PARALLAX_FUZZ_DEBUG` is set: running a target on chosen
/// files (`target/…/TARGET FILE…`) with it set tells what each input did.
pub fn debug(what: impl FnOnce() -> String) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("PARALLAX_FUZZ_DEBUG").is_some()) {
        eprintln!("{}", what());
    }
}
