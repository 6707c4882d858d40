//! A minimal client loop: the chain state lives in the client's own database, each block is
//! imported through the Parallax executor factory, its bundle is committed to the database,
//! and the resulting state root is checked against the block header.
//!
//! ```text
//! cargo run --release -p parallax-replay --example client_loop -- [--always-parallel] [--drive block|streaming] [FIXTURE] [TEST]
//! ```
//!
//! By default the executor is driven as reth's engine tree drives it: the block's
//! transactions go into the execution context, then pre-execution changes,
//! `execute_transaction` per transaction (reading `receipts().last()` after each), and
//! `finish`. `--drive block` hands the block over with `execute_block` instead. Each line
//! says which path ran and when the first and the last receipt were there.
//!
//! FIXTURE is a BlockchainTest JSON file or a `.tar.zst` archive of them (default: the v13.3
//! archive in ../shared/fixtures) and TEST names the chain to import (default:
//! `medDemand_Cancun`, 23 blocks of EIP-1559 traffic on Cancun). Its blocks are small, so
//! the engine's default policy runs them sequentially; `--always-parallel` forces the
//! parallel path on every block.
//!
//! The state root is computed by the replay library's `complete_state_root`, the same code
//! the consensus-test runner checks every test chain with.

use alloy_consensus::{
    Block, TxEnvelope,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_eips::eip7840::BlobParams;
use alloy_evm::{
    EvmEnv, EvmFactory, FromRecoveredTx,
    block::{BlockExecutor, BlockExecutorFactory},
    eth::{EthBlockExecutionCtx, receipt_builder::AlloyReceiptBuilder, spec::EthExecutorSpec},
};
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use parallax_adapters::{ParallaxBlockExecutorFactory, ParallaxExecutionCtx, StreamedBlock};
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use parallax_replay::{CompleteAccount, complete_state_root};
use revm::{
    bytecode::Bytecode,
    context::TxEnv,
    database::{
        BundleState, CacheDB, EmptyDB, State, WrapDatabaseRef,
        states::bundle_state::BundleRetention,
    },
    primitives::KECCAK_EMPTY,
    state::AccountInfo,
};
use std::{borrow::Cow, error::Error, io::Read, path::Path, sync::Arc, time::Instant};

/// The client's database: its own state, shared with the executor while a block runs.
type ChainDb = CacheDB<EmptyDB>;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let policy = if args.next_if(|arg| arg == "--always-parallel").is_some() {
        ExecutionPolicy::AlwaysParallel
    } else {
        ExecutionPolicy::Auto
    };
    let streaming = match args.next_if(|arg| arg == "--drive") {
        None => true,
        Some(_) => match args.next().as_deref() {
            Some("streaming") => true,
            Some("block") => false,
            other => return Err(format!("--drive takes block or streaming, not {other:?}").into()),
        },
    };
    let fixture = args.next().unwrap_or_else(|| {
        "../shared/fixtures/consensus/ethereum-tests-v13.3-ValidBlocks.tar.zst".into()
    });
    let name = args.next().unwrap_or_else(|| "medDemand_Cancun".into());
    let test = load_test(Path::new(&fixture), &name)?;
    if test["network"] != "Cancun" {
        return Err(format!(
            "this example follows a Cancun chain; {name} runs on {}",
            test["network"]
        )
        .into());
    }

    // 1. The client's chain state, starting from genesis.
    let mut db = Arc::new(genesis_state(&test)?);
    let mut head = decode_block(&test["genesisRLP"])?.header;
    check_state_root(&db, head.state_root, head.number)?;

    // 2. The executor factory, plugged in where a client would use EthBlockExecutorFactory.
    //    Its type names the database the client keeps under revm's `State`.
    let factory = ParallaxBlockExecutorFactory::<WrapDatabaseRef<Arc<ChainDb>>, _, _>::new(
        AlloyReceiptBuilder::default(),
        cancun_chain(),
        ParallelExecutor::with_available_parallelism()?.with_policy(policy),
    );

    for fixture_block in test["blocks"].as_array().ok_or("the test has no blocks")? {
        let block = decode_block(&fixture_block["rlp"])?;
        let transactions: Arc<[Recovered<TxEnvelope>]> = block
            .body
            .transactions
            .iter()
            .map(|tx| Ok(Recovered::new_unchecked(tx.clone(), tx.recover_signer()?)))
            .collect::<Result<Vec<_>, Box<dyn Error>>>()?
            .into();

        // 3. Execute the block through revm's State over the client's database.
        let mut state = State::builder()
            .with_database_ref(Arc::clone(&db))
            .with_bundle_update()
            .build();
        let env =
            EvmEnv::for_eth_block(&block.header, factory.spec(), 1, Some(BlobParams::cancun()));
        let evm = factory.evm_factory().create_evm(&mut state, env);
        let ctx = EthBlockExecutionCtx {
            parent_hash: block.header.parent_hash,
            parent_beacon_block_root: block.header.parent_beacon_block_root,
            ommers: &block.body.ommers,
            withdrawals: block
                .body
                .withdrawals
                .as_ref()
                .map(|w| Cow::Borrowed(w.as_slice())),
            extra_data: block.header.extra_data.clone(),
            tx_count_hint: Some(transactions.len()),
            slot_number: None,
        };
        let tx_envs: Vec<TxEnv> = transactions
            .iter()
            .map(|tx| TxEnv::from_recovered_tx(tx.inner(), tx.signer()))
            .collect();
        let start = Instant::now();
        let (result, path, first_receipt) = if streaming {
            // Where the client builds the context for a block (reth: `context_for_block`),
            // it hands over the transactions and a second handle on the pre-state.
            let streamed =
                StreamedBlock::from_shared_recovered(Arc::clone(&transactions), Arc::clone(&db));
            let mut executor =
                factory.create_executor(evm, ParallaxExecutionCtx::streaming(ctx, streamed));
            executor.apply_pre_execution_changes()?;
            let mut first_receipt = None;
            for tx in transactions.iter() {
                executor.execute_transaction(tx)?;
                // reth streams each receipt to its receipt-root task here.
                let _receipt = executor.receipts().last().ok_or("no receipt")?;
                first_receipt.get_or_insert_with(|| start.elapsed());
            }
            let from_workers = executor.transactions_from_workers();
            let path = match from_workers {
                0 => "sequential".to_owned(),
                n if n == transactions.len() => "parallel".to_owned(),
                n => format!("mixed ({n} of {} from the workers)", transactions.len()),
            };
            let (_, result) = executor.finish()?;
            (result, path, first_receipt)
        } else {
            let executor = factory.create_executor(evm, ctx.into());
            // The executor hands the block to the engine, which runs it in parallel unless
            // the block is too small, or too much of one dependency chain, to gain from
            // threads.
            let parallel = executor.runs_parallel() && factory.engine().runs_parallel(&tx_envs);
            let path = if parallel { "parallel" } else { "sequential" };
            (
                executor.execute_block(transactions.iter())?,
                path.to_owned(),
                None,
            )
        };
        let last_receipt = start.elapsed();
        if result.gas_used != block.header.gas_used {
            return Err(format!(
                "block {}: gas used {} but the header has {}",
                block.header.number, result.gas_used, block.header.gas_used
            )
            .into());
        }
        state.merge_transitions(BundleRetention::Reverts);
        let bundle = state.take_bundle();
        drop(state);

        // 4. Persist the block's changes, then check the state root the header commits to.
        commit_bundle(
            Arc::get_mut(&mut db).ok_or("the database is still shared")?,
            &bundle,
        );
        check_state_root(&db, block.header.state_root, block.header.number)?;
        let first = first_receipt.map_or_else(
            || "-".to_owned(),
            |first| format!("{:.0} us", first.as_secs_f64() * 1e6),
        );
        println!(
            "block {:>3}: {:>2} txs, {:>8} gas, {path}, first receipt {first}, last {:.0} us, state root ok",
            block.header.number,
            transactions.len(),
            result.gas_used,
            last_receipt.as_secs_f64() * 1e6
        );
        head = block.header;
    }
    println!(
        "imported up to block {} ({}); every state root matched",
        head.number,
        head.hash_slow()
    );
    Ok(())
}

