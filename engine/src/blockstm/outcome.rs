//! What one execution of a transaction produced, kept until the block is assembled.

use crate::{
    chain::account_effect::{AccountEffect, account_effect},
    error::TxFailure,
};
use alloy_primitives::{Address, U256};
use revm::{
    context_interface::result::ExecutionResult,
    state::{Account, AccountInfo, EvmState},
};
use std::sync::Mutex;

/// Where a transaction's latest outcome waits for the block's assembly: boxed, so that
/// handing it on moves a pointer.
pub(crate) type OutcomeSlot<E> = Mutex<Option<Box<TxOutcome<E>>>>;

/// What one execution of a transaction produced.
#[derive(Debug)]
pub(crate) struct TxOutcome<E> {
    /// revm's result, or why the transaction could not run.
    pub(crate) result: Result<ExecutionResult, TxFailure<E>>,
    /// revm's per-transaction state.
    pub(crate) state: EvmState,
    /// The beneficiary fee that was recorded as an increment instead of credited.
    pub(crate) deferred_fee: Option<U256>,
    /// The busy recipient it paid through a placeholder, whose entry in `state` is rebuilt
    /// from its real value once the block is done.
    pub(crate) placeholder: Option<Address>,
    /// What it paid that recipient, recorded as an increment.
    pub(crate) payment: Option<(Address, U256)>,
    /// What the execution did to the beneficiary, for the in-order assembly.
    pub(crate) beneficiary: BeneficiaryTouch,
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
