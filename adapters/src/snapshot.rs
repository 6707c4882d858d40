//! An owned copy of what revm's `State` reads before the database, for a block run that
//! outlives any one call into the executor (the streaming path): the client keeps
//! committing into its `State` while the workers read this.

use crate::{context::SharedPrestate, state_view::StateView};
use alloy_primitives::{Address, B256, U256};
use revm::{
    DatabaseRef,
    bytecode::Bytecode,
    database::{BundleState, CacheState, State, states::block_hash_cache::BlockHashCache},
    state::AccountInfo,
};

/// `State`'s cache (holding the pre-execution changes), its preloaded bundle when it uses
/// one, and its block hashes, copied when the block starts, over a shared pre-state.
pub(crate) struct StateSnapshot<E> {
    cache: CacheState,
    bundle: Option<BundleState>,
    block_hashes: BlockHashCache,
    prestate: SharedPrestate<E>,
}

impl<E> StateSnapshot<E> {
    /// A copy of `state` as it is now over `prestate`, or `None` when it uses a block access
    /// list (EIP-7928), whose per-transaction indexing the parallel path does not model.
    pub(crate) fn of<D>(state: &State<D>, prestate: SharedPrestate<E>) -> Option<Self> {
        if state.bal_state.bal.is_some() {
            return None;
        }
        Some(Self::beneath_list(state, prestate))
    }

    /// A copy of what `state` reads beneath its block access list, for a reader that puts
    /// the list on top itself (the engine's access-list path).
    pub(crate) fn beneath_list<D>(state: &State<D>, prestate: SharedPrestate<E>) -> Self {
        Self {
            cache: state.cache.clone(),
            bundle: state
                .use_preloaded_bundle
                .then(|| state.bundle_state.clone()),
            block_hashes: state.block_hashes.clone(),
            prestate,
        }
    }

    fn view(&self) -> StateView<'_, dyn DatabaseRef<Error = E> + Send + Sync> {
        StateView::from_parts(
            &self.cache,
            self.bundle.as_ref(),
            &self.block_hashes,
            &*self.prestate,
        )
    }
}

impl<E: revm::database_interface::DBErrorMarker> DatabaseRef for StateSnapshot<E> {
    type Error = E;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, E> {
        self.view().basic_ref(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, E> {
        self.view().code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, E> {
        self.view().storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, E> {
        self.view().block_hash_ref(number)
    }
}
