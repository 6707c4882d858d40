//! Executing a block from its EIP-7928 block access list.
//!
//! The list gives, for every account and slot the block touches, its value after each
//! transaction that changed it (index 0 is the pre-execution system calls, `i + 1`
//! transaction `i`). So every transaction runs at once, on the pre-state plus the list's
//! entries before its own index (revm's `State` reading the list), with no multi-version
//! memory, no validation and no re-execution, even on a block that is one long chain.
//!
//! The list is then held to what the transactions did: at every transaction's index the
//! list must hold exactly the changes revm's own builder would record for it (what
//! `State::with_bal_builder` does on each commit): each value the transaction changed, with
//! its new value, and nothing else. Each transaction checks its own entries as it finishes;
//! a count of the list's entries per index, made beside the execution, shows in the in-order
//! pass that no index holds more. Where the list passes, each transaction read exactly the
//! state sequential execution gives it (by induction over the block: transaction `i` read
//! the list's values before `i + 1`, which are the true ones because every earlier
//! transaction changed what the list says), so its output is sequential revm's. A read outside the list fails the transaction's read itself. What the caller
//! still compares against the whole block's built list: the entries of indices 0 and
//! `n + 1` (system calls, withdrawals) and the list's reads, which the list does not assign
//! to a transaction.

use crate::{
    chain::{
        block_gas::BlockGasMeter,
        evm::{MainnetEvmOn, mainnet_evm},
    },
    error::{ExecutionError, TxFailure},
    location::{TxIdx, access_index},
    output::{BlockOutput, ExecutionStats, TxOutput},
};
use rayon::prelude::*;
use revm::{
    DatabaseRef, ExecuteEvm,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::EVMError,
    database::{State, WrapDatabaseRef},
    database_interface::bal::EvmDatabaseError,
    primitives::StorageValue,
    state::{
        AccountInfo,
        bal::{Bal, BalWrites, BlockAccessIndex},
    },
};
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
    time::Instant,
};

/// Runs every transaction of `txs` at once on `pool` from `list`, each checking its own
/// entries in the list as it finishes, then, in block order, the block gas rule, validity
/// and the list's count of entries at each index.
///
/// What a transaction loads comes from revm's `State` reading the list, which tells an
/// account that exists but is empty from one that does not exist by the list's writes, not
/// by the history of the block: the outputs can differ from sequential revm's in that flag
/// (`LoadedAsNotExisting`) on empty accounts. From Spurious Dragon (EIP-161) on, empty and
/// absent accounts behave alike, and committed in order into a `State` (which already holds
/// every account an earlier transaction touched) the outputs give sequential revm's
/// `BundleState`. Before Cancun (EIP-6780) a SELFDESTRUCT also wipes slots the list never
/// mentions: the caller runs such blocks another way. (One case remains that the list cannot
/// express: a creation over an address that already holds storage, which EIP-7610 forbids
/// and revm 43 allows; it has never happened on mainnet.)
pub(crate) fn execute_from_list<DB>(
    pool: &rayon::ThreadPool,
    threads: usize,
    db: &DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
    list: &Arc<Bal>,
) -> Result<BlockOutput, ExecutionError<DB::Error>>
where
    DB: DatabaseRef + Sync,
    DB::Error: Send,
{
    let (runs, entries): (Vec<_>, _) = pool.install(|| {
        rayon::join(
            || {
                txs.par_iter()
                    .enumerate()
                    .map_init(
                        || list_evm(db, cfg, block, list),
                        |evm, (index, tx)| {
                            let output = run_from_list(evm, index, tx).inspect_err(|error| {
                                if matches!(error, ExecutionError::Transaction { failure, .. } if failure.is_panic()) {
                                    // The panic may have left the EVM inconsistent.
                                    *evm = list_evm(db, cfg, block, list);
                                }
                            })?;
                            let matched = check_transaction(list, index, &output)?;
                            Ok((output, matched))
                        },
                    )
                    .collect()
            },
            || entries_per_index(list, txs.len()),
        )
    });
    // The in-order pass, timed: the block gas rule, validity and the list's counts.
    let check = Instant::now();
    let mut gas = BlockGasMeter::new(cfg, block);
    let mut transactions = Vec::with_capacity(txs.len());
    for (index, (tx, run)) in txs.iter().zip(runs).enumerate() {
        gas.check(index, tx)?;
        let (output, matched) = run?;
        gas.record(&output.result);
        if matched != entries[index] {
            return Err(extra_entries(list, index, &output));
        }
        transactions.push(output);
    }
    let access_list_check = check.elapsed();
    Ok(BlockOutput {
        stats: ExecutionStats {
            threads,
            parallel: true,
            from_access_list: true,
            access_list_check,
            executions: txs.len(),
            ..Default::default()
        },
        transactions,
        gas_used: gas.used(),
        access: None,
    })
}

