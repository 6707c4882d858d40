//! Criterion: sequential revm against the parallel engine on every mainnet block of the
//! pre-state fixtures. Threads: `PARALLAX_BENCH_THREADS`, default all CPUs.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parallax_engine::{ParallelExecutor, execute_sequential};
use parallax_fixtures::fixture_or_skip;
use parallax_replay::{PrestateShared, load_prestate_block, prestate_block_dirs};
use std::num::NonZeroUsize;

fn threads() -> NonZeroUsize {
    std::env::var("PARALLAX_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
}

fn mainnet(c: &mut Criterion) {
    let Some(dir) = fixture_or_skip("mainnet benchmark", "mainnet/prestate") else {
        return;
    };
    let shared = PrestateShared::load(&dir).expect("shared pre-state files load");
    let threads = threads();
    let executor = ParallelExecutor::new(threads).expect("worker threads start");
    for block_dir in prestate_block_dirs(&dir).expect("block directories") {
        let block = load_prestate_block(&block_dir, &shared).expect("block loads");
        let env = block.evm_env();
        let txs = block.tx_envs();
        let mut group = c.benchmark_group(format!("block_{}", block.number()));
        group.throughput(Throughput::Elements(txs.len() as u64));
        group.bench_function("sequential", |b| {
            b.iter(|| {
                execute_sequential(&*block.pre_state, &env.cfg_env, &env.block_env, &txs)
                    .expect("block executes")
            })
        });
        group.bench_function(format!("parallel_{threads}_threads"), |b| {
            b.iter(|| {
                executor
                    .execute(&*block.pre_state, &env.cfg_env, &env.block_env, &txs)
                    .expect("block executes")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, mainnet);
criterion_main!(benches);
