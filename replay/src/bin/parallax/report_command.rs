//! `parallax report`: measures everything BENCHMARKS.md reports and writes it.

use crate::exit;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use parallax_bench::{
    BlockBench, Machine, RESOURCE_WORKLOADS, Sides, WORKLOADS, WorkloadReport,
    measure::{median, time},
    peak_memory,
    plot::plot_speedup,
    report::{BlockMeasurement, Report, ThreadedRun, slow_database, target_thread_count, today},
    run_workloads,
};
use parallax_engine::{ExecutionPolicy, ParallelExecutor, execute_sequential};
use parallax_fixtures::fixtures_root;
use parallax_replay::{
    Explainer, PrestateShared, ReplayBlock, load_prestate_block, prestate_block_dirs,
};
use revm::context::TxEnv;
use std::{
    num::NonZeroUsize,
    path::{Path, PathBuf},
    time::Duration,
};

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Worker thread counts to measure, comma-separated [default: all CPUs].
    #[arg(long, value_delimiter = ',')]
    threads: Vec<NonZeroUsize>,
    /// Timed rounds per measurement (medians are reported).
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Gas per synthetic block.
    #[arg(long, default_value_t = 1_000_000_000)]
    gas: u64,
    /// The mainnet pre-state dumps [default: mainnet/prestate in the fixtures].
    #[arg(long, value_name = "DIR")]
    prestate: Option<PathBuf>,
    /// Hand-written analysis to append.
    #[arg(long, value_name = "FILE", default_value = "benches/ANALYSIS.md")]
    analysis: PathBuf,
    /// Where to write the report; the plot goes beside it, under benchmarks/.
    #[arg(long, value_name = "FILE", default_value = "BENCHMARKS.md")]
    output: PathBuf,
}

/// A mainnet block ready to time.
struct Prepared {
    block: ReplayBlock,
    txs: Vec<TxEnv>,
    bound: f64,
}

/// The executor of one thread count, switched between forced parallel and Auto (one pool
/// per thread count, as a client has one).
struct Engine {
    threads: usize,
    executor: ParallelExecutor,
}

pub(crate) fn run(args: ReportArgs) -> u8 {
    // Built before anything is timed, as in `parallax replay`.
    parallax_engine::warm_up();
    match report(&args) {
        Ok(path) => {
            println!("wrote {}", path.display());
            exit::OK
        }
        Err((status, message)) => {
            eprintln!("error: {message}");
            status
        }
    }
}

type Failure = (u8, String);

fn unusable(message: impl Into<String>) -> Failure {
    (exit::UNUSABLE, message.into())
}

