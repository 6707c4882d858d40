//! The collaborative scheduler of Block-STM (Gelashvili et al., 2022): worker threads take
//! execution and validation tasks in transaction order, lowest first, and a transaction that
//! must wait for another is parked on that transaction's dependency list instead of spinning.
//!
//! Beside the paper's two indices it keeps a commit frontier: every transaction below it is
//! final (executed, its reads matching the final writes below it) and is never aborted
//! again. A transaction that starts executing at the frontier reads only final values, so it
//! is final as soon as it finishes and needs no validation: on one thread, or wherever the
//! transactions below have settled, validation costs nothing.

use crate::location::{Incarnation, TxIdx, Version};
use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

/// Work handed to a worker thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Task {
    /// Execute this incarnation.
    Execute(Version),
    /// Validate the reads of this incarnation.
    Validate(Version),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    ReadyToExecute,
    Executing,
    Executed,
    /// Waiting for a dependency, or invalidated and about to be re-executed.
    Aborting,
    /// Executed, and found final by an in-order consumer while the run goes on: it is never
    /// aborted again (see [`Scheduler::try_commit`]).
    Committed,
}

impl Stage {
    const fn has_executed(self) -> bool {
        matches!(self, Self::Executed | Self::Committed)
    }
}

#[derive(Debug)]
struct TxState {
    incarnation: Incarnation,
    stage: Stage,
}

/// Shared scheduling state for one block.
#[derive(Debug)]
pub(crate) struct Scheduler {
    block_size: usize,
    execution_idx: AtomicUsize,
    validation_idx: AtomicUsize,
    /// Bumped whenever an index is decreased, so that `check_done` can tell that nothing
    /// changed while it was looking.
    decrease_count: AtomicUsize,
    active_tasks: AtomicUsize,
    /// The commit frontier: every transaction below it is [`Stage::Committed`]. Only the
    /// thread that commits the transaction at the frontier moves it, under that
    /// transaction's lock.
    committed: AtomicUsize,
    done: AtomicBool,
    states: Box<[Mutex<TxState>]>,
    /// Transactions parked until the indexed transaction finishes executing.
    dependents: Box<[Mutex<Vec<TxIdx>>]>,
}

impl Scheduler {
    pub(crate) fn new(block_size: usize) -> Self {
        Self {
            block_size,
            execution_idx: AtomicUsize::new(0),
            validation_idx: AtomicUsize::new(0),
            decrease_count: AtomicUsize::new(0),
            active_tasks: AtomicUsize::new(0),
            committed: AtomicUsize::new(0),
            done: AtomicBool::new(block_size == 0),
            states: (0..block_size)
                .map(|_| {
                    Mutex::new(TxState {
                        incarnation: 0,
                        stage: Stage::ReadyToExecute,
                    })
                })
                .collect(),
            dependents: (0..block_size).map(|_| Mutex::default()).collect(),
        }
    }

