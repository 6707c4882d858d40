//! Replaying one recorded block: execute it sequentially and in parallel (from a delivered
//! access list, when there is one), compare the two, and check the parallel result against
//! the header down to the state root.

use crate::{
    check::{
        against_header::{header_checks, transactions_root_check},
        delivered_list::{delivered_list_differs, delivered_list_problem},
        outcome::{Check, Checks},
    },
    execution::{Execution, Executors},
    recorded_block::{ReplayBlock, UnusableBlock},
    state::{pre_state::PreState, pre_state_error::PreStateError},
};
use alloy_eips::eip7928::BlockAccessList;
use alloy_evm::block::BlockExecutionError;
use revm::{
    context_interface::result::EVMError, database_interface::bal::EvmDatabaseError,
    primitives::hardfork::SpecId, state::bal::Bal,
};
use serde::Serialize;
use std::sync::Arc;

/// Everything learned about one block.
#[derive(Debug, Clone, Serialize)]
pub struct BlockReport {
    /// Block number.
    pub block: u64,
    /// `prestate`, `proofs` or `witness`.
    pub source: &'static str,
    /// The fork the block executed under.
    pub fork: String,
    /// Number of transactions.
    pub txs: usize,
    /// Gas used by the parallel execution.
    pub gas_used: u64,
    /// Worker threads of the parallel execution.
    pub threads: usize,
    /// Whether the parallel execution ran from an access list delivered with the block.
    pub from_access_list: bool,
    /// Comparisons with the header.
    pub checks: Checks,
    /// Whether the parallel execution committed exactly what sequential revm committed,
    /// transaction by transaction, with the same receipts.
    pub parallel_equals_sequential: bool,
    /// Wall time of the sequential execution.
    pub sequential_ms: f64,
    /// Wall time of the parallel execution.
    pub parallel_ms: f64,
    /// What went wrong, for people.
    #[serde(skip)]
    pub problems: Vec<String>,
    /// Things worth knowing that are not failures.
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl BlockReport {
    /// Whether every check that ran passed and parallel equals sequential.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// Sequential time over parallel time.
    pub fn speedup(&self) -> f64 {
        if self.parallel_ms > 0.0 {
            self.sequential_ms / self.parallel_ms
        } else {
            0.0
        }
    }
}

/// Replays `block` on both executors and checks it.
pub fn replay_block(
    executors: &Executors,
    block: &ReplayBlock,
) -> Result<BlockReport, UnusableBlock> {
    replay(executors, block, None)
}

/// Replays `block` with the Parallax executor running it from `list`, the access list
/// delivered with it (EIP-7928), beside sequential revm, and checks it. A list that is
/// malformed or not the block's fails the parallel side with the reason.
pub fn replay_block_from_list(
    executors: &Executors,
    block: &ReplayBlock,
    list: &BlockAccessList,
) -> Result<BlockReport, UnusableBlock> {
    replay(executors, block, Some(list))
}

fn replay(
    executors: &Executors,
    block: &ReplayBlock,
    list: Option<&BlockAccessList>,
) -> Result<BlockReport, UnusableBlock> {
    let number = block.number();
    let sequential = classify(number, executors.sequential(block))?;
    let parallel = match list {
        None => classify(number, executors.parallel(block))?,
        Some(delivered) => match usable_list(block, delivered) {
            Ok(list) => classify(number, executors.parallel_from_list(block, list))?.and_then(
                // Executing from the list checks each transaction's own changes; the
                // system calls' entries and the reads only the whole block's list shows.
                |execution| match execution.access_list.as_ref().map_or_else(
                    || Some("the execution built no access list to compare".to_owned()),
                    |built| delivered_list_differs(delivered, built),
                ) {
                    Some(problem) => Err(problem),
                    None => Ok(execution),
                },
            ),
            Err(problem) => Err(problem),
        },
    };

    let transactions_root = transactions_root_check(block);
    let mut problems = Vec::new();
    let (checks, report_gas, seq_ms, par_ms, equal) = match (&sequential, &parallel) {
        (Ok(seq), Ok(par)) => {
            let equal = executions_equal(seq, par);
            if !equal {
                problems.push(format!(
                    "block {number}: parallel execution differs from sequential"
                ));
            }
            let checks = header_checks(block, par, transactions_root)?;
            (checks, par.result.gas_used, millis(seq), millis(par), equal)
        }
        (seq, par) => {
            let failure = |which: &str, result: &Result<Execution, String>| {
                result
                    .as_ref()
                    .err()
                    .map(|e| format!("{which} execution failed: {e}"))
            };
            let message = [failure("sequential", seq), failure("parallel", par)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
            let failed = || Check::Mismatch(message.clone());
            let checks = Checks {
                transactions_root,
                gas_used: failed(),
                logs_bloom: failed(),
                receipts_root: failed(),
                state_root: failed(),
                requests_hash: failed(),
                block_access_list: failed(),
            };
            problems.push(format!("block {number}: {message}"));
            let equal = seq.is_err() && par.is_err();
            (
                checks,
                0,
                seq.as_ref().map_or(0.0, millis),
                par.as_ref().map_or(0.0, millis),
                equal,
            )
        }
    };
    for (name, detail) in checks.mismatches() {
        if !detail.contains("execution failed") {
            problems.push(format!("block {number}: {name} mismatch: {detail}"));
        }
    }
    let mut notes = Vec::new();
    if let PreState::Trie(db) = &*block.pre_state {
        let unproven = db.unproven_reads();
        if !unproven.is_empty() {
            notes.push(format!(
                "block {number}: the recorded trie nodes do not reach {}; read from the recording's pre-state view instead",
                unproven.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(BlockReport {
        block: number,
        from_access_list: list.is_some(),
        source: block.source.name(),
        fork: fork_name(block.spec()),
        txs: block.transactions.len(),
        gas_used: report_gas,
        threads: executors.threads(),
        checks,
        parallel_equals_sequential: equal,
        sequential_ms: seq_ms,
        parallel_ms: par_ms,
        problems,
        notes,
    })
}

/// `list` in the form revm's `State` reads, once it passed the checks made before execution.
fn usable_list(block: &ReplayBlock, list: &BlockAccessList) -> Result<Arc<Bal>, String> {
    if let Some(problem) = delivered_list_problem(&block.header, block.transactions.len(), list) {
        return Err(problem);
    }
    Bal::try_from_alloy(list.clone())
        .map(Arc::new)
        .map_err(|error| format!("the delivered access list holds undecodable code: {error}"))
}

fn millis(execution: &Execution) -> f64 {
    execution.elapsed.as_secs_f64() * 1e3
}

/// Same receipts, requests and gas, the same state committed at every step, the same
/// bundle and the same access list.
fn executions_equal(sequential: &Execution, parallel: &Execution) -> bool {
    sequential.result == parallel.result
        && sequential.commits == parallel.commits
        && sequential.bundle == parallel.bundle
        && sequential.access_list == parallel.access_list
}

/// Classifies an execution failure: missing or inconsistent recorded data makes the block
/// unusable; anything else is the block failing to execute, which is reported.
fn classify(
    block: u64,
    execution: Result<Execution, BlockExecutionError>,
) -> Result<Result<Execution, String>, UnusableBlock> {
    match execution {
        Ok(execution) => Ok(Ok(execution)),
        Err(error) => match pre_state_error(&error) {
            Some(missing) => Err(UnusableBlock {
                block,
                reason: missing.to_string(),
            }),
            None => Ok(Err(error.to_string())),
        },
    }
}

fn pre_state_error(error: &BlockExecutionError) -> Option<PreStateError> {
    let (_, inner) = error.as_internal()?.as_evm()?;
    if let Some(EVMError::Database(e)) = inner.downcast_ref::<EVMError<PreStateError>>() {
        return Some(e.clone());
    }
    match inner.downcast_ref::<EVMError<EvmDatabaseError<PreStateError>>>() {
        Some(EVMError::Database(EvmDatabaseError::Database(e))) => Some(e.clone()),
        _ => None,
    }
}

/// The fork's name as people write it.
fn fork_name(spec: SpecId) -> String {
    let name = match spec {
        SpecId::FRONTIER => "Frontier",
        SpecId::HOMESTEAD => "Homestead",
        SpecId::TANGERINE => "Tangerine",
        SpecId::SPURIOUS_DRAGON => "SpuriousDragon",
        SpecId::BYZANTIUM => "Byzantium",
        SpecId::PETERSBURG => "Petersburg",
        SpecId::ISTANBUL => "Istanbul",
        SpecId::BERLIN => "Berlin",
        SpecId::LONDON => "London",
        SpecId::MERGE => "Paris",
        SpecId::SHANGHAI => "Shanghai",
        SpecId::CANCUN => "Cancun",
        SpecId::PRAGUE => "Prague",
        SpecId::OSAKA => "Osaka",
        other => return other.to_string(),
    };
    name.to_owned()
}
