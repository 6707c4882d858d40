//! Property test: random blocks over a handful of accounts and slots, so that conflicts are
//! dense, must execute in parallel exactly as sequential revm does, at 1, 2, 4 and 8
//! threads and on repeated runs; and so must the adaptive policy, on blocks built to make
//! it stop speculating mid-block, and Block-STM stopped at any point.

mod common;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use common::{contracts::*, *};
use parallax_engine::{ExecutionPolicy, ParallelExecutor};
use proptest::prelude::*;
use revm::primitives::hardfork::SpecId;
use std::num::NonZeroUsize;

const SPECS: [SpecId; 12] = [
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
];

const SENDERS: usize = 4;
const SALTS: u64 = 2;
const INIT_CODES: [InitCode; 4] = [
    InitCode::Sink,
    InitCode::SinkWithStorage,
    InitCode::DestroyInConstructor,
    InitCode::Empty,
];

/// Who receives the block's fees.
#[derive(Clone, Copy, Debug)]
enum Beneficiary {
    Fresh,
    Sender,
    Contract,
    ExistingEmpty,
}

/// One generated transaction, before nonces and addresses are resolved.
#[derive(Clone, Debug)]
enum Op {
    Transfer {
        from: usize,
        to: usize,
        value: u64,
    },
    Sink {
        from: usize,
        target: usize,
        op: usize,
        a: usize,
        b: usize,
        value: u64,
    },
    Create {
        from: usize,
        init: usize,
        value: u64,
    },
    Create2 {
        from: usize,
        salt: u64,
        init: usize,
    },
}

#[derive(Clone, Debug)]
struct GeneratedBlock {
    spec: usize,
    beneficiary: Beneficiary,
    ops: Vec<(Op, u8)>,
}

/// Addresses a transaction can name: senders, contracts, the beneficiary, a fresh account,
/// a precompile, and the contracts CREATE2 can make.
fn address_pool(beneficiary: Address) -> Vec<Address> {
    let mut pool: Vec<Address> = (0..SENDERS).map(eoa).collect();
    pool.extend([
        contract(0),
        contract(1),
        beneficiary,
        Address::with_last_byte(0x77),
        Address::with_last_byte(4),
    ]);
    for salt in 0..SALTS {
        for init in INIT_CODES {
            pool.push(contract(0).create2_from_code(word(U256::from(salt)), init_code(init)));
        }
    }
    pool
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..SENDERS, 0..16usize, 0..3u64).prop_map(|(from, to, value)| Op::Transfer { from, to, value }),
        6 => (0..SENDERS, 0..16usize, 0..SINK_OPS.len(), 0..16usize, 0..16usize, 0..2u64)
            .prop_map(|(from, target, op, a, b, value)| Op::Sink { from, target, op, a, b, value }),
        1 => (0..SENDERS, 0..INIT_CODES.len(), 0..2u64).prop_map(|(from, init, value)| Op::Create { from, init, value }),
        2 => (0..SENDERS, 0..SALTS, 0..INIT_CODES.len()).prop_map(|(from, salt, init)| Op::Create2 { from, salt, init }),
    ]
}

fn block_strategy() -> impl Strategy<Value = GeneratedBlock> {
    (
        0..SPECS.len(),
        prop_oneof![
            Just(Beneficiary::Fresh),
            Just(Beneficiary::Sender),
            Just(Beneficiary::Contract),
            Just(Beneficiary::ExistingEmpty)
        ],
        prop::collection::vec((op_strategy(), 0..4u8), 1..32),
    )
        .prop_map(|(spec, beneficiary, ops)| GeneratedBlock {
            spec,
            beneficiary,
            ops,
        })
}

