//! The Ethereum consensus tests (BlockchainTests), run through the parallel executor.

pub mod chain_spec;
pub mod fixture;
pub mod header_rules;
pub mod rejection;
pub mod runner;
pub mod skips;
pub mod sources;
pub mod world_state;

pub use runner::{Executor, Verdict, run_test};
