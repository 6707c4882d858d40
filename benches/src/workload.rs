//! Synthetic blocks: what other parallel EVMs publish (about a gigagas of independent
//! transfers, token transfers and swaps), and mixes that stress contention.

use crate::contracts::{
    allowance_slot, balance_slot, packed_reserves, pair_code, swap_call, token_code, transfer_call,
};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::AccountInfo,
};

/// The pre-state synthetic blocks run on.
pub type WorkloadDb = CacheDB<EmptyDB>;

/// A block ready to execute.
#[derive(Debug)]
pub struct SyntheticBlock {
    /// Workload name (as in `parallax bench --json`).
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Pre-state.
    pub db: WorkloadDb,
    /// EVM configuration.
    pub cfg: CfgEnv,
    /// Block environment.
    pub block: BlockEnv,
    /// Transactions.
    pub txs: Vec<TxEnv>,
}

/// Every workload, in report order.
pub const WORKLOADS: [&str; 11] = [
    "raw_transfers",
    "erc20",
    "uniswap",
    "hot_10",
    "hot_30",
    "hot_100",
    "nonce_chain",
    "one_recipient",
    "late_chain",
    "slow_first_writer",
    "alternating_hot",
];

/// Blocks that test the engine's resource bounds rather than its speed: not in the default
/// suite (the first alone is about 22 Ggas), but built and timed by name. Sized for the
/// default gigagas and scaled by any other `gas`: a million distinct slots written (a new
/// slot costs 22,100 gas, so a gigagas writes only 45,000 of them), one transaction that
/// uses all of a gigagas, and 100,000 minimal transactions.
pub const RESOURCE_WORKLOADS: [&str; 3] = ["many_slots", "one_full_tx", "many_tiny_txs"];

const GIGAGAS: u64 = 1_000_000_000;
/// `many_slots`: slots each transaction writes, and the slots of a gigagas-sized block.
const SLOTS_PER_TX: usize = 1_000;
const MANY_SLOTS: u64 = 1_000_000;
/// `many_tiny_txs`: transactions of a gigagas-sized block.
const MANY_TINY_TXS: u64 = 100_000;
const TRANSFER_GAS: u64 = 21_000;
/// Measured gas of one ERC-20 transfer to a fresh recipient, and of one swap.
const ERC20_GAS: u64 = 51_000;
const SWAP_GAS: u64 = 85_000;
const READER_GAS: u64 = 60_000;
/// The slow transaction of `slow_first_writer` uses this fraction of the block's gas.
const SLOW_SHARE: u64 = 10;
/// Gas of one round of [`slow_writer_code`]'s loop.
const LOOP_GAS: u64 = 26;
const ETH: u128 = 1_000_000_000_000_000_000;

