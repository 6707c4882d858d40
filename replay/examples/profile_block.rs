use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_replay::prestate::{PrestateShared, load_block};
use std::num::NonZeroUsize;

fn main() {
    let dir = std::path::Path::new("../shared/fixtures/mainnet/prestate");
    let shared = PrestateShared::load(dir).unwrap();
    let number = std::env::args().nth(1).unwrap();
    let threads: usize = std::env::args().nth(2).map_or(2, |t| t.parse().unwrap());
    let b = load_block(&dir.join(number), &shared).unwrap();
    let env = b.evm_env();
    let txs = b.tx_envs();
    let exec = ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
        .unwrap()
        .with_policy(ExecutionPolicy::AlwaysParallel);
    for _ in 0..3000 {
        exec.execute(&*b.pre_state, &env.cfg_env, &env.block_env, &txs)
            .unwrap();
    }
}
