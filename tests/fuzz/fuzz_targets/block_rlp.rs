//! A block's RLP, decoded and imported on top of a fixed Cancun genesis.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| parallax_fuzz::consensus::check_block_rlp(data));
