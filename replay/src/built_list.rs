//! The EIP-7928 access list of a recorded block of any fork, as the Parallax executor builds
//! it from its own commits, checked against the list revm's sequential execution builds and
//! against the header's gas used (and its access list hash, Amsterdam on).

use crate::{
    execution::Executors, recorded_block::ReplayBlock, source::access_list_file::AccessListRecord,
};
use alloy_eips::eip7928::{compute_block_access_list_hash, first_bal_divergence};

/// The block's access list, or why it could not be built or is not the block's.
pub fn built_access_list(
    executors: &Executors,
    block: &ReplayBlock,
) -> Result<AccessListRecord, String> {
    let number = block.number();
    let failed = |which: &str, error: &dyn std::fmt::Display| {
        format!("block {number}: the {which} execution failed: {error}")
    };
    let parallel = executors
        .parallel(block)
        .map_err(|error| failed("parallel", &error))?;
    let sequential = executors
        .sequential(block)
        .map_err(|error| failed("sequential", &error))?;
    let (Some(built), Some(reference)) = (parallel.access_list, sequential.access_list) else {
        return Err(format!(
            "block {number}: the executors were not asked to build access lists"
        ));
    };
    if parallel.result.gas_used != block.header.gas_used {
        return Err(format!(
            "block {number}: the transactions used {} gas but the header has {}",
            parallel.result.gas_used, block.header.gas_used
        ));
    }
    let divergence = first_bal_divergence(&built, &reference);
    if !divergence.is_empty() {
        return Err(format!(
            "block {number}: the Parallax executor's access list differs from revm's (engine against revm: {divergence})"
        ));
    }
    let hash = compute_block_access_list_hash(&built);
    if let Some(expected) = block.header.block_access_list_hash.filter(|&h| h != hash) {
        return Err(format!(
            "block {number}: the access list hashes to {hash}, the header has {expected}"
        ));
    }
    Ok(AccessListRecord {
        block: number,
        block_access_list_hash: Some(hash),
        block_access_list: built,
    })
}
