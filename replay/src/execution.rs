//! Executing a recorded block the way a client does, with alloy-evm's stock executor
//! (sequential revm) and with the Parallax executor, both through revm's `State`, driven
//! either with `execute_block` or transaction by transaction as reth's engine tree drives
//! an executor (pre-execution changes, `execute_transaction` with `receipts().last()` after
//! each call, `finish`, then `merge_transitions` and `take_bundle`).

use crate::{recorded_block::ReplayBlock, state::pre_state::PreState};
use alloy_consensus::{ReceiptEnvelope, TxEnvelope, transaction::Recovered};
use alloy_evm::{
    EvmFactory,
    block::{BlockExecutionError, BlockExecutionResult, BlockExecutor, BlockExecutorFactory},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder, spec::EthSpec,
    },
};
use parallax_adapters::{ParallaxBlockExecutorFactory, ParallaxExecutionCtx, StreamedBlock};
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
    /// Wall time of executing the block: `execute_block`, or everything from the
    /// pre-execution changes to `finish`.
    pub elapsed: Duration,
    /// Driven transaction by transaction: what `receipts().last()` gave after each call, and
    /// when the first of them was there.
    pub streamed: Option<StreamedReceipts>,
}

/// The receipts a streaming client saw.
#[derive(Debug)]
pub struct StreamedReceipts {
    /// `receipts().last()` after each `execute_transaction`.
    pub receipts: Vec<ReceiptEnvelope>,
    /// From the start of the block (before its pre-execution changes) to the first receipt.
    pub first_receipt: Option<Duration>,
    /// How many transactions' results came from the engine's parallel run (the rest ran one
    /// at a time).
    pub from_workers: usize,
}

/// How a client hands a block to an executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drive {
    /// `execute_block` with every transaction.
    Block,
    /// Pre-execution changes, `execute_transaction` per transaction, `finish`: what reth's
    /// engine tree does to validate a block. The Parallax executor gets the block's
    /// transactions in its context beforehand.
    Streaming,
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

    /// Runs `block` with alloy-evm's stock executor, driven the given way.
    pub fn stock(
        &self,
        block: &ReplayBlock,
        drive: Drive,
    ) -> Result<Execution, BlockExecutionError> {
        match drive {
            Drive::Block => self.sequential(block),
            Drive::Streaming => {
                let (mut state, commits) = new_state(block);
                let evm = self
                    .stock
                    .evm_factory()
                    .create_evm(&mut state, block.evm_env());
                let start = Instant::now();
                let executor = self.stock.create_executor(evm, execution_ctx(block));
                let (result, streamed) =
                    drive_streaming(executor, &block.transactions, start, |_| 0)?;
                let mut execution = collect(state, &commits, result, start.elapsed());
                execution.streamed = Some(streamed);
                Ok(execution)
            }
        }
    }

    /// Runs `block` with the Parallax executor driven the given way: with `execute_block` it
    /// must take its parallel path; streamed, it gets the block's transactions in its
    /// context and must start them on its workers (the engine's policy may still run the
    /// block, or its tail, in order).
    pub fn parallax(
        &self,
        block: &ReplayBlock,
        drive: Drive,
    ) -> Result<Execution, BlockExecutionError> {
        match drive {
            Drive::Block => self.parallel(block),
            Drive::Streaming => {
                let (mut state, commits) = new_state(block);
                let evm = self
                    .parallax
                    .evm_factory()
                    .create_evm(&mut state, block.evm_env());
                // The block behind a reference count, as a client holds it.
                let transactions: Arc<[_]> = block.transactions.clone().into();
                let start = Instant::now();
                let streamed = StreamedBlock::from_shared_recovered(
                    transactions,
                    Arc::clone(&block.pre_state),
                );
                let ctx = ParallaxExecutionCtx::streaming(execution_ctx(block), streamed);
                let executor = self.parallax.create_executor(evm, ctx);
                if !executor.runs_parallel() {
                    return Err(BlockExecutionError::msg(
                        "the Parallax executor would not take its parallel path",
                    ));
                }
                let (result, streamed) =
                    drive_streaming(executor, &block.transactions, start, |executor| {
                        executor.transactions_from_workers()
                    })?;
                let mut execution = collect(state, &commits, result, start.elapsed());
                execution.streamed = Some(streamed);
                Ok(execution)
            }
        }
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
        let executor = self
            .parallax
            .create_executor(evm, execution_ctx(block).into());
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

/// Drives `executor` as reth's engine tree does: pre-execution changes, each transaction
/// with `receipts().last()` after it, then `finish`.
pub(crate) fn drive_streaming<Ex>(
    mut executor: Ex,
    transactions: &[Recovered<TxEnvelope>],
    start: Instant,
    from_workers: impl FnOnce(&Ex) -> usize,
) -> Result<(BlockExecutionResult<ReceiptEnvelope>, StreamedReceipts), BlockExecutionError>
where
    Ex: BlockExecutor<Receipt = ReceiptEnvelope>,
    for<'t> &'t Recovered<TxEnvelope>: alloy_evm::block::ExecutableTx<Ex>,
{
    executor.apply_pre_execution_changes()?;
    let mut receipts = Vec::with_capacity(transactions.len());
    let mut first_receipt = None;
    for tx in transactions {
        executor.execute_transaction(tx)?;
        let receipt = executor
            .receipts()
            .last()
            .ok_or_else(|| BlockExecutionError::msg("no receipt after a transaction"))?;
        first_receipt.get_or_insert_with(|| start.elapsed());
        receipts.push(receipt.clone());
    }
    let from_workers = from_workers(&executor);
    let (_, result) = executor.finish()?;
    let streamed = StreamedReceipts {
        receipts,
        first_receipt,
        from_workers,
    };
    Ok((result, streamed))
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
        streamed: None,
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
