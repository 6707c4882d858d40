//! Differential execution: a small block described by the fuzzer's bytes runs through plain
//! sequential revm and through the Parallax engine (forced parallel at 1, 2 and 4 threads,
//! streamed, and from its EIP-7928 access list), and every result must be the same.
//!
//! The description ([`Scenario`]) is deliberately small and indirect: accounts and call
//! targets are indices into a fixed pool of addresses (senders, contracts, the addresses
//! their CREATE and CREATE2 make, precompiles, a fresh one), so that random bytes give
//! blocks whose transactions keep meeting each other: conflicts are the point.

use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use arbitrary::Arbitrary;
use parallax_engine::{
    BlockOutput, ExecutionError, ExecutionPolicy, ParallelExecutor, StreamTransactions, Streamed,
    execute_sequential, execute_sequential_after, execute_sequential_with_access_list,
};
use revm::{
    DatabaseCommit,
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::{
        block::BlobExcessGasAndPrice,
        either::Either,
        result::ExecutionResult,
        transaction::{
            AccessList, AccessListItem, Authorization, RecoveredAuthority, RecoveredAuthorization,
        },
    },
    database::{BundleState, CacheDB, EmptyDB, State, states::bundle_state::BundleRetention},
    primitives::hardfork::SpecId,
    state::{
        AccountInfo,
        bal::{Bal, BlockAccessIndex},
    },
};
use std::{convert::Infallible, num::NonZeroUsize, sync::Arc, sync::OnceLock};

/// The pre-state type every run reads.
pub type Db = CacheDB<EmptyDB>;
/// What an executor returns for a block over [`Db`].
pub type Outcome = Result<BlockOutput, ExecutionError<Infallible>>;

/// Thread counts the engine runs each block at.
pub const THREADS: [usize; 3] = [1, 2, 4];

/// The most accounts, transactions, instructions and bytes one input may describe: keeps
/// every input fast.
const MAX_ACCOUNTS: usize = 8;
const MAX_TXS: usize = 8;
const MAX_INSTRS: usize = 24;
const MAX_DATA: usize = 64;

const SPECS: [SpecId; 13] = [
    SpecId::FRONTIER,
    SpecId::HOMESTEAD,
    SpecId::TANGERINE,
    SpecId::SPURIOUS_DRAGON,
    SpecId::BYZANTIUM,
    SpecId::PETERSBURG,
    SpecId::ISTANBUL,
    SpecId::BERLIN,
    SpecId::LONDON,
    SpecId::SHANGHAI,
    SpecId::CANCUN,
    SpecId::PRAGUE,
    SpecId::OSAKA,
];

/// A block to run: its fork, beneficiary, gas limit, pre-state and transactions, and
/// optionally a corruption of its access list (which must then be rejected).
#[derive(Debug, Arbitrary)]
pub struct Scenario {
    spec: u8,
    beneficiary: u8,
    small_block_gas_limit: bool,
    list_mutation: Option<ListMutation>,
    accounts: Vec<AccountSpec>,
    // Last, so that it takes the rest of the input: blocks of several transactions.
    txs: Vec<TxSpec>,
}

