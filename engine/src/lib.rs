//! Parallax engine: executes a block's transactions in parallel with Block-STM on revm, with
//! results identical, bit for bit, to executing them one after another with plain revm.
//!
//! ```no_run
//! # use parallax_engine::{ParallelExecutor, execute_sequential};
//! # use revm::{context::{BlockEnv, CfgEnv, TxEnv}, database::{CacheDB, EmptyDB}};
//! # use std::num::NonZeroUsize;
//! let db = CacheDB::new(EmptyDB::default());
//! let (cfg, block, txs) = (CfgEnv::default(), BlockEnv::default(), Vec::<TxEnv>::new());
//! let executor = ParallelExecutor::new(NonZeroUsize::new(4).unwrap()).unwrap();
//! let parallel = executor.execute(&db, &cfg, &block, &txs).unwrap();
//! assert_eq!(parallel, execute_sequential(&db, &cfg, &block, &txs).unwrap());
//! ```

//! # Where things are
//!
//! | module | what it holds |
//! |---|---|
//! | `policy` | [`ExecutionPolicy`]: when the parallel path is used, what it decides for a block before it runs ([`Plan`]), and when a run stops speculating |
//! | `executor` | [`ParallelExecutor`]: the entry point, and finishing a stopped run in order |
//! | `sequential` | [`execute_sequential`]: plain revm, the reference every result is checked against, and the in-order end of a block whose speculation stopped |
//! | `blockstm` | the Block-STM machinery: multi-version memory, the versioned database view, the worker, the scheduler, write sets, and the monitor that stops speculating when the chains found leave too little parallelism |
//! | `chain` | every Ethereum rule the engine relies on (fees and the London rule, EIP-161, the block gas limit, fork gates, known dependencies, the mainnet EVM), behind one seam |
//! | `access_list` | executing a block from its EIP-7928 access list: every transaction at once on the pre-state plus the list, then the list checked against what they did |
//! | `stream` | [`BlockStream`]: a block's outputs in order while it still runs, for clients that execute a block transaction by transaction |
//! | `assemble` | the in-order pass over the validated outcomes and the parallel build of the block's output |
//! | `output`, `state_diff`, `error` | what a run returns |
//! | `parallelism` | the analysis behind `parallax explain`: dependencies, critical path, hot locations |
//!
//! # Where a conflict is detected
//!
//! In two places, both in `blockstm::mv_memory`:
//! - **during execution**, when a read meets an *estimate* (`MvMemory::read` returns
//!   `MvRead::Blocked`): an earlier transaction is being re-executed and will probably write
//!   there again. The versioned database turns that into `VersionedDbError::Blocked`, the
//!   worker stops the execution (`Attempt::Blocked`), and the scheduler parks the transaction
//!   on the earlier one (`Scheduler::add_dependency`);
//! - **after execution**, when validation finds that a read would now see another write
//!   (`MvMemory::validate_reads`): the incarnation is aborted
//!   (`Scheduler::try_validation_abort`) and its writes become estimates
//!   (`MvMemory::convert_writes_to_estimates`).
//!
//! # A transaction's incarnations
//!
//! ```text
//!              next_task                      finish_execution
//! ReadyToExecute ───────► Executing ─────────────────────────────► Executed
//!      ▲                     │ read an estimate                       │ validation failed
//!      │ dependency done     ▼ (add_dependency)                       ▼ (try_validation_abort)
//!      └──────────────── Aborting ◄─────────────────────────────────── ┘
//!                  (incarnation + 1)
//! ```
//!
//! Each return to `ReadyToExecute` starts a new incarnation; a transaction's writes are
//! identified by its `Version` (transaction and incarnation), and a read stays valid while
//! the version it read from is still the one it would read.
//!
//! `Executed` becomes `Committed`, never to be aborted again, at the *commit frontier*: the
//! transaction just above a run of committed ones, once a validation begun there succeeds.
//! An execution that begins at the frontier reads only final values, so it is committed as
//! it finishes, with no validation and no read set kept: on one worker, every transaction.

mod access_list;
mod address_table;
mod assemble;
mod blockstm;
mod chain;
mod error;
mod executor;
mod location;
mod output;
mod parallelism;
mod policy;
mod prefetch;
mod sequential;
mod state_diff;
mod stream;

pub use blockstm::versioned_db::VersionedDbError;
pub use chain::warm_up;
pub use error::{ExecutionError, TxFailure};
pub use executor::ParallelExecutor;
pub use location::{Location, TxIdx};
pub use output::{BlockOutput, ExecutionStats, TxAccess, TxOutput};
pub use parallelism::{HotLocation, Parallelism};
pub use policy::{
    CHEAP_TX_GAS, CHEAP_TXS_MIN_THREADS, ExecutionPolicy, MIN_PARALLEL_GAS, MIN_PARALLEL_TXS,
    MIN_PARALLELISM, MIN_RUNTIME_PARALLELISM, Plan, SLOW_READS_THREADS_PER_CPU, SequentialBecause,
    StateReads,
};
pub use sequential::{
    execute_sequential, execute_sequential_after, execute_sequential_with_access_list,
};
pub use state_diff::{AccountDiff, StateDiff};
pub use stream::{BlockStream, StreamTransactions, Streamed};
