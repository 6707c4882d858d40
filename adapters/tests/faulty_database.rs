//! The Parallax executor over a database that fails or panics, driven as a client drives it
//! (`execute_block`, and transaction by transaction with the block in its context), at 1, 2
//! and 8 threads: each call fails exactly where and as the stock executor's does, the
//! caller's `State` sees nothing of the failing transaction or any after it, and the same
//! engine then runs a clean block exactly.

mod common;

use alloy_evm::{
    EvmFactory,
    block::{BlockExecutor, BlockExecutorFactory},
    eth::{
        EthBlockExecutorFactory, EthEvmFactory, receipt_builder::AlloyReceiptBuilder, spec::EthSpec,
    },
};
use alloy_primitives::{Address, U256};
use common::*;
use parallax_adapters::{ParallaxBlockExecutorFactory, ParallaxExecutionCtx, StreamedBlock};
use parallax_engine::ParallelExecutor;
use parallax_faulty_db::{Fault, FaultyDb};
use revm::{database::WrapDatabaseRef, state::EvmState};
use std::sync::Arc;

type Faulty = FaultyDb<Db>;

/// What the client saw: each call's gas or error, up to and including the first error, and
/// every commit the `State`'s hook was shown.
#[derive(Debug, PartialEq)]
struct Seen {
    calls: Vec<Result<u64, String>>,
    commits: Vec<EvmState>,
}

/// Drives `executor` as reth's engine tree does, stopping at the first failing call.
fn drive<Ex>(mut executor: Ex, txs: &[Tx], whole_block: bool) -> Vec<Result<u64, String>>
where
    Ex: BlockExecutor<Receipt = alloy_consensus::ReceiptEnvelope>,
    for<'t> &'t Tx: alloy_evm::block::ExecutableTx<Ex>,
{
    if whole_block {
        return vec![
            executor
                .execute_block(txs.iter())
                .map(|result| result.gas_used)
                .map_err(|error| error.to_string()),
        ];
    }
    let mut calls = vec![
        executor
            .apply_pre_execution_changes()
            .map(|()| 0)
            .map_err(|error| error.to_string()),
    ];
    for tx in txs {
        if calls.last().is_some_and(Result::is_err) {
            return calls;
        }
        calls.push(
            executor
                .execute_transaction(tx)
                .map(|gas| gas.tx_gas_used())
                .map_err(|error| error.to_string()),
        );
    }
    if calls.last().is_some_and(Result::is_ok) {
        calls.push(
            executor
                .finish()
                .map(|(_, result)| result.gas_used)
                .map_err(|error| error.to_string()),
        );
    }
    calls
}

fn stock(db: Faulty, txs: &[Tx], whole_block: bool) -> Seen {
    let factory = EthBlockExecutorFactory::new(
        AlloyReceiptBuilder::default(),
        EthSpec::mainnet(),
        EthEvmFactory::default(),
    );
    let (mut state, commits) = new_state(db);
    let evm = factory.evm_factory().create_evm(&mut state, env());
    let calls = drive(factory.create_executor(evm, eth_ctx()), txs, whole_block);
    let commits = std::mem::take(&mut *commits.lock().unwrap());
    Seen { calls, commits }
}

fn parallax(engine: &Arc<ParallelExecutor>, db: Faulty, txs: &[Tx], whole_block: bool) -> Seen {
    let factory = ParallaxBlockExecutorFactory::<WrapDatabaseRef<Faulty>, _, _>::with_shared_engine(
        AlloyReceiptBuilder::default(),
        EthSpec::mainnet(),
        Arc::clone(engine),
    );
    let (mut state, commits) = new_state(db.clone());
    let evm = factory.evm_factory().create_evm(&mut state, env());
    let ctx = if whole_block {
        eth_ctx().into()
    } else {
        ParallaxExecutionCtx::streaming(eth_ctx(), StreamedBlock::from_recovered(txs.iter(), db))
    };
    let executor = factory.create_executor(evm, ctx);
    assert!(executor.runs_parallel());
    let calls = drive(executor, txs, whole_block);
    let commits = std::mem::take(&mut *commits.lock().unwrap());
    Seen { calls, commits }
}

/// Every drive at every thread count sees what the stock executor's client sees over the
/// same fault, and the engine runs a clean block exactly afterwards.
fn assert_as_stock(fault: Fault) {
    let txs = block_transactions();
    for whole_block in [false, true] {
        let expected = stock(FaultyDb::new(pre_state(), fault), &txs, whole_block);
        assert!(
            expected.calls.last().unwrap().is_err(),
            "{fault:?} fails the block: {:?}",
            expected.calls
        );
        for threads in [1, 2, 8] {
            let engine = Arc::new(engine(threads));
            let seen = parallax(
                &engine,
                FaultyDb::new(pre_state(), fault),
                &txs,
                whole_block,
            );
            if whole_block {
                // The call fails as the stock one does; the executor commits nothing of a
                // block it could not execute, where the stock one has committed the
                // transactions before the failing one.
                assert_eq!(seen.calls, expected.calls, "{fault:?}, {threads} threads");
                assert!(
                    expected.commits.starts_with(&seen.commits),
                    "{fault:?}, {threads} threads: commits that are not the stock executor's"
                );
            } else {
                assert_eq!(seen, expected, "{fault:?}, {threads} threads, streamed");
            }
            let clean = FaultyDb::new(pre_state(), Fault::NthRead(usize::MAX));
            assert_eq!(
                parallax(&engine, clean.clone(), &txs, whole_block),
                stock(clean, &txs, whole_block),
                "{threads} threads: the block after a fault"
            );
        }
    }
}

#[test]
fn a_failing_account_read_fails_the_call_the_stock_executor_fails() {
    // A recipient half-way through the block, and the sender of the block's last transaction.
    assert_as_stock(Fault::Account(Address::with_last_byte(0xa0 + 9)));
    assert_as_stock(Fault::Account(sender(20)));
}

#[test]
fn a_panicking_read_fails_the_call_instead_of_the_client() {
    let txs = block_transactions();
    for whole_block in [false, true] {
        for threads in [1, 2, 8] {
            let engine = Arc::new(engine(threads));
            let fault = Fault::PanicOn(Address::with_last_byte(0xa0 + 9));
            let seen = parallax(
                &engine,
                FaultyDb::new(pre_state(), fault),
                &txs,
                whole_block,
            );
            let error = seen.calls.last().unwrap().as_ref().unwrap_err();
            assert!(error.contains("injected panic"), "{error}");
        }
    }
}

#[test]
fn a_failing_slot_read_outside_the_block_changes_nothing() {
    // No transaction reads storage: the fault never fires and the block runs as always.
    let txs = block_transactions();
    let fault = Fault::Slot(sender(0), U256::ZERO);
    for whole_block in [false, true] {
        let expected = stock(FaultyDb::new(pre_state(), fault), &txs, whole_block);
        assert!(expected.calls.iter().all(Result::is_ok));
        let engine = Arc::new(engine(2));
        let seen = parallax(
            &engine,
            FaultyDb::new(pre_state(), fault),
            &txs,
            whole_block,
        );
        if whole_block {
            assert_eq!(seen.calls, expected.calls);
        } else {
            assert_eq!(seen, expected);
        }
    }
}