fn build(generated: &GeneratedBlock) -> TestBlock {
    let spec = SPECS[generated.spec];
    let mut b = BlockBuilder::new(spec);
    for i in 0..SENDERS {
        b.fund(eoa(i), U256::from(10u128.pow(20)));
    }
    b.deploy(contract(0), kitchen_sink(), U256::from(1_000));
    b.deploy(contract(1), kitchen_sink(), U256::from(1_000));
    // The first CREATE2 child already exists, with storage, so that destroying and
    // re-creating it must hide storage from before the block.
    let child = contract(0).create2_from_code(word(U256::ZERO), init_code(INIT_CODES[0]));
    b.deploy(child, kitchen_sink(), U256::from(5));
    for slot in 0..3u64 {
        b.set_storage(contract(1), U256::from(slot), U256::from(100 + slot));
        b.set_storage(child, U256::from(slot), U256::from(200 + slot));
    }
    let beneficiary = match generated.beneficiary {
        Beneficiary::Fresh => Address::with_last_byte(0xcb),
        Beneficiary::Sender => eoa(1),
        Beneficiary::Contract => contract(1),
        Beneficiary::ExistingEmpty => {
            b.fund(Address::with_last_byte(0xce), U256::ZERO);
            Address::with_last_byte(0xce)
        }
    };
    b.beneficiary(beneficiary);
    let pool = address_pool(beneficiary);
    let pick = |i: usize| pool[i % pool.len()];
    for (op, price) in &generated.ops {
        // Zero gas price only where it is legal (before London).
        let price = if spec.is_enabled_in(SpecId::LONDON) {
            u128::from(*price) + 7
        } else {
            u128::from(*price)
        };
        match *op {
            Op::Transfer { from, to, value } => {
                b.tx(
                    eoa(from),
                    TxKind::Call(pick(to)),
                    U256::from(value),
                    Bytes::new(),
                    price,
                );
            }
            Op::Sink {
                from,
                target,
                op,
                a,
                b: arg_b,
                value,
            } => {
                let op = SINK_OPS[op];
                let target = if target % 3 == 0 {
                    contract(1)
                } else {
                    pick(target)
                };
                let (a, arg_b) = match op {
                    SinkOp::SelfDestruct | SinkOp::Send => {
                        (address_word(pick(a)), word(U256::from(arg_b % 3)))
                    }
                    SinkOp::StoreCodeHash => (word(U256::from(a % 4)), address_word(pick(arg_b))),
                    _ => (word(U256::from(a % 4)), word(U256::from(arg_b % 4))),
                };
                b.tx(
                    eoa(from),
                    TxKind::Call(target),
                    U256::from(value),
                    sink_call(op, a, arg_b, &[]),
                    price,
                );
            }
            Op::Create { from, init, value } => {
                b.tx(
                    eoa(from),
                    TxKind::Create,
                    U256::from(value),
                    init_code(INIT_CODES[init]).into(),
                    price,
                );
            }
            Op::Create2 { from, salt, init } => {
                let data = sink_call(
                    SinkOp::Create2,
                    word(U256::from(salt)),
                    word(U256::from(3)),
                    &init_code(INIT_CODES[init]),
                );
                b.tx(
                    eoa(from),
                    TxKind::Call(contract(0)),
                    U256::ZERO,
                    data,
                    price,
                );
            }
        }
    }
    b.build()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parallel_equals_sequential(generated in block_strategy()) {
        let block = build(&generated);
        assert_matches_sequential(&block).ok();
    }
}

/// A run of the adaptive policy's blocks: independent transactions (each sender stores to a
/// slot of its own) and a dense chain (each increments one shared slot), in either order.
#[derive(Clone, Debug)]
struct ChainedBlock {
    independent: usize,
    chain: usize,
    chain_first: bool,
    /// Where the chain's shared slot is also read by an independent transaction.
    crossing: Option<usize>,
}

fn chained_block_strategy() -> impl Strategy<Value = ChainedBlock> {
    (
        0..300usize,
        400..700usize,
        any::<bool>(),
        prop::option::of(0..300usize),
    )
        .prop_map(|(independent, chain, chain_first, crossing)| ChainedBlock {
            independent,
            chain,
            chain_first,
            crossing,
        })
}

