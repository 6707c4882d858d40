//! A block's results in block order while the block is still running: Block-STM runs on the
//! executor's workers in the background, and a rolling commit point hands out each
//! transaction's output as soon as it and every transaction before it are final. This is
//! what a client executing a block transaction by transaction (reth's engine tree) needs.
//!
//! A transaction is final once every transaction below it is committed and its latest
//! execution's reads match their writes. The consumer checks that under the transaction's
//! scheduler lock and marks it committed, so that no validation that began on an older state
//! aborts it afterwards; the workers never execute it again.

use crate::{
    assemble::{BeneficiaryLedger, finish_output},
    blockstm::{AccountBasic, AccountCode, BeneficiaryTouch, BlockRun, MvMemory, account_info},
    chain::block_gas::BlockGasMeter,
    error::ExecutionError,
    location::TxIdx,
    output::{ExecutionStats, TxOutput},
};
use alloy_primitives::Address;
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
    state::AccountInfo,
};
use std::{
    any::Any,
    collections::{HashMap, hash_map::Entry},
    sync::{Arc, Condvar, Mutex, atomic::Ordering},
    time::Duration,
};

/// What [`BlockStream::next_output`] hands out.
#[derive(Debug)]
pub enum Streamed<E> {
    /// The next transaction's final output, exactly what sequential revm gives for it.
    Output(TxOutput),
    /// The block fails at the next transaction, with the error sequential execution gives;
    /// nothing more is streamed.
    Failed(ExecutionError<E>),
    /// The transactions from this index on must run in order, on top of the outputs streamed
    /// so far: the policy runs the block sequentially, or the run stopped speculating (the
    /// dependency chains it found left too little parallelism), or a payment to a busy
    /// recipient needs the exact balance that only in-order execution has.
    InOrderFrom(TxIdx),
    /// Every transaction has been streamed.
    End,
}

/// A block running in the background, streamed in order. Dropping it stops the workers and
/// waits for them, so the executor is free for the next block.
pub struct BlockStream<'a, DB: DatabaseRef> {
    /// Where the run's memory goes back for the next block (the executor's spare).
    spare_memory: Option<&'a Mutex<Option<MvMemory>>>,
    threads: usize,
    /// `None` when the block runs in order from the start.
    shared: Option<Arc<Shared<DB>>>,
    workers: Arc<Workers>,
    block_size: usize,
    next: TxIdx,
    gas: BlockGasMeter,
    beneficiary: BeneficiaryLedger,
    recipients: HashMap<Address, RecipientLedger>,
    /// Set once nothing more is streamed: the item every later call returns.
    ended: Option<Ended>,
}

#[derive(Clone, Copy, Debug)]
enum Ended {
    InOrderFrom(TxIdx),
    End,
}

/// What the workers share with the consumer; owned, so that the run outlives any call.
struct Shared<DB: DatabaseRef> {
    run: BlockRun<DB::Error>,
    db: DB,
    cfg: CfgEnv,
    block: BlockEnv,
    txs: Arc<[TxEnv]>,
    busy_recipients: Vec<Address>,
}

/// How many workers are still in the run, and the first panic among them.
#[derive(Default)]
struct Workers {
    state: Mutex<WorkersState>,
    exited: Condvar,
}

#[derive(Default)]
struct WorkersState {
    running: usize,
    panic: Option<Box<dyn Any + Send>>,
}

/// A busy recipient's balance as the block goes, for payments through a placeholder.
struct RecipientLedger {
    /// The last transaction that paid it through a placeholder.
    last_payer: Option<TxIdx>,
    /// Its value after that payment (or the pre-state before the first).
    running: Option<AccountBasic>,
}

impl Workers {
    fn all_exited(&self) -> bool {
        self.state.lock().expect("workers lock poisoned").running == 0
    }

    fn wait_all_exited(&self) {
        let mut state = self.state.lock().expect("workers lock poisoned");
        while state.running > 0 {
            state = self.exited.wait(state).expect("workers lock poisoned");
        }
    }

    fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.state
            .lock()
            .expect("workers lock poisoned")
            .panic
            .take()
    }

    fn note_panic(&self, panic: Box<dyn Any + Send>) {
        let mut state = self.state.lock().expect("workers lock poisoned");
        state.panic.get_or_insert(panic);
    }

    /// Counts a worker out of the run.
    fn exit(&self) {
        let mut state = self.state.lock().expect("workers lock poisoned");
        state.running -= 1;
        self.exited.notify_all();
    }
}

/// What a streamed run reads: the pre-state, the block, its transactions, and its busy
/// recipients.
pub(crate) type StreamInputs<DB> = (DB, CfgEnv, BlockEnv, Arc<[TxEnv]>, Vec<Address>);

