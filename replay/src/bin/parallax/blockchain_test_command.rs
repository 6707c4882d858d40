//! `parallax blockchain-test`.

use crate::{exit, table::Table};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_replay::{
    BlockchainTest, Executor, Verdict, for_each_fixture_file, run_test_beside_revm,
};
use serde_json::json;
use std::{
    collections::BTreeMap,
    num::NonZeroUsize,
    panic::{AssertUnwindSafe, catch_unwind},
    path::PathBuf,
    sync::Arc,
};

#[derive(Args)]
pub(crate) struct BlockchainTestArgs {
    /// BlockchainTest fixtures: JSON files, directories of them, or `.tar.zst` archives.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Worker threads for the parallel engine [default: all CPUs].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Print one JSON object per test, then a summary object.
    #[arg(long)]
    json: bool,
    /// Import the blocks with alloy-evm's stock executor (plain sequential revm) instead. Every
    /// failure then counts as `failed_on_revm_too`; under the Parallax executor a failing test
    /// is run again on stock revm, and counts as `failed` only where revm passes it.
    #[arg(long)]
    sequential: bool,
    /// Execute each block that comes with an EIP-7928 access list from it: the Parallax
    /// executor runs every transaction at once from the list and checks it against what
    /// they did; with `--sequential`, stock revm reads the list transaction by
    /// transaction (alloy-evm's indexed path). Stock revm reading the list is then the
    /// reference.
    #[arg(long, conflicts_with = "drive")]
    access_list: bool,
    /// Only run tests whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// How the Parallax executor is driven: `block` hands it each block with
    /// `execute_block`; `streaming` gives it the block's transactions in its context and
    /// calls `execute_transaction` per transaction, as reth's engine tree does.
    #[arg(
        long,
        value_enum,
        default_value = "block",
        conflicts_with = "sequential"
    )]
    drive: DriveArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DriveArg {
    Block,
    Streaming,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    passed: usize,
    failed: usize,
    failed_on_revm_too: usize,
    skipped: usize,
}

impl Counts {
    fn add(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail(_) => self.failed += 1,
            Verdict::FailOnRevmToo { .. } => self.failed_on_revm_too += 1,
            Verdict::Skip(_) => self.skipped += 1,
        }
    }

    fn cells(self) -> [String; 4] {
        [
            self.passed.to_string(),
            self.failed.to_string(),
            self.failed_on_revm_too.to_string(),
            self.skipped.to_string(),
        ]
    }
}

#[derive(Default)]
struct Summary {
    total: Counts,
    by_suite: BTreeMap<String, Counts>,
    by_fork: BTreeMap<String, Counts>,
    skip_reasons: BTreeMap<String, usize>,
    failures: Vec<String>,
    revm_failures: Vec<String>,
}

pub(crate) fn run(args: BlockchainTestArgs) -> u8 {
    let executor = if args.sequential {
        if args.access_list {
            Executor::SequentialFromList
        } else {
            Executor::Sequential
        }
    } else {
        let threads = crate::threads_or_all_cpus(args.threads);
        match ParallelExecutor::new(threads) {
            Ok(engine) => {
                let engine = Arc::new(engine.with_policy(ExecutionPolicy::AlwaysParallel));
                match args.drive {
                    _ if args.access_list => Executor::ParallelFromList(engine),
                    DriveArg::Block => Executor::Parallel(engine),
                    DriveArg::Streaming => Executor::ParallelStreaming(engine),
                }
            }
            Err(error) => {
                eprintln!("error: cannot start {threads} worker threads: {error}");
                return exit::UNUSABLE;
            }
        }
    };
    let progress = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} {pos} tests  {msg}")
            .expect("valid progress template"),
    );
    let mut summary = Summary::default();
    for path in &args.paths {
        let result = for_each_fixture_file(path, |source| {
            progress.set_message(source.file.clone());
            for (name, value) in source.tests {
                if args
                    .filter
                    .as_ref()
                    .is_some_and(|filter| !name.contains(filter.as_str()))
                {
                    continue;
                }
                let (fork, verdict) = match serde_json::from_value::<BlockchainTest>(value) {
                    Ok(test) => {
                        let verdict = catch_unwind(AssertUnwindSafe(|| {
                            run_test_beside_revm(&test, &executor)
                        }))
                        .unwrap_or_else(|_| Verdict::Fail("the harness panicked".into()));
                        (test.network, verdict)
                    }
                    Err(error) => (
                        "unknown".to_owned(),
                        Verdict::Fail(format!("malformed test: {error}")),
                    ),
                };
                record(
                    &mut summary,
                    &source.suite,
                    &fork,
                    &name,
                    &verdict,
                    args.json,
                );
                progress.inc(1);
            }
        });
        if let Err(error) = result {
            progress.finish_and_clear();
            eprintln!("error: {error}");
            return exit::UNUSABLE;
        }
    }
    progress.finish_and_clear();
    let total = summary.total;
    if args.json {
        println!(
            "{}",
            json!({
                "passed": total.passed,
                "failed": total.failed,
                "failed_on_revm_too": total.failed_on_revm_too,
                "skipped": total.skipped,
            })
        );
    } else {
        print_summary(&summary, &executor);
    }
    if total.passed + total.failed + total.failed_on_revm_too + total.skipped == 0 {
        eprintln!("error: no BlockchainTest fixtures found in the given paths");
        exit::UNUSABLE
    } else if total.failed > 0 {
        exit::MISMATCH
    } else {
        exit::OK
    }
}

