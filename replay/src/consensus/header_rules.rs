//! Consensus rules a header must obey relative to its parent and its own body, from
//! Frontier to Amsterdam, except proof-of-work difficulty and seal checks (out of scope).

use super::{
    chain_spec::TestChainSpec,
    rejection::{Family, Rejection},
};
use alloy_consensus::{Block, EMPTY_OMMER_ROOT_HASH, Header, Transaction, TxEnvelope, proofs};
use alloy_eips::{eip1559::BaseFeeParams, eip1559::INITIAL_BASE_FEE};
use alloy_hardforks::{EthereumHardfork, EthereumHardforks};

const MIN_GAS_LIMIT: u64 = 5000;
const MAX_EXTRA_DATA: usize = 32;
const DAO_EXTRA_DATA: &[u8] = b"dao-hard-fork";
const DAO_EXTRA_DATA_BLOCKS: u64 = 10;

fn header(detail: impl Into<String>) -> Rejection {
    Rejection::new(Family::Header, detail)
}

/// A header field the block's fork does not have, or lacks one it must have: the block is
/// not in its fork's format.
fn format(detail: impl Into<String>) -> Rejection {
    Rejection::new(Family::Decode, detail)
}

/// Checks `block` against its parent's header and its own body.
pub(crate) fn check_block(
    spec: &TestChainSpec,
    parent: &Header,
    block: &Block<TxEnvelope>,
) -> Result<(), Rejection> {
    let h = &block.header;
    if h.number != parent.number + 1 {
        return Err(header(format!(
            "number {} does not follow the parent's {}",
            h.number, parent.number
        )));
    }
    if h.timestamp <= parent.timestamp {
        return Err(header(format!(
            "timestamp {} is not after the parent's {}",
            h.timestamp, parent.timestamp
        )));
    }
    if h.extra_data.len() > MAX_EXTRA_DATA {
        return Err(header(format!(
            "extra data is {} bytes, more than {MAX_EXTRA_DATA}",
            h.extra_data.len()
        )));
    }
    if h.gas_used > h.gas_limit {
        return Err(header(format!(
            "gas used {} exceeds the gas limit {}",
            h.gas_used, h.gas_limit
        )));
    }
    check_gas_limit(spec, parent, h)?;
    check_dao_extra_data(spec, h)?;
    for ommer in &block.body.ommers {
        check_dao_extra_data(spec, ommer)?;
    }
    check_base_fee(spec, parent, h)?;
    check_proof_of_stake(spec, block)?;
    check_blobs(spec, parent, block)?;
    let prague = spec.is_prague_active_at_timestamp(h.timestamp);
    if prague != h.requests_hash.is_some() {
        return Err(format("requests hash present iff Prague is active"));
    }
    let amsterdam = spec.is_amsterdam_active_at_timestamp(h.timestamp);
    if amsterdam != h.block_access_list_hash.is_some() || amsterdam != h.slot_number.is_some() {
        return Err(format(
            "block access list hash and slot number present iff Amsterdam is active",
        ));
    }
    Ok(())
}

fn check_gas_limit(spec: &TestChainSpec, parent: &Header, h: &Header) -> Result<(), Rejection> {
    // At the London block the limit doubles to make room for the elasticity multiplier.
    let parent_limit = if spec
        .ethereum_fork_activation(EthereumHardfork::London)
        .transitions_at_block(h.number)
    {
        parent.gas_limit * BaseFeeParams::ethereum().elasticity_multiplier as u64
    } else {
        parent.gas_limit
    };
    let bound = parent_limit / 1024;
    if h.gas_limit < MIN_GAS_LIMIT || h.gas_limit.abs_diff(parent_limit) >= bound {
        return Err(header(format!(
            "gas limit {} is not within {bound} of the parent's {parent_limit}",
            h.gas_limit
        )));
    }
    Ok(())
}

fn check_dao_extra_data(spec: &TestChainSpec, h: &Header) -> Result<(), Rejection> {
    let dao = spec.ethereum_fork_activation(EthereumHardfork::Dao);
    if let alloy_hardforks::ForkCondition::Block(fork) = dao
        && (fork..fork + DAO_EXTRA_DATA_BLOCKS).contains(&h.number)
        && h.extra_data.as_ref() != DAO_EXTRA_DATA
    {
        return Err(header(format!(
            "block {} of the DAO fork range lacks the extra data {DAO_EXTRA_DATA:?}",
            h.number
        )));
    }
    Ok(())
}

