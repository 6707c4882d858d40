//! A block's results in block order while the block is still running: Block-STM runs on the
//! executor's workers in the background, and a rolling commit point hands out each
//! transaction's output as soon as it and every transaction before it are final. This is
//! what a client executing a block transaction by transaction (reth's engine tree) needs.
//!
//! The block is planned (the policy's decision and the known-dependency pass) on a worker
//! too, so that starting a stream costs the caller nothing; until the plan is made,
//! [`BlockStream::is_planning`] says so and a caller that wants its first result at once
//! can execute the first transactions itself.
//!
//! A transaction is final once every transaction below it is committed and its latest
//! execution's reads match their writes. The consumer checks that under the transaction's
//! scheduler lock and marks it committed, so that no validation that began on an older state
//! aborts it afterwards; the workers never execute it again.

use crate::{
    assemble::{BeneficiaryLedger, finish_output},
    blockstm::{AccountBasic, AccountCode, BeneficiaryTouch, BlockRun, MvMemory, account_info},
    chain::{block_gas::BlockGasMeter, known_dependencies::AddressScratch},
    error::ExecutionError,
    location::TxIdx,
    output::{ExecutionStats, TxOutput},
    policy::Planner,
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
    sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak, atomic::Ordering},
    time::Duration,
};

/// A streamed block's transactions: ready, or converted by the planning job, off the
/// caller's thread (a client that holds its block behind a reference count hands it over
/// for nothing, and the conversion to revm's environments runs on a worker).
pub enum StreamTransactions {
    /// Converted already.
    Ready(Arc<[TxEnv]>),
    /// `len` transactions, which `convert` produces.
    Deferred {
        /// How many.
        len: usize,
        /// Produces them, in order.
        convert: Box<dyn FnOnce() -> Arc<[TxEnv]> + Send>,
    },
}

impl StreamTransactions {
    /// Number of transactions.
    pub fn len(&self) -> usize {
        match self {
            Self::Ready(txs) => txs.len(),
            Self::Deferred { len, .. } => *len,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn into_ready(self) -> Arc<[TxEnv]> {
        match self {
            Self::Ready(txs) => txs,
            Self::Deferred { convert, .. } => convert(),
        }
    }
}

impl From<Arc<[TxEnv]>> for StreamTransactions {
    fn from(txs: Arc<[TxEnv]>) -> Self {
        Self::Ready(txs)
    }
}

impl std::fmt::Debug for StreamTransactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamTransactions")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

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
    /// Where the run's memory and the planner's map go back for the next block (the
    /// executor's spares).
    spares: Option<Spares<'a>>,
    threads: usize,
    /// What the planning job decided, once it has.
    setup: Arc<Setup<DB>>,
    /// The run, taken from `setup` once planned.
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

/// The executor's spare memory and known-dependency map, lent to a stream.
#[derive(Clone, Copy)]
pub(crate) struct Spares<'a> {
    pub(crate) memory: &'a Mutex<Option<MvMemory>>,
    pub(crate) scan: &'a Mutex<AddressScratch>,
}

/// Handed from the planning job to the consumer.
struct Setup<DB: DatabaseRef> {
    /// The block's transactions, once the planning job has them.
    transactions: OnceLock<Arc<[TxEnv]>>,
    plan: Mutex<Planned<DB>>,
    /// The known-dependency map, back from the planning job.
    scan: Mutex<Option<AddressScratch>>,
    /// The spare memory, back unused when the block runs in order.
    memory: Mutex<Option<MvMemory>>,
}

enum Planned<DB: DatabaseRef> {
    Planning,
    /// The policy runs the block in order.
    InOrder,
    Running(Arc<Shared<DB>>),
    /// The run was taken by the consumer.
    Taken,
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

