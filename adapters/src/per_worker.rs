//! A pre-state for the engine's workers over database handles that cannot be shared between
//! threads, such as a database read transaction that belongs to the thread that opened it
//! (reth's `StateProviderDatabase` over a `StateProvider + Send`). Each worker opens its own
//! handle on the same snapshot, and a read cache shared by all of them means a location is
//! normally fetched from the database once per block.

use alloy_primitives::{Address, B256, U256, map::DefaultHashBuilder};
use dashmap::DashMap;
use revm::{DatabaseRef, bytecode::Bytecode, state::AccountInfo};
use std::sync::{Mutex, OnceLock};

/// One database handle per worker thread, opened on first need by `open`, behind a read
/// cache shared by all of them. Implements `DatabaseRef + Sync` whenever the handles are
/// `Send`, so it can be a [`StreamedBlock`](crate::StreamedBlock)'s pre-state.
///
/// Two workers that miss the same location at the same moment may both read it; a database
/// error is returned to the reader and not cached.
pub struct PerWorkerDatabase<DB: DatabaseRef, F> {
    open: F,
    /// Indexed by the worker's index in the engine's pool; the last slot serves any other
    /// thread (the one assembling results reads a few accounts too).
    handles: Box<[OnceLock<Mutex<DB>>]>,
    accounts: DashMap<Address, Option<AccountInfo>, DefaultHashBuilder>,
    storage: DashMap<(Address, U256), U256, DefaultHashBuilder>,
    code: DashMap<B256, Bytecode, DefaultHashBuilder>,
    block_hashes: DashMap<u64, B256, DefaultHashBuilder>,
}

impl<DB, F> PerWorkerDatabase<DB, F>
where
    DB: DatabaseRef,
    F: Fn() -> Result<DB, DB::Error>,
{
    /// Handles opened with `open` for an engine of `workers` threads.
    pub fn new(workers: usize, open: F) -> Self {
        Self {
            open,
            handles: (0..=workers).map(|_| OnceLock::new()).collect(),
            accounts: DashMap::default(),
            storage: DashMap::default(),
            code: DashMap::default(),
            block_hashes: DashMap::default(),
        }
    }

    /// How many handles have been opened so far.
    pub fn opened(&self) -> usize {
        self.handles
            .iter()
            .filter(|slot| slot.get().is_some())
            .count()
    }

    /// Reads through this thread's handle, opening it first if need be.
    fn with_handle<T>(
        &self,
        read: impl FnOnce(&DB) -> Result<T, DB::Error>,
    ) -> Result<T, DB::Error> {
        let other_threads = self.handles.len() - 1;
        let index = rayon::current_thread_index().map_or(other_threads, |i| i.min(other_threads));
        let slot = &self.handles[index];
        let handle = match slot.get() {
            Some(handle) => handle,
            None => {
                let opened = (self.open)()?;
                // Threads that share a slot (the last one, or two pools' workers of one
                // index) take turns on its handle; a handle opened by the loser of a race to
                // fill it is dropped.
                slot.get_or_init(|| Mutex::new(opened))
            }
        };
        let handle = handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        read(&handle)
    }
}

impl<DB, F> DatabaseRef for PerWorkerDatabase<DB, F>
where
    DB: DatabaseRef,
    F: Fn() -> Result<DB, DB::Error>,
{
    type Error = DB::Error;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        if let Some(account) = self.accounts.get(&address) {
            return Ok(account.clone());
        }
        let account = self.with_handle(|db| db.basic_ref(address))?;
        self.accounts.insert(address, account.clone());
        Ok(account)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if let Some(code) = self.code.get(&code_hash) {
            return Ok(code.clone());
        }
        let code = self.with_handle(|db| db.code_by_hash_ref(code_hash))?;
        self.code.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(value) = self.storage.get(&(address, index)) {
            return Ok(*value);
        }
        let value = self.with_handle(|db| db.storage_ref(address, index))?;
        self.storage.insert((address, index), value);
        Ok(value)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        if let Some(hash) = self.block_hashes.get(&number) {
            return Ok(*hash);
        }
        let hash = self.with_handle(|db| db.block_hash_ref(number))?;
        self.block_hashes.insert(number, hash);
        Ok(hash)
    }
}

impl<DB: DatabaseRef, F> std::fmt::Debug for PerWorkerDatabase<DB, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerWorkerDatabase")
            .field("handles", &self.handles.len())
            .field("cached_accounts", &self.accounts.len())
            .field("cached_slots", &self.storage.len())
            .finish_non_exhaustive()
    }
}
