//! Turning the validated outcome of every transaction into the block's output. An in-order
//! pass ([`order`]) over small per-transaction summaries applies the block gas rule, finds
//! the first error and makes the beneficiary's deferred fees concrete; a parallel pass
//! ([`Ordered::into_outputs`]) then builds the outputs, so the serial part of the block's
//! tail touches little memory.

use crate::{
    blockstm::{
        AccountBasic, AccountCode, BeneficiaryTouch, MvMemory, OutcomeSlot, TxOutcome, account_info,
    },
    chain::{
        block_gas::BlockGasMeter,
        credited_account::{credited_account, credited_info},
    },
    error::ExecutionError,
    location::TxIdx,
    output::TxOutput,
    prefetch::prefetch,
};
use alloy_primitives::{Address, U256};
use rayon::prelude::*;
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv, result::ExecutionResult},
    primitives::hardfork::SpecId,
    state::{AccountInfo, EvmState},
};
use std::collections::BTreeMap;

/// A block whose outcomes passed the in-order checks, ready to become its output.
pub(crate) struct Ordered<E> {
    outcomes: Vec<OutcomeSlot<E>>,
    /// For each transaction that deferred its fee: the beneficiary before it, and the fee.
    credits: Vec<Option<Credit>>,
    beneficiary: Address,
    /// For each transaction that paid a busy recipient through a placeholder: the recipient
    /// and its real value before the transaction.
    recipients: Vec<Option<RecipientPrior>>,
    spec: SpecId,
    /// The block's gas meter after its transactions.
    pub(crate) gas: BlockGasMeter,
}

/// A busy recipient, and what it was before a transaction paid it through a placeholder.
pub(crate) type RecipientPrior = (Address, Option<AccountInfo>);

/// A deferred fee made concrete: the beneficiary before the transaction, and the fee.
pub(crate) type Credit = (Option<AccountInfo>, U256);

/// The beneficiary's account as the block goes, in order, so that each deferred fee can be
/// credited on top of what the beneficiary was just before its transaction.
pub(crate) struct BeneficiaryLedger {
    address: Address,
    /// The beneficiary as of the current transaction, fetched on first need.
    current: Option<Option<AccountInfo>>,
}

impl BeneficiaryLedger {
    pub(crate) const fn new(address: Address) -> Self {
        Self {
            address,
            current: None,
        }
    }

    /// Takes in what transaction `index` did to the beneficiary; returns its credit when it
    /// deferred its fee.
    pub(crate) fn apply<DB: DatabaseRef>(
        &mut self,
        db: &DB,
        index: TxIdx,
        touch: BeneficiaryTouch,
    ) -> Result<Option<Credit>, ExecutionError<DB::Error>> {
        match touch {
            BeneficiaryTouch::Untouched => Ok(None),
            BeneficiaryTouch::Deferred(fee) => {
                let prior = match self.current.take() {
                    Some(info) => info,
                    None => {
                        db.basic_ref(self.address)
                            .map_err(|error| ExecutionError::Database {
                                context: format!(
                                    "reading the beneficiary {} for transaction {index}",
                                    self.address
                                ),
                                error,
                            })?
                    }
                };
                // A positive fee leaves the beneficiary non-empty, so it exists afterwards.
                self.current = Some(Some(credited_info(prior.clone(), fee)));
                Ok(Some((prior, fee)))
            }
            BeneficiaryTouch::Read(info) => {
                self.current.get_or_insert(info.map(|info| *info));
                Ok(None)
            }
            BeneficiaryTouch::Wrote(info) => {
                self.current = Some(info.map(|info| *info));
                Ok(None)
            }
        }
    }
}

/// A successful transaction's output: its result and state, with the beneficiary's deferred
/// fee and a busy recipient's payment applied to their real values before it.
pub(crate) fn finish_output(
    result: ExecutionResult,
    mut state: EvmState,
    credit: Option<Credit>,
    recipient: Option<RecipientPrior>,
    beneficiary: Address,
    spec: SpecId,
) -> TxOutput {
    if let Some((prior, fee)) = credit {
        state.insert(beneficiary, credited_account(prior, Some(fee), spec));
    }
    if let Some((address, prior)) = recipient {
        // The placeholder started empty, so its balance is what was paid.
        let payment = state
            .get(&address)
            .filter(|account| account.is_touched())
            .map(|account| account.info.balance);
        state.insert(address, credited_account(prior, payment, spec));
    }
    TxOutput { result, state }
}

/// Why a block's outcomes did not become its output.
pub(crate) enum Unassembled<E> {
    /// The block fails with this error, as it does sequentially.
    Failed(ExecutionError<E>),
    /// A payment to a busy recipient overflowed its balance, which the placeholder could
    /// not see: plain sequential execution gives the exact result of such a block.
    RunSequentially,
}

impl<E> From<ExecutionError<E>> for Unassembled<E> {
    fn from(error: ExecutionError<E>) -> Self {
        Self::Failed(error)
    }
}