    /// Waits up to `timeout` for every worker to leave the run; whether they all have.
    fn wait_all_exited_for(&self, timeout: Duration) -> bool {
        let state = self.state.lock().expect("workers lock poisoned");
        let (state, _) = self
            .exited
            .wait_timeout_while(state, timeout, |state| state.running > 0)
            .expect("workers lock poisoned");
        state.running == 0
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

/// What a streamed run reads: the pre-state, the block and its transactions.
pub(crate) type StreamInputs<DB> = (DB, CfgEnv, BlockEnv, StreamTransactions);

impl<'a, DB> BlockStream<'a, DB>
where
    DB: DatabaseRef + Send + Sync + 'static,
    DB::Error: Send + 'static,
{
    /// Plans `txs` on a thread of `pool` and, when `planner` gives them the parallel path,
    /// starts them on every thread of it. The spares are taken now and go back when the
    /// stream is dropped.
    pub(crate) fn start(
        pool: &rayon::ThreadPool,
        planner: Planner,
        spares: Spares<'a>,
        (db, cfg, block, txs): StreamInputs<DB>,
    ) -> Self {
        let threads = pool.current_num_threads();
        let setup = Arc::new(Setup {
            transactions: OnceLock::new(),
            plan: Mutex::new(Planned::Planning),
            scan: Mutex::new(None),
            memory: Mutex::new(None),
        });
        let workers = Arc::new(Workers::default());
        let stream = Self {
            spares: Some(spares),
            threads,
            setup: Arc::clone(&setup),
            shared: None,
            workers: Arc::clone(&workers),
            block_size: txs.len(),
            next: 0,
            gas: BlockGasMeter::new(&cfg, &block),
            beneficiary: BeneficiaryLedger::new(block.beneficiary),
            recipients: HashMap::default(),
            ended: None,
        };
        let mut memory = spares.memory.lock().expect("spare lock poisoned").take();
        let mut scan = std::mem::take(&mut *spares.scan.lock().expect("scratch lock poisoned"));
        // The planning job counts as a worker until the workers it starts are counted.
        workers.state.lock().expect("workers lock poisoned").running = 1;
        pool.spawn(move || {
            let block_size = txs.len();
            // Everything in the job is caught: a panic here must neither abort the process
            // (the pool has no handler) nor leave the job counted in forever.
            let planned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let txs = txs.into_ready();
                // A deferred list that is not as long as it said runs in order.
                if txs.len() != block_size {
                    return None;
                }
                setup.transactions.get_or_init(|| Arc::clone(&txs));
                let known = planner.plan(&txs, &mut scan).1?;
                let run = planner.new_run(memory.take(), &block, &txs, &known);
                Some(Arc::new(Shared {
                    run,
                    db,
                    cfg,
                    block,
                    txs,
                    busy_recipients: known.busy_recipients,
                }))
            }));
            *setup.scan.lock().unwrap_or_else(PoisonError::into_inner) = Some(scan);
            *setup.memory.lock().unwrap_or_else(PoisonError::into_inner) = memory;
            let mut plan = setup.plan.lock().unwrap_or_else(PoisonError::into_inner);
            match planned {
                Ok(Some(shared)) => {
                    workers.state.lock().expect("workers lock poisoned").running += threads;
                    let weak = Arc::downgrade(&shared);
                    *plan = Planned::Running(shared);
                    drop(plan);
                    start_workers(weak, &workers);
                }
                Ok(None) => *plan = Planned::InOrder,
                Err(panic) => {
                    *plan = Planned::InOrder;
                    workers.note_panic(panic);
                }
            }
            workers.exit();
        });
        stream
    }
}

/// Starts the run on every thread of the current pool. The workers hold the run only while
/// they work: once they are out, the stream's reference is the only one, and dropping the
/// stream can take the memory back.
fn start_workers<DB>(weak: Weak<Shared<DB>>, workers: &Arc<Workers>)
where
    DB: DatabaseRef + Send + Sync + 'static,
    DB::Error: Send + 'static,
{
    let workers = Arc::clone(workers);
    rayon::spawn_broadcast(move |context| {
        let Some(shared) = weak.upgrade() else {
            workers.exit();
            return;
        };
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
        // Out of the run before counting out, so that the last one out leaves the stream
        // (and the setup) the only owners.
        drop(shared);
        workers.exit();
        // The consumer may be waiting for a transaction no worker will execute now.
        if let Some(consumer) = consumer {
            consumer.unpark();
        }
    });
}

