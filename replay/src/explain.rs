//! Why a block did or did not parallelize: its transactions run through the engine with
//! their read and write sets recorded, after the block's system calls, exactly as a client
//! executes them, and the longest chain of real dependencies among them.

use crate::{
    execution::{ReplayDb, execution_ctx},
    recorded_block::ReplayBlock,
};
use alloy_evm::{
    Evm, EvmFactory,
    block::{BlockExecutionError, BlockExecutor, BlockExecutorFactory},
    eth::{
        EthBlockExecutorFactory, EthEvmFactory, receipt_builder::AlloyReceiptBuilder, spec::EthSpec,
    },
};
use parallax_adapters::StateView;
use parallax_engine::{ExecutionPolicy, ParallelExecutor, Parallelism};
use revm::database::State;
use std::{num::NonZeroUsize, sync::Arc};

/// The analysis of one block.
#[derive(Debug)]
pub struct Explanation {
    /// Block number.
    pub number: u64,
    /// Transactions.
    pub txs: usize,
    /// Dependencies, critical path and hot locations.
    pub parallelism: Parallelism,
    /// What the default policy does with the block on the explainer's threads.
    pub default_policy: PolicyDecision,
}

/// What [`ExecutionPolicy::Auto`] did with a block, and why.
#[derive(Debug, Clone)]
pub struct PolicyDecision {
    /// Worker threads it had.
    pub threads: usize,
    /// The decision before execution, with its reason.
    pub plan: String,
    /// The path the run took: `parallel`, `sequential` or `mixed`.
    pub path: &'static str,
    /// Where a mixed run continued in order.
    pub in_order_from: Option<usize>,
    /// Why it stopped speculating, when it did.
    pub switch_reason: Option<String>,
}

/// Why a block could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The worker threads could not start.
    #[error("cannot start the worker threads: {0}")]
    Threads(String),
    /// The system calls before the transactions failed.
    #[error("block {block}: pre-execution changes failed: {error}")]
    PreExecution {
        /// Block number.
        block: u64,
        /// What failed.
        error: BlockExecutionError,
    },
    /// A transaction could not execute.
    #[error("block {block}: {error}")]
    Execution {
        /// Block number.
        block: u64,
        /// What failed.
        error: String,
    },
    /// The transactions used other gas than the header says: the analysis would describe
    /// some other execution than the block's.
    #[error("block {block}: transactions used {executed} gas but the header has {header}")]
    GasMismatch {
        /// Block number.
        block: u64,
        /// Gas the execution used.
        executed: u64,
        /// Gas the header records.
        header: u64,
    },
}

/// Runs blocks through the parallel engine with read and write sets recorded.
#[derive(Debug)]
pub struct Explainer {
    factory: EthBlockExecutorFactory<AlloyReceiptBuilder, EthSpec, EthEvmFactory>,
    engine: ParallelExecutor,
    /// The same threads under the default policy, to show what a client's executor does.
    auto: ParallelExecutor,
}

impl Explainer {
    /// An explainer whose engine runs on `threads` workers (the dependencies it finds do not
    /// depend on the thread count).
    pub fn new(threads: NonZeroUsize) -> Result<Self, ExplainError> {
        Ok(Self {
            factory: EthBlockExecutorFactory::new(
                AlloyReceiptBuilder::default(),
                EthSpec::mainnet(),
                EthEvmFactory::default(),
            ),
            engine: ParallelExecutor::new(threads)
                .map_err(|error| ExplainError::Threads(error.to_string()))?
                .with_policy(ExecutionPolicy::AlwaysParallel)
                .with_access_sets(true),
            auto: ParallelExecutor::new(threads)
                .map_err(|error| ExplainError::Threads(error.to_string()))?,
        })
    }

    /// Executes `block`'s transactions in parallel and analyses their dependencies.
    pub fn explain(&self, block: &ReplayBlock) -> Result<Explanation, ExplainError> {
        let number = block.number();
        let mut state: State<ReplayDb> = State::builder()
            .with_database_ref(Arc::clone(&block.pre_state))
            .build();
        let evm = self
            .factory
            .evm_factory()
            .create_evm(&mut state, block.evm_env());
        let mut executor = self.factory.create_executor(evm, execution_ctx(block));
        executor
            .apply_pre_execution_changes()
            .map_err(|error| ExplainError::PreExecution {
                block: number,
                error,
            })?;
        let evm = executor.evm();
        let view = StateView::new(&**evm.components().0)
            .expect("a plain State without a block access list");
        let txs = block.tx_envs();
        let execution_error = |error: parallax_engine::ExecutionError<_>| ExplainError::Execution {
            block: number,
            error: error.to_string(),
        };
        let output = self
            .engine
            .execute(&view, evm.cfg_env(), evm.block(), &txs)
            .map_err(execution_error)?;
        let auto = self
            .auto
            .execute(&view, evm.cfg_env(), evm.block(), &txs)
            .map_err(execution_error)?;
        let default_policy = PolicyDecision {
            threads: self.auto.threads().get(),
            plan: self.auto.plan(&txs).to_string(),
            path: auto.stats.path(),
            in_order_from: auto.stats.in_order_from,
            switch_reason: auto.stats.switch_reason,
        };
        if output.gas_used != block.header.gas_used {
            return Err(ExplainError::GasMismatch {
                block: number,
                executed: output.gas_used,
                header: block.header.gas_used,
            });
        }
        let gas: Vec<u64> = output
            .transactions
            .iter()
            .map(|tx| tx.result.tx_gas_used())
            .collect();
        let access = output.access.expect("the engine records access sets");
        Ok(Explanation {
            number,
            txs: gas.len(),
            parallelism: Parallelism::analyse(&access, &gas),
            default_policy,
        })
    }
}
