//! `parallax explain`.

use crate::progress::item_progress;
use crate::{exit, table::Table};
use clap::Args;
use parallax_engine::{ExecutionPolicy, HotLocation, Location, ParallelExecutor};
use parallax_replay::{
    BlockSource, Executors, Explainer, Explanation, Loader, built_access_list, discover,
};
use serde::Serialize;
use std::{num::NonZeroUsize, path::PathBuf};

#[derive(Args)]
pub(crate) struct ExplainArgs {
    /// Files or directories of recorded blocks (any of the forms `parallax replay` reads).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Worker threads for the execution (the dependencies found do not depend on it)
    /// [default: all CPUs].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// How many of the hottest locations to list per block.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Print one JSON object per block instead of text.
    #[arg(long)]
    json: bool,
    /// Print each block's EIP-7928 access list instead, for any fork, in the consensus
    /// fixtures' format (`{"block", "blockAccessListHash", "blockAccessList"}`; one line
    /// per block with --json, indented without), as the Parallax executor builds it from its
    /// own reads and writes. It must equal the list revm's `State` builds, and the block's
    /// gas the header's (exit 1 otherwise). `parallax replay --access-list FILE` runs
    /// blocks from such a file.
    #[arg(long)]
    access_list: bool,
}

/// One block's explanation as `--json` prints it.
#[derive(Serialize)]
struct BlockJson {
    block: u64,
    txs: usize,
    gas_used: u64,
    available_parallelism: f64,
    critical_path: CriticalPathJson,
    hot_locations: Vec<HotLocationJson>,
    default_policy: PolicyJson,
}

/// What the default policy did with the block.
#[derive(Serialize)]
struct PolicyJson {
    threads: usize,
    plan: String,
    path: &'static str,
    in_order_from: Option<usize>,
    switch_reason: Option<String>,
}

#[derive(Serialize)]
struct CriticalPathJson {
    gas: u64,
    txs: Vec<usize>,
}

#[derive(Serialize)]
struct HotLocationJson {
    kind: &'static str,
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    slot: Option<String>,
    writers: usize,
    dependent_readers: usize,
    touched_by: usize,
    on_critical_path: bool,
}

impl HotLocationJson {
    fn new(hot: &HotLocation) -> Self {
        let (kind, slot) = match hot.location {
            Location::Account(_) => ("balance_nonce", None),
            Location::Code(_) => ("code", None),
            Location::Storage(_, slot) => ("storage", Some(format!("{slot:#x}"))),
        };
        Self {
            kind,
            address: hot.location.address().to_string(),
            slot,
            writers: hot.writers,
            dependent_readers: hot.dependent_readers,
            touched_by: hot.touched_by,
            on_critical_path: hot.on_critical_path,
        }
    }
}

