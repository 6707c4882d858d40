//! The public entry point: executes a block's transactions with Block-STM on a pool of
//! worker threads, or sequentially where that is the better choice.

use crate::{
    assemble::{Unassembled, order},
    blockstm::{
        BlockRun, MvMemory,
        speculation::{SpeculationMonitor, StopRule},
        versioned_db::{VersionedDb, VersionedDbError},
    },
    chain::{
        block_gas::BlockGasMeter,
        known_dependencies::{AddressScratch, KnownDependencies},
    },
    error::{ExecutionError, TxFailure},
    location::TxIdx,
    output::{BlockOutput, ExecutionStats, TxOutput},
    sequential::{continue_in_order, execute_sequential, run_in_order},
    stream::BlockStream,
};
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
    database::State,
};
use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

/// Blocks with fewer transactions than this run sequentially under [`ExecutionPolicy::Auto`]:
/// with so little work, starting the workers costs more than it saves.
pub const MIN_PARALLEL_TXS: usize = 4;

/// Blocks whose transactions' gas limits add up to less than this run sequentially under
/// [`ExecutionPolicy::Auto`]: waking the workers and assembling the output cost about
/// 100 µs, as much as such a block takes to execute (on the recorded mainnet blocks, most
/// blocks below this ran slower in parallel at 2 threads; see BENCHMARKS.md).
pub const MIN_PARALLEL_GAS: u64 = 8_000_000;

/// Blocks whose known dependencies (chains of transactions from one sender, or sent by an
/// account an earlier transaction paid) leave less parallelism than this run sequentially
/// under [`ExecutionPolicy::Auto`]. Parallelism is the block's total gas limit over that of
/// its heaviest chain. On the recorded mainnet blocks every block below 1.5 ran slower in
/// parallel than sequentially at 2 threads (see BENCHMARKS.md).
pub const MIN_PARALLELISM: f64 = 1.5;

/// Blocks whose transactions' mean gas limit is below this (plain transfers) run
/// sequentially under [`ExecutionPolicy::Auto`] on fewer than [`CHEAP_TXS_MIN_THREADS`]
/// threads: the engine's bookkeeping costs about as much as such a transaction (1.8x
/// sequential's time at one thread on gigagas blocks of transfers), which two threads do not
/// make up for (0.76-0.92x at 2 threads; see BENCHMARKS.md).
pub const CHEAP_TX_GAS: u64 = 30_000;

/// From this many threads on, blocks of cheap transactions run in parallel under
/// [`ExecutionPolicy::Auto`]: the 1.8x cost of the bookkeeping is then outweighed.
pub const CHEAP_TXS_MIN_THREADS: usize = 4;

/// Under [`ExecutionPolicy::Auto`], a parallel run stops speculating when a window of
/// consecutive transactions shows less parallelism than this in the dependencies found while
/// it runs (its gas over the gas of its heaviest chain of reads of earlier writes), and the
/// rest of the block runs in order.
pub const MIN_RUNTIME_PARALLELISM: f64 = 1.75;

/// When to use the parallel path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExecutionPolicy {
    /// Decide per block, before and while it runs: sequential for one thread, fewer than
    /// [`MIN_PARALLEL_TXS`] transactions, less than [`MIN_PARALLEL_GAS`] of gas limit,
    /// known dependencies leaving less than [`MIN_PARALLELISM`], or cheap transactions
    /// ([`CHEAP_TX_GAS`]) on few threads; otherwise Block-STM, which switches to running the
    /// rest of the block in order when the dependencies it finds leave less than
    /// [`MIN_RUNTIME_PARALLELISM`].
    #[default]
    Auto,
    /// Always run Block-STM to the end, even for one transaction or one thread (for
    /// testing and for measuring it).
    AlwaysParallel,
    /// Always run plain sequential revm.
    AlwaysSequential,
    /// Run Block-STM until this many executions have finished, then the rest of the block in
    /// order from the validated prefix: the switch [`Self::Auto`] makes when speculation stops
    /// paying, at a chosen point (for testing it).
    SwitchToInOrderAfter(usize),
}

/// What a policy decides for a block before it runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Plan {
    /// Plain sequential revm, for this reason.
    Sequential(SequentialBecause),
    /// Block-STM.
    Parallel {
        /// Total gas limit over that of the heaviest known chain (same sender, or sent by
        /// an account an earlier transaction paid).
        known_parallelism: f64,
        /// Whether the run may stop speculating and finish in order.
        watched: bool,
    },
}

