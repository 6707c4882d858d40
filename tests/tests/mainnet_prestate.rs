//! Every real mainnet block in the pre-state fixtures, executed with the parallel path forced
//! (even for tiny blocks) at several thread counts, must equal sequential revm transaction by
//! transaction, and its gas used must equal the header's. The EIP-7928 access list the engine
//! builds from its outputs must equal the one revm's `State` builds, and executing the block
//! from that list must give the sequential result too.

use parallax_engine::{
    ExecutionPolicy, ParallelExecutor, execute_sequential, execute_sequential_with_access_list,
};
use parallax_fixtures::fixture_or_skip;
use parallax_replay::{PrestateShared, load_prestate_block, prestate_block_dirs};
use revm::primitives::hardfork::SpecId;
use std::sync::Arc;
use std::{io::Write, num::NonZeroUsize};

#[test]
fn every_prestate_block_matches_sequential_and_its_header() {
    let Some(dir) = fixture_or_skip(
        "every_prestate_block_matches_sequential_and_its_header",
        "mainnet/prestate",
    ) else {
        return;
    };
    let shared = PrestateShared::load(&dir).expect("shared pre-state files load");
    let executors: Vec<ParallelExecutor> = [1, 2, 4]
        .into_iter()
        .map(|threads| {
            ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
                .unwrap()
                .with_policy(ExecutionPolicy::AlwaysParallel)
        })
        .collect();
    let dirs = prestate_block_dirs(&dir).expect("block directories");
    assert!(!dirs.is_empty(), "no blocks found in {}", dir.display());
    let mut ran = Vec::new();
    let mut from_list_blocks = 0;
    for block_dir in &dirs {
        let block = load_prestate_block(block_dir, &shared).unwrap_or_else(|e| panic!("{e}"));
        let env = block.evm_env();
        let txs = block.tx_envs();
        let sequential = execute_sequential(&*block.pre_state, &env.cfg_env, &env.block_env, &txs)
            .unwrap_or_else(|e| {
                panic!("block {}: sequential execution failed: {e}", block.number())
            });
        let (with_list, revm_list) = execute_sequential_with_access_list(
            &*block.pre_state,
            &env.cfg_env,
            &env.block_env,
            &txs,
        )
        .unwrap_or_else(|e| panic!("block {}: {e}", block.number()));
        assert_eq!(with_list, sequential, "block {}", block.number());
        let revm_list = Arc::new(revm_list);
        assert_eq!(
            sequential.gas_used,
            block.header.gas_used,
            "block {}: gas used differs from the header",
            block.number()
        );
        for executor in &executors {
            let parallel = executor
                .execute(&*block.pre_state, &env.cfg_env, &env.block_env, &txs)
                .unwrap_or_else(|e| {
                    panic!("block {}: parallel execution failed: {e}", block.number())
                });
            for (i, (p, s)) in parallel
                .transactions
                .iter()
                .zip(&sequential.transactions)
                .enumerate()
            {
                assert_eq!(
                    p,
                    s,
                    "block {} tx {i} differs at {} threads",
                    block.number(),
                    executor.threads()
                );
            }
            assert_eq!(
                parallel,
                sequential,
                "block {} differs at {} threads",
                block.number(),
                executor.threads()
            );
            assert!(
                parallel.access_list() == *revm_list,
                "block {}: the engine's access list is not revm's at {} threads",
                block.number(),
                executor.threads()
            );
            let from_list = executor
                .execute_with_access_list(
                    &*block.pre_state,
                    &env.cfg_env,
                    &env.block_env,
                    &txs,
                    &revm_list,
                )
                .unwrap_or_else(|e| panic!("block {}: from its access list: {e}", block.number()));
            // Before Cancun (EIP-6780) the block runs the usual way and the list is checked.
            let expected_path = if env.cfg_env.spec.is_enabled_in(SpecId::CANCUN) {
                "access_list"
            } else {
                "parallel"
            };
            assert_eq!(
                from_list.stats.path(),
                expected_path,
                "block {}",
                block.number()
            );
            if expected_path == "access_list" {
                from_list_blocks += 1;
            }
            assert_eq!(
                from_list,
                sequential,
                "block {} from its access list differs at {} threads",
                block.number(),
                executor.threads()
            );
        }
        ran.push(format!("{} ({} txs)", block.number(), txs.len()));
    }
    let _ = writeln!(
        std::io::stderr(),
        "prestate blocks checked ({}, {from_list_blocks} runs on the access-list path): {}",
        ran.len(),
        ran.join(", ")
    );
}
