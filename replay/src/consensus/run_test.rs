//! Running one BlockchainTest: build the genesis state, import each block (validating its
//! header, executing it, checking every root), and compare the final state.

use super::{
    blockchain_test::BlockchainTest,
    chain_spec::TestChainSpec,
    decode_block::decode_block,
    execute_block::Executor,
    import_block::{Imported, import_block},
    rejection::{Expectation, expectation, matches},
    world_state::{ChainDb, WorldState},
};
use alloy_primitives::B256;
use std::{collections::HashMap, sync::Arc};

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every block was handled as expected and the final state matches.
    Pass,
    /// Something was not; the text says what.
    Fail(String),
    /// It failed, and fails on stock sequential revm through the same harness too: a rule revm
    /// does not implement (or implements in another revision), not a fault of Parallax.
    FailOnRevmToo {
        /// Why it failed on the executor under test.
        reason: String,
        /// Why it failed on stock sequential revm.
        revm: String,
    },
    /// The test exercises something out of scope; the text says what.
    Skip(String),
}

/// Runs the test with `executor`, and where it fails, again with stock sequential revm, so
/// that a failure revm shares is told apart (under the stock executor every failure is
/// revm's).
pub fn run_test_beside_revm(test: &BlockchainTest, executor: &Executor) -> Verdict {
    match run_test(test, executor) {
        Verdict::Fail(reason) => {
            let on_revm = if executor.is_stock() {
                Verdict::Fail(reason.clone())
            } else {
                run_test(test, &executor.stock())
            };
            match on_revm {
                // Only the same failure is revm's: the executor under test is also compared
                // with revm block by block, so a different text is a different result.
                Verdict::Fail(revm) if same_failure(&reason, &revm) => {
                    Verdict::FailOnRevmToo { reason, revm }
                }
                _ => Verdict::Fail(reason),
            }
        }
        verdict => verdict,
    }
}

/// Whether `a`, a failure of the executor under test, is `b`, stock revm's: the same text,
/// or `a` rejects a block's access list and stock revm rejects the same block (reading the
/// same list, it finds the fault only at the end, or trips first over what the wrong list
/// made of a later transaction; see `beside_revm`).
fn same_failure(a: &str, b: &str) -> bool {
    let rejected_block = |reason: &str| {
        let (block, rest) = reason.split_once(" was rejected")?;
        Some((
            block.to_owned(),
            rest.split_once(": ")?.1.starts_with("AccessList:"),
        ))
    };
    a == b
        || matches!(
            (rejected_block(a), rejected_block(b)),
            (Some((block_a, true)), Some((block_b, _))) if block_a == block_b
        )
}

/// Runs the test with `executor`.
pub fn run_test(test: &BlockchainTest, executor: &Executor) -> Verdict {
    let Some(spec) = TestChainSpec::for_network(&test.network, test.config.as_ref()) else {
        return Verdict::Skip(format!("network {} is not known", test.network));
    };
    for block in &test.blocks {
        if let Some(expected) = &block.expect_exception
            && let Expectation::OutOfScope(reason) = expectation(expected)
        {
            return Verdict::Skip(format!("{reason} ({expected})"));
        }
    }
    match run_checked(test, &spec, executor) {
        Ok(()) => Verdict::Pass,
        Err(failure) => Verdict::Fail(failure),
    }
}

fn run_checked(
    test: &BlockchainTest,
    spec: &TestChainSpec,
    executor: &Executor,
) -> Result<(), String> {
    let genesis = decode_block(&test.genesis_rlp).map_err(|e| format!("genesis: {e}"))?;
    let world = WorldState::from_fixture(&test.pre);
    let root = world.state_root();
    if root != genesis.header.state_root {
        return Err(format!(
            "genesis state root {root} but the header has {}",
            genesis.header.state_root
        ));
    }
    let genesis_hash = genesis.header.hash_slow();
    let mut chain: HashMap<B256, Imported> = HashMap::new();
    chain.insert(
        genesis_hash,
        Imported {
            total_difficulty: genesis.header.difficulty,
            db: ChainDb {
                state: Arc::new(world),
                hashes: Arc::new(vec![genesis_hash]),
            },
            header: genesis.header,
        },
    );
    for (index, fixture_block) in test.blocks.iter().enumerate() {
        let outcome = decode_block(&fixture_block.rlp).and_then(|block| {
            let hash = block.header.hash_slow();
            import_block(&chain, spec, block, fixture_block.access_list(), executor)
                .map(|imported| (hash, imported))
        });
        match (outcome, &fixture_block.expect_exception) {
            (Ok((hash, imported)), None) => {
                chain.insert(hash, imported);
            }
            (Ok(_), Some(expected)) => {
                return Err(format!(
                    "block {index} was accepted but should fail with {expected}"
                ));
            }
            (Err(rejection), None) => {
                return Err(format!("block {index} was rejected: {rejection}"));
            }
            (Err(rejection), Some(expected)) => {
                if !matches(&expectation(expected), &rejection) {
                    return Err(format!(
                        "block {index} was rejected for the wrong reason: {rejection} (expected {expected})"
                    ));
                }
            }
        }
    }
    let head = chain
        .get(&test.lastblockhash)
        .ok_or_else(|| format!("the head {} was not imported", test.lastblockhash))?;
    if let Some(expected) = &test.post_state {
        if let Some(difference) = head.db.state.first_difference(expected) {
            return Err(format!("final state: {difference}"));
        }
    } else if let Some(expected) = test.post_state_hash {
        let root = head.db.state.state_root();
        if root != expected {
            return Err(format!("final state root {root} but expected {expected}"));
        }
    }
    Ok(())
}
