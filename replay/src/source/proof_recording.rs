//! Recorded JSON-RPC answers for a block: full blocks at N-1 and N (and ancestors),
//! `eth_getProof` at N-1 (the pre-state of every touched account and slot) and at N (the
//! post-state, whose nodes supply the siblings a deletion exposes), and `eth_getCode`.

use super::{
    load_error::{LoadError, read_json},
    rpc_block::block_from_rpc,
};
use crate::{
    recorded_block::{ReplayBlock, SourceKind},
    state::{pre_state::PreState, trie_db::TrieDb},
    trie::{
        account_leaf::trie_account, node_store::TrieNodes, post_state_root::RecordedAccount,
        proof_verification::verify_proof_against,
    },
};
use alloy_primitives::{Address, Bytes, U256, keccak256, map::HashMap};
use alloy_rpc_types_eth::{Block, EIP1186AccountProofResponse};
use revm::bytecode::Bytecode;
use serde::{Deserialize, Serialize};
use std::{path::Path, sync::Arc};

/// The query half of a recorded `[query, answer]` pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Query {
    /// The block the query was made at.
    pub block_no: u64,
    /// The account queried, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Storage keys of an `eth_getProof` query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indices: Option<Vec<U256>>,
}

/// A recording of the RPC answers needed to replay one block.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecordedRpc {
    /// `eth_getBlockByNumber(n, true)` answers.
    pub full_blocks: Vec<(Query, Block)>,
    /// Ommer headers, as `eth_getUncleByBlockNumberAndIndex` answers.
    #[serde(default)]
    pub uncle_blocks: Vec<(Query, Block)>,
    /// `eth_getProof` answers.
    pub proofs: Vec<(Query, EIP1186AccountProofResponse)>,
    /// `eth_getCode` answers.
    #[serde(default)]
    pub code: Vec<(Query, Bytes)>,
}

impl RecordedRpc {
    /// Whether a JSON value looks like such a recording.
    pub fn matches(value: &serde_json::Value) -> bool {
        value.get("full_blocks").is_some() && value.get("proofs").is_some()
    }
}

/// Loads a recording (`1-<N>.json.gz`) of block N.
pub fn load_proof_file(path: &Path) -> Result<ReplayBlock, LoadError> {
    let recording: RecordedRpc = read_json(path)?;
    from_recording(recording, path)
}

/// Turns a recording into a block with a pre-state read through its proofs, after checking
/// that every N-1 proof hashes to the parent's state root.
pub fn from_recording(recording: RecordedRpc, path: &Path) -> Result<ReplayBlock, LoadError> {
    let number = recording
        .full_blocks
        .iter()
        .map(|(query, _)| query.block_no)
        .max()
        .ok_or_else(|| LoadError::invalid(path, "no blocks are recorded"))?;
    let parent_number = number.checked_sub(1).ok_or_else(|| {
        LoadError::invalid(path, "the genesis block has no parent to replay from")
    })?;
    let find_block = |n: u64| {
        recording
            .full_blocks
            .iter()
            .find(|(query, _)| query.block_no == n)
            .map(|(_, block)| block.clone())
            .ok_or_else(|| LoadError::invalid(path, format!("block {n} is not recorded")))
    };
    let block = block_from_rpc(find_block(number)?, path)?;
    let parent = block_from_rpc(find_block(parent_number)?, path)?;
    if block.header.parent_hash != parent.hash {
        return Err(LoadError::invalid(
            path,
            format!("block {number} does not follow the recorded block {parent_number}"),
        ));
    }

    let mut nodes = TrieNodes::default();
    for (_, proof) in &recording.proofs {
        nodes.extend(&proof.account_proof);
        for slot in &proof.storage_proof {
            nodes.extend(&slot.proof);
        }
    }
    let post_nodes = recording
        .proofs
        .iter()
        .filter(|(query, _)| query.block_no == number)
        .flat_map(|(_, proof)| {
            proof
                .account_proof
                .iter()
                .chain(proof.storage_proof.iter().flat_map(|slot| &slot.proof))
        });
    nodes.extend_with_collapse_sources(post_nodes);
    let mut codes = HashMap::default();
    for (_, code) in &recording.code {
        codes.insert(keccak256(code), Bytecode::new_raw(code.clone()));
    }
    let mut block_hashes = HashMap::default();
    for (_, recorded) in &recording.full_blocks {
        block_hashes.insert(recorded.header.number, recorded.header.hash);
    }
    let db = TrieDb::new(nodes, parent.header.state_root, codes, block_hashes);

    let mut recorded_post_state = Vec::new();
    for (query, proof) in &recording.proofs {
        if query.block_no == parent_number {
            check_pre_state_proof(&db, proof, path)?;
        } else if query.block_no == number {
            recorded_post_state.push(recorded_account(proof));
        }
    }

    let ommers = recording
        .uncle_blocks
        .iter()
        .filter(|(query, _)| query.block_no == number)
        .map(|(_, uncle)| uncle.header.inner.clone())
        .collect::<Vec<_>>();
    let ommers_known = ommers.len() == block.ommer_count;
    Ok(ReplayBlock {
        origin: path.to_path_buf(),
        source: SourceKind::Proofs,
        header: block.header,
        hash: block.hash,
        transactions: block.transactions,
        ommers,
        ommers_known,
        withdrawals: block.withdrawals,
        pre_state: Arc::new(PreState::Trie(db)),
        recorded_post_state,
    })
}

/// The account as an `eth_getProof` answer states it. Nodes answer for a missing account
/// with zero code and storage hashes; an existing empty account (possible before Spurious
/// Dragon) has the empty-code and empty-trie hashes.
fn recorded_account(proof: &EIP1186AccountProofResponse) -> RecordedAccount {
    let missing = proof.code_hash.is_zero() && proof.storage_hash.is_zero();
    RecordedAccount {
        address: proof.address,
        account: (!missing).then(|| {
            trie_account(
                proof.nonce,
                proof.balance,
                proof.storage_hash,
                proof.code_hash,
            )
        }),
        slots: proof
            .storage_proof
            .iter()
            .map(|slot| (U256::from_be_bytes(slot.key.as_b256().0), slot.value))
            .collect(),
    }
}

/// Checks that an N-1 proof states what the trie under the parent's state root holds, and
/// that the account's code was recorded.
fn check_pre_state_proof(
    db: &TrieDb,
    proof: &EIP1186AccountProofResponse,
    path: &Path,
) -> Result<(), LoadError> {
    let account = verify_proof_against(db.trie(), proof)
        .map_err(|message| LoadError::invalid(path, message))?;
    if let Some(account) = &account
        && !db.has_code(&account.code_hash)
    {
        return Err(LoadError::invalid(
            path,
            format!(
                "account {} has code hash {} but no code is recorded",
                proof.address, account.code_hash
            ),
        ));
    }
    Ok(())
}
