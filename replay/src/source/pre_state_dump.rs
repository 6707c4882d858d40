//! Pre-state dumps: `<N>/block.json.gz` and `<N>/pre_state.json.gz`, with the bytecodes and
//! ancestor hashes shared by all blocks in `bytecodes.json.gz` and `block_hashes.json`.

use super::{
    load_error::{LoadError, read_json},
    rpc_block::block_from_rpc,
};
use crate::{
    recorded_block::{ReplayBlock, SourceKind},
    state::{
        memory_db::{Completeness, MemoryAccount, MemoryDb, code_matches},
        pre_state::PreState,
    },
};
use alloy_primitives::{Address, B256, Bytes, U256, map::HashMap};
use revm::{bytecode::Bytecode, primitives::KECCAK_EMPTY, state::AccountInfo};
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// Files shared by every block of a pre-state directory.
#[derive(Debug, Default)]
pub struct PrestateShared {
    codes: HashMap<B256, Bytecode>,
    block_hashes: BTreeMap<u64, B256>,
}

#[derive(Deserialize)]
struct DumpAccount {
    balance: U256,
    nonce: u64,
    #[serde(default)]
    code_hash: Option<B256>,
    #[serde(default)]
    storage: HashMap<U256, U256>,
}

impl PrestateShared {
    /// Reads `bytecodes.json.gz` and `block_hashes.json` from `dir`, checking every code
    /// against its hash.
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let codes_path = dir.join("bytecodes.json.gz");
        let raw: HashMap<B256, Bytes> = read_json(&codes_path)?;
        let mut codes = HashMap::default();
        for (hash, code) in raw {
            if !code_matches(hash, &code) {
                return Err(LoadError::invalid(
                    &codes_path,
                    format!("code listed under {hash} does not hash to it"),
                ));
            }
            codes.insert(hash, Bytecode::new_raw(code));
        }
        let hashes_path = dir.join("block_hashes.json");
        let raw: BTreeMap<String, B256> = read_json(&hashes_path)?;
        let mut block_hashes = BTreeMap::new();
        for (number, hash) in raw {
            let number = number.parse().map_err(|_| {
                LoadError::invalid(
                    &hashes_path,
                    format!("block number {number:?} is not a number"),
                )
            })?;
            block_hashes.insert(number, hash);
        }
        Ok(Self {
            codes,
            block_hashes,
        })
    }
}

/// Whether `dir` is a pre-state block directory.
pub(crate) fn is_prestate_block_dir(dir: &Path) -> bool {
    dir.join("block.json.gz").is_file() && dir.join("pre_state.json.gz").is_file()
}

/// Loads one block directory (`<N>/`), using the shared files of its parent.
pub fn load_prestate_block(dir: &Path, shared: &PrestateShared) -> Result<ReplayBlock, LoadError> {
    let block_path = dir.join("block.json.gz");
    let rpc: alloy_rpc_types_eth::Block = read_json(&block_path)?;
    let parsed = block_from_rpc(rpc, &block_path)?;

    let state_path = dir.join("pre_state.json.gz");
    let dump: HashMap<Address, DumpAccount> = read_json(&state_path)?;
    let mut db = MemoryDb::new(Completeness::AbsentMeansEmpty);
    for (address, account) in dump {
        let code_hash = account.code_hash.unwrap_or(KECCAK_EMPTY);
        if code_hash != KECCAK_EMPTY {
            let code = shared.codes.get(&code_hash).ok_or_else(|| {
                LoadError::invalid(
                    &state_path,
                    format!(
                        "account {address} has code hash {code_hash} but no code is recorded for it"
                    ),
                )
            })?;
            db.insert_code(code.clone());
        }
        let info = AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            code_hash,
            code: None,
            ..Default::default()
        };
        db.insert_account(
            address,
            Some(MemoryAccount {
                info,
                storage: account.storage,
                storage_complete: false,
            }),
        );
    }
    for (number, hash) in &shared.block_hashes {
        db.insert_block_hash(*number, *hash);
    }
    Ok(ReplayBlock {
        origin: dir.to_path_buf(),
        source: SourceKind::Prestate,
        header: parsed.header,
        hash: parsed.hash,
        transactions: parsed.transactions,
        ommers: Vec::new(),
        ommers_known: parsed.ommer_count == 0,
        withdrawals: parsed.withdrawals,
        pre_state: std::sync::Arc::new(PreState::Memory(db)),
        recorded_post_state: Vec::new(),
    })
}

/// The block directories under a pre-state directory, in block-number order.
pub fn prestate_block_dirs(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut dirs: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| is_prestate_block_dir(path))
        .filter_map(|path| Some((path.file_name()?.to_str()?.parse().ok()?, path)))
        .collect();
    dirs.sort();
    Ok(dirs.into_iter().map(|(_, path)| path).collect())
}
