//! The public entry point: executes a block's transactions with Block-STM on a pool of
//! worker threads, or sequentially where that is the better choice.

use crate::{
    access_list::{check_list, execute_from_list},
    assemble::{Unassembled, order},
    blockstm::{
        BlockRun, MvMemory,
        versioned_db::{VersionedDb, VersionedDbError},
    },
    chain::{
        block_gas::BlockGasMeter,
        known_dependencies::{AddressScratch, KnownDependencies},
    },
    error::{ExecutionError, TxFailure},
    location::TxIdx,
    output::{BlockOutput, ExecutionStats, TxOutput},
    policy::{ExecutionPolicy, Plan, Planner, SequentialBecause, StateReads},
    sequential::{continue_in_order, execute_sequential, run_in_order},
    stream::{BlockStream, Spares, StreamTransactions},
};
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
    database::State,
    primitives::hardfork::SpecId,
    state::bal::Bal,
};
use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

/// Executes blocks of transactions in parallel with results identical to sequential revm.
#[derive(Debug)]
pub struct ParallelExecutor {
    threads: NonZeroUsize,
    policy: ExecutionPolicy,
    reads: StateReads,
    record_access: bool,
    pool: rayon::ThreadPool,
    /// The multi-version memory of the last block, cleared, for the next block to reuse.
    spare_memory: Mutex<Option<MvMemory>>,
    /// The known-dependency pass's map of the last block, for the next block to reuse.
    spare_scan: Mutex<AddressScratch>,
}

