//! The engine's resources on blocks built to strain them (`parallax bench --workload
//! many_slots`, `one_full_tx`, `many_tiny_txs`): a million distinct slots written, one
//! transaction using all of a gigagas, and 100,000 minimal transactions.
//!
//! Each runs through sequential revm and Block-STM (forced: the engine's heaviest path) at 2
//! and 8 threads, and must give the same result (`parallax bench` fails on any difference).
//! The peak resident memory of the engine's run, each side in a process of its own (block and
//! pre-state included, as `parallax bench --engine SIDE` measures it), must stay within 2x
//! sequential revm's on the same block. Times are printed, not asserted: a noisy machine makes
//! timed tests flaky, and BENCHMARKS.md reports them ("Resource bounds").

mod support;

use serde_json::Value;
use support::parallax;

/// One `parallax bench` run of `workload` at `threads`, Block-STM forced, one round.
fn bench(workload: &str, engine: &str, threads: &str) -> Value {
    let run = parallax(&[
        "bench",
        "--json",
        "--rounds",
        "1",
        "--policy",
        "parallel",
        "--threads",
        threads,
        "--engine",
        engine,
        "--workload",
        workload,
    ]);
    assert_eq!(
        run.status, 0,
        "{workload}, engine {engine}, {threads} threads: {}",
        run.stderr
    );
    serde_json::from_str(run.stdout.trim()).expect("one JSON line")
}

#[test]
fn resource_bound_blocks_match_sequential_within_twice_its_memory() {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: peak memory is read from /proc (Linux only)");
        return;
    }
    for (workload, txs) in [
        ("many_slots", 1_000),
        ("one_full_tx", 1),
        ("many_tiny_txs", 100_000),
    ] {
        let sequential = bench(workload, "sequential", "2");
        let sequential_peak = sequential["sequential_peak_bytes"].as_u64().unwrap();
        assert_eq!(sequential["txs"], txs, "{sequential}");
        for threads in ["2", "8"] {
            // Both sides: the parallel result is checked equal to sequential revm's.
            let both = bench(workload, "both", threads);
            let parallel = bench(workload, "parallel", threads);
            let parallel_peak = parallel["parallel_peak_bytes"].as_u64().unwrap();
            let ratio = parallel_peak as f64 / sequential_peak as f64;
            eprintln!(
                "{workload}, {threads} threads: sequential {} ms, {} MiB; Block-STM {} ms ({:.2}x), {} MiB ({ratio:.2}x)",
                both["sequential_ms"],
                sequential_peak >> 20,
                both["parallel_ms"],
                1.0 / both["speedup"].as_f64().unwrap(),
                parallel_peak >> 20,
            );
            assert!(
                ratio <= 2.0,
                "{workload} at {threads} threads: peak memory {parallel_peak} bytes, {ratio:.2}x sequential revm's {sequential_peak}"
            );
        }
        if workload == "one_full_tx" {
            assert_eq!(
                sequential["gas"], 1_000_000_000,
                "all its gas: {sequential}"
            );
        }
    }
}
