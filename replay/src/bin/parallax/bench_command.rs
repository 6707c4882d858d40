//! `parallax bench`.

use crate::progress::item_progress;
use crate::{exit, table::Table};
use clap::{Args, ValueEnum};
use parallax_bench::{
    BlockBench, Machine, RESOURCE_WORKLOADS, Sides, WORKLOADS, WorkloadReport, policy_name,
    run_workloads,
};
use parallax_engine::{ExecutionPolicy, StateReads};
use parallax_replay::{Loader, discover};
use std::{num::NonZeroUsize, path::PathBuf, time::Duration};

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Worker threads for the parallel engine [default: all CPUs; with `--db-latency`, 8 per
    /// CPU, since workers waiting on reads leave their cores to others].
    #[arg(long)]
    pub(crate) threads: Option<NonZeroUsize>,
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Gas per synthetic block.
    #[arg(long, default_value_t = 1_000_000_000)]
    pub(crate) gas: u64,
    /// Timed rounds per workload (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: usize,
    /// Only these workloads [default: all but the resource-bound blocks `many_slots`,
    /// `one_full_tx` and `many_tiny_txs`, which run only when named: a million new slots,
    /// one transaction using all of a gigagas, 100,000 minimal transactions, each scaled by
    /// `--gas` over a gigagas].
    #[arg(long = "workload", value_parser = clap::builder::PossibleValuesParser::new(WORKLOADS.iter().chain(&RESOURCE_WORKLOADS).copied()))]
    pub(crate) workloads: Vec<String>,
    /// Which sides to run: one alone lets a profiler or a memory measurement watch it.
    #[arg(long, value_enum, default_value_t = Engine::Both)]
    engine: Engine,
    /// The engine's policy: `auto` is what a client runs (it chooses sequential or parallel
    /// per block, and stops speculating when a block turns out to be a chain); `parallel`
    /// forces Block-STM to the end; `sequential` forces plain revm.
    #[arg(long, value_enum, default_value_t = Policy::Auto)]
    pub(crate) policy: Policy,
    /// Time the whole adapter path instead of the engine alone: the Parallax executor
    /// against alloy-evm's stock executor, both through revm's `State` from the
    /// pre-execution changes to the bundle, handed each block with `execute_block`
    /// (`block`), or driven transaction by transaction as reth's engine tree does
    /// (`streaming`, also timing both driven with `execute_block` for comparison).
    #[arg(long, value_enum, conflicts_with = "engine")]
    pub(crate) drive: Option<DriveArg>,
    /// With `--drive`, on synthetic workloads: run a prewarming pass on this many threads
    /// beside every run of either executor (each transaction executed on its own against
    /// the pre-state, results dropped, stopped when the block is done), as reth's
    /// prewarming does.
    #[arg(long, requires = "drive", conflicts_with = "paths")]
    pub(crate) prewarm: Option<NonZeroUsize>,
    /// Run the engine side from each block's EIP-7928 access list, built beforehand from the
    /// engine's own run of the block (as a builder does): every transaction at once, then
    /// the list checked against what they did. The JSON lines add `build_ms` (building the
    /// list) and `verify_ms` (the in-order check, part of the engine's time); `path` is
    /// `access_list`.
    #[arg(long, conflicts_with = "drive")]
    pub(crate) access_list: bool,
    /// Read the pre-state through a slow database: the first read of each account, code,
    /// slot or block hash in a run takes this many microseconds (an SSD: 10-100; a remote
    /// state service: more), later reads of it are cached. Sequential revm, the engine and
    /// the ideal split each read through a fresh one every run, so each pays each cold read
    /// once. The engine is told its reads are slow (its default thread count and the `auto`
    /// policy follow), and the JSON lines add `db_latency_us`, `cold_reads` and
    /// `mean_read_us` (what a cold read really took).
    #[arg(long, value_name = "MICROS", conflicts_with = "drive")]
    pub(crate) db_latency: Option<u64>,
    /// Recorded blocks to time instead of the synthetic workloads: files or directories in
    /// any form `parallax replay` reads (transactions only).
    #[arg(value_name = "PATH", conflicts_with_all = ["workloads", "gas"])]
    pub(crate) paths: Vec<PathBuf>,
}

