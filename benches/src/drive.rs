//! The whole adapter path timed as a client drives it: the Parallax executor against
//! alloy-evm's stock `EthBlockExecutor`, both through revm's `State` from the pre-execution
//! changes to the bundle, handed the block with `execute_block` or driven transaction by
//! transaction as reth's engine tree drives an executor (`parallax bench --drive`).

use crate::{
    measure::median,
    suite::{policy_name, round3},
    workload::{SyntheticBlock, WorkloadDb},
};
use alloy_consensus::{Signed, TxEip1559, TxEnvelope, TxLegacy, transaction::Recovered};
use alloy_evm::{
    EvmEnv, EvmFactory, FromRecoveredTx,
    block::{BlockExecutionError, BlockExecutor, BlockExecutorFactory, ExecutableTx},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder, spec::EthSpec,
    },
};
use alloy_primitives::{Bytes, Signature, U256};
use parallax_adapters::{ParallaxBlockExecutorFactory, ParallaxExecutionCtx, StreamedBlock};
use parallax_engine::{ExecutionPolicy, ParallelExecutor, execute_sequential};
use rayon::prelude::*;
use revm::{
    context::TxEnv,
    database::{State, WrapDatabaseRef, states::bundle_state::BundleRetention},
};
use serde::Serialize;
use std::{
    borrow::Cow,
    num::NonZeroUsize,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// How the client hands a block to the executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drive {
    /// `execute_block`.
    Block,
    /// Pre-execution changes, `execute_transaction` per transaction, `finish`; the Parallax
    /// executor gets the block's transactions in its context.
    Streaming,
}

impl Drive {
    /// The name in reports and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Streaming => "streaming",
        }
    }
}

/// One run of the adapter path.
#[derive(Clone, Copy, Debug)]
pub struct DriveTiming {
    /// From building `State` to the bundle taken.
    pub total: Duration,
    /// From the start to the first receipt (streamed runs only).
    pub first_receipt: Option<Duration>,
    /// Transactions whose results came from the engine's parallel run (Parallax streamed).
    pub from_workers: usize,
}

/// One workload driven one way (the JSON line of `parallax bench --drive`).
#[derive(Clone, Debug, Serialize)]
pub struct DriveReport {
    /// Workload name (`block N` for a recorded block).
    pub workload: String,
    /// Transactions in the block.
    pub txs: usize,
    /// Worker threads of the Parallax engine.
    pub threads: usize,
    /// The engine's policy.
    pub policy: &'static str,
    /// `"block"` or `"streaming"`.
    pub drive: &'static str,
    /// Median wall time of the stock executor driven this way.
    pub stock_ms: f64,
    /// Median wall time of the Parallax executor driven this way.
    pub parallax_ms: f64,
    /// `stock_ms / parallax_ms`.
    pub speedup: f64,
    /// The same speedup with both executors handed the block with `execute_block`, in the
    /// same run (equal to `speedup` when `drive` is `"block"`).
    pub block_speedup: f64,
    /// `speedup / block_speedup`: how much of the block-driven speedup streaming keeps.
    pub kept: f64,
    /// Median time to the first receipt, stock executor (streaming only).
    pub stock_first_receipt_ms: Option<f64>,
    /// Median time to the first receipt, Parallax executor (streaming only).
    pub parallax_first_receipt_ms: Option<f64>,
    /// Of the streamed transactions, how many got their results from the parallel run.
    pub from_workers: Option<usize>,
    /// Threads of the prewarming pass beside every run (0: none).
    pub prewarm_threads: usize,
}

