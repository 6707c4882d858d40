//! Replaying real Ethereum blocks through Parallax and checking them against their headers,
//! down to the state root; running the Ethereum consensus tests; explaining why a block did
//! or did not parallelize. The `parallax` command (`src/bin/parallax/`) is a thin layer over
//! this library.
//!
//! # Where things are
//!
//! Layered so that every module imports only from the ones listed before it:
//!
//! - `trie/`: the state root. Recorded trie nodes, reading and updating tries over them,
//!   `eth_getProof` verification, the post-block root of a recorded pre-state, and the root
//!   of a complete state (used by the consensus tests and the client-loop example).
//! - `state/`: the pre-state backends (in memory, over trie nodes, over a node's RPC)
//!   behind [`PreState`], the one type the executors read, and their error.
//! - `recorded_block`: [`ReplayBlock`], a recorded block ready to execute.
//! - `execution`: running a block on alloy-evm's stock executor and on Parallax.
//! - `source/`: the recorded forms (pre-state dumps, `eth_getProof` answers, execution
//!   witnesses), fetching and recording from a node, and discovering what a path holds.
//! - `check/`: comparing an execution with the header.
//! - `block_replay`: replaying one block on both executors and reporting on it.
//! - `built_list`: the EIP-7928 access list of a recorded block, as Parallax builds it.
//! - `explain`: the dependencies among a block's transactions.
//! - `consensus/`: the BlockchainTest runner, one module per step of importing a block.

/// Replaying one block on both executors, comparing them, and checking it: its report.
mod block_replay;
/// The EIP-7928 access list of a recorded block of any fork, built and checked.
mod built_list;
/// Comparing an execution of a block with what its header commits to.
mod check;
/// The Ethereum consensus tests (BlockchainTests), run through the parallel executor.
mod consensus;
/// Executing a recorded block with alloy-evm's stock executor and with Parallax.
mod execution;
/// Why a block did or did not parallelize: the dependencies among its transactions.
mod explain;
/// A recorded block ready to execute, and the error for one that cannot be.
mod recorded_block;
/// Where recorded blocks come from: the recorded forms, a node's RPC, discovery.
mod source;
/// The pre-state backends behind `PreState`, and their error.
mod state;
/// The state root: trie nodes, proofs, the post-block root, the root of a complete state.
mod trie;

pub use block_replay::{BlockReport, replay_block, replay_block_from_list};
pub use built_list::built_access_list;
pub use check::outcome::{Check, Checks};
pub use consensus::{
    blockchain_test::{
        BlobSchedule, BlockchainTest, DecodedFixtureBlock, FixtureAccount, FixtureBlock,
        FixtureConfig,
    },
    execute_block::Executor,
    fixture_files::{FixtureSource, SourceError, for_each_fixture_file},
    run_test::{Verdict, run_test, run_test_beside_revm},
};
pub use execution::{Drive, Execution, Executors, ReplayDb, StreamedReceipts, execution_ctx};
pub use explain::{ExplainError, Explainer, Explanation, PolicyDecision};
pub use recorded_block::{ReplayBlock, SourceKind, UnusableBlock};
pub use source::{
    access_list_file::{AccessListRecord, load_access_lists},
    discovery::{BlockSource, Loader, discover},
    execution_witness::load_witness_file,
    load_error::LoadError,
    pre_state_dump::{PrestateShared, load_prestate_block, prestate_block_dirs},
    proof_recording::{Query, RecordedRpc, from_recording, load_proof_file},
    rpc_recorder::{RpcSource, write_recording},
};
pub use state::{
    memory_db::{Completeness, MemoryAccount, MemoryDb},
    pre_state::PreState,
    pre_state_error::PreStateError,
    remote_state::{FetchLog, RemoteState},
    trie_db::{TrieDb, Unproven},
};
pub use trie::{
    account_leaf::trie_account,
    complete_state_root::{CompleteAccount, complete_state_root},
    node_store::TrieNodes,
    post_state_root::{
        AccountChange, PostState, RecordedAccount, StateRootError, changes_from_bundle,
        changes_from_evm_state, post_state_root,
    },
    proof_verification::verify_proof,
    state_trie::{StateTrie, TrieReadError},
};
