//! Turning the validated outcome of every transaction into the block's output, in block
//! order: block gas checks, errors, and the beneficiary's deferred fees made concrete.

use crate::{
    account_effect::{AccountEffect, account_effect},
    beneficiary::rewarded_beneficiary,
    block_gas::BlockGasMeter,
    error::ExecutionError,
    output::TxOutput,
    state_diff::StateDiff,
    worker::TxOutcome,
};
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
    state::AccountInfo,
};

/// Transactions, gas used and merged state of a block whose executions all validated.
pub(crate) struct Assembled {
    pub(crate) transactions: Vec<TxOutput>,
    pub(crate) gas_used: u64,
    pub(crate) state_diff: StateDiff,
}

/// Walks the final outcomes in order. The first failure (a transaction error or a block gas
/// overrun) is the block's error, exactly as sequential execution would have stopped there.
pub(crate) fn assemble<DB: DatabaseRef>(
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
    outcomes: Vec<TxOutcome<DB::Error>>,
) -> Result<Assembled, ExecutionError<DB::Error>> {
    let beneficiary = block.beneficiary;
    // The beneficiary as of the current transaction, fetched on first need.
    let mut beneficiary_info: Option<Option<AccountInfo>> = None;
    let mut gas = BlockGasMeter::new(cfg, block);
    let mut transactions = Vec::with_capacity(outcomes.len());
    let mut state_diff = StateDiff::default();

    for (index, (tx, outcome)) in txs.iter().zip(outcomes).enumerate() {
        gas.check(index, tx)?;
        let result = outcome
            .result
            .map_err(|failure| ExecutionError::Transaction { index, failure })?;
        let mut state = outcome.state;
        if let Some(fee) = outcome.deferred_fee {
            let prior = match beneficiary_info.take() {
                Some(info) => info,
                None => db
                    .basic_ref(beneficiary)
                    .map_err(|error| ExecutionError::Database {
                        context: format!(
                            "reading the beneficiary {beneficiary} for transaction {index}"
                        ),
                        error,
                    })?,
            };
            state.insert(
                beneficiary,
                rewarded_beneficiary(beneficiary, prior, fee, cfg.spec),
            );
        }
        if let Some(account) = state.get(&beneficiary) {
            match account_effect(account) {
                AccountEffect::Unchanged => {
                    beneficiary_info.get_or_insert_with(|| {
                        (!account.is_loaded_as_not_existing()).then(|| account.info.clone())
                    });
                }
                AccountEffect::Destroyed => beneficiary_info = Some(None),
                AccountEffect::Created(account) | AccountEffect::Updated(account) => {
                    beneficiary_info = Some(Some(account.info.clone()));
                }
            }
        }
        gas.record(&result);
        state_diff.apply(&state);
        transactions.push(TxOutput { result, state });
    }
    Ok(Assembled {
        transactions,
        gas_used: gas.used(),
        state_diff,
    })
}
