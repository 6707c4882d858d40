//! A pre-state read through recorded trie nodes from the parent block's state root: every
//! value is authenticated by the root, and a read the nodes cannot reach is an error naming
//! the missing node.

use super::pre_state_error::PreStateError;
use crate::trie::{
    node_store::TrieNodes,
    state_trie::{StateTrie, TrieReadError},
};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use revm::{DatabaseRef, bytecode::Bytecode, primitives::KECCAK_EMPTY, state::AccountInfo};
use std::{
    collections::BTreeSet,
    sync::{Mutex, RwLock},
};

/// State read from trie nodes.
#[derive(Debug)]
pub struct TrieDb {
    trie: StateTrie,
    codes: HashMap<B256, Bytecode>,
    block_hashes: HashMap<u64, B256>,
    accounts: RwLock<HashMap<Address, Option<TrieAccount>>>,
    unproven: Unproven,
    unproven_reads: Mutex<BTreeSet<Address>>,
}

/// Values a recording states without trie nodes to prove them (a witness's convenience
/// view), used only where the nodes stop short.
#[derive(Debug, Default)]
pub struct Unproven {
    /// Accounts (or their absence).
    pub accounts: HashMap<Address, Option<TrieAccount>>,
    /// Storage slots.
    pub storage: HashMap<(Address, U256), U256>,
}

impl TrieDb {
    /// A pre-state rooted at `state_root` over `nodes`.
    pub fn new(
        nodes: TrieNodes,
        state_root: B256,
        codes: HashMap<B256, Bytecode>,
        block_hashes: HashMap<u64, B256>,
    ) -> Self {
        Self {
            trie: StateTrie::new(nodes, state_root),
            codes,
            block_hashes,
            accounts: RwLock::default(),
            unproven: Unproven::default(),
            unproven_reads: Mutex::default(),
        }
    }

    /// Adds values to fall back on where the trie nodes do not reach.
    pub fn with_unproven(mut self, unproven: Unproven) -> Self {
        self.unproven = unproven;
        self
    }

    /// Accounts read from unproven values so far.
    pub fn unproven_reads(&self) -> Vec<Address> {
        self.unproven_reads
            .lock()
            .expect("unproven read log poisoned")
            .iter()
            .copied()
            .collect()
    }

    fn note_unproven(&self, address: Address) {
        self.unproven_reads
            .lock()
            .expect("unproven read log poisoned")
            .insert(address);
    }

    /// The state root everything is read from.
    pub const fn state_root(&self) -> B256 {
        self.trie.root()
    }

    /// The trie nodes.
    pub const fn nodes(&self) -> &TrieNodes {
        self.trie.nodes()
    }

    /// The pre-state's tries, read without the fallback on unproven values.
    pub const fn trie(&self) -> &StateTrie {
        &self.trie
    }

    /// Whether code with this hash is recorded.
    pub fn has_code(&self, hash: &B256) -> bool {
        *hash == KECCAK_EMPTY || self.codes.contains_key(hash)
    }

    /// The account leaf of `address`, or `None` if the trie proves it absent.
    pub fn account(&self, address: Address) -> Result<Option<TrieAccount>, PreStateError> {
        if let Some(account) = self
            .accounts
            .read()
            .expect("account cache poisoned")
            .get(&address)
        {
            return Ok(*account);
        }
        let account = match self.trie.account(address) {
            Ok(account) => account,
            Err(TrieReadError::MissingNode { .. })
                if self.unproven.accounts.contains_key(&address) =>
            {
                self.note_unproven(address);
                return Ok(self.unproven.accounts[&address]);
            }
            Err(e) => return Err(e.into()),
        };
        self.accounts
            .write()
            .expect("account cache poisoned")
            .insert(address, account);
        Ok(account)
    }

    /// Storage slot `slot` of `address` (zero when absent from its storage trie).
    pub fn storage(&self, address: Address, slot: U256) -> Result<U256, PreStateError> {
        let Some(account) = self.account(address)? else {
            return Ok(U256::ZERO);
        };
        if account.storage_root == EMPTY_ROOT_HASH {
            return Ok(U256::ZERO);
        }
        match self.trie.storage(address, account.storage_root, slot) {
            Ok(value) => Ok(value),
            Err(TrieReadError::MissingNode { .. })
                if self.unproven.storage.contains_key(&(address, slot)) =>
            {
                self.note_unproven(address);
                Ok(self.unproven.storage[&(address, slot)])
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl DatabaseRef for TrieDb {
    type Error = PreStateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let Some(account) = self.account(address)? else {
            return Ok(None);
        };
        Ok(Some(AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            // Fetched by hash only if revm runs it: witnesses omit code nothing runs.
            code: None,
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        self.codes
            .get(&code_hash)
            .cloned()
            .ok_or(PreStateError::MissingCode(code_hash))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.storage(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.block_hashes
            .get(&number)
            .copied()
            .ok_or(PreStateError::MissingBlockHash(number))
    }
}
