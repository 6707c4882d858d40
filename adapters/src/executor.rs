//! The block executor: alloy-evm's `EthBlockExecutor` for everything around the
//! transactions, and the parallel engine for the transactions of a whole block, whether the
//! client hands over the block at once (`execute_block`) or streams it transaction by
//! transaction with the list known in advance.

use crate::{
    context::StreamedBlock,
    shared_state::{as_state, as_state_mut},
    snapshot::StateSnapshot,
    streaming::{Next, Streaming},
};
use alloy_consensus::{Transaction, TransactionEnvelope, TxReceipt};
use alloy_eips::Encodable2718;
use alloy_evm::{
    EthEvm, Evm, FromRecoveredTx, FromTxWithEncoded, RecoveredTx,
    block::{
        BlockExecutionError, BlockExecutionResult, BlockExecutor, BlockValidationError,
        ExecutableTx, ExecutableTxParts, GasOutput, StateDB, state::BalIndexedDatabase,
    },
    eth::{
        EthBlockExecutor, EthEvmContext, EthTxResult, receipt_builder::ReceiptBuilder,
        spec::EthExecutorSpec,
    },
    precompiles::PrecompilesMap,
};
use alloy_primitives::Log;
use core::{any::TypeId, marker::PhantomData};
use parallax_engine::{BlockOutput, ExecutionError, ParallelExecutor, TxFailure, TxOutput};
use revm::{
    DatabaseRef, Inspector,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::{
        Cfg,
        result::{EVMError, HaltReason, ResultAndState},
    },
    database::State,
    database_interface::bal::EvmDatabaseError,
    inspector::NoOpInspector,
    state::bal::{Bal, BlockAccessIndex},
};
use std::sync::Arc;

/// Runs a block's transactions with the engine over a `State` whose database all workers
/// can read at once: from the block access list when one is given (the `State` reads from
/// it), else on Block-STM; `None` when the engine's policy runs them sequentially. Built only
/// where `D: Sync` is known (the factory's constructors), and kept as a plain function so
/// that the executor, generic over any `D`, can call it.
pub(crate) type SharedStateRun<D> =
    fn(
        &State<D>,
        &ParallelExecutor,
        &CfgEnv,
        &BlockEnv,
        &[TxEnv],
        Option<&Arc<Bal>>,
    ) -> Option<Result<BlockOutput, ExecutionError<<D as DatabaseRef>::Error>>>;

/// The [`SharedStateRun`] for a `D` that is `Sync`.
pub(crate) fn run_on_shared_state<D>(
    state: &State<D>,
    engine: &ParallelExecutor,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
    list: Option<&Arc<Bal>>,
) -> Option<Result<BlockOutput, ExecutionError<D::Error>>>
where
    D: DatabaseRef + Sync,
    D::Error: Send,
{
    let view = crate::StateView::beneath_list(state);
    match list {
        Some(list) => Some(engine.execute_with_access_list(&view, cfg, block, txs, list)),
        None => engine.execute_if_parallel(&view, cfg, block, txs),
    }
}

/// A block executor that runs a block's transactions in parallel.
///
/// Both paths run in parallel when the executor's database is revm's `State<D>` (or
/// `&mut State<D>`) over the factory's database type `D` and no inspector is attached (a
/// `State` that builds the EIP-7928 list, as for Amsterdam blocks, gets each commit at its
/// index; one that reads from the list the block came with, `State::with_bal`, has
/// `execute_block` run every transaction at once from it, then check the list against
/// what they did); otherwise they run one transaction at a time, exactly as
/// alloy-evm's `EthBlockExecutor` does.
/// - [`BlockExecutor::execute_block`]: when the factory knows `D` is `Sync` (it was built
///   with [`new`](crate::ParallaxBlockExecutorFactory::new)), or the context carries a
///   [`StreamedBlock`] whose pre-state the workers read instead.
/// - [`BlockExecutor::execute_transaction`] (streaming, what reth's engine tree drives): when
///   the context carries a [`StreamedBlock`]. The first call starts the whole block on the
///   engine's workers; each call checks that its transaction is the next of the list, waits
///   until that transaction's result is final, and commits it in order, so a state hook on
///   `State` sees the same calls as with the stock executor. A transaction that is not the
///   next of the list, or an output taken and not committed, makes the executor drop the run
///   and go on one transaction at a time from the exact state.
///
/// Either way, system calls, receipts, requests, withdrawals, rewards and the DAO fork come
/// from alloy-evm's `EthBlockExecutor`, and every transaction's changes are committed into
/// the `State` in block order, so the caller gets the same `BundleState` as from the stock
/// executor.
pub struct ParallaxBlockExecutor<'a, E, D, Spec, R>
where
    D: DatabaseRef,
    R: ReceiptBuilder,
{
    inner: EthBlockExecutor<'a, E, Spec, R>,
    engine: &'a ParallelExecutor,
    shared_state_run: Option<SharedStateRun<D>>,
    streaming: Streaming<'a, D::Error>,
    /// Transactions whose results came from the streaming run.
    from_workers: usize,
    _database: PhantomData<fn() -> D>,
}

