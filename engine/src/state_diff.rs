//! The block's net effect on the world state, merged from every transaction's changes.

use crate::chain::account_effect::{AccountEffect, account_effect};
use alloy_primitives::{Address, U256};
use revm::state::{AccountInfo, EvmState};
use std::collections::BTreeMap;

/// How one account differs after the block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountDiff {
    /// The account after the block, or `None` when it no longer exists.
    pub info: Option<AccountInfo>,
    /// Whether the storage it had before the block was wiped (destroyed or re-created).
    pub storage_wiped: bool,
    /// Slots written during the block, with their final values (zero means deleted).
    pub storage: BTreeMap<U256, U256>,
}

/// Every account the block touched, in address order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateDiff {
    /// Per-account changes.
    pub accounts: BTreeMap<Address, AccountDiff>,
}

impl StateDiff {
    /// Folds one transaction's state changes in, with revm's commit semantics.
    pub fn apply(&mut self, state: &EvmState) {
        for (address, account) in state {
            let effect = account_effect(account);
            if matches!(effect, AccountEffect::Unchanged) {
                continue;
            }
            let diff = self.accounts.entry(*address).or_default();
            match effect {
                AccountEffect::Unchanged => {}
                AccountEffect::Destroyed => {
                    diff.info = None;
                    diff.storage_wiped = true;
                    diff.storage.clear();
                }
                AccountEffect::Created(account) => {
                    diff.info = Some(account.info.clone());
                    diff.storage_wiped = true;
                    diff.storage.clear();
                    for (slot, value) in account.changed_storage_slots() {
                        diff.storage.insert(*slot, value.present_value);
                    }
                }
                AccountEffect::Updated(account) => {
                    diff.info = Some(account.info.clone());
                    for (slot, value) in account.changed_storage_slots() {
                        diff.storage.insert(*slot, value.present_value);
                    }
                }
            }
        }
    }
}
