//! Running one BlockchainTest: build the genesis state, import each block (validating its
//! header, executing it, checking every root), and compare the final state.

use super::{
    chain_spec::TestChainSpec,
    fixture::BlockchainTest,
    header_rules::{check_block, check_body_roots},
    rejection::{Expectation, Family, Rejection, expectation, matches},
    skips::skip_reason,
    world_state::{ChainDb, WorldState},
};
use crate::{
    pre_state::PreStateError,
    state_root::{changes_from_bundle, changes_from_evm_state},
};
use alloy_consensus::{
    Block, Eip658Value, Header, ReceiptEnvelope, TxEip4844Variant, TxEnvelope, TxReceipt,
    proofs::calculate_receipt_root, transaction::SignerRecoverable,
};
use alloy_eips::{
    eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
};
use alloy_evm::{
    EvmEnv, EvmFactory,
    block::{
        BlockExecutionError, BlockExecutionResult, BlockExecutor, BlockExecutorFactory,
        BlockValidationError,
    },
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory,
        dao_fork::{DAO_HARDFORK_ACCOUNTS, DAO_HARDFORK_BENEFICIARY},
        receipt_builder::AlloyReceiptBuilder,
    },
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{B256, Bloom, U256};
use alloy_rlp::Decodable;
use parallax_adapters::ParallaxBlockExecutorFactory;
use parallax_engine::ParallelExecutor;
use revm::{
    Database, DatabaseCommit,
    database::{State, WrapDatabaseRef, states::bundle_state::BundleRetention},
    primitives::AddressMap,
    state::{Account, EvmState, TransactionId},
};
use std::{
    borrow::Cow,
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// Which executor imports the blocks.
#[derive(Clone)]
pub enum Executor {
    /// The Parallax executor, forced onto its parallel path for every block.
    Parallel(Arc<ParallelExecutor>),
    /// alloy-evm's stock executor: plain sequential revm.
    Sequential,
}

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every block was handled as expected and the final state matches.
    Pass,
    /// Something was not; the text says what.
    Fail(String),
    /// The test exercises something out of scope; the text says what.
    Skip(String),
}

/// A block on some chain of the test, and the state after it.
struct Imported {
    header: Header,
    db: ChainDb,
    total_difficulty: U256,
}

/// Runs the test named `name` with `executor`.
pub fn run_test(name: &str, test: &BlockchainTest, executor: &Executor) -> Verdict {
    let Some(spec) = TestChainSpec::for_network(&test.network, test.config.as_ref()) else {
        return Verdict::Skip(format!("network {} is not known", test.network));
    };
    if let Some(reason) = skip_reason(name, &test.network) {
        return Verdict::Skip(reason.to_owned());
    }
    for block in &test.blocks {
        if let Some(expected) = &block.expect_exception
            && let Expectation::OutOfScope(reason) = expectation(expected)
        {
            return Verdict::Skip(format!("{reason} ({expected})"));
        }
    }
    match run_checked(test, &spec, executor) {
        Ok(()) => Verdict::Pass,
        Err(failure) => Verdict::Fail(failure),
    }
}

fn run_checked(
    test: &BlockchainTest,
    spec: &TestChainSpec,
    executor: &Executor,
) -> Result<(), String> {
    let genesis = decode_block(&test.genesis_rlp).map_err(|e| format!("genesis: {e}"))?;
    let world = WorldState::from_fixture(&test.pre);
    let root = world.state_root();
    if root != genesis.header.state_root {
        return Err(format!(
            "genesis state root {root} but the header has {}",
            genesis.header.state_root
        ));
    }
    let genesis_hash = genesis.header.hash_slow();
    let mut chain: HashMap<B256, Imported> = HashMap::new();
    chain.insert(
        genesis_hash,
        Imported {
            total_difficulty: genesis.header.difficulty,
            db: ChainDb {
                state: Arc::new(world),
                hashes: Arc::new(vec![genesis_hash]),
            },
            header: genesis.header,
        },
    );
    for (index, fixture_block) in test.blocks.iter().enumerate() {
        let outcome = decode_block(&fixture_block.rlp).and_then(|block| {
            let hash = block.header.hash_slow();
            import(&chain, spec, block, executor).map(|imported| (hash, imported))
        });
        match (outcome, &fixture_block.expect_exception) {
            (Ok((hash, imported)), None) => {
                chain.insert(hash, imported);
            }
            (Ok(_), Some(expected)) => {
                return Err(format!(
                    "block {index} was accepted but should fail with {expected}"
                ));
            }
            (Err(rejection), None) => {
                return Err(format!("block {index} was rejected: {rejection}"));
            }
            (Err(rejection), Some(expected)) => {
                if !matches(&expectation(expected), &rejection) {
                    return Err(format!(
                        "block {index} was rejected for the wrong reason: {rejection} (expected {expected})"
                    ));
                }
            }
        }
    }
    let head = chain
        .get(&test.lastblockhash)
        .ok_or_else(|| format!("the head {} was not imported", test.lastblockhash))?;
    if let Some(expected) = &test.post_state {
        if let Some(difference) = head.db.state.first_difference(expected) {
            return Err(format!("final state: {difference}"));
        }
    } else if let Some(expected) = test.post_state_hash {
        let root = head.db.state.state_root();
        if root != expected {
            return Err(format!("final state root {root} but expected {expected}"));
        }
    }
    Ok(())
}