impl<'a, DB> BlockStream<'a, DB>
where
    DB: DatabaseRef + Send + Sync + 'static,
    DB::Error: Send + 'static,
{
    /// A stream whose first item is [`Streamed::InOrderFrom`]`(0)`: the policy runs the
    /// block sequentially.
    pub(crate) fn in_order(cfg: CfgEnv, block: BlockEnv, block_size: usize) -> Self {
        let mut stream = Self::empty(&cfg, &block, block_size, 1);
        stream.ended = Some(Ended::InOrderFrom(0));
        stream
    }

    fn empty(cfg: &CfgEnv, block: &BlockEnv, block_size: usize, threads: usize) -> Self {
        Self {
            spare_memory: None,
            threads,
            shared: None,
            workers: Arc::new(Workers::default()),
            block_size,
            next: 0,
            gas: BlockGasMeter::new(cfg, block),
            beneficiary: BeneficiaryLedger::new(block.beneficiary),
            recipients: HashMap::default(),
            ended: None,
        }
    }

    /// Starts `run` on every thread of `pool`; its memory goes back to `spare_memory` when
    /// the stream is dropped.
    pub(crate) fn start(
        pool: &rayon::ThreadPool,
        spare_memory: &'a Mutex<Option<MvMemory>>,
        run: BlockRun<DB::Error>,
        (db, cfg, block, txs, busy_recipients): StreamInputs<DB>,
    ) -> Self {
        let threads = pool.current_num_threads();
        let mut stream = Self::empty(&cfg, &block, txs.len(), threads);
        stream.spare_memory = Some(spare_memory);
        let shared = Arc::new(Shared {
            run,
            db,
            cfg,
            block,
            txs,
            busy_recipients,
        });
        let workers = Arc::clone(&stream.workers);
        workers.state.lock().expect("workers lock poisoned").running = threads;
        // The workers hold the run only while they work: once they are out, the stream's
        // reference is the only one, and dropping the stream can take the memory back.
        let weak = Arc::downgrade(&shared);
        pool.spawn_broadcast(move |context| {
            if let Some(shared) = weak.upgrade() {
                let work = std::panic::AssertUnwindSafe(|| {
                    let Shared {
                        run,
                        db,
                        cfg,
                        block,
                        txs,
                        busy_recipients,
                    } = &*shared;
                    run.work(context.index(), db, cfg, block, txs, busy_recipients);
                });
                if let Err(panic) = std::panic::catch_unwind(work) {
                    shared.run.cancel();
                    workers.note_panic(panic);
                }
                let consumer = shared.run.consumer.thread();
                // Out of the run before counting out, so that the last one out leaves the
                // stream the only owner.
                drop(shared);
                workers.exit();
                // The consumer may be waiting for a transaction no worker will execute now.
                if let Some(consumer) = consumer {
                    consumer.unpark();
                }
            } else {
                workers.exit();
            }
        });
        stream.shared = Some(shared);
        stream
    }
}

