//! The post-block state root: the block's changes applied to the recorded pre-state trie.
//!
//! Deleting a slot or an account can collapse a branch node into its only remaining child,
//! which must then be read; recordings supply such siblings in their post-state nodes, and
//! without them the computation fails naming the missing node.

use super::{
    account_leaf::trie_account,
    sparse_trie::{SparseTrie, TrieError},
    state_trie::{StateTrie, TrieReadError},
};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use revm::database::BundleState;
use std::collections::BTreeMap;

/// One account's changes, as the state root needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChange {
    /// Nonce, balance and code hash after the block, or `None` if the account is gone.
    pub after: Option<(u64, U256, B256)>,
    /// Whether the account's storage from before the block was wiped.
    pub storage_wiped: bool,
    /// Slots written, with their final values (zero deletes the slot).
    pub storage: BTreeMap<U256, U256>,
}

/// The changes of a block, by account, from the `BundleState` of its execution.
pub fn changes_from_bundle(bundle: &BundleState) -> BTreeMap<Address, AccountChange> {
    bundle
        .state
        .iter()
        .map(|(address, account)| {
            let change = AccountChange {
                after: account
                    .info
                    .as_ref()
                    .map(|info| (info.nonce, info.balance, info.code_hash)),
                storage_wiped: account.was_destroyed(),
                storage: account
                    .storage
                    .iter()
                    .map(|(slot, value)| (*slot, value.present_value))
                    .collect(),
            };
            (*address, change)
        })
        .collect()
}

/// The changes of one committed state (a transaction's), with revm's commit semantics.
pub fn changes_from_evm_state(state: &revm::state::EvmState) -> BTreeMap<Address, AccountChange> {
    let mut diff = parallax_engine::StateDiff::default();
    diff.apply(state);
    diff.accounts
        .into_iter()
        .map(|(address, account)| {
            let change = AccountChange {
                after: account
                    .info
                    .as_ref()
                    .map(|info| (info.nonce, info.balance, info.code_hash)),
                storage_wiped: account.storage_wiped,
                storage: account.storage,
            };
            (address, change)
        })
        .collect()
}

/// An account as a recording says it is after the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAccount {
    /// The account.
    pub address: Address,
    /// Its leaf after the block, or `None` if it does not exist.
    pub account: Option<TrieAccount>,
    /// Some of its slots after the block.
    pub slots: Vec<(U256, U256)>,
}

/// The computed root, and what it was built from.
#[derive(Debug, Clone)]
pub struct PostState {
    /// The state root after the block.
    pub root: B256,
    accounts: BTreeMap<Address, Option<TrieAccount>>,
}

/// Why the post-state root could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateRootError {
    /// Reading the pre-state through the trie failed.
    #[error(transparent)]
    Read(#[from] TrieReadError),
    /// Updating a trie needed a node the recording lacks.
    #[error("updating {what} needs trie node {node}, which the recording lacks")]
    MissingNode {
        /// What was being updated.
        what: String,
        /// The missing node.
        node: B256,
    },
    /// A trie node does not decode.
    #[error("updating {what}: {reason}")]
    Trie {
        /// What was being updated.
        what: String,
        /// Why.
        reason: String,
    },
}

fn trie_error(what: impl Into<String>) -> impl FnOnce(TrieError) -> StateRootError {
    let what = what.into();
    move |error| match error {
        TrieError::MissingNode(node) => StateRootError::MissingNode { what, node },
        TrieError::Malformed(reason) => StateRootError::Trie { what, reason },
    }
}

/// Applies `changes` to the pre-state `trie` and returns the new state root. The nodes the
/// update creates join the pre-state's node store.
pub fn post_state_root(
    trie: &StateTrie,
    changes: &BTreeMap<Address, AccountChange>,
) -> Result<PostState, StateRootError> {
    let nodes = trie.nodes();
    let mut accounts_trie =
        SparseTrie::open(nodes, trie.root()).map_err(trie_error("the account trie"))?;
    let mut accounts = BTreeMap::new();
    for (address, change) in changes {
        let key = keccak256(address);
        let Some((nonce, balance, code_hash)) = change.after else {
            accounts_trie
                .remove(key)
                .map_err(trie_error(format!("account {address}")))?;
            accounts.insert(*address, None);
            continue;
        };
        let prior_root = if change.storage_wiped {
            EMPTY_ROOT_HASH
        } else {
            trie.account(*address)?
                .map_or(EMPTY_ROOT_HASH, |account| account.storage_root)
        };
        let storage_root = if change.storage.is_empty() {
            prior_root
        } else {
            let what = format!("the storage of {address}");
            let mut storage = SparseTrie::open(nodes, prior_root).map_err(trie_error(what))?;
            for (slot, value) in &change.storage {
                let slot_key = keccak256(B256::from(*slot));
                let result = if value.is_zero() {
                    storage.remove(slot_key)
                } else {
                    storage.insert(slot_key, alloy_rlp::encode(value))
                };
                result.map_err(trie_error(format!("slot {slot:#x} of {address}")))?;
            }
            storage.root()
        };
        let account = trie_account(nonce, balance, storage_root, code_hash);
        accounts_trie
            .insert(key, alloy_rlp::encode(account))
            .map_err(trie_error(format!("account {address}")))?;
        accounts.insert(*address, Some(account));
    }
    Ok(PostState {
        root: accounts_trie.root(),
        accounts,
    })
}

impl PostState {
    /// The first account or slot (in address order) where this post-state differs from the
    /// recording's post-state, described for a person. Accounts the block did not change are
    /// as `prior_account` says they were before it.
    pub fn first_difference(
        &self,
        trie: &StateTrie,
        prior_account: impl Fn(Address) -> Option<TrieAccount>,
        recorded: &[RecordedAccount],
    ) -> Option<String> {
        let mut recorded: Vec<&RecordedAccount> = recorded.iter().collect();
        recorded.sort_by_key(|account| account.address);
        for expected in recorded {
            let address = expected.address;
            let ours = match self.accounts.get(&address) {
                Some(account) => *account,
                None => prior_account(address),
            };
            if ours.as_ref().map(without_storage_root)
                != expected.account.as_ref().map(without_storage_root)
            {
                return Some(format!(
                    "account {address}: computed {} but the recording has {}",
                    describe(ours.as_ref()),
                    describe(expected.account.as_ref())
                ));
            }
            let (Some(ours), Some(theirs)) = (&ours, &expected.account) else {
                continue;
            };
            if ours.storage_root == theirs.storage_root {
                continue;
            }
            for (slot, value) in &expected.slots {
                let computed = trie
                    .storage(address, ours.storage_root, *slot)
                    .unwrap_or_default();
                if computed != *value {
                    return Some(format!(
                        "slot {slot:#x} of {address}: computed {computed:#x} but the recording has {value:#x}"
                    ));
                }
            }
            return Some(format!(
                "storage of {address}: computed root {} but the recording has {}",
                ours.storage_root, theirs.storage_root
            ));
        }
        None
    }
}

fn without_storage_root(account: &TrieAccount) -> (u64, U256, B256) {
    (account.nonce, account.balance, account.code_hash)
}

fn describe(account: Option<&TrieAccount>) -> String {
    match account {
        None => "no account".to_owned(),
        Some(a) => format!(
            "nonce {} balance {} code {}",
            a.nonce, a.balance, a.code_hash
        ),
    }
}