fn decode_block(rlp: &[u8]) -> Result<Block<TxEnvelope>, Rejection> {
    let mut buf = rlp;
    let block =
        Block::<TxEnvelope>::decode(&mut buf).map_err(|e| match undecodable_transaction(rlp) {
            Some(rejection) => rejection,
            None => Rejection::new(Family::Decode, e.to_string()),
        })?;
    if !buf.is_empty() {
        return Err(Rejection::new(
            Family::Decode,
            format!("{} bytes after the block", buf.len()),
        ));
    }
    for (index, tx) in block.body.transactions.iter().enumerate() {
        if let TxEnvelope::Eip4844(signed) = tx
            && matches!(signed.tx(), TxEip4844Variant::TxEip4844WithSidecar(_))
        {
            return Err(Rejection::new(
                Family::Decode,
                format!("transaction {index} carries its blob sidecar inside the block"),
            ));
        }
    }
    Ok(block)
}

/// When a block does not decode but its header does, the first transaction that does not
/// decode on its own (a type-4 transaction without a recipient, say) is the culprit.
fn undecodable_transaction(rlp: &[u8]) -> Option<Rejection> {
    let mut buf = rlp;
    let outer = alloy_rlp::Header::decode(&mut buf).ok()?;
    if !outer.list {
        return None;
    }
    Header::decode(&mut buf).ok()?;
    let list = alloy_rlp::Header::decode(&mut buf).ok()?;
    let mut txs = buf.get(..list.payload_length)?;
    let mut index = 0;
    while !txs.is_empty() {
        let mut peek = txs;
        let item = alloy_rlp::Header::decode(&mut peek).ok()?;
        let length = txs.len() - peek.len() + item.payload_length;
        let (encoded, rest) = txs.split_at_checked(length)?;
        if let Err(error) = TxEnvelope::decode(&mut &encoded[..]) {
            return Some(Rejection::new(
                Family::Transaction,
                format!("transaction {index} does not decode: {error}"),
            ));
        }
        txs = rest;
        index += 1;
    }
    None
}

