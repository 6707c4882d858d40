//! A small block chosen by the fuzzer runs through sequential revm and through the engine
//! (forced parallel at 1, 2 and 4 threads, streamed, and from its access list); any
//! difference is a crash (see `src/differential.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parallax_fuzz::differential::{Scenario, check};

fuzz_target!(|scenario: Scenario| check(&scenario.build()));
