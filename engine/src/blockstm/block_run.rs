//! One parallel run of a block: the shared state of Block-STM and the loop each worker
//! thread runs, taking execution and validation tasks until every transaction is done.

use super::{
    mv_memory::MvMemory,
    outcome::TxOutcome,
    scheduler::{Scheduler, Task},
    worker::{Attempt, Finished, Worker},
};
use crate::location::Version;
use alloy_primitives::Address;
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
};
use std::sync::{
    Mutex,
    atomic::{AtomicUsize, Ordering},
};

/// Shared state of one parallel block execution.
pub(crate) struct BlockRun<E> {
    pub(crate) memory: MvMemory,
    scheduler: Scheduler,
    /// The outcome of each transaction's latest execution.
    pub(crate) outcomes: Vec<Mutex<Option<TxOutcome<E>>>>,
    pub(crate) executions: AtomicUsize,
    pub(crate) validations: AtomicUsize,
    pub(crate) dependency_waits: AtomicUsize,
}

impl<E> BlockRun<E> {
    pub(crate) fn new(memory: MvMemory, block_size: usize) -> Self {
        Self {
            memory,
            scheduler: Scheduler::new(block_size),
            outcomes: (0..block_size).map(|_| Mutex::new(None)).collect(),
            executions: AtomicUsize::new(0),
            validations: AtomicUsize::new(0),
            dependency_waits: AtomicUsize::new(0),
        }
    }

    /// The loop of one worker thread: take tasks until the block is done.
    pub(crate) fn work<DB>(
        &self,
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
        while !self.scheduler.done() {
            task = match task {
                Some(Task::Execute(version)) => {
                    self.execute(&mut worker, &mut counts, version, &txs[version.tx])
                }
                Some(Task::Validate(version)) => {
                    counts.validations += 1;
                    self.validate(version)
                }
                None => {
                    let next = self.scheduler.next_task();
                    if next.is_none() {
                        idle_rounds += 1;
                        back_off(idle_rounds);
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
        tx: &TxEnv,
    ) -> Option<Task>
    where
        DB: DatabaseRef<Error = E>,
    {
        loop {
            counts.executions += 1;
            match worker.execute(version, tx) {
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
                    } = *finished;
                    // A failed transaction publishes nothing, its fee included.
                    let succeeded = outcome.result.is_ok();
                    let fee = outcome.deferred_fee.filter(|_| succeeded);
                    let payment = outcome.payment.filter(|_| succeeded);
                    *self.outcomes[version.tx]
                        .lock()
                        .expect("outcome lock poisoned") = Some(outcome);
                    let wrote_new_location =
                        self.memory.record(version, reads, writes, fee, payment);
                    return self.scheduler.finish_execution(version, wrote_new_location);
                }
            }
        }
    }

    fn validate(&self, version: Version) -> Option<Task> {
        let valid = self.memory.validate_reads(version.tx);
        let aborted = !valid && self.scheduler.try_validation_abort(version);
        if aborted {
            self.memory.convert_writes_to_estimates(version.tx);
        }
        self.scheduler.finish_validation(version.tx, aborted)
    }
}

/// What one worker did, for [`ExecutionStats`](crate::ExecutionStats).
#[derive(Debug, Default)]
struct TaskCounts {
    executions: usize,
    validations: usize,
    dependency_waits: usize,
}

/// Waits a little when there is no task, spinning first and then yielding the CPU so that
/// an idle worker does not starve busy ones on an oversubscribed machine.
fn back_off(idle_rounds: u32) {
    if idle_rounds < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}
