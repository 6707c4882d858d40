//! What a pre-state read can fail on, whichever backend answers it.

use crate::trie::state_trie::TrieReadError;
use alloy_primitives::{Address, B256, U256};
use revm::database_interface::DBErrorMarker;

/// A read the recorded pre-state cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreStateError {
    /// An account whose existence the data does not establish.
    #[error("account {0} is not in the recorded pre-state")]
    MissingAccount(Address),
    /// A storage slot the data does not cover.
    #[error("storage slot {1:#x} of {0} is not in the recorded pre-state")]
    MissingSlot(Address, U256),
    /// Code referenced by hash but not supplied.
    #[error("code with hash {0} is not in the recorded data")]
    MissingCode(B256),
    /// A block hash BLOCKHASH asked for that was not recorded.
    #[error("hash of block {0} is not in the recorded data")]
    MissingBlockHash(u64),
    /// The trie nodes recorded do not reach the value.
    #[error("trie node {node} needed to read {what} is not in the recorded data")]
    MissingTrieNode {
        /// Hash of the node that is missing.
        node: B256,
        /// What was being read.
        what: String,
    },
    /// Fetching from a node failed or gave a bad answer.
    #[error("{0}")]
    Remote(String),
    /// A trie node or leaf does not decode.
    #[error("malformed trie data while reading {what}: {reason}")]
    MalformedTrie {
        /// What was being read.
        what: String,
        /// The decoder's complaint.
        reason: String,
    },
}

impl DBErrorMarker for PreStateError {}

impl From<TrieReadError> for PreStateError {
    fn from(error: TrieReadError) -> Self {
        match error {
            TrieReadError::MissingNode { node, what } => Self::MissingTrieNode { node, what },
            TrieReadError::Malformed { what, reason } => Self::MalformedTrie { what, reason },
        }
    }
}
