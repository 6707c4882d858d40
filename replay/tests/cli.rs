//! `parallax replay` end to end: every fixture block passes, each check fails when it
//! should (exit 1), and unusable input is rejected with a clear message (exit 2).

mod support;

use alloy_primitives::Address;
use parallax_fixtures::fixture_or_skip;
use serde_json::Value;
use std::path::PathBuf;
use support::{parallax, read_json, temp_dir, write_json};

const BYZANTIUM: &str = "mainnet/proofs/1-4370000.json.gz";
const MERGE: &str = "mainnet/proofs/1-15537394.json.gz";

fn fixture(test: &str, relative: &str) -> Option<PathBuf> {
    fixture_or_skip(test, relative)
}

/// The recorded block N (the highest) in a proofs recording.
fn target_block(recording: &mut Value) -> &mut Value {
    let blocks = recording["full_blocks"].as_array_mut().unwrap();
    let at = (0..blocks.len())
        .max_by_key(|&i| blocks[i][0]["block_no"].as_u64().unwrap())
        .unwrap();
    &mut blocks[at][1]
}

fn tampered(test: &str, relative: &str, tamper: impl FnOnce(&mut Value)) -> Option<PathBuf> {
    let source = fixture(test, relative)?;
    let mut recording = read_json(&source);
    tamper(&mut recording);
    let path = temp_dir(test).join("tampered.json");
    write_json(&path, &recording);
    Some(path)
}

/// The first parent-block proof with at least one storage slot.
fn parent_proof_with_storage(recording: &mut Value) -> &mut Value {
    let number = target_block(recording)["number"]
        .as_str()
        .map(|n| u64::from_str_radix(&n[2..], 16).unwrap())
        .unwrap();
    recording["proofs"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|pair| {
            pair[0]["block_no"].as_u64() == Some(number - 1)
                && !pair[1]["storageProof"].as_array().unwrap().is_empty()
        })
        .map(|pair| &mut pair[1])
        .expect("a proof with storage")
}

