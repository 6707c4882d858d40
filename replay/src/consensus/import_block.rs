//! Importing one block of a test chain: find its parent, validate its header, recover its
//! senders, execute it, then check what execution produced.

use super::{
    access_list::{check_built, check_delivered},
    beside_revm::compare_with_revm,
    chain_spec::TestChainSpec,
    check_results::check_results,
    execute_block::{BlockExecution, Executor, execute_block},
    header_rules::{check_block, check_body_roots},
    rejection::{Family, Rejection},
    world_state::ChainDb,
};
use crate::trie::post_state_root::changes_from_bundle;
use alloy_consensus::{Block, Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::{
    eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
    eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS, eip7928::BlockAccessList,
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{B256, U256};
use std::{collections::HashMap, sync::Arc};

/// A block on some chain of the test, and the state after it.
pub(super) struct Imported {
    /// Its header.
    pub(super) header: Header,
    /// The state after it.
    pub(super) db: ChainDb,
    /// The chain's total difficulty up to and including it.
    pub(super) total_difficulty: U256,
}

/// Validates and executes `block`, delivered with `access_list` (Amsterdam), on top of its
/// parent; returns the state after it.
pub(super) fn import_block(
    chain: &HashMap<B256, Imported>,
    base_spec: &TestChainSpec,
    block: Block<TxEnvelope>,
    access_list: Option<&BlockAccessList>,
    executor: &Executor,
) -> Result<Imported, Rejection> {
    let parent = chain.get(&block.header.parent_hash).ok_or_else(|| {
        Rejection::new(
            Family::UnknownParent,
            format!("parent {} is unknown", block.header.parent_hash),
        )
    })?;
    let spec = match base_spec.paris_total_difficulty() {
        Some(ttd) if parent.total_difficulty >= ttd => {
            base_spec.clone().with_paris_at_block(block.header.number)
        }
        _ => base_spec.clone(),
    };
    check_block(&spec, &parent.header, &block)?;
    check_delivered(&block.header, block.body.transactions.len(), access_list)?;
    let mut transactions = Vec::with_capacity(block.body.transactions.len());
    // Before Homestead (EIP-2) signatures with a high s value were valid.
    let homestead = spec.is_homestead_active_at_block(block.header.number);
    for (index, tx) in block.body.transactions.iter().enumerate() {
        let sender = if homestead {
            tx.recover_signer()
        } else {
            tx.recover_signer_unchecked()
        }
        .map_err(|e| {
            Rejection::new(
                Family::Transaction,
                format!("transaction {index}: invalid signature: {e}"),
            )
        })?;
        transactions.push(alloy_consensus::transaction::Recovered::new_unchecked(
            tx.clone(),
            sender,
        ));
    }

    let BlockExecution {
        result,
        bundle,
        commits,
        pre_transaction_commits,
        access_list: built_access_list,
        spec,
    } = {
        // Under an executor that reads the list, a wrong list may be found during execution
        // or only in the list execution builds: either is the block's rejection.
        let outcome = |executor: &Executor| -> Result<BlockExecution, Rejection> {
            let execution = execute_block(
                &parent.db,
                spec.clone(),
                &block,
                &transactions,
                access_list,
                executor,
            )?;
            if executor.reads_list() {
                check_body_roots(&execution.spec, &block)?;
                check_built(&block.header, access_list, execution.access_list.as_ref())?;
            }
            Ok(execution)
        };
        let execution = outcome(executor);
        if !executor.is_stock() {
            compare_with_revm(&execution, &outcome(&executor.stock()))?;
        }
        execution?
    };
    // On the list path `outcome` has made these checks already.
    if !executor.reads_list() {
        check_body_roots(&spec, &block)?;
    }

    let mut world = (*parent.db.state).clone();
    world.apply(
        &changes_from_bundle(&bundle),
        bundle
            .contracts
            .iter()
            .map(|(hash, code)| (*hash, code.clone())),
    );
    let header = &block.header;
    if spec.is_prague_active_at_timestamp(header.timestamp) {
        for contract in [
            WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
            CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
        ] {
            if !world.has_code(&contract) {
                return Err(Rejection::new(
                    Family::Requests,
                    format!("system contract {contract} has no code"),
                ));
            }
        }
    }
    if !executor.reads_list() {
        check_built(header, access_list, built_access_list.as_ref())?;
    }
    check_results(
        &spec,
        header,
        &result,
        &parent.db.state,
        &commits,
        pre_transaction_commits,
        &world,
    )?;

    let header = &block.header;
    let mut hashes = (*parent.db.hashes).clone();
    hashes.push(header.hash_slow());
    Ok(Imported {
        total_difficulty: parent.total_difficulty + header.difficulty,
        db: ChainDb {
            state: Arc::new(world),
            hashes: Arc::new(hashes),
        },
        header: block.header,
    })
}