/// An account of the pre-state, at a pool address.
#[derive(Debug, Arbitrary)]
struct AccountSpec {
    who: u8,
    balance: BalanceSpec,
    nonce: u8,
    code: Option<Vec<Instr>>,
    storage: Vec<(u8, u8)>,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum BalanceSpec {
    Rich,
    Small(u16),
    Zero,
}

/// One transaction.
#[derive(Debug, Arbitrary)]
struct TxSpec {
    kind: TxType,
    from: u8,
    to: Target,
    value: u8,
    gas: TxGas,
    fee_bump: u8,
    tip: u8,
    data: Vec<u8>,
    access_list: Vec<(u8, Vec<u8>)>,
    authorizations: Vec<AuthSpec>,
    blobs: u8,
    /// 255 or 254: a nonce one ahead or behind, which the block must reject; else the right one.
    nonce: u8,
    /// 255: keep what is invalid (a type the fork lacks, a tip above the fee cap); else
    /// such a transaction is made valid, so that most blocks run to the end.
    keep_invalid: u8,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum TxType {
    Legacy,
    AccessList,
    Eip1559,
    Blob,
    Eip7702,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Target {
    Call(u8),
    Create(u8),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum TxGas {
    Intrinsic,
    Low,
    Mid,
    High,
}

/// An EIP-7702 authorization: `authority` (a sender) delegates to a pool address.
#[derive(Debug, Clone, Copy, Arbitrary)]
struct AuthSpec {
    authority: u8,
    delegate: u8,
    /// Added to the authority's expected nonce: 0 is the valid one.
    nonce_offset: u8,
    any_chain: bool,
    invalid_signature: bool,
}

/// A contract instruction, expanded to a few opcodes with well-formed operands.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Instr {
    Push(u8),
    PushLarge(u8),
    PushAddress(u8),
    Arith(ArithOp),
    Dup(u8),
    Swap(u8),
    Pop,
    SLoad(u8),
    SStore(u8, Source),
    TLoad(u8),
    TStore(u8, Source),
    Balance(u8),
    CoinbaseBalance,
    ExtCode(u8, bool),
    Env(EnvOp),
    CallDataLoad(u8),
    Log(u8, u8),
    Call(CallKind, u8, u8, CallGas),
    Create(u8, u8),
    Create2(u8, u8, u8),
    SelfDestruct(u8),
    /// Reverts unless the top of the stack is non-zero.
    Require,
    Revert(u8),
    Return(u8),
    Stop,
    Invalid,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Eq,
    IsZero,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum EnvOp {
    Address,
    Origin,
    Caller,
    CallValue,
    CallDataSize,
    ReturnDataSize,
    Gas,
    Number,
    BaseFee,
    SelfBalance,
    Coinbase,
    BlobHash,
}

/// Where a stored value comes from.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Source {
    Const(u8),
    Stack,
    /// The slot's current value plus one: a counter, the classic conflict.
    Increment,
    CallValue,
    Caller,
    CoinbaseBalance,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum CallKind {
    Call,
    CallCode,
    DelegateCall,
    StaticCall,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum CallGas {
    All,
    Stipend,
    Some(u16),
}

/// A corruption of the block's access list at a transaction's index: executing from the
/// corrupted list must fail.
#[derive(Debug, Clone, Copy, Arbitrary)]
struct ListMutation {
    account: u8,
    change: ListChange,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum ListChange {
    BumpBalance(u8),
    DropBalance(u8),
    BumpNonce(u8),
    BumpStorage(u8, u8),
    DropStorage(u8, u8),
    AddStorageWrite { slot: u8, tx: u8, value: u8 },
}

/// An externally owned account (a sender).
fn eoa(i: usize) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xe0;
    bytes[19] = i as u8;
    Address::from(bytes)
}

/// A contract of the pre-state.
fn contract(i: usize) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xc0;
    bytes[19] = i as u8;
    Address::from(bytes)
}

/// Code that CREATE and CREATE2 run, by index.
fn init_code(i: u8) -> Vec<u8> {
    match i % 5 {
        // Creates an empty account.
        0 => Vec::new(),
        // Stores 1 in slot 0 and deploys `SLOAD(0) + 1 -> slot 0`.
        1 => {
            let runtime = [0x60, 0x00, 0x54, 0x60, 0x01, 0x01, 0x60, 0x00, 0x55, 0x00];
            let mut code = vec![0x60, 0x01, 0x60, 0x00, 0x55];
            code.extend(return_bytes(&runtime));
            code
        }
        // Destroys itself in its constructor, paying the creator.
        2 => vec![0x33, 0xff],
        // Reverts.
        3 => vec![0x60, 0x00, 0x60, 0x00, 0xfd],
        // Stores the value received and deploys `SELFDESTRUCT(CALLER)`.
        _ => {
            let mut code = vec![0x34, 0x60, 0x00, 0x55];
            code.extend(return_bytes(&[0x33, 0xff]));
            code
        }
    }
}

/// Init code that returns `runtime` (at most 32 bytes).
fn return_bytes(runtime: &[u8]) -> Vec<u8> {
    let mut word = [0u8; 32];
    word[..runtime.len()].copy_from_slice(runtime);
    let mut code = vec![0x7f];
    code.extend_from_slice(&word);
    code.extend([
        0x60,
        0x00,
        0x52,
        0x60,
        runtime.len() as u8,
        0x60,
        0x00,
        0xf3,
    ]);
    code
}

/// Every address a description can name, by index (modulo the length).
fn address_pool() -> &'static [Address] {
    static POOL: OnceLock<Vec<Address>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool: Vec<Address> = (0..4).map(eoa).collect();
        pool.extend((0..4).map(contract));
        pool.extend([
            Address::with_last_byte(0xcb),
            Address::with_last_byte(0x77),
            Address::with_last_byte(1),
            Address::with_last_byte(4),
            Address::with_last_byte(0x0a),
        ]);
        // What the transactions and contracts create.
        for i in 0..2 {
            pool.push(eoa(i).create(0));
            pool.push(eoa(i).create(1));
            pool.push(contract(i).create(1));
        }
        for salt in 0..2u8 {
            for init in [0, 1, 4] {
                let salt = B256::with_last_byte(salt);
                pool.push(contract(0).create2(salt, keccak256(init_code(init))));
            }
        }
        pool
    })
}

/// Pool indices the pre-state may put accounts at: not the addresses the block creates,
/// since a creation over an existing account's storage (EIP-7610) is out of scope.
const PRESTATE_ADDRESSES: usize = 13;

fn pick(i: u8) -> Address {
    let pool = address_pool();
    pool[usize::from(i) % pool.len()]
}

/// Bytecode assembly.
struct Asm(Vec<u8>);

impl Asm {
    fn op(&mut self, op: u8) -> &mut Self {
        self.0.push(op);
        self
    }

