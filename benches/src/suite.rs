//! The synthetic suite: every workload timed on sequential revm and on the parallel engine,
//! as `parallax bench` prints it and BENCHMARKS.md tabulates it.

use crate::{Timing, WORKLOADS, build, compare};
use parallax_engine::{ExecutionPolicy, ParallelExecutor, execute_sequential};
use serde::Serialize;
use std::num::NonZeroUsize;

/// One workload's measurement (the JSON line of `parallax bench --json`).
#[derive(Clone, Debug, Serialize)]
pub struct WorkloadReport {
    /// Workload name.
    pub workload: &'static str,
    /// Transactions in the block.
    pub txs: usize,
    /// Gas the block used.
    pub gas: u64,
    /// Worker threads of the parallel engine.
    pub threads: usize,
    /// Median wall time of sequential revm.
    pub sequential_ms: f64,
    /// Median wall time of the parallel engine.
    pub parallel_ms: f64,
    /// `sequential_ms / parallel_ms`.
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

/// Times each of `workloads` (names from [`WORKLOADS`]) with blocks of about `gas` gas on
/// `threads` workers, always on the parallel path. `progress` hears each workload's name as
/// it starts. Fails on an unknown name and on the first parallel result that differs.
pub fn run_workloads(
    workloads: &[&str],
    threads: NonZeroUsize,
    gas: u64,
    rounds: usize,
    mut progress: impl FnMut(&str),
) -> Result<Vec<WorkloadReport>, String> {
    let engine = ParallelExecutor::new(threads)
        .map_err(|error| format!("cannot start {threads} worker threads: {error}"))?
        .with_policy(ExecutionPolicy::AlwaysParallel);
    let mut reports = Vec::with_capacity(workloads.len());
    for name in workloads {
        progress(name);
        let block = build(name, Some(gas)).ok_or_else(|| format!("no workload {name:?}"))?;
        let workload = WORKLOADS
            .into_iter()
            .find(|known| known == name)
            .expect("built, so known");
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
            workload,
            block.txs.len(),
            gas_used,
            threads.get(),
            timing,
        ));
    }
    Ok(reports)
}
