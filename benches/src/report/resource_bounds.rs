//! BENCHMARKS.md's section on the blocks built to strain the engine's resources: a million
//! new slots, one transaction using all its gas, 100,000 minimal transactions.

use crate::{WorkloadReport, measure::mebibytes};
use std::fmt::Write;

/// The bound on each, against sequential revm on the same block: time and peak memory.
const BOUND: f64 = 2.0;

/// Writes the section for `reports` (nothing when empty).
pub(super) fn write(out: &mut String, reports: &[WorkloadReport]) {
    let Some(first) = reports.first() else {
        return;
    };
    let _ = writeln!(
        out,
        "## Resource bounds, {} threads\n\nBlocks built to strain the engine rather than to \
         be fast (`parallax bench --policy parallel --workload many_slots --workload \
         one_full_tx --workload many_tiny_txs`), Block-STM forced: its time and its peak \
         resident memory (each side in a process of its own, block and pre-state included) \
         must stay within {BOUND}x sequential revm's on the same block; \
         `replay/tests/resource_bounds.rs` checks the results and the memory at 2 and 8 \
         threads on every test run.\n\n| workload | txs | gas | sequential ms | parallel ms | \
         time ratio | sequential peak | parallel peak | memory ratio | within {BOUND}x |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
        first.threads
    );
    for r in reports {
        let time_ratio = r.parallel_ms / r.sequential_ms;
        let memory_ratio = match (r.sequential_peak_bytes, r.parallel_peak_bytes) {
            (Some(sequential), Some(parallel)) => Some(parallel as f64 / sequential as f64),
            _ => None,
        };
        let within = time_ratio <= BOUND && memory_ratio.is_none_or(|ratio| ratio <= BOUND);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {:.2}x | {} | {} | {} | {} |",
            r.workload,
            r.txs,
            r.gas,
            r.sequential_ms,
            r.parallel_ms,
            time_ratio,
            r.sequential_peak_bytes.map_or("-".to_owned(), mebibytes),
            r.parallel_peak_bytes.map_or("-".to_owned(), mebibytes),
            memory_ratio.map_or("-".to_owned(), |ratio| format!("{ratio:.2}x")),
            if within { "yes" } else { "**no**" },
        );
    }
    let _ = writeln!(out);
}
