//! The block executor: alloy-evm's `EthBlockExecutor` for everything around the
//! transactions, and the parallel engine for the transactions of a whole block.

use crate::{shared_state::as_state, state_view::StateView};
use alloy_consensus::{Transaction, TransactionEnvelope, TxReceipt};
use alloy_eips::Encodable2718;
use alloy_evm::{
    EthEvm, Evm, FromRecoveredTx, FromTxWithEncoded, RecoveredTx,
    block::{
        BlockExecutionError, BlockExecutionResult, BlockExecutor, BlockValidationError,
        ExecutableTx, ExecutableTxParts, GasOutput, StateDB,
    },
    eth::{
        EthBlockExecutor, EthEvmContext, EthTxResult, receipt_builder::ReceiptBuilder,
        spec::EthExecutorSpec,
    },
    precompiles::PrecompilesMap,
};
use alloy_primitives::Log;
use core::{any::TypeId, marker::PhantomData};
use parallax_engine::{ExecutionError, ParallelExecutor, TxFailure};
use revm::{
    DatabaseRef, Inspector,
    context::TxEnv,
    context_interface::result::{EVMError, HaltReason, ResultAndState},
    inspector::NoOpInspector,
};

/// A block executor that runs a whole block's transactions in parallel.
///
/// - [`BlockExecutor::execute_block`] runs the transactions with the Parallax engine when the
///   executor's database is revm's `State<D>` (or `&mut State<D>`) over the factory's
///   database type `D`, and no inspector is attached. Otherwise it runs them one by one,
///   exactly as alloy-evm's `EthBlockExecutor` does.
/// - [`BlockExecutor::execute_transaction`] (streaming) always runs sequentially.
///
/// Either way, system calls, receipts, requests, withdrawals, rewards and the DAO fork come
/// from alloy-evm's `EthBlockExecutor`, and every transaction's changes are committed into
/// the `State` in block order, so the caller gets the same `BundleState` as from the stock
/// executor.
pub struct ParallaxBlockExecutor<'a, E, D, Spec, R: ReceiptBuilder> {
    inner: EthBlockExecutor<'a, E, Spec, R>,
    engine: &'a ParallelExecutor,
    _database: PhantomData<fn() -> D>,
}

impl<E, D, Spec, R: ReceiptBuilder> core::fmt::Debug for ParallaxBlockExecutor<'_, E, D, Spec, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParallaxBlockExecutor")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl<'a, E, D, Spec, R: ReceiptBuilder> ParallaxBlockExecutor<'a, E, D, Spec, R> {
    pub(crate) const fn new(
        inner: EthBlockExecutor<'a, E, Spec, R>,
        engine: &'a ParallelExecutor,
    ) -> Self {
        Self {
            inner,
            engine,
            _database: PhantomData,
        }
    }

    /// The wrapped alloy-evm executor.
    pub const fn eth_executor(&self) -> &EthBlockExecutor<'a, E, Spec, R> {
        &self.inner
    }
}

impl<DB, I, D, Spec, R> ParallaxBlockExecutor<'_, EthEvm<DB, I, PrecompilesMap>, D, Spec, R>
where
    DB: StateDB,
    I: Inspector<EthEvmContext<DB>>,
    D: DatabaseRef + Sync + 'static,
    R: ReceiptBuilder,
{
    /// Whether [`BlockExecutor::execute_block`] will hand the block to the Parallax engine:
    /// the database is `State<D>` without a block access list, and no inspector is
    /// attached. (The engine itself may still run a block sequentially when it is very small
    /// or one long dependency chain, per its
    /// [`ExecutionPolicy`](parallax_engine::ExecutionPolicy).)
    pub fn runs_parallel(&self) -> bool {
        typeid::of::<I>() == TypeId::of::<NoOpInspector>()
            && as_state::<DB, D>(self.inner.evm.components().0)
                .and_then(StateView::new)
                .is_some()
    }
}

impl<'a, DB, I, D, Spec, R> BlockExecutor
    for ParallaxBlockExecutor<'a, EthEvm<DB, I, PrecompilesMap>, D, Spec, R>
