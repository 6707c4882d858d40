//! Transfers, nonce chains and storage: which transactions conflict and which do not.

use super::*;

#[test]
fn independent_transfers() {
    let mut b = funded(SpecId::CANCUN, 8);
    for i in 0..8 {
        b.transfer(
            eoa(i),
            Address::with_last_byte(0x40 + i as u8),
            1_000 + i as u64,
        );
    }
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}

#[test]
fn same_sender_nonce_chain() {
    let mut b = funded(SpecId::CANCUN, 1);
    for i in 0..20 {
        b.transfer(
            eoa(0),
            Address::with_last_byte(0x40 + (i % 3) as u8),
            1 + i as u64,
        );
    }
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}

#[test]
fn transfers_chained_through_accounts() {
    // Each transaction spends what the previous one received.
    let mut b = funded(SpecId::SHANGHAI, 1);
    b.transfer(eoa(0), eoa(1), ETH);
    for i in 1..6 {
        b.transfer(eoa(i), eoa(i + 1), ETH >> (i + 1));
    }
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}

#[test]
fn different_slots_of_one_contract() {
    let mut b = funded(SpecId::CANCUN, 6);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    for i in 0..6 {
        b.call(
            eoa(i),
            contract(0),
            sink_call(SinkOp::Increment, word(U256::from(i)), [0; 32], &[]),
        );
    }
    let block = b.build();
    let output = assert_matches_sequential(&block).unwrap();
    assert_all_succeed(&Ok(output));
    // No transaction should have had to re-execute: they touch disjoint slots.
    let stats = parallel(&block, 4).unwrap().stats;
    assert_eq!(stats.executions, 6, "{stats:?}");
}

#[test]
fn same_slot_read_modify_write() {
    let mut b = funded(SpecId::CANCUN, 8);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    for i in 0..8 {
        b.call(
            eoa(i),
            contract(0),
            sink_call(SinkOp::Increment, word(U256::from(1)), [0; 32], &[]),
        );
    }
    let output = assert_matches_sequential(&b.build()).unwrap();
    let last = &output.transactions[7].state[&contract(0)].storage[&U256::from(1)];
    assert_eq!(last.present_value, U256::from(8));
}

#[test]
fn one_worker_never_validates() {
    // With one worker every transaction starts with all those below it committed, so it
    // reads only final values: the commit frontier makes validation unnecessary, even on a
    // block of conflicts (one slot, one sender's nonce chain).
    let mut b = funded(SpecId::CANCUN, 8);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    for i in 0..8 {
        b.call(
            eoa(i),
            contract(0),
            sink_call(SinkOp::Increment, word(U256::from(1)), [0; 32], &[]),
        );
        b.transfer(eoa(0), eoa(i + 1), 1 + i as u64);
    }
    let block = b.build();
    assert_all_succeed(&assert_matches_sequential(&block));
    let stats = parallel(&block, 1).unwrap().stats;
    assert_eq!(stats.executions, block.txs.len(), "{stats:?}");
    assert_eq!(stats.validations, 0, "{stats:?}");
}