    fn push(&mut self, value: U256) -> &mut Self {
        let bytes = value.to_be_bytes_trimmed_vec();
        let len = bytes.len().max(1);
        self.0.push(0x5f + len as u8);
        self.0.extend(std::iter::repeat_n(0, len - bytes.len()));
        self.0.extend(bytes);
        self
    }

    fn push_u64(&mut self, value: u64) -> &mut Self {
        self.push(U256::from(value))
    }

    fn push_address(&mut self, address: Address) -> &mut Self {
        self.0.push(0x73);
        self.0.extend_from_slice(address.as_slice());
        self
    }

    /// Leaves the value of `source` on the stack, for a store into `slot`.
    fn source(&mut self, source: Source, slot: u8, load: u8) -> &mut Self {
        match source {
            Source::Const(v) => self.push_u64(u64::from(v)),
            Source::Stack => self.op(0x80),
            Source::Increment => self.push_u64(1).push_u64(slot.into()).op(load).op(0x01),
            Source::CallValue => self.op(0x34),
            Source::Caller => self.op(0x33),
            Source::CoinbaseBalance => self.op(0x41).op(0x31),
        }
    }

    /// Writes `code` to memory at 0 and leaves its length on the stack.
    fn code_to_memory(&mut self, code: &[u8]) -> &mut Self {
        for (i, chunk) in code.chunks(32).enumerate() {
            let mut word = [0u8; 32];
            word[..chunk.len()].copy_from_slice(chunk);
            self.push(U256::from_be_bytes(word))
                .push_u64(32 * i as u64)
                .op(0x52);
        }
        self.push_u64(code.len() as u64)
    }