/// Why a block runs sequentially.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SequentialBecause {
    /// The policy says so.
    Policy,
    /// One thread has nothing to share.
    OneThread,
    /// Fewer transactions than [`MIN_PARALLEL_TXS`].
    FewTransactions(usize),
    /// Less total gas limit than [`MIN_PARALLEL_GAS`].
    LittleGas(u64),
    /// Known dependency chains leave less than [`MIN_PARALLELISM`].
    KnownChains(f64),
    /// A mean gas limit per transaction below [`CHEAP_TX_GAS`] on few threads.
    CheapTransactions(u64),
}

impl Plan {
    /// Whether Block-STM runs.
    pub const fn is_parallel(&self) -> bool {
        matches!(self, Self::Parallel { .. })
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Parallel {
                known_parallelism,
                watched,
            } => {
                write!(
                    f,
                    "parallel: known dependencies leave a parallelism of {known_parallelism:.2}"
                )?;
                if *watched {
                    write!(
                        f,
                        "; finishes in order if the chains found while running leave less than {MIN_RUNTIME_PARALLELISM}"
                    )?;
                }
                Ok(())
            }
            Self::Sequential(because) => {
                write!(f, "sequential: ")?;
                match because {
                    SequentialBecause::Policy => write!(f, "the policy says so"),
                    SequentialBecause::OneThread => write!(f, "one thread"),
                    SequentialBecause::FewTransactions(n) => {
                        write!(f, "{n} transactions, fewer than {MIN_PARALLEL_TXS}")
                    }
                    SequentialBecause::LittleGas(gas) => {
                        write!(f, "total gas limit {gas}, less than {MIN_PARALLEL_GAS}")
                    }
                    SequentialBecause::KnownChains(p) => write!(
                        f,
                        "known dependency chains leave a parallelism of {p:.2}, less than {MIN_PARALLELISM}"
                    ),
                    SequentialBecause::CheapTransactions(mean) => write!(
                        f,
                        "mean gas limit {mean} per transaction, below {CHEAP_TX_GAS}, on fewer than {CHEAP_TXS_MIN_THREADS} threads"
                    ),
                }
            }
        }
    }
}

/// Executes blocks of transactions in parallel with results identical to sequential revm.
#[derive(Debug)]
pub struct ParallelExecutor {
    threads: NonZeroUsize,
    policy: ExecutionPolicy,
    record_access: bool,
    pool: rayon::ThreadPool,
    /// The multi-version memory of the last block, cleared, for the next block to reuse.
    spare_memory: Mutex<Option<MvMemory>>,
    /// The known-dependency pass's map of the last block, for the next block to reuse.
    spare_scan: Mutex<AddressScratch>,
}

