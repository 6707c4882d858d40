//! BENCHMARKS.md: the machine, the synthetic and mainnet tables, how each result compares
//! with its target and with what the block could at best allow, and peak memory.

mod resource_bounds;
pub mod slow_database;

use crate::{Machine, WorkloadReport, measure::mebibytes};
use std::{fmt::Write, time::Duration};

/// One mainnet block, timed sequentially and on the parallel engine.
#[derive(Clone, Debug)]
pub struct BlockMeasurement {
    /// Block number.
    pub number: u64,
    /// Transactions.
    pub txs: usize,
    /// Gas used.
    pub gas_used: u64,
    /// Available parallelism: total gas over the gas of the longest dependency chain.
    pub bound: f64,
    /// Median time of sequential revm.
    pub sequential: Duration,
    /// The parallel engine at each thread count measured.
    pub runs: Vec<ThreadedRun>,
}

/// The parallel engine on one block at one thread count.
#[derive(Clone, Copy, Debug)]
pub struct ThreadedRun {
    /// Worker threads.
    pub threads: usize,
    /// Median time with the parallel path forced.
    pub forced: Duration,
    /// Median time under the `Auto` policy.
    pub auto: Duration,
    /// The path `Auto` took on the checking run: `parallel`, `sequential` or `mixed`.
    pub auto_path: &'static str,
}

impl BlockMeasurement {
    fn run(&self, threads: usize) -> Option<&ThreadedRun> {
        self.runs.iter().find(|run| run.threads == threads)
    }

    fn speedup(&self, time: Duration) -> f64 {
        self.sequential.as_secs_f64() / time.as_secs_f64()
    }

    /// Forced-parallel speedup over the best the block allows on `threads` threads.
    pub fn efficiency(&self, run: &ThreadedRun) -> f64 {
        self.speedup(run.forced) / self.bound.min(run.threads as f64)
    }
}

/// Everything BENCHMARKS.md reports.
#[derive(Clone, Debug)]
pub struct Report {
    /// Where it was measured.
    pub machine: Machine,
    /// When (YYYY-MM-DD, UTC).
    pub date: String,
    /// Timed rounds per measurement (medians are reported).
    pub rounds: usize,
    /// Gas per synthetic block.
    pub synthetic_gas: u64,
    /// Worker thread counts measured, ascending.
    pub thread_counts: Vec<usize>,
    /// The synthetic suite at each thread count, in `thread_counts` order.
    pub synthetic: Vec<Vec<WorkloadReport>>,
    /// The synthetic suite under the default policy at the target thread count.
    pub synthetic_auto: Vec<WorkloadReport>,
    /// The synthetic suite at the target thread count, each block run from the EIP-7928
    /// access list the engine built for it (`parallax bench --access-list`).
    pub synthetic_access_list: Vec<WorkloadReport>,
    /// The slow-database workloads ([`slow_database::WORKLOADS`]) at each latency and thread
    /// count measured (`parallax bench --db-latency`).
    pub slow_database: Vec<WorkloadReport>,
    /// The resource-bound blocks ([`RESOURCE_WORKLOADS`](crate::RESOURCE_WORKLOADS)) at the
    /// target thread count, Block-STM forced, with each side's peak memory.
    pub resource_bounds: Vec<WorkloadReport>,
    /// Every mainnet pre-state block.
    pub blocks: Vec<BlockMeasurement>,
    /// Peak resident memory of the whole measuring run.
    pub peak_memory: Option<u64>,
    /// The plot of speedup against available parallelism, relative to BENCHMARKS.md.
    pub plot: Option<String>,
    /// Hand-written analysis appended verbatim (benches/ANALYSIS.md).
    pub analysis: Option<String>,
}

/// The thread count targets are judged at among `counts`: 2 when measured (the targets are
/// set for a 2-core machine), else the highest.
pub fn target_thread_count(counts: &[usize]) -> usize {
    if counts.contains(&2) {
        2
    } else {
        counts.iter().copied().max().unwrap_or(1)
    }
}