impl<E, D: DatabaseRef, Spec, R: ReceiptBuilder> core::fmt::Debug
    for ParallaxBlockExecutor<'_, E, D, Spec, R>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParallaxBlockExecutor")
            .field("engine", &self.engine)
            .field("streaming_in_parallel", &self.streaming.is_running())
            .finish_non_exhaustive()
    }
}

impl<'a, E, D, Spec, R> ParallaxBlockExecutor<'a, E, D, Spec, R>
where
    D: DatabaseRef<Error: Send + Sync + 'static>,
    R: ReceiptBuilder,
{
    pub(crate) fn new(
        inner: EthBlockExecutor<'a, E, Spec, R>,
        engine: &'a ParallelExecutor,
        shared_state_run: Option<SharedStateRun<D>>,
        streamed: Option<StreamedBlock<D::Error>>,
    ) -> Self {
        Self {
            inner,
            engine,
            shared_state_run,
            streaming: Streaming::new(streamed),
            from_workers: 0,
            _database: PhantomData,
        }
    }

    /// The wrapped alloy-evm executor.
    pub const fn eth_executor(&self) -> &EthBlockExecutor<'a, E, Spec, R> {
        &self.inner
    }

    /// Whether the streamed transactions are running on the engine's workers now (false
    /// before the first, and after the executor went back to one transaction at a time).
    pub const fn streams_in_parallel(&self) -> bool {
        self.streaming.is_running()
    }

    /// How many of the streamed transactions so far got their results from the engine's
    /// parallel run (the others ran one at a time).
    pub const fn transactions_from_workers(&self) -> usize {
        self.from_workers
    }
}

impl<DB, I, D, Spec, R> ParallaxBlockExecutor<'_, EthEvm<DB, I, PrecompilesMap>, D, Spec, R>
where
    DB: StateDB,
    I: Inspector<EthEvmContext<DB>>,
    D: DatabaseRef + 'static,
    R: ReceiptBuilder,
{
    /// Whether [`BlockExecutor::execute_block`] will hand the block to the Parallax engine:
    /// the database is `State<D>`, no inspector is attached, and the workers can read the
    /// pre-state (`D` is `Sync`, or the context carries a [`StreamedBlock`]). A `State` that
    /// reads from the block's access list runs every transaction at once from the list. The
    /// streaming path runs on Block-STM under the same conditions, with a `StreamedBlock`,
    /// and one transaction at a time on a `State` that reads from a list. (The engine itself may still run a block sequentially when it
    /// is very small or one long dependency chain, per its
    /// [`ExecutionPolicy`](parallax_engine::ExecutionPolicy).)
    pub fn runs_parallel(&self) -> bool {
        let readable =
            self.shared_state_run.is_some() || matches!(self.streaming, Streaming::Ready(_));
        readable && usable_state::<DB, I, D>(&self.inner.evm).is_some()
    }
}

impl<'a, DB, I, D, Spec, R> BlockExecutor
    for ParallaxBlockExecutor<'a, EthEvm<DB, I, PrecompilesMap>, D, Spec, R>
