//! The streaming path (pre-execution changes, `execute_transaction` per transaction,
//! `finish`) with the block's transactions in the context: every call must return what the
//! stock `EthBlockExecutor` returns for the same call, the state hook on `State` must see
//! the same commits, and the final `BundleState` must be equal, also when the client
//! strays from the list it gave, when a transaction is invalid, and when the database is
//! `Send` but not `Sync`.

mod common;

use alloy_evm::{
    EvmFactory,
    block::{BlockExecutor, BlockExecutorFactory},
    eth::{
        EthBlockExecutorFactory, EthEvmFactory, receipt_builder::AlloyReceiptBuilder, spec::EthSpec,
    },
};
use alloy_primitives::{Address, U256};
use common::*;
use parallax_adapters::{
    ParallaxBlockExecutorFactory, ParallaxExecutionCtx, PerWorkerDatabase, SharedPrestate,
    StreamedBlock,
};
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use revm::{
    DatabaseRef,
    bytecode::Bytecode,
    database::{BundleState, State, WrapDatabaseRef, states::bundle_state::BundleRetention},
    state::{AccountInfo, EvmState},
};
use std::{
    cell::Cell,
    convert::Infallible,
    sync::{Arc, Mutex},
};

/// What a client observed driving an executor.
#[derive(Debug, PartialEq)]
struct Observed {
    /// Per call: the gas it returned, or its error, with the receipt count after it.
    calls: Vec<(Result<u64, String>, usize)>,
    receipts: Vec<alloy_consensus::ReceiptEnvelope>,
    hook_calls: Vec<EvmState>,
    bundle: BundleState,
}

/// One call a client makes.
#[derive(Clone)]
enum Call {
    Execute(Tx),
    /// `execute_transaction_without_commit`, and the output dropped.
    ExecuteAndDrop(Tx),
    /// A balance change committed into `State` through `evm_mut()` between transactions.
    Mint(Address, u128),
}

type Driven = (
    Vec<(Result<u64, String>, usize)>,
    Vec<alloy_consensus::ReceiptEnvelope>,
);

/// Makes `calls` between the pre-execution changes and `finish`; `before_finish` looks at
/// the executor after the last call.
fn drive<Ex>(mut executor: Ex, calls: &[Call], before_finish: impl FnOnce(&Ex)) -> Driven
where
    <Ex::Evm as alloy_evm::Evm>::DB: revm::DatabaseCommit,
    Ex: BlockExecutor<Receipt = alloy_consensus::ReceiptEnvelope>,
    for<'t> &'t Tx: alloy_evm::block::ExecutableTx<Ex>,
{
    executor.apply_pre_execution_changes().unwrap();
    let mut observed = Vec::new();
    for call in calls {
        let outcome = match call {
            Call::Execute(tx) => executor
                .execute_transaction(tx)
                .map(|gas| gas.tx_gas_used())
                .map_err(|error| error.to_string()),
            Call::ExecuteAndDrop(tx) => executor
                .execute_transaction_without_commit(tx)
                .map(|_| 0)
                .map_err(|error| error.to_string()),
            Call::Mint(address, amount) => {
                use alloy_evm::Evm;
                use revm::{Database, DatabaseCommit};
                let db = executor.evm_mut().db_mut();
                let mut info = db.basic(*address).unwrap().unwrap_or_default();
                info.balance += U256::from(*amount);
                let mut account = revm::state::Account::from(info);
                account.mark_touch();
                db.commit([(*address, account)].into_iter().collect());
                Ok(0)
            }
        };
        observed.push((outcome, executor.receipts().len()));
    }
    before_finish(&executor);
    let (_, result) = executor.finish().unwrap();
    (observed, result.receipts)
}

fn finish_observed<D: DatabaseRef>(
    mut state: State<WrapDatabaseRef<D>>,
    hook_calls: &Mutex<Vec<EvmState>>,
    (calls, receipts): Driven,
) -> Observed {
    state.merge_transitions(BundleRetention::Reverts);
    Observed {
        calls,
        receipts,
        hook_calls: std::mem::take(&mut *hook_calls.lock().unwrap()),
        bundle: state.take_bundle(),
    }
}

fn stock(db: &Arc<Db>, calls: &[Call]) -> Observed {
    let factory = EthBlockExecutorFactory::new(
        AlloyReceiptBuilder::default(),
        EthSpec::mainnet(),
        EthEvmFactory::default(),
    );
    let (mut state, hook_calls) = new_state(Arc::clone(db));
    let evm = factory.evm_factory().create_evm(&mut state, env());
    let driven = drive(factory.create_executor(evm, eth_ctx()), calls, |_| ());
    finish_observed(state, &hook_calls, driven)
}