/// Times `runs` (stock and Parallax driven `drive`, and both driven with `execute_block`
/// when `drive` is streaming), taking turns for `rounds` rounds, and reports the medians.
/// Each closure runs the whole path once.
pub fn measure_drives(
    workload: &str,
    txs: usize,
    threads: usize,
    policy: ExecutionPolicy,
    drive: Drive,
    rounds: usize,
    mut run: impl FnMut(Side, Drive) -> Result<DriveTiming, String>,
) -> Result<DriveReport, String> {
    let mut plan = vec![(Side::Stock, drive), (Side::Parallax, drive)];
    if drive == Drive::Streaming {
        plan.extend([(Side::Stock, Drive::Block), (Side::Parallax, Drive::Block)]);
    }
    let mut samples = vec![Vec::new(); plan.len()];
    let mut first_receipts = vec![Vec::new(); plan.len()];
    let mut from_workers = None;
    for round in 0..rounds.max(1) {
        for turn in 0..plan.len() {
            let which = (round + turn) % plan.len();
            let (side, how) = plan[which];
            let timing = run(side, how)?;
            samples[which].push(timing.total);
            first_receipts[which].extend(timing.first_receipt);
            if side == Side::Parallax && how == Drive::Streaming {
                from_workers = Some(timing.from_workers);
            }
        }
    }
    let medians: Vec<Duration> = samples.iter_mut().map(|s| median(s)).collect();
    let first: Vec<Option<f64>> = first_receipts
        .iter_mut()
        .map(|s| (!s.is_empty()).then(|| round3(median(s).as_secs_f64() * 1e3)))
        .collect();
    let speedup = round3(medians[0].as_secs_f64() / medians[1].as_secs_f64());
    let block_speedup = if drive == Drive::Streaming {
        round3(medians[2].as_secs_f64() / medians[3].as_secs_f64())
    } else {
        speedup
    };
    Ok(DriveReport {
        workload: workload.to_owned(),
        txs,
        threads,
        policy: policy_name(policy),
        drive: drive.name(),
        stock_ms: round3(medians[0].as_secs_f64() * 1e3),
        parallax_ms: round3(medians[1].as_secs_f64() * 1e3),
        speedup,
        block_speedup,
        kept: round3(speedup / block_speedup),
        stock_first_receipt_ms: first[0],
        parallax_first_receipt_ms: first[1],
        from_workers,
        prewarm_threads: 0,
    })
}

/// Which executor a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// alloy-evm's `EthBlockExecutor`.
    Stock,
    /// The Parallax executor.
    Parallax,
}

/// The database under `State` for synthetic blocks.
type DriveDb = WrapDatabaseRef<Arc<WorkloadDb>>;

/// The stock and Parallax executor factories for synthetic blocks.
pub struct DriveBench {
    stock: EthBlockExecutorFactory<AlloyReceiptBuilder, EthSpec, EthEvmFactory>,
    parallax: ParallaxBlockExecutorFactory<DriveDb>,
    threads: usize,
    policy: ExecutionPolicy,
    /// A pool that pre-executes the block's transactions beside every run, as reth's
    /// prewarming does.
    prewarm: Option<rayon::ThreadPool>,
}

