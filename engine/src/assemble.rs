//! Turning the validated outcome of every transaction into the block's output. An in-order
//! pass ([`order`]) over small per-transaction summaries applies the block gas rule, finds
//! the first error and makes the beneficiary's deferred fees concrete; a parallel pass
//! ([`Ordered::into_outputs`]) then builds the outputs, so the serial part of the block's
//! tail touches little memory.

use crate::{
    account_effect::{AccountEffect, account_effect},
    beneficiary::{credited_info, rewarded_beneficiary},
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
    primitives::hardfork::SpecId,
    state::{Account, AccountInfo, EvmState},
};
use std::sync::Mutex;

/// A block whose outcomes passed the in-order checks, ready to become its output.
pub(crate) struct Ordered<E> {
    outcomes: Vec<Mutex<Option<TxOutcome<E>>>>,
    /// For each transaction that deferred its fee: the beneficiary before it, and the fee.
    credits: Vec<Option<(Option<AccountInfo>, U256)>>,
    beneficiary: Address,
    spec: SpecId,
    /// Gas used by the block.
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
    Read(Option<Box<AccountInfo>>),
    /// Changed: its info afterwards (`None`: it no longer exists).
    Wrote(Option<Box<AccountInfo>>),
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
            AccountEffect::Unchanged => Self::Read(
                (!account.is_loaded_as_not_existing()).then(|| Box::new(account.info.clone())),
            ),
            AccountEffect::Destroyed => Self::Wrote(None),
            AccountEffect::Created(account) | AccountEffect::Updated(account) => {
                Self::Wrote(Some(Box::new(account.info.clone())))
            }
        }
    }
}

/// Walks the final outcomes in order. The first failure (a transaction error or a block gas
/// overrun) is the block's error, exactly as sequential execution would have stopped there.
pub(crate) fn order<DB: DatabaseRef>(
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
    outcomes: Vec<Mutex<Option<TxOutcome<DB::Error>>>>,
) -> Result<Ordered<DB::Error>, ExecutionError<DB::Error>> {
    let beneficiary = block.beneficiary;
    // The beneficiary as of the current transaction, fetched on first need.
    let mut beneficiary_info: Option<Option<AccountInfo>> = None;
    let mut gas = BlockGasMeter::new(cfg, block);
    let mut credits = Vec::with_capacity(outcomes.len());

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
                // A positive fee leaves the beneficiary non-empty, so it exists afterwards.
                beneficiary_info = Some(Some(credited_info(prior.clone(), fee)));
                Some((prior, fee))
            }
            BeneficiaryTouch::Read(info) => {
                beneficiary_info.get_or_insert(info.map(|info| *info));
                None
            }
            BeneficiaryTouch::Wrote(info) => {
                beneficiary_info = Some(info.map(|info| *info));
                None
            }
        };
        credits.push(patch);
    }

    Ok(Ordered {
        outcomes,
        credits,
        beneficiary,
        spec: cfg.spec,
        gas_used: gas.used(),
    })
}

impl<E: Send> Ordered<E> {
    /// Every transaction's output, built in parallel on the current rayon pool.
    pub(crate) fn into_outputs(self) -> Vec<TxOutput> {
        let (beneficiary, spec) = (self.beneficiary, self.spec);
        self.outcomes
            .into_par_iter()
            .zip(self.credits)
            .map(|(slot, credit)| {
                let outcome = slot
                    .into_inner()
                    .expect("outcome lock poisoned")
                    .expect("every transaction executed");
                let Ok(result) = outcome.result else {
                    unreachable!("failures returned by order")
                };
                let mut state = outcome.state;
                if let Some((prior, fee)) = credit {
                    state.insert(
                        beneficiary,
                        rewarded_beneficiary(beneficiary, prior, fee, spec),
                    );
                }
                TxOutput { result, state }
            })
            .collect()
    }
}
