//! Replaying real Ethereum blocks through Parallax: loading recorded blocks in their three
//! forms (pre-state dumps, `eth_getProof` answers, execution witnesses) and checking the
//! results against the block header.

pub mod block;
pub mod checks;
pub mod consensus;
pub mod discover;
pub mod execute;
pub mod explain;
pub mod fixtures;
pub mod load_error;
pub mod memory_db;
pub mod pre_state;
pub mod prestate;
pub mod proofs;
pub mod remote_state;
pub mod replay;
pub mod rpc;
pub mod rpc_block;
pub mod state_root;
pub mod trie_db;
pub mod trie_nodes;
pub mod witness;

pub use block::{ReplayBlock, SourceKind};
pub use load_error::LoadError;
pub use memory_db::{Completeness, MemoryDb};
pub use pre_state::{PreState, PreStateError};
