//! The state a recorded block starts from, whichever form it was recorded in.

use super::{
    memory_db::MemoryDb, pre_state_error::PreStateError, remote_state::RemoteState, trie_db::TrieDb,
};
use alloy_primitives::{Address, B256, U256};
use revm::{DatabaseRef, bytecode::Bytecode, state::AccountInfo};

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
