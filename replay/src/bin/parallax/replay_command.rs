//! `parallax replay`.

use crate::progress::item_progress;
use crate::{exit, table::Table};
use clap::Args;
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_replay::{
    BlockReport, BlockSource, Executors, Loader, ReplayBlock, RpcSource, discover,
    load_access_lists, replay_block, replay_block_from_list, write_recording,
};
use std::{
    num::NonZeroUsize,
    path::{Path, PathBuf},
};

#[derive(Args)]
pub(crate) struct ReplayArgs {
    /// Files or directories of recorded blocks: pre-state dumps, eth_getProof recordings or
    /// execution witnesses (recognised by content).
    #[arg(required_unless_present = "rpc", conflicts_with = "rpc")]
    paths: Vec<PathBuf>,
    /// Fetch the blocks from this archive node's JSON-RPC instead (http or https).
    #[arg(long, requires = "blocks", value_name = "URL")]
    rpc: Option<String>,
    /// Blocks to fetch with --rpc: `A..B` (both included) or a single number.
    #[arg(long, value_parser = parse_block_range, value_name = "A..B")]
    blocks: Option<(u64, u64)>,
    /// With --rpc, also write each fetched block to DIR in a form `parallax replay DIR` reads.
    #[arg(long, requires = "rpc", value_name = "DIR")]
    record: Option<PathBuf>,
    /// Worker threads for the parallel execution [default: all CPUs].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Print one JSON object per block instead of a table.
    #[arg(long)]
    json: bool,
    /// Let the engine choose sequential execution for blocks it deems too small, as in
    /// production, instead of always taking the parallel path.
    #[arg(long)]
    auto: bool,
    /// Run each block from its EIP-7928 access list in FILE (as `parallax explain
    /// --access-list` writes it), as a client runs a block with the list delivered beside
    /// it: every transaction at once, the list checked against what they did. A block whose
    /// list is malformed or wrong fails (exit 1); a FILE that cannot be read, or holds no
    /// list for a block, is unusable input (exit 2).
    #[arg(long, value_name = "FILE")]
    access_list: Option<PathBuf>,
}

fn parse_block_range(text: &str) -> Result<(u64, u64), String> {
    let number = |part: &str| {
        part.trim()
            .parse::<u64>()
            .map_err(|_| format!("{part:?} is not a block number"))
    };
    let (first, last) = match text.split_once("..") {
        Some((first, last)) => (number(first)?, number(last.trim_start_matches('='))?),
        None => (number(text)?, number(text)?),
    };
    if first > last {
        return Err(format!("{first}..{last} is empty"));
    }
    Ok((first, last))
}

/// Where the blocks come from.
enum Job {
    Recorded(BlockSource),
    Rpc(u64),
}

