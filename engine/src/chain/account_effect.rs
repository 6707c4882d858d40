//! What committing one account of a transaction's state does to the world state.

use revm::state::Account;

/// The effect of one entry of revm's per-transaction state, as revm's `State` commits it.
#[derive(Debug)]
pub(crate) enum AccountEffect<'a> {
    /// Loaded but not touched: nothing changes.
    Unchanged,
    /// Self-destructed, or touched while empty after EIP-161: the account and its storage
    /// are gone.
    Destroyed,
    /// Created by this transaction: storage starts empty, then takes the written slots.
    Created(&'a Account),
    /// Modified in place.
    Updated(&'a Account),
}

/// Classifies `account` the way `CacheState::apply_account_state` does. Before Spurious
/// Dragon, revm's journal has already normalized empty touched accounts, so an empty account
/// that reaches the last branch is one EIP-161 deletes.
pub(crate) fn account_effect(account: &Account) -> AccountEffect<'_> {
    if !account.is_touched() {
        AccountEffect::Unchanged
    } else if account.is_selfdestructed() {
        AccountEffect::Destroyed
    } else if account.is_created() {
        AccountEffect::Created(account)
    } else if account.is_empty() {
        AccountEffect::Destroyed
    } else {
        AccountEffect::Updated(account)
    }
}