fn report(args: &ReportArgs) -> Result<PathBuf, Failure> {
    let machine = Machine::this();
    let mut thread_counts: Vec<usize> = if args.threads.is_empty() {
        vec![machine.cpus]
    } else {
        args.threads.iter().map(|t| t.get()).collect()
    };
    thread_counts.sort_unstable();
    thread_counts.dedup();
    let prestate = args
        .prestate
        .clone()
        .unwrap_or_else(|| fixtures_root().join("mainnet/prestate"));
    let progress = ProgressBar::new_spinner();
    progress.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("valid progress template"),
    );
    progress.enable_steady_tick(Duration::from_millis(200));

    let mut synthetic = Vec::new();
    for &threads in &thread_counts {
        let bench = new_bench(threads, args.rounds, ExecutionPolicy::AlwaysParallel)?;
        let mut reports = run_suite(&WORKLOADS, &bench, args.gas, |name| {
            progress.set_message(format!("synthetic {name}, {threads} threads"))
        })?;
        for report in &mut reports {
            progress.set_message(format!(
                "peak memory of {}, {threads} threads",
                report.workload
            ));
            measure_peaks_alone(report, args.gas)?;
        }
        synthetic.push(reports);
    }
    // The default policy at the thread count the targets are judged at (2 when measured).
    let target_threads = target_thread_count(&thread_counts);
    let bench = new_bench(target_threads, args.rounds, ExecutionPolicy::Auto)?;
    let synthetic_auto = run_suite(&WORKLOADS, &bench, args.gas, |name| {
        progress.set_message(format!("synthetic {name}, {target_threads} threads, Auto"))
    })?;
    // Each block run from the EIP-7928 access list the engine built for it.
    let bench =
        new_bench(target_threads, args.rounds, ExecutionPolicy::Auto)?.with_access_list(true);
    let synthetic_access_list = run_suite(&WORKLOADS, &bench, args.gas, |name| {
        progress.set_message(format!(
            "synthetic {name}, {target_threads} threads, from the access list"
        ))
    })?;

    let slow_database = measure_slow_database(args, &progress)?;
    // The resource-bound blocks, Block-STM forced, each side's peak in a process of its own.
    let bench = new_bench(
        target_threads,
        args.rounds.min(SLOW_ROUNDS),
        ExecutionPolicy::AlwaysParallel,
    )?;
    let mut resource_bounds = run_suite(&RESOURCE_WORKLOADS, &bench, args.gas, |name| {
        progress.set_message(format!("resource bounds: {name}, {target_threads} threads"))
    })?;
    for report in &mut resource_bounds {
        progress.set_message(format!("peak memory of {}", report.workload));
        measure_peaks_alone(report, args.gas)?;
    }

    progress.set_message(format!("loading {}", prestate.display()));
    let blocks = prepare_blocks(&prestate, &progress)?;
    let mut engines = thread_counts
        .iter()
        .map(|&threads| {
            let count = NonZeroUsize::new(threads).expect("thread counts are non-zero");
            let executor = ParallelExecutor::new(count)
                .map_err(|error| unusable(format!("cannot start {threads} threads: {error}")))?;
            Ok(Engine { threads, executor })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let measurements = time_blocks(&blocks, &mut engines, args.rounds, &progress)?;
    progress.finish_and_clear();

    let mut report = Report {
        machine,
        date: today(),
        rounds: args.rounds,
        synthetic_gas: args.gas,
        thread_counts,
        synthetic,
        synthetic_auto,
        synthetic_access_list,
        slow_database,
        resource_bounds,
        blocks: measurements,
        peak_memory: peak_memory(),
        plot: None,
        analysis: std::fs::read_to_string(&args.analysis).ok(),
    };
    let directory = args.output.parent().unwrap_or(Path::new("")).to_path_buf();
    let plot = Path::new("benchmarks").join("speedup-vs-parallelism.png");
    let plot_path = directory.join(&plot);
    std::fs::create_dir_all(plot_path.parent().expect("has a parent"))
        .map_err(|error| unusable(format!("cannot create {}: {error}", plot_path.display())))?;
    let threads = report.target_threads();
    match plot_speedup(&report.plot_points(threads), threads, &plot_path) {
        Ok(()) => report.plot = Some(plot.display().to_string()),
        Err(error) => eprintln!("warning: no plot: {error}"),
    }
    std::fs::write(&args.output, report.markdown())
        .map_err(|error| unusable(format!("cannot write {}: {error}", args.output.display())))?;
    Ok(args.output.clone())
}

/// Loads every pre-state block and finds its available parallelism.
/// Replaces the peak memory of each side with that side's peak in a process of its own
/// (`parallax bench --engine SIDE`): measured in one process, the side that runs second
/// inherits the first one's freed but retained memory.
/// A bench of both sides with `threads` workers under `policy`, medians of `rounds`.
fn new_bench(
    threads: usize,
    rounds: usize,
    policy: ExecutionPolicy,
) -> Result<BlockBench, Failure> {
    let threads = NonZeroUsize::new(threads).expect("thread counts are non-zero");
    BlockBench::new(threads, rounds, Sides::Both, policy).map_err(|error| (exit::MISMATCH, error))
}

/// Times `workloads` on `bench`; a parallel result that differs is a failed check.
fn run_suite(
    workloads: &[&str],
    bench: &BlockBench,
    gas: u64,
    progress: impl FnMut(&str),
) -> Result<Vec<WorkloadReport>, Failure> {
    run_workloads(workloads, bench, gas, progress).map_err(|error| (exit::MISMATCH, error))
}

/// Rounds for the slow-database and resource-bound runs, whose blocks take seconds.
const SLOW_ROUNDS: usize = 5;

/// The slow-database workloads at each latency and thread count, on blocks of a tenth of the
/// synthetic gas (at 50 µs a cold read, a gigagas of ERC-20 transfers takes sequential revm
/// about 3 s).
fn measure_slow_database(
    args: &ReportArgs,
    progress: &ProgressBar,
) -> Result<Vec<WorkloadReport>, Failure> {
    let mut reports = Vec::new();
    for latency in slow_database::LATENCIES_US {
        for threads in slow_database::THREADS {
            let bench = new_bench(threads, args.rounds.min(SLOW_ROUNDS), ExecutionPolicy::Auto)?
                .with_db_latency(Some(Duration::from_micros(latency)));
            let measured = run_suite(&slow_database::WORKLOADS, &bench, args.gas / 10, |name| {
                progress.set_message(format!(
                    "slow database: {name}, {latency} µs, {threads} threads"
                ))
            })?;
            reports.extend(measured);
        }
    }
    Ok(reports)
}

fn measure_peaks_alone(report: &mut WorkloadReport, gas: u64) -> Result<(), Failure> {
    let exe = std::env::current_exe().map_err(|error| unusable(error.to_string()))?;
    let peak = |side: &str, field: &str| -> Result<Option<u64>, Failure> {
        let output = std::process::Command::new(&exe)
            .args(["bench", "--json", "--rounds", "1", "--engine", side])
            .args(["--policy", report.policy])
            .args(["--threads", &report.threads.to_string()])
            .args(["--gas", &gas.to_string(), "--workload", &report.workload])
            .output()
            .map_err(|error| unusable(format!("cannot run {}: {error}", exe.display())))?;
        if !output.status.success() {
            return Err((
                exit::MISMATCH,
                format!(
                    "parallax bench --engine {side} --workload {}: {}",
                    report.workload,
                    String::from_utf8_lossy(&output.stderr)
                ),
            ));
        }
        let line: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|error| unusable(format!("parallax bench printed no JSON line: {error}")))?;
        Ok(line[field].as_u64())
    };
    report.sequential_peak_bytes = peak("sequential", "sequential_peak_bytes")?;
    report.parallel_peak_bytes = peak("parallel", "parallel_peak_bytes")?;
    Ok(())
}