fn build_chained(generated: &ChainedBlock) -> TestBlock {
    let mut b = BlockBuilder::new(SpecId::CANCUN);
    b.block.gas_limit = 1_000_000_000;
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    let senders = generated.independent + generated.chain;
    for i in 0..senders {
        b.fund(eoa(i), U256::from(10u128.pow(20)));
    }
    let shared = word(U256::ZERO);
    let independent = |b: &mut BlockBuilder, i: usize| {
        let (op, a, c) = if generated.crossing == Some(i) {
            (SinkOp::Copy, shared, word(U256::from(1_000 + i)))
        } else {
            (
                SinkOp::Store,
                word(U256::from(1_000 + i)),
                word(U256::from(i)),
            )
        };
        b.call(eoa(i), contract(0), sink_call(op, a, c, &[]));
    };
    let chained = |b: &mut BlockBuilder, i: usize| {
        let data = sink_call(SinkOp::Increment, shared, word(U256::ZERO), &[]);
        b.call(eoa(generated.independent + i), contract(0), data);
    };
    if generated.chain_first {
        (0..generated.chain).for_each(|i| chained(&mut b, i));
        (0..generated.independent).for_each(|i| independent(&mut b, i));
    } else {
        (0..generated.independent).for_each(|i| independent(&mut b, i));
        (0..generated.chain).for_each(|i| chained(&mut b, i));
    }
    b.build()
}

/// Asserts that `policy` gives sequential revm's result at every thread count, and returns
/// the paths it took.
fn assert_policy_matches(block: &TestBlock, policy: ExecutionPolicy) -> Vec<&'static str> {
    let expected = sequential(block);
    let mut paths = Vec::new();
    for threads in THREAD_COUNTS {
        let executor = ParallelExecutor::new(NonZeroUsize::new(threads).unwrap())
            .unwrap()
            .with_policy(policy);
        let actual = executor.execute(&block.db, &block.cfg, &block.block, &block.txs);
        assert_eq!(
            actual, expected,
            "{policy:?} at {threads} threads differs from sequential"
        );
        let streamed = stream_on(&executor, block);
        if streamed != expected {
            let mismatch = describe_mismatch(&expected, &streamed, threads, 0);
            panic!("{policy:?}, streamed: {mismatch}");
        }
        if let Ok(output) = actual {
            paths.push(output.stats.path());
        }
    }
    paths
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Block-STM stopped after any number of executions and finished in order gives the
    /// sequential result, on the dense random blocks.
    #[test]
    fn switching_to_in_order_anywhere_equals_sequential(
        generated in block_strategy(),
        after in 0..48usize,
    ) {
        let block = build(&generated);
        assert_policy_matches(&block, ExecutionPolicy::SwitchToInOrderAfter(after));
    }

    /// The default policy on blocks built to trip its switch mid-block: a chain after an
    /// independent prefix, and the reverse.
    #[test]
    fn adaptive_policy_equals_sequential(generated in chained_block_strategy(), after in 0..200usize) {
        let block = build_chained(&generated);
        assert_policy_matches(&block, ExecutionPolicy::Auto);
        assert_policy_matches(&block, ExecutionPolicy::SwitchToInOrderAfter(after));
    }
}

/// The monitor does stop on a chain: a long chain after an independent prefix ends mixed.
#[test]
fn auto_finishes_a_late_chain_in_order() {
    let block = build_chained(&ChainedBlock {
        independent: 400,
        chain: 600,
        chain_first: false,
        crossing: None,
    });
    let executor = ParallelExecutor::new(NonZeroUsize::new(2).unwrap()).unwrap();
    assert!(executor.runs_parallel(&block.txs));
    let output = executor
        .execute(&block.db, &block.cfg, &block.block, &block.txs)
        .unwrap();
    assert_eq!(Ok(output.clone()), sequential(&block));
    let switched = output
        .stats
        .in_order_from
        .expect("the chain stops speculation");
    // The chain starts at 400; the monitor judges a window when its last transaction first
    // finishes, and the window holding the start of the chain already shows it.
    assert!(switched <= 800, "switched only at {switched}");
    assert!(output.stats.switch_reason.is_some());
}
