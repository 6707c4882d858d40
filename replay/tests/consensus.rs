//! The Ethereum consensus test suites: every archive passes through the parallel executor at
//! 2 threads (handed whole blocks, and driven transaction by transaction as reth's engine
//! tree does) and at 1, and through stock sequential revm run by the same harness, with
//! skips under 2%. Under the parallel executor every block is also executed on stock revm
//! and must give the same result, so a test counts as failing on revm too only where revm
//! fails it in exactly the same way. And the harness itself fails when it should.

mod support;

use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_fixtures::fixture_or_skip;
use parallax_replay::{BlockchainTest, Executor, Verdict, for_each_fixture_file, run_test};
use serde_json::Value;
use std::{io::Write, num::NonZeroUsize, sync::Arc};
use support::parallax;

const ARCHIVES: [&str; 8] = [
    "legacytests-Constantinople-ValidBlocks.tar.zst",
    "ethereum-tests-v13.3-ValidBlocks.tar.zst",
    "ethereum-tests-TransitionTests.tar.zst",
    "eest-v5.4.0-blockchain_tests_nonstatic.tar.zst",
    "eest-bal-v5.7.0-osaka.tar.zst",
    "eest-bal-v5.7.0-amsterdam.tar.zst",
    "eest-snobal-devnet-5-amsterdam.tar.zst",
    BENCHMARK_ARCHIVE,
];

/// Gigagas blocks: run in the two parallel modes only (each executes every block on stock
/// revm too), which keeps CI's time in bounds.
const BENCHMARK_ARCHIVE: &str = "eest-benchmark-v0.0.7-osaka.tar.zst";

#[test]
fn every_suite_passes_in_parallel_and_sequentially() {
    let test = "every_suite_passes_in_parallel_and_sequentially";
    let Some(dir) = fixture_or_skip(test, "consensus") else {
        return;
    };
    let (mut total, mut skipped) = (0, 0);
    for archive in ARCHIVES {
        let path = dir.join(archive);
        let mut counts = Vec::new();
        let modes: &[&[&str]] = if archive == BENCHMARK_ARCHIVE {
            &[
                &["--threads", "2"],
                &["--threads", "2", "--drive", "streaming"],
            ]
        } else {
            &[
                &["--threads", "2"],
                &["--threads", "2", "--drive", "streaming"],
                &["--threads", "1"],
                &["--sequential"],
            ]
        };
        for mode in modes {
            let mut args = vec!["blockchain-test", "--json"];
            args.extend(mode.iter());
            args.push(path.to_str().unwrap());
            let run = parallax(&args);
            let summary: Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
            let failures: Vec<&str> = run
                .stdout
                .lines()
                .filter(|line| line.contains("\"result\":\"fail\""))
                .take(5)
                .collect();
            assert_eq!(summary["failed"], 0, "{archive} {mode:?}: {failures:#?}");
            assert_eq!(run.status, 0, "{archive} {mode:?}: {}", run.stderr);
            counts.push((
                summary["passed"].as_u64().unwrap(),
                summary["failed_on_revm_too"].as_u64().unwrap(),
                summary["skipped"].as_u64().unwrap(),
            ));
        }
        assert!(
            counts.windows(2).all(|w| w[0] == w[1]),
            "{archive}: modes disagree: {counts:?}"
        );
        let (passed, on_revm, skips) = counts[0];
        let _ = writeln!(
            std::io::stderr(),
            "{archive}: {passed} passed, {on_revm} fail identically on stock revm, {skips} skipped, 0 failed ({modes:?})"
        );
        total += passed + on_revm + skips;
        skipped += skips;
    }
    assert!(total > 38_000, "only {total} tests ran");
    assert!(
        skipped * 50 < total,
        "{skipped} of {total} tests skipped, 2% or more"
    );
}

/// One test from the v13.3 archive, as JSON, to tamper with.
fn sample_test(test: &str) -> Option<Value> {
    let path = fixture_or_skip(test, "consensus/ethereum-tests-v13.3-ValidBlocks.tar.zst")?;
    let mut found = None;
    for_each_fixture_file(&path, |source| {
        if let Some(value) = source.tests.get("medDemand_Cancun") {
            found = Some(value.clone());
        }
    })
    .unwrap();
    Some(found.expect("medDemand_Cancun is in the archive"))
}

fn verdict(value: Value) -> Verdict {
    let engine = ParallelExecutor::new(NonZeroUsize::new(2).unwrap())
        .unwrap()
        .with_policy(ExecutionPolicy::AlwaysParallel);
    let test: BlockchainTest = serde_json::from_value(value).unwrap();
    run_test(&test, &Executor::Parallel(Arc::new(engine)))
}

#[test]
fn harness_passes_the_untouched_test() {
    let Some(value) = sample_test("harness_passes_the_untouched_test") else {
        return;
    };
    assert_eq!(verdict(value), Verdict::Pass);
}

#[test]
fn harness_fails_a_wrong_post_state() {
    let Some(mut value) = sample_test("harness_fails_a_wrong_post_state") else {
        return;
    };
    let post = value["postState"].as_object_mut().unwrap();
    let account = post.values_mut().next().unwrap();
    account["nonce"] = Value::String("0x1234".into());
    assert!(matches!(verdict(value), Verdict::Fail(reason) if reason.contains("final state")));
}

#[test]
fn harness_fails_a_valid_block_that_should_be_rejected() {
    let Some(mut value) = sample_test("harness_fails_a_valid_block_that_should_be_rejected") else {
        return;
    };
    value["blocks"][3]["expectException"] =
        Value::String("TransactionException.INTRINSIC_GAS_TOO_LOW".into());
    assert!(matches!(verdict(value), Verdict::Fail(reason) if reason.contains("was accepted")));
}

#[test]
fn harness_fails_a_corrupted_block() {
    let Some(mut value) = sample_test("harness_fails_a_corrupted_block") else {
        return;
    };
    let rlp = value["blocks"][2]["rlp"].as_str().unwrap().to_owned();
    // Flip a byte inside the header's state root.
    let (head, tail) = rlp.split_at(200);
    let flipped = if tail.starts_with('0') { "1" } else { "0" };
    value["blocks"][2]["rlp"] = Value::String(format!("{head}{flipped}{}", &tail[1..]));
    assert!(matches!(verdict(value), Verdict::Fail(reason) if reason.contains("block 2")));
}
