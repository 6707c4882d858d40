//! `parallax bench`.

use crate::progress::item_progress;
use crate::{exit, table::Table};
use clap::Args;
use parallax_bench::{Machine, WORKLOADS, WorkloadReport, run_workloads};
use std::num::NonZeroUsize;

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Worker threads for the parallel engine [default: all CPUs].
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    json: bool,
    /// Gas per synthetic block.
    #[arg(long, default_value_t = 1_000_000_000)]
    gas: u64,
    /// Timed rounds per workload (the median is reported).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Only these workloads [default: all].
    #[arg(long = "workload", value_parser = clap::builder::PossibleValuesParser::new(WORKLOADS))]
    workloads: Vec<String>,
}

pub(crate) fn run(args: BenchArgs) -> u8 {
    let threads = crate::threads_or_all_cpus(args.threads);
    let workloads: Vec<&'static str> = if args.workloads.is_empty() {
        WORKLOADS.to_vec()
    } else {
        WORKLOADS
            .into_iter()
            .filter(|name| args.workloads.iter().any(|wanted| wanted == name))
            .collect()
    };
    let progress = item_progress(workloads.len(), "workloads", args.json);
    let outcome = run_workloads(&workloads, threads, args.gas, args.rounds, |name| {
        progress.set_message(name.to_owned());
        progress.inc(1);
    });
    match outcome {
        Ok(reports) => {
            progress.finish_and_clear();
            if args.json {
                for report in &reports {
                    println!(
                        "{}",
                        serde_json::to_string(report).expect("reports serialize")
                    );
                }
            } else {
                print!("{}", table(&reports));
                let machine = Machine::this();
                println!(
                    "{} threads on {} CPUs ({}); medians of {} rounds, each alternating sequential revm and the parallel engine",
                    threads,
                    machine.cpus,
                    machine.cpu_model,
                    args.rounds.max(1)
                );
            }
            exit::OK
        }
        Err(error) => {
            progress.finish_and_clear();
            eprintln!("error: {error}");
            exit::MISMATCH
        }
    }
}

fn table(reports: &[WorkloadReport]) -> String {
    let mut table = Table::new(&[
        "workload", "txs", "gas", "seq ms", "par ms", "speedup", "tx/s", "gas/s",
    ]);
    for report in reports {
        table.row(vec![
            report.workload.to_owned(),
            report.txs.to_string(),
            report.gas.to_string(),
            format!("{:.1}", report.sequential_ms),
            format!("{:.1}", report.parallel_ms),
            format!("{:.2}x", report.speedup),
            format!("{:.0}", report.tps),
            format!("{:.2}G", report.gas_per_s / 1e9),
        ]);
    }
    table.render()
}
