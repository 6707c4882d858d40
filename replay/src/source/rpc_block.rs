//! Blocks in the JSON shape of `eth_getBlockByNumber(N, true)`.

use super::load_error::LoadError;
use alloy_consensus::{Header, TxEnvelope, transaction::Recovered};
use alloy_eips::eip4895::Withdrawals;
use alloy_primitives::B256;
use std::path::Path;

/// The parts of an RPC block that replay needs.
#[derive(Debug, Clone)]
pub(crate) struct ParsedBlock {
    /// Consensus header.
    pub header: Header,
    /// Its hash, verified against the recorded one.
    pub hash: B256,
    /// Transactions with the senders the node reported.
    pub transactions: Vec<Recovered<TxEnvelope>>,
    /// How many ommers the block has.
    pub ommer_count: usize,
    /// Withdrawals, if any.
    pub withdrawals: Option<Withdrawals>,
}

/// Converts an RPC block with full transactions, checking that the header hashes to the
/// recorded hash (which proves every header field was read correctly).
pub(crate) fn block_from_rpc(
    block: alloy_rpc_types_eth::Block,
    path: &Path,
) -> Result<ParsedBlock, LoadError> {
    let recorded_hash = block.header.hash;
    let header = block.header.inner;
    let hash = header.hash_slow();
    if hash != recorded_hash {
        return Err(LoadError::invalid(
            path,
            format!(
                "block {} header hashes to {hash}, not the recorded {recorded_hash}",
                header.number
            ),
        ));
    }
    let transactions = match block.transactions {
        alloy_rpc_types_eth::BlockTransactions::Full(txs) => {
            txs.into_iter().map(|tx| tx.inner).collect()
        }
        alloy_rpc_types_eth::BlockTransactions::Hashes(hashes) if hashes.is_empty() => Vec::new(),
        _ => {
            return Err(LoadError::invalid(
                path,
                format!(
                    "block {} lists transaction hashes only; full transactions are needed",
                    header.number
                ),
            ));
        }
    };
    Ok(ParsedBlock {
        header,
        hash,
        transactions,
        ommer_count: block.uncles.len(),
        withdrawals: block.withdrawals,
    })
}
