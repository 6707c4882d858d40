//! A read-only, thread-shareable view of revm's `State`.
//!
//! `State` cannot be shared between threads (its commit hook is only `Send`), but its cache,
//! bundle and underlying database can. This view reads them exactly as `State`'s own
//! `Database` implementation does, so that workers see what the sequential executor would.

use alloy_primitives::{Address, B256, U256};
use revm::{
    DatabaseRef,
    bytecode::Bytecode,
    database::{BundleState, CacheState, State, states::block_hash_cache::BlockHashCache},
    state::AccountInfo,
};

/// Shared reads of a [`State`] over a `DatabaseRef + Sync` database.
#[derive(Debug)]
pub struct StateView<'a, D: ?Sized> {
    cache: &'a CacheState,
    bundle: Option<&'a BundleState>,
    block_hashes: &'a BlockHashCache,
    database: &'a D,
}

impl<'a, D: DatabaseRef + Sync> StateView<'a, D> {
    /// A view of `state`, or `None` when it reads from a block access list (EIP-7928),
    /// whose values the view would not see.
    pub fn new(state: &'a State<D>) -> Option<Self> {
        if state.bal_state.bal.is_some() {
            return None;
        }
        Some(Self::beneath_list(state))
    }

    /// A view of what `state` reads beneath its block access list, for a reader that puts
    /// the list on top itself (the engine's access-list path).
    pub(crate) const fn beneath_list(state: &'a State<D>) -> Self {
        Self {
            cache: &state.cache,
            bundle: if state.use_preloaded_bundle {
                Some(&state.bundle_state)
            } else {
                None
            },
            block_hashes: &state.block_hashes,
            database: &state.database,
        }
    }
}

impl<'a, D: ?Sized> StateView<'a, D> {
    /// A view of a `State`'s parts (or of copies of them) over `database`.
    pub(crate) const fn from_parts(
        cache: &'a CacheState,
        bundle: Option<&'a BundleState>,
        block_hashes: &'a BlockHashCache,
        database: &'a D,
    ) -> Self {
        Self {
            cache,
            bundle,
            block_hashes,
            database,
        }
    }
}

impl<D: DatabaseRef + ?Sized> DatabaseRef for StateView<'_, D> {
    type Error = D::Error;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        if let Some(account) = self.cache.accounts.get(&address) {
            return Ok(account.account_info());
        }
        if let Some(account) = self.bundle.and_then(|bundle| bundle.account(&address)) {
            return Ok(account.account_info());
        }
        self.database.basic_ref(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if let Some(code) = self.cache.contracts.get(&code_hash) {
            return Ok(code.clone());
        }
        if let Some(code) = self
            .bundle
            .and_then(|bundle| bundle.contracts.get(&code_hash))
        {
            return Ok(code.clone());
        }
        self.database.code_by_hash_ref(code_hash)
    }

    /// Mirrors `State::storage`: a slot of a cached account comes from the cache, reads as
    /// zero when the account is gone or its storage is known to be complete, and otherwise
    /// comes from the database.
    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(account) = self.cache.accounts.get(&address) {
            let Some(plain) = &account.account else {
                return Ok(U256::ZERO);
            };
            if let Some(value) = plain.storage.get(&index) {
                return Ok(*value);
            }
            if account.status.is_storage_known() {
                return Ok(U256::ZERO);
            }
        } else if let Some(account) = self.bundle.and_then(|bundle| bundle.account(&address)) {
            if account.info.is_none() {
                return Ok(U256::ZERO);
            }
            if let Some(slot) = account.storage.get(&index) {
                return Ok(slot.present_value);
            }
            if account.status.is_storage_known() {
                return Ok(U256::ZERO);
            }
        }
        self.database.storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        if let Some(hash) = self.block_hashes.get(number) {
            return Ok(hash);
        }
        self.database.block_hash_ref(number)
    }
}
