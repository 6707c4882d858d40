//! Checking an execution of a recorded block against the block's header: the transactions
//! root, gas used, logs bloom, receipts root, requests hash, access list hash and the state
//! root.

use super::outcome::{Check, Checks};
use crate::{
    execution::Execution,
    recorded_block::{ReplayBlock, UnusableBlock},
    state::pre_state::PreState,
    trie::post_state_root::{changes_from_bundle, post_state_root},
};
use alloy_consensus::{
    TxReceipt, proofs::calculate_receipt_root, proofs::calculate_transaction_root,
};
use alloy_eips::eip7928::compute_block_access_list_hash;
use alloy_primitives::Bloom;
use revm::primitives::hardfork::SpecId;

/// The block's transactions against the header's transactions root.
pub(crate) fn transactions_root_check(block: &ReplayBlock) -> Check {
    Check::compare(
        "transactions root",
        calculate_transaction_root(
            &block
                .transactions
                .iter()
                .map(|tx| tx.inner().clone())
                .collect::<Vec<_>>(),
        ),
        block.header.transactions_root,
    )
}

/// Every check of `execution` against the header, with the transactions root checked
/// already.
pub(crate) fn header_checks(
    block: &ReplayBlock,
    execution: &Execution,
    transactions_root: Check,
) -> Result<Checks, UnusableBlock> {
    let header = &block.header;
    let receipts = &execution.result.receipts;
    let spec = block.spec();
    let bloom = receipts
        .iter()
        .fold(Bloom::ZERO, |bloom, receipt| bloom | receipt.bloom());
    let receipts_root = if spec.is_enabled_in(SpecId::BYZANTIUM) {
        Check::compare(
            "receipts root",
            calculate_receipt_root(receipts),
            header.receipts_root,
        )
    } else {
        Check::Skipped("before Byzantium receipts carry intermediate state roots".into())
    };
    let requests_hash = match header.requests_hash {
        Some(expected) => Check::compare(
            "requests hash",
            execution.result.requests.requests_hash(),
            expected,
        ),
        None if spec.is_enabled_in(SpecId::PRAGUE) => {
            Check::Mismatch("a Prague block header lacks requestsHash".into())
        }
        None => Check::Skipped("no execution-layer requests before Prague".into()),
    };
    let block_access_list = match (header.block_access_list_hash, &execution.access_list) {
        (Some(expected), Some(built)) => Check::compare(
            "block access list hash",
            compute_block_access_list_hash(built),
            expected,
        ),
        (Some(_), None) => Check::Skipped("the execution built no access list".into()),
        (None, _) if spec.is_enabled_in(SpecId::AMSTERDAM) => {
            Check::Mismatch("an Amsterdam block header lacks blockAccessListHash".into())
        }
        (None, _) => Check::Skipped("no block access list hash before Amsterdam".into()),
    };
    Ok(Checks {
        transactions_root,
        gas_used: Check::compare("gas used", execution.result.gas_used, header.gas_used),
        logs_bloom: Check::compare("logs bloom", bloom, header.logs_bloom),
        receipts_root,
        state_root: state_root_check(block, execution)?,
        requests_hash,
        block_access_list,
    })
}

fn state_root_check(block: &ReplayBlock, execution: &Execution) -> Result<Check, UnusableBlock> {
    let PreState::Trie(db) = &*block.pre_state else {
        return Ok(Check::Skipped(
            "a pre-state dump holds only part of the state".into(),
        ));
    };
    if !block.ommers_known {
        return Err(UnusableBlock {
            block: block.number(),
            reason:
                "the block has ommers whose headers are not recorded, so its rewards are unknown"
                    .into(),
        });
    }
    let post =
        post_state_root(db.trie(), &changes_from_bundle(&execution.bundle)).map_err(|e| {
            UnusableBlock {
                block: block.number(),
                reason: format!("cannot compute the state root: {e}"),
            }
        })?;
    Ok(
        match Check::compare("state root", post.root, block.header.state_root) {
            Check::Mismatch(detail) => {
                let prior_account = |address| db.account(address).ok().flatten();
                match post.first_difference(db.trie(), prior_account, &block.recorded_post_state) {
                    Some(first) => Check::Mismatch(format!("{detail}; first difference: {first}")),
                    None => Check::Mismatch(detail),
                }
            }
            check => check,
        },
    )
}