fn check_base_fee(spec: &TestChainSpec, parent: &Header, h: &Header) -> Result<(), Rejection> {
    if !spec.is_london_active_at_block(h.number) {
        return match h.base_fee_per_gas {
            None => Ok(()),
            Some(_) => Err(format("a base fee before London")),
        };
    }
    let expected = if spec.is_london_active_at_block(parent.number) {
        parent
            .next_block_base_fee(BaseFeeParams::ethereum())
            .ok_or_else(|| header("the parent lacks a base fee"))?
    } else {
        INITIAL_BASE_FEE
    };
    match h.base_fee_per_gas {
        Some(fee) if fee == expected => Ok(()),
        other => Err(header(format!("base fee {other:?}, expected {expected}"))),
    }
}

fn check_proof_of_stake(spec: &TestChainSpec, block: &Block<TxEnvelope>) -> Result<(), Rejection> {
    let h = &block.header;
    if spec.is_paris_active_at_block(h.number) {
        if !h.difficulty.is_zero() {
            return Err(header("a proof-of-stake block with non-zero difficulty"));
        }
        if !h.nonce.is_zero() {
            return Err(header("a proof-of-stake block with a non-zero nonce"));
        }
        if h.ommers_hash != EMPTY_OMMER_ROOT_HASH || !block.body.ommers.is_empty() {
            return Err(header("a proof-of-stake block with ommers"));
        }
    } else if h.difficulty.is_zero() {
        return Err(header("a proof-of-work block with zero difficulty"));
    }
    Ok(())
}

/// Checks that the header commits to the body. Run after execution, so that a block holding
/// an invalid transaction is rejected for that transaction, as the fixtures expect, even
/// when the header's transactions root leaves the transaction out.
pub(crate) fn check_body_roots(
    spec: &TestChainSpec,
    block: &Block<TxEnvelope>,
) -> Result<(), Rejection> {
    let h = &block.header;
    let transactions_root = proofs::calculate_transaction_root(&block.body.transactions);
    if transactions_root != h.transactions_root {
        return Err(header(format!(
            "transactions root {} but the body hashes to {transactions_root}",
            h.transactions_root
        )));
    }
    let ommers_hash = proofs::calculate_ommers_root(&block.body.ommers);
    if ommers_hash != h.ommers_hash {
        return Err(header(format!(
            "ommers hash {} but the ommers hash to {ommers_hash}",
            h.ommers_hash
        )));
    }
    let shanghai = spec.is_shanghai_active_at_timestamp(h.timestamp);
    match (&block.body.withdrawals, h.withdrawals_root, shanghai) {
        (Some(withdrawals), Some(root), true) => {
            let computed = proofs::calculate_withdrawals_root(withdrawals);
            if computed != root {
                return Err(header(format!(
                    "withdrawals root {root} but the withdrawals hash to {computed}"
                )));
            }
        }
        (None, None, false) => {}
        _ => return Err(format("withdrawals present iff Shanghai is active")),
    }
    Ok(())
}

fn check_blobs(
    spec: &TestChainSpec,
    parent: &Header,
    block: &Block<TxEnvelope>,
) -> Result<(), Rejection> {
    let h = &block.header;
    let Some(params) = spec
        .blob_params_at(h.timestamp)
        .filter(|_| spec.is_cancun_active_at_timestamp(h.timestamp))
    else {
        if h.blob_gas_used.is_some()
            || h.excess_blob_gas.is_some()
            || h.parent_beacon_block_root.is_some()
        {
            return Err(format("blob gas fields or a beacon root before Cancun"));
        }
        return Ok(());
    };
    let (Some(blob_gas_used), Some(excess_blob_gas)) = (h.blob_gas_used, h.excess_blob_gas) else {
        return Err(format("a Cancun block without blob gas fields"));
    };
    if h.parent_beacon_block_root.is_none() {
        return Err(format("a Cancun block without a parent beacon block root"));
    }
    let body_blob_gas: u64 = block
        .body
        .transactions
        .iter()
        .filter_map(|tx| tx.blob_gas_used())
        .sum();
    if body_blob_gas > params.max_blob_gas_per_block() {
        return Err(Rejection::new(
            Family::Transaction,
            format!(
                "the transactions use {body_blob_gas} blob gas, more than the block maximum {}",
                params.max_blob_gas_per_block()
            ),
        ));
    }
    if body_blob_gas != blob_gas_used {
        return Err(header(format!(
            "blob gas used {blob_gas_used} but the transactions use {body_blob_gas}"
        )));
    }
    let expected_excess = if spec.is_cancun_active_at_timestamp(parent.timestamp) {
        parent
            .next_block_excess_blob_gas(params)
            .unwrap_or_default()
    } else {
        0
    };
    if excess_blob_gas != expected_excess {
        return Err(header(format!(
            "excess blob gas {excess_blob_gas}, expected {expected_excess}"
        )));
    }
    Ok(())
}
