//! Parallax behind alloy-evm's `BlockExecutorFactory` must be a drop-in replacement for the
//! stock `EthBlockExecutor`, however the client drives it. On every mainnet fixture block,
//! with the parallel path forced, driven with `execute_block` and driven as reth's engine
//! tree does (pre-execution changes, `execute_transaction` with `receipts().last()` after
//! each, `finish`, `merge_transitions`, `take_bundle`), the receipts, requests, gas used,
//! every call of the state hook on `State` and the resulting `BundleState` (with reverts)
//! must equal the stock executor's driven the same way; streamed, every transaction's
//! result must come from the engine's parallel run.

use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_fixtures::fixture_or_skip;
use parallax_replay::{
    Drive, Execution, Executors, PrestateShared, ReplayBlock, load_prestate_block, load_proof_file,
    load_witness_file, prestate_block_dirs,
};
use std::{io::Write, num::NonZeroUsize, path::Path};

fn engine(threads: usize) -> ParallelExecutor {
    ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
        .unwrap()
        .with_policy(ExecutionPolicy::AlwaysParallel)
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

fn check_block(block: &ReplayBlock, all: &[Executors]) {
    let number = block.number();
    let stock = all[0]
        .stock(block, Drive::Block)
        .unwrap_or_else(|e| panic!("block {number}: stock executor failed: {e}"));
    assert_eq!(
        stock.result.gas_used, block.header.gas_used,
        "block {number}: stock gas differs from the header"
    );
    let stock_streamed = all[0]
        .stock(block, Drive::Streaming)
        .unwrap_or_else(|e| panic!("block {number}: stock executor, streamed, failed: {e}"));
    assert_equal(number, 1, &stock_streamed, &stock);
    let stock_receipts = &stock_streamed.streamed.as_ref().expect("streamed").receipts;
    for executors in all {
        let threads = executors.threads();
        for drive in [Drive::Block, Drive::Streaming] {
            let ours = executors.parallax(block, drive).unwrap_or_else(|e| {
                panic!("block {number}: Parallax executor ({drive:?}) failed: {e}")
            });
            assert_equal(number, threads, &ours, &stock);
            let Some(streamed) = &ours.streamed else {
                continue;
            };
            assert_eq!(
                &streamed.receipts, stock_receipts,
                "block {number}: receipts().last() after each call at {threads} threads"
            );
            assert_eq!(
                streamed.from_workers,
                block.transactions.len(),
                "block {number}: streamed results from the parallel run at {threads} threads"
            );
        }
    }
}

#[test]
fn parallax_executor_equals_stock_executor_on_every_mainnet_block_however_driven() {
    let test = "parallax_executor_equals_stock_executor_on_every_mainnet_block_however_driven";
    let Some(dir) = fixture_or_skip(test, "mainnet") else {
        return;
    };
    let all = [Executors::new(engine(2)), Executors::new(engine(4))];
    let mut checked = Vec::new();

    let prestate = dir.join("prestate");
    let shared = PrestateShared::load(&prestate).expect("shared pre-state files load");
    for block_dir in prestate_block_dirs(&prestate).expect("block directories") {
        let block = load_prestate_block(&block_dir, &shared).unwrap_or_else(|e| panic!("{e}"));
        check_block(&block, &all);
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
            check_block(&block, &all);
            checked.push(block.number());
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "{test}: {} blocks equal to the stock executor",
        checked.len()
    );
}