    fn instr(&mut self, instr: Instr) {
        match instr {
            Instr::Push(v) => {
                self.push_u64(v.into());
            }
            Instr::PushLarge(v) => {
                self.push(U256::MAX - U256::from(v));
            }
            Instr::PushAddress(i) => {
                self.push_address(pick(i));
            }
            Instr::Arith(op) => {
                self.op(match op {
                    ArithOp::Add => 0x01,
                    ArithOp::Mul => 0x02,
                    ArithOp::Sub => 0x03,
                    ArithOp::Div => 0x04,
                    ArithOp::Lt => 0x10,
                    ArithOp::Eq => 0x14,
                    ArithOp::IsZero => 0x15,
                });
            }
            Instr::Dup(n) => {
                self.op(0x80 + n % 4);
            }
            Instr::Swap(n) => {
                self.op(0x90 + n % 3);
            }
            Instr::Pop => {
                self.op(0x50);
            }
            Instr::SLoad(slot) => {
                self.push_u64(u64::from(slot % 4)).op(0x54);
            }
            Instr::SStore(slot, source) => {
                let slot = slot % 4;
                self.source(source, slot, 0x54)
                    .push_u64(slot.into())
                    .op(0x55);
            }
            Instr::TLoad(slot) => {
                self.push_u64(u64::from(slot % 4)).op(0x5c);
            }
            Instr::TStore(slot, source) => {
                let slot = slot % 4;
                self.source(source, slot, 0x5c)
                    .push_u64(slot.into())
                    .op(0x5d);
            }
            Instr::Balance(i) => {
                self.push_address(pick(i)).op(0x31);
            }
            Instr::CoinbaseBalance => {
                self.op(0x41).op(0x31);
            }
            Instr::ExtCode(i, hash) => {
                self.push_address(pick(i))
                    .op(if hash { 0x3f } else { 0x3b });
            }
            Instr::Env(op) => {
                match op {
                    EnvOp::Address => self.op(0x30),
                    EnvOp::Origin => self.op(0x32),
                    EnvOp::Caller => self.op(0x33),
                    EnvOp::CallValue => self.op(0x34),
                    EnvOp::CallDataSize => self.op(0x36),
                    EnvOp::ReturnDataSize => self.op(0x3d),
                    EnvOp::Gas => self.op(0x5a),
                    EnvOp::Number => self.op(0x43),
                    EnvOp::BaseFee => self.op(0x48),
                    EnvOp::SelfBalance => self.op(0x47),
                    EnvOp::Coinbase => self.op(0x41),
                    EnvOp::BlobHash => self.push_u64(0).op(0x49),
                };
            }
            Instr::CallDataLoad(offset) => {
                self.push_u64(u64::from(offset % 64)).op(0x35);
            }
            Instr::Log(topics, size) => {
                for t in 0..topics % 3 {
                    self.push_u64(u64::from(t) + 1);
                }
                self.push_u64(u64::from(size % 64))
                    .push_u64(0)
                    .op(0xa0 + topics % 3);
            }
            Instr::Call(kind, target, value, gas) => {
                // retSize retOffset argsSize argsOffset [value] address gas
                self.push_u64(32).push_u64(0).push_u64(32).push_u64(0);
                if matches!(kind, CallKind::Call | CallKind::CallCode) {
                    self.push_u64(u64::from(value % 4));
                }
                self.push_address(pick(target));
                match gas {
                    CallGas::All => self.op(0x5a),
                    CallGas::Stipend => self.push_u64(2300),
                    CallGas::Some(g) => self.push_u64(u64::from(g) * 4),
                };
                self.op(match kind {
                    CallKind::Call => 0xf1,
                    CallKind::CallCode => 0xf2,
                    CallKind::DelegateCall => 0xf4,
                    CallKind::StaticCall => 0xfa,
                });
            }
            Instr::Create(init, value) => {
                // value offset size
                self.code_to_memory(&init_code(init))
                    .push_u64(0)
                    .push_u64(u64::from(value % 4))
                    .op(0xf0);
            }
            Instr::Create2(init, salt, value) => {
                // value offset size salt
                let code = init_code(init);
                self.push_u64(u64::from(salt % 2))
                    .code_to_memory(&code)
                    .push_u64(0)
                    .push_u64(u64::from(value % 4))
                    .op(0xf5);
            }
            Instr::SelfDestruct(i) => {
                self.push_address(pick(i)).op(0xff);
            }
            Instr::Require => {
                // cond -> continue past a REVERT when non-zero
                let target = self.0.len() + 3 + 1 + 5;
                self.op(0x61)
                    .op((target >> 8) as u8)
                    .op(target as u8)
                    .op(0x57)
                    .push_u64(0)
                    .push_u64(0)
                    .op(0xfd)
                    .op(0x5b);
                debug_assert_eq!(self.0.len(), target + 1);
            }
            Instr::Revert(size) => {
                self.push_u64(u64::from(size % 64)).push_u64(0).op(0xfd);
            }
            Instr::Return(size) => {
                self.push_u64(u64::from(size % 64)).push_u64(0).op(0xf3);
            }
            Instr::Stop => {
                self.op(0x00);
            }
            Instr::Invalid => {
                self.op(0xfe);
            }
        }
    }
}

fn assemble(instrs: &[Instr]) -> Vec<u8> {
    let mut asm = Asm(Vec::new());
    for instr in instrs.iter().take(MAX_INSTRS) {
        asm.instr(*instr);
    }
    asm.0
}

/// A block ready to execute.
#[derive(Debug, Clone)]
pub struct Block {
    /// The pre-state.
    pub db: Db,
    /// The chain configuration (fork).
    pub cfg: CfgEnv,
    /// The block environment.
    pub block: BlockEnv,
    /// The transactions.
    pub txs: Vec<TxEnv>,
    list_mutation: Option<ListMutation>,
}

impl Scenario {
    /// The block this describes.
    pub fn build(&self) -> Block {
        // Half the inputs run on the forks with every transaction type.
        let spec = if self.spec >= 128 {
            [SpecId::CANCUN, SpecId::PRAGUE, SpecId::OSAKA][usize::from(self.spec) % 3]
        } else {
            SPECS[usize::from(self.spec) % SPECS.len()]
        };
        let cfg = CfgEnv::new_with_spec(spec);
        let london = spec.is_enabled_in(SpecId::LONDON);
        let mut block = BlockEnv {
            number: U256::from(1_000),
            beneficiary: pick(self.beneficiary % PRESTATE_ADDRESSES as u8),
            timestamp: U256::from(1_700_000_000u64),
            gas_limit: if self.small_block_gas_limit {
                150_000
            } else {
                30_000_000
            },
            basefee: if london { 7 } else { 0 },
            difficulty: U256::from(1),
            ..Default::default()
        };
        if spec.is_enabled_in(SpecId::CANCUN) {
            block.blob_excess_gas_and_price = Some(BlobExcessGasAndPrice::new(
                393_216,
                if spec.is_enabled_in(SpecId::PRAGUE) {
                    5_007_716
                } else {
                    3_338_477
                },
            ));
        }

        let mut db = CacheDB::new(EmptyDB::default());
        let rich = U256::from(10u128.pow(20));
        for i in 0..4 {
            db.insert_account_info(eoa(i), AccountInfo::from_balance(rich));
        }
        for account in self.accounts.iter().take(MAX_ACCOUNTS) {
            let index = usize::from(account.who) % PRESTATE_ADDRESSES;
            let address = address_pool()[index];
            let mut info = AccountInfo {
                balance: match account.balance {
                    BalanceSpec::Rich => rich,
                    // Senders' small balances pay for a few transactions, or not quite.
                    BalanceSpec::Small(v) if index < 4 => U256::from(v) * U256::from(1_000_000),
                    BalanceSpec::Small(v) => U256::from(v),
                    BalanceSpec::Zero => U256::ZERO,
                },
                nonce: u64::from(account.nonce % 4),
                ..Default::default()
            };
            // Code only where no transaction is sent from: a sender with code is invalid
            // (EIP-3607) and would only end blocks early.
            if let Some(instrs) = &account.code
                && index >= 4
            {
                let code = Bytecode::new_raw(assemble(instrs).into());
                info.code_hash = code.hash_slow();
                info.code = Some(code);
                info.nonce = info.nonce.max(1);
            }
            db.insert_account_info(address, info);
            for (slot, value) in account.storage.iter().take(4) {
                db.insert_account_storage(address, U256::from(slot % 4), U256::from(*value))
                    .expect("in-memory insert");
            }
        }

        let mut nonces: std::collections::HashMap<Address, u64> = Default::default();
        let nonce_of = |db: &Db, nonces: &mut std::collections::HashMap<_, _>, a: Address| {
            *nonces
                .entry(a)
                .or_insert_with(|| db.cache.accounts.get(&a).map_or(0, |acc| acc.info.nonce))
        };
        let mut txs = Vec::new();
        for spec_tx in self.txs.iter().take(MAX_TXS) {
            let from = eoa(usize::from(spec_tx.from) % 4);
            let nonce = nonce_of(&db, &mut nonces, from);
            nonces.insert(from, nonce + 1);
            let nonce = match spec_tx.nonce {
                255 => nonce + 1,
                254 => nonce.saturating_sub(1),
                _ => nonce,
            };
            let strict = spec_tx.keep_invalid != 255;
            let kind = match spec_tx.kind {
                TxType::AccessList if strict && !spec.is_enabled_in(SpecId::BERLIN) => {
                    TxType::Legacy
                }
                TxType::Eip1559 if strict && !london => TxType::Legacy,
                TxType::Blob if strict && !spec.is_enabled_in(SpecId::CANCUN) => TxType::Legacy,
                TxType::Eip7702 if strict && !spec.is_enabled_in(SpecId::PRAGUE) => TxType::Legacy,
                // Neither creates: a blob or EIP-7702 transaction must have a recipient.
                TxType::Blob | TxType::Eip7702
                    if strict && matches!(spec_tx.to, Target::Create(_)) =>
                {
                    TxType::Eip1559
                }
                kind => kind,
            };
            let base = u128::from(block.basefee);
            let mut tx = TxEnv {
                caller: from,
                nonce,
                kind: match spec_tx.to {
                    Target::Call(i) => TxKind::Call(pick(i)),
                    Target::Create(_) => TxKind::Create,
                },
                value: U256::from(spec_tx.value % 8),
                data: match spec_tx.to {
                    Target::Create(init) => init_code(init).into(),
                    Target::Call(_) => {
                        Bytes::copy_from_slice(&spec_tx.data[..spec_tx.data.len().min(MAX_DATA)])
                    }
                },
                gas_limit: match spec_tx.gas {
                    TxGas::Intrinsic => 21_000,
                    TxGas::Low => 60_000,
                    TxGas::Mid => 200_000,
                    TxGas::High => 1_000_000,
                },
                gas_price: base + u128::from(spec_tx.fee_bump),
                chain_id: Some(cfg.chain_id),
                ..Default::default()
            };
            let typed = |tx: &mut TxEnv, ty: u8| {
                tx.tx_type = ty;
                let tip = u128::from(spec_tx.tip);
                tx.gas_priority_fee = Some(if strict { tip.min(tx.gas_price) } else { tip });
            };
            match kind {
                TxType::Legacy => {}
                TxType::AccessList => tx.tx_type = 1,
                TxType::Eip1559 => typed(&mut tx, 2),
                TxType::Blob => {
                    typed(&mut tx, 3);
                    tx.blob_hashes = (0..spec_tx.blobs % 3 + 1)
                        .map(|i| {
                            let mut hash = [i + 1; 32];
                            hash[0] = 1; // the KZG version byte
                            B256::from(hash)
                        })
                        .collect();
                    tx.max_fee_per_blob_gas = 10_000_000;
                }
                TxType::Eip7702 => {
                    typed(&mut tx, 4);
                    if strict && spec_tx.authorizations.is_empty() {
                        tx.tx_type = 2;
                    }
                    for auth in spec_tx.authorizations.iter().take(3) {
                        let authority = eoa(usize::from(auth.authority) % 4);
                        let expected = nonce_of(&db, &mut nonces, authority);
                        let nonce = expected + u64::from(auth.nonce_offset % 2);
                        let chain_id = if auth.any_chain { 0 } else { cfg.chain_id };
                        if nonce == expected && !auth.invalid_signature {
                            // Applied: the authority's nonce moves on.
                            nonces.insert(authority, expected + 1);
                        }
                        tx.authorization_list.push(Either::Right(
                            RecoveredAuthorization::new_unchecked(
                                Authorization {
                                    chain_id: U256::from(chain_id),
                                    address: pick(auth.delegate),
                                    nonce,
                                },
                                if auth.invalid_signature {
                                    RecoveredAuthority::Invalid
                                } else {
                                    RecoveredAuthority::Valid(authority)
                                },
                            ),
                        ));
                    }
                }
            }
            if !matches!(kind, TxType::Legacy) {
                tx.access_list = AccessList(
                    spec_tx
                        .access_list
                        .iter()
                        .take(3)
                        .map(|(who, slots)| AccessListItem {
                            address: pick(*who),
                            storage_keys: slots
                                .iter()
                                .take(3)
                                .map(|s| B256::with_last_byte(s % 4))
                                .collect(),
                        })
                        .collect(),
                );
            }
            txs.push(tx);
        }
        Block {
            db,
            cfg,
            block,
            txs,
            list_mutation: self.list_mutation,
        }
    }
}

/// One engine per thread count, forced parallel, shared by every input so that thread pools
/// are created once (and blocks run on recycled memory, as in a long-running client).
fn executor(threads: usize) -> &'static ParallelExecutor {
    static EXECUTORS: OnceLock<Vec<ParallelExecutor>> = OnceLock::new();
    let executors = EXECUTORS.get_or_init(|| {
        THREADS
            .iter()
            .map(|&n| {
                ParallelExecutor::new(NonZeroUsize::new(n).expect("non-zero"))
                    .expect("thread pool")
                    .with_policy(ExecutionPolicy::AlwaysParallel)
            })
            .collect()
    });
    let i = THREADS
        .iter()
        .position(|&n| n == threads)
        .expect("a known count");
    &executors[i]
}

