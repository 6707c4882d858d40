//! The account leaf of the state trie.

use alloy_primitives::{B256, U256};
use alloy_trie::TrieAccount;

/// An account leaf. (Built through `Default` so that it stays correct if alloy-trie's
/// optional account extension is enabled somewhere in the build.)
#[allow(clippy::needless_update)]
pub fn trie_account(nonce: u64, balance: U256, storage_root: B256, code_hash: B256) -> TrieAccount {
    TrieAccount {
        nonce,
        balance,
        storage_root,
        code_hash,
        ..Default::default()
    }
}