where
    DB: StateDB,
    I: Inspector<EthEvmContext<DB>>,
    D: DatabaseRef<Error: Send + Sync + 'static> + 'static,
    Spec: EthExecutorSpec,
    R: ReceiptBuilder<Transaction: Transaction + Encodable2718, Receipt: TxReceipt<Log = Log>>,
    <R::Transaction as TransactionEnvelope>::TxType: Send + 'static,
    TxEnv: FromRecoveredTx<R::Transaction> + FromTxWithEncoded<R::Transaction>,
{
    type Transaction = R::Transaction;
    type Receipt = R::Receipt;
    type Evm = EthEvm<DB, I, PrecompilesMap>;
    type Result = EthTxResult<HaltReason, <R::Transaction as TransactionEnvelope>::TxType>;

    fn apply_pre_execution_changes(&mut self) -> Result<(), BlockExecutionError> {
        if self.streaming.is_running() {
            // Called again after transactions ran: whatever the client means, the run no
            // longer matches the state.
            self.streaming = Streaming::Off;
        }
        self.attribute_to(0);
        self.inner.apply_pre_execution_changes()?;
        self.start_streaming();
        Ok(())
    }

    fn execute_transaction_without_commit(
        &mut self,
        tx: impl ExecutableTx<Self>,
    ) -> Result<Self::Result, BlockExecutionError> {
        let (tx_env, recovered) = tx.into_parts();
        // A client that skips the pre-execution changes starts the run here.
        self.start_streaming();
        self.attribute_to(self.inner.receipts().len() + 1);
        match self.streaming.next(&tx_env) {
            Next::Output(output) => {
                self.from_workers += 1;
                Ok(tx_result(output, recovered.tx()))
            }
            Next::Failed(error) => Err(block_error(error, |_| recovered.tx().trie_hash())),
            Next::Sequential | Next::HereMeanwhile => self
                .inner
                .execute_transaction_without_commit((tx_env, recovered)),
        }
    }

    fn commit_transaction(&mut self, output: Self::Result) -> GasOutput {
        self.streaming.committed();
        self.attribute_to(self.inner.receipts().len() + 1);
        self.inner.commit_transaction(output)
    }

    fn finish(
        mut self,
    ) -> Result<(Self::Evm, BlockExecutionResult<R::Receipt>), BlockExecutionError> {
        self.attribute_to(self.inner.receipts().len() + 1);
        let Self {
            inner, streaming, ..
        } = self;
        // Stops the workers of a run the client did not take to the end.
        drop(streaming);
        inner.finish()
    }

    fn execute_transaction_with_index_and_result_closure(
        &mut self,
        tx: impl ExecutableTx<Self>,
        tx_index: usize,
        f: impl FnOnce(&Self::Result),
    ) -> Result<GasOutput, BlockExecutionError>
    where
        DB: BalIndexedDatabase,
    {
        // Not through `evm_mut`, which would drop a streaming run.
        self.inner.evm.db_mut().set_bal_index(tx_index as u64 + 1);
        self.execute_transaction_with_result_closure(tx, f)
    }

    fn evm_mut(&mut self) -> &mut Self::Evm {
        // Through the EVM the client can commit into `State` or change the environment,
        // which a running block would not see: from here on, one transaction at a time.
        self.streaming.stop();
        self.inner.evm_mut()
    }

    fn evm(&self) -> &Self::Evm {
        self.inner.evm()
    }

    fn receipts(&self) -> &[Self::Receipt] {
        self.inner.receipts()
    }

    fn execute_block(
        mut self,
        transactions: impl IntoIterator<Item = impl ExecutableTx<Self>>,
    ) -> Result<BlockExecutionResult<Self::Receipt>, BlockExecutionError> {
        // The whole block is here: no streaming run, whatever the context said.
        let streamed = match std::mem::replace(&mut self.streaming, Streaming::Off) {
            Streaming::Ready(streamed) => Some(streamed),
            _ => None,
        };
        self.attribute_to(0);
        self.inner.apply_pre_execution_changes()?;
        let (tx_envs, recovered): (Vec<TxEnv>, Vec<_>) = transactions
            .into_iter()
            .map(ExecutableTxParts::into_parts)
            .unzip();
        match self.run_whole_block(streamed, &tx_envs) {
            Some(output) => {
                let output = output
                    .map_err(|error| block_error(error, |i| recovered[i].tx().trie_hash()))?;
                for (index, (tx, recovered)) in
                    output.transactions.into_iter().zip(&recovered).enumerate()
                {
                    self.attribute_to(index + 1);
                    self.inner.commit_transaction(tx_result(tx, recovered.tx()));
                }
            }
            None => {
                for (index, tx) in tx_envs.into_iter().zip(recovered).enumerate() {
                    self.attribute_to(index + 1);
                    self.inner.execute_transaction(tx)?;
                }
            }
        }
        self.apply_post_execution_changes()
    }
}

