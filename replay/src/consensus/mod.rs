//! The Ethereum consensus tests (BlockchainTests), run through the parallel executor.
//!
//! Layered bottom-up: the fixture format `blockchain_test` and its reader `fixture_files`;
//! `rejection`, `chain_spec` and `world_state` (the test chain's state and its
//! root); then one module per step of importing a block: `decode_block`, `header_rules`,
//! `access_list` (EIP-7928), `execute_block`, `beside_revm` (the executor under test against
//! stock revm, block by block), `check_results`, tied together by `import_block`; and
//! `run_test`, which imports a test's chain and compares the final state.

pub(crate) mod access_list;
pub(crate) mod beside_revm;
pub(crate) mod blockchain_test;
pub(crate) mod chain_spec;
pub(crate) mod check_results;
pub(crate) mod decode_block;
pub(crate) mod execute_block;
pub(crate) mod fixture_files;
pub(crate) mod header_rules;
pub(crate) mod import_block;
pub(crate) mod rejection;
pub(crate) mod run_test;
pub(crate) mod world_state;
