//! A database that fails, panics or contradicts itself, on every path of the engine
//! (sequential, Block-STM, Block-STM switching to in-order, streamed, from an access list) at
//! 1, 2 and 8 threads: the block returns an error that names the transaction and the cause,
//! no thread hangs, and the same executor runs the next block correctly.

use super::*;
use parallax_engine::{BlockOutput, ExecutionError, ExecutionPolicy, ParallelExecutor};
use parallax_faulty_db::{Fault, FaultyDb, InjectedFault};
use std::{
    collections::HashMap,
    num::NonZeroUsize,
    sync::{Arc, Mutex, OnceLock, mpsc},
    time::Duration,
};

type FaultResult = Result<BlockOutput, ExecutionError<InjectedFault>>;

const THREADS: [usize; 3] = [1, 2, 8];

/// Senders pay recipients no one else touches, then a contract's counters are incremented:
/// the first reader of each account and slot is known in block order.
fn block() -> Arc<TestBlock> {
    block_of(12)
}

/// [`block`] with `txs` transactions, half of them transfers.
fn block_of(txs: usize) -> Arc<TestBlock> {
    let mut b = funded(SpecId::CANCUN, txs);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    for i in 0..txs / 2 {
        b.transfer(eoa(i), eoa(100 + i), 1_000);
    }
    for i in txs / 2..txs {
        b.call(
            eoa(i),
            contract(0),
            sink_call(SinkOp::Increment, word(U256::from(i % 2)), [0; 32], &[]),
        );
    }
    Arc::new(b.build())
}

#[derive(Clone, Copy, Debug)]
enum Path {
    Sequential,
    BlockStm,
    SwitchToInOrder,
    Streamed,
    FromAccessList,
}

const PATHS: [Path; 5] = [
    Path::Sequential,
    Path::BlockStm,
    Path::SwitchToInOrder,
    Path::Streamed,
    Path::FromAccessList,
];

/// One executor per path and thread count for the whole test binary, so that a fault in one
/// block is followed by other blocks on the same workers.
fn executor_for(path: Path, threads: usize) -> &'static ParallelExecutor {
    static EXECUTORS: OnceLock<Mutex<HashMap<(u8, usize), &'static ParallelExecutor>>> =
        OnceLock::new();
    let policy = match path {
        Path::Sequential => ExecutionPolicy::AlwaysSequential,
        Path::SwitchToInOrder => ExecutionPolicy::SwitchToInOrderAfter(4),
        Path::BlockStm | Path::Streamed | Path::FromAccessList => ExecutionPolicy::AlwaysParallel,
    };
    let key = (path as u8, threads);
    let mut executors = EXECUTORS.get_or_init(Mutex::default).lock().unwrap();
    let executor: &'static ParallelExecutor = executors.entry(key).or_insert_with(|| {
        Box::leak(Box::new(
            ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
                .unwrap()
                .with_policy(policy),
        ))
    });
    executor
}

fn run_on<DB>(
    path: Path,
    threads: usize,
    block: &TestBlock,
    db: DB,
) -> Result<BlockOutput, ExecutionError<DB::Error>>
where
    DB: revm::DatabaseRef + Clone + Send + Sync + 'static,
    DB::Error: Send + 'static,
{
    let executor = executor_for(path, threads);
    match path {
        Path::Sequential | Path::BlockStm | Path::SwitchToInOrder => {
            executor.execute(&db, &block.cfg, &block.block, &block.txs)
        }
        Path::Streamed => stream_from(executor, db, block),
        Path::FromAccessList => executor.execute_with_access_list(
            &db,
            &block.cfg,
            &block.block,
            &block.txs,
            &Arc::new(built_list(block)),
        ),
    }
}

/// Runs `block` over `fault` on `path`, on another thread, and gives up after a minute: a
/// hang fails the test, and so does a panic that reaches the caller.
fn run_faulty(path: Path, threads: usize, block: &Arc<TestBlock>, fault: Fault) -> FaultResult {
    let (done, result) = mpsc::channel();
    let block = Arc::clone(block);
    std::thread::spawn(move || {
        let db = FaultyDb::new(Arc::new(block.db.clone()), fault);
        let _ = done.send(run_on(path, threads, &block, db));
    });
    match result.recv_timeout(Duration::from_secs(60)) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{path:?} at {threads} threads hangs on {fault:?}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            panic!(
                "{path:?} at {threads} threads panicked on {fault:?} instead of failing the block"
            )
        }
    }
}

/// The same executor then runs a clean block exactly as sequential revm does.
fn assert_recovers(path: Path, threads: usize, clean: &TestBlock) {
    let expected = committed(clean, &sequential(clean).unwrap());
    let output = run_on(path, threads, clean, Arc::new(clean.db.clone()))
        .unwrap_or_else(|error| panic!("{path:?} at {threads} threads after a fault: {error}"));
    assert!(
        committed(clean, &output) == expected,
        "{path:?} at {threads} threads gives another result after a fault"
    );
}