pub(crate) fn run(args: ReplayArgs) -> u8 {
    // One-time global state (precompile tables, the KZG setup) is built before any block is
    // timed: otherwise the first block that needs KZG charges seconds to one side.
    parallax_engine::warm_up();
    let (jobs, rpc) = match (&args.rpc, args.blocks) {
        (Some(url), Some((first, last))) => match RpcSource::connect(url) {
            Ok(source) => (
                (first..=last).map(Job::Rpc).collect::<Vec<_>>(),
                Some(source),
            ),
            Err(error) => {
                eprintln!("error: {error}");
                return exit::UNUSABLE;
            }
        },
        _ => match discover(&args.paths) {
            Ok(sources) => (sources.into_iter().map(Job::Recorded).collect(), None),
            Err(error) => {
                eprintln!("error: {error}");
                return exit::UNUSABLE;
            }
        },
    };
    let lists = match args.access_list.as_deref().map(load_access_lists) {
        None => None,
        Some(Ok(lists)) => Some(lists),
        Some(Err(error)) => {
            eprintln!("error: {error}");
            return exit::UNUSABLE;
        }
    };
    let threads = crate::threads_or_all_cpus(args.threads);
    let policy = if args.auto {
        ExecutionPolicy::Auto
    } else {
        ExecutionPolicy::AlwaysParallel
    };
    let engine = match ParallelExecutor::new(threads) {
        Ok(engine) => engine.with_policy(policy),
        Err(error) => {
            eprintln!("error: cannot start {threads} worker threads: {error}");
            return exit::UNUSABLE;
        }
    };
    let executors = Executors::new(engine).building_access_lists();

    let progress = item_progress(jobs.len(), "blocks", args.json);
    let mut loader = Loader::default();
    let mut reports = Vec::new();
    let mut unusable = Vec::new();
    for job in &jobs {
        let block = match job {
            Job::Recorded(source) => {
                progress.set_message(source.path().display().to_string());
                loader.load(source).map_err(|error| error.to_string())
            }
            Job::Rpc(number) => {
                progress.set_message(format!("block {number}"));
                let rpc = rpc.as_ref().expect("jobs from --rpc have a connection");
                fetch(rpc, *number, &executors, args.record.as_deref())
            }
        };
        let replayed = block.and_then(|block| match &lists {
            None => replay_block(&executors, &block).map_err(|error| error.to_string()),
            Some(lists) => match lists.get(&block.number()) {
                Some(list) => replay_block_from_list(&executors, &block, list)
                    .map_err(|error| error.to_string()),
                None => Err(format!(
                    "{} holds no access list for block {}",
                    args.access_list
                        .as_deref()
                        .map_or_else(String::new, |path| path.display().to_string()),
                    block.number()
                )),
            },
        });
        match replayed {
            Ok(report) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::to_string(&report).expect("reports serialize")
                    );
                }
                reports.push(report);
            }
            Err(error) => unusable.push(error),
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    if !args.json {
        print!("{}", table(&reports, threads.get()));
    }
    for report in &reports {
        for note in &report.notes {
            eprintln!("note: {note}");
        }
        for problem in &report.problems {
            eprintln!("MISMATCH {problem}");
        }
    }
    for error in &unusable {
        eprintln!("error: {error}");
    }
    if !unusable.is_empty() {
        exit::UNUSABLE
    } else if reports.iter().any(|report| !report.passed()) {
        exit::MISMATCH
    } else {
        exit::OK
    }
}

/// Fetches a block from the node, recording it when asked.
fn fetch(
    rpc: &RpcSource,
    number: u64,
    executors: &Executors,
    record: Option<&Path>,
) -> Result<ReplayBlock, String> {
    let (recording, block) = rpc
        .fetch(number, executors)
        .map_err(|error| error.to_string())?;
    if let Some(dir) = record {
        write_recording(dir, number, &recording)
            .map_err(|e| format!("cannot record block {number} in {}: {e}", dir.display()))?;
    }
    Ok(block)
}

fn table(reports: &[BlockReport], threads: usize) -> String {
    let mut table = Table::new(&[
        "block",
        "source",
        "fork",
        "txs",
        "gas",
        "tx root",
        "gas used",
        "bloom",
        "receipts",
        "state root",
        "requests",
        "access list",
        "par=seq",
        "seq ms",
        "par ms",
        "speedup",
    ]);
    for report in reports {
        let mut cells = vec![
            report.block.to_string(),
            report.source.to_owned(),
            report.fork.clone(),
            report.txs.to_string(),
            report.gas_used.to_string(),
        ];
        cells.extend(
            report
                .checks
                .named()
                .iter()
                .map(|(_, check)| check.word().to_owned()),
        );
        cells.push(
            if report.parallel_equals_sequential {
                "yes"
            } else {
                "NO"
            }
            .to_owned(),
        );
        cells.push(format!("{:.2}", report.sequential_ms));
        cells.push(format!("{:.2}", report.parallel_ms));
        cells.push(format!("{:.2}x", report.speedup()));
        table.row(cells);
    }
    let passed = reports.iter().filter(|r| r.passed()).count();
    format!(
        "{}\n{passed} of {} blocks passed every check ({threads} threads)\n",
        table.render(),
        reports.len()
    )
}
