//! Shared helpers for the engine's integration tests: test contracts, a block builder, and
//! the check that parallel execution equals sequential revm.
#![allow(dead_code)]

pub(crate) mod asm;
pub(crate) mod contracts;

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use parallax_engine::{
    BlockOutput, ExecutionError, ExecutionPolicy, ParallelExecutor, StreamTransactions, Streamed,
    execute_sequential, execute_sequential_after, execute_sequential_with_access_list,
};
use revm::{
    DatabaseCommit, DatabaseRef,
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::ExecutionResult,
    database::{BundleState, CacheDB, EmptyDB, State, states::bundle_state::BundleRetention},
    primitives::hardfork::SpecId,
    state::{AccountInfo, bal::Bal},
};
use std::sync::{Arc, OnceLock};
use std::{collections::HashMap, convert::Infallible, num::NonZeroUsize};

pub(crate) type TestDb = CacheDB<EmptyDB>;
pub(crate) type TestResult = Result<BlockOutput, ExecutionError<Infallible>>;

pub(crate) const THREAD_COUNTS: [usize; 4] = [1, 2, 4, 8];

/// A block ready to execute.
pub(crate) struct TestBlock {
    pub db: TestDb,
    pub cfg: CfgEnv,
    pub block: BlockEnv,
    pub txs: Vec<TxEnv>,
}

/// An externally owned account, far from the precompile addresses.
pub(crate) fn eoa(i: usize) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xe0;
    bytes[18..].copy_from_slice(&(i as u16).to_be_bytes());
    Address::from(bytes)
}

/// A contract address.
pub(crate) fn contract(i: usize) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xc0;
    bytes[19] = i as u8;
    Address::from(bytes)
}

pub(crate) fn word(value: impl Into<U256>) -> [u8; 32] {
    value.into().to_be_bytes()
}

pub(crate) fn address_word(address: Address) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[12..].copy_from_slice(address.as_slice());
    word
}

/// Calldata for a kitchen-sink operation.
pub(crate) fn sink_call(op: contracts::SinkOp, a: [u8; 32], b: [u8; 32], payload: &[u8]) -> Bytes {
    let mut data = word(U256::from(op as u8)).to_vec();
    data.extend_from_slice(&a);
    data.extend_from_slice(&b);
    data.extend_from_slice(payload);
    data.into()
}

/// Builds the pre-state and the transactions of a test block, keeping sender nonces right.
pub(crate) struct BlockBuilder {
    pub db: TestDb,
    pub cfg: CfgEnv,
    pub block: BlockEnv,
    pub txs: Vec<TxEnv>,
    nonces: HashMap<Address, u64>,
}

impl BlockBuilder {
    pub(crate) fn new(spec: SpecId) -> Self {
        let cfg = CfgEnv::new_with_spec(spec);
        let block = BlockEnv {
            number: U256::from(1_000),
            beneficiary: Address::with_last_byte(0xcb),
            timestamp: U256::from(1_700_000_000u64),
            gas_limit: 30_000_000,
            basefee: if spec.is_enabled_in(SpecId::LONDON) {
                7
            } else {
                0
            },
            difficulty: U256::from(1),
            ..Default::default()
        };
        Self {
            db: CacheDB::new(EmptyDB::default()),
            cfg,
            block,
            txs: Vec::new(),
            nonces: HashMap::new(),
        }
    }

    pub(crate) fn spec(&self) -> SpecId {
        self.cfg.spec
    }

    pub(crate) fn fund(&mut self, address: Address, balance: U256) -> &mut Self {
        let mut info = self
            .db
            .cache
            .accounts
            .get(&address)
            .map(|a| a.info.clone())
            .unwrap_or_default();
        info.balance = balance;
        self.db.insert_account_info(address, info);
        self
    }

    pub(crate) fn deploy(&mut self, address: Address, code: Vec<u8>, balance: U256) -> &mut Self {
        let code = Bytecode::new_raw(code.into());
        self.db.insert_account_info(
            address,
            AccountInfo {
                balance,
                nonce: 1,
                code_hash: code.hash_slow(),
                code: Some(code),
                ..Default::default()
            },
        );
        self
    }

    pub(crate) fn set_storage(&mut self, address: Address, slot: U256, value: U256) -> &mut Self {
        self.db
            .insert_account_storage(address, slot, value)
            .expect("in-memory insert");
        self
    }

    pub(crate) fn beneficiary(&mut self, address: Address) -> &mut Self {
        self.block.beneficiary = address;
        self
    }

    fn next_nonce(&mut self, from: Address) -> u64 {
        let nonce = self.nonces.entry(from).or_insert_with(|| {
            self.db
                .cache
                .accounts
                .get(&from)
                .map_or(0, |a| a.info.nonce)
        });
        *nonce += 1;
        *nonce - 1
    }

