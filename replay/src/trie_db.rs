//! A pre-state read through recorded trie nodes from the parent block's state root: every
//! value is authenticated by the root, and a read the nodes cannot reach is an error naming
//! the missing node.

use crate::{pre_state::PreStateError, trie_nodes::TrieNodes};
use alloy_primitives::{Address, B256, U256, keccak256, map::HashMap};
use alloy_rlp::Decodable;
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use eth_trie::TrieError;
use revm::{DatabaseRef, bytecode::Bytecode, primitives::KECCAK_EMPTY, state::AccountInfo};
use std::{
    collections::BTreeSet,
    sync::{Mutex, RwLock},
};

/// State read from trie nodes.
#[derive(Debug)]
pub struct TrieDb {
    nodes: TrieNodes,
    state_root: B256,
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
            nodes,
            state_root,
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
        self.state_root
    }

    /// The trie nodes.
    pub const fn nodes(&self) -> &TrieNodes {
        &self.nodes
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
        let what = || format!("account {address}");
        let leaf = match self.nodes.get(self.state_root, keccak256(address)) {
            Ok(leaf) => leaf,
            Err(TrieError::MissingTrieNode { .. })
                if self.unproven.accounts.contains_key(&address) =>
            {
                self.note_unproven(address);
                return Ok(self.unproven.accounts[&address]);
            }
            Err(e) => return Err(trie_error(e, what)),
        };
        let account = leaf
            .map(|leaf| TrieAccount::decode(&mut leaf.as_slice()))
            .transpose()
            .map_err(|e| PreStateError::MalformedTrie {
                what: what(),
                reason: e.to_string(),
            })?;
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
        let what = || format!("slot {slot:#x} of {address}");
        let leaf = match self
            .nodes
            .get(account.storage_root, keccak256(B256::from(slot)))
        {
            Ok(leaf) => leaf,
            Err(TrieError::MissingTrieNode { .. })
                if self.unproven.storage.contains_key(&(address, slot)) =>
            {
                self.note_unproven(address);
                return Ok(self.unproven.storage[&(address, slot)]);
            }
            Err(e) => return Err(trie_error(e, what)),
        };
        leaf.map(|leaf| U256::decode(&mut leaf.as_slice()))
            .transpose()
            .map(Option::unwrap_or_default)
            .map_err(|e| PreStateError::MalformedTrie {
                what: what(),
                reason: e.to_string(),
            })
    }
}

fn trie_error(error: TrieError, what: impl Fn() -> String) -> PreStateError {
    match error {
        TrieError::MissingTrieNode { node_hash, .. } => PreStateError::MissingTrieNode {
            node: node_hash,
            what: what(),
        },
        TrieError::InvalidStateRoot => PreStateError::MissingTrieNode {
            node: B256::ZERO,
            what: format!("the root node for {}", what()),
        },
        other => PreStateError::MalformedTrie {
            what: what(),
            reason: other.to_string(),
        },
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