#[test]
fn every_fixture_block_passes() {
    let Some(dir) = fixture("every_fixture_block_passes", "mainnet") else {
        return;
    };
    let run = parallax(&["replay", "--json", "--threads", "2", dir.to_str().unwrap()]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let reports: Vec<Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(reports.len(), 65);
    for report in &reports {
        assert_eq!(report["parallel_equals_sequential"], true, "{report}");
        let source = report["source"].as_str().unwrap();
        for (check, result) in report["checks"].as_object().unwrap() {
            assert_ne!(result, "mismatch", "{check}: {report}");
            if check == "state_root" && source != "prestate" {
                assert_eq!(
                    result, "ok",
                    "state root must be checked on {source} blocks: {report}"
                );
            }
        }
    }
}

#[test]
fn dropped_transaction_fails_the_transactions_root() {
    let test = "dropped_transaction";
    let Some(path) = tampered(test, BYZANTIUM, |recording| {
        target_block(recording)["transactions"]
            .as_array_mut()
            .unwrap()
            .remove(10);
    }) else {
        return;
    };
    let run = parallax(&["replay", path.to_str().unwrap()]);
    run.assert_fails_with(1, "block 4370000: transactions_root mismatch");
}

#[test]
fn wrong_coinbase_fails_the_state_root_naming_the_account() {
    let test = "wrong_coinbase";
    let mut wrong = Address::ZERO;
    let Some(path) = tampered(test, MERGE, |recording| {
        let block = target_block(recording);
        wrong = serde_json::from_value(block["transactions"][0]["from"].clone()).unwrap();
        block["miner"] = serde_json::to_value(wrong).unwrap();
        // Keep the header self-consistent, so only execution can notice.
        let header: alloy_rpc_types_eth::Header = serde_json::from_value(block.clone()).unwrap();
        block["hash"] = serde_json::to_value(header.inner.hash_slow()).unwrap();
    }) else {
        return;
    };
    let run = parallax(&["replay", path.to_str().unwrap()]);
    run.assert_fails_with(1, "block 15537394: state_root mismatch");
    assert!(
        run.stderr.contains("first difference: account"),
        "{}",
        run.stderr
    );
}

#[test]
fn tampered_storage_value_in_a_proof_is_rejected() {
    let test = "tampered_storage_proof";
    let mut account = String::new();
    let Some(path) = tampered(test, BYZANTIUM, |recording| {
        let proof = parent_proof_with_storage(recording);
        account = proof["address"].as_str().unwrap().to_lowercase();
        proof["storageProof"][0]["value"] = Value::String("0x1234".into());
    }) else {
        return;
    };
    let run = parallax(&["replay", path.to_str().unwrap()]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.to_lowercase().contains(&account),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("does not hash to the parent's state root"),
        "{}",
        run.stderr
    );
}

#[test]
fn tampered_storage_values_in_a_dump_fail_the_checks() {
    let test = "tampered_storage_dump";
    let Some(source) = fixture(test, "mainnet/prestate/19934116") else {
        return;
    };
    let shared = source.parent().unwrap();
    let dir = temp_dir(test);
    let block_dir = dir.join("19934116");
    std::fs::create_dir_all(&block_dir).unwrap();
    for file in ["bytecodes.json.gz", "block_hashes.json"] {
        std::fs::copy(shared.join(file), dir.join(file)).unwrap();
    }
    std::fs::copy(
        source.join("block.json.gz"),
        block_dir.join("block.json.gz"),
    )
    .unwrap();
    let mut state = read_json(&source.join("pre_state.json.gz"));
    // Zero the storage of the contract with the most recorded slots (a busy token).
    let busiest = state
        .as_object()
        .unwrap()
        .iter()
        .max_by_key(|(_, account)| account["storage"].as_object().map_or(0, |s| s.len()))
        .map(|(address, _)| address.clone())
        .unwrap();
    for value in state[&busiest]["storage"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        *value = Value::String("0x0".into());
    }
    write_json(&block_dir.join("pre_state.json.gz"), &state);
    let run = parallax(&["replay", dir.to_str().unwrap()]);
    run.assert_fails_with(1, "block 19934116:");
    assert!(run.stderr.contains("mismatch"), "{}", run.stderr);
}

#[test]
fn proof_that_does_not_hash_to_the_parent_root_is_unusable() {
    let test = "bad_account_proof";
    let Some(path) = tampered(test, BYZANTIUM, |recording| {
        parent_proof_with_storage(recording)["balance"] = Value::String("0x1".into());
    }) else {
        return;
    };
    let run = parallax(&["replay", path.to_str().unwrap()]);
    run.assert_fails_with(2, "does not hash to the parent's state root");
}

#[test]
fn code_hash_without_code_is_unusable() {
    let test = "missing_code";
    let Some(path) = tampered(test, BYZANTIUM, |recording| {
        recording["code"] = Value::Array(Vec::new());
    }) else {
        return;
    };
    let run = parallax(&["replay", path.to_str().unwrap()]);
    run.assert_fails_with(2, "no code is recorded");
}

#[test]
fn missing_file_is_unusable() {
    let run = parallax(&["replay", "/nonexistent/block.json"]);
    run.assert_fails_with(2, "/nonexistent/block.json");
}

#[test]
fn malformed_json_is_unusable() {
    let path = temp_dir("malformed").join("block.json");
    std::fs::write(&path, "{\"full_blocks\": [").unwrap();
    let run = parallax(&["replay", path.to_str().unwrap()]);
    run.assert_fails_with(2, "malformed JSON");
}

#[test]
fn unrecognised_json_is_unusable() {
    let path = temp_dir("unrecognised").join("block.json");
    std::fs::write(&path, "{\"hello\": 1}").unwrap();
    let run = parallax(&["replay", path.to_str().unwrap()]);
    run.assert_fails_with(2, "not a recognised block recording");
}

#[test]
fn help_lists_the_commands() {
    let run = parallax(&["--help"]);
    assert_eq!(run.status, 0);
    for command in ["replay", "blockchain-test", "bench", "explain"] {
        assert!(
            run.stdout.contains(command),
            "{command} missing from\n{}",
            run.stdout
        );
    }
    for command in ["replay", "blockchain-test", "bench", "explain"] {
        let help = parallax(&[command, "--help"]);
        assert_eq!(help.status, 0);
        assert!(
            help.stdout.contains("--json"),
            "{command} --help lacks --json"
        );
        assert!(
            help.stdout.contains("--threads"),
            "{command} --help lacks --threads"
        );
    }
}
