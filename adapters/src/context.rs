//! What a client tells the executor about a block before executing it: alloy-evm's context,
//! and, for the streaming path to run in parallel, the block's transactions and a handle on
//! the pre-state that worker threads can read.

use alloy_evm::{FromRecoveredTx, RecoveredTx, eth::EthBlockExecutionCtx};
use parallax_engine::StreamTransactions;
use revm::{DatabaseRef, context::TxEnv};
use std::sync::Arc;

/// The execution context of a [`ParallaxBlockExecutorFactory`](crate::ParallaxBlockExecutorFactory):
/// alloy-evm's [`EthBlockExecutionCtx`], plus the block's transactions when the client has
/// them before it executes the first (reth: in `ConfigureEvm::context_for_block`, which has
/// the sealed block).
///
/// Without [`StreamedBlock`], `execute_transaction` runs one transaction at a time exactly
/// like alloy-evm's `EthBlockExecutor`. With it, the first call starts the whole block on the
/// engine's workers and each call returns its transaction's result as soon as it is final.
#[derive(Debug)]
pub struct ParallaxExecutionCtx<'a, E> {
    /// alloy-evm's context: parent hash, beacon root, ommers, withdrawals, ...
    pub eth: EthBlockExecutionCtx<'a>,
    /// The block's transactions and the pre-state, for the streaming path.
    pub streamed: Option<StreamedBlock<E>>,
}

impl<E> Clone for ParallaxExecutionCtx<'_, E> {
    fn clone(&self) -> Self {
        Self {
            eth: self.eth.clone(),
            streamed: self.streamed.clone(),
        }
    }
}

impl<'a, E> ParallaxExecutionCtx<'a, E> {
    /// A context whose streaming path runs `streamed` in parallel.
    pub const fn streaming(eth: EthBlockExecutionCtx<'a>, streamed: StreamedBlock<E>) -> Self {
        Self {
            eth,
            streamed: Some(streamed),
        }
    }
}

impl<'a, E> From<EthBlockExecutionCtx<'a>> for ParallaxExecutionCtx<'a, E> {
    fn from(eth: EthBlockExecutionCtx<'a>) -> Self {
        Self {
            eth,
            streamed: None,
        }
    }
}

/// The pre-state as the engine's workers read it: any database all of them can read at once.
/// [`PerWorkerDatabase`](crate::PerWorkerDatabase) makes one from handles that cannot be
/// shared between threads.
pub type SharedPrestate<E> = Arc<dyn DatabaseRef<Error = E> + Send + Sync>;

/// A block known before its first transaction is executed: its transactions, in order, and
/// a second handle on the pre-state under the executor's `State` (the same snapshot: the
/// state after the parent block), for the engine's workers.
///
/// The executor checks every streamed transaction against this list; one that differs (or
/// one past its end) makes it drop the parallel run and continue one transaction at a time
/// from the exact state, with the same results.
pub struct StreamedBlock<E> {
    pub(crate) transactions: Transactions,
    /// The transactions' gas limits added up, for the policy's first look; `None` for
    /// transactions converted later (adding them up would cost a pass over the block on the
    /// client's thread, which the planning job makes anyway).
    pub(crate) total_gas_limit: Option<u64>,
    pub(crate) prestate: SharedPrestate<E>,
}

/// The block's transactions as revm environments, or what converts them.
#[derive(Clone)]
pub(crate) enum Transactions {
    Ready(Arc<[TxEnv]>),
    /// Converted on a worker when the block starts.
    Deferred {
        len: usize,
        convert: Arc<dyn Fn() -> Arc<[TxEnv]> + Send + Sync>,
    },
}

impl From<Transactions> for StreamTransactions {
    fn from(transactions: Transactions) -> Self {
        match transactions {
            Transactions::Ready(txs) => Self::Ready(txs),
            Transactions::Deferred { len, convert } => Self::Deferred {
                len,
                convert: Box::new(move || convert()),
            },
        }
    }
}

impl<E> Clone for StreamedBlock<E> {
    fn clone(&self) -> Self {
        Self {
            transactions: self.transactions.clone(),
            total_gas_limit: self.total_gas_limit,
            prestate: Arc::clone(&self.prestate),
        }
    }
}

impl<E> StreamedBlock<E> {
    /// The block's transactions as revm environments, and the pre-state.
    pub fn new(
        transactions: impl IntoIterator<Item = TxEnv>,
        prestate: impl DatabaseRef<Error = E> + Send + Sync + 'static,
    ) -> Self {
        Self::with_shared_prestate(transactions, Arc::new(prestate))
    }

    /// Like [`Self::new`], with a pre-state already behind an `Arc`.
    pub fn with_shared_prestate(
        transactions: impl IntoIterator<Item = TxEnv>,
        prestate: SharedPrestate<E>,
    ) -> Self {
        let transactions: Arc<[TxEnv]> = transactions.into_iter().collect();
        Self {
            total_gas_limit: Some(
                transactions
                    .iter()
                    .fold(0, |sum, tx| sum.saturating_add(tx.gas_limit)),
            ),
            transactions: Transactions::Ready(transactions),
            prestate,
        }
    }

    /// The block's recovered transactions, held by reference count (a client that keeps
    /// its block behind an `Arc` hands it over for nothing), and the pre-state. They are
    /// converted to revm's environments on a worker when the block starts, so that the
    /// first receipt does not wait for that.
    pub fn from_shared_recovered<Tx, T>(
        transactions: Arc<[T]>,
        prestate: impl DatabaseRef<Error = E> + Send + Sync + 'static,
    ) -> Self
    where
        T: RecoveredTx<Tx> + Send + Sync + 'static,
        TxEnv: FromRecoveredTx<Tx>,
    {
        let len = transactions.len();
        let convert = move || {
            transactions
                .iter()
                .map(|tx| TxEnv::from_recovered_tx(tx.tx(), *tx.signer()))
                .collect()
        };
        Self {
            transactions: Transactions::Deferred {
                len,
                convert: Arc::new(convert),
            },
            total_gas_limit: None,
            prestate: Arc::new(prestate),
        }
    }

    /// The block's recovered transactions (what `execute_transaction` will be given), and
    /// the pre-state.
    pub fn from_recovered<Tx, T>(
        transactions: impl IntoIterator<Item = T>,
        prestate: impl DatabaseRef<Error = E> + Send + Sync + 'static,
    ) -> Self
    where
        T: RecoveredTx<Tx>,
        TxEnv: FromRecoveredTx<Tx>,
    {
        let transactions = transactions
            .into_iter()
            .map(|tx| TxEnv::from_recovered_tx(tx.tx(), *tx.signer()));
        Self::new(transactions, prestate)
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        match &self.transactions {
            Transactions::Ready(txs) => txs.len(),
            Transactions::Deferred { len, .. } => *len,
        }
    }

    /// Whether the block has no transactions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<E> std::fmt::Debug for StreamedBlock<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedBlock")
            .field("transactions", &self.len())
            .finish_non_exhaustive()
    }
}
