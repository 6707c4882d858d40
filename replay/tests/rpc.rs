//! `parallax replay --rpc`: blocks fetched from a node (here a local server answering from
//! recorded data, with no other network) are checked like recorded ones, and `--record`
//! writes them so that `parallax replay DIR` reads them back.

mod support;

use parallax_fixtures::fixture_or_skip;
use serde_json::Value;
use support::{parallax, read_json, recorded_node::RecordedNode, temp_dir};

#[test]
fn fetched_blocks_pass_and_record_for_replay() {
    let test = "fetched_blocks_pass_and_record_for_replay";
    let (Some(cancun), Some(dao)) = (
        fixture_or_skip(test, "mainnet/proofs/1-19426587.json.gz"),
        fixture_or_skip(test, "mainnet/proofs/1-1920000.json.gz"),
    ) else {
        return;
    };
    let node = RecordedNode::serve(&[read_json(&cancun), read_json(&dao)]);
    let record = temp_dir(test);
    for block in ["19426587", "1920000"] {
        let run = parallax(&[
            "replay",
            "--rpc",
            node.url(),
            "--blocks",
            block,
            "--record",
            record.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(run.status, 0, "block {block}: {}", run.stderr);
        let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(report["checks"]["state_root"], "ok", "{report}");
        assert_eq!(report["parallel_equals_sequential"], true, "{report}");
    }
    let replayed = parallax(&["replay", "--json", record.to_str().unwrap()]);
    assert_eq!(replayed.status, 0, "{}", replayed.stderr);
    assert_eq!(replayed.stdout.lines().count(), 2);
}

#[test]
fn bad_answer_from_the_node_is_unusable() {
    let test = "bad_answer_from_the_node_is_unusable";
    let Some(path) = fixture_or_skip(test, "mainnet/proofs/1-4370000.json.gz") else {
        return;
    };
    let mut recording = read_json(&path);
    for pair in recording["proofs"].as_array_mut().unwrap() {
        if pair[0]["block_no"] == 4_369_999 {
            pair[1]["balance"] = Value::String("0x7".into());
        }
    }
    let node = RecordedNode::serve(&[recording]);
    let run = parallax(&["replay", "--rpc", node.url(), "--blocks", "4370000"]);
    run.assert_fails_with(2, "does not hash to the parent's state root");
}

#[test]
fn unreachable_node_is_unusable() {
    let run = parallax(&["replay", "--rpc", "http://127.0.0.1:9", "--blocks", "1"]);
    run.assert_fails_with(2, "eth_chainId");
}
