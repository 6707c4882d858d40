//! One parallel run of a block: the shared state of Block-STM and the loop each worker
//! thread runs, taking execution and validation tasks until every transaction is done.

use super::{
    mv_memory::MvMemory,
    outcome::OutcomeSlot,
    scheduler::{Scheduler, Task},
    speculation::SpeculationMonitor,
    worker::{Attempt, Finished, Worker},
};
use crate::location::{TxIdx, Version};
use alloy_primitives::Address;
use rayon::prelude::*;
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
};
use std::{
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread::Thread,
};

/// Shared state of one parallel block execution.
pub(crate) struct BlockRun<E> {
    pub(crate) memory: MvMemory,
    scheduler: Scheduler,
    pub(crate) monitor: SpeculationMonitor,
    /// Per worker, the transaction it is executing (`usize::MAX`: none), read by the
    /// others only at every [`HORIZON_CHECK`]-th transaction.
    in_flight: Box<[InFlight]>,
    /// The outcome of each transaction's latest execution.
    pub(crate) outcomes: Vec<OutcomeSlot<E>>,
    pub(crate) executions: AtomicUsize,
    pub(crate) validations: AtomicUsize,
    pub(crate) dependency_waits: AtomicUsize,
    /// A consumer taking results in order, parked until a transaction finishes executing.
    pub(crate) consumer: Consumer,
    /// More workers than CPUs: idle ones sleep rather than yield.
    oversubscribed: bool,
    /// Every final execution's reads are kept, for the block's access sets.
    keeps_reads: bool,
}

/// The thread waiting for a transaction's result, if any (see [`BlockRun::try_commit`]).
#[derive(Debug)]
pub(crate) struct Consumer {
    /// The transaction it waits for (`usize::MAX`: none).
    waiting_for: AtomicUsize,
    thread: Mutex<Option<Thread>>,
}

impl Consumer {
    fn new() -> Self {
        Self {
            waiting_for: AtomicUsize::new(usize::MAX),
            thread: Mutex::new(None),
        }
    }

    /// The current thread now waits for `tx`: it parks after this, and is woken when `tx`
    /// finishes executing or a worker leaves the run.
    pub(crate) fn wait_for(&self, tx: TxIdx) {
        let mut thread = self.thread.lock().expect("consumer lock poisoned");
        thread.get_or_insert_with(std::thread::current);
        // Sequentially consistent with the worker's load after it marks `tx` executed:
        // either the consumer's next check sees it executed, or the worker sees the wait.
        self.waiting_for.store(tx, Ordering::SeqCst);
    }

    fn finished(&self, tx: TxIdx) {
        if self.waiting_for.load(Ordering::SeqCst) == tx {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(thread) = &*self.thread.lock().expect("consumer lock poisoned") {
            thread.unpark();
        }
    }

    /// The consumer's thread, once it has waited.
    pub(crate) fn thread(&self) -> Option<Thread> {
        self.thread.lock().expect("consumer lock poisoned").clone()
    }
}

impl<E> BlockRun<E> {
    pub(crate) fn new(
        memory: MvMemory,
        block_size: usize,
        threads: usize,
        monitor: SpeculationMonitor,
    ) -> Self {
        Self {
            memory,
            scheduler: Scheduler::new(block_size),
            monitor,
            in_flight: (0..threads)
                .map(|_| InFlight(AtomicUsize::new(usize::MAX)))
                .collect(),
            outcomes: (0..block_size).map(|_| Mutex::new(None)).collect(),
            executions: AtomicUsize::new(0),
            validations: AtomicUsize::new(0),
            dependency_waits: AtomicUsize::new(0),
            consumer: Consumer::new(),
            oversubscribed: oversubscribes(threads),
            keeps_reads: false,
        }
    }

    /// Keeps the reads of every execution, including those that need no validation, for
    /// [`MvMemory::take_access_sets`].
    pub(crate) fn keeping_reads(mut self) -> Self {
        self.keeps_reads = true;
        self
    }