impl ParallelExecutor {
    /// An executor with `threads` worker threads.
    pub fn new(threads: NonZeroUsize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.get())
            .thread_name(|i| format!("parallax-worker-{i}"))
            .build()?;
        Ok(Self {
            threads,
            policy: ExecutionPolicy::Auto,
            record_access: false,
            pool,
            spare_memory: Mutex::default(),
            spare_scan: Mutex::default(),
        })
    }

    /// An executor with one worker per available CPU.
    pub fn with_available_parallelism() -> Result<Self, rayon::ThreadPoolBuildError> {
        Self::new(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }

    /// Sets when the parallel path is used.
    pub const fn with_policy(mut self, policy: ExecutionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Changes when the parallel path is used, keeping the worker threads.
    pub const fn set_policy(&mut self, policy: ExecutionPolicy) {
        self.policy = policy;
    }

    /// Sets whether parallel runs return every transaction's read and write locations in
    /// [`BlockOutput::access`] (for analysing a block's conflicts; off by default because
    /// collecting them costs time).
    pub const fn with_access_sets(mut self, record: bool) -> Self {
        self.record_access = record;
        self
    }

    /// Number of worker threads.
    pub const fn threads(&self) -> NonZeroUsize {
        self.threads
    }

    /// Whether a block of `txs` takes the parallel path.
    pub fn runs_parallel(&self, txs: &[TxEnv]) -> bool {
        self.plan(txs).is_parallel()
    }

    /// What the policy decides for a block of `txs` before it runs, and why.
    pub fn plan(&self, txs: &[TxEnv]) -> Plan {
        self.parallel_plan(txs).0
    }

    /// The plan, with the known dependencies of `txs` when they take the parallel path.
    fn parallel_plan(&self, txs: &[TxEnv]) -> (Plan, Option<KnownDependencies>) {
        let known = || {
            let mut scratch = self.spare_scan.lock().expect("scratch lock poisoned");
            KnownDependencies::of_reusing(txs, &mut scratch)
        };
        let parallel = |known: KnownDependencies, watched: bool| {
            let plan = Plan::Parallel {
                known_parallelism: known.parallelism(),
                watched,
            };
            (plan, Some(known))
        };
        let sequential = |because| (Plan::Sequential(because), None);
        match self.policy {
            ExecutionPolicy::AlwaysSequential => sequential(SequentialBecause::Policy),
            ExecutionPolicy::AlwaysParallel => parallel(known(), false),
            ExecutionPolicy::SwitchToInOrderAfter(_) => parallel(known(), true),
            ExecutionPolicy::Auto => {
                let threads = self.threads.get();
                if threads == 1 {
                    return sequential(SequentialBecause::OneThread);
                }
                if txs.len() < MIN_PARALLEL_TXS {
                    return sequential(SequentialBecause::FewTransactions(txs.len()));
                }
                // Gas limits first: they cost a pass over the block, not a map per sender.
                let total_gas = txs
                    .iter()
                    .fold(0u64, |sum, tx| sum.saturating_add(tx.gas_limit));
                if total_gas < MIN_PARALLEL_GAS {
                    return sequential(SequentialBecause::LittleGas(total_gas));
                }
                let mean_gas = total_gas / txs.len() as u64;
                if mean_gas < CHEAP_TX_GAS && threads < CHEAP_TXS_MIN_THREADS {
                    return sequential(SequentialBecause::CheapTransactions(mean_gas));
                }
                let known = known();
                if known.parallelism() < MIN_PARALLELISM {
                    return sequential(SequentialBecause::KnownChains(known.parallelism()));
                }
                parallel(known, SpeculationMonitor::watches(txs.len()))
            }
        }
    }

    /// When a parallel run stops speculating.
    fn stop_rule(&self) -> StopRule {
        match self.policy {
            ExecutionPolicy::Auto => StopRule::BelowParallelism(MIN_RUNTIME_PARALLELISM),
            ExecutionPolicy::SwitchToInOrderAfter(executions) => {
                StopRule::AfterExecutions(executions)
            }
            ExecutionPolicy::AlwaysParallel | ExecutionPolicy::AlwaysSequential => StopRule::Never,
        }
    }

    /// Executes `txs` in order on top of `db` in the block described by `cfg` and `block`.
    ///
    /// The result equals [`execute_sequential`]'s: the same results, gas, logs and state
    /// changes for every transaction, at any thread count. An invalid transaction, a block
    /// gas overrun or a database error fails the whole block, naming the transaction.
    pub fn execute<DB>(
        &self,
        db: &DB,
        cfg: &CfgEnv,
        block: &BlockEnv,
        txs: &[TxEnv],
    ) -> Result<BlockOutput, ExecutionError<DB::Error>>
    where
        DB: DatabaseRef + Sync,
        DB::Error: Send,
    {
        match self.parallel_plan(txs) {
            (_, Some(known)) => self.execute_parallel(db, cfg, block, txs, &known),
            (_, None) => execute_sequential(db, cfg, block, txs),
        }
    }

    /// Executes `txs` on the workers in the background and streams each transaction's
    /// output in block order as soon as it is final, while later transactions still run
    /// (see [`BlockStream`]). The policy decides as for [`Self::execute`]: a block it runs
    /// sequentially streams [`Streamed::InOrderFrom`](crate::Streamed::InOrderFrom)`(0)` at once, and a run that stops
    /// speculating streams [`Streamed::InOrderFrom`](crate::Streamed::InOrderFrom) where it stopped; the caller executes
    /// the rest in order (on top of the outputs streamed so far).
    ///
    /// The stream owns what the workers read, so that it can live across calls.
    pub fn stream<DB>(
        &self,
        db: DB,
        cfg: CfgEnv,
        block: BlockEnv,
        txs: Arc<[TxEnv]>,
    ) -> BlockStream<'_, DB>
    where
        DB: DatabaseRef + Send + Sync + 'static,
        DB::Error: Send + 'static,
    {
        match self.parallel_plan(&txs).1 {
            None => BlockStream::in_order(cfg, block, txs.len()),
            Some(known) => {
                let run = self.new_run(&block, &txs, &known);
                let pieces = (db, cfg, block, txs, known.busy_recipients);
                BlockStream::start(&self.pool, &self.spare_memory, run, pieces)
            }
        }
    }

    /// A fresh run of `txs`, on the memory of the last block when there is one.
    fn new_run<E>(
        &self,
        block: &BlockEnv,
        txs: &[TxEnv],
        known: &KnownDependencies,
    ) -> BlockRun<E> {
        let spare = self
            .spare_memory
            .lock()
            .expect("spare lock poisoned")
            .take();
        let memory = match spare {
            Some(mut memory) => {
                memory.reset(txs.len(), block.beneficiary, &known.busy_recipients);
                memory
            }
            None => MvMemory::new(txs.len(), block.beneficiary, &known.busy_recipients),
        };
        let monitor = SpeculationMonitor::new(self.stop_rule(), txs.len());
        let run = BlockRun::new(memory, txs.len(), self.threads.get(), monitor);
        run.memory.seed_known_dependencies(known, txs);
        run
    }

    fn execute_parallel<DB>(
        &self,
        db: &DB,
        cfg: &CfgEnv,
        block: &BlockEnv,
        txs: &[TxEnv],
        known: &KnownDependencies,
    ) -> Result<BlockOutput, ExecutionError<DB::Error>>
    where
        DB: DatabaseRef + Sync,
        DB::Error: Send,
    {
        let run = self.new_run(block, txs, known);
        self.pool.broadcast(|worker| {
            run.work(worker.index(), db, cfg, block, txs, &known.busy_recipients)
        });

        // A stopped run keeps the outcomes that are final; the rest of the block runs in
        // order on top of them.
        let prefix = if run.completed() {
            txs.len()
        } else {
            self.pool.install(|| run.committed_prefix())
        };
        let in_order_from = (!run.completed()).then_some(prefix);
        let switch_reason = run.monitor.take_reason();
        let access = (self.record_access && in_order_from.is_none()).then(|| {
            (0..txs.len())
                .map(|tx| run.memory.take_access_sets(tx))
                .collect()
        });
        let BlockRun {
            mut memory,
            mut outcomes,
            executions,
            validations,
            dependency_waits,
            ..
        } = run;
        outcomes.truncate(prefix);
        let rest = &txs[prefix..];
        // The rest of a stopped block runs in order either on revm's `State` with the
        // prefix's outputs committed into it (about 1.1 us per committed transaction) or
        // reading the prefix's results from the memory (about 0.25 us more per transaction
        // run; both measured on ERC-20 transfers): whichever costs less.
        let rest_on_memory = !rest.is_empty() && 4 * prefix > rest.len();
        let outputs = order(db, cfg, block, &txs[..prefix], outcomes, &memory).map(|ordered| {
            let gas = BlockGasMeter::resumed(cfg, block, ordered.gas_used);
            if rest_on_memory {
                let (transactions, rest) = self.pool.install(|| {
                    rayon::join(
                        || ordered.into_outputs(),
                        || run_rest_on_memory(db, &memory, cfg, block, rest, prefix, gas),
                    )
                });
                memory.clear();
                return rest.map(|(rest, gas)| (transactions, Some(rest), gas));
            }
            // The pool builds the outputs and clears the memory for the next block at once.
            let (transactions, ()) = self
                .pool
                .install(|| rayon::join(|| ordered.into_outputs(), || memory.clear()));
            Ok((transactions, None, gas))
        });
        if outputs.is_err() {
            memory.clear();
        }
        *self.spare_memory.lock().expect("spare lock poisoned") = Some(memory);
        let (mut transactions, rest_outputs, mut gas) = match outputs {
            Ok(Ok(outputs)) => outputs,
            Ok(Err(error)) | Err(Unassembled::Failed(error)) => return Err(error),
            Err(Unassembled::RunSequentially) => return execute_sequential(db, cfg, block, txs),
        };
        let rest_outputs = match rest_outputs {
            Some(outputs) => outputs,
            None if rest.is_empty() => Vec::new(),
            None => {
                let (outputs, meter) = continue_in_order(db, cfg, block, &transactions, rest, gas)?;
                gas = meter;
                outputs
            }
        };
        transactions.extend(rest_outputs);
        let gas_used = gas.used();
        let executions = executions.into_inner() + (txs.len() - prefix);
        Ok(BlockOutput {
            transactions,
            gas_used,
            access,
            stats: ExecutionStats {
                threads: self.threads.get(),
                parallel: true,
                executions,
                validations: validations.into_inner(),
                dependency_waits: dependency_waits.into_inner(),
                in_order_from,
                switch_reason,
            },
        })
    }
}

/// Runs `txs`, the block's transactions from `first` on, in order on top of the final
/// results of those before it in `memory`.
fn run_rest_on_memory<DB: DatabaseRef>(
    db: &DB,
    memory: &MvMemory,
    cfg: &CfgEnv,
    block: &BlockEnv,
    txs: &[TxEnv],
    first: TxIdx,
    gas: BlockGasMeter,
) -> Result<(Vec<TxOutput>, BlockGasMeter), ExecutionError<DB::Error>> {
    let view = VersionedDb::in_order_from(db, memory, first);
    let state = State::builder().with_database(view).build();
    run_in_order(state, cfg, block, txs, first, gas, |error| match error {
        VersionedDbError::Database(error) => TxFailure::Database(error),
        // Every transaction below `first` is final, so none of its writes is an estimate.
        VersionedDbError::Blocked(tx) => TxFailure::Evm(format!(
            "in-order execution met an unfinished write of transaction {tx}"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, TxKind, U256};

    fn transfer(from: u8, to: u8, gas_limit: u64) -> TxEnv {
        TxEnv {
            caller: Address::repeat_byte(from),
            kind: TxKind::Call(Address::repeat_byte(to)),
            value: U256::from(1),
            gas_limit,
            ..Default::default()
        }
    }

    fn executor(threads: usize) -> ParallelExecutor {
        ParallelExecutor::new(NonZeroUsize::new(threads).unwrap()).unwrap()
    }

    #[test]
    fn auto_runs_independent_heavy_blocks_in_parallel() {
        let txs: Vec<TxEnv> = (1..=40).map(|i| transfer(i, 200, 1_000_000)).collect();
        assert!(executor(2).runs_parallel(&txs));
        assert!(
            !executor(1).runs_parallel(&txs),
            "one thread has nothing to share"
        );
    }

    #[test]
    fn auto_runs_small_blocks_sequentially() {
        let few: Vec<TxEnv> = (1..=3).map(|i| transfer(i, 200, 5_000_000)).collect();
        assert!(!executor(2).runs_parallel(&few));
        let light: Vec<TxEnv> = (1..=40).map(|i| transfer(i, 200, 21_000)).collect();
        assert!(!executor(2).runs_parallel(&light));
    }

    #[test]
    fn auto_runs_one_long_dependency_chain_sequentially() {
        // Each transaction pays the sender of the next: one chain through the whole block.
        let chain: Vec<TxEnv> = (1..=40).map(|i| transfer(i, i + 1, 1_000_000)).collect();
        assert!(!executor(2).runs_parallel(&chain));
        // The same sender throughout is a chain too.
        let same_sender: Vec<TxEnv> = (1..=40).map(|i| transfer(1, i + 1, 1_000_000)).collect();
        assert!(!executor(2).runs_parallel(&same_sender));
        // Two equal chains leave a parallelism of 2.
        let two: Vec<TxEnv> = (0..40)
            .map(|i| transfer(1 + i % 2, 100 + i, 1_000_000))
            .collect();
        assert!(executor(2).runs_parallel(&two));
    }

    #[test]
    fn forced_policies_ignore_the_block() {
        let few = vec![transfer(1, 2, 21_000)];
        let parallel = executor(1).with_policy(ExecutionPolicy::AlwaysParallel);
        assert!(parallel.runs_parallel(&few));
        let txs: Vec<TxEnv> = (1..=40).map(|i| transfer(i, 200, 1_000_000)).collect();
        let sequential = executor(2).with_policy(ExecutionPolicy::AlwaysSequential);
        assert!(!sequential.runs_parallel(&txs));
    }
}
