//! BENCHMARKS.md's section on a slow database: the synthetic blocks read through
//! `SlowDb` (`parallax bench --db-latency`), at several latencies and thread counts.

use crate::WorkloadReport;
use std::fmt::Write;

/// The latencies of a cold read the report measures, in microseconds: an SSD at 10-100 µs.
pub const LATENCIES_US: [u64; 3] = [10, 50, 100];

/// The thread counts the report measures a slow database at (more than the cores: a
/// worker waiting on a read leaves its core to another).
pub const THREADS: [usize; 4] = [2, 4, 8, 16];

/// The workloads the report reads through a slow database.
pub const WORKLOADS: [&str; 4] = ["raw_transfers", "erc20", "uniswap", "hot_100"];

/// The target: ERC-20 transfers at 8 threads over a 50 µs database, against sequential revm
/// over the same database.
const TARGET: (&str, u64, usize, f64) = ("erc20", 50, 8, 4.0);

/// Writes the section for `reports` (any order; nothing when empty).
pub(super) fn write(out: &mut String, reports: &[WorkloadReport]) {
    if reports.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## A slow database\n\nEach block read through a database whose first read of each \
         location sleeps for the latency (`parallax bench --db-latency MICROS --threads N`): a \
         state on an SSD or behind a remote service, with a cache in front of it. Sequential \
         revm, the engine (default policy, told its reads are slow) and the ideal split each \
         read through a fresh one every run, so each pays every cold read once. *Read µs* is \
         what a cold read really took on sequential revm's run (the sleep is calibrated \
         against the operating system's overshoot). More threads than cores pay here: a worker waiting on a read \
         leaves its core to another.\n"
    );
    let (name, latency, threads, floor) = TARGET;
    let target = reports
        .iter()
        .find(|r| r.workload == name && r.db_latency_us == Some(latency) && r.threads == threads);
    let _ = writeln!(
        out,
        "Target: {name} at {threads} threads over a {latency} µs database at least {floor}x \
         sequential revm over the same database: {}.\n",
        target.map_or("not measured".to_owned(), |r| {
            let met = if r.speedup >= floor {
                "met"
            } else {
                "**missed**"
            };
            format!("{:.2}x, {met}", r.speedup)
        })
    );
    let _ = writeln!(
        out,
        "| workload | txs | latency µs | read µs | cold reads | threads | sequential ms | engine ms | speedup | path | ideal split speedup |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|"
    );
    let mut rows: Vec<&WorkloadReport> = reports.iter().collect();
    rows.sort_by_key(|r| {
        let order = WORKLOADS.iter().position(|w| *w == r.workload);
        (order, r.db_latency_us, r.threads)
    });
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.2}x | {} | {:.2}x |",
            r.workload,
            r.txs,
            r.db_latency_us.map_or("-".to_owned(), |us| us.to_string()),
            r.mean_read_us
                .map_or("-".to_owned(), |us| format!("{us:.1}")),
            r.cold_reads.map_or("-".to_owned(), |n| n.to_string()),
            r.threads,
            r.sequential_ms,
            r.parallel_ms,
            r.speedup,
            r.path.unwrap_or("-"),
            r.ideal_speedup,
        );
    }
    let _ = writeln!(out);
}
