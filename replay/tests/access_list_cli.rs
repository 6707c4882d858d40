//! EIP-7928 access lists on the command line: `parallax explain --access-list` builds the list
//! of any recorded block, `parallax replay --access-list FILE` runs blocks from such a file,
//! and a list that is malformed or not the block's fails the block (exit 1) while a file
//! that cannot be used is unusable input (exit 2).

mod support;

use parallax_fixtures::fixture_or_skip;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use support::{Run, parallax, temp_dir};

/// Cancun: the block runs with every transaction at once from the list.
const CANCUN: &str = "mainnet/witness/22188088.json.gz";
/// Homestead (before EIP-6780): the block runs the usual way and the list is checked.
const HOMESTEAD: &str = "mainnet/prestate/1150000";

/// The list `explain --access-list --json` builds for the block at `block`.
fn built_list(block: &Path) -> Value {
    let run = parallax(&[
        "explain",
        "--access-list",
        "--json",
        "--threads",
        "2",
        block.to_str().unwrap(),
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    serde_json::from_str(lines[0]).expect("the list is JSON")
}

/// Replays `block` from `record` written to a file.
fn replay_from(test: &str, block: &Path, record: &Value) -> Run {
    let path = temp_dir(test).join("list.json");
    std::fs::write(&path, record.to_string()).unwrap();
    replay_from_file(block, &path)
}

fn replay_from_file(block: &Path, list: &Path) -> Run {
    parallax(&[
        "replay",
        "--json",
        "--threads",
        "2",
        "--access-list",
        list.to_str().unwrap(),
        block.to_str().unwrap(),
    ])
}

/// `record` with `tamper` applied to its list, the hash dropped (it would no longer match).
fn tampered(record: &Value, tamper: impl FnOnce(&mut Vec<Value>)) -> Value {
    let mut record = record.clone();
    record
        .as_object_mut()
        .unwrap()
        .remove("blockAccessListHash");
    tamper(record["blockAccessList"].as_array_mut().unwrap());
    record
}

/// A change to a list's accounts.
type Tamper = dyn FnOnce(&mut Vec<Value>);

fn fixture(test: &str, relative: &str) -> Option<(PathBuf, Value)> {
    let block = fixture_or_skip(test, relative)?;
    let record = built_list(&block);
    Some((block, record))
}

#[test]
fn a_built_list_runs_its_block_and_every_check_passes() {
    for relative in [CANCUN, HOMESTEAD] {
        let Some((block, record)) = fixture("a_built_list_runs_its_block", relative) else {
            return;
        };
        assert!(
            record["blockAccessListHash"].as_str().unwrap().len() == 66,
            "{record}"
        );
        let accounts = record["blockAccessList"].as_array().unwrap();
        assert!(!accounts.is_empty());
        for field in [
            "address",
            "storageChanges",
            "storageReads",
            "balanceChanges",
            "nonceChanges",
            "codeChanges",
        ] {
            assert!(accounts[0].get(field).is_some(), "{field}: {}", accounts[0]);
        }
        let run = replay_from("a_built_list_runs_its_block", &block, &record);
        assert_eq!(run.status, 0, "{}", run.stderr);
        let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(report["from_access_list"], true, "{report}");
        assert_eq!(report["parallel_equals_sequential"], true, "{report}");
        // Before Amsterdam the header commits to no list.
        assert_eq!(report["checks"]["block_access_list"], "skipped", "{report}");
        for (check, result) in report["checks"].as_object().unwrap() {
            assert_ne!(result, "mismatch", "{check}: {report}");
        }
    }
}

#[test]
fn a_wrong_value_fails_the_block_at_its_index() {
    for relative in [CANCUN, HOMESTEAD] {
        let Some((block, record)) = fixture("a_wrong_value_fails_the_block", relative) else {
            return;
        };
        let mut changed = None;
        let wrong = tampered(&record, |accounts| {
            let account = accounts
                .iter_mut()
                .find(|account| !account["balanceChanges"].as_array().unwrap().is_empty())
                .expect("an account whose balance changes");
            changed = Some(account["address"].as_str().unwrap().to_owned());
            account["balanceChanges"][0]["value"] = json!("0x1");
        });
        let run = replay_from("a_wrong_value_fails_the_block", &block, &wrong);
        assert_eq!(run.status, 1, "{}", run.stderr);
        let stderr = run.stderr.to_lowercase();
        assert!(
            stderr.contains(&changed.unwrap().to_lowercase()),
            "{}",
            run.stderr
        );
        assert!(stderr.contains("balance"), "{}", run.stderr);
    }
}

#[test]
fn a_malformed_list_fails_the_block_naming_account_and_index() {
    let Some((block, record)) = fixture("a_malformed_list_fails_the_block", CANCUN) else {
        return;
    };
    let cases: [(&str, Box<Tamper>); 4] = [
        (
            "violating canonical order",
            Box::new(|accounts| accounts.swap(0, 1)),
        ),
        (
            "occurs more than once",
            Box::new(|accounts| {
                let first = accounts[0].clone();
                accounts.insert(1, first);
            }),
        ),
        (
            "exceeds the block maximum 29",
            Box::new(|accounts| {
                let account = accounts
                    .iter_mut()
                    .find(|account| !account["balanceChanges"].as_array().unwrap().is_empty())
                    .unwrap();
                let changes = account["balanceChanges"].as_array_mut().unwrap();
                changes.last_mut().unwrap()["index"] = json!("0x28");
            }),
        ),
        (
            "only delivered: [0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF]",
            Box::new(|accounts| {
                accounts.push(json!({
                    "address": "0xffffffffffffffffffffffffffffffffffffffff",
                    "storageChanges": [], "storageReads": [], "balanceChanges": [],
                    "nonceChanges": [], "codeChanges": []
                }))
            }),
        ),
    ];
    for (expected, tamper) in cases {
        let run = replay_from(
            "a_malformed_list_fails_the_block",
            &block,
            &tampered(&record, tamper),
        );
        run.assert_fails_with(1, expected);
        assert!(run.stderr.contains("block 22188088"), "{}", run.stderr);
    }
}

#[test]
fn an_unusable_list_file_is_unusable_input() {
    let Some((block, record)) = fixture("an_unusable_list_file", CANCUN) else {
        return;
    };
    let dir = temp_dir("an_unusable_list_file");
    let truncated = dir.join("truncated.json");
    std::fs::write(&truncated, &record.to_string()[..500]).unwrap();
    replay_from_file(&block, &truncated).assert_fails_with(2, "malformed JSON");

    let mut wrong_hash = record.clone();
    wrong_hash["blockAccessListHash"] = json!(format!("0x{}", "11".repeat(32)));
    replay_from("an_unusable_list_file", &block, &wrong_hash)
        .assert_fails_with(2, "the file says 0x1111");

    let mut other_block = record;
    other_block["block"] = json!(1);
    replay_from("an_unusable_list_file", &block, &other_block)
        .assert_fails_with(2, "holds no access list for block 22188088");

    replay_from_file(&block, &dir.join("missing.json")).assert_fails_with(2, "missing.json");
}
