//! The executor factory a client plugs in where it would use alloy-evm's
//! `EthBlockExecutorFactory`.

use crate::{
    context::ParallaxExecutionCtx,
    executor::{ParallaxBlockExecutor, SharedStateRun, run_on_shared_state},
};
use alloy_consensus::{Transaction, TransactionEnvelope, TxReceipt};
use alloy_eips::Encodable2718;
use alloy_evm::{
    EthEvm, EthEvmFactory, FromRecoveredTx, FromTxWithEncoded,
    block::{BlockExecutorFactory, StateDB},
    eth::{
        EthBlockExecutorFactory, EthEvmContext, EthTxResult,
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

/// A `BlockExecutorFactory` whose executors run blocks with the Parallax engine.
///
/// `D` is the database type the client keeps under revm's `State`. Two models:
/// - `D: DatabaseRef + Sync` ([`Self::new`], [`Self::mainnet`]): worker threads read the
///   client's `State` and its database together, so `execute_block` runs in parallel as it
///   is; the streaming path does once the context carries a
///   [`StreamedBlock`](crate::StreamedBlock).
/// - any `D: DatabaseRef` ([`Self::per_worker`], [`Self::mainnet_per_worker`]), such as a
///   database read transaction that belongs to one thread: both paths run in parallel when
///   the context carries a [`StreamedBlock`](crate::StreamedBlock), whose pre-state the
///   workers read (one handle each with [`PerWorkerDatabase`](crate::PerWorkerDatabase)).
///
/// See [`ParallaxBlockExecutor`] for which paths run in parallel.
pub struct ParallaxBlockExecutorFactory<D: DatabaseRef, R = AlloyReceiptBuilder, Spec = EthSpec> {
    eth: EthBlockExecutorFactory<R, Spec, EthEvmFactory>,
    engine: Arc<ParallelExecutor>,
    shared_state_run: Option<SharedStateRun<D>>,
    _database: PhantomData<fn() -> D>,
}

impl<D: DatabaseRef, R: fmt::Debug, Spec: fmt::Debug> fmt::Debug
    for ParallaxBlockExecutorFactory<D, R, Spec>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParallaxBlockExecutorFactory")
            .field("eth", &self.eth)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl<D: DatabaseRef, R: Clone, Spec: Clone> Clone for ParallaxBlockExecutorFactory<D, R, Spec> {
    fn clone(&self) -> Self {
        Self {
            eth: self.eth.clone(),
            engine: Arc::clone(&self.engine),
            shared_state_run: self.shared_state_run,
            _database: PhantomData,
        }
    }
}

impl<D: DatabaseRef<Error: Send> + Sync> ParallaxBlockExecutorFactory<D> {
    /// Ethereum mainnet rules with alloy's receipt builder, over a database the workers
    /// share.
    pub fn mainnet(engine: ParallelExecutor) -> Self {
        Self::new(AlloyReceiptBuilder::default(), EthSpec::mainnet(), engine)
    }
}

impl<D: DatabaseRef> ParallaxBlockExecutorFactory<D> {
    /// Ethereum mainnet rules with alloy's receipt builder, over a database that worker
    /// threads cannot share (see [`Self::per_worker`]).
    pub fn mainnet_per_worker(engine: ParallelExecutor) -> Self {
        Self::per_worker(AlloyReceiptBuilder::default(), EthSpec::mainnet(), engine)
    }
}

impl<D: DatabaseRef<Error: Send> + Sync, R, Spec> ParallaxBlockExecutorFactory<D, R, Spec> {
    /// A factory for the chain `spec`, building receipts with `receipt_builder` and running
    /// blocks on `engine`, whose workers read the client's `State` directly.
    pub fn new(receipt_builder: R, spec: Spec, engine: ParallelExecutor) -> Self {
        Self::with_shared_engine(receipt_builder, spec, Arc::new(engine))
    }

    /// Like [`Self::new`], sharing an engine (and its worker threads) with other factories.
    pub fn with_shared_engine(
        receipt_builder: R,
        spec: Spec,
        engine: Arc<ParallelExecutor>,
    ) -> Self {
        let mut factory = Self::per_worker_with_shared_engine(receipt_builder, spec, engine);
        factory.shared_state_run = Some(run_on_shared_state::<D>);
        factory
    }
}

impl<D: DatabaseRef, R, Spec> ParallaxBlockExecutorFactory<D, R, Spec> {
    /// A factory for a database the workers cannot share: blocks run in parallel only
    /// when their context carries a [`StreamedBlock`](crate::StreamedBlock), whose
    /// pre-state the workers read; otherwise one transaction at a time.
    pub fn per_worker(receipt_builder: R, spec: Spec, engine: ParallelExecutor) -> Self {
        Self::per_worker_with_shared_engine(receipt_builder, spec, Arc::new(engine))
    }

    /// Like [`Self::per_worker`], sharing an engine with other factories.
    pub fn per_worker_with_shared_engine(
        receipt_builder: R,
        spec: Spec,
        engine: Arc<ParallelExecutor>,
    ) -> Self {
        Self {
            eth: EthBlockExecutorFactory::new(receipt_builder, spec, EthEvmFactory::default()),
            engine,
            shared_state_run: None,
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
    D: DatabaseRef<Error: Send + Sync + 'static> + 'static,
    R: ReceiptBuilder<Transaction: Transaction + Encodable2718, Receipt: TxReceipt<Log = Log>>
        + 'static,
    Spec: EthExecutorSpec + 'static,
    <R::Transaction as TransactionEnvelope>::TxType: Send + 'static,
    TxEnv: FromRecoveredTx<R::Transaction> + FromTxWithEncoded<R::Transaction>,
{
    type EvmFactory = EthEvmFactory;
    type ExecutionCtx<'a> = ParallaxExecutionCtx<'a, D::Error>;
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
        let ParallaxExecutionCtx { eth, streamed } = ctx;
        ParallaxBlockExecutor::new(
            self.eth.create_executor(evm, eth),
            &self.engine,
            self.shared_state_run,
            streamed,
        )
    }
}