/// Builds workload `name` sized to about `gas` gas (a gigagas when `None`).
pub fn build(name: &str, gas: Option<u64>) -> Option<SyntheticBlock> {
    let gas = gas.unwrap_or(GIGAGAS);
    let (count, description) = match name {
        "raw_transfers" => (
            gas / TRANSFER_GAS,
            "independent ETH transfers, each sender to its own recipient",
        ),
        "erc20" => (
            gas / ERC20_GAS,
            "independent ERC-20 transfers on one token, each sender to its own recipient",
        ),
        "uniswap" => (
            gas / SWAP_GAS,
            "one swap in each of many constant-product pools, each pool with its own tokens",
        ),
        "hot_10" => (
            gas / ERC20_GAS,
            "ERC-20 transfers, 10% of them paying one hot account (one storage slot)",
        ),
        "hot_30" => (
            gas / ERC20_GAS,
            "ERC-20 transfers, 30% of them paying one hot account (one storage slot)",
        ),
        "hot_100" => (
            gas / ERC20_GAS,
            "ERC-20 transfers, all paying one hot account (one storage slot)",
        ),
        "nonce_chain" => (
            gas / TRANSFER_GAS,
            "ETH transfers from 8 senders, each a long chain of nonces",
        ),
        "one_recipient" => (
            gas / TRANSFER_GAS,
            "ETH transfers from distinct senders, all paying one recipient",
        ),
        "late_chain" => (
            gas / ERC20_GAS,
            "independent ERC-20 transfers, then, from half-way, all paying one hot account",
        ),
        "slow_first_writer" => (
            (gas - gas / SLOW_SHARE) / READER_GAS,
            "one long computation that finally writes a slot, then cheap transactions that each read it",
        ),
        "alternating_hot" => (
            gas / ERC20_GAS,
            "ERC-20 transfers paying two hot accounts in turn: a parallelism of 2",
        ),
        "many_slots" => (
            scaled(MANY_SLOTS, gas).div_ceil(SLOTS_PER_TX as u64),
            "transactions each writing 1,000 new slots of one contract: a million distinct slots",
        ),
        "one_full_tx" => (
            1,
            "one transaction looping until it has used all its gas (it ends out of gas)",
        ),
        "many_tiny_txs" => (
            scaled(MANY_TINY_TXS, gas),
            "100,000 plain ETH transfers, each sender to its own recipient",
        ),
        _ => return None,
    };
    let count = count.max(1) as usize;
    let mut builder = Builder::new();
    match name {
        "raw_transfers" => builder.transfers(count, |i| i, recipient),
        "erc20" => builder.token_transfers(count, |_| None),
        "uniswap" => builder.swaps(count),
        "hot_10" => builder.token_transfers(count, |i| (i % 10 == 0).then_some(0)),
        "hot_30" => builder.token_transfers(count, |i| (i % 10 < 3).then_some(0)),
        "hot_100" => builder.token_transfers(count, |_| Some(0)),
        "nonce_chain" => builder.transfers(count, |i| i % 8, recipient),
        "one_recipient" => builder.transfers(count, |i| i, |_| recipient(usize::MAX >> 8)),
        "late_chain" => builder.token_transfers(count, |i| (i >= count / 2).then_some(0)),
        "slow_first_writer" => builder.slow_first_writer(count, gas / SLOW_SHARE),
        "alternating_hot" => builder.token_transfers(count, |i| Some(i % 2)),
        "many_slots" => builder.slot_writers(count),
        "one_full_tx" => builder.full_tx(gas),
        "many_tiny_txs" => builder.transfers(count, |i| i, recipient),
        _ => unreachable!("matched above"),
    }
    let name = WORKLOADS
        .iter()
        .chain(&RESOURCE_WORKLOADS)
        .find(|w| **w == name)
        .copied()?;
    Some(builder.finish(name, description))
}

/// `count` for a gigagas, scaled to `gas`.
fn scaled(count: u64, gas: u64) -> u64 {
    (u128::from(count) * u128::from(gas) / u128::from(GIGAGAS)) as u64
}

fn address(kind: u8, index: usize) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = kind;
    bytes[12..].copy_from_slice(&(index as u64).to_be_bytes());
    Address::from(bytes)
}

fn sender(index: usize) -> Address {
    address(0x5e, index)
}

fn recipient(index: usize) -> Address {
    address(0x7e, index)
}

struct Builder {
    db: WorkloadDb,
    txs: Vec<TxEnv>,
    nonces: Vec<u64>,
}

impl Builder {
    fn new() -> Self {
        Self {
            db: WorkloadDb::new(EmptyDB::default()),
            txs: Vec::new(),
            nonces: Vec::new(),
        }
    }

    fn fund(&mut self, index: usize) {
        if self.nonces.len() <= index {
            self.nonces.resize(index + 1, 0);
            self.db.insert_account_info(
                sender(index),
                AccountInfo {
                    balance: U256::from(1_000 * ETH),
                    ..Default::default()
                },
            );
        }
    }