    /// A legacy transaction paying `gas_price`.
    pub(crate) fn tx(
        &mut self,
        from: Address,
        kind: TxKind,
        value: U256,
        data: Bytes,
        gas_price: u128,
    ) -> &mut TxEnv {
        let nonce = self.next_nonce(from);
        let gas_price = gas_price.max(u128::from(self.block.basefee));
        self.txs.push(TxEnv {
            caller: from,
            kind,
            value,
            data,
            nonce,
            gas_limit: 1_000_000,
            gas_price,
            chain_id: Some(self.cfg.chain_id),
            ..Default::default()
        });
        self.txs.last_mut().expect("just pushed")
    }

    pub(crate) fn transfer(&mut self, from: Address, to: Address, value: u64) -> &mut TxEnv {
        self.tx(from, TxKind::Call(to), U256::from(value), Bytes::new(), 10)
    }

    pub(crate) fn call(&mut self, from: Address, to: Address, data: Bytes) -> &mut TxEnv {
        self.tx(from, TxKind::Call(to), U256::ZERO, data, 10)
    }

    pub(crate) fn build(self) -> TestBlock {
        TestBlock {
            db: self.db,
            cfg: self.cfg,
            block: self.block,
            txs: self.txs,
        }
    }
}

pub(crate) fn sequential(block: &TestBlock) -> TestResult {
    execute_sequential(&block.db, &block.cfg, &block.block, &block.txs)
}

/// One forced-parallel executor per thread count, shared by every test of the binary so
/// that blocks run on memory recycled from earlier blocks, as in a long-running client.
pub(crate) fn executor(threads: usize) -> &'static ParallelExecutor {
    static EXECUTORS: OnceLock<Vec<ParallelExecutor>> = OnceLock::new();
    let executors = EXECUTORS.get_or_init(|| {
        (1..=THREAD_COUNTS.into_iter().max().unwrap())
            .map(|threads| {
                ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
                    .unwrap()
                    .with_policy(ExecutionPolicy::AlwaysParallel)
            })
            .collect()
    });
    &executors[threads - 1]
}

pub(crate) fn parallel(block: &TestBlock, threads: usize) -> TestResult {
    executor(threads).execute(&block.db, &block.cfg, &block.block, &block.txs)
}

/// The block through [`ParallelExecutor::stream`], forced parallel, taking each output as
/// it becomes final; where the stream hands over to in-order execution, the rest runs
/// sequentially on top of the streamed outputs, as a client does.
pub(crate) fn streamed(block: &TestBlock, threads: usize) -> TestResult {
    stream_on(executor(threads), block)
}

/// The block streamed by `executor`, under its own policy (see [`streamed`]).
pub(crate) fn stream_on(executor: &ParallelExecutor, block: &TestBlock) -> TestResult {
    stream_from(executor, block.db.clone(), block)
}

/// The block streamed by `executor` over `db` instead of the block's own database.
pub(crate) fn stream_from<DB>(
    executor: &ParallelExecutor,
    db: DB,
    block: &TestBlock,
) -> Result<BlockOutput, ExecutionError<DB::Error>>
where
    DB: DatabaseRef + Clone + Send + Sync + 'static,
    DB::Error: Send + 'static,
{
    let mut stream = executor.stream(
        db.clone(),
        block.cfg.clone(),
        block.block.clone(),
        StreamTransactions::Ready(block.txs.clone().into()),
    );
    let mut transactions = Vec::new();
    loop {
        match stream.next_output() {
            Streamed::Output(output) => transactions.push(output),
            Streamed::Failed(error) => return Err(error),
            Streamed::End => break,
            Streamed::InOrderFrom(first) => {
                assert_eq!(
                    first,
                    transactions.len(),
                    "the stream hands over where it is"
                );
                let rest = execute_sequential_after(
                    &db,
                    &block.cfg,
                    &block.block,
                    &transactions,
                    &block.txs[first..],
                )?;
                transactions.extend(rest.transactions);
                return Ok(BlockOutput {
                    transactions,
                    gas_used: rest.gas_used,
                    access: None,
                    stats: stream.stats(),
                });
            }
        }
    }
    Ok(BlockOutput {
        transactions,
        gas_used: stream.gas_used(),
        access: None,
        stats: stream.stats(),
    })
}

/// The block's EIP-7928 access list as sequential revm's `State` builds it, each
/// transaction's commit at its index.
pub(crate) fn built_list(block: &TestBlock) -> Bal {
    execute_sequential_with_access_list(&block.db, &block.cfg, &block.block, &block.txs)
        .expect("the block executes")
        .1
}

