//! Execution witnesses (`debug_executionWitness`): the block with its transactions (without
//! senders, which are recovered from the signatures), every trie node and code the block
//! touches, and the ancestor headers.

use super::load_error::{LoadError, read_json};
use crate::{
    recorded_block::{ReplayBlock, SourceKind},
    state::{
        pre_state::PreState,
        trie_db::{TrieDb, Unproven},
    },
    trie::{account_leaf::trie_account, node_store::TrieNodes, post_state_root::RecordedAccount},
};
use alloy_consensus::{Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip4895::Withdrawals;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256, map::HashMap};
use revm::bytecode::Bytecode;
use serde::Deserialize;
use std::{path::Path, sync::Arc};

#[derive(Deserialize)]
struct WitnessFile {
    blocks: Vec<WitnessBlock>,
    witness: Witness,
    #[serde(rename = "chainConfig", default)]
    chain_config: Option<ChainConfig>,
    #[serde(default)]
    extra: Option<Extra>,
}

#[derive(Deserialize)]
struct WitnessBlock {
    header: alloy_rpc_types_eth::Header,
    #[serde(rename = "transaction")]
    transactions: Vec<serde_json::Value>,
    #[serde(default)]
    uncles: Vec<serde_json::Value>,
    #[serde(default)]
    withdrawals: Option<Withdrawals>,
}