fn prepare_blocks(dir: &Path, progress: &ProgressBar) -> Result<Vec<Prepared>, Failure> {
    let shared = PrestateShared::load(dir).map_err(|error| unusable(error.to_string()))?;
    let explainer = Explainer::new(NonZeroUsize::MIN).map_err(|e| unusable(e.to_string()))?;
    let mut blocks = Vec::new();
    for block_dir in prestate_block_dirs(dir).map_err(|error| unusable(error.to_string()))? {
        progress.set_message(format!("explaining {}", block_dir.display()));
        let block =
            load_prestate_block(&block_dir, &shared).map_err(|e| unusable(e.to_string()))?;
        let explanation = explainer
            .explain(&block)
            .map_err(|error| (exit::MISMATCH, error.to_string()))?;
        blocks.push(Prepared {
            txs: block.tx_envs(),
            block,
            bound: explanation.parallelism.bound(),
        });
    }
    if blocks.is_empty() {
        return Err(unusable(format!("no blocks in {}", dir.display())));
    }
    Ok(blocks)
}

/// Times every block sequentially and on each engine, forced parallel and under Auto.
fn time_blocks(
    blocks: &[Prepared],
    engines: &mut [Engine],
    rounds: usize,
    progress: &ProgressBar,
) -> Result<Vec<BlockMeasurement>, Failure> {
    const POLICIES: [ExecutionPolicy; 2] = [ExecutionPolicy::AlwaysParallel, ExecutionPolicy::Auto];
    let sequential = |p: &Prepared| {
        let env = p.block.evm_env();
        execute_sequential(&*p.block.pre_state, &env.cfg_env, &env.block_env, &p.txs)
            .map_err(|error| error.to_string())
    };
    let parallel = |engine: &ParallelExecutor, p: &Prepared| {
        let env = p.block.evm_env();
        engine
            .execute(&*p.block.pre_state, &env.cfg_env, &env.block_env, &p.txs)
            .map_err(|error| error.to_string())
    };
    // A wrong result is not a benchmark: check every engine and policy on every block first.
    // The check run under Auto also tells which path it took ([engine][block]).
    let mut auto_paths = vec![Vec::with_capacity(blocks.len()); engines.len()];
    for p in blocks {
        progress.set_message(format!("checking block {}", p.block.number()));
        let expected = sequential(p);
        for (at, engine) in engines.iter_mut().enumerate() {
            for policy in POLICIES {
                engine.executor.set_policy(policy);
                let actual = parallel(&engine.executor, p);
                if actual != expected {
                    return Err((
                        exit::MISMATCH,
                        format!(
                            "block {}: the result at {} threads ({policy:?}) differs from sequential revm",
                            p.block.number(),
                            engine.threads
                        ),
                    ));
                }
                if policy == ExecutionPolicy::Auto {
                    auto_paths[at].push(actual.map_or("sequential", |output| output.stats.path()));
                }
            }
        }
    }

    let mut sequential_times = vec![Vec::new(); blocks.len()];
    // [engine][policy][block]
    let mut parallel_times = vec![vec![vec![Vec::new(); blocks.len()]; 2]; engines.len()];
    // Every way of running a block: sequential revm, then each engine under each policy.
    let runners = 1 + engines.len() * POLICIES.len();
    for round in 1..=rounds.max(1) {
        progress.set_message(format!("timing mainnet blocks, round {round} of {rounds}"));
        for (i, p) in blocks.iter().enumerate() {
            // The runs of one block are timed back to back, so that they see the same
            // machine, in an order shuffled every round: on this kind of machine a run is
            // measurably slower or faster depending on what ran just before it (which
            // caches are warm, whether the core was idle), and a fixed order would hand
            // that bias to the same runner every time.
            for runner in shuffled(runners, (round * blocks.len() + i) as u64) {
                if runner == 0 {
                    sequential_times[i].push(time(&mut || sequential(p)));
                    continue;
                }
                let (at, which) = ((runner - 1) / POLICIES.len(), (runner - 1) % POLICIES.len());
                let engine = &mut engines[at];
                engine.executor.set_policy(POLICIES[which]);
                parallel_times[at][which][i].push(time(&mut || parallel(&engine.executor, p)));
            }
        }
    }

    Ok(blocks
        .iter()
        .enumerate()
        .map(|(i, p)| BlockMeasurement {
            number: p.block.number(),
            txs: p.txs.len(),
            gas_used: p.block.header.gas_used,
            bound: p.bound,
            sequential: median(&mut sequential_times[i]),
            runs: engines
                .iter()
                .enumerate()
                .map(|(at, engine)| ThreadedRun {
                    threads: engine.threads,
                    forced: median(&mut parallel_times[at][0][i]),
                    auto: median(&mut parallel_times[at][1][i]),
                    auto_path: auto_paths[at][i],
                })
                .collect(),
        })
        .collect())
}

/// `0..n` in an order drawn from `seed` (a fixed xorshift generator: the same seed gives
/// the same order, so reports are reproducible in how they were measured).
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut order: Vec<usize> = (0..n).collect();
    for at in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(at, (state % (at as u64 + 1)) as usize);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::shuffled;

    #[test]
    fn shuffles_are_permutations_in_varied_orders() {
        let mut firsts = [0; 3];
        for seed in 0..300 {
            let mut order = shuffled(3, seed);
            firsts[order[0]] += 1;
            order.sort_unstable();
            assert_eq!(order, [0, 1, 2]);
        }
        // Each runner goes first about a third of the time.
        assert!(
            firsts.iter().all(|&count| (70..=130).contains(&count)),
            "{firsts:?}"
        );
    }
}
