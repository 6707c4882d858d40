//! Files of EIP-7928 block access lists, as `parallax explain --access-list` writes them: a
//! sequence of JSON objects (one per line, or pretty-printed), each
//! `{"block": N, "blockAccessList": [...]}`, the list in the consensus fixtures' format.

use super::load_error::LoadError;
use alloy_eips::eip7928::BlockAccessList;
use alloy_primitives::B256;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

/// One block's access list in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessListRecord {
    /// The block the list belongs to.
    pub block: u64,
    /// The list's hash (`keccak256` of its RLP), as a header commits to it. Written for
    /// people and checked when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_access_list_hash: Option<B256>,
    /// The list.
    pub block_access_list: BlockAccessList,
}

/// Reads every record of `path`, by block number. A file that is not such JSON, gives one
/// block two different lists, or carries a hash its list does not have is an error naming
/// the file and the block.
pub fn load_access_lists(path: &Path) -> Result<BTreeMap<u64, BlockAccessList>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lists = BTreeMap::new();
    for record in serde_json::Deserializer::from_str(&text).into_iter::<AccessListRecord>() {
        let record = record.map_err(|source| LoadError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(expected) = record.block_access_list_hash {
            let hash =
                alloy_eips::eip7928::compute_block_access_list_hash(&record.block_access_list);
            if hash != expected {
                return Err(LoadError::invalid(
                    path,
                    format!(
                        "block {}: the access list hashes to {hash}, the file says {expected}",
                        record.block
                    ),
                ));
            }
        }
        // The same block recorded in several forms gives the same list more than once.
        match lists.get(&record.block) {
            Some(known) if *known != record.block_access_list => {
                return Err(LoadError::invalid(
                    path,
                    format!("block {} has two different access lists", record.block),
                ));
            }
            Some(_) => {}
            None => {
                lists.insert(record.block, record.block_access_list);
            }
        }
    }
    if lists.is_empty() {
        return Err(LoadError::invalid(path, "no access list in the file"));
    }
    Ok(lists)
}
