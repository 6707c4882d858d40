//! Executing a recorded block the way a client does, twice: with alloy-evm's stock
//! executor (sequential revm) and with the Parallax executor, both through revm's `State`.

use crate::{recorded_block::ReplayBlock, state::pre_state::PreState};
use alloy_consensus::ReceiptEnvelope;
use alloy_evm::{
    EvmFactory,
    block::{BlockExecutionError, BlockExecutionResult, BlockExecutor, BlockExecutorFactory},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder, spec::EthSpec,
    },
};
use parallax_adapters::ParallaxBlockExecutorFactory;
use parallax_engine::ParallelExecutor;
use revm::{
    database::{BundleState, State, WrapDatabaseRef, states::bundle_state::BundleRetention},
    state::EvmState,
};
use std::{
    borrow::Cow,
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// The database under `State` for replayed blocks.
pub type ReplayDb = WrapDatabaseRef<Arc<PreState>>;

/// What one execution of a block produced.
#[derive(Debug)]
pub struct Execution {
    /// Receipts, requests and gas.
    pub result: BlockExecutionResult<ReceiptEnvelope>,
    /// The state changes with reverts, as a client would persist them.
    pub bundle: BundleState,
    /// Every state change committed, in order: system calls, each transaction, post-block.
    pub commits: Vec<EvmState>,
    /// Wall time of `execute_block`.
    pub elapsed: Duration,
}

/// The two executors, built once and reused for every block.
pub struct Executors {
    stock: EthBlockExecutorFactory<AlloyReceiptBuilder, EthSpec, EthEvmFactory>,
    parallax: ParallaxBlockExecutorFactory<ReplayDb>,
}

impl fmt::Debug for Executors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executors")
            .field("stock", &self.stock)
            .field("parallax", &self.parallax)
            .finish()
    }
}

impl Executors {
    /// Mainnet executors; the parallel one runs on `engine`.
    pub fn new(engine: ParallelExecutor) -> Self {
        Self {
            stock: EthBlockExecutorFactory::new(
                AlloyReceiptBuilder::default(),
                EthSpec::mainnet(),
                EthEvmFactory::default(),
            ),
            parallax: ParallaxBlockExecutorFactory::mainnet(engine),
        }
    }

    /// Worker threads of the parallel executor.
    pub fn threads(&self) -> usize {
        self.parallax.engine().threads().get()
    }

    /// Runs `block` with alloy-evm's stock executor.
    pub fn sequential(&self, block: &ReplayBlock) -> Result<Execution, BlockExecutionError> {
        let (mut state, commits) = new_state(block);
        let evm = self
            .stock
            .evm_factory()
            .create_evm(&mut state, block.evm_env());
        let executor = self.stock.create_executor(evm, execution_ctx(block));
        let start = Instant::now();
        let result = executor.execute_block(block.transactions.iter())?;
        Ok(collect(state, &commits, result, start.elapsed()))
    }

    /// Runs `block` with the Parallax executor, which must take its parallel path.
    pub fn parallel(&self, block: &ReplayBlock) -> Result<Execution, BlockExecutionError> {
        let (mut state, commits) = new_state(block);
        let evm = self
            .parallax
            .evm_factory()
            .create_evm(&mut state, block.evm_env());
        let executor = self.parallax.create_executor(evm, execution_ctx(block));
        if !executor.runs_parallel() {
            return Err(BlockExecutionError::msg(
                "the Parallax executor would not take its parallel path",
            ));
        }
        let start = Instant::now();
        let result = executor.execute_block(block.transactions.iter())?;
        Ok(collect(state, &commits, result, start.elapsed()))
    }
}

type CommitLog = Arc<Mutex<Vec<EvmState>>>;

/// A fresh `State` over the block's pre-state that logs every commit.
fn new_state(block: &ReplayBlock) -> (State<ReplayDb>, CommitLog) {
    let commits = CommitLog::default();
    let sink = Arc::clone(&commits);
    let state = State::builder()
        .with_database_ref(Arc::clone(&block.pre_state))
        .with_bundle_update()
        .build()
        .with_state_hook(Some(Box::new(move |changes: EvmState| {
            sink.lock().expect("commit log poisoned").push(changes);
        })));
    (state, commits)
}

fn collect(
    mut state: State<ReplayDb>,
    commits: &CommitLog,
    result: BlockExecutionResult<ReceiptEnvelope>,
    elapsed: Duration,
) -> Execution {
    state.merge_transitions(BundleRetention::Reverts);
    let bundle = state.take_bundle();
    let commits = std::mem::take(&mut *commits.lock().expect("commit log poisoned"));
    Execution {
        result,
        bundle,
        commits,
        elapsed,
    }
}

/// alloy-evm's execution context for a recorded block.
pub fn execution_ctx(block: &ReplayBlock) -> EthBlockExecutionCtx<'_> {
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
