//! The complete state of a test chain at one block, with its state root.

use super::blockchain_test::FixtureAccount;
use crate::{
    state::pre_state_error::PreStateError,
    trie::{
        complete_state_root::{CompleteAccount, complete_state_root},
        post_state_root::AccountChange,
    },
};
use alloy_primitives::{Address, B256, U256, keccak256, map::HashMap};
use revm::{DatabaseRef, bytecode::Bytecode, primitives::KECCAK_EMPTY, state::AccountInfo};
use std::{collections::BTreeMap, sync::Arc};

/// One account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorldAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// keccak256 of the code.
    pub code_hash: B256,
    /// Non-zero storage slots.
    pub storage: BTreeMap<U256, U256>,
}

/// Every account of a chain's state, and every code by hash.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorldState {
    accounts: BTreeMap<Address, WorldAccount>,
    codes: HashMap<B256, Bytecode>,
}

impl WorldState {
    /// The state described by a fixture's `pre`.
    pub(crate) fn from_fixture(pre: &BTreeMap<Address, FixtureAccount>) -> Self {
        let mut state = Self::default();
        for (address, account) in pre {
            let code = Bytecode::new_raw(account.code.clone());
            let code_hash = if account.code.is_empty() {
                KECCAK_EMPTY
            } else {
                keccak256(&account.code)
            };
            state.codes.insert(code_hash, code);
            let storage = account
                .storage
                .iter()
                .filter(|(_, v)| !v.is_zero())
                .map(|(k, v)| (*k, *v))
                .collect();
            state.accounts.insert(
                *address,
                WorldAccount {
                    balance: account.balance,
                    nonce: account.nonce.saturating_to(),
                    code_hash,
                    storage,
                },
            );
        }
        state
    }

    /// Applies a block's (or transaction's) changes.
    pub(crate) fn apply(
        &mut self,
        changes: &BTreeMap<Address, AccountChange>,
        codes: impl IntoIterator<Item = (B256, Bytecode)>,
    ) {
        self.codes.extend(codes);
        for (address, change) in changes {
            let Some((nonce, balance, code_hash)) = change.after else {
                self.accounts.remove(address);
                continue;
            };
            let account = self
                .accounts
                .entry(*address)
                .or_insert_with(|| WorldAccount {
                    balance,
                    nonce,
                    code_hash,
                    storage: BTreeMap::new(),
                });
            if change.storage_wiped {
                account.storage.clear();
            }
            account.balance = balance;
            account.nonce = nonce;
            account.code_hash = code_hash;
            for (slot, value) in &change.storage {
                if value.is_zero() {
                    account.storage.remove(slot);
                } else {
                    account.storage.insert(*slot, *value);
                }
            }
        }
    }

    /// Whether `address` exists and has code.
    pub(crate) fn has_code(&self, address: &Address) -> bool {
        self.accounts
            .get(address)
            .is_some_and(|account| account.code_hash != KECCAK_EMPTY)
    }

    /// The state root, computed over every account.
    pub(crate) fn state_root(&self) -> B256 {
        complete_state_root(self.accounts.iter().map(|(address, account)| {
            let storage = account.storage.iter().map(|(slot, value)| (*slot, *value));
            let account = CompleteAccount {
                nonce: account.nonce,
                balance: account.balance,
                code_hash: account.code_hash,
                storage,
            };
            (*address, account)
        }))
    }

    /// The first difference from a fixture's expected state, described for a person.
    pub(crate) fn first_difference(
        &self,
        expected: &BTreeMap<Address, FixtureAccount>,
    ) -> Option<String> {
        let expected_state = Self::from_fixture(expected);
        for (address, want) in &expected_state.accounts {
            let Some(have) = self.accounts.get(address) else {
                return Some(format!("account {address} is missing"));
            };
            if have.balance != want.balance {
                return Some(format!(
                    "account {address}: balance {} but expected {}",
                    have.balance, want.balance
                ));
            }
            if have.nonce != want.nonce {
                return Some(format!(
                    "account {address}: nonce {} but expected {}",
                    have.nonce, want.nonce
                ));
            }
            if have.code_hash != want.code_hash {
                return Some(format!(
                    "account {address}: code hash {} but expected {}",
                    have.code_hash, want.code_hash
                ));
            }
            for slot in have.storage.keys().chain(want.storage.keys()) {
                let (h, w) = (
                    have.storage.get(slot).copied().unwrap_or_default(),
                    want.storage.get(slot).copied().unwrap_or_default(),
                );
                if h != w {
                    return Some(format!(
                        "account {address} slot {slot:#x}: {h:#x} but expected {w:#x}"
                    ));
                }
            }
        }
        self.accounts
            .keys()
            .find(|address| !expected_state.accounts.contains_key(*address))
            .map(|address| format!("account {address} exists but is not expected"))
    }
}

/// A chain's state at one block, with the hashes of its ancestors for BLOCKHASH: the
/// database the executors read, shareable between worker threads.
#[derive(Debug, Clone)]
pub(crate) struct ChainDb {
    /// The state.
    pub state: Arc<WorldState>,
    /// Block hashes by number along this chain.
    pub hashes: Arc<Vec<B256>>,
}

impl DatabaseRef for ChainDb {
    type Error = PreStateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .state
            .accounts
            .get(&address)
            .map(|account| AccountInfo {
                balance: account.balance,
                nonce: account.nonce,
                code_hash: account.code_hash,
                code: self.state.codes.get(&account.code_hash).cloned(),
                ..Default::default()
            }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        self.state
            .codes
            .get(&code_hash)
            .cloned()
            .ok_or(PreStateError::MissingCode(code_hash))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self
            .state
            .accounts
            .get(&address)
            .and_then(|account| account.storage.get(&index).copied())
            .unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        usize::try_from(number)
            .ok()
            .and_then(|n| self.hashes.get(n).copied())
            .ok_or(PreStateError::MissingBlockHash(number))
    }
}
