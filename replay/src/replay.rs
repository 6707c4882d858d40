//! Replaying one recorded block: execute it sequentially and in parallel, compare the two,
//! and check the parallel result against the header down to the state root.

use crate::{
    block::ReplayBlock,
    checks::{Check, Checks},
    execute::{Execution, Executors},
    pre_state::{PreState, PreStateError},
    state_root::{changes_from_bundle, post_state_root},
};
use alloy_consensus::{TxReceipt, proofs};
use alloy_evm::block::BlockExecutionError;
use alloy_primitives::Bloom;
use revm::{
    context_interface::result::EVMError, database_interface::bal::EvmDatabaseError,
    primitives::hardfork::SpecId,
};
use serde::Serialize;

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

/// The recorded data cannot be replayed (exit status 2).
#[derive(Debug, Clone, thiserror::Error)]
#[error("block {block}: unusable input: {reason}")]
pub struct UnusableBlock {
    /// Block number.
    pub block: u64,
    /// What is missing or inconsistent.
    pub reason: String,
}

/// Replays `block` on both executors and checks it.
pub fn replay_block(
    executors: &Executors,
    block: &ReplayBlock,
) -> Result<BlockReport, UnusableBlock> {
    let number = block.number();
    let sequential = classify(number, executors.sequential(block))?;
    let parallel = classify(number, executors.parallel(block))?;

    let transactions_root = Check::compare(
        "transactions root",
        proofs::calculate_transaction_root(
            &block
                .transactions
                .iter()
                .map(|tx| tx.inner().clone())
                .collect::<Vec<_>>(),
        ),
        block.header.transactions_root,
    );
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

fn millis(execution: &Execution) -> f64 {
    execution.elapsed.as_secs_f64() * 1e3
}

/// Same receipts, requests and gas, the same state committed at every step, and the same
/// bundle.
fn executions_equal(sequential: &Execution, parallel: &Execution) -> bool {
    sequential.result == parallel.result
        && sequential.commits == parallel.commits
        && sequential.bundle == parallel.bundle
}

fn header_checks(
    block: &ReplayBlock,
    execution: &Execution,
    transactions_root: Check,
) -> Result<Checks, UnusableBlock> {
    let header = &block.header;
    let receipts = &execution.result.receipts;
    let spec = block.spec();
    let bloom = receipts
        .iter()
        .fold(Bloom::ZERO, |bloom, receipt| bloom | receipt.bloom());
    let receipts_root = if spec.is_enabled_in(SpecId::BYZANTIUM) {
        Check::compare(
            "receipts root",
            proofs::calculate_receipt_root(receipts),
            header.receipts_root,
        )
    } else {
        Check::Skipped("before Byzantium receipts carry intermediate state roots".into())
    };
    let requests_hash = match header.requests_hash {
        Some(expected) => Check::compare(
            "requests hash",
            execution.result.requests.requests_hash(),
            expected,
        ),
        None if spec.is_enabled_in(SpecId::PRAGUE) => {
            Check::Mismatch("a Prague block header lacks requestsHash".into())
        }
        None => Check::Skipped("no execution-layer requests before Prague".into()),
    };
    Ok(Checks {
        transactions_root,
        gas_used: Check::compare("gas used", execution.result.gas_used, header.gas_used),
        logs_bloom: Check::compare("logs bloom", bloom, header.logs_bloom),
        receipts_root,
        state_root: state_root_check(block, execution)?,
        requests_hash,
    })
}

fn state_root_check(block: &ReplayBlock, execution: &Execution) -> Result<Check, UnusableBlock> {
    let PreState::Trie(db) = &*block.pre_state else {
        return Ok(Check::Skipped(
            "a pre-state dump holds only part of the state".into(),
        ));
    };
    if !block.ommers_known {
        return Err(UnusableBlock {
            block: block.number(),
            reason:
                "the block has ommers whose headers are not recorded, so its rewards are unknown"
                    .into(),
        });
    }
    let post = post_state_root(db, &changes_from_bundle(&execution.bundle)).map_err(|e| {
        UnusableBlock {
            block: block.number(),
            reason: format!("cannot compute the state root: {e}"),
        }
    })?;
    Ok(
        match Check::compare("state root", post.root, block.header.state_root) {
            Check::Mismatch(detail) => {
                match post.first_difference(db, &block.recorded_post_state) {
                    Some(first) => Check::Mismatch(format!("{detail}; first difference: {first}")),
                    None => Check::Mismatch(detail),
                }
            }
            check => check,
        },
    )
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
pub fn fork_name(spec: SpecId) -> String {
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
