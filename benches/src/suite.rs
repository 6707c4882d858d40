//! The synthetic suite: every workload timed on sequential revm, on the parallel engine and
//! on the ideal split, as `parallax bench` prints it and BENCHMARKS.md tabulates it.

use crate::{
    build,
    measure::{median, peak_memory_during, time},
};
use parallax_engine::{
    ExecutionPolicy, ExecutionStats, ParallelExecutor, StateReads, execute_sequential,
};
use parallax_faulty_db::SlowDb;
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
};
use serde::Serialize;
use std::{
    num::NonZeroUsize,
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};

/// Which sides of the comparison a benchmark runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sides {
    /// Only sequential revm (for a profiler or a memory measurement of that side alone).
    Sequential,
    /// Only the parallel engine.
    Parallel,
    /// Both, alternating, with the ideal split beside them.
    #[default]
    Both,
}

impl Sides {
    const fn sequential(self) -> bool {
        matches!(self, Self::Sequential | Self::Both)
    }

    const fn parallel(self) -> bool {
        matches!(self, Self::Parallel | Self::Both)
    }
}

/// One workload's measurement (the JSON line of `parallax bench --json`). A side that was
/// not run has `NaN` times, written as `null` in JSON.
#[derive(Clone, Debug, Serialize)]
pub struct WorkloadReport {
    /// Workload name (`block N` for a recorded block).
    pub workload: String,
    /// Transactions in the block.
    pub txs: usize,
    /// Gas the block used.
    pub gas: u64,
    /// Worker threads of the parallel engine (and parts of the ideal split).
    pub threads: usize,
    /// The engine's policy: `"auto"` (what a client runs), `"parallel"` (Block-STM forced)
    /// or `"sequential"`.
    pub policy: &'static str,
    /// The path the engine took on the checking run: `"parallel"`, `"sequential"` or
    /// `"mixed"` (Block-STM, then in order from `in_order_from`), or `"access_list"` (with
    /// `--access-list`: every transaction at once from the block's EIP-7928 list). `null`
    /// when the engine did not run.
    pub path: Option<&'static str>,
    /// Where a mixed run switched to in-order execution.
    pub in_order_from: Option<usize>,
    /// Transaction executions on the checking run, re-executions included (`null` when
    /// the engine did not run).
    pub executions: Option<usize>,
    /// Validations on the checking run (`null` when the engine did not run). A
    /// transaction that started executing with every transaction below it final needs none.
    pub validations: Option<usize>,
    /// Median wall time of sequential revm.
    pub sequential_ms: f64,
    /// Median wall time of the parallel engine.
    pub parallel_ms: f64,
    /// `sequential_ms / parallel_ms`.
    pub speedup: f64,
    /// Median wall time of the ideal split: the block cut into `threads` contiguous parts,
    /// each run by plain sequential revm on its own thread over the shared pre-state; the
    /// slowest part's time. Its results are discarded: it measures what the machine can do
    /// with this work, not a correct execution.
    pub ideal_ms: f64,
    /// `sequential_ms / ideal_ms`.
    pub ideal_speedup: f64,
    /// Transactions per second of the parallel engine.
    pub tps: f64,
    /// Gas per second of the parallel engine.
    pub gas_per_s: f64,
    /// Peak resident memory of the process while sequential revm ran the block once, block
    /// and pre-state included, in bytes.
    pub sequential_peak_bytes: Option<u64>,
    /// The same for the parallel engine.
    pub parallel_peak_bytes: Option<u64>,
    /// On the access-list path: median time to build the block's list from the engine's
    /// own outputs (`BlockOutput::access_list`, no second execution).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_ms: Option<f64>,
    /// On the access-list path: the in-order pass that checks the list against what the
    /// transactions did (part of `parallel_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_ms: Option<f64>,
    /// With `--db-latency`: the latency of a cold read asked for, in microseconds. Every side
    /// of every run reads through its own slow database, so each pays each cold read once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_latency_us: Option<u64>,
    /// With `--db-latency`: the locations sequential revm fetched (cold reads) in one run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_reads: Option<u64>,
    /// With `--db-latency`: what a cold read really took on sequential revm's run, on
    /// average, in microseconds (the operating system sleeps a little longer than asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_read_us: Option<f64>,
}

