//! The state entry revm produces for an account a transaction loads and, possibly, credits:
//! what the beneficiary gets for a deferred fee, and what a busy recipient gets for a payment
//! made through a placeholder, rebuilt once the account's real prior value is known.

use alloy_primitives::U256;
use revm::{
    primitives::hardfork::SpecId,
    state::{Account, AccountInfo, TransactionId},
};

/// The entry for an account that was `prior` (`None`: it did not exist) before the
/// transaction, loaded by it and, if `credit` is given, touched and credited with it,
/// exactly as revm's journal builds it.
pub(crate) fn credited_account(
    prior: Option<AccountInfo>,
    credit: Option<U256>,
    spec: SpecId,
) -> Account {
    let mut account = match prior {
        Some(info) => Account::from(info),
        None => Account::new_not_existing(TransactionId::ZERO),
    };
    let Some(credit) = credit else {
        return account;
    };
    account.mark_touch();
    account.info = credited_info(Some(account.info), credit);
    // Before EIP-161, revm's journal keeps a touched empty account from being deleted.
    if !spec.is_enabled_in(SpecId::SPURIOUS_DRAGON) && account.is_empty() && !account.is_created() {
        if account.is_loaded_as_not_existing() {
            account.mark_created();
        } else {
            account.unmark_touch();
        }
    }
    account
}

/// The info of an account that was `prior` after `credit` is added, as in
/// [`credited_account`]: revm leaves the balance as it was when the credit overflows.
pub(crate) fn credited_info(prior: Option<AccountInfo>, credit: U256) -> AccountInfo {
    let mut info = prior.unwrap_or_default();
    if let Some(balance) = info.balance.checked_add(credit) {
        info.balance = balance;
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256, Bytes};
    use revm::{
        Database,
        bytecode::Bytecode,
        context::{JournalEntry, JournalInner},
        context_interface::journaled_state::account::JournaledAccountTr,
        primitives::KECCAK_EMPTY,
    };
    use std::convert::Infallible;

    /// A database holding one account.
    struct SingleAccountDb(Option<AccountInfo>);

    impl Database for SingleAccountDb {
        type Error = Infallible;

        fn basic(&mut self, _: Address) -> Result<Option<AccountInfo>, Infallible> {
            Ok(self.0.clone())
        }

        fn code_by_hash(&mut self, _: B256) -> Result<Bytecode, Infallible> {
            Ok(Bytecode::default())
        }

        fn storage(&mut self, _: Address, _: U256) -> Result<U256, Infallible> {
            Ok(U256::ZERO)
        }

        fn block_hash(&mut self, _: u64) -> Result<B256, Infallible> {
            Ok(B256::ZERO)
        }
    }

    /// The oracle: revm's own journal, loading the account and crediting it.
    fn journaled(prior: Option<AccountInfo>, credit: Option<U256>, spec: SpecId) -> Account {
        let address = Address::repeat_byte(0xcb);
        let mut journal = JournalInner::<JournalEntry>::new();
        journal.set_spec_id(spec);
        let mut db = SingleAccountDb(prior);
        let Ok(mut account) = journal.load_account_mut(&mut db, address);
        if let Some(credit) = credit {
            account.data.incr_balance(credit);
        }
        journal.finalize().remove(&address).expect("loaded")
    }

    #[test]
    fn credited_accounts_are_what_revms_journal_builds() {
        let code = Bytecode::new_raw(Bytes::from_static(&[0x60, 0x00]));
        let priors = [
            None,
            Some(AccountInfo::default()),
            Some(AccountInfo {
                balance: U256::from(7),
                nonce: 3,
                ..Default::default()
            }),
            Some(AccountInfo {
                nonce: 1,
                ..Default::default()
            }),
            Some(AccountInfo {
                balance: U256::from(1),
                code_hash: code.hash_slow(),
                code: Some(code),
                ..Default::default()
            }),
            // Code not loaded yet: only its hash is known.
            Some(AccountInfo {
                balance: U256::from(1),
                code_hash: B256::repeat_byte(0x11),
                code: None,
                ..Default::default()
            }),
            Some(AccountInfo {
                balance: U256::MAX - U256::from(1),
                code_hash: KECCAK_EMPTY,
                ..Default::default()
            }),
        ];
        let credits = [
            None,
            Some(U256::ZERO),
            Some(U256::from(1)),
            Some(U256::from(147_000)),
        ];
        for spec in [
            SpecId::FRONTIER,
            SpecId::HOMESTEAD,
            SpecId::SPURIOUS_DRAGON,
            SpecId::CANCUN,
            SpecId::OSAKA,
        ] {
            for prior in &priors {
                for credit in credits {
                    let expected = journaled(prior.clone(), credit, spec);
                    let built = credited_account(prior.clone(), credit, spec);
                    assert_eq!(built, expected, "{spec:?} {prior:?} {credit:?}");
                    assert_eq!(
                        built.status, expected.status,
                        "{spec:?} {prior:?} {credit:?}"
                    );
                    if let Some(credit) = credit {
                        assert_eq!(credited_info(prior.clone(), credit), expected.info);
                    }
                }
            }
        }
    }
}
