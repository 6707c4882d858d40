//! `parallax bench` and `parallax explain` end to end.

mod support;

use parallax_fixtures::fixture_or_skip;
use serde_json::Value;
use support::parallax;

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect()
}

#[test]
fn bench_reports_every_workload_as_json() {
    let run = parallax(&[
        "bench",
        "--json",
        "--threads",
        "2",
        "--gas",
        "3000000",
        "--rounds",
        "1",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    let names: Vec<&str> = reports
        .iter()
        .map(|r| r["workload"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "raw_transfers",
            "erc20",
            "uniswap",
            "hot_10",
            "hot_30",
            "hot_100",
            "nonce_chain",
            "one_recipient",
            "late_chain",
            "slow_first_writer",
            "alternating_hot"
        ]
    );
    for report in &reports {
        assert_eq!(report["threads"], 2);
        // The default policy, and the path it took on the checking run.
        assert_eq!(report["policy"], "auto", "{report}");
        let path = report["path"].as_str().unwrap();
        assert!(
            ["parallel", "sequential", "mixed"].contains(&path),
            "{report}"
        );
        assert_eq!(
            report["in_order_from"].is_null(),
            path != "mixed",
            "{report}"
        );
        assert!(report["executions"].as_u64().unwrap() >= report["txs"].as_u64().unwrap());
        assert!(report["validations"].is_u64(), "{report}");
        let txs = report["txs"].as_f64().unwrap();
        let gas = report["gas"].as_f64().unwrap();
        let (seq, par) = (
            report["sequential_ms"].as_f64().unwrap(),
            report["parallel_ms"].as_f64().unwrap(),
        );
        assert!(
            txs > 0.0 && gas > 1_000_000.0 && seq > 0.0 && par > 0.0,
            "{report}"
        );
        let speedup = report["speedup"].as_f64().unwrap();
        assert!(
            (speedup - seq / par).abs() < 0.01 * speedup + 0.002,
            "{report}"
        );
        let tps = report["tps"].as_f64().unwrap();
        assert!(
            (tps - txs / (par / 1e3)).abs() <= 0.01 * tps + 1.0,
            "{report}"
        );
        let gas_per_s = report["gas_per_s"].as_f64().unwrap();
        assert!(
            (gas_per_s - gas / (par / 1e3)).abs() <= 0.01 * gas_per_s,
            "{report}"
        );
        // The ideal split runs beside both sides, and both sides' peak memory is reported.
        let ideal = report["ideal_ms"].as_f64().unwrap();
        let ideal_speedup = report["ideal_speedup"].as_f64().unwrap();
        assert!(ideal > 0.0, "{report}");
        assert!(
            (ideal_speedup - seq / ideal).abs() < 0.01 * ideal_speedup + 0.002,
            "{report}"
        );
        for side in ["sequential_peak_bytes", "parallel_peak_bytes"] {
            assert!(report[side].as_u64().unwrap() > 1 << 20, "{report}");
        }
    }
}

#[test]
fn bench_runs_the_engine_from_each_blocks_access_list() {
    let run = parallax(&[
        "bench",
        "--json",
        "--threads",
        "2",
        "--gas",
        "3000000",
        "--rounds",
        "1",
        "--workload",
        "hot_100",
        "--workload",
        "nonce_chain",
        "--access-list",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert_eq!(report["path"], "access_list", "{report}");
        // One execution per transaction: no speculation, even on a chain.
        assert_eq!(report["executions"], report["txs"], "{report}");
        assert!(report["build_ms"].as_f64().unwrap() >= 0.0, "{report}");
        assert!(report["verify_ms"].as_f64().unwrap() >= 0.0, "{report}");
        assert!(report["speedup"].as_f64().unwrap() > 0.0, "{report}");
    }
    let without = parallax(&[
        "bench",
        "--json",
        "--gas",
        "3000000",
        "--rounds",
        "1",
        "--workload",
        "erc20",
    ]);
    assert!(
        !without.stdout.contains("build_ms"),
        "build_ms only with --access-list: {}",
        without.stdout
    );
}

#[test]
fn bench_reads_through_a_slow_database() {
    let run = parallax(&[
        "bench",
        "--json",
        "--threads",
        "4",
        "--gas",
        "2000000",
        "--rounds",
        "1",
        "--workload",
        "erc20",
        "--workload",
        "raw_transfers",
        "--db-latency",
        "100",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert_eq!(report["db_latency_us"], 100, "{report}");
        // Every account and slot the block touches, each fetched once.
        let cold_reads = report["cold_reads"].as_u64().unwrap();
        let txs = report["txs"].as_u64().unwrap();
        assert!(cold_reads >= 2 * txs, "{report}");
        // What a cold read took: the latency asked for, on average (the sleep is calibrated).
        let mean = report["mean_read_us"].as_f64().unwrap();
        assert!((90.0..400.0).contains(&mean), "{report}");
        // Sequential revm waits for every cold read in turn.
        let sequential_ms = report["sequential_ms"].as_f64().unwrap();
        assert!(sequential_ms >= cold_reads as f64 * 0.09, "{report}");
        // Under a slow database the default policy keeps even cheap transfers parallel.
        assert_eq!(report["path"], "parallel", "{report}");
        assert_eq!(report["threads"], 4, "{report}");
    }
    let without = parallax(&[
        "bench",
        "--json",
        "--gas",
        "2000000",
        "--rounds",
        "1",
        "--workload",
        "erc20",
    ]);
    assert!(
        !without.stdout.contains("db_latency_us"),
        "{}",
        without.stdout
    );
    let with_drive = parallax(&["bench", "--db-latency", "50", "--drive", "block"]);
    assert_eq!(
        with_drive.status, 2,
        "--db-latency times the engine, not the adapter"
    );
}

#[test]
fn bench_runs_a_resource_workload_by_name() {
    let run = parallax(&[
        "bench",
        "--json",
        "--threads",
        "2",
        "--gas",
        "10000000",
        "--rounds",
        "1",
        "--policy",
        "parallel",
        "--workload",
        "many_slots",
        "--workload",
        "one_full_tx",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 2);
    // A hundredth of a million slots, at 1,000 a transaction.
    assert_eq!(reports[0]["workload"], "many_slots");
    assert_eq!(reports[0]["txs"], 10);
    // One transaction that uses all of its 10M gas.
    assert_eq!(reports[1]["workload"], "one_full_tx");
    assert_eq!(reports[1]["txs"], 1);
    assert_eq!(reports[1]["gas"], 10_000_000);
}

#[test]
fn bench_runs_one_side_alone() {
    for (side, timed, absent) in [
        ("sequential", "sequential_ms", "parallel_ms"),
        ("parallel", "parallel_ms", "sequential_ms"),
    ] {
        let run = parallax(&[
            "bench",
            "--json",
            "--threads",
            "2",
            "--gas",
            "3000000",
            "--rounds",
            "1",
            "--workload",
            "erc20",
            "--engine",
            side,
        ]);
        assert_eq!(run.status, 0, "{}", run.stderr);
        let reports = json_lines(&run.stdout);
        assert_eq!(reports.len(), 1);
        let report = &reports[0];
        assert!(report[timed].as_f64().unwrap() > 0.0, "{report}");
        assert!(report[absent].is_null(), "{report}");
        assert!(report["ideal_ms"].is_null(), "{report}");
        assert!(report["speedup"].is_null(), "{report}");
    }
}

#[test]
fn bench_times_recorded_blocks() {
    let Some(block) = fixture_or_skip("bench_times_recorded_blocks", "mainnet/prestate/14029313")
    else {
        return;
    };
    let run = parallax(&[
        "bench",
        "--json",
        "--threads",
        "2",
        "--rounds",
        "1",
        block.to_str().unwrap(),
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report["workload"], "block 14029313");
    assert!(report["txs"].as_u64().unwrap() > 100, "{report}");
    assert!(report["speedup"].as_f64().unwrap() > 0.0, "{report}");

    let missing = parallax(&["bench", "/nonexistent/block"]);
    assert_eq!(missing.status, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("/nonexistent/block"),
        "{}",
        missing.stderr
    );
}

#[test]
fn bench_drives_the_adapter_both_ways() {
    let run = parallax(&[
        "bench",
        "--json",
        "--threads",
        "2",
        "--gas",
        "5000000",
        "--rounds",
        "1",
        "--policy",
        "parallel",
        "--drive",
        "streaming",
        "--workload",
        "erc20",
        "--workload",
        "nonce_chain",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert_eq!(report["drive"], "streaming", "{report}");
        assert_eq!(report["policy"], "parallel", "{report}");
        for field in [
            "stock_ms",
            "parallax_ms",
            "speedup",
            "block_speedup",
            "kept",
        ] {
            assert!(report[field].as_f64().unwrap() > 0.0, "{field}: {report}");
        }
        assert!(
            report["stock_first_receipt_ms"].as_f64().is_some(),
            "{report}"
        );
        assert!(
            report["parallax_first_receipt_ms"].as_f64().is_some(),
            "{report}"
        );
        // Forced parallel: every streamed result comes from the engine's run.
        assert_eq!(report["from_workers"], report["txs"], "{report}");
        assert_eq!(report["prewarm_threads"], 0, "{report}");
    }

    let block = parallax(&[
        "bench",
        "--gas",
        "3000000",
        "--rounds",
        "1",
        "--drive",
        "block",
        "--workload",
        "uniswap",
    ]);
    assert_eq!(block.status, 0, "{}", block.stderr);
    assert!(block.stdout.contains("uniswap"), "{}", block.stdout);
    assert!(block.stdout.contains("driven block"), "{}", block.stdout);
    let prewarmed = parallax(&[
        "bench",
        "--json",
        "--gas",
        "3000000",
        "--rounds",
        "1",
        "--drive",
        "streaming",
        "--prewarm",
        "1",
        "--workload",
        "erc20",
    ]);
    assert_eq!(prewarmed.status, 0, "{}", prewarmed.stderr);
    assert_eq!(json_lines(&prewarmed.stdout)[0]["prewarm_threads"], 1);
    let unusable = parallax(&["bench", "--prewarm", "1"]);
    assert_eq!(unusable.status, 2, "--prewarm needs --drive");
}

#[test]
fn bench_prints_a_table_and_takes_one_workload() {
    let run = parallax(&[
        "bench",
        "--gas",
        "2000000",
        "--rounds",
        "1",
        "--workload",
        "uniswap",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("speedup"), "{}", run.stdout);
    assert!(run.stdout.contains("uniswap"), "{}", run.stdout);
    assert!(!run.stdout.contains("erc20"), "{}", run.stdout);
    let unknown = parallax(&["bench", "--workload", "nope"]);
    assert_eq!(unknown.status, 2, "clap rejects an unknown workload");
}

#[test]
fn explain_finds_the_chain_and_not_the_busy_recipient() {
    // Block 15274915 sends 997 of its 1226 transactions to one address without code: those
    // payments commute and must not show as a chain. 77 transactions through another
    // account do form one.
    let Some(block) = fixture_or_skip(
        "explain_finds_the_chain_and_not_the_busy_recipient",
        "mainnet/prestate/15274915",
    ) else {
        return;
    };
    let run = parallax(&["explain", "--json", "--top", "3", block.to_str().unwrap()]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report["block"], 15274915);
    assert_eq!(report["txs"], 1226);
    let gas = report["gas_used"].as_u64().unwrap();
    let path_gas = report["critical_path"]["gas"].as_u64().unwrap();
    let bound = report["available_parallelism"].as_f64().unwrap();
    assert!((bound - gas as f64 / path_gas as f64).abs() < 0.01);
    assert!(
        bound > 10.0,
        "payments to one recipient do not serialize: {bound}"
    );
    let path = report["critical_path"]["txs"].as_array().unwrap();
    assert!(path.windows(2).all(|w| w[0].as_u64() < w[1].as_u64()));
    let hot = report["hot_locations"].as_array().unwrap();
    assert_eq!(hot.len(), 3);
    let hottest = &hot[0];
    assert_eq!(
        hottest["address"].as_str().unwrap().to_lowercase(),
        "0x7758e507850da48cd47df1fb5f875c23e3340c50"
    );
    assert_eq!(hottest["kind"], "balance_nonce");
    assert_eq!(hottest["on_critical_path"], true);
    assert!(hottest["dependent_readers"].as_u64().unwrap() >= 70);
    assert!(hot.iter().all(|h| {
        h["address"].as_str().unwrap().to_lowercase()
            != "0x6262998ced04146fa42253a5c0af90ca02dfd2a3"
    }));
}

#[test]
fn explain_reads_every_recorded_form() {
    let Some(dir) = fixture_or_skip("explain_reads_every_recorded_form", "mainnet") else {
        return;
    };
    let run = parallax(&["explain", "--json", "--threads", "2", dir.to_str().unwrap()]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let reports = json_lines(&run.stdout);
    assert_eq!(reports.len(), 65, "54 dumps, 9 proofs and 2 witnesses");
    for report in &reports {
        let bound = report["available_parallelism"].as_f64().unwrap();
        assert!(bound >= 1.0 || report["txs"] == 0, "{report}");
        // What the default policy does with the block on 2 threads, and why.
        let policy = &report["default_policy"];
        assert_eq!(policy["threads"], 2, "{report}");
        let plan = policy["plan"].as_str().unwrap();
        let path = policy["path"].as_str().unwrap();
        assert_eq!(
            plan.starts_with("sequential"),
            path == "sequential",
            "{report}"
        );
    }
}

#[test]
fn explain_rejects_a_missing_path() {
    let run = parallax(&["explain", "/no/such/block"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("/no/such/block"), "{}", run.stderr);
}