/// A test chain with Cancun rules from genesis.
#[derive(Debug, Clone)]
struct CancunChain(EthereumChainHardforks);

impl EthereumHardforks for CancunChain {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.0.ethereum_fork_activation(fork)
    }
}

impl EthExecutorSpec for CancunChain {
    fn deposit_contract_address(&self) -> Option<Address> {
        None
    }
}

fn cancun_chain() -> CancunChain {
    let forks = [
        EthereumHardfork::Frontier,
        EthereumHardfork::Homestead,
        EthereumHardfork::Tangerine,
        EthereumHardfork::SpuriousDragon,
        EthereumHardfork::Byzantium,
        EthereumHardfork::Constantinople,
        EthereumHardfork::Petersburg,
        EthereumHardfork::Istanbul,
        EthereumHardfork::Berlin,
        EthereumHardfork::London,
    ]
    .into_iter()
    .map(|fork| (fork, ForkCondition::Block(0)))
    .chain([
        (
            EthereumHardfork::Paris,
            ForkCondition::TTD {
                activation_block_number: 0,
                fork_block: Some(0),
                total_difficulty: U256::ZERO,
            },
        ),
        (EthereumHardfork::Shanghai, ForkCondition::Timestamp(0)),
        (EthereumHardfork::Cancun, ForkCondition::Timestamp(0)),
    ]);
    CancunChain(EthereumChainHardforks::new(forks))
}