/// Mainnet blocks with more transactions than this count towards the efficiency target.
const EFFICIENCY_MIN_TXS: usize = 50;

impl Report {
    /// The thread count the targets are judged at: 2 when measured (the targets are set for
    /// this 2-core machine), else the highest measured.
    pub fn target_threads(&self) -> usize {
        target_thread_count(&self.thread_counts)
    }

    fn synthetic_at(&self, threads: usize) -> &[WorkloadReport] {
        self.thread_counts
            .iter()
            .position(|&t| t == threads)
            .map_or(&[], |at| &self.synthetic[at])
    }

    /// Renders BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let threads = self.target_threads();
        let mut out = String::new();
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Measured on {} with `scripts/benchmarks.sh`, which builds in release mode and runs \
             `parallax report --threads {}`; run it again to reproduce every number here. Each \
             time is the median of {} rounds; sequential revm and the parallel engine are timed \
             in the same run, back to back and in an order that changes every round, so both \
             see the same machine and neither always runs second. Every parallel result was \
             checked equal to sequential revm before it was timed.\n",
            self.date,
            self.thread_counts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            self.rounds
        );
        self.write_machine(&mut out);
        self.write_targets(&mut out, threads);
        self.write_synthetic(&mut out);
        self.write_access_list(&mut out, threads);
        self.write_mainnet(&mut out, threads);
        if self.thread_counts.len() > 1 {
            self.write_scaling(&mut out);
        }
        slow_database::write(&mut out, &self.slow_database);
        resource_bounds::write(&mut out, &self.resource_bounds);
        if let Some(plot) = &self.plot {
            let _ = writeln!(
                out,
                "## Speedup against available parallelism\n\nEach point is a mainnet block on \
                 the forced parallel path at {threads} threads. No block can beat the line \
                 min({threads}, available parallelism).\n\n![speedup against available \
                 parallelism]({plot})\n"
            );
        }
        let _ = writeln!(
            out,
            "## Peak memory\n\nPeak resident memory of the whole measuring run (every mainnet \
             pre-state loaded, every synthetic block built and executed): {}.\n",
            self.peak_memory
                .map_or("not available on this platform".to_owned(), mebibytes)
        );
        if let Some(analysis) = &self.analysis {
            out += analysis.trim_end();
            out.push('\n');
        }
        out
    }

    fn write_machine(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Machine\n\n| CPUs | CPU model | thread counts measured |\n|---|---|---|\n| {} | {} | {} |\n",
            self.machine.cpus,
            self.machine.cpu_model,
            self.thread_counts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    fn write_targets(&self, out: &mut String, threads: usize) {
        let synthetic = self.synthetic_at(threads);
        let speedup = |name: &str| {
            synthetic
                .iter()
                .find(|r| r.workload == name)
                .map(|r| r.speedup)
        };
        let erc20_tps = synthetic
            .iter()
            .find(|r| r.workload == "erc20")
            .map(|r| r.tps);
        // (block, Auto speedup, whether Auto ran Block-STM, to the end or mixed)
        let auto: Vec<(u64, f64, bool)> = self
            .blocks
            .iter()
            .filter_map(|b| {
                b.run(threads)
                    .map(|run| (b.number, b.speedup(run.auto), run.auto_path != "sequential"))
            })
            .collect();
        let slowest_of = |parallel: Option<bool>| {
            auto.iter()
                .filter(|(_, _, path)| parallel.is_none_or(|p| p == *path))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(block, s, _)| (*block, *s))
        };
        let slowest = slowest_of(None);
        let below = |parallel: bool| {
            auto.iter()
                .filter(|(_, s, path)| *path == parallel && *s < 0.95)
                .count()
        };
        let efficiencies: Vec<f64> = self
            .blocks
            .iter()
            .filter(|b| b.txs > EFFICIENCY_MIN_TXS)
            .filter_map(|b| b.run(threads).map(|run| b.efficiency(run)))
            .collect();
        let mean_efficiency = mean(&efficiencies);

        let _ = writeln!(
            out,
            "## Targets at {threads} threads\n\n| target | measured | |\n|---|---|---|"
        );
        let mut row = |target: &str, measured: String, met: Option<bool>| {
            let verdict = match met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "not measured",
            };
            let _ = writeln!(out, "| {target} | {measured} | {verdict} |");
        };
        let report_of = |name: &str| synthetic.iter().find(|r| r.workload == name);
        let one_thread = self.synthetic_at(1);
        for (name, label, goal) in [
            ("raw_transfers", "independent raw transfers", 1.6),
            ("erc20", "independent ERC-20 transfers", 1.7),
            ("uniswap", "Uniswap-style swaps", 1.8),
        ] {
            let value = speedup(name);
            let ideal = report_of(name).map(|r| r.ideal_speedup);
            row(
                &format!("{label}: at least 0.9x the ideal split's speedup, and {goal:.1}x"),
                match (value, ideal) {
                    (Some(v), Some(i)) => format!(
                        "{v:.2}x against an ideal split of {i:.2}x ({:.0}% of it)",
                        100.0 * v / i
                    ),
                    _ => "-".into(),
                },
                value.zip(ideal).map(|(v, i)| v >= 0.9 * i && v >= goal),
            );
            if threads != 1 {
                let single = one_thread
                    .iter()
                    .find(|r| r.workload == name)
                    .map(|r| r.parallel_ms / r.sequential_ms);
                row(
                    &format!("{label}, 1 thread: parallel path at most 1.15x sequential's time"),
                    single.map_or("not measured (no 1-thread run)".into(), |r| {
                        format!("{r:.2}x")
                    }),
                    single.map(|r| r <= 1.15),
                );
            }
            let memory = report_of(name).and_then(|r| {
                r.sequential_peak_bytes
                    .zip(r.parallel_peak_bytes)
                    .map(|(s, p)| p as f64 / s as f64)
            });
            row(
                &format!("{label}: peak resident memory at most 1.5x sequential's"),
                memory.map_or("-".into(), |m| format!("{m:.2}x")),
                memory.map(|m| m <= 1.5),
            );
        }
        row(
            "ERC-20 transfers: over 100,000 per second",
            erc20_tps.map_or("-".into(), |v| format!("{v:.0} tx/s")),
            erc20_tps.map(|v| v > 100_000.0),
        );
        let slowest_auto = self
            .synthetic_auto
            .iter()
            .min_by(|a, b| a.speedup.total_cmp(&b.speedup));
        row(
            "every synthetic workload at least 0.95x under the default policy",
            slowest_auto.map_or("-".into(), |slowest| {
                let below: Vec<String> = self
                    .synthetic_auto
                    .iter()
                    .filter(|r| r.speedup < 0.95)
                    .map(|r| format!("{} {:.2}x", r.workload, r.speedup))
                    .collect();
                format!(
                    "slowest {} {:.2}x; below 0.95x: {}",
                    slowest.workload,
                    slowest.speedup,
                    if below.is_empty() {
                        "none".to_owned()
                    } else {
                        below.join(", ")
                    }
                )
            }),
            slowest_auto.map(|slowest| slowest.speedup >= 0.95),
        );
        row(
            "no mainnet block below 0.95x (Auto policy)",
            slowest.map_or("-".into(), |(block, s)| {
                format!(
                    "slowest {s:.2}x (block {block}). On the parallel path: {} below 0.95x{}. \
                     On the sequential path (the baseline's own code, so its ratios are \
                     measurement noise): {} below 0.95x",
                    below(true),
                    slowest_of(Some(true)).map_or(String::new(), |(b, s)| format!(
                        ", slowest {s:.2}x (block {b})"
                    )),
                    below(false)
                )
            }),
            slowest.map(|(_, s)| s >= 0.95),
        );
        let runs: Vec<_> = self
            .blocks
            .iter()
            .filter_map(|b| b.run(threads).map(|run| (b, run)))
            .collect();
        let forced_total = (!runs.is_empty()).then(|| {
            let sequential: f64 = runs.iter().map(|(b, _)| b.sequential.as_secs_f64()).sum();
            let forced: f64 = runs.iter().map(|(_, r)| r.forced.as_secs_f64()).sum();
            sequential / forced
        });
        row(
            "mainnet blocks, parallel path forced: total at least 1.4x",
            forced_total.map_or("-".into(), |t| {
                format!("{t:.2}x over {} blocks", runs.len())
            }),
            forced_total.map(|t| t >= 1.4),
        );
        row(
            &format!(
                "mean efficiency on blocks of more than {EFFICIENCY_MIN_TXS} txs: at least 75%"
            ),
            mean_efficiency.map_or("-".into(), |e| {
                format!("{:.0}% over {} blocks", e * 100.0, efficiencies.len())
            }),
            mean_efficiency.map(|e| e >= 0.75),
        );
        let _ = writeln!(
            out,
            "\nEfficiency is the forced-parallel speedup over min(threads, available \
             parallelism). The ideal split is the block cut into as many contiguous parts as \
             threads, each run by plain sequential revm on its own thread (what this machine \
             can do with the work). Peak memory is the resident high-water mark of a process \
             that ran one side alone on the block (`parallax bench --engine SIDE`), pre-state \
             and block included. Missed targets are explained under Analysis below.\n"
        );
    }

    /// The synthetic suite run from each block's access list, against the ideal split.
    fn write_access_list(&self, out: &mut String, threads: usize) {
        if self.synthetic_access_list.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "## From the block access list, {threads} threads\n\n\
             Each block run from the EIP-7928 access list the engine built from its own run of \
             it (`parallax bench --threads {threads} --access-list`): every transaction at once, \
             each checking its own entries, then the in-order pass (gas, validity, the list's \
             count of entries per index; *check ms*, part of the engine's time). *Build ms* is \
             building the list from the engine's outputs. *Of ideal* is the speedup over the \
             ideal split's in the same run; the targets are 0.95 of it on raw_transfers, erc20 \
             and uniswap, 0.8 on hot_100 and nonce_chain.\n\n\
             | workload | txs | sequential ms | from list ms | speedup | ideal speedup | of ideal \
             | target | build ms | check ms |\n\
             |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
        );
        for r in &self.synthetic_access_list {
            let of_ideal = r.speedup / r.ideal_speedup;
            let target = match r.workload.as_str() {
                "raw_transfers" | "erc20" | "uniswap" => Some(0.95),
                "hot_100" | "nonce_chain" => Some(0.8),
                _ => None,
            };
            let target = target.map_or("-".to_owned(), |target| {
                let met = if of_ideal >= target { "met" } else { "missed" };
                format!("{target} ({met})")
            });
            let ms = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.1}"));
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.1} | {:.2}x | {:.2}x | {:.2} | {target} | {} | {} |",
                r.workload,
                r.txs,
                r.sequential_ms,
                r.parallel_ms,
                r.speedup,
                r.ideal_speedup,
                of_ideal,
                ms(r.build_ms),
                ms(r.verify_ms),
            );
        }
        let _ = writeln!(out);
    }

    fn write_synthetic(&self, out: &mut String) {
        for (threads, reports) in self.thread_counts.iter().zip(&self.synthetic) {
            let auto = |name: &str| {
                (*threads == self.target_threads())
                    .then(|| self.synthetic_auto.iter().find(|r| r.workload == name))
                    .flatten()
            };
            let with_auto = reports.iter().any(|r| auto(&r.workload).is_some());
            let _ = writeln!(
                out,
                "## Synthetic blocks, {threads} threads\n\nAbout {:.1} gigagas each, parallel \
                 path forced (`parallax bench --threads {threads} --policy parallel`){}.\n\n| workload | txs | gas \
                 | sequential ms | parallel ms | speedup | ideal split ms | ideal speedup | tx/s | gas/s |{}\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|{}",
                self.synthetic_gas as f64 / 1e9,
                if with_auto {
                    "; *Auto* is the default policy, timed in a run of its own against \
                     sequential revm (`parallax bench --threads 2`); *mixed* means that it \
                     stopped speculating and ran the rest of the block in order from the \
                     transaction shown"
                } else {
                    ""
                },
                if with_auto {
                    " Auto path | Auto speedup |"
                } else {
                    ""
                },
                if with_auto { "---|--:|" } else { "" },
            );
            for r in reports {
                let auto_columns = auto(&r.workload).map_or(String::new(), |a| {
                    let path = match (a.path, a.in_order_from) {
                        (Some("mixed"), Some(from)) => format!("mixed from {from}"),
                        (path, _) => path.unwrap_or("-").to_owned(),
                    };
                    format!(" {path} | {:.2}x |", a.speedup)
                });
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.1} | {:.1} | {:.2}x | {:.1} | {:.2}x | {:.0} | {:.2} G |{auto_columns}",
                    r.workload,
                    r.txs,
                    r.gas,
                    r.sequential_ms,
                    r.parallel_ms,
                    r.speedup,
                    r.ideal_ms,
                    r.ideal_speedup,
                    r.tps,
                    r.gas_per_s / 1e9
                );
            }
            out.push('\n');
        }
    }

    fn write_mainnet(&self, out: &mut String, threads: usize) {
        let _ = writeln!(
            out,
            "## Mainnet blocks, {threads} threads\n\nEvery block of \
             `../shared/fixtures/mainnet/prestate`, transactions only. *Forced* always takes \
             the parallel path; *Auto* is the default policy, which runs very small blocks and \
             blocks dominated by one dependency chain sequentially. Available parallelism comes \
             from `parallax explain`.\n\n| block | txs | gas | available parallelism | \
             sequential ms | forced ms | forced speedup | efficiency | Auto path | Auto speedup |\n\
             |--:|--:|--:|--:|--:|--:|--:|--:|---|--:|"
        );
        let (mut sequential, mut forced, mut auto) = (0.0, 0.0, 0.0);
        for block in &self.blocks {
            let Some(run) = block.run(threads) else {
                continue;
            };
            sequential += block.sequential.as_secs_f64();
            forced += run.forced.as_secs_f64();
            auto += run.auto.as_secs_f64();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {:.3} | {:.3} | {:.2}x | {:.0}% | {} | {:.2}x |",
                block.number,
                block.txs,
                block.gas_used,
                block.bound,
                block.sequential.as_secs_f64() * 1e3,
                run.forced.as_secs_f64() * 1e3,
                block.speedup(run.forced),
                block.efficiency(run) * 100.0,
                run.auto_path,
                block.speedup(run.auto),
            );
        }
        if forced > 0.0 {
            let _ = writeln!(
                out,
                "\nAll blocks together: sequential {:.1} ms, forced {:.1} ms ({:.2}x), Auto \
                 {:.1} ms ({:.2}x).\n",
                sequential * 1e3,
                forced * 1e3,
                sequential / forced,
                auto * 1e3,
                sequential / auto
            );
        }
    }

    fn write_scaling(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Thread scaling\n\n| threads | mainnet total, forced | mainnet total, Auto | \
             mean efficiency (> {EFFICIENCY_MIN_TXS} txs) | {} |\n|--:|--:|--:|--:|{}",
            self.synthetic
                .first()
                .map(|reports| {
                    reports
                        .iter()
                        .map(|r| r.workload.as_str())
                        .collect::<Vec<_>>()
                        .join(" | ")
                })
                .unwrap_or_default(),
            "--:|".repeat(self.synthetic.first().map_or(0, Vec::len))
        );
        for (threads, reports) in self.thread_counts.iter().zip(&self.synthetic) {
            let runs: Vec<(&BlockMeasurement, &ThreadedRun)> = self
                .blocks
                .iter()
                .filter_map(|b| b.run(*threads).map(|run| (b, run)))
                .collect();
            let total = |pick: fn(&ThreadedRun) -> Duration| {
                let sequential: f64 = runs.iter().map(|(b, _)| b.sequential.as_secs_f64()).sum();
                let parallel: f64 = runs.iter().map(|(_, run)| pick(run).as_secs_f64()).sum();
                sequential / parallel
            };
            let efficiency = mean(
                &runs
                    .iter()
                    .filter(|(b, _)| b.txs > EFFICIENCY_MIN_TXS)
                    .map(|(b, run)| b.efficiency(run))
                    .collect::<Vec<_>>(),
            );
            let _ = writeln!(
                out,
                "| {threads} | {:.2}x | {:.2}x | {} | {} |",
                total(|run| run.forced),
                total(|run| run.auto),
                efficiency.map_or("-".into(), |e| format!("{:.0}%", e * 100.0)),
                reports
                    .iter()
                    .map(|r| format!("{:.2}x", r.speedup))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        out.push('\n');
    }

    /// The points of the speedup plot: (available parallelism, forced speedup) per block at
    /// `threads`.
    pub fn plot_points(&self, threads: usize) -> Vec<(f64, f64)> {
        self.blocks
            .iter()
            .filter_map(|b| b.run(threads).map(|run| (b.bound, b.speedup(run.forced))))
            .collect()
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() / 86_400) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    fn workload(name: &'static str, speedup: f64) -> WorkloadReport {
        WorkloadReport {
            workload: name.to_owned(),
            txs: 1000,
            gas: 1_000_000_000,
            threads: 2,
            policy: "parallel",
            path: Some("parallel"),
            in_order_from: None,
            executions: Some(1000),
            validations: Some(1000),
            sequential_ms: 100.0,
            parallel_ms: 100.0 / speedup,
            speedup,
            ideal_ms: 60.0,
            ideal_speedup: 100.0 / 60.0,
            tps: 1000.0 / (0.1 / speedup),
            gas_per_s: 1e10 * speedup,
            sequential_peak_bytes: None,
            parallel_peak_bytes: None,
            build_ms: None,
            verify_ms: None,
            db_latency_us: None,
            cold_reads: None,
            mean_read_us: None,
        }
    }

    fn report() -> Report {
        Report {
            machine: Machine {
                cpus: 2,
                cpu_model: "Test CPU".into(),
            },
            date: "2026-11-21".into(),
            rounds: 5,
            synthetic_gas: 1_000_000_000,
            thread_counts: vec![2],
            synthetic_auto: Vec::new(),
            synthetic_access_list: Vec::new(),
            slow_database: Vec::new(),
            resource_bounds: Vec::new(),
            synthetic: vec![vec![
                workload("raw_transfers", 0.9),
                workload("erc20", 1.85),
                workload("uniswap", 1.95),
            ]],
            blocks: vec![
                BlockMeasurement {
                    number: 100,
                    txs: 120,
                    gas_used: 15_000_000,
                    bound: 1.5,
                    sequential: ms(10),
                    runs: vec![ThreadedRun {
                        threads: 2,
                        forced: ms(8),
                        auto: ms(8),
                        auto_path: "parallel",
                    }],
                },
                BlockMeasurement {
                    number: 200,
                    txs: 10,
                    gas_used: 1_000_000,
                    bound: 4.0,
                    sequential: ms(1),
                    runs: vec![ThreadedRun {
                        threads: 2,
                        forced: ms(2),
                        auto: ms(1),
                        auto_path: "sequential",
                    }],
                },
            ],
            peak_memory: Some(512 * 1024 * 1024),
            plot: Some("benchmarks/plot.png".into()),
            analysis: Some("## Analysis\n\nWhy.\n".into()),
        }
    }

    #[test]
    fn efficiency_divides_by_the_achievable_bound() {
        let block = &report().blocks[0];
        // 1.25x against min(2 threads, 1.5).
        assert!((block.efficiency(&block.runs[0]) - 1.25 / 1.5).abs() < 1e-9);
    }

    #[test]
    fn markdown_judges_each_target() {
        let text = report().markdown();
        assert!(text.contains(
            "| independent raw transfers: at least 0.9x the ideal split's speedup, and 1.6x | \
             0.90x against an ideal split of 1.67x (54% of it) | **missed** |"
        ));
        assert!(text.contains(
            "| independent ERC-20 transfers: at least 0.9x the ideal split's speedup, and 1.7x | \
             1.85x against an ideal split of 1.67x (111% of it) | met |"
        ));
        assert!(text.contains(
            "| Uniswap-style swaps: at least 0.9x the ideal split's speedup, and 1.8x | 1.95x \
             against an ideal split of 1.67x (117% of it) | met |"
        ));
        assert!(text.contains(
            "| Uniswap-style swaps, 1 thread: parallel path at most 1.15x sequential's time | \
             not measured (no 1-thread run) | not measured |"
        ));
        assert!(text.contains(
            "| Uniswap-style swaps: peak resident memory at most 1.5x sequential's | - | not measured |"
        ));
        // (10 + 1) ms sequential over (8 + 2) ms forced.
        assert!(text.contains(
            "| mainnet blocks, parallel path forced: total at least 1.4x | 1.10x over 2 blocks | **missed** |"
        ));
        // Only block 100 has more than 50 transactions: 1.25 / 1.5 = 83%.
        assert!(text.contains("83% over 1 blocks | met |"), "{text}");
        assert!(
            text.contains(
                "slowest 1.00x (block 200). On the parallel path: 0 below 0.95x, slowest 1.25x \
                 (block 100). On the sequential path (the baseline's own code, so its ratios \
                 are measurement noise): 0 below 0.95x | met |"
            ),
            "{text}"
        );
        assert!(text.contains(
            "| 100 | 120 | 15000000 | 1.50 | 10.000 | 8.000 | 1.25x | 83% | parallel | 1.25x |"
        ));
        assert!(text.contains(
            "| 200 | 10 | 1000000 | 4.00 | 1.000 | 2.000 | 0.50x | 25% | sequential | 1.00x |"
        ));
        assert!(text.contains("Test CPU"));
        assert!(text.contains("512 MiB"));
        assert!(text.contains("![speedup against available parallelism](benchmarks/plot.png)"));
        assert!(text.trim_end().ends_with("Why."));
        assert!(
            !text.contains("Thread scaling"),
            "one thread count: no scaling table"
        );
    }

    /// Every table line starts at the margin and has as many cells as its table's header.
    fn assert_tables_well_formed(text: &str) {
        let mut columns = None;
        for (number, line) in text.lines().enumerate() {
            let cells = line.matches('|').count();
            if cells == 0 {
                columns = None;
                continue;
            }
            assert!(
                line.starts_with('|'),
                "line {number} of a table is indented: {line:?}"
            );
            let header = *columns.get_or_insert(cells);
            assert_eq!(
                cells, header,
                "line {number} has a different cell count: {line:?}"
            );
        }
    }

    #[test]
    fn every_section_writes_well_formed_tables() {
        let mut report = report();
        report.synthetic_access_list = report.synthetic[0]
            .iter()
            .cloned()
            .map(|mut run| {
                run.path = Some("access_list");
                run.build_ms = Some(40.0);
                run.verify_ms = Some(1.5);
                run
            })
            .collect();
        report.synthetic_auto = report.synthetic[0].clone();
        let text = report.markdown();
        assert!(text.contains("## From the block access list, 2 threads"));
        assert_tables_well_formed(&text);
    }

    #[test]
    fn several_thread_counts_get_a_scaling_table() {
        let mut report = report();
        report.thread_counts = vec![2, 4];
        report.synthetic.push(report.synthetic[0].clone());
        for block in &mut report.blocks {
            let mut run = block.runs[0];
            run.threads = 4;
            block.runs.push(run);
        }
        let text = report.markdown();
        assert!(text.contains("## Thread scaling"));
        assert!(text.contains("| 4 | "));
        assert_eq!(report.target_threads(), 2);
    }

    #[test]
    fn dates_are_civil() {
        let date = today();
        assert_eq!(date.len(), 10);
        assert!(date.as_str() >= "2024-01-01", "{date}");
    }
}
