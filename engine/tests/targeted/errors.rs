//! Invalid blocks: errors name the transaction, and nothing partial comes back.

use super::*;

#[test]
fn invalid_transaction_is_reported_with_its_index() {
    let mut b = funded(SpecId::CANCUN, 2);
    b.transfer(eoa(0), eoa(1), 1);
    b.transfer(eoa(1), eoa(0), 1);
    let poor = Address::with_last_byte(0x77);
    b.transfer(poor, eoa(0), 1);
    b.transfer(eoa(0), eoa(1), 1);
    let error = assert_matches_sequential(&b.build()).unwrap_err();
    assert_eq!(error.transaction_index(), Some(2), "{error}");
}

#[test]
fn nonce_gap_is_reported_with_its_index() {
    let mut b = funded(SpecId::CANCUN, 2);
    b.transfer(eoa(0), eoa(1), 1);
    b.transfer(eoa(0), eoa(1), 1).nonce = 5;
    let error = assert_matches_sequential(&b.build()).unwrap_err();
    assert_eq!(error.transaction_index(), Some(1), "{error}");
    assert!(error.to_string().contains("nonce"), "{error}");
}

#[test]
fn block_gas_limit_is_enforced() {
    let mut b = funded(SpecId::CANCUN, 3);
    b.block.gas_limit = 50_000;
    b.transfer(eoa(0), eoa(1), 1).gas_limit = 21_000;
    b.transfer(eoa(1), eoa(2), 1).gas_limit = 21_000;
    b.transfer(eoa(2), eoa(0), 1).gas_limit = 21_000;
    let error = assert_matches_sequential(&b.build()).unwrap_err();
    assert_eq!(error.transaction_index(), Some(2), "{error}");
}

#[test]
fn empty_block() {
    let output = assert_matches_sequential(&BlockBuilder::new(SpecId::CANCUN).build()).unwrap();
    assert!(output.transactions.is_empty());
}