/// Applies a block's bundle to the client's database, as a client persists a block.
fn commit_bundle(db: &mut ChainDb, bundle: &BundleState) {
    for (hash, code) in &bundle.contracts {
        db.cache.contracts.insert(*hash, code.clone());
    }
    for (address, account) in &bundle.state {
        let Some(info) = &account.info else {
            db.cache.accounts.remove(address);
            continue;
        };
        let entry = db.cache.accounts.entry(*address).or_default();
        if account.was_destroyed() {
            entry.storage.clear();
        }
        entry.info = info.clone();
        entry.account_state = revm::database::AccountState::Touched;
        for (slot, value) in &account.storage {
            entry.storage.insert(*slot, value.present_value);
        }
    }
}

/// Checks the database's state root against a header's.
fn check_state_root(db: &ChainDb, expected: B256, number: u64) -> Result<(), Box<dyn Error>> {
    let root = complete_state_root(
        db.cache
            .accounts
            .iter()
            .filter(|(_, a)| a.info().is_some())
            .map(|(address, account)| {
                let complete = CompleteAccount {
                    nonce: account.info.nonce,
                    balance: account.info.balance,
                    code_hash: account.info.code_hash,
                    storage: account.storage.iter().map(|(k, v)| (*k, *v)),
                };
                (*address, complete)
            }),
    );
    if root != expected {
        return Err(
            format!("block {number}: state root {root} but the header has {expected}").into(),
        );
    }
    Ok(())
}

fn genesis_state(test: &serde_json::Value) -> Result<ChainDb, Box<dyn Error>> {
    let mut db = ChainDb::default();
    for (address, account) in test["pre"].as_object().ok_or("the test has no pre-state")? {
        let code: Bytes = serde_json::from_value(account["code"].clone())?;
        let info = AccountInfo {
            balance: serde_json::from_value(account["balance"].clone())?,
            nonce: serde_json::from_value::<U256>(account["nonce"].clone())?.saturating_to(),
            code_hash: if code.is_empty() {
                KECCAK_EMPTY
            } else {
                keccak256(&code)
            },
            code: Some(Bytecode::new_raw(code)),
            ..Default::default()
        };
        let address = address.parse()?;
        db.insert_account_info(address, info);
        for (slot, value) in account["storage"].as_object().into_iter().flatten() {
            db.insert_account_storage(
                address,
                slot.parse()?,
                serde_json::from_value(value.clone())?,
            )?;
        }
    }
    Ok(db)
}

fn decode_block(rlp: &serde_json::Value) -> Result<Block<TxEnvelope>, Box<dyn Error>> {
    let bytes: Bytes = serde_json::from_value(rlp.clone())?;
    Ok(Block::decode(&mut bytes.as_ref())?)
}

/// Reads the test named `name` from a JSON file or a `.tar.zst` archive of them.
fn load_test(path: &Path, name: &str) -> Result<serde_json::Value, Box<dyn Error>> {
    let find = |json: &[u8]| -> Option<serde_json::Value> {
        let mut tests: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(json).ok()?;
        tests.remove(name)
    };
    if path.to_string_lossy().ends_with(".tar.zst") {
        let mut archive = tar::Archive::new(zstd::stream::read::Decoder::new(
            std::fs::File::open(path)?,
        )?);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let mut json = Vec::new();
            entry.read_to_end(&mut json)?;
            if let Some(test) = find(&json) {
                return Ok(test);
            }
        }
    } else if let Some(test) = find(&std::fs::read(path)?) {
        return Ok(test);
    }
    Err(format!("no test named {name} in {}", path.display()).into())
}
