//! The engine's resources on blocks built to strain them: a million distinct slots written,
//! one transaction using all of a gigagas, and 100,000 minimal transactions. Each runs
//! through sequential revm and through Block-STM (forced, the engine's heaviest path) at 2
//! and 8 threads; the results must be equal, and the peak resident memory of the process
//! during the engine's run (block and pre-state included, as `parallax bench` measures it)
//! must stay within 2x sequential revm's on the same block.
//!
//! One test function in a binary of its own: the peak is the process's, so nothing else may
//! run beside it. Times are printed, not asserted (a noisy machine makes timed tests flaky);
//! `parallax bench --workload many_slots` and the others time them properly.

use parallax_bench::{RESOURCE_WORKLOADS, build, peak_memory_during};
use parallax_engine::{ExecutionPolicy, ParallelExecutor, execute_sequential};
use std::{num::NonZeroUsize, time::Instant};

/// Gives memory freed by the last run back to the system, so that each peak starts from
/// what is live (the block and its pre-state), not from what the allocator kept.
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at the top of glibc's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[test]
fn resource_bound_blocks_stay_within_twice_sequential_memory() {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: peak memory is read from /proc (Linux only)");
        return;
    }
    for name in RESOURCE_WORKLOADS {
        let block = build(name, None).expect("known workload");
        trim();
        let began = Instant::now();
        let (sequential, sequential_peak) = peak_memory_during(|| {
            execute_sequential(&block.db, &block.cfg, &block.block, &block.txs)
        });
        let sequential_time = began.elapsed();
        let sequential = sequential.unwrap_or_else(|error| panic!("{name}: {error}"));
        let sequential_peak = sequential_peak.expect("the kernel resets the high-water mark");
        eprintln!(
            "{name}: {} txs, {} gas; sequential revm {:.0} ms, peak {} MiB",
            block.txs.len(),
            sequential.gas_used,
            sequential_time.as_secs_f64() * 1e3,
            sequential_peak >> 20,
        );
        for threads in [2, 8] {
            let engine = ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
                .unwrap()
                .with_policy(ExecutionPolicy::AlwaysParallel);
            trim();
            let began = Instant::now();
            let (parallel, parallel_peak) = peak_memory_during(|| {
                engine.execute(&block.db, &block.cfg, &block.block, &block.txs)
            });
            let parallel_time = began.elapsed();
            let parallel = parallel.unwrap_or_else(|error| panic!("{name}: {error}"));
            let parallel_peak = parallel_peak.expect("the kernel resets the high-water mark");
            eprintln!(
                "{name}: Block-STM at {threads} threads {:.0} ms ({:.2}x sequential's time), peak {} MiB ({:.2}x sequential's)",
                parallel_time.as_secs_f64() * 1e3,
                parallel_time.as_secs_f64() / sequential_time.as_secs_f64(),
                parallel_peak >> 20,
                parallel_peak as f64 / sequential_peak as f64,
            );
            assert!(
                parallel == sequential,
                "{name} at {threads} threads: the engine's result differs from sequential revm's"
            );
            assert!(
                parallel_peak <= 2 * sequential_peak,
                "{name} at {threads} threads: peak memory {parallel_peak} bytes, over twice sequential revm's {sequential_peak}"
            );
            drop(parallel);
        }
        match name {
            "many_slots" => {
                let written: usize = sequential
                    .transactions
                    .iter()
                    .flat_map(|tx| tx.state.values())
                    .map(|account| {
                        account
                            .storage
                            .values()
                            .filter(|slot| slot.is_changed())
                            .count()
                    })
                    .sum();
                assert_eq!(written, 1_000_000, "a million distinct slots");
            }
            "one_full_tx" => {
                assert_eq!(block.txs.len(), 1);
                assert_eq!(sequential.gas_used, block.txs[0].gas_limit, "all its gas");
            }
            "many_tiny_txs" => assert_eq!(block.txs.len(), 100_000),
            _ => unreachable!("{name}"),
        }
    }
}
