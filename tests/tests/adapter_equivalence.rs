//! Parallax behind alloy-evm's `BlockExecutorFactory` must be a drop-in replacement for the
//! stock `EthBlockExecutor`: on every mainnet fixture block, the receipts, requests, gas used
//! and the resulting `BundleState` (with reverts) must be equal, with the parallel path taken.

use alloy_evm::{
    EvmFactory,
    block::{BlockExecutionResult, BlockExecutor, BlockExecutorFactory},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder, spec::EthSpec,
    },
};
use parallax_adapters::ParallaxBlockExecutorFactory;
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_replay::{
    MemoryDb, ReplayBlock,
    fixtures::fixture_or_skip,
    prestate::{PrestateShared, block_dirs, load_block},
};
use revm::database::{BundleState, State, WrapDatabaseRef, states::bundle_state::BundleRetention};
use std::{borrow::Cow, io::Write, num::NonZeroUsize, sync::Arc};

type Db = WrapDatabaseRef<Arc<MemoryDb>>;
type Outcome = (
    BlockExecutionResult<alloy_consensus::ReceiptEnvelope>,
    BundleState,
);

fn execution_ctx(block: &ReplayBlock) -> EthBlockExecutionCtx<'_> {
    EthBlockExecutionCtx {
        parent_hash: block.header.parent_hash,
        parent_beacon_block_root: block.header.parent_beacon_block_root,
        ommers: &block.ommers,
        withdrawals: block
            .withdrawals
            .as_ref()
            .map(|w| Cow::Borrowed(w.as_slice())),
        extra_data: block.header.extra_data.clone(),
        tx_count_hint: Some(block.transactions.len()),
        slot_number: None,
    }
}

fn run_stock(block: &ReplayBlock) -> Outcome {
    let factory = EthBlockExecutorFactory::new(
        AlloyReceiptBuilder::default(),
        EthSpec::mainnet(),
        EthEvmFactory::default(),
    );
    let mut state = State::builder()
        .with_database_ref(Arc::clone(&block.pre_state))
        .with_bundle_update()
        .build();
    let evm = factory
        .evm_factory()
        .create_evm(&mut state, block.evm_env());
    let result = factory
        .create_executor(evm, execution_ctx(block))
        .execute_block(block.transactions.iter())
        .unwrap_or_else(|e| panic!("block {}: stock executor failed: {e}", block.number()));
    state.merge_transitions(BundleRetention::Reverts);
    (result, state.take_bundle())
}

fn run_parallax(block: &ReplayBlock, factory: &ParallaxBlockExecutorFactory<Db>) -> Outcome {
    let mut state = State::builder()
        .with_database_ref(Arc::clone(&block.pre_state))
        .with_bundle_update()
        .build();
    let evm = factory
        .evm_factory()
        .create_evm(&mut state, block.evm_env());
    let executor = factory.create_executor(evm, execution_ctx(block));
    assert!(
        executor.runs_parallel(),
        "block {}: the parallel path must be taken",
        block.number()
    );
    let result = executor
        .execute_block(block.transactions.iter())
        .unwrap_or_else(|e| panic!("block {}: Parallax executor failed: {e}", block.number()));
    state.merge_transitions(BundleRetention::Reverts);
    (result, state.take_bundle())
}

/// Drives the executor the streaming way: one transaction at a time, then `finish`.
fn run_parallax_streaming(
    block: &ReplayBlock,
    factory: &ParallaxBlockExecutorFactory<Db>,
) -> Outcome {
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

#[test]
fn parallax_executor_equals_stock_executor_on_every_prestate_block() {
    let test = "parallax_executor_equals_stock_executor_on_every_prestate_block";
    let Some(dir) = fixture_or_skip(test, "mainnet/prestate") else {
        return;
    };
    let shared = PrestateShared::load(&dir).expect("shared pre-state files load");
    let factories: Vec<ParallaxBlockExecutorFactory<Db>> = [2, 4]
        .into_iter()
        .map(|threads| {
            let engine = ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
                .unwrap()
                .with_policy(ExecutionPolicy::AlwaysParallel);
            ParallaxBlockExecutorFactory::mainnet(engine)
        })
        .collect();
    let mut count = 0;
    for block_dir in block_dirs(&dir).expect("block directories") {
        let block = load_block(&block_dir, &shared).unwrap_or_else(|e| panic!("{e}"));
        let (stock, stock_bundle) = run_stock(&block);
        assert_eq!(
            stock.gas_used,
            block.header.gas_used,
            "block {}: stock gas differs from header",
            block.number()
        );
        for factory in &factories {
            let (ours, our_bundle) = run_parallax(&block, factory);
            let threads = factory.engine().threads();
            assert_eq!(
                ours.receipts,
                stock.receipts,
                "block {} receipts at {threads} threads",
                block.number()
            );
            assert_eq!(
                ours.requests,
                stock.requests,
                "block {} requests",
                block.number()
            );
            assert_eq!(
                ours.gas_used,
                stock.gas_used,
                "block {} gas used",
                block.number()
            );
            assert_eq!(
                ours.blob_gas_used,
                stock.blob_gas_used,
                "block {} blob gas used",
                block.number()
            );
            assert_eq!(
                our_bundle,
                stock_bundle,
                "block {} bundle state at {threads} threads",
                block.number()
            );
        }
        let (streamed, streamed_bundle) = run_parallax_streaming(&block, &factories[0]);
        assert_eq!(
            streamed,
            stock,
            "block {}: streaming result",
            block.number()
        );
        assert_eq!(
            streamed_bundle,
            stock_bundle,
            "block {}: streaming bundle state",
            block.number()
        );
        count += 1;
    }
    let _ = writeln!(
        std::io::stderr(),
        "{test}: {count} blocks equal to the stock executor"
    );
}