/// Median times of the sides that ran.
#[derive(Clone, Copy, Debug)]
struct Times {
    sequential: Option<Duration>,
    parallel: Option<Duration>,
    ideal: Option<Duration>,
}

fn ms(duration: Option<Duration>) -> f64 {
    duration.map_or(f64::NAN, |d| round3(d.as_secs_f64() * 1e3))
}

fn ratio(numerator: Option<Duration>, denominator: Option<Duration>) -> f64 {
    match (numerator, denominator) {
        (Some(n), Some(d)) => round3(n.as_secs_f64() / d.as_secs_f64()),
        _ => f64::NAN,
    }
}

pub(crate) fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Times each of `workloads` (names from [`WORKLOADS`](crate::WORKLOADS)) with blocks of
/// about `gas` gas on `bench`. `progress` hears each workload's name as it starts. Fails on an
/// unknown name and on the first parallel result that differs.
pub fn run_workloads(
    workloads: &[&str],
    bench: &BlockBench,
    gas: u64,
    mut progress: impl FnMut(&str),
) -> Result<Vec<WorkloadReport>, String> {
    let mut reports = Vec::with_capacity(workloads.len());
    for name in workloads {
        progress(name);
        let block = build(name, Some(gas)).ok_or_else(|| format!("no workload {name:?}"))?;
        let report = bench
            .measure(name, &block.db, &block.cfg, &block.block, &block.txs)
            .map_err(|error| format!("workload {name}: {error}"))?;
        reports.push(report);
    }
    Ok(reports)
}

/// Times blocks on sequential revm, on the parallel engine under a policy and on the ideal
/// split, with one engine and one split pool for all of them, as a client keeps one.
#[derive(Debug)]
pub struct BlockBench {
    engine: ParallelExecutor,
    split: IdealSplit,
    threads: NonZeroUsize,
    rounds: usize,
    sides: Sides,
    policy: ExecutionPolicy,
    access_list: bool,
    db_latency: Option<Duration>,
}

impl BlockBench {
    /// With a latency, every side of every run reads the pre-state through a fresh
    /// [`SlowDb`] (each first read of a location takes that long), and the engine is told
    /// its state reads are slow ([`StateReads::Slow`]).
    #[must_use]
    pub fn with_db_latency(mut self, latency: Option<Duration>) -> Self {
        self.db_latency = latency;
        let reads = if latency.is_some() {
            StateReads::Slow
        } else {
            StateReads::InMemory
        };
        self.engine = self.engine.with_state_reads(reads);
        self
    }

    /// With `true`, the engine side runs each block from its EIP-7928 access list, built
    /// beforehand from the engine's own run of the block.
    #[must_use]
    pub const fn with_access_list(mut self, access_list: bool) -> Self {
        self.access_list = access_list;
        self
    }

    /// A bench with `threads` workers under `policy`, taking the median of `rounds` rounds
    /// of `sides`.
    pub fn new(
        threads: NonZeroUsize,
        rounds: usize,
        sides: Sides,
        policy: ExecutionPolicy,
    ) -> Result<Self, String> {
        let engine = ParallelExecutor::new(threads)
            .map_err(|error| format!("cannot start {threads} worker threads: {error}"))?
            .with_policy(policy);
        Ok(Self {
            engine,
            split: IdealSplit::new(threads)?,
            threads,
            rounds,
            sides,
            policy,
            access_list: false,
            db_latency: None,
        })
    }

    /// Measures one block of `txs` over `db`. Fails when sequential revm fails on it or the
    /// parallel result differs. The ideal split is left out (`NaN`) on a block where a part
    /// cannot run from the pre-state alone (a sender paid earlier in the block, say).
    pub fn measure<DB>(
        &self,
        name: &str,
        db: &DB,
        cfg: &CfgEnv,
        block: &BlockEnv,
        txs: &[TxEnv],
    ) -> Result<WorkloadReport, String>
    where
        DB: DatabaseRef + Sync,
        DB::Error: Send + std::fmt::Display,
    {
        let Some(latency) = self.db_latency else {
            return self.measure_on(name, || db, cfg, block, txs);
        };
        // Sequential revm's cold reads, from a run of its own.
        let slow = SlowDb::new(db, latency);
        execute_sequential(&slow, cfg, block, txs).map_err(|error| error.to_string())?;
        let stats = slow.stats();
        let mut report = self.measure_on(name, || SlowDb::new(db, latency), cfg, block, txs)?;
        report.db_latency_us = Some(latency.as_micros() as u64);
        report.cold_reads = Some(stats.cold_reads);
        report.mean_read_us = Some(round3(stats.mean_latency.as_secs_f64() * 1e6));
        Ok(report)
    }

