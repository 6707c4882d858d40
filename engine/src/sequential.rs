//! Plain sequential execution with revm: every transaction in order, each committed before
//! the next. This is the reference the parallel engine must match, its fallback for blocks
//! too small to gain from threads, and how it finishes a block once speculation stops
//! paying.

use crate::{
    chain::{block_gas::BlockGasMeter, evm::mainnet_evm},
    error::{ExecutionError, TxFailure},
    location::{TxIdx, access_index},
    output::{BlockOutput, ExecutionStats, TxOutput},
};
use revm::{
    Database, DatabaseCommit, DatabaseRef, ExecuteCommitEvm, ExecuteEvm,
    context::{BlockEnv, CfgEnv, TxEnv},
    database::State,
    database_interface::bal::EvmDatabaseError,
    state::bal::Bal,
};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Executes `txs` one after another on top of `db` with revm, committing each into revm's
/// `State` as a client does.
pub fn execute_sequential<DB: DatabaseRef>(
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
) -> Result<BlockOutput, ExecutionError<DB::Error>> {
    let mut state = State::builder().with_database_ref(db).build();
    let gas = BlockGasMeter::new(cfg, block);
    let (transactions, gas) =
        run_in_order(&mut state, cfg, block, txs, 0, gas, TxFailure::Database)?;
    Ok(sequential_output(transactions, &gas))
}

/// Executes `txs` like [`execute_sequential`], with revm's `State` also building the
/// transactions' part of the block's EIP-7928 access list (indices 1 to n) as it commits
/// each one (`State::with_bal_builder`): the reference for
/// [`BlockOutput::access_list`] and the list
/// [`ParallelExecutor::execute_with_access_list`](crate::ParallelExecutor::execute_with_access_list)
/// runs from.
pub fn execute_sequential_with_access_list<DB: DatabaseRef>(
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
) -> Result<(BlockOutput, Bal), ExecutionError<DB::Error>> {
    let mut state = State::builder()
        .with_database_ref(db)
        .with_bal_builder()
        .build();
    let gas = BlockGasMeter::new(cfg, block);
    let (transactions, gas) =
        run_in_order(&mut state, cfg, block, txs, 0, gas, TxFailure::Database)?;
    let list = state.take_built_bal().unwrap_or_default();
    Ok((sequential_output(transactions, &gas), list))
}

/// The output of transactions run one after another, every one of them once.
fn sequential_output(transactions: Vec<TxOutput>, gas: &BlockGasMeter) -> BlockOutput {
    BlockOutput {
        stats: ExecutionStats {
            threads: 1,
            parallel: false,
            executions: transactions.len(),
            ..Default::default()
        },
        transactions,
        gas_used: gas.used(),
        access: None,
    }
}

/// Executes the rest of a block in order with revm, after its first transactions: `done`,
/// their outputs (from [`BlockStream`](crate::BlockStream), say), are committed into revm's
/// `State` over `db` first, and `rest` runs on top of them, with the block's gas counted
/// from theirs. The outputs returned are those of `rest`; errors name transactions by their
/// index in the whole block.
pub fn execute_sequential_after<DB: DatabaseRef>(
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    done: &[TxOutput],
    rest: &[TxEnv],
) -> Result<BlockOutput, ExecutionError<DB::Error>> {
    let mut gas = BlockGasMeter::new(cfg, block);
    for output in done {
        gas.record(&output.result);
    }
    let (transactions, gas) = continue_in_order(db, cfg, block, done, rest, gas)?;
    Ok(sequential_output(transactions, &gas))
}

/// Finishes a block in order: commits `done`, the final outputs of its first transactions,
/// into revm's `State` over `db` as sequential execution would have, then executes `txs`,
/// the rest, continuing the block's gas meter `gas`.
pub(crate) fn continue_in_order<DB: DatabaseRef>(
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    done: &[TxOutput],
    txs: &[TxEnv],
    gas: BlockGasMeter,
) -> Result<(Vec<TxOutput>, BlockGasMeter), ExecutionError<DB::Error>> {
    let mut state = State::builder().with_database_ref(db).build();
    for output in done {
        state.commit(output.state.clone());
    }
    run_in_order(
        &mut state,
        cfg,
        block,
        txs,
        done.len(),
        gas,
        TxFailure::Database,
    )
}

/// Executes `txs`, the block's transactions from index `first` on, in order on `state`,
/// continuing the block's gas meter `gas`. `database_failure` classifies the database's
/// errors.
pub(crate) fn run_in_order<D: Database, E>(
    state: &mut State<D>,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
    first: TxIdx,
    mut gas: BlockGasMeter,
    database_failure: impl Fn(D::Error) -> TxFailure<E>,
) -> Result<(Vec<TxOutput>, BlockGasMeter), ExecutionError<E>> {
    let mut evm = mainnet_evm(state, cfg, block);
    let mut transactions = Vec::with_capacity(txs.len());
    for (index, tx) in (first..).zip(txs) {
        gas.check(index, tx)?;
        // Where the `State` builds an access list, the transaction's EIP-7928 index.
        evm.ctx
            .journaled_state
            .database
            .set_bal_index(access_index(index));
        // A panic (in revm or the database) fails the block, which is dropped with the EVM.
        let output = catch_unwind(AssertUnwindSafe(|| evm.transact(tx.clone())))
            .map_err(|panic| ExecutionError::Transaction {
                index,
                failure: TxFailure::from_panic(&*panic),
            })?
            .map_err(|error| ExecutionError::Transaction {
                index,
                failure: TxFailure::from_evm_error(error, |error| match error {
                    EvmDatabaseError::Database(error) => database_failure(error),
                    EvmDatabaseError::Bal(error) => TxFailure::Evm(error.to_string()),
                }),
            })?;
        gas.record(&output.result);
        evm.commit(output.state.clone());
        transactions.push(TxOutput {
            result: output.result,
            state: output.state,
        });
    }
    Ok((transactions, gas))
}
