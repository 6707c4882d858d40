//! An in-memory pre-state that knows exactly what it holds, so that a read outside it is an
//! error naming what is missing instead of a silently wrong answer.

use super::pre_state_error::PreStateError;
use alloy_primitives::{Address, B256, U256, keccak256, map::HashMap};
use revm::{DatabaseRef, bytecode::Bytecode, primitives::KECCAK_EMPTY, state::AccountInfo};

/// How to answer a read of something the data does not mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// The data lists every account and slot that exists among those the block reads:
    /// anything absent does not exist (pre-state dumps).
    AbsentMeansEmpty,
    /// The data proves only what it lists: reading anything else is an error (proofs and
    /// witnesses, whose unlisted parts are unknown, not empty).
    AbsentIsUnknown,
}

/// One account of the pre-state.
#[derive(Debug, Clone, Default)]
pub struct MemoryAccount {
    /// Balance, nonce and code hash (code lives in the shared code table).
    pub info: AccountInfo,
    /// Storage slots known to the data.
    pub storage: HashMap<U256, U256>,
    /// Whether `storage` holds every non-zero slot of the account (so others read zero).
    pub storage_complete: bool,
}

/// A pre-state held in memory.
#[derive(Debug, Clone)]
pub struct MemoryDb {
    completeness: Completeness,
    accounts: HashMap<Address, Option<MemoryAccount>>,
    codes: HashMap<B256, Bytecode>,
    block_hashes: HashMap<u64, B256>,
}

impl MemoryDb {
    /// An empty pre-state with the given treatment of absent data.
    pub fn new(completeness: Completeness) -> Self {
        Self {
            completeness,
            accounts: HashMap::default(),
            codes: HashMap::default(),
            block_hashes: HashMap::default(),
        }
    }

    /// Records an account (or, with `None`, that it provably does not exist).
    pub fn insert_account(&mut self, address: Address, account: Option<MemoryAccount>) {
        self.accounts.insert(address, account);
    }

    /// Records code; returns its hash.
    pub fn insert_code(&mut self, code: Bytecode) -> B256 {
        let hash = code.hash_slow();
        self.codes.insert(hash, code);
        hash
    }

    /// Records the hash of an ancestor block.
    pub fn insert_block_hash(&mut self, number: u64, hash: B256) {
        self.block_hashes.insert(number, hash);
    }

    /// The account at `address`, if recorded.
    pub fn account(&self, address: &Address) -> Option<&Option<MemoryAccount>> {
        self.accounts.get(address)
    }

    /// Mutable access to a recorded account.
    pub fn account_mut(&mut self, address: &Address) -> Option<&mut Option<MemoryAccount>> {
        self.accounts.get_mut(address)
    }

    /// Every recorded account.
    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &Option<MemoryAccount>)> {
        self.accounts.iter()
    }

    /// Whether code with this hash is recorded.
    pub fn has_code(&self, hash: &B256) -> bool {
        *hash == KECCAK_EMPTY || self.codes.contains_key(hash)
    }

    /// Recorded code by hash.
    pub fn code(&self, hash: &B256) -> Option<&Bytecode> {
        self.codes.get(hash)
    }

    fn lookup(&self, address: Address) -> Result<Option<&MemoryAccount>, PreStateError> {
        match self.accounts.get(&address) {
            Some(account) => Ok(account.as_ref()),
            None => match self.completeness {
                Completeness::AbsentMeansEmpty => Ok(None),
                Completeness::AbsentIsUnknown => Err(PreStateError::MissingAccount(address)),
            },
        }
    }
}

impl DatabaseRef for MemoryDb {
    type Error = PreStateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let Some(account) = self.lookup(address)? else {
            return Ok(None);
        };
        let mut info = account.info.clone();
        // Fetched by hash only if revm runs it.
        info.code = None;
        Ok(Some(info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY || code_hash.is_zero() {
            return Ok(Bytecode::default());
        }
        self.codes
            .get(&code_hash)
            .cloned()
            .ok_or(PreStateError::MissingCode(code_hash))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let Some(account) = self.lookup(address)? else {
            return Ok(U256::ZERO);
        };
        match account.storage.get(&index) {
            Some(value) => Ok(*value),
            None if account.storage_complete
                || self.completeness == Completeness::AbsentMeansEmpty =>
            {
                Ok(U256::ZERO)
            }
            None => Err(PreStateError::MissingSlot(address, index)),
        }
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.block_hashes
            .get(&number)
            .copied()
            .ok_or(PreStateError::MissingBlockHash(number))
    }
}

/// Checks that `code` hashes to `hash`.
pub(crate) fn code_matches(hash: B256, code: &[u8]) -> bool {
    keccak256(code) == hash
}
