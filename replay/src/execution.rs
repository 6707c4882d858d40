//! Executing a recorded block the way a client does, with alloy-evm's stock executor
//! (sequential revm) and with the Parallax executor, both through revm's `State`, driven
//! either with `execute_block` or transaction by transaction as reth's engine tree drives
//! an executor (pre-execution changes, `execute_transaction` with `receipts().last()` after
//! each call, `finish`, then `merge_transitions` and `take_bundle`).

use crate::{recorded_block::ReplayBlock, state::pre_state::PreState};
use alloy_consensus::{ReceiptEnvelope, TxEnvelope, transaction::Recovered};
use alloy_eips::eip7928::BlockAccessList;
use alloy_evm::{
    Evm, EvmFactory,
    block::{
        BlockExecutionError, BlockExecutionResult, BlockExecutor, BlockExecutorFactory,
        ExecutableTx,
    },
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder, spec::EthSpec,
    },
};
use parallax_adapters::{ParallaxBlockExecutorFactory, ParallaxExecutionCtx, StreamedBlock};
use parallax_engine::ParallelExecutor;
use revm::{
    Database,
    database::{BundleState, State, WrapDatabaseRef, states::bundle_state::BundleRetention},
    state::{
        EvmState,
        bal::{Bal, BlockAccessIndex},
    },
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
    /// The block's EIP-7928 access list as revm's `State` built it from the executor's
    /// commits, where the executors build lists ([`Executors::building_access_lists`]).
    pub access_list: Option<BlockAccessList>,
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
    build_access_lists: bool,
}

impl fmt::Debug for Executors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executors")
            .field("stock", &self.stock)
            .field("parallax", &self.parallax)
            .field("build_access_lists", &self.build_access_lists)
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
            build_access_lists: false,
        }
    }

    /// Executors whose `execute_block` runs ([`Executors::sequential`],
    /// [`Executors::parallel`]) also build the block's EIP-7928 access list, for any fork,
    /// in [`Execution::access_list`]. It costs both sides the same bookkeeping, so timings
    /// taken with it are not those of a plain execution.
    pub fn building_access_lists(mut self) -> Self {
        self.build_access_lists = true;
        self
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
                let (mut state, commits) = new_state(block, false);
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
                let (mut state, commits) = new_state(block, false);
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
        let (mut state, commits) = new_state(block, self.build_access_lists);
        let evm = self
            .stock
            .evm_factory()
            .create_evm(&mut state, block.evm_env());
        let executor = self.stock.create_executor(evm, execution_ctx(block));
        let start = Instant::now();
        let result = if self.build_access_lists {
            execute_indexed(executor, &block.transactions)?
        } else {
            executor.execute_block(block.transactions.iter())?
        };
        Ok(collect(state, &commits, result, start.elapsed()))
    }

    /// Runs `block` with the Parallax executor, which must take its parallel path.
    pub fn parallel(&self, block: &ReplayBlock) -> Result<Execution, BlockExecutionError> {
        self.parallax_block(block, None)
    }

    /// Runs `block` with the Parallax executor from `list`, the access list delivered with
    /// it (EIP-7928): a `State` that reads from the list, as a client sets it up, so every
    /// transaction runs at once and the list is checked against what they did.
    pub fn parallel_from_list(
        &self,
        block: &ReplayBlock,
        list: Arc<Bal>,
    ) -> Result<Execution, BlockExecutionError> {
        self.parallax_block(block, Some(list))
    }

    fn parallax_block(
        &self,
        block: &ReplayBlock,
        list: Option<Arc<Bal>>,
    ) -> Result<Execution, BlockExecutionError> {
        let (mut state, commits) = new_state(block, self.build_access_lists);
        state.set_bal(list);
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

/// Executes a block as reth's engine tree does, with `State` told each change's EIP-7928
/// index: 0 before the transactions, `i + 1` for transaction `i`, `n + 1` after them.
pub(crate) fn execute_indexed<'db, E, DB>(
    mut executor: E,
    transactions: &[Recovered<TxEnvelope>],
) -> Result<BlockExecutionResult<ReceiptEnvelope>, BlockExecutionError>
where
    DB: Database + 'db,
    E: BlockExecutor<Receipt = ReceiptEnvelope, Evm: Evm<DB = &'db mut State<DB>>>,
    for<'a> &'a Recovered<TxEnvelope>: ExecutableTx<E>,
{
    let index = |i: usize| BlockAccessIndex::new(i as u64);
    executor.apply_pre_execution_changes()?;
    for (i, tx) in transactions.iter().enumerate() {
        executor.evm_mut().db_mut().set_bal_index(index(i + 1));
        executor.execute_transaction(tx)?;
    }
    executor
        .evm_mut()
        .db_mut()
        .set_bal_index(index(transactions.len() + 1));
    executor.apply_post_execution_changes()
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
    for<'t> &'t Recovered<TxEnvelope>: ExecutableTx<Ex>,
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

/// A fresh `State` over the block's pre-state that logs every commit, and builds the
/// block's access list when asked.
fn new_state(block: &ReplayBlock, build_access_list: bool) -> (State<ReplayDb>, CommitLog) {
    let commits = CommitLog::default();
    let sink = Arc::clone(&commits);
    let state = State::builder()
        .with_database_ref(Arc::clone(&block.pre_state))
        .with_bundle_update()
        .with_bal_builder_if(build_access_list)
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
    let access_list = state.take_built_alloy_bal();
    state.merge_transitions(BundleRetention::Reverts);
    let bundle = state.take_bundle();
    let commits = std::mem::take(&mut *commits.lock().expect("commit log poisoned"));
    Execution {
        result,
        bundle,
        commits,
        elapsed,
        streamed: None,
        access_list,
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