impl<DB: DatabaseRef> BlockStream<'_, DB> {
    /// The next transaction's output, waiting until it is final. A panic in a worker
    /// resumes here.
    pub fn next_output(&mut self) -> Streamed<DB::Error> {
        match self.ended {
            Some(Ended::InOrderFrom(tx)) => return Streamed::InOrderFrom(tx),
            Some(Ended::End) => return Streamed::End,
            None => {}
        }
        let tx = self.next;
        if tx == self.block_size {
            self.ended = Some(Ended::End);
            return Streamed::End;
        }
        let shared = Arc::clone(self.shared.as_ref().expect("a running stream has a run"));
        if let Err(error) = self.gas.check(tx, &shared.txs[tx]) {
            return self.fail(error);
        }
        if !self.wait_until_final(&shared.run, tx) {
            return self.in_order_from(tx);
        }
        let mut outcome = shared.run.outcomes[tx]
            .lock()
            .expect("outcome lock poisoned")
            .take()
            .expect("a committed transaction has executed");
        let result = match outcome.result {
            Ok(result) => result,
            Err(failure) => {
                return self.fail(ExecutionError::Transaction { index: tx, failure });
            }
        };
        let recipient = match outcome.placeholder {
            None => None,
            Some(address) => match self.recipient_before(&shared, address, tx) {
                Ok(Some(prior)) => Some((address, prior)),
                Ok(None) => return self.in_order_from(tx),
                Err(error) => return self.fail(error),
            },
        };
        let touch = std::mem::replace(&mut outcome.beneficiary, BeneficiaryTouch::Untouched);
        let credit = match self.beneficiary.apply(&shared.db, tx, touch) {
            Ok(credit) => credit,
            Err(error) => return self.fail(error),
        };
        self.gas.record(&result);
        outcome.result = Ok(result);
        self.next += 1;
        let output = finish_output(
            outcome,
            credit,
            recipient,
            shared.block.beneficiary,
            shared.cfg.spec,
        );
        Streamed::Output(output)
    }

    /// The number of transactions streamed so far.
    pub const fn streamed(&self) -> usize {
        self.next
    }

    /// Gas used by the transactions streamed so far.
    pub const fn gas_used(&self) -> u64 {
        self.gas.used()
    }

    /// How the run went so far (complete once the workers have left it: after
    /// [`Streamed::End`] or [`Streamed::InOrderFrom`]).
    pub fn stats(&self) -> ExecutionStats {
        let Some(shared) = &self.shared else {
            return ExecutionStats {
                threads: 1,
                ..ExecutionStats::default()
            };
        };
        let run = &shared.run;
        ExecutionStats {
            threads: self.threads,
            parallel: true,
            executions: run.executions.load(Ordering::Relaxed),
            validations: run.validations.load(Ordering::Relaxed),
            dependency_waits: run.dependency_waits.load(Ordering::Relaxed),
            in_order_from: match self.ended {
                Some(Ended::InOrderFrom(tx)) => Some(tx),
                _ => None,
            },
            switch_reason: run.monitor.reason(),
        }
    }

    /// Waits until `tx` is committed; false when the workers left the run without it being
    /// final (the monitor stopped the run).
    fn wait_until_final(&self, run: &BlockRun<DB::Error>, tx: TxIdx) -> bool {
        let mut rounds = 0u32;
        loop {
            if run.try_commit(tx) {
                return true;
            }
            if rounds == SPIN_ROUNDS {
                run.consumer.wait_for(tx);
            }
            if self.workers.all_exited() {
                if let Some(panic) = self.workers.take_panic() {
                    std::panic::resume_unwind(panic);
                }
                // The memory is quiet now: one last look.
                return run.try_commit(tx);
            }
            rounds += 1;
            wait_a_little(rounds);
        }
    }

    /// What the busy recipient `address` was just before `payer` paid it through a
    /// placeholder; `None` when that needs in-order execution (a write below it is not
    /// final, or the payments overflow its balance, which the placeholder could not see).
    fn recipient_before(
        &mut self,
        shared: &Shared<DB>,
        address: Address,
        payer: TxIdx,
    ) -> Result<Option<Option<AccountInfo>>, ExecutionError<DB::Error>> {
        let ledger = match self.recipients.entry(address) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let base =
                    shared
                        .db
                        .basic_ref(address)
                        .map_err(|error| ExecutionError::Database {
                            context: format!("reading the busy recipient {address}"),
                            error,
                        })?;
                entry.insert(RecipientLedger {
                    last_payer: None,
                    running: base.map(|info| AccountBasic {
                        balance: info.balance,
                        nonce: info.nonce,
                    }),
                })
            }
        };
        let since = ledger.last_payer.map_or(0, |last| last + 1);
        match shared
            .run
            .memory
            .last_account_write_in(address, since..payer)
        {
            Ok(Some(value)) => ledger.running = value,
            Ok(None) => {}
            Err(_) => return Ok(None),
        }
        let prior = ledger.running;
        if let Some((_, amount)) = shared.run.memory.payment(payer) {
            let mut value = prior.unwrap_or_default();
            let Some(balance) = value.balance.checked_add(amount) else {
                return Ok(None);
            };
            value.balance = balance;
            ledger.running = Some(value);
        }
        ledger.last_payer = Some(payer);
        Ok(Some(prior.map(|account| {
            account_info(account, AccountCode::empty())
        })))
    }

    fn fail(&mut self, error: ExecutionError<DB::Error>) -> Streamed<DB::Error> {
        self.ended = Some(Ended::End);
        self.stop_workers();
        Streamed::Failed(error)
    }

    fn in_order_from(&mut self, tx: TxIdx) -> Streamed<DB::Error> {
        self.ended = Some(Ended::InOrderFrom(tx));
        self.stop_workers();
        Streamed::InOrderFrom(tx)
    }

    fn stop_workers(&self) {
        if let Some(shared) = &self.shared {
            shared.run.cancel();
            self.workers.wait_all_exited();
        }
    }
}

impl<DB: DatabaseRef> Drop for BlockStream<'_, DB> {
    fn drop(&mut self) {
        self.stop_workers();
        let Some(shared) = self.shared.take() else {
            return;
        };
        // The workers are out and hold no reference, so the memory comes back for the next
        // block.
        if let (Ok(shared), Some(spare)) = (Arc::try_unwrap(shared), self.spare_memory) {
            let mut memory = shared.run.memory;
            memory.clear();
            *spare.lock().expect("spare lock poisoned") = Some(memory);
        }
    }
}

/// Checks the consumer makes by spinning before it parks.
const SPIN_ROUNDS: u32 = 64;

/// Waits for the workers: spinning first (a cheap transaction is often final within a
/// microsecond or two), then parked until the awaited transaction finishes executing or a
/// worker leaves the run, so that a consumer waiting on a long transaction leaves the cores
/// to the workers. The timeout only bounds a wake-up lost to a transaction that became
/// final by a validation rather than an execution.
fn wait_a_little(rounds: u32) {
    if rounds <= SPIN_ROUNDS {
        std::hint::spin_loop();
    } else {
        std::thread::park_timeout(Duration::from_micros(200));
    }
}

impl<DB: DatabaseRef> std::fmt::Debug for BlockStream<'_, DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockStream")
            .field("block_size", &self.block_size)
            .field("streamed", &self.next)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
