//! Parallax behind alloy-evm's `BlockExecutorFactory` must be a drop-in replacement for the
//! stock `EthBlockExecutor`: on every mainnet fixture block, the receipts, requests, gas used,
//! every committed state change and the resulting `BundleState` (with reverts) must be equal,
//! with the parallel path taken; and the streaming path must give the same result.

use alloy_evm::{
    EvmFactory,
    block::{BlockExecutor, BlockExecutorFactory},
};
use parallax_adapters::ParallaxBlockExecutorFactory;
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_fixtures::fixture_or_skip;
use parallax_replay::{
    Execution, Executors, PrestateShared, ReplayBlock, ReplayDb, execution_ctx,
    load_prestate_block, load_proof_file, load_witness_file, prestate_block_dirs,
};
use revm::database::{BundleState, State, states::bundle_state::BundleRetention};
use std::{io::Write, num::NonZeroUsize, path::Path, sync::Arc};

fn engine(threads: usize) -> ParallelExecutor {
    ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
        .unwrap()
        .with_policy(ExecutionPolicy::AlwaysParallel)
}

/// Drives the Parallax executor the streaming way: one transaction at a time, then `finish`.
fn run_streaming(
    block: &ReplayBlock,
    factory: &ParallaxBlockExecutorFactory<ReplayDb>,
) -> (
    alloy_evm::block::BlockExecutionResult<alloy_consensus::ReceiptEnvelope>,
    BundleState,
) {
    let mut state = State::builder()
        .with_database_ref(Arc::clone(&block.pre_state))
        .with_bundle_update()
        .build();
    let evm = factory
        .evm_factory()
        .create_evm(&mut state, block.evm_env());
    let mut executor = factory.create_executor(evm, execution_ctx(block));
    executor
        .apply_pre_execution_changes()
        .expect("pre-execution changes");
    for tx in &block.transactions {
        executor
            .execute_transaction(tx)
            .expect("transaction executes");
    }
    let (_, result) = executor.finish().expect("block finishes");
    state.merge_transitions(BundleRetention::Reverts);
    (result, state.take_bundle())
}

fn assert_equal(block: u64, threads: usize, ours: &Execution, stock: &Execution) {
    assert_eq!(
        ours.result.receipts, stock.result.receipts,
        "block {block} receipts at {threads} threads"
    );
    assert_eq!(
        ours.result.requests, stock.result.requests,
        "block {block} requests at {threads} threads"
    );
    assert_eq!(
        ours.result.gas_used, stock.result.gas_used,
        "block {block} gas used at {threads} threads"
    );
    assert_eq!(
        ours.result.blob_gas_used, stock.result.blob_gas_used,
        "block {block} blob gas at {threads} threads"
    );
    assert_eq!(
        ours.commits.len(),
        stock.commits.len(),
        "block {block} commit count at {threads} threads"
    );
    for (i, (a, b)) in ours.commits.iter().zip(&stock.commits).enumerate() {
        assert_eq!(a, b, "block {block} commit {i} at {threads} threads");
    }
    assert_eq!(
        ours.bundle, stock.bundle,
        "block {block} bundle state at {threads} threads"
    );
}

fn check_block(
    block: &ReplayBlock,
    all: &[Executors],
    streaming: &ParallaxBlockExecutorFactory<ReplayDb>,
) {
    let number = block.number();
    let stock = all[0]
        .sequential(block)
        .unwrap_or_else(|e| panic!("block {number}: stock executor failed: {e}"));
    assert_eq!(
        stock.result.gas_used, block.header.gas_used,
        "block {number}: stock gas differs from the header"
    );
    for executors in all {
        let ours = executors
            .parallel(block)
            .unwrap_or_else(|e| panic!("block {number}: Parallax executor failed: {e}"));
        assert_equal(number, executors.threads(), &ours, &stock);
    }
    let (result, bundle) = run_streaming(block, streaming);
    assert_eq!(result, stock.result, "block {number}: streaming result");
    assert_eq!(
        bundle, stock.bundle,
        "block {number}: streaming bundle state"
    );
}

#[test]
fn parallax_executor_equals_stock_executor_on_every_mainnet_block() {
    let test = "parallax_executor_equals_stock_executor_on_every_mainnet_block";
    let Some(dir) = fixture_or_skip(test, "mainnet") else {
        return;
    };
    let all = [Executors::new(engine(2)), Executors::new(engine(4))];
    let streaming = ParallaxBlockExecutorFactory::mainnet(engine(2));
    let mut checked = Vec::new();

    let prestate = dir.join("prestate");
    let shared = PrestateShared::load(&prestate).expect("shared pre-state files load");
    for block_dir in prestate_block_dirs(&prestate).expect("block directories") {
        let block = load_prestate_block(&block_dir, &shared).unwrap_or_else(|e| panic!("{e}"));
        check_block(&block, &all, &streaming);
        checked.push(block.number());
    }
    for (kind, load) in [
        ("proofs", load_proof_file as fn(&Path) -> _),
        ("witness", load_witness_file),
    ] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(kind))
            .expect(kind)
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let block = load(&file).unwrap_or_else(|e| panic!("{e}"));
            check_block(&block, &all, &streaming);
            checked.push(block.number());
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "{test}: {} blocks equal to the stock executor",
        checked.len()
    );
}