    fn tx(&mut self, from: usize, to: Address, value: U256, data: Bytes, gas_limit: u64) {
        self.fund(from);
        let nonce = self.nonces[from];
        self.nonces[from] += 1;
        self.txs.push(TxEnv {
            caller: sender(from),
            kind: TxKind::Call(to),
            value,
            data,
            nonce,
            gas_limit,
            gas_price: 20,
            gas_priority_fee: Some(2),
            tx_type: 2,
            chain_id: Some(1),
            ..Default::default()
        });
    }

    fn transfers(
        &mut self,
        count: usize,
        from: impl Fn(usize) -> usize,
        to: impl Fn(usize) -> Address,
    ) {
        for i in 0..count {
            self.tx(from(i), to(i), U256::from(1), Bytes::new(), TRANSFER_GAS);
        }
    }

    fn deploy(&mut self, at: Address, code: revm::bytecode::Bytecode) {
        self.db.insert_account_info(
            at,
            AccountInfo {
                code_hash: code.hash_slow(),
                code: Some(code),
                nonce: 1,
                ..Default::default()
            },
        );
    }

    fn set(&mut self, contract: Address, slot: U256, value: U256) {
        self.db
            .insert_account_storage(contract, slot, value)
            .expect("in-memory insert");
    }

    /// ERC-20 transfers, the `i`-th paying hot account `hot(i)` if any, else its own
    /// recipient.
    fn token_transfers(&mut self, count: usize, hot: impl Fn(usize) -> Option<usize>) {
        let token = address(0xe2, 0);
        self.deploy(token, token_code());
        for i in 0..count {
            self.set(token, balance_slot(sender(i)), U256::from(1_000_000));
            let to = hot(i).map_or_else(|| recipient(i), |hot| address(0x40, hot));
            self.tx(
                i,
                token,
                U256::ZERO,
                transfer_call(to, U256::from(1)),
                100_000,
            );
        }
    }

    fn swaps(&mut self, count: usize) {
        for i in 0..count {
            let (pair, token0, token1) = (address(0xa1, i), address(0xe0, i), address(0xe1, i));
            self.deploy(pair, pair_code());
            self.deploy(token0, token_code());
            self.deploy(token1, token_code());
            self.set(pair, U256::ZERO, U256::from_be_slice(token0.as_slice()));
            self.set(pair, U256::from(1), U256::from_be_slice(token1.as_slice()));
            self.set(
                pair,
                U256::from(2),
                packed_reserves(1_000_000_000, 1_000_000_000),
            );
            self.set(token0, balance_slot(pair), U256::from(1_000_000_000));
            self.set(token1, balance_slot(pair), U256::from(1_000_000_000));
            self.set(token0, balance_slot(sender(i)), U256::from(1_000_000));
            self.set(token0, allowance_slot(sender(i), pair), U256::MAX);
            self.tx(
                i,
                pair,
                U256::ZERO,
                swap_call(U256::from(1_000), true),
                200_000,
            );
        }
    }

    /// Transaction 0 counts down a loop that uses about `slow_gas`, then writes slot 0 of
    /// the contract; each of `count` later transactions copies slot 0 into a slot of its
    /// own, so all of them depend on transaction 0 and on nothing else.
    fn slow_first_writer(&mut self, count: usize, slow_gas: u64) {
        let contract = address(0x51, 0);
        self.deploy(contract, slow_writer_code());
        let iterations = (slow_gas - 100_000) / LOOP_GAS;
        let data = Bytes::from(U256::from(iterations).to_be_bytes::<32>().to_vec());
        self.tx(0, contract, U256::ZERO, data, slow_gas);
        for i in 1..=count {
            self.tx(i, contract, U256::ZERO, Bytes::new(), READER_GAS);
        }
    }

