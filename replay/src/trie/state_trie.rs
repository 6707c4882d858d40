//! Reading accounts and storage slots through recorded trie nodes from one state root: every
//! value read is authenticated by the root.

use super::{node_store::TrieNodes, sparse_trie::SparseTrie, sparse_trie::TrieError};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_rlp::Decodable;
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};

/// A read the recorded trie nodes cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrieReadError {
    /// The path to the value runs through a node the recording lacks.
    #[error("trie node {node} needed to read {what} is not in the recorded data")]
    MissingNode {
        /// Hash of the node that is missing.
        node: B256,
        /// What was being read.
        what: String,
    },
    /// A trie node or leaf does not decode.
    #[error("malformed trie data while reading {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: String,
        /// The decoder's complaint.
        reason: String,
    },
}

impl TrieReadError {
    fn new(error: TrieError, what: impl FnOnce() -> String) -> Self {
        match error {
            TrieError::MissingNode(node) => Self::MissingNode { node, what: what() },
            TrieError::Malformed(reason) => Self::Malformed {
                what: what(),
                reason,
            },
        }
    }
}

/// The account trie under one state root, and the storage tries below it.
#[derive(Debug, Clone)]
pub struct StateTrie {
    nodes: TrieNodes,
    root: B256,
}

impl StateTrie {
    /// The state rooted at `root` over `nodes`.
    pub const fn new(nodes: TrieNodes, root: B256) -> Self {
        Self { nodes, root }
    }

    /// The state root.
    pub const fn root(&self) -> B256 {
        self.root
    }

    /// The trie nodes.
    pub const fn nodes(&self) -> &TrieNodes {
        &self.nodes
    }

    /// The value under `hashed_key` in the trie rooted at `root`.
    fn leaf(&self, root: B256, hashed_key: B256) -> Result<Option<Vec<u8>>, TrieError> {
        SparseTrie::open(&self.nodes, root)?.get(hashed_key)
    }

    /// The account leaf of `address`, or `None` if the trie proves it absent.
    pub fn account(&self, address: Address) -> Result<Option<TrieAccount>, TrieReadError> {
        let what = || format!("account {address}");
        self.leaf(self.root, keccak256(address))
            .map_err(|e| TrieReadError::new(e, what))?
            .map(|leaf| TrieAccount::decode(&mut leaf.as_slice()))
            .transpose()
            .map_err(|e| TrieReadError::Malformed {
                what: what(),
                reason: e.to_string(),
            })
    }

    /// Slot `slot` of `address`, whose storage trie is rooted at `storage_root` (zero when
    /// absent from it).
    pub fn storage(
        &self,
        address: Address,
        storage_root: B256,
        slot: U256,
    ) -> Result<U256, TrieReadError> {
        if storage_root == EMPTY_ROOT_HASH {
            return Ok(U256::ZERO);
        }
        let what = || format!("slot {slot:#x} of {address}");
        self.leaf(storage_root, keccak256(B256::from(slot)))
            .map_err(|e| TrieReadError::new(e, what))?
            .map(|leaf| U256::decode(&mut leaf.as_slice()))
            .transpose()
            .map(Option::unwrap_or_default)
            .map_err(|e| TrieReadError::Malformed {
                what: what(),
                reason: e.to_string(),
            })
    }
}