/// Whether two outcomes are the same: equal outputs, or errors with the same text.
fn same(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a.to_string() == b.to_string(),
        _ => false,
    }
}

/// The block streamed by the engine, the rest run in order where the stream hands over.
fn streamed(block: &Block, threads: usize) -> Outcome {
    let executor = executor(threads);
    let mut stream = executor.stream(
        block.db.clone(),
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
                    &block.db,
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

/// What a client keeps of an output: each result, the gas, and the `BundleState` of
/// committing the transactions in order over the pre-state. Executed from an access list an
/// empty account's `LoadedAsNotExisting` flag may differ from sequential revm's; this may not.
fn committed(block: &Block, output: &BlockOutput) -> (Vec<ExecutionResult>, u64, BundleState) {
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

fn brief(outcome: &Outcome) -> String {
    match outcome {
        Ok(output) => format!(
            "Ok({} transactions, gas {})",
            output.transactions.len(),
            output.gas_used
        ),
        Err(error) => format!("Err({error})"),
    }
}

/// Where two outcomes differ, for the crash report.
fn describe(what: &str, expected: &Outcome, actual: &Outcome) -> String {
    let mut message = format!(
        "{what} differs from sequential revm:\n  sequential {}\n  engine     {}\n",
        brief(expected),
        brief(actual)
    );
    if let (Ok(expected), Ok(actual)) = (expected, actual) {
        for (i, (e, a)) in expected
            .transactions
            .iter()
            .zip(&actual.transactions)
            .enumerate()
        {
            if e.result != a.result {
                message += &format!(
                    "tx {i} result:\n  sequential {:?}\n  engine     {:?}\n",
                    e.result, a.result
                );
            }
            for (address, account) in &e.state {
                if a.state.get(address) != Some(account) {
                    message += &format!(
                        "tx {i} account {address}:\n  sequential {account:?}\n  engine     {:?}\n",
                        a.state.get(address)
                    );
                }
            }
            for address in a.state.keys().filter(|k| !e.state.contains_key(*k)) {
                message += &format!(
                    "tx {i} account {address} only in the engine: {:?}\n",
                    a.state[address]
                );
            }
        }
    }
    message
}

/// Applies `mutation` to `list` at a transaction's index; false when it changes nothing
/// (the account or the write it names is not there).
fn corrupt(list: &mut Bal, mutation: ListMutation, txs: usize) -> bool {
    let count = list.accounts.len();
    if count == 0 || txs == 0 {
        return false;
    }
    let Some((_, account)) = list
        .accounts
        .get_index_mut(usize::from(mutation.account) % count)
    else {
        return false;
    };
    let info = &mut account.account_info;
    let slot_of = |storage: &revm::state::bal::StorageBal, i: u8| {
        let slots: Vec<_> = storage.storage.keys().copied().collect();
        (!slots.is_empty()).then(|| slots[usize::from(i) % slots.len()])
    };
    match mutation.change {
        ListChange::BumpBalance(i) => {
            let writes = &mut info.balance.writes;
            let Some(n) = usize::from(i).checked_rem(writes.len()) else {
                return false;
            };
            writes[n].1 = writes[n].1.wrapping_add(U256::from(1));
        }
        ListChange::DropBalance(i) => {
            let writes = &mut info.balance.writes;
            let Some(n) = usize::from(i).checked_rem(writes.len()) else {
                return false;
            };
            writes.remove(n);
        }
        ListChange::BumpNonce(i) => {
            let writes = &mut info.nonce.writes;
            let Some(n) = usize::from(i).checked_rem(writes.len()) else {
                return false;
            };
            writes[n].1 = writes[n].1.wrapping_add(1);
        }
        ListChange::BumpStorage(s, i) => {
            let Some(slot) = slot_of(&account.storage, s) else {
                return false;
            };
            let writes = &mut account
                .storage
                .storage
                .get_mut(&slot)
                .expect("listed")
                .writes;
            let Some(n) = usize::from(i).checked_rem(writes.len()) else {
                return false;
            };
            writes[n].1 = writes[n].1.wrapping_add(U256::from(1));
        }
        ListChange::DropStorage(s, i) => {
            let Some(slot) = slot_of(&account.storage, s) else {
                return false;
            };
            let writes = &mut account
                .storage
                .storage
                .get_mut(&slot)
                .expect("listed")
                .writes;
            let Some(n) = usize::from(i).checked_rem(writes.len()) else {
                return false;
            };
            writes.remove(n);
        }
        ListChange::AddStorageWrite { slot, tx, value } => {
            let index = BlockAccessIndex(1 + u64::from(tx) % txs as u64);
            let writes = &mut account
                .storage
                .storage
                .entry(U256::from(slot % 4))
                .or_default()
                .writes;
            match writes.binary_search_by_key(&index, |(i, _)| *i) {
                Ok(n) => writes[n].1 = writes[n].1.wrapping_add(U256::from(value) + U256::from(1)),
                Err(n) => writes.insert(n, (index, U256::from(value))),
            }
        }
    }
    true
}

/// Runs `block` every way and panics, describing the difference, where any run disagrees
/// with sequential revm.
pub fn check(block: &Block) {
    let expected = execute_sequential(&block.db, &block.cfg, &block.block, &block.txs);
    crate::debug(|| {
        let results = match &expected {
            Ok(output) => output
                .transactions
                .iter()
                .map(|tx| format!("{:?}", std::mem::discriminant(&tx.result)))
                .collect::<Vec<_>>()
                .join(" "),
            Err(_) => String::new(),
        };
        format!(
            "{:?} {} txs: {} {results}",
            block.cfg.spec,
            block.txs.len(),
            brief(&expected)
        )
    });
    // The list revm's own builder makes for the block, where the block executes.
    let built = expected.is_ok().then(|| {
        execute_sequential_with_access_list(&block.db, &block.cfg, &block.block, &block.txs)
            .expect("sequential revm ran the block once already")
            .1
    });
    for threads in THREADS {
        let actual = executor(threads).execute(&block.db, &block.cfg, &block.block, &block.txs);
        if !same(&expected, &actual) {
            panic!(
                "{}",
                describe(
                    &format!("parallel at {threads} threads"),
                    &expected,
                    &actual
                )
            );
        }
        if let (Ok(output), Some(built)) = (&actual, &built) {
            assert!(
                output.access_list() == *built,
                "the engine's access list at {threads} threads is not the one revm builds"
            );
        }
    }
    let actual = streamed(block, 2);
    if !same(&expected, &actual) {
        panic!("{}", describe("streamed at 2 threads", &expected, &actual));
    }

    let (Ok(output), Some(built)) = (&expected, built) else {
        return;
    };
    let list = Arc::new(built);
    for threads in [1, 4] {
        let actual = executor(threads).execute_with_access_list(
            &block.db,
            &block.cfg,
            &block.block,
            &block.txs,
            &list,
        );
        let agrees = match &actual {
            Ok(actual) => committed(block, actual) == committed(block, output),
            Err(_) => false,
        };
        if !agrees {
            panic!(
                "{}",
                describe(
                    &format!("from the access list at {threads} threads"),
                    &expected,
                    &actual
                )
            );
        }
    }
    if let Some(mutation) = block.list_mutation {
        let mut wrong = (*list).clone();
        if corrupt(&mut wrong, mutation, block.txs.len()) && wrong != *list {
            let actual = executor(2).execute_with_access_list(
                &block.db,
                &block.cfg,
                &block.block,
                &block.txs,
                &Arc::new(wrong),
            );
            if let Ok(output) = actual {
                panic!(
                    "a corrupted access list ({mutation:?}) was accepted: {} transactions",
                    output.transactions.len()
                );
            }
        }
    }
}