/// Every path at every thread count fails the block at `index`, naming the cause.
fn assert_fails_at(fault: Fault, index: usize, cause: &str) {
    let block = block();
    for path in PATHS {
        for threads in THREADS {
            let error = run_faulty(path, threads, &block, fault)
                .expect_err(&format!("{path:?} at {threads} threads ignores {fault:?}"));
            assert_eq!(
                error.transaction_index(),
                Some(index),
                "{path:?} at {threads} threads, {fault:?}: {error}"
            );
            assert!(
                error.to_string().contains(cause),
                "{path:?} at {threads} threads, {fault:?}: {error}"
            );
            assert_recovers(path, threads, &block);
        }
    }
}

#[test]
fn a_failing_account_read_fails_the_first_transaction_that_reads_it() {
    // Transaction 3 pays eoa(103), which nothing before it touches.
    assert_fails_at(Fault::Account(eoa(103)), 3, "injected fault: account");
}

#[test]
fn a_failing_slot_read_fails_the_first_transaction_that_reads_it() {
    // Transaction 7 is the first to increment counter 1.
    assert_fails_at(
        Fault::Slot(contract(0), U256::from(1)),
        7,
        "injected fault: slot 0x1",
    );
}

#[test]
fn a_panicking_read_fails_the_block_instead_of_the_process() {
    assert_fails_at(
        Fault::PanicOn(eoa(104)),
        4,
        "injected panic reading account",
    );
}

/// The k-th read of the block fails, for every k the block makes and on every path: the
/// block either fails naming a transaction and the fault, or (where the failed read was
/// speculative and its transaction ran again) gives sequential revm's result.
#[test]
fn any_single_failing_read_fails_the_block_or_leaves_it_exact() {
    let block = block_of(40);
    let expected = committed(&block, &sequential(&block).unwrap());
    let reads = {
        let db = FaultyDb::new(Arc::new(block.db.clone()), Fault::NthRead(usize::MAX));
        parallax_engine::execute_sequential(&db, &block.cfg, &block.block, &block.txs).unwrap();
        db.reads()
    };
    assert!(reads > 20, "{reads} reads");
    let mut failed = 0;
    let mut runs = 0;
    for path in PATHS {
        for threads in THREADS {
            for k in 0..reads + 4 {
                runs += 1;
                match run_faulty(path, threads, &block, Fault::NthRead(k)) {
                    Ok(output) => assert!(
                        committed(&block, &output) == expected,
                        "{path:?} at {threads} threads, read {k} failing: another result"
                    ),
                    Err(error) => {
                        failed += 1;
                        // A read outside any transaction's execution (the beneficiary's,
                        // read once for the block) names the transaction it was for.
                        let text = error.to_string();
                        assert!(
                            text.contains("transaction ") && text.contains("injected fault: read"),
                            "{path:?} at {threads} threads, read {k} failing: {error}"
                        );
                    }
                }
            }
            assert_recovers(path, threads, &block);
        }
    }
    eprintln!("{runs} blocks, each with one of the {reads} reads failing: {failed} failed");
    assert!(failed > runs / 2, "{failed} of {runs} runs failed");
}

/// An account whose balance differs at every read: no panic and no hang, whatever the
/// result; and the executor is unharmed.
#[test]
fn a_database_that_contradicts_itself_neither_panics_nor_hangs() {
    let block = block();
    for path in PATHS {
        for threads in THREADS {
            for account in [eoa(0), eoa(102), contract(0)] {
                let _ = run_faulty(path, threads, &block, Fault::Inconsistent(account));
            }
            assert_recovers(path, threads, &block);
        }
    }
}

/// Every account and slot of a block failing in turn: each path at each thread count fails
/// with exactly sequential revm's error, at the same transaction.
#[test]
fn every_failing_location_gives_sequential_revms_error() {
    let txs = 24;
    let block = block_of(txs);
    let mut faults: Vec<Fault> = (0..txs)
        .flat_map(|i| [Fault::Account(eoa(i)), Fault::Account(eoa(100 + i))])
        .collect();
    faults.push(Fault::Account(contract(0)));
    faults.extend((0..2).map(|slot| Fault::Slot(contract(0), U256::from(slot))));
    let mut runs = 0;
    for fault in faults {
        let db = FaultyDb::new(Arc::new(block.db.clone()), fault);
        let expected =
            parallax_engine::execute_sequential(&db, &block.cfg, &block.block, &block.txs)
                .map(|output| committed(&block, &output));
        for path in PATHS {
            for threads in THREADS {
                runs += 1;
                let result = run_faulty(path, threads, &block, fault)
                    .map(|output| committed(&block, &output));
                assert!(
                    result == expected,
                    "{path:?} at {threads} threads, {fault:?}: {:?} where sequential revm gives {:?}",
                    result.as_ref().err(),
                    expected.as_ref().err()
                );
            }
        }
    }
    eprintln!("{runs} blocks, each with one account or slot failing");
}