impl BlockJson {
    fn new(explanation: &Explanation, top: usize) -> Self {
        let parallelism = &explanation.parallelism;
        Self {
            block: explanation.number,
            txs: explanation.txs,
            gas_used: parallelism.total_gas,
            available_parallelism: round2(parallelism.bound()),
            critical_path: CriticalPathJson {
                gas: parallelism.critical_path_gas,
                txs: parallelism.critical_path.clone(),
            },
            hot_locations: parallelism
                .hot_locations
                .iter()
                .take(top)
                .map(HotLocationJson::new)
                .collect(),
            default_policy: PolicyJson {
                threads: explanation.default_policy.threads,
                plan: explanation.default_policy.plan.clone(),
                path: explanation.default_policy.path,
                in_order_from: explanation.default_policy.in_order_from,
                switch_reason: explanation.default_policy.switch_reason.clone(),
            },
        }
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

pub(crate) fn run(args: ExplainArgs) -> u8 {
    let sources = match discover(&args.paths) {
        Ok(sources) => sources,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::UNUSABLE;
        }
    };
    let threads = crate::threads_or_all_cpus(args.threads);
    if args.access_list {
        return print_access_lists(&sources, threads, args.json);
    }
    let explainer = match Explainer::new(threads) {
        Ok(explainer) => explainer,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::UNUSABLE;
        }
    };
    let progress = item_progress(sources.len(), "blocks", args.json);
    let mut loader = Loader::default();
    let (mut unusable, mut failed) = (0, 0);
    for source in &sources {
        progress.set_message(source.path().display().to_string());
        let block = match loader.load(source) {
            Ok(block) => block,
            Err(error) => {
                progress.suspend(|| eprintln!("error: {error}"));
                unusable += 1;
                progress.inc(1);
                continue;
            }
        };
        match explainer.explain(&block) {
            Ok(explanation) => {
                let text = if args.json {
                    serde_json::to_string(&BlockJson::new(&explanation, args.top))
                        .expect("explanations serialize")
                } else {
                    describe(&explanation, args.top)
                };
                progress.suspend(|| println!("{text}"));
            }
            Err(error) => {
                progress.suspend(|| eprintln!("error: {error}"));
                failed += 1;
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if unusable > 0 {
        exit::UNUSABLE
    } else if failed > 0 {
        exit::MISMATCH
    } else {
        exit::OK
    }
}

/// `--access-list`: each block's list, built by the Parallax executor and checked against
/// revm's.
fn print_access_lists(sources: &[BlockSource], threads: NonZeroUsize, json: bool) -> u8 {
    let engine = match ParallelExecutor::new(threads) {
        Ok(engine) => engine.with_policy(ExecutionPolicy::AlwaysParallel),
        Err(error) => {
            eprintln!("error: cannot start {threads} worker threads: {error}");
            return exit::UNUSABLE;
        }
    };
    let executors = Executors::new(engine).building_access_lists();
    let progress = item_progress(sources.len(), "blocks", json);
    let mut loader = Loader::default();
    let (mut unusable, mut failed) = (0, 0);
    for source in sources {
        match loader.load(source) {
            Err(error) => {
                progress.suspend(|| eprintln!("error: {error}"));
                unusable += 1;
            }
            Ok(block) => match built_access_list(&executors, &block) {
                Ok(record) => {
                    let text = if json {
                        serde_json::to_string(&record)
                    } else {
                        serde_json::to_string_pretty(&record)
                    };
                    let text = text.expect("access lists serialize");
                    progress.suspend(|| println!("{text}"));
                }
                Err(error) => {
                    progress.suspend(|| eprintln!("error: {error}"));
                    failed += 1;
                }
            },
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if unusable > 0 {
        exit::UNUSABLE
    } else if failed > 0 {
        exit::MISMATCH
    } else {
        exit::OK
    }
}

/// The explanation of one block for people.
fn describe(explanation: &Explanation, top: usize) -> String {
    let parallelism = &explanation.parallelism;
    let path = &parallelism.critical_path;
    let mut out = format!(
        "block {}: {} txs, {} gas\n  available parallelism {:.2} (speedup on T threads is at most min(T, {:.2}))\n  critical path: {} txs, {} gas: {}\n",
        explanation.number,
        explanation.txs,
        parallelism.total_gas,
        parallelism.bound(),
        parallelism.bound(),
        path.len(),
        parallelism.critical_path_gas,
        abbreviate(path),
    );
    let policy = &explanation.default_policy;
    out += &format!(
        "  default policy on {} threads: {}
    ran {}",
        policy.threads, policy.plan, policy.path
    );
    if let (Some(from), Some(reason)) = (policy.in_order_from, &policy.switch_reason) {
        out += &format!(" (in order from transaction {from}: {reason})");
    }
    out += "
";
    if parallelism.hot_locations.is_empty() {
        out += "  no transaction read another's write: nothing serialized the block\n";
        return out;
    }
    let mut table = Table::new(&[
        "dependent readers",
        "writers",
        "touched by",
        "critical",
        "location",
    ]);
    for hot in parallelism.hot_locations.iter().take(top) {
        table.row(vec![
            hot.dependent_readers.to_string(),
            hot.writers.to_string(),
            hot.touched_by.to_string(),
            if hot.on_critical_path { "yes" } else { "" }.to_owned(),
            hot.location.to_string(),
        ]);
    }
    out += "  hottest locations (transactions that read a value another wrote there):\n";
    for line in table.render().lines() {
        out += &format!("    {line}\n");
    }
    out
}

/// Transaction indices, the middle elided when there are many.
fn abbreviate(txs: &[usize]) -> String {
    const SHOWN: usize = 8;
    let list = |txs: &[usize]| {
        txs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" → ")
    };
    if txs.len() <= 2 * SHOWN {
        format!("tx {}", list(txs))
    } else {
        format!(
            "tx {} → … ({} more) → {}",
            list(&txs[..SHOWN]),
            txs.len() - 2 * SHOWN,
            list(&txs[txs.len() - SHOWN..])
        )
    }
}