/// The choices of `--drive`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DriveArg {
    /// `execute_block`.
    Block,
    /// Pre-execution changes, `execute_transaction` per transaction, `finish`.
    Streaming,
}

/// The sides of `--engine`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Engine {
    /// Plain sequential revm only.
    Sequential,
    /// The parallel engine only.
    Parallel,
    /// Both, alternating, with the ideal split beside them.
    Both,
}

/// The choices of `--policy`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Policy {
    /// Decide per block, before and while it runs (the default of a client).
    Auto,
    /// Block-STM to the end on every block.
    Parallel,
    /// Plain sequential revm inside the engine.
    Sequential,
}

impl From<Policy> for ExecutionPolicy {
    fn from(policy: Policy) -> Self {
        match policy {
            Policy::Auto => Self::Auto,
            Policy::Parallel => Self::AlwaysParallel,
            Policy::Sequential => Self::AlwaysSequential,
        }
    }
}

impl From<Engine> for Sides {
    fn from(engine: Engine) -> Self {
        match engine {
            Engine::Sequential => Self::Sequential,
            Engine::Parallel => Self::Parallel,
            Engine::Both => Self::Both,
        }
    }
}

pub(crate) fn run(args: BenchArgs) -> u8 {
    let db_latency = args.db_latency.map(Duration::from_micros);
    let threads = match (args.threads, db_latency) {
        (Some(threads), _) => threads,
        (None, Some(_)) => StateReads::Slow.default_threads(),
        (None, None) => crate::threads_or_all_cpus(None),
    };
    let workloads: Vec<&'static str> = if args.workloads.is_empty() {
        WORKLOADS.to_vec()
    } else {
        WORKLOADS
            .into_iter()
            .chain(RESOURCE_WORKLOADS)
            .filter(|name| args.workloads.iter().any(|wanted| wanted == name))
            .collect()
    };
    let sides = Sides::from(args.engine);
    let policy = ExecutionPolicy::from(args.policy);
    if let Some(drive) = args.drive {
        return crate::bench_drive::run(&args, threads, policy, drive, &workloads);
    }
    let (outcome, what) = if args.paths.is_empty() {
        let progress = item_progress(workloads.len(), "workloads", args.json);
        let outcome = BlockBench::new(threads, args.rounds, sides, policy).and_then(|bench| {
            let bench = bench
                .with_access_list(args.access_list)
                .with_db_latency(db_latency);
            run_workloads(&workloads, &bench, args.gas, |name| {
                progress.set_message(name.to_owned());
                progress.inc(1);
            })
        });
        progress.finish_and_clear();
        (outcome.map_err(|error| (exit::MISMATCH, error)), "workload")
    } else {
        (recorded_blocks(&args, threads, sides, policy), "block")
    };
    match outcome {
        Ok(reports) => {
            if args.json {
                print_json_lines(&reports);
            } else {
                print!("{}", table(&reports, what));
                let machine = Machine::this();
                println!(
                    "{} threads on {} CPUs ({}); medians of {} rounds, each taking sequential revm, the engine (policy {}) and the ideal split in turn; path: what the engine ran (mixed: Block-STM, then in order from the transaction shown); ideal: the block cut into {} contiguous parts, each run by sequential revm on its own thread",
                    threads,
                    machine.cpus,
                    machine.cpu_model,
                    args.rounds.max(1),
                    policy_name(policy),
                    threads,
                );
                if let Some(latency) = args.db_latency {
                    let reads: Vec<String> = reports
                        .iter()
                        .filter_map(|r| r.mean_read_us.map(|us| format!("{}: {us:.1}", r.workload)))
                        .collect();
                    println!(
                        "every side read through a slow database: {latency} µs per cold read asked, taken (µs, sequential revm's run): {}",
                        reads.join(", ")
                    );
                }
            }
            exit::OK
        }
        Err((status, error)) => {
            eprintln!("error: {error}");
            status
        }
    }
}