/// Walks the final outcomes in order. The first failure (a transaction error or a block gas
/// overrun) is the block's error, exactly as sequential execution would have stopped there.
pub(crate) fn order<DB: DatabaseRef>(
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
    outcomes: Vec<OutcomeSlot<DB::Error>>,
    memory: &MvMemory,
) -> Result<Ordered<DB::Error>, Unassembled<DB::Error>> {
    let beneficiary = block.beneficiary;
    let mut ledger = BeneficiaryLedger::new(beneficiary);
    let mut gas = BlockGasMeter::new(cfg, block);
    let mut credits = Vec::with_capacity(outcomes.len());
    let mut placeholders: BTreeMap<Address, Vec<TxIdx>> = BTreeMap::new();

    let mut outcomes = outcomes;
    for index in 0..txs.len().min(outcomes.len()) {
        if let Some(ahead) = outcomes.get_mut(index + LOOK_AHEAD) {
            prefetch_outcome(ahead);
        }
        gas.check(index, &txs[index])?;
        let slot = outcomes[index].get_mut().expect("outcome lock poisoned");
        let outcome = slot.as_mut().expect("every transaction executed");
        let Ok(result) = &outcome.result else {
            let failure = slot.take().expect("checked").result.expect_err("checked");
            return Err(ExecutionError::Transaction { index, failure }.into());
        };
        gas.record(result);
        if let Some(recipient) = outcome.placeholder {
            placeholders.entry(recipient).or_default().push(index);
        }
        let touch = std::mem::replace(&mut outcome.beneficiary, BeneficiaryTouch::Untouched);
        credits.push(ledger.apply(db, index, touch)?);
    }

    let recipients = busy_recipient_values(db, memory, placeholders, outcomes.len())?;
    Ok(Ordered {
        outcomes,
        credits,
        beneficiary,
        recipients,
        spec: cfg.spec,
        gas,
    })
}

/// How many transactions ahead the in-order pass starts loading outcomes.
const LOOK_AHEAD: usize = 8;

/// Starts loading what the in-order pass reads of an outcome. The outcomes were written
/// by the workers, so with several of them most lie in another core's cache, and each one
/// read in turn would wait for its transfer.
fn prefetch_outcome<E>(slot: &mut OutcomeSlot<E>) {
    if let Ok(Some(outcome)) = slot.get_mut() {
        prefetch(&outcome.result);
        prefetch(&outcome.beneficiary);
        prefetch(&outcome.placeholder);
    }
}

/// The value each placeholder transaction's busy recipient really had before it.
fn busy_recipient_values<DB: DatabaseRef>(
    db: &DB,
    memory: &MvMemory,
    placeholders: BTreeMap<Address, Vec<TxIdx>>,
    block_size: usize,
) -> Result<Vec<Option<RecipientPrior>>, Unassembled<DB::Error>> {
    let mut recipients = vec![None; block_size];
    for (address, readers) in placeholders {
        let base = db
            .basic_ref(address)
            .map_err(|error| ExecutionError::Database {
                context: format!("reading the busy recipient {address}"),
                error,
            })?
            .map(|info| AccountBasic {
                balance: info.balance,
                nonce: info.nonce,
            });
        let values = memory
            .values_seen_by_payers(address, base, &readers)
            .ok_or(Unassembled::RunSequentially)?;
        for (tx, value) in readers.into_iter().zip(values) {
            let prior = value.map(|account| account_info(account, AccountCode::empty()));
            recipients[tx] = Some((address, prior));
        }
    }
    Ok(recipients)
}

impl<E: Send> Ordered<E> {
    /// Every transaction's output, built in parallel on the current rayon pool.
    pub(crate) fn into_outputs(self) -> Vec<TxOutput> {
        let (beneficiary, spec) = (self.beneficiary, self.spec);
        self.outcomes
            .into_par_iter()
            .zip(self.credits)
            .zip(self.recipients)
            .map(|((slot, credit), recipient)| {
                output_of(slot, credit, recipient, beneficiary, spec)
            })
            .collect()
    }

    /// [`Self::into_outputs`] on the calling thread, for a single worker.
    pub(crate) fn into_outputs_on_caller(self) -> Vec<TxOutput> {
        let (beneficiary, spec) = (self.beneficiary, self.spec);
        self.outcomes
            .into_iter()
            .zip(self.credits)
            .zip(self.recipients)
            .map(|((slot, credit), recipient)| {
                output_of(slot, credit, recipient, beneficiary, spec)
            })
            .collect()
    }
}

/// The output of a transaction whose final outcome is in `slot`.
fn output_of<E>(
    slot: OutcomeSlot<E>,
    credit: Option<Credit>,
    recipient: Option<RecipientPrior>,
    beneficiary: Address,
    spec: SpecId,
) -> TxOutput {
    let outcome = slot
        .into_inner()
        .expect("outcome lock poisoned")
        .expect("every transaction executed");
    let TxOutcome { result, state, .. } = *outcome;
    let Ok(result) = result else {
        unreachable!("failures end the block before their output is built")
    };
    finish_output(result, state, credit, recipient, beneficiary, spec)
}
