//! Executing from an EIP-7928 access list: a chain Block-STM cannot split runs at once, and a
//! list that is wrong in any way fails the block at the first index it is wrong, naming the
//! account and the field.

use super::*;
use parallax_engine::ExecutionError;
use revm::state::bal::{Bal, BlockAccessIndex};
use std::sync::Arc;

/// Each transaction increments one shared counter: one long chain.
fn counter_chain(transactions: usize) -> TestBlock {
    let mut b = funded(SpecId::CANCUN, transactions);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    for i in 0..transactions {
        b.call(
            eoa(i),
            contract(0),
            sink_call(SinkOp::Increment, word(U256::ZERO), word(U256::ZERO), &[]),
        );
    }
    b.build()
}

fn list_error(block: &TestBlock, list: Bal) -> (u64, String) {
    match from_access_list(block, 2, &Arc::new(list)) {
        Err(ExecutionError::AccessList { index, detail }) => (index, detail),
        other => panic!("expected an access-list error, got {other:?}"),
    }
}

#[test]
fn a_chain_runs_at_once_from_its_list() {
    let block = counter_chain(16);
    let output = assert_matches_sequential(&block).expect("block executes");
    assert_eq!(output.transactions.len(), 16);
}

#[test]
fn a_wrong_slot_value_fails_at_its_index() {
    let block = counter_chain(8);
    let mut list = built_list(&block);
    let slot = list.accounts[&contract(0)]
        .storage
        .storage
        .values_mut()
        .find(|writes| writes.writes.len() == 8)
        .expect("the counter changes in every transaction");
    slot.writes[4].1 += U256::from(1);
    let (index, detail) = list_error(&block, list);
    // Transaction 4 (index 5) does not write what the list says.
    assert_eq!(index, 5, "{detail}");
    assert!(
        detail.contains("slot") && detail.contains(&contract(0).to_string()),
        "{detail}"
    );
}

#[test]
fn a_wrong_balance_fails_at_its_index() {
    let block = counter_chain(6);
    let mut list = built_list(&block);
    let sender = list.accounts.get_mut(&eoa(2)).expect("sender is listed");
    let (at, balance) = sender.account_info.balance.writes[0];
    assert_eq!(at, BlockAccessIndex(3));
    sender.account_info.balance.writes[0].1 = balance + U256::from(1);
    let (index, detail) = list_error(&block, list);
    assert_eq!(index, 3, "{detail}");
    assert!(
        detail.contains("balance") && detail.contains(&eoa(2).to_string()),
        "{detail}"
    );
}

#[test]
fn a_change_no_transaction_made_fails() {
    let block = counter_chain(4);
    let mut list = built_list(&block);
    let extra = list.accounts.get_mut(&eoa(1)).expect("sender is listed");
    extra
        .account_info
        .nonce
        .writes
        .push((BlockAccessIndex(4), 99));
    let (index, detail) = list_error(&block, list);
    assert_eq!(index, 4, "{detail}");
    assert!(detail.contains("nonce"), "{detail}");
}

#[test]
fn a_missing_account_fails_the_read() {
    let block = counter_chain(4);
    let mut list = built_list(&block);
    list.accounts.shift_remove(&eoa(3));
    let (index, detail) = list_error(&block, list);
    assert_eq!(index, 4, "{detail}");
    assert!(detail.contains("does not hold"), "{detail}");
}
