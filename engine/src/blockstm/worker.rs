//! One worker thread's execution of transactions: a reusable revm EVM over a
//! [`VersionedDb`], turning each execution into reads, writes and an outcome.

use super::{
    mv_memory::{MvMemory, ReadSet},
    outcome::{BeneficiaryTouch, TxOutcome},
    value::WriteValue,
    versioned_db::{VersionedDb, VersionedDbError},
    write_set::write_set,
};
use crate::{
    chain::{
        beneficiary_fee::DeferredRewardHandler,
        busy_recipient::lazy_recipient,
        evm::{MainnetEvmOn, mainnet_evm},
    },
    error::TxFailure,
    location::{Location, TxIdx, Version},
};
use alloy_primitives::{Address, TxKind};
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::{ContextError, result::EVMError},
    handler::Handler,
};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The result of trying to execute one incarnation.
pub(crate) enum Attempt<E> {
    /// It read an estimate of this earlier transaction and must wait for it.
    Blocked(TxIdx),
    /// It ran to the end.
    Finished(Finished<E>),
}

/// A finished execution. The outcome is boxed once here and then only its pointer moves,
/// into the run's outcome slot and on to the block's output: it is a few hundred bytes.
pub(crate) struct Finished<E> {
    pub(crate) outcome: Box<TxOutcome<E>>,
    pub(crate) reads: ReadSet,
    pub(crate) writes: Vec<(Location, WriteValue)>,
}

/// Executes transactions for one worker thread.
pub(crate) struct Worker<'a, DB: DatabaseRef> {
    evm: MainnetEvmOn<VersionedDb<'a, DB>>,
    base: &'a DB,
    memory: &'a MvMemory,
    cfg: &'a CfgEnv,
    block: &'a BlockEnv,
    busy_recipients: &'a [Address],
}

impl<'a, DB: DatabaseRef> Worker<'a, DB> {
    pub(crate) fn new(
        base: &'a DB,
        memory: &'a MvMemory,
        cfg: &'a CfgEnv,
        block: &'a BlockEnv,
        busy_recipients: &'a [Address],
    ) -> Self {
        Self {
            evm: build_evm(base, memory, cfg, block),
            base,
            memory,
            cfg,
            block,
            busy_recipients,
        }
    }

    /// Executes `version` of `tx` against the multi-version memory. Without `keep_reads`
    /// the reads are dropped (an execution that will never be validated).
    pub(crate) fn execute(
        &mut self,
        version: Version,
        tx: &TxEnv,
        keep_reads: bool,
    ) -> Attempt<DB::Error> {
        let lazy = lazy_recipient(
            tx,
            self.cfg.spec,
            self.block.beneficiary,
            self.busy_recipients,
        );
        self.evm
            .ctx
            .journaled_state
            .database
            .begin(version.tx, lazy, keep_reads);
        // A transfer spends more time waiting for these first loads than executing.
        self.memory.prefetch(&first_reads(tx));
        self.evm.ctx.tx = tx.clone();
        self.evm.ctx.error = Ok(());
        let run = catch_unwind(AssertUnwindSafe(|| {
            DeferredRewardHandler::default().run(&mut self.evm)
        }));
        let state = self.evm.ctx.journaled_state.finalize();
        // revm parks a database error raised inside the interpreter in the context; when the
        // execution then fails another way, the error stays there. A read that hit an
        // estimate anywhere makes the whole execution void.
        let parked_error = match std::mem::replace(&mut self.evm.ctx.error, Ok(())) {
            Err(ContextError::Db(VersionedDbError::Blocked(blocking))) => {
                return Attempt::Blocked(blocking);
            }
            Err(ContextError::Db(VersionedDbError::Database(error))) => {
                Some(TxFailure::Database(error))
            }
            Err(ContextError::Custom(message)) => Some(TxFailure::Evm(message)),
            Ok(()) => None,
        };
        let db = &mut self.evm.ctx.journaled_state.database;
        let deferred_fee = db.deferred_beneficiary_fee.take();
        let placeholder = db.placeholder;
        // The placeholder started empty, so its balance is what was paid.
        let payment = placeholder.and_then(|address| {
            state
                .get(&address)
                .filter(|account| account.is_touched() && !account.info.balance.is_zero())
                .map(|account| (address, account.info.balance))
        });
        let mut result = match run {
            _ if parked_error.is_some() => Err(parked_error.expect("checked")),
            Ok(Ok(result)) => Ok(result),
            Ok(Err(EVMError::Database(VersionedDbError::Blocked(blocking)))) => {
                return Attempt::Blocked(blocking);
            }
            Ok(Err(error)) => Err(TxFailure::from_evm_error(error, |error| match error {
                VersionedDbError::Database(error) => TxFailure::Database(error),
                VersionedDbError::Blocked(_) => unreachable!("matched above"),
            })),
            Err(panic) => Err(TxFailure::from_panic(&*panic)),
        };
        let mut writes = Vec::new();
        if result.is_ok() {
            match write_set(version.tx, &state, db) {
                Ok(set) => writes = set,
                Err(VersionedDbError::Blocked(blocking)) => return Attempt::Blocked(blocking),
                Err(VersionedDbError::Database(error)) => result = Err(TxFailure::Database(error)),
            }
        }
        let reads = if keep_reads {
            db.drain_reads()
        } else {
            db.discard_reads();
            ReadSet::new()
        };
        if result.as_ref().is_err_and(TxFailure::is_panic) {
            // The EVM may be left inconsistent by the panic: start over with a fresh one.
            self.evm = build_evm(self.base, self.memory, self.cfg, self.block);
        }
        Attempt::Finished(Finished {
            outcome: Box::new(TxOutcome {
                beneficiary: BeneficiaryTouch::of(&state, self.block.beneficiary, deferred_fee),
                result,
                state,
                deferred_fee,
                placeholder,
                payment,
            }),
            reads,
            writes,
        })
    }
}

/// The locations a transaction reads first: its sender's account and code, and its
/// recipient's (a creation names the sender twice).
fn first_reads(tx: &TxEnv) -> [Location; 4] {
    let to = match tx.kind {
        TxKind::Call(to) => to,
        TxKind::Create => tx.caller,
    };
    [
        Location::Account(tx.caller),
        Location::Code(tx.caller),
        Location::Account(to),
        Location::Code(to),
    ]
}

fn build_evm<'a, DB: DatabaseRef>(
    base: &'a DB,
    memory: &'a MvMemory,
    cfg: &CfgEnv,
    block: &BlockEnv,
) -> MainnetEvmOn<VersionedDb<'a, DB>> {
    mainnet_evm(VersionedDb::new(base, memory), cfg, block)
}
