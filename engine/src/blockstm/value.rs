//! The values a transaction writes to the multi-version memory.

use crate::location::TxIdx;
use alloy_primitives::{B256, U256};
use revm::{bytecode::Bytecode, primitives::KECCAK_EMPTY};

/// Balance and nonce of an existing account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AccountBasic {
    /// Balance in wei.
    pub(crate) balance: U256,
    /// Nonce.
    pub(crate) nonce: u64,
}

/// Code of an account together with its storage epoch.
#[derive(Clone, Debug)]
pub(crate) struct AccountCode {
    /// keccak256 of `code`.
    pub(crate) hash: B256,
    /// The bytecode itself, or `None` for pre-state code not fetched yet (revm then asks
    /// for it by hash only if it runs it, so data sources may omit code that is never run).
    pub(crate) code: Option<Bytecode>,
    /// The last transaction of this block that wiped the account's storage (by creating or
    /// destroying the account), if any. A slot not written since then reads as zero.
    pub(crate) storage_epoch: Option<TxIdx>,
}

impl AccountCode {
    /// No code and storage as in the pre-state.
    pub(crate) fn empty() -> Self {
        Self {
            hash: KECCAK_EMPTY,
            code: Some(Bytecode::default()),
            storage_epoch: None,
        }
    }
}

impl PartialEq for AccountCode {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.storage_epoch == other.storage_epoch
    }
}

/// What one transaction wrote to one location.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum WriteValue {
    /// The account's balance and nonce, or `None` when the transaction left it non-existent.
    Account(Option<AccountBasic>),
    /// New code (or storage wipe) of the account. Boxed: code is written rarely, and the
    /// multi-version memory holds a value per location written (a million slots take a
    /// million of them), so the common variants set the size.
    Code(Box<AccountCode>),
    /// A storage slot's new value.
    Storage(U256),
}

/// Adds `increment` to an account's balance the way revm's `incr_balance` does: an overflow
/// leaves the balance unchanged, and a missing account comes into existence.
pub(crate) fn apply_increment(
    account: Option<AccountBasic>,
    increment: U256,
) -> Option<AccountBasic> {
    let mut account = account.unwrap_or_default();
    if let Some(balance) = account.balance.checked_add(increment) {
        account.balance = balance;
    }
    Some(account)
}