    /// `count` transactions, the `i`-th writing slots `i * 1000` to `i * 1000 + 999` of one
    /// contract, every one of them new.
    fn slot_writers(&mut self, count: usize) {
        let contract = address(0x52, 0);
        self.deploy(contract, slot_writer_code());
        // A new slot costs 22,100 gas; the loop around each store about 30 more.
        let gas = TRANSFER_GAS + 1_000 + SLOTS_PER_TX as u64 * 22_200;
        for i in 0..count {
            let first = U256::from(i * SLOTS_PER_TX);
            let mut data = first.to_be_bytes::<32>().to_vec();
            data.extend_from_slice(&U256::from(SLOTS_PER_TX).to_be_bytes::<32>());
            self.tx(i, contract, U256::ZERO, Bytes::from(data), gas);
        }
    }

    /// One transaction with a gas limit of `gas` into a contract that loops forever.
    fn full_tx(&mut self, gas: u64) {
        let contract = address(0x53, 0);
        // JUMPDEST, PUSH1 0, JUMP: 12 gas a round until the gas runs out.
        let code = revm::bytecode::Bytecode::new_raw(Bytes::from_static(&[0x5b, 0x60, 0x00, 0x56]));
        self.deploy(contract, code);
        self.tx(
            0,
            contract,
            U256::ZERO,
            Bytes::new(),
            gas.max(TRANSFER_GAS + 100),
        );
    }

    fn finish(self, name: &'static str, description: &'static str) -> SyntheticBlock {
        let total_gas: u64 = self.txs.iter().map(|tx| tx.gas_limit).sum();
        let block = BlockEnv {
            number: U256::from(20_000_000),
            beneficiary: address(0xcb, 0),
            timestamp: U256::from(1_720_000_000u64),
            gas_limit: total_gas,
            basefee: 10,
            ..Default::default()
        };
        SyntheticBlock {
            name,
            description,
            db: self.db,
            cfg: CfgEnv::new_with_spec(SpecId::CANCUN),
            block,
            txs: self.txs,
        }
    }
}

/// With calldata `(first, n)`: stores 1 in slots `first` to `first + n - 1`.
fn slot_writer_code() -> revm::bytecode::Bytecode {
    #[rustfmt::skip]
    let code = [
        0x60, 0x00,       // PUSH1 0
        0x35,             // CALLDATALOAD           [slot]
        0x60, 0x20,       // PUSH1 32
        0x35,             // CALLDATALOAD           [slot n]
        0x5b,             // loop: JUMPDEST         [slot n]
        0x60, 0x01,       // PUSH1 1                [slot n 1]
        0x82,             // DUP3                   [slot n 1 slot]
        0x55,             // SSTORE                 slot = 1
        0x90,             // SWAP1                  [n slot]
        0x60, 0x01,       // PUSH1 1
        0x01,             // ADD                    [n slot+1]
        0x90,             // SWAP1                  [slot+1 n]
        0x60, 0x01,       // PUSH1 1
        0x90,             // SWAP1                  [slot+1 1 n]
        0x03,             // SUB                    [slot+1 n-1]
        0x80,             // DUP1                   [slot+1 n-1 n-1]
        0x60, 0x06,       // PUSH1 loop
        0x57,             // JUMPI                  to loop while n-1 is non-zero
        0x00,             // STOP
    ];
    revm::bytecode::Bytecode::new_raw(Bytes::from(code.to_vec()))
}