impl std::fmt::Debug for DriveBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriveBench")
            .field("threads", &self.threads)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl DriveBench {
    /// Factories with a Parallax engine of `threads` workers under `policy`.
    pub fn new(threads: NonZeroUsize, policy: ExecutionPolicy) -> Result<Self, String> {
        let engine = ParallelExecutor::new(threads)
            .map_err(|error| format!("cannot start {threads} worker threads: {error}"))?
            .with_policy(policy);
        Ok(Self {
            stock: EthBlockExecutorFactory::new(
                AlloyReceiptBuilder::default(),
                EthSpec::mainnet(),
                EthEvmFactory::default(),
            ),
            parallax: ParallaxBlockExecutorFactory::mainnet(engine),
            threads: threads.get(),
            policy,
            prewarm: None,
        })
    }

    /// Runs a prewarming pass on `threads` threads beside every run, of either executor:
    /// each transaction executed on its own against the pre-state and its result dropped,
    /// stopped when the block is done, as reth pre-executes transactions to warm its caches.
    pub fn with_prewarm(mut self, threads: NonZeroUsize) -> Result<Self, String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.get())
            .thread_name(|i| format!("prewarm-{i}"))
            .build()
            .map_err(|error| format!("cannot start {threads} prewarming threads: {error}"))?;
        self.prewarm = Some(pool);
        Ok(self)
    }

    /// Measures the synthetic `block` driven `drive`. Fails when the two executors'
    /// receipts or bundles differ.
    pub fn measure(
        &self,
        block: &SyntheticBlock,
        drive: Drive,
        rounds: usize,
    ) -> Result<DriveReport, String> {
        let db = Arc::new(block.db.clone());
        let env = EvmEnv {
            cfg_env: block.cfg.clone(),
            block_env: block.block.clone(),
        };
        // The block behind a reference count, as a client holds it.
        let txs: Arc<[Recovered<TxEnvelope>]> = envelopes(&block.txs)?.into();
        // One checking run of each: the same receipts and the same bundle.
        for how in [Drive::Block, drive] {
            let stock = self.run(Side::Stock, how, &db, &env, &txs, &block.txs)?;
            let ours = self.run(Side::Parallax, how, &db, &env, &txs, &block.txs)?;
            if stock.1 != ours.1 {
                return Err(format!(
                    "driven {}: the Parallax executor's result differs from the stock one",
                    how.name()
                ));
            }
        }
        measure_drives(
            block.name,
            txs.len(),
            self.threads,
            self.policy,
            drive,
            rounds,
            |side, how| Ok(self.run(side, how, &db, &env, &txs, &block.txs)?.0),
        )
        .map(|mut report| {
            report.prewarm_threads = self.prewarm.as_ref().map_or(0, |p| p.current_num_threads());
            report
        })
    }

    /// Runs `drive_once` with the prewarming pass beside it, when there is one.
    fn beside_prewarm<T>(
        &self,
        db: &WorkloadDb,
        env: &EvmEnv,
        tx_envs: &[TxEnv],
        drive_once: impl FnOnce() -> T,
    ) -> T {
        let Some(pool) = &self.prewarm else {
            return drive_once();
        };
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                pool.install(|| {
                    tx_envs.par_iter().for_each(|tx| {
                        if !done.load(Ordering::Relaxed) {
                            let single = std::slice::from_ref(tx);
                            let _ = execute_sequential(db, &env.cfg_env, &env.block_env, single);
                        }
                    });
                });
            });
            let result = drive_once();
            done.store(true, Ordering::Relaxed);
            result
        })
    }

    /// Runs the whole adapter path once; returns its timing and what it produced.
    fn run(
        &self,
        side: Side,
        drive: Drive,
        db: &Arc<WorkloadDb>,
        env: &EvmEnv,
        txs: &Arc<[Recovered<TxEnvelope>]>,
        tx_envs: &[TxEnv],
    ) -> Result<(DriveTiming, RunResult), String> {
        self.beside_prewarm(db, env, tx_envs, || {
            self.run_once(side, drive, db, env, txs)
        })
    }

    fn run_once(
        &self,
        side: Side,
        drive: Drive,
        db: &Arc<WorkloadDb>,
        env: &EvmEnv,
        txs: &Arc<[Recovered<TxEnvelope>]>,
    ) -> Result<(DriveTiming, RunResult), String> {
        let start = Instant::now();
        let mut state = State::builder()
            .with_database_ref(Arc::clone(db))
            .with_bundle_update()
            .build();
        let (receipts, first_receipt, from_workers) = match side {
            Side::Stock => {
                let evm = self.stock.evm_factory().create_evm(&mut state, env.clone());
                let executor = self.stock.create_executor(evm, ctx());
                let (receipts, first) = drive_executor(executor, drive, txs, start, |_| 0)?;
                (receipts, first.0, first.1)
            }
            Side::Parallax => {
                let evm = self
                    .parallax
                    .evm_factory()
                    .create_evm(&mut state, env.clone());
                let ctx = match drive {
                    Drive::Block => ctx().into(),
                    Drive::Streaming => ParallaxExecutionCtx::streaming(
                        ctx(),
                        StreamedBlock::from_shared_recovered(Arc::clone(txs), Arc::clone(db)),
                    ),
                };
                let executor = self.parallax.create_executor(evm, ctx);
                let (receipts, first) = drive_executor(executor, drive, txs, start, |e| {
                    e.transactions_from_workers()
                })?;
                (receipts, first.0, first.1)
            }
        };
        state.merge_transitions(BundleRetention::Reverts);
        let bundle = state.take_bundle();
        let total = start.elapsed();
        let timing = DriveTiming {
            total,
            first_receipt,
            from_workers,
        };
        Ok((timing, RunResult { receipts, bundle }))
    }
}

