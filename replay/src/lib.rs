//! Replaying real Ethereum blocks through Parallax: loading recorded blocks in their three
//! forms (pre-state dumps, `eth_getProof` answers, execution witnesses) and checking the
//! results against the block header.

pub mod block;
pub mod fixtures;
pub mod load_error;
pub mod memory_db;
pub mod prestate;
pub mod rpc_block;

pub use block::{ReplayBlock, SourceKind};
pub use load_error::LoadError;
pub use memory_db::{Completeness, MemoryDb, MemoryDbError};
