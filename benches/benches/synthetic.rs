//! Criterion: sequential revm against the parallel engine on the synthetic workloads
//! (about a gigagas each). Threads: `PARALLAX_BENCH_THREADS`, default all CPUs.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parallax_bench::{WORKLOADS, build};
use parallax_engine::{ParallelExecutor, execute_sequential};
use std::num::NonZeroUsize;

fn threads() -> NonZeroUsize {
    std::env::var("PARALLAX_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
}

fn synthetic(c: &mut Criterion) {
    let threads = threads();
    let executor = ParallelExecutor::new(threads).expect("worker threads start");
    for name in WORKLOADS {
        let block = build(name, None).expect("known workload");
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.throughput(Throughput::Elements(block.txs.len() as u64));
        group.bench_function("sequential", |b| {
            b.iter(|| {
                execute_sequential(&block.db, &block.cfg, &block.block, &block.txs)
                    .expect("block executes")
            })
        });
        group.bench_function(format!("parallel_{threads}_threads"), |b| {
            b.iter(|| {
                executor
                    .execute(&block.db, &block.cfg, &block.block, &block.txs)
                    .expect("block executes")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, synthetic);
criterion_main!(benches);
