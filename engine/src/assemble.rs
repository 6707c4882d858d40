//! Turning the validated outcome of every transaction into the block's output. An in-order
//! pass over small per-transaction summaries applies the block gas rule, finds the first
//! error and makes the beneficiary's deferred fees concrete; a parallel pass then builds the
//! outputs, so the serial part of the block's tail touches little memory.

use crate::{
    account_effect::{AccountEffect, account_effect},
    beneficiary::rewarded_beneficiary,
    block_gas::BlockGasMeter,
    error::ExecutionError,
    output::TxOutput,
    worker::TxOutcome,
};
use alloy_primitives::{Address, U256};
use rayon::prelude::*;
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
    state::{Account, AccountInfo, EvmState},
};
use std::sync::Mutex;

/// Transactions and gas used of a block whose executions all validated.
pub(crate) struct Assembled {
    pub(crate) transactions: Vec<TxOutput>,
    pub(crate) gas_used: u64,
}

/// What one execution did to the beneficiary, summarised by the worker that ran it.
#[derive(Debug)]
pub(crate) enum BeneficiaryTouch {
    /// Not loaded and owed nothing (a failed transaction).
    Untouched,
    /// Not loaded; this fee is owed to it.
    Deferred(U256),
    /// Loaded and left as it was (`None`: loaded as non-existent).
    Read(Option<AccountInfo>),
    /// Changed: its info afterwards (`None`: it no longer exists).
    Wrote(Option<AccountInfo>),
}

impl BeneficiaryTouch {
    /// Summarises `state` for `beneficiary`, given the fee the execution deferred.
    pub(crate) fn of(state: &EvmState, beneficiary: Address, deferred_fee: Option<U256>) -> Self {
        match state.get(&beneficiary) {
            None => deferred_fee.map_or(Self::Untouched, Self::Deferred),
            Some(account) => Self::after(account),
        }
    }

    fn after(account: &Account) -> Self {
        match account_effect(account) {
            AccountEffect::Unchanged => {
                Self::Read((!account.is_loaded_as_not_existing()).then(|| account.info.clone()))
            }
            AccountEffect::Destroyed => Self::Wrote(None),
            AccountEffect::Created(account) | AccountEffect::Updated(account) => {
                Self::Wrote(Some(account.info.clone()))
            }
        }
    }
}

/// Walks the final outcomes in order. The first failure (a transaction error or a block gas
/// overrun) is the block's error, exactly as sequential execution would have stopped there.
pub(crate) fn assemble<DB: DatabaseRef>(
    pool: &rayon::ThreadPool,
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
    outcomes: Vec<Mutex<Option<TxOutcome<DB::Error>>>>,
) -> Result<Assembled, ExecutionError<DB::Error>>
where
    DB::Error: Send,
{
    let beneficiary = block.beneficiary;
    // The beneficiary as of the current transaction, fetched on first need.
    let mut beneficiary_info: Option<Option<AccountInfo>> = None;
    let mut gas = BlockGasMeter::new(cfg, block);
    let mut rewarded: Vec<Option<Account>> = Vec::with_capacity(outcomes.len());

    for (index, (tx, slot)) in txs.iter().zip(&outcomes).enumerate() {
        gas.check(index, tx)?;
        let mut slot = slot.lock().expect("outcome lock poisoned");
        let outcome = slot.as_mut().expect("every transaction executed");
        let result = match &outcome.result {
            Ok(result) => result,
            Err(_) => {
                let failure = slot.take().expect("checked").result.expect_err("checked");
                return Err(ExecutionError::Transaction { index, failure });
            }
        };
        gas.record(result);
        let touch = std::mem::replace(&mut outcome.beneficiary, BeneficiaryTouch::Untouched);
        let patch = match touch {
            BeneficiaryTouch::Untouched => None,
            BeneficiaryTouch::Deferred(fee) => {
                let prior = match beneficiary_info.take() {
                    Some(info) => info,
                    None => {
                        db.basic_ref(beneficiary)
                            .map_err(|error| ExecutionError::Database {
                                context: format!(
                                    "reading the beneficiary {beneficiary} for transaction {index}"
                                ),
                                error,
                            })?
                    }
                };
                let account = rewarded_beneficiary(beneficiary, prior, fee, cfg.spec);
                beneficiary_info = match BeneficiaryTouch::after(&account) {
                    BeneficiaryTouch::Wrote(info) | BeneficiaryTouch::Read(info) => Some(info),
                    _ => unreachable!("the rewarded beneficiary is loaded"),
                };
                Some(account)
            }
            BeneficiaryTouch::Read(info) => {
                beneficiary_info.get_or_insert(info);
                None
            }
            BeneficiaryTouch::Wrote(info) => {
                beneficiary_info = Some(info);
                None
            }
        };
        rewarded.push(patch);
    }

    let transactions = pool.install(|| {
        outcomes
            .into_par_iter()
            .zip(rewarded)
            .map(|(slot, rewarded)| {
                let outcome = slot
                    .into_inner()
                    .expect("outcome lock poisoned")
                    .expect("every transaction executed");
                let Ok(result) = outcome.result else {
                    unreachable!("failures returned above")
                };
                let mut state = outcome.state;
                if let Some(account) = rewarded {
                    state.insert(beneficiary, account);
                }
                TxOutput { result, state }
            })
            .collect()
    });
    Ok(Assembled {
        transactions,
        gas_used: gas.used(),
    })
}