impl<DB: DatabaseRef> BlockStream<'_, DB> {
    /// The next transaction's output, waiting until it is final. A panic in a worker hands
    /// the rest of the block over to in-order execution.
    pub fn next_output(&mut self) -> Streamed<DB::Error> {
        let mut rounds = 0u32;
        loop {
            if let Some(item) = self.try_next_output() {
                return item;
            }
            rounds += 1;
            match &self.shared {
                Some(shared) => {
                    if rounds == SPIN_ROUNDS {
                        shared.run.consumer.wait_for(self.next);
                    }
                    wait_a_little(rounds);
                }
                // Planning takes about a millisecond on a gigagas block.
                None if rounds <= SPIN_ROUNDS => std::hint::spin_loop(),
                None => std::thread::sleep(Duration::from_micros(20)),
            }
        }
    }

    /// Waits until the block is planned.
    pub fn wait_until_planned(&self) {
        let mut rounds = 0u32;
        while self.is_planning() {
            rounds += 1;
            if rounds <= SPIN_ROUNDS {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    }

    /// The block's transactions, once the planning job has converted them.
    pub fn transactions(&self) -> Option<&Arc<[TxEnv]>> {
        self.setup.transactions.get()
    }

    /// Whether the block is still being planned: no result can be final yet, and the
    /// caller may as well execute the next transaction itself (its result is the same).
    pub fn is_planning(&self) -> bool {
        self.ended.is_none()
            && self.shared.is_none()
            && matches!(
                *self.setup.plan.lock().expect("setup lock poisoned"),
                Planned::Planning
            )
    }

    /// The next transaction's output if it is final now; `None` if it is not yet.
    pub fn try_next_output(&mut self) -> Option<Streamed<DB::Error>> {
        match self.ended {
            Some(Ended::InOrderFrom(tx)) => return Some(Streamed::InOrderFrom(tx)),
            Some(Ended::End) => return Some(Streamed::End),
            None => {}
        }
        let tx = self.next;
        if tx == self.block_size {
            self.ended = Some(Ended::End);
            return Some(Streamed::End);
        }
        let shared = match &self.shared {
            Some(shared) => Arc::clone(shared),
            None => match self.take_run()? {
                Some(shared) => shared,
                None => return Some(self.in_order_from(tx)),
            },
        };
        if let Err(error) = self.gas.check(tx, &shared.txs[tx]) {
            return Some(self.fail(error));
        }
        if !shared.run.try_commit(tx) {
            if !self.workers.all_exited() {
                return None;
            }
            // A worker that panicked did so on a speculative state in-order execution may
            // never see: the rest of the block runs in order, where a real panic recurs.
            if self.workers.take_panic().is_some() {
                return Some(self.in_order_from(tx));
            }
            // The workers are out and the memory is quiet: one last look.
            if !shared.run.try_commit(tx) {
                return Some(self.in_order_from(tx));
            }
        }
        Some(self.take_committed(&shared, tx))
    }

    /// The run once planned: `None` while planning, `Some(None)` when the block runs in
    /// order.
    fn take_run(&mut self) -> Option<Option<Arc<Shared<DB>>>> {
        let mut plan = self.setup.plan.lock().expect("setup lock poisoned");
        match std::mem::replace(&mut *plan, Planned::Taken) {
            Planned::Planning => {
                *plan = Planned::Planning;
                None
            }
            Planned::InOrder | Planned::Taken => Some(None),
            Planned::Running(shared) => {
                self.shared = Some(Arc::clone(&shared));
                Some(Some(shared))
            }
        }
    }

    /// The output of `tx`, just committed.
    fn take_committed(&mut self, shared: &Shared<DB>, tx: TxIdx) -> Streamed<DB::Error> {
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
            Some(address) => match self.recipient_before(shared, address, tx) {
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
        self.next += 1;
        let output = finish_output(
            result,
            outcome.state,
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
    pub fn gas_used(&self) -> u64 {
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
            ..Default::default()
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

    /// Stops the run and waits until every worker, and the planning job, is out.
    fn stop_workers(&mut self) {
        loop {
            if self.shared.is_none() {
                // The run may have started since the last look.
                self.take_run();
            }
            if let Some(shared) = &self.shared {
                shared.run.cancel();
            }
            if self.workers.wait_all_exited_for(Duration::from_millis(1)) {
                return;
            }
        }
    }
}

impl<DB: DatabaseRef> Drop for BlockStream<'_, DB> {
    fn drop(&mut self) {
        self.stop_workers();
        let Some(spares) = self.spares.take() else {
            return;
        };
        if let Some(scan) = self.setup.scan.lock().expect("setup lock poisoned").take() {
            *spares.scan.lock().expect("scratch lock poisoned") = scan;
        }
        let unused = self
            .setup
            .memory
            .lock()
            .expect("setup lock poisoned")
            .take();
        // The workers are out and hold no reference, so the memory comes back for the next
        // block.
        let used = self
            .shared
            .take()
            .and_then(|shared| Arc::try_unwrap(shared).ok())
            .map(|shared| {
                let mut memory = shared.run.memory;
                memory.clear();
                memory
            });
        if let Some(memory) = used.or(unused) {
            *spares.memory.lock().expect("spare lock poisoned") = Some(memory);
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
