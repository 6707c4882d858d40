//! Targeted equivalence tests: one case each for the situations a parallel executor most
//! easily gets wrong. Every test forces the parallel path and compares with sequential revm
//! at 1, 2, 4 and 8 threads.

#[path = "../common/mod.rs"]
mod common;

mod access_list;
mod account_lifecycle;
mod beneficiary;
mod busy_recipient;
mod errors;
mod faulty_database;
mod transaction_kinds;
mod transfers_and_storage;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use common::{contracts::*, *};
use revm::{context_interface::result::ExecutionResult, primitives::hardfork::SpecId};

const ETH: u64 = 1_000_000_000_000_000_000;

fn funded(spec: SpecId, senders: usize) -> BlockBuilder {
    let mut builder = BlockBuilder::new(spec);
    for i in 0..senders {
        builder.fund(eoa(i), U256::from(ETH) * U256::from(100));
    }
    builder
}

fn assert_all_succeed(result: &TestResult) {
    let output = result.as_ref().expect("block executes");
    for (i, tx) in output.transactions.iter().enumerate() {
        assert!(
            matches!(tx.result, ExecutionResult::Success { .. }),
            "tx {i}: {:?}",
            tx.result
        );
    }
}