where
    DB: StateDB,
    I: Inspector<EthEvmContext<DB>>,
    D: DatabaseRef + Sync + 'static,
    D::Error: Send,
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
        self.inner.apply_pre_execution_changes()
    }

    fn execute_transaction_without_commit(
        &mut self,
        tx: impl ExecutableTx<Self>,
    ) -> Result<Self::Result, BlockExecutionError> {
        self.inner
            .execute_transaction_without_commit(tx.into_parts())
    }

    fn commit_transaction(&mut self, output: Self::Result) -> GasOutput {
        self.inner.commit_transaction(output)
    }

    fn finish(self) -> Result<(Self::Evm, BlockExecutionResult<R::Receipt>), BlockExecutionError> {
        self.inner.finish()
    }

    fn evm_mut(&mut self) -> &mut Self::Evm {
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
        self.apply_pre_execution_changes()?;
        let transactions: Vec<_> = transactions
            .into_iter()
            .map(ExecutableTxParts::into_parts)
            .collect();
        if self.runs_parallel() {
            self.execute_parallel(transactions)?;
        } else {
            for tx in transactions {
                self.inner.execute_transaction(tx)?;
            }
        }
        self.apply_post_execution_changes()
    }
}

impl<DB, I, D, Spec, R> ParallaxBlockExecutor<'_, EthEvm<DB, I, PrecompilesMap>, D, Spec, R>
where
    DB: StateDB,
    I: Inspector<EthEvmContext<DB>>,
    D: DatabaseRef + Sync + 'static,
    D::Error: Send,
    Spec: EthExecutorSpec,
    R: ReceiptBuilder<Transaction: Transaction + Encodable2718, Receipt: TxReceipt<Log = Log>>,
    <R::Transaction as TransactionEnvelope>::TxType: Send + 'static,
    TxEnv: FromRecoveredTx<R::Transaction> + FromTxWithEncoded<R::Transaction>,
{
    /// Executes every transaction with the engine over a shared view of the state, then
    /// commits each one's changes, in order, through the stock executor.
    fn execute_parallel<T: RecoveredTx<R::Transaction>>(
        &mut self,
        transactions: Vec<(TxEnv, T)>,
    ) -> Result<(), BlockExecutionError> {
        let (tx_envs, recovered): (Vec<TxEnv>, Vec<T>) = transactions.into_iter().unzip();
        let evm = &self.inner.evm;
        let state = as_state::<DB, D>(evm.components().0).expect("checked by runs_parallel");
        let view = StateView::new(state).expect("checked by runs_parallel");
        let output = self
            .engine
            .execute(&view, evm.cfg_env(), evm.block(), &tx_envs)
            .map_err(|error| block_error(error, &recovered))?;
        for (tx, recovered) in output.transactions.into_iter().zip(&recovered) {
            let tx_result = EthTxResult {
                result: ResultAndState::new(tx.result, tx.state),
                blob_gas_used: recovered.tx().blob_gas_used().unwrap_or_default(),
                tx_type: recovered.tx().tx_type(),
            };
            self.inner.commit_transaction(tx_result);
        }
        Ok(())
    }
}

/// The error the stock executor reports for the same failure.
fn block_error<E, Tx, T>(error: ExecutionError<E>, transactions: &[T]) -> BlockExecutionError
where
    E: revm::database_interface::DBErrorMarker,
    Tx: Encodable2718,
    T: RecoveredTx<Tx>,
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
            let hash = transactions[index].tx().trie_hash();
            let error: EVMError<E> = match failure {
                TxFailure::InvalidTransaction(error) => EVMError::Transaction(error),
                TxFailure::InvalidHeader(error) => EVMError::Header(error),
                TxFailure::Database(error) => EVMError::Database(error),
                TxFailure::Evm(message) => EVMError::Custom(message),
            };
            BlockExecutionError::evm(error, hash)
        }
        ExecutionError::Database { context, error } => {
            BlockExecutionError::msg(format!("database error while {context}: {error}"))
        }
        ExecutionError::ThreadPool(message) => BlockExecutionError::msg(message),
    }
}
