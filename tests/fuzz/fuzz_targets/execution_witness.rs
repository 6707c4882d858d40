//! The execution witness importer (`debug_executionWitness` with the block and ancestors).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parallax_fuzz::{scratch, touch};
use parallax_replay::load_witness_file;

fuzz_target!(|data: &[u8]| {
    let path = scratch::write("witness.json", data);
    let loaded = load_witness_file(&path);
    parallax_fuzz::debug(|| format!("{:?}", loaded.as_ref().map(|b| b.transactions.len())));
    if let Ok(block) = loaded {
        touch(&block);
    }
});