    /// The loop of one worker thread: take tasks until the block is done.
    pub(crate) fn work<DB>(
        &self,
        worker_index: usize,
        db: &DB,
        cfg: &CfgEnv,
        block: &BlockEnv,
        txs: &[TxEnv],
        busy_recipients: &[Address],
    ) where
        DB: DatabaseRef<Error = E>,
    {
        let mut worker = Worker::new(db, &self.memory, cfg, block, busy_recipients);
        // Counted per worker and added up once: a shared counter bumped on every task would
        // bounce its cache line between the cores.
        let mut counts = TaskCounts::default();
        let mut task = None;
        let mut idle_rounds = 0u32;
        // A stopped run drops the task in hand: the executor finds what is final afterwards.
        while !self.scheduler.done() && !self.monitor.stopped() {
            task = match task {
                Some(Task::Execute(version)) if self.monitor.watching() => {
                    self.wait_within_horizon(worker_index, version.tx);
                    let next = self.execute(&mut worker, &mut counts, version, txs);
                    self.in_flight[worker_index]
                        .0
                        .store(usize::MAX, Ordering::Relaxed);
                    next
                }
                Some(Task::Execute(version)) => {
                    self.execute(&mut worker, &mut counts, version, txs)
                }
                Some(Task::Validate(version)) => {
                    counts.validations += 1;
                    self.validate(version)
                }
                None => {
                    let next = self.scheduler.next_task();
                    if next.is_none() {
                        idle_rounds += 1;
                        back_off(idle_rounds, self.oversubscribed);
                    } else {
                        idle_rounds = 0;
                    }
                    next
                }
            };
        }
        self.executions
            .fetch_add(counts.executions, Ordering::Relaxed);
        self.validations
            .fetch_add(counts.validations, Ordering::Relaxed);
        self.dependency_waits
            .fetch_add(counts.dependency_waits, Ordering::Relaxed);
    }

    fn execute<DB>(
        &self,
        worker: &mut Worker<'_, DB>,
        counts: &mut TaskCounts,
        version: Version,
        txs: &[TxEnv],
    ) -> Option<Task>
    where
        DB: DatabaseRef<Error = E>,
    {
        loop {
            counts.executions += 1;
            // With every transaction below committed, this execution reads only final values.
            let on_final_state = self.scheduler.committed() == version.tx;
            // Its reads are then never validated: they go into the memory only for the
            // block's access sets, and a watching monitor looks at them and drops them.
            let validated_later = !on_final_state || self.keeps_reads;
            let keep_reads = validated_later || self.monitor.watching();
            match worker.execute(version, &txs[version.tx], keep_reads) {
                Attempt::Blocked(blocking) => {
                    counts.dependency_waits += 1;
                    if self.scheduler.add_dependency(version.tx, blocking) {
                        return None;
                    }
                    // The blocking transaction finished meanwhile: run again right away.
                }
                Attempt::Finished(finished) => {
                    let Finished {
                        outcome,
                        reads,
                        writes,
                    } = finished;
                    // A failed transaction publishes nothing, its fee included.
                    let succeeded = outcome.result.is_ok();
                    let fee = outcome.deferred_fee.filter(|_| succeeded);
                    let payment = outcome.payment.filter(|_| succeeded);
                    self.monitor.note(version, &reads, txs);
                    *self.outcomes[version.tx]
                        .lock()
                        .expect("outcome lock poisoned") = Some(outcome);
                    let wrote_new_location = if validated_later {
                        self.memory.record(version, reads, writes, fee, payment)
                    } else {
                        self.memory.record_committed(version, writes, fee, payment)
                    };
                    let next = self.scheduler.finish_execution(
                        version,
                        wrote_new_location,
                        on_final_state,
                    );
                    self.consumer.finished(version.tx);
                    return next;
                }
            }
        }
    }

