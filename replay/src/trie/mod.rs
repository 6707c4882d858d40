//! The state root, which is what replaying a block exists to check: recorded trie nodes,
//! reading and updating tries over them, `eth_getProof` verification, the post-block root of
//! a recorded pre-state and the root of a complete state. One trie library: alloy-trie.
//!
//! Layered bottom-up: `node_store` ← `sparse_trie` ← `state_trie` ←
//! `proof_verification`, `post_state_root`; `account_leaf` ← `complete_state_root`.

pub(crate) mod account_leaf;
pub(crate) mod complete_state_root;
pub(crate) mod node_store;
pub(crate) mod post_state_root;
pub(crate) mod proof_verification;
pub(crate) mod sparse_trie;
pub(crate) mod state_trie;
