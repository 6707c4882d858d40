//! The `eth_getProof` recording importer: a `RecordedRpc` JSON document, every pre-state
//! proof checked against the parent's state root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parallax_fuzz::touch;
use parallax_replay::{RecordedRpc, from_recording};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(recording) = serde_json::from_slice::<RecordedRpc>(data) else {
        return;
    };
    let loaded = from_recording(recording, Path::new("fuzz-input.json"));
    parallax_fuzz::debug(|| format!("{:?}", loaded.as_ref().map(|b| b.transactions.len())));
    if let Ok(block) = loaded {
        touch(&block);
    }
});
