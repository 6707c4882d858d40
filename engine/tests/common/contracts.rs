//! Test contracts. The "kitchen sink" runs one of several operations chosen by the first
//! calldata word, with arguments `a` and `b` in the next two words and a payload after them.

use super::asm::{Asm, deployer};
use revm::bytecode::opcode::*;

/// Operations of the kitchen-sink contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SinkOp {
    /// `sstore(a, b)`
    Store = 0,
    /// `sstore(a, sload(a) + 1)`
    Increment = 1,
    /// `sstore(b, sload(a))`
    Copy = 2,
    /// `sstore(a, balance(coinbase))`
    StoreCoinbaseBalance = 3,
    /// `selfdestruct(a)`
    SelfDestruct = 4,
    /// `call(100_000 gas, a, value = b)` and `sstore(0xff, success)`
    Send = 5,
    /// `sstore(b, create2(0, payload, salt = a))`
    Create2 = 6,
    /// `tstore(a, tload(a) + 1)` twice, then `sstore(a, tload(a))`
    Transient = 7,
    /// `sstore(a, selfbalance())`
    StoreSelfBalance = 8,
    /// `sstore(a, extcodehash(b))`
    StoreCodeHash = 9,
}

pub(crate) const SINK_OPS: [SinkOp; 10] = [
    SinkOp::Store,
    SinkOp::Increment,
    SinkOp::Copy,
    SinkOp::StoreCoinbaseBalance,
    SinkOp::SelfDestruct,
    SinkOp::Send,
    SinkOp::Create2,
    SinkOp::Transient,
    SinkOp::StoreSelfBalance,
    SinkOp::StoreCodeHash,
];

fn arg_a(asm: Asm) -> Asm {
    asm.push(0x20).op(CALLDATALOAD)
}

fn arg_b(asm: Asm) -> Asm {
    asm.push(0x40).op(CALLDATALOAD)
}

/// Runtime code of the kitchen-sink contract.
pub(crate) fn kitchen_sink() -> Vec<u8> {
    const CASES: [(SinkOp, &str); 10] = [
        (SinkOp::Store, "store"),
        (SinkOp::Increment, "increment"),
        (SinkOp::Copy, "copy"),
        (SinkOp::StoreCoinbaseBalance, "coinbase"),
        (SinkOp::SelfDestruct, "selfdestruct"),
        (SinkOp::Send, "send"),
        (SinkOp::Create2, "create2"),
        (SinkOp::Transient, "transient"),
        (SinkOp::StoreSelfBalance, "selfbalance"),
        (SinkOp::StoreCodeHash, "codehash"),
    ];
    let mut asm = Asm::new().push(0).op(CALLDATALOAD);
    for (op, label) in CASES {
        asm = asm
            .op(DUP1)
            .push(op as u64)
            .op(EQ)
            .push_label(label)
            .op(JUMPI);
    }
    asm = asm.op(STOP);

    // store: sstore(a, b)
    asm = arg_b(asm.label("store"));
    asm = arg_a(asm).op(SSTORE).op(STOP);
    // increment: sstore(a, sload(a) + 1)
    asm = arg_a(asm.label("increment"))
        .op(DUP1)
        .op(SLOAD)
        .push(1)
        .op(ADD)
        .op(SWAP1)
        .op(SSTORE)
        .op(STOP);
    // copy: sstore(b, sload(a))
    asm = arg_a(asm.label("copy")).op(SLOAD);
    asm = arg_b(asm).op(SSTORE).op(STOP);
    // coinbase: sstore(a, balance(coinbase))
    asm = asm.label("coinbase").op(COINBASE).op(BALANCE);
    asm = arg_a(asm).op(SSTORE).op(STOP);
    // selfdestruct(a)
    asm = arg_a(asm.label("selfdestruct")).op(SELFDESTRUCT);
    // send: call(gas, a, b, 0, 0, 0, 0); sstore(0xff, success)
    asm = asm.label("send").push(0).push(0).push(0).push(0);
    asm = arg_b(asm);
    asm = arg_a(asm)
        .push(100_000)
        .op(CALL)
        .push(0xff)
        .op(SSTORE)
        .op(STOP);
    // create2: calldatacopy(0, 0x60, calldatasize - 0x60); sstore(b, create2(0, 0, size, a))
    asm = asm
        .label("create2")
        .push(0x60)
        .op(CALLDATASIZE)
        .op(SUB)
        .op(DUP1)
        .push(0x60)
        .push(0)
        .op(CALLDATACOPY);
    asm = arg_a(asm).op(SWAP1).push(0).push(0).op(CREATE2);
    asm = arg_b(asm).op(SSTORE).op(STOP);
    // transient: tstore(a, tload(a) + 1) twice; sstore(a, tload(a))
    asm = asm.label("transient");
    for _ in 0..2 {
        asm = arg_a(asm)
            .op(DUP1)
            .op(TLOAD)
            .push(1)
            .op(ADD)
            .op(SWAP1)
            .op(TSTORE);
    }
    asm = arg_a(asm).op(TLOAD);
    asm = arg_a(asm).op(SSTORE).op(STOP);
    // selfbalance: sstore(a, selfbalance())
    asm = asm.label("selfbalance").op(SELFBALANCE);
    asm = arg_a(asm).op(SSTORE).op(STOP);
    // codehash: sstore(a, extcodehash(b))
    asm = arg_b(asm.label("codehash")).op(EXTCODEHASH);
    asm = arg_a(asm).op(SSTORE).op(STOP);
    asm.build()
}

/// Init codes used by creations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InitCode {
    /// Deploys a kitchen sink.
    Sink,
    /// Writes slot 1 in the constructor, then deploys a kitchen sink.
    SinkWithStorage,
    /// Self-destructs to the creator during construction.
    DestroyInConstructor,
    /// Deploys nothing (empty code).
    Empty,
}

pub(crate) fn init_code(kind: InitCode) -> Vec<u8> {
    match kind {
        InitCode::Sink => deployer(&[], &kitchen_sink()),
        InitCode::SinkWithStorage => deployer(
            &Asm::new().push(7).push(1).op(SSTORE).build(),
            &kitchen_sink(),
        ),
        InitCode::DestroyInConstructor => Asm::new().op(CALLER).op(SELFDESTRUCT).build(),
        InitCode::Empty => vec![STOP],
    }
}