    /// [`Self::measure`] with every run of every side reading a database `fresh` makes.
    fn measure_on<R>(
        &self,
        name: &str,
        fresh: impl Fn() -> R + Sync,
        cfg: &CfgEnv,
        block: &BlockEnv,
        txs: &[TxEnv],
    ) -> Result<WorkloadReport, String>
    where
        R: DatabaseRef + Sync,
        R::Error: Send + std::fmt::Display,
    {
        let sides = self.sides;
        let run_sequential =
            || execute_sequential(&fresh(), cfg, block, txs).map_err(|error| error.to_string());
        // The list, as a block builder makes it: from the engine's own run of the block.
        let (list, build) = if self.access_list {
            let output = self
                .engine
                .execute(&fresh(), cfg, block, txs)
                .map_err(|error| error.to_string())?;
            let mut builds = Vec::with_capacity(self.rounds.max(1));
            let mut list = None;
            for _ in 0..self.rounds.max(1) {
                let start = Instant::now();
                list = Some(output.access_list());
                builds.push(start.elapsed());
            }
            (list.map(Arc::new), Some(median(&mut builds)))
        } else {
            (None, None)
        };
        let run_parallel = || {
            let db = fresh();
            match &list {
                Some(list) => self
                    .engine
                    .execute_with_access_list(&db, cfg, block, txs, list),
                None => self.engine.execute(&db, cfg, block, txs),
            }
            .map_err(|error| error.to_string())
        };
        // One run of each side outside the timing: it checks the result, and the peak
        // memory of the process during it is that side's footprint on this block. The side
        // asked for alone runs first, so that the other's freed memory is not counted in it.
        let mut parallel_check = None;
        if sides == Sides::Parallel {
            parallel_check = Some(peak_memory_during(run_parallel));
        }
        let (sequential_output, sequential_peak) = peak_memory_during(run_sequential);
        let sequential_output = sequential_output?;
        let gas_used = sequential_output.gas_used;
        let mut parallel_peak = None;
        let mut stats = None;
        if sides.parallel() {
            let (parallel_output, peak) =
                parallel_check.unwrap_or_else(|| peak_memory_during(run_parallel));
            let parallel_output = parallel_output?;
            if parallel_output != sequential_output {
                return Err("the parallel result differs from sequential revm".to_owned());
            }
            stats = Some(parallel_output.stats);
            parallel_peak = peak;
        }
        drop(sequential_output);
        let split_runs = sides == Sides::Both && self.split.run(&fresh(), cfg, block, txs).is_ok();

        let times = time_sides(
            self.rounds,
            sides,
            split_runs,
            run_sequential,
            run_parallel,
            || self.split.run(&fresh(), cfg, block, txs),
        );
        let parallel_s = times.parallel.map_or(f64::NAN, |d| d.as_secs_f64());
        let verify = stats
            .as_ref()
            .filter(|stats| stats.from_access_list)
            .map(|stats| stats.access_list_check);
        Ok(WorkloadReport {
            workload: name.to_owned(),
            txs: txs.len(),
            gas: gas_used,
            threads: self.threads.get(),
            policy: policy_name(self.policy),
            path: stats.as_ref().map(ExecutionStats::path),
            in_order_from: stats.as_ref().and_then(|stats| stats.in_order_from),
            executions: stats.as_ref().map(|stats| stats.executions),
            validations: stats.map(|stats| stats.validations),
            sequential_ms: ms(times.sequential),
            parallel_ms: ms(times.parallel),
            speedup: ratio(times.sequential, times.parallel),
            ideal_ms: ms(times.ideal),
            ideal_speedup: ratio(times.sequential, times.ideal),
            tps: (txs.len() as f64 / parallel_s).round(),
            gas_per_s: (gas_used as f64 / parallel_s).round(),
            sequential_peak_bytes: sides.sequential().then_some(sequential_peak).flatten(),
            parallel_peak_bytes: parallel_peak,
            build_ms: build.map(|d| ms(Some(d))),
            verify_ms: verify.map(|d| ms(Some(d))),
            db_latency_us: None,
            cold_reads: None,
            mean_read_us: None,
        })
    }
}

