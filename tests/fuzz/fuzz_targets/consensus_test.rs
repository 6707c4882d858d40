//! Consensus-test documents (BlockchainTest JSON) imported through the engine and stock revm.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| parallax_fuzz::consensus::check_document(data));
