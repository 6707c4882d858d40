//! The public entry point: executes a block's transactions with Block-STM on a pool of
//! worker threads, or sequentially where that is the better choice.

use crate::{
    assemble::{Unassembled, order},
    blockstm::{BlockRun, MvMemory},
    chain::known_dependencies::{AddressScratch, KnownDependencies},
    error::ExecutionError,
    output::{BlockOutput, ExecutionStats},
    sequential::execute_sequential,
};
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
};
use std::{num::NonZeroUsize, sync::Mutex};

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

/// When to use the parallel path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExecutionPolicy {
    /// Parallel when there are several threads, at least [`MIN_PARALLEL_TXS`] transactions
    /// with at least [`MIN_PARALLEL_GAS`] of gas limit, and known dependencies leave at
    /// least [`MIN_PARALLELISM`]; sequential otherwise.
    #[default]
    Auto,
    /// Always run Block-STM, even for one transaction or one thread (for testing).
    AlwaysParallel,
    /// Always run plain sequential revm.
    AlwaysSequential,
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
        self.parallel_plan(txs).is_some()
    }

    /// The known dependencies of `txs` when they take the parallel path.
    fn parallel_plan(&self, txs: &[TxEnv]) -> Option<KnownDependencies> {
        let known = || {
            let mut scratch = self.spare_scan.lock().expect("scratch lock poisoned");
            KnownDependencies::of_reusing(txs, &mut scratch)
        };
        match self.policy {
            ExecutionPolicy::AlwaysSequential => None,
            ExecutionPolicy::AlwaysParallel => Some(known()),
            ExecutionPolicy::Auto => {
                if self.threads.get() == 1 || txs.len() < MIN_PARALLEL_TXS {
                    return None;
                }
                let known = known();
                (known.total_gas >= MIN_PARALLEL_GAS && known.parallelism() >= MIN_PARALLELISM)
                    .then_some(known)
            }
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
            Some(known) => self.execute_parallel(db, cfg, block, txs, &known),
            None => execute_sequential(db, cfg, block, txs),
        }
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
        let run = BlockRun::new(memory, txs.len());
        run.memory.seed_known_dependencies(known, txs);
        self.pool
            .broadcast(|_| run.work(db, cfg, block, txs, &known.busy_recipients));

        let access = self.record_access.then(|| {
            (0..txs.len())
                .map(|tx| run.memory.take_access_sets(tx))
                .collect()
        });
        let BlockRun {
            mut memory,
            outcomes,
            executions,
            validations,
            dependency_waits,
            ..
        } = run;
        let outputs = order(db, cfg, block, txs, outcomes, &memory).map(|ordered| {
            let gas_used = ordered.gas_used;
            // The pool builds the outputs and clears the memory for the next block at once.
            let (transactions, ()) = self
                .pool
                .install(|| rayon::join(|| ordered.into_outputs(), || memory.clear()));
            (transactions, gas_used)
        });
        if outputs.is_err() {
            memory.clear();
        }
        *self.spare_memory.lock().expect("spare lock poisoned") = Some(memory);
        let (transactions, gas_used) = match outputs {
            Ok(outputs) => outputs,
            Err(Unassembled::Failed(error)) => return Err(error),
            Err(Unassembled::RunSequentially) => return execute_sequential(db, cfg, block, txs),
        };
        Ok(BlockOutput {
            transactions,
            gas_used,
            access,
            stats: ExecutionStats {
                threads: self.threads.get(),
                parallel: true,
                executions: executions.into_inner(),
                validations: validations.into_inner(),
                dependency_waits: dependency_waits.into_inner(),
            },
        })
    }
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