/// An EVM for one worker over `db` with `list` on top. It never commits, so its `State`
/// caches only `db`'s values and applies the list at the current index on every read: one
/// serves every transaction the worker runs.
fn list_evm<'db, DB: DatabaseRef>(
    db: &'db DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
    list: &Arc<Bal>,
) -> MainnetEvmOn<State<WrapDatabaseRef<&'db DB>>> {
    let state = State::builder()
        .with_database_ref(db)
        .with_bal(Arc::clone(list))
        .build();
    mainnet_evm(state, cfg, block)
}

/// Executes transaction `index` alone on `evm`, on the pre-state plus the list's entries
/// before its index.
fn run_from_list<DB: DatabaseRef>(
    evm: &mut MainnetEvmOn<State<WrapDatabaseRef<&DB>>>,
    index: TxIdx,
    tx: &TxEnv,
) -> Result<TxOutput, ExecutionError<DB::Error>> {
    evm.ctx
        .journaled_state
        .database
        .set_bal_index(access_index(index));
    let output = catch_unwind(AssertUnwindSafe(|| evm.transact(tx.clone())))
        .map_err(|panic| ExecutionError::Transaction {
            index,
            failure: TxFailure::from_panic(&*panic),
        })?
        .map_err(|error| match error {
            EVMError::Database(EvmDatabaseError::Bal(error)) => ExecutionError::AccessList {
                index: access_index(index).0,
                detail: format!("transaction {index} reads what the list does not hold: {error}"),
            },
            error => ExecutionError::Transaction {
                index,
                failure: TxFailure::from_evm_error(error, |error| match error {
                    EvmDatabaseError::Database(error) => TxFailure::Database(error),
                    EvmDatabaseError::Bal(error) => TxFailure::Evm(error.to_string()),
                }),
            },
        })?;
    let mut state = output.state;
    // The list's position of each account, which revm's `State` stores in what it loads:
    // meaningless outside that `State`, and absent from sequential revm's outputs.
    for account in state.values_mut() {
        account.info.account_id = None;
    }
    Ok(TxOutput {
        result: output.result,
        state,
    })
}

/// Checks `list` against the outputs of a block executed another way (on a fork where the
/// list cannot be executed from): the lowest index at which it is not what they did.
pub(crate) fn check_list<E>(list: &Bal, outputs: &[TxOutput]) -> Result<(), ExecutionError<E>> {
    let entries = entries_per_index(list, outputs.len());
    for (index, output) in outputs.iter().enumerate() {
        if check_transaction(list, index, output)? != entries[index] {
            return Err(extra_entries(list, index, output));
        }
    }
    Ok(())
}

/// How many changes (to a nonce, a balance, a code or a slot) `list` holds at the index of
/// each of `transactions` transactions.
fn entries_per_index(list: &Bal, transactions: usize) -> Vec<usize> {
    let mut entries = vec![0; transactions];
    let mut count = |index: BlockAccessIndex| {
        if let Some(entry) = (index.0 as usize)
            .checked_sub(1)
            .and_then(|tx| entries.get_mut(tx))
        {
            *entry += 1;
        }
    };
    for account in list.accounts.values() {
        let info = &account.account_info;
        info.nonce
            .writes
            .iter()
            .for_each(|(index, _)| count(*index));
        info.balance
            .writes
            .iter()
            .for_each(|(index, _)| count(*index));
        info.code.writes.iter().for_each(|(index, _)| count(*index));
        for slot in account.storage.storage.values() {
            slot.writes.iter().for_each(|(index, _)| count(*index));
        }
    }
    entries
}