/// What a run produced, for the checking runs.
#[derive(PartialEq)]
struct RunResult {
    receipts: Vec<alloy_consensus::ReceiptEnvelope>,
    bundle: revm::database::BundleState,
}

/// The receipts, and for a streamed run the time to the first receipt and how many results
/// came from the workers.
type Driven = (
    Vec<alloy_consensus::ReceiptEnvelope>,
    (Option<Duration>, usize),
);

fn drive_executor<Ex>(
    mut executor: Ex,
    drive: Drive,
    txs: &[Recovered<TxEnvelope>],
    start: Instant,
    from_workers: impl FnOnce(&Ex) -> usize,
) -> Result<Driven, String>
where
    Ex: BlockExecutor<Receipt = alloy_consensus::ReceiptEnvelope>,
    for<'t> &'t Recovered<TxEnvelope>: ExecutableTx<Ex>,
{
    let failed = |error: BlockExecutionError| error.to_string();
    if drive == Drive::Block {
        let result = executor.execute_block(txs.iter()).map_err(failed)?;
        return Ok((result.receipts, (None, 0)));
    }
    executor.apply_pre_execution_changes().map_err(failed)?;
    let mut first_receipt = None;
    for tx in txs {
        executor.execute_transaction(tx).map_err(failed)?;
        if executor.receipts().last().is_none() {
            return Err("no receipt after a transaction".to_owned());
        }
        first_receipt.get_or_insert_with(|| start.elapsed());
    }
    let from_workers = from_workers(&executor);
    let (_, result) = executor.finish().map_err(failed)?;
    Ok((result.receipts, (first_receipt, from_workers)))
}

fn ctx() -> EthBlockExecutionCtx<'static> {
    EthBlockExecutionCtx {
        parent_hash: Default::default(),
        // The synthetic blocks' timestamps make them Cancun blocks to the mainnet spec.
        parent_beacon_block_root: Some(Default::default()),
        ommers: &[],
        withdrawals: Some(Cow::Owned(Vec::new())),
        extra_data: Bytes::new(),
        tx_count_hint: None,
        slot_number: None,
    }
}

/// Signed-looking transactions for synthetic `TxEnv`s, with their senders given (the
/// executors never check signatures of recovered transactions). Each converts back to
/// exactly its `TxEnv`, so both executors run the workload's transactions.
fn envelopes(txs: &[TxEnv]) -> Result<Vec<Recovered<TxEnvelope>>, String> {
    let signature = Signature::new(U256::from(1), U256::from(1), false);
    txs.iter()
        .enumerate()
        .map(|(index, tx)| {
            let envelope = match tx.tx_type {
                0 => TxEnvelope::Legacy(Signed::new_unhashed(
                    TxLegacy {
                        chain_id: tx.chain_id,
                        nonce: tx.nonce,
                        gas_price: tx.gas_price,
                        gas_limit: tx.gas_limit,
                        to: tx.kind,
                        value: tx.value,
                        input: tx.data.clone(),
                    },
                    signature,
                )),
                2 => TxEnvelope::Eip1559(Signed::new_unhashed(
                    TxEip1559 {
                        chain_id: tx.chain_id.unwrap_or(1),
                        nonce: tx.nonce,
                        gas_limit: tx.gas_limit,
                        max_fee_per_gas: tx.gas_price,
                        max_priority_fee_per_gas: tx.gas_priority_fee.unwrap_or_default(),
                        to: tx.kind,
                        value: tx.value,
                        access_list: tx.access_list.clone(),
                        input: tx.data.clone(),
                    },
                    signature,
                )),
                other => return Err(format!("transaction {index}: type {other} not driven")),
            };
            let recovered = Recovered::new_unchecked(envelope, tx.caller);
            let back = TxEnv::from_recovered_tx(recovered.inner(), tx.caller);
            if back != *tx {
                return Err(format!(
                    "transaction {index} does not survive the trip through an envelope"
                ));
            }
            Ok(recovered)
        })
        .collect()
}
