//! The executor factory a client plugs in where it would use alloy-evm's
//! `EthBlockExecutorFactory`.

use crate::executor::ParallaxBlockExecutor;
use alloy_consensus::{Transaction, TransactionEnvelope, TxReceipt};
use alloy_eips::Encodable2718;
use alloy_evm::{
    EthEvm, EthEvmFactory, FromRecoveredTx, FromTxWithEncoded,
    block::{BlockExecutorFactory, StateDB},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmContext, EthTxResult,
        receipt_builder::{AlloyReceiptBuilder, ReceiptBuilder},
        spec::{EthExecutorSpec, EthSpec},
    },
    precompiles::PrecompilesMap,
};
use alloy_primitives::Log;
use core::marker::PhantomData;
use parallax_engine::ParallelExecutor;
use revm::{DatabaseRef, Inspector, context::TxEnv, context_interface::result::HaltReason};
use std::{fmt, sync::Arc};

/// A `BlockExecutorFactory` whose executors run whole blocks with the Parallax engine.
///
/// `D` is the database type the client keeps under revm's `State`; it must be
/// `DatabaseRef + Sync` so that worker threads can read it together. See
/// [`ParallaxBlockExecutor`] for which paths run in parallel.
pub struct ParallaxBlockExecutorFactory<D, R = AlloyReceiptBuilder, Spec = EthSpec> {
    eth: EthBlockExecutorFactory<R, Spec, EthEvmFactory>,
    engine: Arc<ParallelExecutor>,
    _database: PhantomData<fn() -> D>,
}

impl<D, R: fmt::Debug, Spec: fmt::Debug> fmt::Debug for ParallaxBlockExecutorFactory<D, R, Spec> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParallaxBlockExecutorFactory")
            .field("eth", &self.eth)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl<D, R: Clone, Spec: Clone> Clone for ParallaxBlockExecutorFactory<D, R, Spec> {
    fn clone(&self) -> Self {
        Self {
            eth: self.eth.clone(),
            engine: Arc::clone(&self.engine),
            _database: PhantomData,
        }
    }
}

impl<D> ParallaxBlockExecutorFactory<D> {
    /// Ethereum mainnet rules with alloy's receipt builder.
    pub fn mainnet(engine: ParallelExecutor) -> Self {
        Self::new(AlloyReceiptBuilder::default(), EthSpec::mainnet(), engine)
    }
}

impl<D, R, Spec> ParallaxBlockExecutorFactory<D, R, Spec> {
    /// A factory for the chain `spec`, building receipts with `receipt_builder` and running
    /// blocks on `engine`.
    pub fn new(receipt_builder: R, spec: Spec, engine: ParallelExecutor) -> Self {
        Self::with_shared_engine(receipt_builder, spec, Arc::new(engine))
    }

    /// Like [`Self::new`], sharing an engine (and its worker threads) with other factories.
    pub fn with_shared_engine(
        receipt_builder: R,
        spec: Spec,
        engine: Arc<ParallelExecutor>,
    ) -> Self {
        Self {
            eth: EthBlockExecutorFactory::new(receipt_builder, spec, EthEvmFactory::default()),
            engine,
            _database: PhantomData,
        }
    }

    /// The chain specification.
    pub const fn spec(&self) -> &Spec {
        self.eth.spec()
    }

    /// The parallel engine.
    pub fn engine(&self) -> &ParallelExecutor {
        &self.engine
    }
}

impl<D, R, Spec> BlockExecutorFactory for ParallaxBlockExecutorFactory<D, R, Spec>
where
    D: DatabaseRef + Sync + 'static,
    D::Error: Send,
    R: ReceiptBuilder<Transaction: Transaction + Encodable2718, Receipt: TxReceipt<Log = Log>>
        + 'static,
    Spec: EthExecutorSpec + 'static,
    <R::Transaction as TransactionEnvelope>::TxType: Send + 'static,
    TxEnv: FromRecoveredTx<R::Transaction> + FromTxWithEncoded<R::Transaction>,
{
    type EvmFactory = EthEvmFactory;
    type ExecutionCtx<'a> = EthBlockExecutionCtx<'a>;
    type Transaction = R::Transaction;
    type Receipt = R::Receipt;
    type TxExecutionResult =
        EthTxResult<HaltReason, <R::Transaction as TransactionEnvelope>::TxType>;
    type Executor<'a, DB: StateDB, I: Inspector<EthEvmContext<DB>>> =
        ParallaxBlockExecutor<'a, EthEvm<DB, I, PrecompilesMap>, D, &'a Spec, &'a R>;

    fn evm_factory(&self) -> &Self::EvmFactory {
        self.eth.evm_factory()
    }

    fn create_executor<'a, DB, I>(
        &'a self,
        evm: EthEvm<DB, I, PrecompilesMap>,
        ctx: Self::ExecutionCtx<'a>,
    ) -> Self::Executor<'a, DB, I>
    where
        DB: StateDB,
        I: Inspector<EthEvmContext<DB>>,
    {
        ParallaxBlockExecutor::new(self.eth.create_executor(evm, ctx), &self.engine)
    }
}