impl<'a, DB, I, D, Spec, R> ParallaxBlockExecutor<'a, EthEvm<DB, I, PrecompilesMap>, D, Spec, R>
where
    DB: StateDB,
    I: Inspector<EthEvmContext<DB>>,
    D: DatabaseRef<Error: Send + Sync + 'static> + 'static,
    R: ReceiptBuilder,
{
    /// Attributes what is committed next, and what is read from a delivered list next, to
    /// EIP-7928 block access index `index` (0 for the pre-execution changes, `i + 1` for
    /// transaction `i`, `n + 1` after the last) when the `State` builds or reads the block's
    /// access list. The stock executor leaves this to its caller; the executor knows each
    /// transaction's position itself, on every path.
    fn attribute_to(&mut self, index: usize) {
        if let Some(state) = as_state_mut::<DB, D>(self.inner.evm.db_mut())
            && (state.bal_state.bal_builder.is_some() || state.bal_state.bal.is_some())
        {
            state.bal_state.bal_index = BlockAccessIndex::new(index as u64);
        }
    }

    /// Starts the streaming run when the list is known and it has not started.
    fn start_streaming(&mut self) {
        if !matches!(self.streaming, Streaming::Ready(_)) {
            return;
        }
        let evm = &self.inner.evm;
        let state = parallel_state::<DB, I, D>(evm);
        self.streaming
            .start(self.engine, state, evm.cfg_env(), evm.block());
    }

    /// Runs `txs` with the engine when the workers can read the pre-state (through the
    /// `State` when `D` is `Sync`, or through the streamed block's pre-state) and its policy
    /// gives them the parallel path. Otherwise `None`: the stock executor runs them, on the
    /// `State` directly, which costs less than running them in the engine and committing
    /// its outputs.
    fn run_whole_block(
        &self,
        streamed: Option<StreamedBlock<D::Error>>,
        txs: &[TxEnv],
    ) -> Option<Result<BlockOutput, ExecutionError<D::Error>>> {
        let evm = &self.inner.evm;
        let state = usable_state::<DB, I, D>(evm)?;
        // A `State` that reads from the block's access list: every transaction at once
        // from the list, whatever the policy says of Block-STM.
        let list = state.bal_state.bal.as_ref();
        let (cfg, block) = (evm.cfg_env(), evm.block());
        if let Some(run) = self.shared_state_run {
            return run(state, self.engine, cfg, block, txs, list);
        }
        let prestate = streamed?.prestate;
        match list {
            Some(list) => {
                let snapshot = StateSnapshot::beneath_list(state, prestate);
                Some(
                    self.engine
                        .execute_with_access_list(&snapshot, cfg, block, txs, list),
                )
            }
            None => {
                let snapshot = StateSnapshot::of(state, prestate)?;
                self.engine.execute_if_parallel(&snapshot, cfg, block, txs)
            }
        }
    }
}

/// The executor's `State<D>`, when it does not read from a block access list and no
/// inspector is attached: what the Block-STM paths need.
fn parallel_state<DB, I, D>(evm: &EthEvm<DB, I, PrecompilesMap>) -> Option<&State<D>>
where
    DB: StateDB,
    I: Inspector<EthEvmContext<DB>>,
    D: 'static,
{
    usable_state::<DB, I, D>(evm).filter(|state| state.bal_state.bal.is_none())
}

/// The executor's `State<D>`, when no inspector is attached and the block gas limit holds:
/// what every parallel path needs.
fn usable_state<DB, I, D>(evm: &EthEvm<DB, I, PrecompilesMap>) -> Option<&State<D>>
where
    DB: StateDB,
    I: Inspector<EthEvmContext<DB>>,
    D: 'static,
{
    if typeid::of::<I>() != TypeId::of::<NoOpInspector>() {
        return None;
    }
    // The engine always checks the block gas rule, as alloy-evm does.
    if evm.cfg_env().is_block_gas_limit_disabled() {
        return None;
    }
    as_state::<DB, D>(evm.components().0)
}

/// An engine output as the stock executor's result for the same transaction.
fn tx_result<Tx: Transaction + TransactionEnvelope>(
    output: TxOutput,
    tx: &Tx,
) -> EthTxResult<HaltReason, Tx::TxType> {
    EthTxResult {
        result: ResultAndState::new(output.result, output.state),
        blob_gas_used: tx.blob_gas_used().unwrap_or_default(),
        tx_type: tx.tx_type(),
    }
}

/// The error the stock executor reports for the same failure.
fn block_error<E>(
    error: ExecutionError<E>,
    hash_of: impl FnOnce(usize) -> alloy_primitives::B256,
) -> BlockExecutionError
where
    E: revm::database_interface::DBErrorMarker,
{
    match error {
        ExecutionError::BlockGasLimitExceeded {
            gas_limit,
            available,
            ..
        } => BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
            transaction_gas_limit: gas_limit,
            block_available_gas: available,
        }
        .into(),
        ExecutionError::Transaction { index, failure } => {
            let hash = hash_of(index);
            // As revm's `State` reports its database's errors to the stock executor.
            let error: EVMError<EvmDatabaseError<E>> = match failure {
                TxFailure::InvalidTransaction(error) => EVMError::Transaction(error),
                TxFailure::InvalidHeader(error) => EVMError::Header(error),
                TxFailure::Database(error) => EVMError::Database(EvmDatabaseError::Database(error)),
                TxFailure::Evm(message) => EVMError::Custom(message),
            };
            BlockExecutionError::evm(error, hash)
        }
        ExecutionError::Database { context, error } => {
            BlockExecutionError::msg(format!("database error while {context}: {error}"))
        }
        ExecutionError::AccessList { index, detail } => {
            BlockExecutionError::msg(format!("block access list, index {index}: {detail}"))
        }
        ExecutionError::ThreadPool(message) => BlockExecutionError::msg(message),
    }
}