fn record(
    summary: &mut Summary,
    suite: &str,
    fork: &str,
    name: &str,
    verdict: &Verdict,
    json: bool,
) {
    summary.total.add(verdict);
    summary
        .by_suite
        .entry(suite.to_owned())
        .or_default()
        .add(verdict);
    summary
        .by_fork
        .entry(fork.to_owned())
        .or_default()
        .add(verdict);
    let (result, reason) = match verdict {
        Verdict::Pass => ("pass", String::new()),
        Verdict::Fail(reason) => {
            summary.failures.push(format!("{name}: {reason}"));
            ("fail", reason.clone())
        }
        Verdict::FailOnRevmToo { reason, revm } => {
            summary
                .revm_failures
                .push(format!("{name}: {reason} (stock revm: {revm})"));
            ("fail_on_revm_too", reason.clone())
        }
        Verdict::Skip(reason) => {
            *summary.skip_reasons.entry(reason.clone()).or_default() += 1;
            ("skip", reason.clone())
        }
    };
    if json {
        println!(
            "{}",
            json!({"test": name, "fork": fork, "result": result, "reason": reason})
        );
    }
}

fn print_summary(summary: &Summary, executor: &Executor) {
    let mode = match executor {
        Executor::Parallel(engine) => format!("parallel engine, {} threads", engine.threads()),
        Executor::ParallelStreaming(engine) => format!(
            "parallel engine, {} threads, driven transaction by transaction",
            engine.threads()
        ),
        Executor::Sequential => "stock sequential revm".to_owned(),
        Executor::ParallelFromList(engine) => format!(
            "parallel engine, {} threads, from each block's access list",
            engine.threads()
        ),
        Executor::SequentialFromList => {
            "stock sequential revm, reading each block's access list".to_owned()
        }
    };
    for (title, groups) in [("suite", &summary.by_suite), ("fork", &summary.by_fork)] {
        let mut table = Table::new(&[title, "passed", "failed", "failed on revm too", "skipped"]);
        for (name, counts) in groups {
            let mut row = vec![name.clone()];
            row.extend(counts.cells());
            table.row(row);
        }
        println!("{}", table.render());
    }
    if !summary.skip_reasons.is_empty() {
        println!("skipped:");
        for (reason, count) in &summary.skip_reasons {
            println!("  {count:>5}  {reason}");
        }
        println!();
    }
    for failure in summary.revm_failures.iter().take(20) {
        eprintln!("FAIL ON REVM TOO {failure}");
    }
    if summary.revm_failures.len() > 20 {
        eprintln!(
            "... and {} more that fail on stock revm too",
            summary.revm_failures.len() - 20
        );
    }
    for failure in summary.failures.iter().take(50) {
        eprintln!("FAIL {failure}");
    }
    if summary.failures.len() > 50 {
        eprintln!("... and {} more failures", summary.failures.len() - 50);
    }
    let t = summary.total;
    println!(
        "{} passed, {} failed, {} failed on stock revm too, {} skipped ({mode})",
        t.passed, t.failed, t.failed_on_revm_too, t.skipped
    );
}