impl ParallelExecutor {
    /// An executor with `threads` worker threads. With one, the worker of a parallel run is
    /// the thread that calls [`Self::execute`] itself.
    pub fn new(threads: NonZeroUsize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.get())
            .thread_name(|i| format!("parallax-worker-{i}"))
            .build()?;
        Ok(Self {
            threads,
            policy: ExecutionPolicy::Auto,
            reads: StateReads::InMemory,
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

    /// An executor for a state whose reads cost what `reads` says, with the worker count
    /// that suits it ([`StateReads::default_threads`]).
    pub fn for_state_reads(reads: StateReads) -> Result<Self, rayon::ThreadPoolBuildError> {
        Ok(Self::new(reads.default_threads())?.with_state_reads(reads))
    }

    /// Says what reading the pre-state costs, which [`ExecutionPolicy::Auto`] weighs.
    pub const fn with_state_reads(mut self, reads: StateReads) -> Self {
        self.reads = reads;
        self
    }

    /// What reading the pre-state costs, as the executor was told.
    pub const fn state_reads(&self) -> StateReads {
        self.reads
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

    /// When the parallel path is used.
    pub const fn policy(&self) -> ExecutionPolicy {
        self.policy
    }

    /// Number of worker threads.
    pub const fn threads(&self) -> NonZeroUsize {
        self.threads
    }

    /// Whether a block of `txs` takes the parallel path.
    pub fn runs_parallel(&self, txs: &[TxEnv]) -> bool {
        self.plan(txs).is_parallel()
    }

    /// Why the policy runs a block of `transactions` whose gas limits add up to
    /// `total_gas_limit` sequentially whatever its dependencies, if it does: a check that
    /// needs no pass over the block (a client can make it before converting anything).
    pub const fn sequential_by_size(
        &self,
        transactions: usize,
        total_gas_limit: u64,
    ) -> Option<SequentialBecause> {
        self.planner()
            .sequential_by_size(transactions, total_gas_limit)
    }

    /// Executes `txs` like [`Self::execute`] when the policy gives them the parallel path,
    /// planning the block once; `None` when it runs them sequentially, for a caller with a
    /// sequential path of its own (the adapter's stock executor commits as it goes).
    pub fn execute_if_parallel<DB>(
        &self,
        db: &DB,
        cfg: &CfgEnv,
        block: &BlockEnv,
        txs: &[TxEnv],
    ) -> Option<Result<BlockOutput, ExecutionError<DB::Error>>>
    where
        DB: DatabaseRef + Sync,
        DB::Error: Send,
    {
        let (_, known) = self.parallel_plan(txs);
        known.map(|known| self.execute_parallel(db, cfg, block, txs, &known))
    }

    /// What the policy decides for a block of `txs` before it runs, and why.
    pub fn plan(&self, txs: &[TxEnv]) -> Plan {
        self.parallel_plan(txs).0
    }

    /// The plan, with the known dependencies of `txs` when they take the parallel path.
    fn parallel_plan(&self, txs: &[TxEnv]) -> (Plan, Option<KnownDependencies>) {
        let mut scratch = self.spare_scan.lock().expect("scratch lock poisoned");
        self.planner().plan(txs, &mut scratch)
    }

    /// The policy and the thread count, for planning away from the executor.
    const fn planner(&self) -> Planner {
        Planner {
            policy: self.policy,
            threads: self.threads.get(),
            reads: self.reads,
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

    /// Executes `txs` from the block's EIP-7928 access list `list` (revm's form of it:
    /// `Bal::try_from_alloy`): every transaction at once on the workers, each on `db` plus
    /// the list's entries before its index, with no speculation and no re-execution; then
    /// checks, in block order, the block gas limit, each transaction's validity and that the
    /// list holds exactly the transactions' state changes at their indices (indices 1 to
    /// `txs.len()`). `db` is the state after the pre-execution system calls.
    ///
    /// Where the list is right the result equals [`execute_sequential`]'s, at any thread
    /// count: the same results, gas and logs, and, committed in order into revm's `State`,
    /// the same `BundleState` (an empty account's `LoadedAsNotExisting` flag may differ, as
    /// it does when stock revm reads a list). Before Cancun (EIP-6780), where SELFDESTRUCT
    /// wipes storage a list does not mention, the block runs the usual way and the list is
    /// checked against it. A list that differs from what the transactions did fails the block with
    /// [`ExecutionError::AccessList`], naming the first index, account and field or slot
    /// that differ; a read of an account or slot the list does not hold fails too. The list's
    /// entries before and after the transactions (index 0 and `txs.len() + 1`) and its
    /// storage reads are not assigned to a transaction: the caller compares them with the
    /// list it builds for the whole block (revm's `State::with_bal_builder`, into which the
    /// outputs are committed).
    pub fn execute_with_access_list<DB>(
        &self,
        db: &DB,
        cfg: &CfgEnv,
        block: &BlockEnv,
        txs: &[TxEnv],
        list: &Arc<Bal>,
    ) -> Result<BlockOutput, ExecutionError<DB::Error>>
    where
        DB: DatabaseRef + Sync,
        DB::Error: Send,
    {
        if !cfg.spec.is_enabled_in(SpecId::CANCUN) {
            // Before EIP-6780 a SELFDESTRUCT wipes storage the list does not mention (slots
            // no transaction touched), and before EIP-161 an empty account is not an absent
            // one: reading the pre-state beneath the list would be wrong. No list predates
            // Amsterdam; on these forks the block runs the usual way, then the list is checked.
            let output = self.execute(db, cfg, block, txs)?;
            check_list(list, &output.transactions)?;
            return Ok(output);
        }
        execute_from_list(&self.pool, self.threads.get(), db, cfg, block, txs, list)
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
        txs: impl Into<StreamTransactions>,
    ) -> BlockStream<'_, DB>
    where
        DB: DatabaseRef + Send + Sync + 'static,
        DB::Error: Send + 'static,
    {
        let spares = Spares {
            memory: &self.spare_memory,
            scan: &self.spare_scan,
        };
        let inputs = (db, cfg, block, txs.into());
        BlockStream::start(&self.pool, self.planner(), spares, inputs)
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
        self.planner().new_run(spare, block, txs, known)
    }

    /// Runs `work` once for each worker, with its index, and returns when all are done. A
    /// single worker runs on the calling thread: on a pool thread it would only make the
    /// caller free every allocation of the block's outputs across threads (callgrind, one
    /// thread, transfers: 1.3% alone, 3.4% with the outputs built on the caller too).
    fn on_every_worker(&self, work: impl Fn(usize) + Sync) {
        if self.threads.get() == 1 {
            work(0);
        } else {
            self.pool.broadcast(|worker| work(worker.index()));
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
        let mut run = self.new_run(block, txs, known);
        if self.record_access {
            run = run.keeping_reads();
        }
        self.on_every_worker(|worker| {
            run.work(worker, db, cfg, block, txs, &known.busy_recipients);
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
            let gas = ordered.gas.clone();
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
            if self.threads.get() == 1 {
                let transactions = ordered.into_outputs_on_caller();
                memory.clear();
                return Ok((transactions, None, gas));
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
                ..Default::default()
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
    let mut state = State::builder().with_database(view).build();
    run_in_order(
        &mut state,
        cfg,
        block,
        txs,
        first,
        gas,
        |error| match error {
            VersionedDbError::Database(error) => TxFailure::Database(error),
            // Every transaction below `first` is final, so none of its writes is an estimate.
            VersionedDbError::Blocked(tx) => TxFailure::Evm(format!(
                "in-order execution met an unfinished write of transaction {tx}"
            )),
        },
    )
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
