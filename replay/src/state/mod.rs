//! The state a recorded block starts from, behind the one type the executors read,
//! `PreState`: in memory (pre-state dumps), over trie nodes (proofs
//! and witnesses), or fetched from a node's RPC as execution reads it.
//!
//! Layered bottom-up: `pre_state_error` ← the backends `memory_db`, `trie_db` and
//! `remote_state` ← `pre_state`.

pub(crate) mod memory_db;
pub(crate) mod pre_state;
pub(crate) mod pre_state_error;
pub(crate) mod remote_state;
pub(crate) mod trie_db;