/// The name of `policy` in reports and on the command line.
pub const fn policy_name(policy: ExecutionPolicy) -> &'static str {
    match policy {
        ExecutionPolicy::Auto => "auto",
        ExecutionPolicy::AlwaysParallel => "parallel",
        ExecutionPolicy::AlwaysSequential => "sequential",
        ExecutionPolicy::SwitchToInOrderAfter(_) => "switch",
    }
}

/// Medians over `rounds` rounds of the sides asked for. The sides take turns in a rotating
/// order, so that each sees the same state of a noisy machine and none is always first.
fn time_sides<S, P>(
    rounds: usize,
    sides: Sides,
    split_runs: bool,
    mut sequential: impl FnMut() -> S,
    mut parallel: impl FnMut() -> P,
    mut ideal: impl FnMut() -> Result<Duration, String>,
) -> Times {
    let rounds = rounds.max(1);
    let mut samples: [Vec<Duration>; 3] = Default::default();
    let runs = [sides.sequential(), sides.parallel(), split_runs];
    for round in 0..rounds {
        for turn in 0..3 {
            let side = (round + turn) % 3;
            if !runs[side] {
                continue;
            }
            let elapsed = match side {
                0 => time(&mut sequential),
                1 => time(&mut parallel),
                // The split reports its slowest part, not the wall time around it.
                _ => match ideal() {
                    Ok(elapsed) => elapsed,
                    Err(_) => continue,
                },
            };
            samples[side].push(elapsed);
        }
    }
    let [mut seq, mut par, mut split] = samples;
    let median_of = |samples: &mut Vec<Duration>| (!samples.is_empty()).then(|| median(samples));
    Times {
        sequential: median_of(&mut seq),
        parallel: median_of(&mut par),
        ideal: median_of(&mut split),
    }
}

/// What the machine can do with a block's work: the block cut into as many contiguous parts
/// as threads, each part run by plain sequential revm on its own thread of a persistent pool.
#[derive(Debug)]
pub struct IdealSplit {
    pool: rayon::ThreadPool,
    parts: usize,
}

impl IdealSplit {
    /// A split into `threads` parts.
    pub fn new(threads: NonZeroUsize) -> Result<Self, String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.get())
            .thread_name(|i| format!("ideal-split-{i}"))
            .build()
            .map_err(|error| format!("cannot start {threads} threads: {error}"))?;
        Ok(Self {
            pool,
            parts: threads.get(),
        })
    }

    /// Runs the parts at once (all threads start together) and returns the slowest part's
    /// time. Every part starts from the block's pre-state, so nonce checks are off (a sender
    /// may have sent earlier in the block); a part that fails anyway (a sender that was paid
    /// its funds earlier in the block) is an error, since a part that stopped early would
    /// make the split look faster than it is.
    pub fn run<DB: DatabaseRef + Sync>(
        &self,
        db: &DB,
        cfg: &CfgEnv,
        block: &BlockEnv,
        txs: &[TxEnv],
    ) -> Result<Duration, String> {
        let mut cfg = cfg.clone();
        cfg.disable_nonce_check = true;
        let chunk = txs.len().div_ceil(self.parts).max(1);
        let start = Barrier::new(self.parts);
        let times = self.pool.broadcast(|context| {
            let part = txs.chunks(chunk).nth(context.index()).unwrap_or(&[]);
            start.wait();
            let began = Instant::now();
            let output = execute_sequential(db, &cfg, block, part);
            let elapsed = began.elapsed();
            let failed = output.as_ref().err().map(ToString::to_string);
            drop(output);
            (elapsed, failed)
        });
        let mut slowest = Duration::ZERO;
        for (part, (elapsed, failed)) in times.into_iter().enumerate() {
            if let Some(error) = failed {
                return Err(format!("ideal split: part {part} failed: {error}"));
            }
            slowest = slowest.max(elapsed);
        }
        Ok(slowest)
    }
}
