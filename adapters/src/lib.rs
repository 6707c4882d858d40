//! Parallax as a drop-in block executor behind alloy-evm's `BlockExecutorFactory` /
//! `BlockExecutor` traits, the seam through which reth-like clients plug in executors.
//!
//! # What a client provides
//!
//! Keep the state in revm's `State<D>` (as reth does), where `D` is your database and is
//! `DatabaseRef + Sync` (worker threads read it at the same time), and create the factory
//! for that `D`. Everything else is unchanged: the executor is created, driven and finished
//! exactly like alloy-evm's `EthBlockExecutor`.
//!
//! - `execute_block` runs the block's transactions in parallel (see
//!   [`ParallaxBlockExecutor::runs_parallel`] for when that applies).
//! - `execute_transaction` followed by `finish` runs them one by one, with the same result.

mod context;
mod executor;
mod factory;
mod per_worker;
mod shared_state;
mod snapshot;
mod state_view;
mod streaming;

pub use context::{ParallaxExecutionCtx, SharedPrestate, StreamedBlock};
pub use executor::ParallaxBlockExecutor;
pub use factory::ParallaxBlockExecutorFactory;
pub use per_worker::PerWorkerDatabase;
pub use state_view::StateView;