#[derive(Deserialize)]
struct Witness {
    state: Vec<Bytes>,
    codes: Vec<Bytes>,
    ancestors: Vec<alloy_rpc_types_eth::Header>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChainConfig {
    chain_id: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Extra {
    #[serde(default)]
    committed: Vec<Bytes>,
    #[serde(default)]
    pre_state: HashMap<Address, Option<PreAccount>>,
    #[serde(default)]
    state_diffs: Vec<StateDiff>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateDiff {
    address: Address,
    post_account: Option<DiffAccount>,
    #[serde(default)]
    storage: Vec<DiffSlot>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiffAccount {
    balance: U256,
    nonce: U256,
    code_hash: B256,
    storage_hash: B256,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreAccount {
    balance: U256,
    nonce: U256,
    code_hash: B256,
    storage_hash: B256,
    #[serde(default)]
    storage: HashMap<U256, U256>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiffSlot {
    storage_key: U256,
    post_value: U256,
}

/// Whether a JSON value looks like an execution witness.
pub(crate) fn is_witness(value: &serde_json::Value) -> bool {
    value.get("witness").is_some() && value.get("blocks").is_some()
}

/// Loads a witness file (`<N>.json.gz`).
pub fn load_witness_file(path: &Path) -> Result<ReplayBlock, LoadError> {
    let file: WitnessFile = read_json(path)?;
    if let Some(config) = &file.chain_config
        && config.chain_id != 1
    {
        return Err(LoadError::invalid(
            path,
            format!(
                "chain {} is not supported; only Ethereum mainnet (1) is",
                config.chain_id
            ),
        ));
    }
    let [block]: [WitnessBlock; 1] = file.blocks.try_into().map_err(|blocks: Vec<_>| {
        LoadError::invalid(path, format!("expected one block, found {}", blocks.len()))
    })?;
    let header = checked_header(block.header, path)?;
    let hash = header.hash_slow();
    if !block.uncles.is_empty() {
        return Err(LoadError::invalid(
            path,
            "blocks with ommers are not supported in witness form",
        ));
    }

    let mut transactions = Vec::with_capacity(block.transactions.len());
    for (index, json) in block.transactions.into_iter().enumerate() {
        let recorded_hash = json
            .get("hash")
            .and_then(|hash| serde_json::from_value::<B256>(hash.clone()).ok());
        let envelope: TxEnvelope = serde_json::from_value(json).map_err(|e| {
            LoadError::invalid(path, format!("transaction {index} is malformed: {e}"))
        })?;
        if let Some(recorded) = recorded_hash
            && recorded != *envelope.tx_hash()
        {
            return Err(LoadError::invalid(
                path,
                format!(
                    "transaction {index} hashes to {}, not the recorded {recorded}",
                    envelope.tx_hash()
                ),
            ));
        }
        let sender = envelope.recover_signer().map_err(|e| {
            LoadError::invalid(
                path,
                format!("transaction {index}: cannot recover its sender: {e}"),
            )
        })?;
        transactions.push(alloy_consensus::transaction::Recovered::new_unchecked(
            envelope, sender,
        ));
    }

    let mut ancestors = Vec::new();
    for ancestor in file.witness.ancestors {
        ancestors.push(checked_header(ancestor, path)?);
    }
    let parent = ancestors
        .iter()
        .find(|ancestor| ancestor.hash_slow() == header.parent_hash)
        .ok_or_else(|| {
            LoadError::invalid(
                path,
                format!(
                    "the parent {} is not among the ancestors",
                    header.parent_hash
                ),
            )
        })?;
    let block_hashes: HashMap<u64, B256> = ancestors
        .iter()
        .map(|a| (a.number, a.hash_slow()))
        .collect();

    let mut nodes = TrieNodes::default();
    nodes.extend(&file.witness.state);
    let extra = file.extra.unwrap_or(Extra {
        committed: Vec::new(),
        pre_state: HashMap::default(),
        state_diffs: Vec::new(),
    });
    nodes.extend(&extra.committed);
    nodes.extend_with_collapse_sources(&extra.committed);
    let codes: HashMap<B256, Bytecode> = file
        .witness
        .codes
        .into_iter()
        .map(|code| (keccak256(&code), Bytecode::new_raw(code)))
        .collect();
    let db = TrieDb::new(nodes, parent.state_root, codes, block_hashes)
        .with_unproven(unproven(&extra.pre_state));
    if !db.nodes().contains(parent.state_root) {
        return Err(LoadError::invalid(
            path,
            format!(
                "the witness lacks the parent's state root node {}",
                parent.state_root
            ),
        ));
    }

    let recorded_post_state = extra.state_diffs.iter().map(recorded_account).collect();
    Ok(ReplayBlock {
        origin: path.to_path_buf(),
        source: SourceKind::Witness,
        header,
        hash,
        transactions,
        ommers: Vec::new(),
        ommers_known: true,
        withdrawals: block.withdrawals,
        pre_state: Arc::new(PreState::Trie(db)),
        recorded_post_state,
    })
}

/// The witness file's convenience view of the pre-state, for accounts whose trie path the
/// witness omits (an absent account that the block only touches, for instance).
fn unproven(pre_state: &HashMap<Address, Option<PreAccount>>) -> Unproven {
    let mut unproven = Unproven::default();
    for (address, account) in pre_state {
        unproven.accounts.insert(
            *address,
            account.as_ref().map(|a| {
                trie_account(
                    a.nonce.saturating_to(),
                    a.balance,
                    a.storage_hash,
                    a.code_hash,
                )
            }),
        );
        for (slot, value) in account.iter().flat_map(|a| &a.storage) {
            unproven.storage.insert((*address, *slot), *value);
        }
    }
    unproven
}

/// A header whose fields hash to its recorded hash.
fn checked_header(header: alloy_rpc_types_eth::Header, path: &Path) -> Result<Header, LoadError> {
    let recorded = header.hash;
    let header = header.inner;
    if header.hash_slow() != recorded {
        return Err(LoadError::invalid(
            path,
            format!(
                "header of block {} does not hash to the recorded {recorded}",
                header.number
            ),
        ));
    }
    Ok(header)
}

fn recorded_account(diff: &StateDiff) -> RecordedAccount {
    RecordedAccount {
        address: diff.address,
        account: diff.post_account.as_ref().map(|account| {
            trie_account(
                account.nonce.saturating_to(),
                account.balance,
                account.storage_hash,
                account.code_hash,
            )
        }),
        slots: diff
            .storage
            .iter()
            .map(|slot| (slot.storage_key, slot.post_value))
            .collect(),
    }
}