/// The Parallax executor given `list` in its context, driven by `calls`; also returns how
/// many results came from the parallel run.
fn parallax(db: &Arc<Db>, list: &[Tx], calls: &[Call], threads: usize) -> (Observed, usize) {
    parallax_with(db, list, calls, engine(threads))
}

/// [`parallax`] on `engine`.
fn parallax_with(
    db: &Arc<Db>,
    list: &[Tx],
    calls: &[Call],
    engine: ParallelExecutor,
) -> (Observed, usize) {
    let factory = ParallaxBlockExecutorFactory::<WrapDatabaseRef<Arc<Db>>>::mainnet(engine);
    let (mut state, hook_calls) = new_state(Arc::clone(db));
    let evm = factory.evm_factory().create_evm(&mut state, env());
    let streamed = StreamedBlock::from_recovered(list.iter(), Arc::clone(db));
    let executor =
        factory.create_executor(evm, ParallaxExecutionCtx::streaming(eth_ctx(), streamed));
    let mut from_workers = 0;
    let driven = drive(executor, calls, |executor| {
        from_workers = executor.transactions_from_workers();
    });
    (finish_observed(state, &hook_calls, driven), from_workers)
}

fn executes(txs: &[Tx]) -> Vec<Call> {
    txs.iter().cloned().map(Call::Execute).collect()
}

#[test]
fn streamed_in_order_equals_the_stock_executor_and_runs_on_the_workers() {
    let db = pre_state();
    let txs = block_transactions();
    let expected = stock(&db, &executes(&txs));
    assert!(expected.calls.iter().all(|(outcome, _)| outcome.is_ok()));
    for threads in [1, 2, 4, 8] {
        for _ in 0..3 {
            let (observed, from_workers) = parallax(&db, &txs, &executes(&txs), threads);
            assert_eq!(observed, expected, "{threads} threads");
            assert_eq!(
                from_workers,
                txs.len(),
                "{threads} threads: all from the run"
            );
        }
    }
}

#[test]
fn under_the_default_policy_results_stay_equal_whoever_runs_the_first_transactions() {
    // Under the default policy the client's thread runs transactions itself while the
    // block is being planned, and the workers take over after: where the hand-over falls
    // depends on timing, the results must not.
    let db = pre_state();
    let txs = block_transactions();
    let mut calls = executes(&txs[..9]);
    calls.push(Call::Execute(transfer(
        22,
        0,
        Address::with_last_byte(0x99),
        5,
    )));
    calls.extend(executes(&txs[9..]));
    for calls in [executes(&txs), calls] {
        let expected = stock(&db, &calls);
        for threads in [2, 4] {
            for _ in 0..20 {
                let engine = engine_with(threads, ExecutionPolicy::Auto);
                let (observed, from_workers) = parallax_with(&db, &txs, &calls, engine);
                assert_eq!(observed, expected, "{threads} threads");
                assert!(from_workers <= txs.len());
            }
        }
    }
}

#[test]
fn a_transaction_off_the_list_drops_the_run_and_keeps_the_result() {
    let db = pre_state();
    let txs = block_transactions();
    let mut strayed = executes(&txs[..6]);
    strayed.push(Call::Execute(transfer(
        22,
        0,
        Address::with_last_byte(0x99),
        5,
    )));
    strayed.extend(executes(&txs[6..]));
    let expected = stock(&db, &strayed);
    for threads in [1, 2, 4] {
        let (observed, from_workers) = parallax(&db, &txs, &strayed, threads);
        assert_eq!(observed, expected, "{threads} threads");
        assert_eq!(
            from_workers, 6,
            "the run is dropped at the stray transaction"
        );
    }
}

#[test]
fn transactions_past_the_list_and_a_short_list_run_one_at_a_time() {
    let db = pre_state();
    let txs = block_transactions();
    let mut longer = executes(&txs);
    longer.push(Call::Execute(transfer(
        23,
        0,
        Address::with_last_byte(0x98),
        5,
    )));
    let expected = stock(&db, &longer);
    for threads in [2, 4] {
        let (observed, from_workers) = parallax(&db, &txs, &longer, threads);
        assert_eq!(
            observed, expected,
            "{threads} threads, a transaction past the list"
        );
        assert_eq!(from_workers, txs.len());
        let (observed, from_workers) = parallax(&db, &txs[..10], &longer, threads);
        assert_eq!(observed, expected, "{threads} threads, a list of ten");
        assert_eq!(from_workers, 10);
    }
}

#[test]
fn an_output_taken_and_not_committed_drops_the_run() {
    let db = pre_state();
    let txs = block_transactions();
    let mut calls = executes(&txs[..4]);
    calls.push(Call::ExecuteAndDrop(txs[4].clone()));
    calls.extend(executes(&txs[4..]));
    let expected = stock(&db, &calls);
    for threads in [2, 4] {
        let (observed, from_workers) = parallax(&db, &txs, &calls, threads);
        assert_eq!(observed, expected, "{threads} threads");
        assert_eq!(from_workers, 5, "four committed and one dropped");
    }
}

