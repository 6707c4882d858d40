//! Finding recorded blocks under the paths a user gives, and recognising their form.

use super::{
    execution_witness::{is_witness, load_witness_file},
    load_error::{LoadError, read_json},
    pre_state_dump::{
        PrestateShared, is_prestate_block_dir, load_prestate_block, prestate_block_dirs,
    },
    proof_recording::{RecordedRpc, load_proof_file},
};
use crate::recorded_block::ReplayBlock;
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
};

/// One recorded block, not loaded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockSource {
    /// A pre-state dump directory `<N>/`, with the shared files in `shared`.
    Prestate {
        /// The block's directory.
        dir: PathBuf,
        /// The directory holding `bytecodes.json.gz` and `block_hashes.json`.
        shared: PathBuf,
    },
    /// A recording of RPC answers with proofs.
    Proofs(PathBuf),
    /// An execution witness.
    Witness(PathBuf),
}

impl BlockSource {
    /// Where it is.
    pub fn path(&self) -> &Path {
        match self {
            Self::Prestate { dir, .. } => dir,
            Self::Proofs(path) | Self::Witness(path) => path,
        }
    }
}

/// Every block under `paths`: files are recognised by content, directories searched.
/// A path that does not exist or holds nothing recognisable is an error.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<BlockSource>, LoadError> {
    let mut found = Vec::new();
    for path in paths {
        let before = found.len();
        discover_path(path, &mut found)?;
        if found.len() == before {
            return Err(LoadError::invalid(path, "no recorded blocks found here"));
        }
    }
    Ok(found)
}

fn discover_path(path: &Path, found: &mut Vec<BlockSource>) -> Result<(), LoadError> {
    let metadata = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if metadata.is_file() {
        found.push(recognise_file(path)?);
        return Ok(());
    }
    if is_prestate_block_dir(path) {
        let shared = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        found.push(BlockSource::Prestate {
            dir: path.to_path_buf(),
            shared,
        });
        return Ok(());
    }
    if path.join("bytecodes.json.gz").is_file() {
        for dir in prestate_block_dirs(path)? {
            found.push(BlockSource::Prestate {
                dir,
                shared: path.to_path_buf(),
            });
        }
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut children: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    children.sort();
    for child in children {
        let is_json = child
            .to_str()
            .is_some_and(|name| name.ends_with(".json") || name.ends_with(".json.gz"));
        if child.is_dir() || is_json {
            discover_path(&child, found)?;
        }
    }
    Ok(())
}

fn recognise_file(path: &Path) -> Result<BlockSource, LoadError> {
    let value: serde_json::Value = read_json(path)?;
    if RecordedRpc::matches(&value) {
        Ok(BlockSource::Proofs(path.to_path_buf()))
    } else if is_witness(&value) {
        Ok(BlockSource::Witness(path.to_path_buf()))
    } else {
        Err(LoadError::invalid(
            path,
            "not a recognised block recording (expected an eth_getProof recording or an execution witness)",
        ))
    }
}

/// Loads blocks, sharing each pre-state directory's common files between its blocks.
#[derive(Debug, Default)]
pub struct Loader {
    shared: HashMap<PathBuf, Arc<PrestateShared>>,
}

impl Loader {
    /// Loads one block.
    pub fn load(&mut self, source: &BlockSource) -> Result<ReplayBlock, LoadError> {
        match source {
            BlockSource::Prestate { dir, shared } => {
                let shared = match self.shared.get(shared) {
                    Some(files) => Arc::clone(files),
                    None => {
                        let files = Arc::new(PrestateShared::load(shared)?);
                        self.shared.insert(shared.clone(), Arc::clone(&files));
                        files
                    }
                };
                load_prestate_block(dir, &shared)
            }
            BlockSource::Proofs(path) => load_proof_file(path),
            BlockSource::Witness(path) => load_witness_file(path),
        }
    }
}
