use parallax_engine::{ExecutionPolicy, ParallelExecutor, execute_sequential};
use parallax_replay::prestate::{PrestateShared, block_dirs, load_block};
use std::{num::NonZeroUsize, time::Instant};

fn main() {
    let dir = std::path::Path::new("../shared/fixtures/mainnet/prestate");
    let shared = PrestateShared::load(dir).unwrap();
    let threads: usize = std::env::args().nth(1).map_or(2, |t| t.parse().unwrap());
    let exec = ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
        .unwrap()
        .with_policy(ExecutionPolicy::AlwaysParallel);
    let (mut ts, mut tp) = (0.0, 0.0);
    for d in block_dirs(dir).unwrap() {
        let b = load_block(&d, &shared).unwrap();
        let env = b.evm_env();
        let txs = b.tx_envs();
        let best = |f: &dyn Fn() -> ()| {
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::MAX, f64::min)
        };
        let s = best(&|| {
            execute_sequential(&*b.pre_state, &env.cfg_env, &env.block_env, &txs).unwrap();
        });
        let p = best(&|| {
            exec.execute(&*b.pre_state, &env.cfg_env, &env.block_env, &txs)
                .unwrap();
        });
        let out = exec
            .execute(&*b.pre_state, &env.cfg_env, &env.block_env, &txs)
            .unwrap();
        ts += s;
        tp += p;
        println!(
            "{:>9} {:>5} txs seq {:>8.3} ms par {:>8.3} ms speedup {:>5.2} execs {} val {} waits {}",
            b.number(),
            txs.len(),
            s * 1e3,
            p * 1e3,
            s / p,
            out.stats.executions,
            out.stats.validations,
            out.stats.dependency_waits
        );
    }
    println!(
        "total seq {:.1} ms par {:.1} ms speedup {:.2}",
        ts * 1e3,
        tp * 1e3,
        ts / tp
    );
}