    /// Called only under a watching monitor: keeps speculation within [`SPECULATION_HORIZON`]
    /// transactions of the lowest one another worker is executing: when one slow
    /// transaction holds a worker, the others would otherwise speculate through the whole
    /// block on values it may still change (and on a machine whose threads share a core,
    /// slow it down). Checked every [`HORIZON_CHECK`] transactions, so that the workers
    /// rarely read each other's lines.
    fn wait_within_horizon(&self, worker_index: usize, tx: TxIdx) {
        self.in_flight[worker_index].0.store(tx, Ordering::Relaxed);
        if !tx.is_multiple_of(HORIZON_CHECK) {
            return;
        }
        let mut idle_rounds = 0;
        loop {
            let lowest = self
                .in_flight
                .iter()
                .map(|slot| slot.0.load(Ordering::Relaxed))
                .min()
                .unwrap_or(usize::MAX);
            if lowest == usize::MAX
                || tx < lowest.saturating_add(SPECULATION_HORIZON)
                || self.monitor.stopped()
            {
                return;
            }
            idle_rounds += 1;
            back_off(idle_rounds, self.oversubscribed);
        }
    }

    /// Whether the run ended with every transaction executed and validated (otherwise the
    /// monitor stopped it).
    pub(crate) fn completed(&self) -> bool {
        self.scheduler.done()
    }

    /// After a stopped run, on the current rayon pool: the number of leading transactions
    /// whose outcomes are final. Every transaction below it is executed and its reads match
    /// the writes of those before it, so by induction from the first each one's outcome is
    /// what sequential execution gives. With the workers stopped, the memory no longer
    /// changes, so the transactions can be checked at once.
    pub(crate) fn committed_prefix(&self) -> usize
    where
        E: Send,
    {
        let final_outcome =
            |tx: &usize| self.scheduler.is_executed(*tx) && self.memory.validate_reads(*tx);
        (0..self.outcomes.len())
            .into_par_iter()
            .find_first(|tx| !final_outcome(tx))
            .unwrap_or(self.outcomes.len())
    }

    /// For a consumer taking results in order while the workers run: whether `tx`, every
    /// transaction below it being committed already, is final now. Its latest incarnation
    /// has executed and its reads match the final writes below it, so its outcome is what
    /// sequential execution gives (any later incarnation of it could only repeat it), and it
    /// is never aborted again.
    pub(crate) fn try_commit(&self, tx: TxIdx) -> bool {
        self.scheduler
            .try_commit(tx, || self.memory.validate_reads(tx))
    }

    /// Makes the workers stop at their next task.
    pub(crate) fn cancel(&self) {
        self.monitor.cancel();
    }

    fn validate(&self, version: Version) -> Option<Task> {
        // Read before the reads are checked: with every transaction below final by then, a
        // match is final too.
        let below_final = self.scheduler.committed() == version.tx;
        let valid = self.memory.validate_reads(version.tx);
        if valid && below_final {
            self.scheduler.commit_validated(version);
        }
        let aborted = !valid && self.scheduler.try_validation_abort(version);
        if aborted {
            self.memory.convert_writes_to_estimates(version.tx);
        }
        self.scheduler.finish_validation(version.tx, aborted)
    }
}

/// How far past the lowest transaction in execution a watched run speculates.
const SPECULATION_HORIZON: usize = 512;
/// Every this many transactions a worker checks the horizon.
const HORIZON_CHECK: usize = 32;

/// A worker's in-flight transaction, on a cache line of its own.
#[repr(align(128))]
struct InFlight(AtomicUsize);

/// What one worker did, for [`ExecutionStats`](crate::ExecutionStats).
#[derive(Debug, Default)]
struct TaskCounts {
    executions: usize,
    validations: usize,
    dependency_waits: usize,
}

/// Waits a little when there is no task, spinning first and then yielding the CPU so that
/// an idle worker does not starve busy ones. With more workers than CPUs (as for a slow
/// database, where most wait on reads), yielding is not enough: the idle workers would
/// still take most of the CPU time from the busy ones, so past a few hundred rounds they
/// sleep.
fn back_off(idle_rounds: u32, oversubscribed: bool) {
    if idle_rounds < 64 {
        std::hint::spin_loop();
    } else if !oversubscribed || idle_rounds < 256 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(std::time::Duration::from_micros(20));
    }
}

/// Whether `threads` workers are more than this machine's CPUs.
fn oversubscribes(threads: usize) -> bool {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    threads > *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}
