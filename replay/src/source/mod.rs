//! Where recorded blocks come from: one module per recorded form (pre-state dumps,
//! `eth_getProof` answers, execution witnesses), fetching and recording from a node's RPC,
//! and discovering which form a path holds; and files of EIP-7928 access lists.
//!
//! Layered bottom-up: `load_error` ← `access_list_file`, `rpc_block` ← the forms `pre_state_dump`,
//! `proof_recording` and `execution_witness` ← `rpc_recorder` (which records in the
//! `proof_recording` form) and `discovery`.

pub(crate) mod access_list_file;
pub(crate) mod discovery;
pub(crate) mod execution_witness;
pub(crate) mod load_error;
pub(crate) mod pre_state_dump;
pub(crate) mod proof_recording;
pub(crate) mod rpc_block;
pub(crate) mod rpc_recorder;
