//! Plain sequential execution with revm: every transaction in order, each committed before
//! the next. This is the reference the parallel engine must match, and its fallback for
//! blocks too small to gain from threads.

use crate::{
    chain::{block_gas::BlockGasMeter, evm::mainnet_evm},
    error::{ExecutionError, TxFailure},
    output::{BlockOutput, ExecutionStats, TxOutput},
};
use revm::{
    DatabaseRef, ExecuteCommitEvm, ExecuteEvm,
    context::{BlockEnv, CfgEnv, TxEnv},
    database::State,
    database_interface::bal::EvmDatabaseError,
};

/// Executes `txs` one after another on top of `db` with revm, committing each into revm's
/// `State` as a client does.
pub fn execute_sequential<DB: DatabaseRef>(
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
) -> Result<BlockOutput, ExecutionError<DB::Error>> {
    let state = State::builder().with_database_ref(db).build();
    let mut evm = mainnet_evm(state, cfg, block);
    let mut gas = BlockGasMeter::new(cfg, block);
    let mut transactions = Vec::with_capacity(txs.len());
    for (index, tx) in txs.iter().enumerate() {
        gas.check(index, tx)?;
        let output = evm
            .transact(tx.clone())
            .map_err(|error| ExecutionError::Transaction {
                index,
                failure: TxFailure::from_evm_error(error, |error| match error {
                    EvmDatabaseError::Database(error) => TxFailure::Database(error),
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
    Ok(BlockOutput {
        transactions,
        gas_used: gas.used(),
        access: None,
        stats: ExecutionStats {
            threads: 1,
            parallel: false,
            executions: txs.len(),
            ..Default::default()
        },
    })
}
