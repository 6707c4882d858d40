//! `parallax`: replay real Ethereum blocks through the parallel engine and check them.

mod bench_command;
mod bench_drive;
mod blockchain_test_command;
mod explain_command;
mod progress;
mod replay_command;
mod report_command;
mod table;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The whole process, sequential revm included, allocates with mimalloc, as clients ship a
/// tuned allocator (reth: jemalloc). Under glibc's allocator the engine's many small
/// per-transaction allocations, freed on other threads, cost it far more than revm: at 2
/// threads in alternating runs, erc20 went from 0.73x to 0.95-1.18x and uniswap from
/// 0.97-1.21x to 1.33-1.42x (benches/ANALYSIS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Parallax: a Block-STM parallel executor for Ethereum blocks on revm.
#[derive(Parser)]
#[command(name = "parallax", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmark the parallel engine against sequential revm on synthetic blocks of about a
    /// gigagas each (no input needed).
    Bench(bench_command::BenchArgs),
    /// Replay recorded blocks (or blocks from a node) and check them against their headers.
    Replay(replay_command::ReplayArgs),
    /// Run Ethereum consensus tests (BlockchainTests) through the parallel executor.
    BlockchainTest(blockchain_test_command::BlockchainTestArgs),
    /// Show how parallel each recorded block could be at best, and what serialized it.
    Explain(explain_command::ExplainArgs),
    /// Measure the synthetic suite and every mainnet pre-state block, and write
    /// BENCHMARKS.md with a plot of speedup against available parallelism.
    Report(report_command::ReportArgs),
}

/// Exit statuses.
pub mod exit {
    /// Every check that ran passed.
    pub const OK: u8 = 0;
    /// A check failed.
    pub const MISMATCH: u8 = 1;
    /// The input could not be used.
    pub const UNUSABLE: u8 = 2;
}

/// The worker threads to use: `--threads` when given, otherwise every CPU.
pub fn threads_or_all_cpus(threads: Option<std::num::NonZeroUsize>) -> std::num::NonZeroUsize {
    threads.unwrap_or_else(|| {
        std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Bench(args) => bench_command::run(args),
        Command::Replay(args) => replay_command::run(args),
        Command::BlockchainTest(args) => blockchain_test_command::run(args),
        Command::Explain(args) => explain_command::run(args),
        Command::Report(args) => report_command::run(args),
    };
    ExitCode::from(status)
}
