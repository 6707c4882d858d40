//! The block's fee recipient: fees that never serialize the block, and exact values for the
//! transactions that read it.

use super::*;

#[test]
fn coinbase_balance_reads_see_all_earlier_fees() {
    let mut b = funded(SpecId::CANCUN, 6);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    b.transfer(eoa(0), eoa(5), 1);
    b.transfer(eoa(1), eoa(5), 1);
    b.call(
        eoa(2),
        contract(0),
        sink_call(
            SinkOp::StoreCoinbaseBalance,
            word(U256::from(1)),
            [0; 32],
            &[],
        ),
    );
    b.transfer(eoa(3), eoa(5), 1);
    b.call(
        eoa(4),
        contract(0),
        sink_call(
            SinkOp::StoreCoinbaseBalance,
            word(U256::from(2)),
            [0; 32],
            &[],
        ),
    );
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}

#[test]
fn coinbase_as_sender_and_recipient() {
    let mut b = funded(SpecId::LONDON, 4);
    b.beneficiary(eoa(3));
    b.transfer(eoa(0), eoa(1), 5);
    b.transfer(eoa(3), eoa(2), 7); // the beneficiary spends its balance
    b.transfer(eoa(1), eoa(3), 9); // and receives more
    b.transfer(eoa(2), eoa(0), 1);
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}

#[test]
fn zero_fee_transactions_touch_an_empty_coinbase() {
    // Pre-London a zero gas price pays no fee; the touched, empty beneficiary must be created
    // before Spurious Dragon and left absent after it.
    for spec in [
        SpecId::FRONTIER,
        SpecId::HOMESTEAD,
        SpecId::SPURIOUS_DRAGON,
        SpecId::BERLIN,
    ] {
        let mut b = funded(spec, 3);
        for i in 0..3 {
            b.tx(
                eoa(i),
                TxKind::Call(eoa((i + 1) % 3)),
                U256::from(1),
                Bytes::new(),
                0,
            );
        }
        b.transfer(eoa(0), eoa(1), 1);
        assert_all_succeed(&assert_matches_sequential(&b.build()));
    }
}

#[test]
fn existing_empty_coinbase_is_deleted_by_zero_fee_touch() {
    let mut b = funded(SpecId::BYZANTIUM, 2);
    b.fund(Address::with_last_byte(0xcb), U256::ZERO); // exists, empty
    b.tx(eoa(0), TxKind::Call(eoa(1)), U256::from(1), Bytes::new(), 0);
    b.tx(eoa(1), TxKind::Call(eoa(0)), U256::from(1), Bytes::new(), 3);
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}
