//! Parallax as a drop-in block executor behind alloy-evm's `BlockExecutorFactory` /
//! `BlockExecutor` traits, the seam through which reth-like clients plug in executors.
//!
//! # What a client provides
//!
//! Keep the state in revm's `State<D>` (as reth does) and create the factory for that `D`:
//! with [`ParallaxBlockExecutorFactory::new`] when `D` is `DatabaseRef + Sync` (the workers
//! read the client's `State` directly), or with [`ParallaxBlockExecutorFactory::per_worker`]
//! when it is only `Send` (a database read transaction; the workers then read the pre-state
//! through a [`StreamedBlock`]'s handle, one per worker with [`PerWorkerDatabase`]). Where the
//! client builds the execution context for a block, it hands over the block's transactions in
//! a [`StreamedBlock`] ([`ParallaxExecutionCtx::streaming`]). Everything else is unchanged:
//! the executor is created, driven and finished exactly like alloy-evm's `EthBlockExecutor`.
//!
//! - `execute_block` runs the block's transactions in parallel (see
//!   [`ParallaxBlockExecutor::runs_parallel`] for when that applies).
//! - `execute_transaction` per transaction, then `finish` (reth's engine tree), runs the block
//!   in parallel in the background when the context carries its transactions, and returns
//!   each transaction's result as soon as it is final; without them, one transaction at a
//!   time. The result is the stock executor's either way.

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
