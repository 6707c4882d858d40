//! Every real mainnet block in the pre-state fixtures, executed with the parallel path forced
//! (even for tiny blocks) at several thread counts, must equal sequential revm transaction by
//! transaction, and its gas used must equal the header's.

use parallax_engine::{ExecutionPolicy, ParallelExecutor, execute_sequential};
use parallax_fixtures::fixture_or_skip;
use parallax_replay::{PrestateShared, load_prestate_block, prestate_block_dirs};
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
    for block_dir in &dirs {
        let block = load_prestate_block(block_dir, &shared).unwrap_or_else(|e| panic!("{e}"));
        let env = block.evm_env();
        let txs = block.tx_envs();
        let sequential = execute_sequential(&*block.pre_state, &env.cfg_env, &env.block_env, &txs)
            .unwrap_or_else(|e| {
                panic!("block {}: sequential execution failed: {e}", block.number())
            });
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
        }
        ran.push(format!("{} ({} txs)", block.number(), txs.len()));
    }
    let _ = writeln!(
        std::io::stderr(),
        "prestate blocks checked ({}): {}",
        ran.len(),
        ran.join(", ")
    );
}