/// Validates and executes `block` on top of its parent; returns the state after it.
fn import(
    chain: &HashMap<B256, Imported>,
    base_spec: &TestChainSpec,
    block: Block<TxEnvelope>,
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

    let commits: Arc<Mutex<Vec<EvmState>>> = Arc::default();
    let sink = Arc::clone(&commits);
    let mut state = State::builder()
        .with_database_ref(parent.db.clone())
        .with_bundle_update()
        .build()
        .with_state_hook(Some(Box::new(move |changes: EvmState| {
            sink.lock().expect("commit log").push(changes)
        })));
    let spec = if spec.dao_fork_at(block.header.number) {
        apply_dao_fork(&mut state)?;
        spec.without_dao_fork()
    } else {
        spec
    };
    // Commits so far happened before the transactions.
    let pre_transaction_commits = commits.lock().expect("commit log").len();
    let header = &block.header;
    let env = EvmEnv::for_eth_block(
        header,
        &spec,
        spec.chain_id,
        spec.blob_params_at(header.timestamp),
    );
    let evm = EthEvmFactory::default().create_evm(&mut state, env);
    let ctx = EthBlockExecutionCtx {
        parent_hash: header.parent_hash,
        parent_beacon_block_root: header.parent_beacon_block_root,
        ommers: &block.body.ommers,
        withdrawals: block
            .body
            .withdrawals
            .as_ref()
            .map(|w| Cow::Borrowed(w.as_slice())),
        extra_data: header.extra_data.clone(),
        tx_count_hint: Some(transactions.len()),
        slot_number: None,
    };
    let result = match executor {
        Executor::Parallel(engine) => {
            let factory =
                ParallaxBlockExecutorFactory::<WrapDatabaseRef<ChainDb>, _, _>::with_shared_engine(
                    AlloyReceiptBuilder::default(),
                    spec.clone(),
                    Arc::clone(engine),
                );
            let block_executor = factory.create_executor(evm, ctx);
            if !block_executor.runs_parallel() {
                return Err(Rejection::new(
                    Family::Result,
                    "the Parallax executor would not take its parallel path",
                ));
            }
            block_executor.execute_block(transactions.iter())
        }
        Executor::Sequential => {
            let factory = EthBlockExecutorFactory::new(
                AlloyReceiptBuilder::default(),
                spec.clone(),
                EthEvmFactory::default(),
            );
            factory
                .create_executor(evm, ctx)
                .execute_block(transactions.iter())
        }
    }
    .map_err(|error| classify(&error))?;
    check_body_roots(&spec, &block)?;
    state.merge_transitions(BundleRetention::Reverts);
    let bundle = state.take_bundle();
    drop(state);

    let mut world = (*parent.db.state).clone();
    world.apply(
        &changes_from_bundle(&bundle),
        bundle
            .contracts
            .iter()
            .map(|(hash, code)| (*hash, code.clone())),
    );
    let commits = std::mem::take(&mut *commits.lock().expect("commit log"));
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
    check_results(
        &spec,
        header,
        &result,
        &parent.db.state,
        &commits,
        pre_transaction_commits,
        &world,
    )?;

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

/// The DAO fork's irregular state change, applied before the block's transactions as the
/// consensus tests (and geth) do. alloy-evm's executor applies it after them, in `finish`;
/// the difference shows only when the fork block's transactions touch the DAO accounts.
///
/// The fork predates EIP-158, so an account it sets a balance on exists afterwards even if
/// empty, as in geth; revm's `State` deletes empty touched accounts unless they are marked
/// created, so such accounts are written as created.
fn apply_dao_fork(state: &mut State<WrapDatabaseRef<ChainDb>>) -> Result<(), Rejection> {
    let failed = |e: revm::database_interface::bal::EvmDatabaseError<PreStateError>| {
        Rejection::new(Family::Result, format!("DAO fork state change: {e}"))
    };
    let mut changes = AddressMap::<Account>::default();
    let mut drained = U256::ZERO;
    for address in DAO_HARDFORK_ACCOUNTS {
        match state.basic(address).map_err(failed)? {
            Some(info) if info.balance.is_zero() => {}
            Some(info) => {
                drained += info.balance;
                changes.insert(address, set_balance(Some(info), U256::ZERO));
            }
            None => {
                changes.insert(address, set_balance(None, U256::ZERO));
            }
        }
    }
    let beneficiary = state.basic(DAO_HARDFORK_BENEFICIARY).map_err(failed)?;
    let balance = beneficiary.as_ref().map_or(U256::ZERO, |info| info.balance) + drained;
    changes.insert(DAO_HARDFORK_BENEFICIARY, set_balance(beneficiary, balance));
    state.commit(changes);
    Ok(())
}

/// An account with its balance set, kept in existence even when empty (pre-EIP-158).
fn set_balance(prior: Option<revm::state::AccountInfo>, balance: U256) -> Account {
    let mut account = match prior {
        Some(info) => Account::from(info),
        None => Account::new_not_existing(TransactionId::ZERO),
    };
    account.info.balance = balance;
    account.mark_touch();
    if account.is_empty() {
        account.mark_created();
    }
    account
}

/// The family of an executor's error.
fn classify(error: &BlockExecutionError) -> Rejection {
    let family = match error {
        BlockExecutionError::Validation(validation) => match validation {
            BlockValidationError::InvalidTx { .. }
            | BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas { .. }
            | BlockValidationError::EVM { .. }
            | BlockValidationError::BlockGasExceeded => Family::Transaction,
            BlockValidationError::MissingParentBeaconBlockRoot
            | BlockValidationError::CancunGenesisParentBeaconBlockRootNotZero { .. } => {
                Family::Header
            }
            BlockValidationError::IncrementBalanceFailed => Family::Result,
            _ => Family::Requests,
        },
        BlockExecutionError::Internal(internal) if internal.as_evm().is_some() => {
            Family::Transaction
        }
        BlockExecutionError::Internal(_) => Family::Result,
    };
    Rejection::new(family, error.to_string())
}

/// Compares what execution produced with the header.
fn check_results(
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
