//! The sparse trie, the state root and `eth_getProof` verification (see `src/trie.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parallax_fuzz::trie::{TrieCase, check};

fuzz_target!(|case: TrieCase| check(&case));
