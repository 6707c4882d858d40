//! Checking what executing a test block produced against its header: gas used, logs bloom,
//! state root, receipts root (with the intermediate state roots of pre-Byzantium
//! receipts), requests hash and blob gas used.

use super::{
    chain_spec::TestChainSpec,
    rejection::{Family, Rejection},
    world_state::WorldState,
};
use crate::trie::post_state_root::changes_from_evm_state;
use alloy_consensus::{
    Eip658Value, Header, ReceiptEnvelope, TxReceipt, proofs::calculate_receipt_root,
};
use alloy_evm::block::BlockExecutionResult;
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::Bloom;
use revm::state::EvmState;

/// Compares what execution produced with the header.
pub(super) fn check_results(
    spec: &TestChainSpec,
    header: &Header,
    result: &BlockExecutionResult<ReceiptEnvelope>,
    parent_state: &WorldState,
    commits: &[EvmState],
    pre_transaction_commits: usize,
    world: &WorldState,
) -> Result<(), Rejection> {
    let mismatch = |what: &str, computed: String, expected: String| {
        Rejection::new(
            Family::Result,
            format!("{what}: computed {computed}, header has {expected}"),
        )
    };
    if result.gas_used != header.gas_used {
        return Err(mismatch(
            "gas used",
            result.gas_used.to_string(),
            header.gas_used.to_string(),
        ));
    }
    let bloom = result
        .receipts
        .iter()
        .fold(Bloom::ZERO, |bloom, receipt| bloom | receipt.bloom());
    if bloom != header.logs_bloom {
        return Err(mismatch(
            "logs bloom",
            bloom.to_string(),
            header.logs_bloom.to_string(),
        ));
    }
    let state_root = world.state_root();
    if state_root != header.state_root {
        return Err(mismatch(
            "state root",
            state_root.to_string(),
            header.state_root.to_string(),
        ));
    }
    let receipts_root = if spec.is_byzantium_active_at_block(header.number) {
        calculate_receipt_root(&result.receipts)
    } else {
        let (before, transactions) = commits.split_at(pre_transaction_commits.min(commits.len()));
        calculate_receipt_root(&with_intermediate_roots(
            &result.receipts,
            parent_state,
            before,
            transactions,
        ))
    };
    if receipts_root != header.receipts_root {
        return Err(mismatch(
            "receipts root",
            receipts_root.to_string(),
            header.receipts_root.to_string(),
        ));
    }
    if let Some(expected) = header.requests_hash {
        let computed = result.requests.requests_hash();
        if computed != expected {
            return Err(Rejection::new(
                Family::Requests,
                format!("requests hash: computed {computed}, header has {expected}"),
            ));
        }
    }
    if header
        .blob_gas_used
        .is_some_and(|used| used != result.blob_gas_used)
    {
        return Err(mismatch(
            "blob gas used",
            result.blob_gas_used.to_string(),
            format!("{:?}", header.blob_gas_used),
        ));
    }
    Ok(())
}

/// Pre-Byzantium receipts: each carries the state root after its transaction.
fn with_intermediate_roots(
    receipts: &[ReceiptEnvelope],
    parent_state: &WorldState,
    before: &[EvmState],
    transactions: &[EvmState],
) -> Vec<ReceiptEnvelope> {
    let mut state = parent_state.clone();
    let apply = |state: &mut WorldState, committed: &EvmState| {
        let codes = committed.values().filter_map(|account| {
            account
                .info
                .code
                .clone()
                .map(|code| (account.info.code_hash, code))
        });
        state.apply(&changes_from_evm_state(committed), codes);
    };
    for committed in before {
        apply(&mut state, committed);
    }
    receipts
        .iter()
        .zip(transactions)
        .map(|(receipt, committed)| {
            apply(&mut state, committed);
            let mut receipt = receipt.clone();
            if let ReceiptEnvelope::Legacy(inner) = &mut receipt {
                inner.receipt.status = Eip658Value::PostState(state.state_root());
            }
            receipt
        })
        .collect()
}
