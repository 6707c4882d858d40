//! Shared by the adapter's tests: a pre-state of funded senders, a block of transfers over it
//! as a client receives them (signed envelopes with recovered senders), its environment and
//! execution context, engines, and a `State` whose hook logs every commit.
#![allow(dead_code)]

use alloy_consensus::{Signed, TxEip1559, TxEnvelope, transaction::Recovered};
use alloy_evm::{EvmEnv, eth::EthBlockExecutionCtx};
use alloy_primitives::{Address, Bytes, Signature, TxKind, U256};
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv},
    database::{CacheDB, EmptyDB, State, WrapDatabaseRef},
    primitives::hardfork::SpecId,
    state::{AccountInfo, EvmState},
};
use std::{
    borrow::Cow,
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

pub(crate) type Db = CacheDB<EmptyDB>;
pub(crate) type Tx = Recovered<TxEnvelope>;

pub(crate) const SENDERS: usize = 24;

pub(crate) fn sender(i: usize) -> Address {
    Address::with_last_byte(0x10 + i as u8)
}

pub(crate) fn pre_state() -> Arc<Db> {
    let mut db = Db::default();
    for i in 0..SENDERS {
        db.insert_account_info(
            sender(i),
            AccountInfo {
                balance: U256::from(10u128.pow(21)),
                ..AccountInfo::default()
            },
        );
    }
    Arc::new(db)
}

/// A transfer of `value` from sender `from` with the given nonce.
pub(crate) fn transfer(from: usize, nonce: u64, to: Address, value: u64) -> Tx {
    let tx = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: 1_000_000,
        max_fee_per_gas: 20,
        max_priority_fee_per_gas: 2,
        to: TxKind::Call(to),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = Signature::new(U256::from(1), U256::from(1), false);
    Recovered::new_unchecked(
        TxEnvelope::Eip1559(Signed::new_unhashed(tx, signature)),
        sender(from),
    )
}

/// A block of transfers: independent ones, a sender with a chain of nonces, and payments to
/// an account that later sends (a dependency the engine finds while running).
pub(crate) fn block_transactions() -> Vec<Tx> {
    let mut txs: Vec<Tx> = (0..16)
        .map(|i| transfer(i, 0, Address::with_last_byte(0xa0 + i as u8), 1))
        .collect();
    for nonce in 1..5 {
        txs.insert(nonce as usize * 3, transfer(0, nonce, sender(20), 7));
    }
    txs.push(transfer(20, 0, Address::with_last_byte(0xee), 3));
    txs
}

pub(crate) fn env() -> EvmEnv {
    let mut cfg = CfgEnv::new_with_spec(SpecId::CANCUN);
    cfg.chain_id = 1;
    let block = BlockEnv {
        number: U256::from(1),
        beneficiary: Address::with_last_byte(0xcb),
        gas_limit: 30_000_000,
        basefee: 10,
        ..BlockEnv::default()
    };
    EvmEnv {
        cfg_env: cfg,
        block_env: block,
    }
}

pub(crate) fn eth_ctx() -> EthBlockExecutionCtx<'static> {
    EthBlockExecutionCtx {
        parent_hash: Default::default(),
        parent_beacon_block_root: None,
        ommers: &[],
        withdrawals: Some(Cow::Owned(Vec::new())),
        extra_data: Bytes::new(),
        tx_count_hint: None,
        slot_number: None,
    }
}

pub(crate) fn engine(threads: usize) -> ParallelExecutor {
    engine_with(threads, ExecutionPolicy::AlwaysParallel)
}

pub(crate) fn engine_with(threads: usize, policy: ExecutionPolicy) -> ParallelExecutor {
    ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
        .unwrap()
        .with_policy(policy)
}

/// A `State` over `db` with bundle updates, and the log of every commit its hook sees.
pub(crate) fn new_state<D: DatabaseRef>(
    db: D,
) -> (State<WrapDatabaseRef<D>>, Arc<Mutex<Vec<EvmState>>>) {
    let hook_calls = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&hook_calls);
    let state = State::builder()
        .with_database_ref(db)
        .with_bundle_update()
        .build()
        .with_state_hook(Some(Box::new(move |changes: EvmState| {
            sink.lock().unwrap().push(changes);
        })));
    (state, hook_calls)
}
