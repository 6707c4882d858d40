//! Paying the block's beneficiary (coinbase) without making every transaction conflict.
//!
//! revm credits the fee to the beneficiary at the end of every transaction, which reads and
//! writes its balance and would serialize the whole block. When a transaction has not
//! otherwise loaded the beneficiary, [`DeferredRewardHandler`] skips that credit and the
//! multi-version memory records the fee on the side instead; [`rewarded_beneficiary`] later
//! rebuilds the exact account revm would have produced. A transaction that really reads the
//! beneficiary (as sender, recipient, `BALANCE`, ...) has loaded it, gets the real credit,
//! and sees the exact balance through the fees of all earlier transactions.

use crate::versioned_db::{VersionedDb, VersionedDbError};
use alloy_primitives::{Address, U256};
use revm::{
    Database, DatabaseRef,
    context::{BlockEnv, CfgEnv, Context, Journal, JournalInner, TxEnv},
    context_interface::{
        Cfg, Transaction,
        journaled_state::account::JournaledAccountTr,
        result::{EVMError, HaltReason},
    },
    handler::{FrameResult, Handler, MainnetEvm, post_execution},
    interpreter::Gas,
    primitives::hardfork::SpecId,
    state::{Account, AccountInfo, Bytecode},
};
use std::{convert::Infallible, marker::PhantomData};

/// The revm context a worker executes transactions in.
pub(crate) type WorkerContext<'a, DB> =
    Context<BlockEnv, TxEnv, CfgEnv, VersionedDb<'a, DB>, Journal<VersionedDb<'a, DB>>, ()>;

/// The revm EVM a worker executes transactions with.
pub(crate) type WorkerEvm<'a, DB> = MainnetEvm<WorkerContext<'a, DB>>;

/// The error of one speculative execution.
pub(crate) type WorkerError<E> = EVMError<VersionedDbError<E>>;

/// revm's mainnet handler, except that it defers the beneficiary's fee when it can.
pub(crate) struct DeferredRewardHandler<'a, DB>(PhantomData<&'a DB>);

impl<DB> Default for DeferredRewardHandler<'_, DB> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<'a, DB: DatabaseRef> Handler for DeferredRewardHandler<'a, DB> {
    type Evm = WorkerEvm<'a, DB>;
    type Error = WorkerError<DB::Error>;
    type HaltReason = HaltReason;

    fn reward_beneficiary(
        &self,
        evm: &mut Self::Evm,
        exec_result: &mut FrameResult,
    ) -> Result<(), Self::Error> {
        let ctx = &mut evm.ctx;
        let beneficiary = ctx.block.beneficiary;
        if !ctx.journaled_state.state.contains_key(&beneficiary) {
            let fee = beneficiary_fee(&ctx.cfg, &ctx.block, &ctx.tx, exec_result.gas());
            // A zero fee still touches the account, which can create or delete it under
            // EIP-161: leave that case to revm itself.
            if !fee.is_zero() {
                ctx.journaled_state.database.deferred_beneficiary_fee = Some(fee);
                return Ok(());
            }
        }
        post_execution::reward_beneficiary(ctx, exec_result.gas()).map_err(From::from)
    }
}

/// The fee revm's `reward_beneficiary` credits for a transaction that used `gas`.
fn beneficiary_fee(cfg: &CfgEnv, block: &BlockEnv, tx: &TxEnv, gas: &Gas) -> U256 {
    if cfg.is_fee_charge_disabled() {
        return U256::ZERO;
    }
    let basefee = u128::from(block.basefee);
    let effective_gas_price = tx.effective_gas_price(basefee);
    let price = if cfg.spec.is_enabled_in(SpecId::LONDON) {
        effective_gas_price.saturating_sub(basefee)
    } else {
        effective_gas_price
    };
    let used = gas.used().saturating_sub(gas.reservoir());
    U256::from(price.wrapping_mul(u128::from(used)))
}

/// The beneficiary's entry in a transaction's state, as revm builds it when it credits `fee`
/// to an account that was `prior` before the transaction.
pub(crate) fn rewarded_beneficiary(
    address: Address,
    prior: Option<AccountInfo>,
    fee: U256,
    spec: SpecId,
) -> Account {
    journaled_account(address, prior, Some(fee), spec)
}

/// The entry revm's journal produces for an account that was `prior`, loaded by a
/// transaction and, if `credit` is given, touched and credited with it.
pub(crate) fn journaled_account(
    address: Address,
    prior: Option<AccountInfo>,
    credit: Option<U256>,
    spec: SpecId,
) -> Account {
    // Replay exactly revm's steps (load, credit, finalize) on a journal of its own.
    let mut journal = JournalInner::<revm::context::JournalEntry>::new();
    journal.set_spec_id(spec);
    let mut db = SingleAccountDb(prior);
    let Ok(mut account) = journal.load_account_mut(&mut db, address);
    if let Some(credit) = credit {
        account.data.incr_balance(credit);
    }
    journal.finalize().remove(&address).unwrap_or_default()
}

/// The beneficiary's info after revm credits `fee` to an account that was `prior`: the
/// `info` of [`rewarded_beneficiary`], without replaying the journal, for the in-order pass
/// that only needs the balance chain (the full accounts are built afterwards, in parallel).
pub(crate) fn credited_info(prior: Option<AccountInfo>, fee: U256) -> AccountInfo {
    let mut info = prior.unwrap_or_default();
    // revm leaves the balance as it was when the credit overflows.
    if let Some(balance) = info.balance.checked_add(fee) {
        info.balance = balance;
    }
    info
}

/// A database holding one account, to replay the beneficiary credit on.
struct SingleAccountDb(Option<AccountInfo>);

impl Database for SingleAccountDb {
    type Error = Infallible;

    fn basic(&mut self, _: Address) -> Result<Option<AccountInfo>, Infallible> {
        Ok(self.0.clone())
    }

    fn code_by_hash(&mut self, _: alloy_primitives::B256) -> Result<Bytecode, Infallible> {
        Ok(Bytecode::default())
    }

    fn storage(&mut self, _: Address, _: U256) -> Result<U256, Infallible> {
        Ok(U256::ZERO)
    }

    fn block_hash(&mut self, _: u64) -> Result<alloy_primitives::B256, Infallible> {
        Ok(alloy_primitives::B256::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{B256, Bytes};
    use revm::primitives::KECCAK_EMPTY;

    #[test]
    fn credited_info_is_the_info_revm_builds() {
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
                balance: U256::from(1),
                code_hash: code.hash_slow(),
                code: Some(code.clone()),
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
        let address = Address::repeat_byte(0xcb);
        for spec in [
            SpecId::FRONTIER,
            SpecId::SPURIOUS_DRAGON,
            SpecId::CANCUN,
            SpecId::OSAKA,
        ] {
            for prior in &priors {
                for fee in [U256::from(1), U256::from(21_000 * 7)] {
                    let account = rewarded_beneficiary(address, prior.clone(), fee, spec);
                    assert_eq!(
                        credited_info(prior.clone(), fee),
                        account.info,
                        "{spec:?} {prior:?} {fee}"
                    );
                }
            }
        }
    }
}