#[test]
fn a_state_change_through_evm_mut_drops_the_run() {
    let db = pre_state();
    let txs = block_transactions();
    // Sender 20 is paid, then sends the block's last transaction: a mint before that changes
    // what it sends from.
    let mut calls = executes(&txs[..5]);
    calls.push(Call::Mint(sender(20), 12_345));
    calls.extend(executes(&txs[5..]));
    let expected = stock(&db, &calls);
    for threads in [2, 4] {
        let (observed, from_workers) = parallax(&db, &txs, &calls, threads);
        assert_eq!(observed, expected, "{threads} threads");
        assert_eq!(from_workers, 5, "the run is dropped at evm_mut");
    }
}

#[test]
fn an_invalid_transaction_fails_its_own_call_and_nothing_of_it_is_committed() {
    let db = pre_state();
    let mut txs = block_transactions();
    // A nonce gap at index 7; the calls after the error go on, as a client may try.
    txs[7] = transfer(21, 5, Address::with_last_byte(0x97), 1);
    let calls = executes(&txs);
    let expected = stock(&db, &calls);
    assert!(
        expected.calls[7].0.is_err(),
        "the stock executor rejects it"
    );
    assert!(
        expected.calls[..7]
            .iter()
            .all(|(outcome, _)| outcome.is_ok())
    );
    for threads in [1, 2, 4, 8] {
        let (observed, from_workers) = parallax(&db, &txs, &calls, threads);
        assert_eq!(observed, expected, "{threads} threads");
        assert_eq!(from_workers, 7, "the run ends at the invalid transaction");
    }
}

/// A database handle that belongs to one thread: `Send`, not `Sync` (like a database read
/// transaction).
#[derive(Debug)]
struct ThreadBoundDb {
    data: Arc<Db>,
    reads: Cell<u64>,
}

impl DatabaseRef for ThreadBoundDb {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        self.reads.set(self.reads.get() + 1);
        self.data.basic_ref(address)
    }

    fn code_by_hash_ref(&self, code_hash: alloy_primitives::B256) -> Result<Bytecode, Infallible> {
        self.reads.set(self.reads.get() + 1);
        self.data.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Infallible> {
        self.reads.set(self.reads.get() + 1);
        self.data.storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<alloy_primitives::B256, Infallible> {
        self.data.block_hash_ref(number)
    }
}

#[test]
fn a_database_that_is_send_but_not_sync_runs_in_parallel_with_one_handle_per_worker() {
    let db = pre_state();
    let txs = block_transactions();
    let calls = executes(&txs);
    let expected = stock(&db, &calls);
    let threads = 4;
    let factory =
        ParallaxBlockExecutorFactory::<WrapDatabaseRef<ThreadBoundDb>>::mainnet_per_worker(engine(
            threads,
        ));
    let handle = || ThreadBoundDb {
        data: Arc::clone(&db),
        reads: Cell::new(0),
    };
    for drive_whole_block in [false, true] {
        let (mut state, hook_calls) = new_state(handle());
        let evm = factory.evm_factory().create_evm(&mut state, env());
        let data = Arc::clone(&db);
        let workers = Arc::new(PerWorkerDatabase::new(threads, move || {
            Ok(ThreadBoundDb {
                data: Arc::clone(&data),
                reads: Cell::new(0),
            })
        }));
        let prestate: SharedPrestate<Infallible> = workers.clone();
        let streamed = StreamedBlock::with_shared_prestate(
            txs.iter()
                .map(|tx| alloy_evm::FromRecoveredTx::from_recovered_tx(tx.inner(), tx.signer())),
            prestate,
        );
        let executor =
            factory.create_executor(evm, ParallaxExecutionCtx::streaming(eth_ctx(), streamed));
        assert!(executor.runs_parallel());
        let driven = if drive_whole_block {
            let result = executor.execute_block(txs.iter()).unwrap();
            (expected.calls.clone(), result.receipts)
        } else {
            drive(executor, &calls, |executor| {
                assert_eq!(executor.transactions_from_workers(), txs.len());
            })
        };
        let observed = finish_observed(state, &hook_calls, driven);
        assert_eq!(observed, expected, "whole block: {drive_whole_block}");
        assert!(
            (1..=threads + 1).contains(&workers.opened()),
            "{} handles opened",
            workers.opened()
        );
    }
    // Without a streamed block such a factory has nothing the workers could read.
    let (mut state, _) = new_state(handle());
    let evm = factory.evm_factory().create_evm(&mut state, env());
    let executor = factory.create_executor(evm, eth_ctx().into());
    assert!(!executor.runs_parallel());
}