/// What a client gets from a block's outputs: each transaction's result, the block's gas,
/// and the `BundleState` of committing them in order into revm's `State` over the
/// pre-state. (Executed from an access list, an empty account's `LoadedAsNotExisting` flag
/// may differ from sequential revm's outputs, as with stock revm reading a list; this is
/// what it must not change.)
pub(crate) fn committed(
    block: &TestBlock,
    output: &BlockOutput,
) -> (Vec<ExecutionResult>, u64, BundleState) {
    let mut state = State::builder()
        .with_database_ref(&block.db)
        .with_bundle_update()
        .build();
    for tx in &output.transactions {
        state.commit(tx.state.clone());
    }
    state.merge_transitions(BundleRetention::Reverts);
    let results = output
        .transactions
        .iter()
        .map(|tx| tx.result.clone())
        .collect();
    (results, output.gas_used, state.take_bundle())
}

/// The block executed from `list` on `threads` workers.
pub(crate) fn from_access_list(block: &TestBlock, threads: usize, list: &Arc<Bal>) -> TestResult {
    executor(threads).execute_with_access_list(
        &block.db,
        &block.cfg,
        &block.block,
        &block.txs,
        list,
    )
}

/// Asserts that forced parallel execution equals sequential revm at every thread count,
/// on repeated runs, streamed in order and executed from the access list sequential revm
/// builds for the block, and returns the sequential result.
pub(crate) fn assert_matches_sequential(block: &TestBlock) -> TestResult {
    let expected = sequential(block);
    // A block that fails has no list to run from.
    let list = expected.is_ok().then(|| Arc::new(built_list(block)));
    for threads in THREAD_COUNTS {
        let Some(list) = &list else { break };
        let actual = from_access_list(block, threads, list);
        let same = match (&actual, &expected) {
            (Ok(actual), Ok(expected)) => committed(block, actual) == committed(block, expected),
            (actual, expected) => actual.as_ref().err() == expected.as_ref().err(),
        };
        if !same {
            let message = describe_mismatch(&expected, &actual, threads, 0);
            panic!("from the access list: {message}");
        }
        // Before Cancun the block runs the usual way, then the list is checked.
        if let Ok(output) = &actual
            && block.cfg.spec.is_enabled_in(SpecId::CANCUN)
        {
            assert_eq!(output.stats.path(), "access_list");
            assert_eq!(
                output.stats.executions,
                block.txs.len(),
                "one execution each"
            );
        }
    }
    for threads in THREAD_COUNTS {
        let Some(list) = &list else { break };
        if let Ok(output) = parallel(block, threads) {
            assert!(
                output.access_list() == **list,
                "the engine's list at {threads} threads is not revm's"
            );
        }
    }
    for threads in THREAD_COUNTS {
        for run in 0..2 {
            let actual = parallel(block, threads);
            if actual != expected {
                panic!("{}", describe_mismatch(&expected, &actual, threads, run));
            }
        }
        let actual = streamed(block, threads);
        if actual != expected {
            let message = describe_mismatch(&expected, &actual, threads, 0);
            panic!("streamed: {message}");
        }
    }
    expected
}

pub(crate) fn describe_mismatch(
    expected: &TestResult,
    actual: &TestResult,
    threads: usize,
    run: usize,
) -> String {
    let mut message = format!("parallel ({threads} threads, run {run}) differs from sequential:\n");
    match (expected, actual) {
        (Ok(expected), Ok(actual)) => {
            for (i, (e, a)) in expected
                .transactions
                .iter()
                .zip(&actual.transactions)
                .enumerate()
            {
                if e.result != a.result {
                    message += &format!(
                        "tx {i} result:\n  sequential {:?}\n  parallel   {:?}\n",
                        e.result, a.result
                    );
                }
                if e.state != a.state {
                    for (address, account) in &e.state {
                        if a.state.get(address) != Some(account) {
                            message += &format!(
                                "tx {i} account {address}:\n  sequential {:?}\n  parallel   {:?}\n",
                                account,
                                a.state.get(address)
                            );
                        }
                    }
                    for address in a.state.keys().filter(|k| !e.state.contains_key(*k)) {
                        message += &format!(
                            "tx {i} account {address} only in parallel: {:?}\n",
                            a.state[address]
                        );
                    }
                }
            }
            if expected.state_diff() != actual.state_diff() {
                message += &format!(
                    "state diff:\n  sequential {:?}\n  parallel   {:?}\n",
                    expected.state_diff(),
                    actual.state_diff()
                );
            }
        }
        _ => {
            let brief = |result: &TestResult| match result {
                Ok(output) => format!("Ok({} transactions)", output.transactions.len()),
                Err(error) => format!("Err({error})"),
            };
            message += &format!(
                "  sequential {}\n  parallel   {}\n",
                brief(expected),
                brief(actual)
            );
        }
    }
    message
}

pub(crate) fn hash(n: u8) -> B256 {
    B256::repeat_byte(n)
}
