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

mod account_effect;
mod assemble;
mod beneficiary;
mod block_gas;
mod busy_recipient;
mod credited_account;
mod error;
mod executor;
mod increments;
mod known_dependencies;
mod location;
mod mv_memory;
mod output;
mod parallelism;
mod scheduler;
mod sequential;
mod state_diff;
mod value;
mod versioned_db;
mod worker;
mod write_set;

pub use error::{ExecutionError, TxFailure};
pub use executor::{
    ExecutionPolicy, MIN_PARALLEL_GAS, MIN_PARALLEL_TXS, MIN_PARALLELISM, ParallelExecutor,
};
pub use location::{Location, TxIdx};
pub use output::{BlockOutput, ExecutionStats, TxAccess, TxOutput};
pub use parallelism::{HotLocation, Parallelism};
pub use sequential::execute_sequential;
pub use state_diff::{AccountDiff, StateDiff};
pub use versioned_db::VersionedDbError;
