//! The state a recorded block starts from, whichever form it was recorded in.

use crate::{memory_db::MemoryDb, remote_state::RemoteState, trie_db::TrieDb};
use alloy_primitives::{Address, B256, U256};
use revm::{
    DatabaseRef, bytecode::Bytecode, database_interface::DBErrorMarker, state::AccountInfo,
};

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

/// A pre-state from a dump (every read account listed) or from trie nodes (proofs and
/// witnesses, read through the trie from the parent's state root).
#[derive(Debug)]
pub enum PreState {
    /// Accounts and slots listed explicitly.
    Memory(MemoryDb),
    /// Accounts and slots read from trie nodes.
    Trie(TrieDb),
    /// Accounts and slots fetched from a node as they are read.
    Remote(RemoteState),
}

impl DatabaseRef for PreState {
    type Error = PreStateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        match self {
            Self::Memory(db) => db.basic_ref(address),
            Self::Trie(db) => db.basic_ref(address),
            Self::Remote(db) => db.basic_ref(address),
        }
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        match self {
            Self::Memory(db) => db.code_by_hash_ref(code_hash),
            Self::Trie(db) => db.code_by_hash_ref(code_hash),
            Self::Remote(db) => db.code_by_hash_ref(code_hash),
        }
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        match self {
            Self::Memory(db) => db.storage_ref(address, index),
            Self::Trie(db) => db.storage_ref(address, index),
            Self::Remote(db) => db.storage_ref(address, index),
        }
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        match self {
            Self::Memory(db) => db.block_hash_ref(number),
            Self::Trie(db) => db.block_hash_ref(number),
            Self::Remote(db) => db.block_hash_ref(number),
        }
    }
}
