//! The consensus-test runner: a BlockchainTest document, or a block's RLP imported on top of
//! a fixed genesis, through the engine and through stock revm.

use alloy_consensus::{Block, BlockBody, EMPTY_OMMER_ROOT_HASH, Header, TxEnvelope};
use alloy_eips::eip4895::Withdrawals;
use alloy_primitives::{B256, Bytes};
use alloy_trie::EMPTY_ROOT_HASH;
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_replay::{BlockchainTest, Executor, FixtureBlock, Verdict, run_test};
use std::{
    collections::BTreeMap,
    num::NonZeroUsize,
    sync::{Arc, OnceLock},
};

/// The engine the tests import through, forced parallel, created once.
fn parallel() -> Executor {
    static ENGINE: OnceLock<Arc<ParallelExecutor>> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        let threads = NonZeroUsize::new(2).expect("non-zero");
        let engine = ParallelExecutor::new(threads).expect("thread pool");
        Arc::new(engine.with_policy(ExecutionPolicy::AlwaysParallel))
    });
    Executor::Parallel(engine.clone())
}

/// Runs `test` through the engine and stock revm: one may not pass where the other fails.
pub fn check_test(test: &BlockchainTest) {
    let engine = run_test(test, &parallel());
    let revm = run_test(test, &Executor::Sequential);
    crate::debug(|| format!("{}: engine {engine:?}, revm {revm:?}", test.network));
    assert_eq!(
        engine == Verdict::Pass,
        revm == Verdict::Pass,
        "the engine's verdict {engine:?} is not stock revm's {revm:?}"
    );
}

/// Every test of a fixture file (a JSON object of tests by name).
pub fn check_document(data: &[u8]) {
    let Ok(tests) = serde_json::from_slice::<BTreeMap<String, serde_json::Value>>(data) else {
        return;
    };
    for value in tests.into_values().take(4) {
        if let Ok(test) = serde_json::from_value::<BlockchainTest>(value) {
            check_test(&test);
        }
    }
}

/// The genesis header's RLP (whose hash is the genesis hash).
fn genesis_header_rlp() -> Vec<u8> {
    alloy_rlp::encode(genesis_header())
}

fn genesis_header() -> Header {
    Header {
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        state_root: EMPTY_ROOT_HASH,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        gas_limit: 30_000_000,
        base_fee_per_gas: Some(7),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        ..Default::default()
    }
}

/// A Cancun genesis block with an empty state.
fn genesis() -> &'static Bytes {
    static GENESIS: OnceLock<Bytes> = OnceLock::new();
    GENESIS.get_or_init(|| {
        let block = Block::<TxEnvelope> {
            header: genesis_header(),
            body: BlockBody {
                transactions: Vec::new(),
                ommers: Vec::new(),
                withdrawals: Some(Withdrawals::default()),
            },
        };
        alloy_rlp::encode(&block).into()
    })
}

/// Where a block's RLP holds its parent hash (the first field of its header), when it is
/// laid out as a block.
fn parent_hash_at(rlp: &[u8]) -> Option<usize> {
    let mut buf = rlp;
    let block = alloy_rlp::Header::decode(&mut buf).ok()?;
    let header = alloy_rlp::Header::decode(&mut buf).ok()?;
    (block.list && header.list && buf.first() == Some(&0xa0) && buf.len() > 32)
        .then(|| rlp.len() - buf.len() + 1)
}

/// Imports the block `rlp` on top of the fixed genesis, its parent hash made the genesis's
/// (in place, so that the rest of the encoding stays exactly the fuzzer's).
pub fn check_block_rlp(rlp: &[u8]) {
    let mut rlp = rlp.to_vec();
    if let Some(at) = parent_hash_at(&rlp) {
        let genesis_hash = alloy_primitives::keccak256(&genesis_header_rlp());
        rlp[at..at + 32].copy_from_slice(genesis_hash.as_slice());
    }
    let rlp = rlp.as_slice();
    let test = BlockchainTest {
        network: "Cancun".into(),
        pre: BTreeMap::new(),
        genesis_rlp: genesis().clone(),
        blocks: vec![FixtureBlock {
            rlp: Bytes::copy_from_slice(rlp),
            expect_exception: None,
            block_access_list: None,
            rlp_decoded: None,
        }],
        lastblockhash: B256::ZERO,
        post_state: None,
        post_state_hash: None,
        config: None,
    };
    check_test(&test);
}
