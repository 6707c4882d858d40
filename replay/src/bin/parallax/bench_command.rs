//! `parallax bench`.

use crate::{exit, table::Table};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use parallax_bench::{Machine, Timing, WORKLOADS, build, compare};
use parallax_engine::{ExecutionPolicy, ParallelExecutor, execute_sequential};
use serde::Serialize;
use std::num::NonZeroUsize;

#[derive(Args)]
pub struct BenchArgs {
    /// Worker threads for the parallel engine [default: all CPUs].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    json: bool,
    /// Gas per synthetic block.
    #[arg(long, default_value_t = 1_000_000_000)]
    gas: u64,
    /// Timed rounds per workload (the median is reported).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Only these workloads [default: all].
    #[arg(long = "workload", value_parser = clap::builder::PossibleValuesParser::new(WORKLOADS))]
    workloads: Vec<String>,
}

/// One workload's measurement, as `--json` prints it.
#[derive(Serialize)]
pub struct WorkloadReport {
    pub workload: &'static str,
    pub txs: usize,
    pub gas: u64,
    pub threads: usize,
    pub sequential_ms: f64,
    pub parallel_ms: f64,
    pub speedup: f64,
    /// Transactions per second of the parallel engine.
    pub tps: f64,
    /// Gas per second of the parallel engine.
    pub gas_per_s: f64,
}

impl WorkloadReport {
    fn new(workload: &'static str, txs: usize, gas: u64, threads: usize, timing: Timing) -> Self {
        let parallel_s = timing.parallel.as_secs_f64();
        Self {
            workload,
            txs,
            gas,
            threads,
            sequential_ms: round3(timing.sequential.as_secs_f64() * 1e3),
            parallel_ms: round3(parallel_s * 1e3),
            speedup: round3(timing.speedup()),
            tps: (txs as f64 / parallel_s).round(),
            gas_per_s: (gas as f64 / parallel_s).round(),
        }
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

pub fn run(args: BenchArgs) -> u8 {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
    let workloads: Vec<&'static str> = if args.workloads.is_empty() {
        WORKLOADS.to_vec()
    } else {
        WORKLOADS
            .into_iter()
            .filter(|name| args.workloads.iter().any(|wanted| wanted == name))
            .collect()
    };
    let progress = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(workloads.len() as u64)
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} workloads  {msg}")
            .expect("valid progress template"),
    );
    match measure_all(&workloads, threads, args.gas, args.rounds, &progress) {
        Ok(reports) => {
            progress.finish_and_clear();
            if args.json {
                for report in &reports {
                    println!(
                        "{}",
                        serde_json::to_string(report).expect("reports serialize")
                    );
                }
            } else {
                print!("{}", table(&reports));
                let machine = Machine::this();
                println!(
                    "{} threads on {} CPUs ({}); medians of {} rounds, each alternating sequential revm and the parallel engine",
                    threads,
                    machine.cpus,
                    machine.cpu_model,
                    args.rounds.max(1)
                );
            }
            exit::OK
        }
        Err(error) => {
            progress.finish_and_clear();
            eprintln!("error: {error}");
            exit::MISMATCH
        }
    }
}

/// Measures each workload; fails on the first whose parallel result differs.
pub fn measure_all(
    workloads: &[&'static str],
    threads: NonZeroUsize,
    gas: u64,
    rounds: usize,
    progress: &ProgressBar,
) -> Result<Vec<WorkloadReport>, String> {
    let engine = ParallelExecutor::new(threads)
        .map_err(|error| format!("cannot start {threads} worker threads: {error}"))?
        .with_policy(ExecutionPolicy::AlwaysParallel);
    let mut reports = Vec::with_capacity(workloads.len());
    for name in workloads {
        progress.set_message(*name);
        let block = build(name, Some(gas)).expect("workload names come from WORKLOADS");
        let run_sequential = || {
            execute_sequential(&block.db, &block.cfg, &block.block, &block.txs)
                .map_err(|error| error.to_string())
        };
        let run_parallel = || {
            engine
                .execute(&block.db, &block.cfg, &block.block, &block.txs)
                .map_err(|error| error.to_string())
        };
        let gas_used = run_sequential()
            .map_err(|error| format!("workload {name}: {error}"))?
            .gas_used;
        let timing = compare(rounds, run_sequential, run_parallel)
            .map_err(|error| format!("workload {name}: {error}"))?;
        reports.push(WorkloadReport::new(
            name,
            block.txs.len(),
            gas_used,
            threads.get(),
            timing,
        ));
        progress.inc(1);
    }
    Ok(reports)
}

fn table(reports: &[WorkloadReport]) -> String {
    let mut table = Table::new(&[
        "workload", "txs", "gas", "seq ms", "par ms", "speedup", "tx/s", "gas/s",
    ]);
    for report in reports {
        table.row(vec![
            report.workload.to_owned(),
            report.txs.to_string(),
            report.gas.to_string(),
            format!("{:.1}", report.sequential_ms),
            format!("{:.1}", report.parallel_ms),
            format!("{:.2}x", report.speedup),
            format!("{:.0}", report.tps),
            format!("{:.2}G", report.gas_per_s / 1e9),
        ]);
    }
    table.render()
}