/// Checks that `list` holds, at transaction `index`'s position, every change the
/// transaction made, with its value, and no change it did not make to what it loaded; returns
/// how many entries it matched. A change is what revm's builder records: a value that differs
/// from the list's last value before this index, or from the one the transaction started from
/// where the list has none.
fn check_transaction<E>(
    list: &Bal,
    index: TxIdx,
    output: &TxOutput,
) -> Result<usize, ExecutionError<E>> {
    let at = access_index(index);
    let mut matched = 0;
    let mismatch = |detail: String| ExecutionError::AccessList {
        index: at.0,
        detail: format!("transaction {index}: {detail}"),
    };
    for (address, account) in &output.state {
        let Some(listed) = list.accounts.get(address) else {
            return Err(mismatch(format!(
                "it loads {address}, which the list does not hold"
            )));
        };
        let original = account.original_info();
        let destroyed = account.is_selfdestructed_locally();
        let empty = AccountInfo::default();
        let present = if destroyed { &empty } else { &account.info };
        let info = &listed.account_info;
        let mut check = |name: &dyn Fn() -> String, changed: bool, listed: Option<bool>| {
            check_change(name, changed, listed, &mut matched).map_err(&mismatch)
        };
        check(
            &|| format!("the nonce of {address}"),
            present.nonce != *before(&info.nonce, at, &original.nonce),
            writes_at(&info.nonce, at).map(|nonce| *nonce == present.nonce),
        )?;
        check(
            &|| format!("the balance of {address}"),
            present.balance != *before(&info.balance, at, &original.balance),
            writes_at(&info.balance, at).map(|balance| *balance == present.balance),
        )?;
        check(
            &|| format!("the code of {address}"),
            present.code_hash
                != last_before(&info.code, at).map_or(original.code_hash, |(hash, _)| *hash),
            writes_at(&info.code, at).map(|(hash, _)| *hash == present.code_hash),
        )?;
        for (slot, value) in &account.storage {
            let present_value = if destroyed {
                StorageValue::ZERO
            } else {
                value.present_value
            };
            let writes = listed.storage.storage.get(slot);
            let start = writes
                .and_then(|writes| last_before(writes, at))
                .unwrap_or(&value.original_value);
            let listed = writes.and_then(|writes| writes_at(writes, at));
            check(
                &|| format!("slot {slot:#x} of {address}"),
                present_value != *start,
                listed.map(|listed| *listed == present_value),
            )?;
        }
    }
    Ok(matched)
}

/// One value a transaction may have changed: `changed` says whether it did, `listed`
/// whether the list holds a change at its index and whether that change is the same.
fn check_change(
    name: &dyn Fn() -> String,
    changed: bool,
    listed: Option<bool>,
    matched: &mut usize,
) -> Result<(), String> {
    match (changed, listed) {
        (true, Some(true)) => {
            *matched += 1;
            Ok(())
        }
        (false, None) => Ok(()),
        (true, None) => Err(format!("{} changes, the list has no change", name())),
        (true, Some(false)) => Err(format!(
            "{} changes to another value than the list's",
            name()
        )),
        (false, Some(_)) => Err(format!("{} does not change, the list has a change", name())),
    }
}

/// The value a change is measured from, as revm's builder measures it: the list's last value
/// before `index`, or `loaded`, what the transaction started from, where the list has none.
/// (Where the list is right about the earlier transactions, the two are the same.)
fn before<'a, T: PartialEq + Clone>(
    writes: &'a BalWrites<T>,
    index: BlockAccessIndex,
    loaded: &'a T,
) -> &'a T {
    last_before(writes, index).unwrap_or(loaded)
}

/// The last value `writes` holds before `index`.
fn last_before<T: PartialEq + Clone>(writes: &BalWrites<T>, index: BlockAccessIndex) -> Option<&T> {
    let position = writes.writes.partition_point(|(at, _)| *at < index);
    position.checked_sub(1).map(|last| &writes.writes[last].1)
}

/// The value `writes` holds at exactly `index`.
fn writes_at<T: PartialEq + Clone>(writes: &BalWrites<T>, index: BlockAccessIndex) -> Option<&T> {
    writes
        .writes
        .binary_search_by_key(&index, |(at, _)| *at)
        .ok()
        .map(|position| &writes.writes[position].1)
}

/// Whether `writes` holds a change at `index`.
fn has_write_at<T>(writes: &[(BlockAccessIndex, T)], index: BlockAccessIndex) -> bool {
    writes.iter().any(|(at, _)| *at == index)
}

/// The error for a list holding changes at transaction `index`'s position that the
/// transaction did not make (to what it did not load), naming one of them.
fn extra_entries<E>(list: &Bal, index: TxIdx, output: &TxOutput) -> ExecutionError<E> {
    let at = access_index(index);
    let named = list.accounts.iter().find_map(|(address, account)| {
        let info = &account.account_info;
        let loaded = output.state.get(address);
        let field = if loaded.is_none() && has_write_at(&info.nonce.writes, at) {
            "nonce".to_owned()
        } else if loaded.is_none() && has_write_at(&info.balance.writes, at) {
            "balance".to_owned()
        } else if loaded.is_none() && has_write_at(&info.code.writes, at) {
            "code".to_owned()
        } else {
            let (slot, _) = account.storage.storage.iter().find(|(slot, writes)| {
                has_write_at(&writes.writes, at)
                    && loaded.is_none_or(|account| !account.storage.contains_key(*slot))
            })?;
            format!("slot {slot:#x}")
        };
        Some(format!("the {field} of {address}"))
    });
    ExecutionError::AccessList {
        index: at.0,
        detail: format!(
            "the list holds a change transaction {index} did not make: {}",
            named.unwrap_or_else(|| "(unnamed)".to_owned())
        ),
    }
}
