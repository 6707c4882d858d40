//! The pre-state dump importer: `block.json.gz`, `pre_state.json.gz`, `bytecodes.json.gz`
//! and `block_hashes.json`, given as one input with the four files separated by NUL bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parallax_fuzz::{scratch, touch};
use parallax_replay::{PrestateShared, load_prestate_block};

fuzz_target!(|data: &[u8]| {
    let [block, pre_state, codes, hashes] = scratch::parts::<4>(data);
    std::fs::create_dir_all(scratch::dir().join("1")).expect("scratch directory");
    scratch::write("1/block.json.gz", block);
    scratch::write("1/pre_state.json.gz", pre_state);
    scratch::write("bytecodes.json.gz", codes);
    scratch::write("block_hashes.json", hashes);
    let shared = PrestateShared::load(scratch::dir()).unwrap_or_default();
    let loaded = load_prestate_block(&scratch::dir().join("1"), &shared);
    parallax_fuzz::debug(|| format!("{:?}", loaded.as_ref().map(|b| b.transactions.len())));
    if let Ok(block) = loaded {
        touch(&block);
    }
});
