//! Executing one block of a test chain on the executor under test, over its parent's state,
//! with every commit logged (the DAO fork's irregular change first, where it applies).

use super::{
    chain_spec::TestChainSpec,
    rejection::{Family, Rejection},
    world_state::ChainDb,
};
use crate::{
    execution::{drive_streaming, execute_indexed},
    state::pre_state_error::PreStateError,
};
use alloy_consensus::{Block, ReceiptEnvelope, TxEnvelope, transaction::Recovered};
use alloy_eips::eip7928::BlockAccessList;
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
use alloy_primitives::U256;
use parallax_adapters::{ParallaxBlockExecutorFactory, ParallaxExecutionCtx, StreamedBlock};
use parallax_engine::ParallelExecutor;
use revm::{
    Database, DatabaseCommit,
    database::{BundleState, State, WrapDatabaseRef, states::bundle_state::BundleRetention},
    primitives::AddressMap,
    state::{Account, EvmState, TransactionId, bal::Bal},
};
use std::{
    borrow::Cow,
    sync::{Arc, Mutex},
    time::Instant,
};

/// Which executor imports the blocks.
#[derive(Debug, Clone)]
pub enum Executor {
    /// The Parallax executor, forced onto its parallel path for every block.
    Parallel(Arc<ParallelExecutor>),
    /// The Parallax executor driven transaction by transaction as reth's engine tree drives
    /// it (pre-execution changes, `execute_transaction` with `receipts().last()` after each,
    /// `finish`), with the block's transactions in its context, forced onto its parallel
    /// path.
    ParallelStreaming(Arc<ParallelExecutor>),
    /// alloy-evm's stock executor: plain sequential revm.
    Sequential,
    /// The Parallax executor handed each block with the access list it came with
    /// (EIP-7928; a `State` that reads from it, as a client does with the list delivered
    /// beside the payload): every transaction at once from the list. Blocks without a list
    /// run as under [`Executor::Parallel`].
    ParallelFromList(Arc<ParallelExecutor>),
    /// alloy-evm's stock executor on a `State` that reads from the block's access list,
    /// transaction by transaction at their indices (alloy-evm's indexed path).
    SequentialFromList,
}

impl Executor {
    /// Stock revm driven the same way: what the executor under test is compared with.
    pub fn stock(&self) -> Self {
        if self.reads_list() {
            Self::SequentialFromList
        } else {
            Self::Sequential
        }
    }

    /// Whether this is stock revm.
    pub const fn is_stock(&self) -> bool {
        matches!(self, Self::Sequential | Self::SequentialFromList)
    }

    /// Whether blocks are executed from the access list they come with.
    pub const fn reads_list(&self) -> bool {
        matches!(self, Self::ParallelFromList(_) | Self::SequentialFromList)
    }
}

/// What executing a block produced.
pub(super) struct BlockExecution {
    /// Receipts, requests and gas.
    pub(super) result: BlockExecutionResult<ReceiptEnvelope>,
    /// The state changes.
    pub(super) bundle: BundleState,
    /// Every state change committed, in order.
    pub(super) commits: Vec<EvmState>,
    /// How many of `commits` came before the first transaction.
    pub(super) pre_transaction_commits: usize,
    /// The EIP-7928 access list revm's `State` built from the commits (Amsterdam on).
    pub(super) access_list: Option<BlockAccessList>,
    /// The rules the block ran under (without the DAO fork once it has been applied).
    pub(super) spec: TestChainSpec,
}

/// Executes `block`, whose senders are recovered in `transactions`, over `parent_db`; from
/// `delivered`, the access list it came with, where the executor reads lists.
pub(super) fn execute_block(
    parent_db: &ChainDb,
    spec: TestChainSpec,
    block: &Block<TxEnvelope>,
    transactions: &[Recovered<TxEnvelope>],
    delivered: Option<&BlockAccessList>,
    executor: &Executor,
) -> Result<BlockExecution, Rejection> {
    let commits: Arc<Mutex<Vec<EvmState>>> = Arc::default();
    let sink = Arc::clone(&commits);
    let amsterdam = spec.is_amsterdam_active_at_timestamp(block.header.timestamp);
    let mut state = State::builder()
        .with_database_ref(parent_db.clone())
        .with_bundle_update()
        .with_bal_builder_if(amsterdam)
        .build()
        .with_state_hook(Some(Box::new(move |changes: EvmState| {
            sink.lock().expect("commit log").push(changes)
        })));
    if let Some(list) = delivered.filter(|_| executor.reads_list()) {
        let list = Bal::try_from_alloy(list.clone()).map_err(|error| {
            Rejection::new(
                Family::AccessList,
                format!("the delivered access list holds undecodable code: {error}"),
            )
        })?;
        state.set_bal(Some(Arc::new(list)));
    }
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
        slot_number: header.slot_number,
    };
    let result = match executor {
        Executor::Parallel(engine)
        | Executor::ParallelStreaming(engine)
        | Executor::ParallelFromList(engine) => {
            let factory =
                ParallaxBlockExecutorFactory::<WrapDatabaseRef<ChainDb>, _, _>::with_shared_engine(
                    AlloyReceiptBuilder::default(),
                    spec.clone(),
                    Arc::clone(engine),
                );
            let streaming = matches!(executor, Executor::ParallelStreaming(_));
            let ctx = if streaming {
                let streamed =
                    StreamedBlock::from_recovered(transactions.iter(), parent_db.clone());
                ParallaxExecutionCtx::streaming(ctx, streamed)
            } else {
                ctx.into()
            };
            let block_executor = factory.create_executor(evm, ctx);
            if !block_executor.runs_parallel() {
                return Err(Rejection::new(
                    Family::Result,
                    "the Parallax executor would not take its parallel path",
                ));
            }
            if streaming {
                // The first failing call ends the block, as in reth's engine tree.
                drive_streaming(block_executor, transactions, Instant::now(), |_| 0)
                    .map(|(result, _)| result)
            } else {
                block_executor.execute_block(transactions.iter())
            }
        }
        Executor::Sequential | Executor::SequentialFromList => {
            let factory = EthBlockExecutorFactory::new(
                AlloyReceiptBuilder::default(),
                spec.clone(),
                EthEvmFactory::default(),
            );
            execute_indexed(factory.create_executor(evm, ctx), transactions)
        }
    }
    .map_err(|error| classify(&error))?;
    let access_list = state.take_built_alloy_bal();
    state.merge_transitions(BundleRetention::Reverts);
    let bundle = state.take_bundle();
    drop(state);
    let commits = std::mem::take(&mut *commits.lock().expect("commit log"));
    Ok(BlockExecution {
        result,
        bundle,
        commits,
        pre_transaction_commits,
        access_list,
        spec,
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
    // A read the delivered access list does not cover (stock revm's `State`), or a list the
    // Parallax executor found not to be what the transactions did.
    let text = error.to_string();
    let family = if text.contains("not found in BAL") || text.contains("block access list, index") {
        Family::AccessList
    } else {
        family
    };
    Rejection::new(family, text)
}