/// With calldata `n`: counts `n` down to zero, then stores 1 in slot 0. Without calldata:
/// copies slot 0 into the slot numbered by the caller's address.
fn slow_writer_code() -> revm::bytecode::Bytecode {
    #[rustfmt::skip]
    let code = [
        0x36,             // CALLDATASIZE
        0x15,             // ISZERO
        0x60, 0x16,       // PUSH1 reader
        0x57,             // JUMPI
        0x60, 0x00,       // PUSH1 0
        0x35,             // CALLDATALOAD           [n]
        0x5b,             // loop: JUMPDEST
        0x60, 0x01,       // PUSH1 1                [n 1]
        0x90,             // SWAP1                  [1 n]
        0x03,             // SUB                    [n-1]
        0x80,             // DUP1
        0x60, 0x08,       // PUSH1 loop
        0x57,             // JUMPI                  [n-1], to loop while non-zero
        0x60, 0x01,       // PUSH1 1                [0 1]
        0x90,             // SWAP1                  [1 0]
        0x55,             // SSTORE                 slot 0 = 1
        0x00,             // STOP
        0x5b,             // reader: JUMPDEST
        0x60, 0x00,       // PUSH1 0
        0x54,             // SLOAD                  [slot 0]
        0x33,             // CALLER
        0x55,             // SSTORE                 slot caller = slot 0
        0x00,             // STOP
    ];
    revm::bytecode::Bytecode::new_raw(Bytes::from(code.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_engine::{ExecutionPolicy, ParallelExecutor, execute_sequential};
    use std::num::NonZeroUsize;

    #[test]
    fn every_workload_succeeds_and_parallel_matches_sequential() {
        let engine = ParallelExecutor::new(NonZeroUsize::new(2).unwrap())
            .unwrap()
            .with_policy(ExecutionPolicy::AlwaysParallel);
        for name in WORKLOADS {
            let block = build(name, Some(5_000_000)).expect("known workload");
            assert_eq!(block.name, name);
            let sequential =
                execute_sequential(&block.db, &block.cfg, &block.block, &block.txs).unwrap();
            let failed = sequential
                .transactions
                .iter()
                .filter(|tx| !tx.result.is_success())
                .count();
            assert_eq!(failed, 0, "{name}: every transaction must succeed");
            // Sized by gas: within a third of what was asked for.
            assert!(
                (3_300_000..=6_700_000).contains(&sequential.gas_used),
                "{name}: {} gas",
                sequential.gas_used
            );
            let parallel = engine
                .execute(&block.db, &block.cfg, &block.block, &block.txs)
                .unwrap();
            assert!(parallel == sequential, "{name}: parallel differs");
        }
        assert!(build("no_such_workload", None).is_none());
    }

    #[test]
    fn resource_workloads_scale_with_gas_and_match_sequential() {
        let engine = ParallelExecutor::new(NonZeroUsize::new(2).unwrap())
            .unwrap()
            .with_policy(ExecutionPolicy::AlwaysParallel);
        let gas = 5_000_000;
        for name in RESOURCE_WORKLOADS {
            let block = build(name, Some(gas)).expect("known workload");
            assert_eq!(block.name, name);
            let sequential =
                execute_sequential(&block.db, &block.cfg, &block.block, &block.txs).unwrap();
            let parallel = engine
                .execute(&block.db, &block.cfg, &block.block, &block.txs)
                .unwrap();
            assert!(parallel == sequential, "{name}: parallel differs");
            match name {
                // 5,000 new slots, 1,000 a transaction, every store succeeding.
                "many_slots" => {
                    assert_eq!(block.txs.len(), 5);
                    let written: usize = sequential
                        .transactions
                        .iter()
                        .inspect(|tx| assert!(tx.result.is_success()))
                        .flat_map(|tx| tx.state.values())
                        .map(|account| account.storage.values().filter(|s| s.is_changed()).count())
                        .sum();
                    assert_eq!(written, 5_000);
                }
                // All of its gas, ending out of gas.
                "one_full_tx" => {
                    assert_eq!(block.txs.len(), 1);
                    assert_eq!(sequential.gas_used, gas);
                    assert!(sequential.transactions[0].result.is_halt());
                }
                "many_tiny_txs" => {
                    assert_eq!(block.txs.len(), 500);
                    assert_eq!(sequential.gas_used, 500 * TRANSFER_GAS);
                }
                _ => unreachable!("{name}"),
            }
        }
    }
}
