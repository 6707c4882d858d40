//! The state root of a complete state, every account and slot of it known: what a client
//! computes over its own database, and what the consensus tests commit to.

use super::account_leaf::trie_account;
use alloy_primitives::{Address, B256, U256};
use alloy_trie::root::{state_root_unhashed, storage_root_unhashed};

/// One account of a complete state.
#[derive(Debug, Clone)]
pub struct CompleteAccount<S> {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the code.
    pub code_hash: B256,
    /// Every storage slot with its value (zero values are left out of the trie).
    pub storage: S,
}

/// The state root over `accounts`, which must be every account of the state.
pub fn complete_state_root<S>(
    accounts: impl IntoIterator<Item = (Address, CompleteAccount<S>)>,
) -> B256
where
    S: IntoIterator<Item = (U256, U256)>,
{
    state_root_unhashed(accounts.into_iter().map(|(address, account)| {
        let storage_root = storage_root_unhashed(
            account
                .storage
                .into_iter()
                .filter(|(_, value)| !value.is_zero())
                .map(|(slot, value)| (B256::from(slot), value)),
        );
        (
            address,
            trie_account(
                account.nonce,
                account.balance,
                storage_root,
                account.code_hash,
            ),
        )
    }))
}