/// Times every block found under the paths. A block that cannot be loaded is unusable input
/// (exit 2); a parallel result that differs is a failed check (exit 1).
fn recorded_blocks(
    args: &BenchArgs,
    threads: NonZeroUsize,
    sides: Sides,
    policy: ExecutionPolicy,
) -> Result<Vec<WorkloadReport>, (u8, String)> {
    let unusable = |error: String| (exit::UNUSABLE, error);
    let sources = discover(&args.paths).map_err(|error| unusable(error.to_string()))?;
    // Built before anything is timed: the first block that needs the KZG setup would
    // otherwise charge it to one side.
    parallax_engine::warm_up();
    let bench = BlockBench::new(threads, args.rounds, sides, policy)
        .map_err(unusable)?
        .with_access_list(args.access_list)
        .with_db_latency(args.db_latency.map(Duration::from_micros));
    let progress = item_progress(sources.len(), "blocks", args.json);
    let mut loader = Loader::default();
    let reports = sources
        .iter()
        .map(|source| {
            progress.set_message(source.path().display().to_string());
            let block = loader
                .load(source)
                .map_err(|error| unusable(error.to_string()))?;
            let env = block.evm_env();
            let name = format!("block {}", block.number());
            let report = bench
                .measure(
                    &name,
                    &*block.pre_state,
                    &env.cfg_env,
                    &env.block_env,
                    &block.tx_envs(),
                )
                .map_err(|error| (exit::MISMATCH, format!("{name}: {error}")))?;
            progress.inc(1);
            Ok(report)
        })
        .collect();
    progress.finish_and_clear();
    reports
}

/// One JSON object per line, as `--json` prints reports.
pub(crate) fn print_json_lines(reports: &[impl serde::Serialize]) {
    for report in reports {
        println!(
            "{}",
            serde_json::to_string(report).expect("reports serialize")
        );
    }
}

fn path(report: &WorkloadReport) -> String {
    match (report.path, report.in_order_from) {
        (Some("mixed"), Some(from)) => format!("mixed@{from}"),
        (Some(path), _) => path.to_owned(),
        (None, _) => "-".to_owned(),
    }
}

fn table(reports: &[WorkloadReport], what: &str) -> String {
    let mut table = Table::new(&[
        what,
        "txs",
        "gas",
        "seq ms",
        "engine ms",
        "speedup",
        "path",
        "ideal ms",
        "ideal",
        "tx/s",
        "gas/s",
        "seq peak",
        "par peak",
        "list build/verify",
        "cold reads",
    ]);
    // A side that did not run shows as a dash.
    let shown = |value: f64, text: String| if value.is_nan() { "-".to_owned() } else { text };
    let mib = |bytes: Option<u64>| bytes.map_or("-".to_owned(), |b| format!("{} MiB", b >> 20));
    for report in reports {
        table.row(vec![
            report.workload.to_owned(),
            report.txs.to_string(),
            report.gas.to_string(),
            shown(report.sequential_ms, format!("{:.1}", report.sequential_ms)),
            shown(report.parallel_ms, format!("{:.1}", report.parallel_ms)),
            shown(report.speedup, format!("{:.2}x", report.speedup)),
            path(report),
            shown(report.ideal_ms, format!("{:.1}", report.ideal_ms)),
            shown(
                report.ideal_speedup,
                format!("{:.2}x", report.ideal_speedup),
            ),
            shown(report.tps, format!("{:.0}", report.tps)),
            shown(report.gas_per_s, format!("{:.2}G", report.gas_per_s / 1e9)),
            mib(report.sequential_peak_bytes),
            mib(report.parallel_peak_bytes),
            match (report.build_ms, report.verify_ms) {
                (Some(build), Some(verify)) => format!("{build:.1}/{verify:.1} ms"),
                _ => "-".to_owned(),
            },
            report
                .cold_reads
                .map_or("-".to_owned(), |reads| reads.to_string()),
        ]);
    }
    table.render()
}
