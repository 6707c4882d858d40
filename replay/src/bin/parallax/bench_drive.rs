//! `parallax bench --drive`: the whole adapter path, Parallax against alloy-evm's stock
//! executor, driven the way a client drives it.

use crate::{
    bench_command::{BenchArgs, DriveArg, print_json_lines},
    exit,
    progress::item_progress,
    table::Table,
};
use parallax_bench::{Drive, DriveBench, DriveReport, DriveTiming, Machine, build, measure_drives};
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_replay::{Executors, Loader, discover};
use std::num::NonZeroUsize;

impl From<DriveArg> for Drive {
    fn from(drive: DriveArg) -> Self {
        match drive {
            DriveArg::Block => Self::Block,
            DriveArg::Streaming => Self::Streaming,
        }
    }
}

pub(crate) fn run(
    args: &BenchArgs,
    threads: NonZeroUsize,
    policy: ExecutionPolicy,
    drive: DriveArg,
    workloads: &[&'static str],
) -> u8 {
    let drive = Drive::from(drive);
    let outcome = if args.paths.is_empty() {
        synthetic(args, threads, policy, drive, workloads)
    } else {
        recorded(args, threads, policy, drive)
    };
    match outcome {
        Ok(reports) => {
            if args.json {
                print_json_lines(&reports);
            } else {
                print!("{}", table(&reports));
                let machine = Machine::this();
                println!(
                    "{threads} threads on {} CPUs ({}); medians of {} rounds taking the executors in turn, each timed from building State to taking the bundle{}; driven {}{}; first receipt: from the start to the first execute_transaction's return; from workers: streamed transactions whose results came from the engine's parallel run",
                    machine.cpus,
                    machine.cpu_model,
                    args.rounds.max(1),
                    args.prewarm.map_or_else(String::new, |n| format!(
                        ", with a prewarming pass on {n} threads beside each"
                    )),
                    drive.name(),
                    if drive == Drive::Streaming {
                        " (block speedup: both driven with execute_block in the same run; kept: speedup over block speedup)"
                    } else {
                        ""
                    },
                );
            }
            exit::OK
        }
        Err((status, error)) => {
            eprintln!("error: {error}");
            status
        }
    }
}

fn synthetic(
    args: &BenchArgs,
    threads: NonZeroUsize,
    policy: ExecutionPolicy,
    drive: Drive,
    workloads: &[&'static str],
) -> Result<Vec<DriveReport>, (u8, String)> {
    let mut bench = DriveBench::new(threads, policy).map_err(|error| (exit::UNUSABLE, error))?;
    if let Some(prewarm) = args.prewarm {
        bench = bench
            .with_prewarm(prewarm)
            .map_err(|error| (exit::UNUSABLE, error))?;
    }
    let progress = item_progress(workloads.len(), "workloads", args.json);
    let reports = workloads
        .iter()
        .map(|name| {
            progress.set_message((*name).to_owned());
            let block = build(name, Some(args.gas))
                .ok_or_else(|| (exit::UNUSABLE, format!("no workload {name:?}")))?;
            let report = bench
                .measure(&block, drive, args.rounds)
                .map_err(|error| (exit::MISMATCH, format!("workload {name}: {error}")))?;
            progress.inc(1);
            Ok(report)
        })
        .collect();
    progress.finish_and_clear();
    reports
}

/// Recorded blocks through the replay library's executors, driven the same ways.
fn recorded(
    args: &BenchArgs,
    threads: NonZeroUsize,
    policy: ExecutionPolicy,
    drive: Drive,
) -> Result<Vec<DriveReport>, (u8, String)> {
    let unusable = |error: String| (exit::UNUSABLE, error);
    let sources = discover(&args.paths).map_err(|error| unusable(error.to_string()))?;
    parallax_engine::warm_up();
    let engine = ParallelExecutor::new(threads)
        .map_err(|error| unusable(format!("cannot start {threads} worker threads: {error}")))?
        .with_policy(policy);
    let executors = Executors::new(engine);
    let progress = item_progress(sources.len(), "blocks", args.json);
    let mut loader = Loader::default();
    let reports = sources
        .iter()
        .map(|source| {
            progress.set_message(source.path().display().to_string());
            let block = loader
                .load(source)
                .map_err(|error| unusable(error.to_string()))?;
            let name = format!("block {}", block.number());
            let replay_drive = |how: Drive| match how {
                Drive::Block => parallax_replay::Drive::Block,
                Drive::Streaming => parallax_replay::Drive::Streaming,
            };
            let report = measure_drives(
                &name,
                block.transactions.len(),
                threads.get(),
                policy,
                drive,
                args.rounds,
                |side, how| {
                    let execution = match side {
                        parallax_bench::Side::Stock => executors.stock(&block, replay_drive(how)),
                        parallax_bench::Side::Parallax => {
                            executors.parallax(&block, replay_drive(how))
                        }
                    }
                    .map_err(|error| format!("{name}: {error}"))?;
                    Ok(DriveTiming {
                        total: execution.elapsed,
                        first_receipt: execution.streamed.as_ref().and_then(|s| s.first_receipt),
                        from_workers: execution.streamed.as_ref().map_or(0, |s| s.from_workers),
                    })
                },
            )
            .map_err(|error| (exit::MISMATCH, error))?;
            progress.inc(1);
            Ok(report)
        })
        .collect();
    progress.finish_and_clear();
    reports
}

fn table(reports: &[DriveReport]) -> String {
    let mut table = Table::new(&[
        "workload",
        "txs",
        "drive",
        "stock ms",
        "parallax ms",
        "speedup",
        "block speedup",
        "kept",
        "1st receipt stock",
        "1st receipt parallax",
        "from workers",
    ]);
    let ms = |value: Option<f64>| value.map_or("-".to_owned(), |ms| format!("{ms:.3} ms"));
    for report in reports {
        table.row(vec![
            report.workload.clone(),
            report.txs.to_string(),
            report.drive.to_owned(),
            format!("{:.1}", report.stock_ms),
            format!("{:.1}", report.parallax_ms),
            format!("{:.2}x", report.speedup),
            format!("{:.2}x", report.block_speedup),
            format!("{:.0}%", report.kept * 100.0),
            ms(report.stock_first_receipt_ms),
            ms(report.parallax_first_receipt_ms),
            report
                .from_workers
                .map_or("-".to_owned(), |n| format!("{n}/{}", report.txs)),
        ]);
    }
    table.render()
}