    fn state(&self, tx: TxIdx) -> MutexGuard<'_, TxState> {
        self.states[tx].lock().expect("scheduler lock poisoned")
    }

    /// Whether the latest incarnation of `tx` has finished executing.
    pub(crate) fn is_executed(&self, tx: TxIdx) -> bool {
        self.state(tx).stage.has_executed()
    }

    /// The commit frontier: every transaction below it is final.
    pub(crate) fn committed(&self) -> TxIdx {
        self.committed.load(Ordering::Acquire)
    }

    /// Commits `tx`, which is at the frontier, under its lock.
    fn commit(&self, tx: TxIdx, state: &mut TxState) {
        debug_assert_eq!(self.committed.load(Ordering::Relaxed), tx);
        state.stage = Stage::Committed;
        self.committed.store(tx + 1, Ordering::Release);
    }

    /// Marks `tx` committed if its latest incarnation has executed and `is_final` says so,
    /// checked under the transaction's lock so that no validation can abort it in between.
    /// The caller commits in order: every transaction below `tx` is committed already, so
    /// once its reads match their writes, `tx` is final, and a validation that started
    /// earlier and saw a transient state must not abort it afterwards.
    pub(crate) fn try_commit(&self, tx: TxIdx, is_final: impl FnOnce() -> bool) -> bool {
        let mut state = self.state(tx);
        if state.stage == Stage::Committed {
            return true;
        }
        if state.stage == Stage::Executed && is_final() {
            self.commit(tx, &mut state);
            return true;
        }
        false
    }

    /// Commits `version` after a validation that found its reads matching writes that were
    /// all final when it began (the frontier was at `version.tx`), unless it has been
    /// aborted or re-executed since.
    pub(crate) fn commit_validated(&self, version: Version) {
        let mut state = self.state(version.tx);
        if state.incarnation == version.incarnation && state.stage == Stage::Executed {
            self.commit(version.tx, &mut state);
        }
    }

    /// Whether every transaction has been executed and validated.
    pub(crate) fn done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    fn decrease_execution_idx(&self, target: TxIdx) {
        self.execution_idx.fetch_min(target, Ordering::AcqRel);
        self.decrease_count.fetch_add(1, Ordering::AcqRel);
    }

    fn decrease_validation_idx(&self, target: TxIdx) {
        self.validation_idx.fetch_min(target, Ordering::AcqRel);
        self.decrease_count.fetch_add(1, Ordering::AcqRel);
    }

    fn check_done(&self) {
        let observed = self.decrease_count.load(Ordering::Acquire);
        let execution_idx = self.execution_idx.load(Ordering::Acquire);
        let validation_idx = self.validation_idx.load(Ordering::Acquire);
        if execution_idx.min(validation_idx) >= self.block_size
            && self.active_tasks.load(Ordering::Acquire) == 0
            && observed == self.decrease_count.load(Ordering::Acquire)
        {
            self.done.store(true, Ordering::Release);
        }
    }

    /// Claims `tx` for execution if it is ready; otherwise gives the task slot back.
    fn try_incarnate(&self, tx: TxIdx) -> Option<Version> {
        if tx < self.block_size {
            let mut state = self.state(tx);
            if state.stage == Stage::ReadyToExecute {
                state.stage = Stage::Executing;
                return Some(Version {
                    tx,
                    incarnation: state.incarnation,
                });
            }
        }
        self.active_tasks.fetch_sub(1, Ordering::AcqRel);
        None
    }

    fn next_version_to_execute(&self) -> Option<Version> {
        if self.execution_idx.load(Ordering::Acquire) >= self.block_size {
            self.check_done();
            return None;
        }
        self.active_tasks.fetch_add(1, Ordering::AcqRel);
        let tx = self.execution_idx.fetch_add(1, Ordering::AcqRel);
        self.try_incarnate(tx)
    }

    fn next_version_to_validate(&self) -> Option<Version> {
        if self.validation_idx.load(Ordering::Acquire) >= self.block_size {
            self.check_done();
            return None;
        }
        self.active_tasks.fetch_add(1, Ordering::AcqRel);
        let tx = self.validation_idx.fetch_add(1, Ordering::AcqRel);
        if tx < self.block_size {
            let state = self.state(tx);
            if state.stage == Stage::Executed {
                return Some(Version {
                    tx,
                    incarnation: state.incarnation,
                });
            }
        }
        self.active_tasks.fetch_sub(1, Ordering::AcqRel);
        None
    }

    /// The next task in transaction order, preferring validation of lower transactions.
    pub(crate) fn next_task(&self) -> Option<Task> {
        if self.validation_idx.load(Ordering::Acquire) < self.execution_idx.load(Ordering::Acquire)
        {
            self.next_version_to_validate().map(Task::Validate)
        } else {
            self.next_version_to_execute().map(Task::Execute)
        }
    }

    /// Parks `tx` until `blocking` finishes executing. Returns false if `blocking` already
    /// finished, in which case the caller should simply re-execute `tx` now.
    pub(crate) fn add_dependency(&self, tx: TxIdx, blocking: TxIdx) -> bool {
        let mut dependents = self.dependents[blocking]
            .lock()
            .expect("scheduler lock poisoned");
        if self.state(blocking).stage.has_executed() {
            return false;
        }
        self.state(tx).stage = Stage::Aborting;
        dependents.push(tx);
        drop(dependents);
        self.active_tasks.fetch_sub(1, Ordering::AcqRel);
        true
    }

    fn set_ready(&self, tx: TxIdx) {
        let mut state = self.state(tx);
        state.incarnation += 1;
        state.stage = Stage::ReadyToExecute;
    }

    /// Records that `version` finished executing and wakes the transactions parked on it.
    /// Returns a validation task for it when it can be validated right away.
    ///
    /// `on_final_state`: the execution began with the frontier at `version.tx`, so it read
    /// only final values and is committed now, without validation.
    pub(crate) fn finish_execution(
        &self,
        version: Version,
        wrote_new_location: bool,
        on_final_state: bool,
    ) -> Option<Task> {
        {
            let mut state = self.state(version.tx);
            if on_final_state {
                self.commit(version.tx, &mut state);
            } else {
                state.stage = Stage::Executed;
            }
        }
        let dependents = std::mem::take(
            &mut *self.dependents[version.tx]
                .lock()
                .expect("scheduler lock poisoned"),
        );
        if let Some(&lowest) = dependents.iter().min() {
            for &dependent in &dependents {
                self.set_ready(dependent);
            }
            self.decrease_execution_idx(lowest);
        }
        let validation_idx = self.validation_idx.load(Ordering::Acquire);
        if on_final_state {
            if validation_idx > version.tx + 1 && wrote_new_location {
                // Higher transactions may have read past this one's new writes.
                self.decrease_validation_idx(version.tx + 1);
            } else if validation_idx == version.tx {
                // Nothing to validate here: let the validation index pass it (a failed
                // exchange means another thread moved the index, which is as good).
                let _ = self.validation_idx.compare_exchange(
                    version.tx,
                    version.tx + 1,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
        } else if validation_idx > version.tx {
            if wrote_new_location {
                // Higher transactions may have read past this one's new writes.
                self.decrease_validation_idx(version.tx);
            } else {
                return Some(Task::Validate(version));
            }
        }
        self.active_tasks.fetch_sub(1, Ordering::AcqRel);
        None
    }

    /// Marks `version` aborted if it is still the executed incarnation; only one validation
    /// failure may abort a given incarnation.
    pub(crate) fn try_validation_abort(&self, version: Version) -> bool {
        let mut state = self.state(version.tx);
        if state.incarnation == version.incarnation && state.stage == Stage::Executed {
            state.stage = Stage::Aborting;
            true
        } else {
            false
        }
    }

    /// Finishes a validation task. An aborted transaction is scheduled for re-execution, and
    /// every higher transaction must be validated again.
    pub(crate) fn finish_validation(&self, tx: TxIdx, aborted: bool) -> Option<Task> {
        if aborted {
            self.set_ready(tx);
            self.decrease_validation_idx(tx + 1);
            if self.execution_idx.load(Ordering::Acquire) > tx {
                return self.try_incarnate(tx).map(Task::Execute);
            }
        }
        self.active_tasks.fetch_sub(1, Ordering::AcqRel);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_block_is_done_at_once() {
        assert!(Scheduler::new(0).done());
    }

    #[test]
    fn single_worker_runs_every_task_in_order() {
        let scheduler = Scheduler::new(3);
        let mut executed = Vec::new();
        let mut task = None;
        while !scheduler.done() {
            task = match task.or_else(|| scheduler.next_task()) {
                Some(Task::Execute(version)) => {
                    executed.push(version.tx);
                    scheduler.finish_execution(version, true, false)
                }
                Some(Task::Validate(version)) => scheduler.finish_validation(version.tx, false),
                None => None,
            };
        }
        assert_eq!(executed, vec![0, 1, 2]);
    }

    #[test]
    fn a_parked_transaction_resumes_with_a_new_incarnation() {
        let scheduler = Scheduler::new(2);
        let first = scheduler.next_version_to_execute().unwrap();
        let second = scheduler.next_version_to_execute().unwrap();
        assert!(scheduler.add_dependency(second.tx, first.tx));
        assert_eq!(scheduler.finish_execution(first, true, false), None);
        assert_eq!(scheduler.next_task(), Some(Task::Validate(first)));
        assert_eq!(scheduler.finish_validation(first.tx, false), None);
        assert_eq!(
            scheduler.next_task(),
            Some(Task::Execute(Version {
                tx: 1,
                incarnation: 1
            }))
        );
    }
}
