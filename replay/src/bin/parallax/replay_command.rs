//! `parallax replay`.

use crate::{exit, table::Table};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_replay::{
    discover::{Loader, discover},
    execute::Executors,
    replay::{BlockReport, replay_block},
};
use std::{num::NonZeroUsize, path::PathBuf};

#[derive(Args)]
pub struct ReplayArgs {
    /// Files or directories of recorded blocks: pre-state dumps, eth_getProof recordings or
    /// execution witnesses (recognised by content).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Worker threads for the parallel execution [default: all CPUs].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Print one JSON object per block instead of a table.
    #[arg(long)]
    json: bool,
    /// Let the engine choose sequential execution for blocks it deems too small, as in
    /// production, instead of always taking the parallel path.
    #[arg(long)]
    auto: bool,
}

pub fn run(args: ReplayArgs) -> u8 {
    let sources = match discover(&args.paths) {
        Ok(sources) => sources,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::UNUSABLE;
        }
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
    let policy = if args.auto {
        ExecutionPolicy::Auto
    } else {
        ExecutionPolicy::AlwaysParallel
    };
    let engine = match ParallelExecutor::new(threads) {
        Ok(engine) => engine.with_policy(policy),
        Err(error) => {
            eprintln!("error: cannot start {threads} worker threads: {error}");
            return exit::UNUSABLE;
        }
    };
    let executors = Executors::new(engine);

    let progress = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(sources.len() as u64)
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} blocks  {msg}")
            .expect("valid progress template"),
    );
    let mut loader = Loader::default();
    let mut reports = Vec::new();
    let mut unusable = Vec::new();
    for source in &sources {
        progress.set_message(source.path().display().to_string());
        match loader.load(source) {
            Ok(block) => match replay_block(&executors, &block) {
                Ok(report) => {
                    if args.json {
                        println!(
                            "{}",
                            serde_json::to_string(&report).expect("reports serialize")
                        );
                    }
                    reports.push(report);
                }
                Err(error) => unusable.push(error.to_string()),
            },
            Err(error) => unusable.push(error.to_string()),
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    if !args.json {
        print!("{}", table(&reports, threads.get()));
    }
    for report in &reports {
        for note in &report.notes {
            eprintln!("note: {note}");
        }
        for problem in &report.problems {
            eprintln!("MISMATCH {problem}");
        }
    }
    for error in &unusable {
        eprintln!("error: {error}");
    }
    if !unusable.is_empty() {
        exit::UNUSABLE
    } else if reports.iter().any(|report| !report.passed()) {
        exit::MISMATCH
    } else {
        exit::OK
    }
}

fn table(reports: &[BlockReport], threads: usize) -> String {
    let mut table = Table::new(&[
        "block",
        "source",
        "fork",
        "txs",
        "gas",
        "tx root",
        "gas used",
        "bloom",
        "receipts",
        "state root",
        "requests",
        "par=seq",
        "seq ms",
        "par ms",
        "speedup",
    ]);
    for report in reports {
        let mut cells = vec![
            report.block.to_string(),
            report.source.to_owned(),
            report.fork.clone(),
            report.txs.to_string(),
            report.gas_used.to_string(),
        ];
        cells.extend(
            report
                .checks
                .named()
                .iter()
                .map(|(_, check)| check.word().to_owned()),
        );
        cells.push(
            if report.parallel_equals_sequential {
                "yes"
            } else {
                "NO"
            }
            .to_owned(),
        );
        cells.push(format!("{:.2}", report.sequential_ms));
        cells.push(format!("{:.2}", report.parallel_ms));
        cells.push(format!("{:.2}x", report.speedup()));
        table.row(cells);
    }
    let passed = reports.iter().filter(|r| r.passed()).count();
    format!(
        "{}\n{passed} of {} blocks passed every check ({threads} threads)\n",
        table.render(),
        reports.len()
    )
}
