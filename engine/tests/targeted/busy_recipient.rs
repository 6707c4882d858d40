//! Payments to a busy recipient, executed as increments against a placeholder.

use super::*;

/// Payments from many senders to one recipient: the busy-recipient path, where each payment
/// is an increment executed against a placeholder.
fn busy_recipient_block(spec: SpecId, recipient: Address) -> BlockBuilder {
    let mut b = funded(spec, 16);
    b.deploy(contract(0), kitchen_sink(), U256::from(ETH));
    for i in 0..6 {
        b.transfer(eoa(i), recipient, 1_000 + i as u64);
    }
    // Existence and balance observed by code: EXTCODEHASH of the recipient.
    b.call(
        eoa(6),
        contract(0),
        sink_call(
            SinkOp::StoreCodeHash,
            word(U256::from(7)),
            address_word(recipient),
            &[],
        ),
    );
    // A payment from a contract: a full read and write of the recipient between increments.
    b.call(
        eoa(7),
        contract(0),
        sink_call(
            SinkOp::Send,
            address_word(recipient),
            word(U256::from(55)),
            &[],
        ),
    );
    for i in 8..12 {
        b.transfer(eoa(i), recipient, 2_000 + i as u64);
    }
    b
}

#[test]
fn payments_to_a_busy_recipient() {
    for spec in [
        SpecId::HOMESTEAD,
        SpecId::SPURIOUS_DRAGON,
        SpecId::CANCUN,
        SpecId::OSAKA,
    ] {
        // A recipient that does not exist before the block, and one that does.
        for existing in [false, true] {
            let recipient = Address::with_last_byte(0x99).create(7);
            let mut b = busy_recipient_block(spec, recipient);
            if existing {
                b.fund(recipient, U256::from(ETH));
            }
            let result = assert_matches_sequential(&b.build());
            // EXTCODEHASH arrived with Constantinople (Petersburg in revm); earlier it halts,
            // in both executors.
            if spec.is_enabled_in(SpecId::PETERSBURG) {
                assert_all_succeed(&result);
            }
        }
    }
}

#[test]
fn a_busy_recipient_spends_and_is_paid_again() {
    let recipient = eoa(15);
    let mut b = busy_recipient_block(SpecId::CANCUN, recipient);
    b.transfer(recipient, eoa(0), 500);
    for i in 12..15 {
        b.transfer(eoa(i), recipient, 3_000 + i as u64);
    }
    b.transfer(recipient, eoa(1), 700);
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}

#[test]
fn a_busy_recipient_with_code_runs_it() {
    let mut b = funded(SpecId::CANCUN, 8);
    b.deploy(contract(1), kitchen_sink(), U256::ZERO);
    for i in 0..8 {
        let tx = b.call(
            eoa(i),
            contract(1),
            sink_call(SinkOp::StoreSelfBalance, word(U256::from(i)), [0; 32], &[]),
        );
        tx.value = U256::from(10 + i);
    }
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}

#[test]
fn a_payment_overflowing_a_busy_recipient_matches_sequential() {
    // The placeholder cannot see the overflow; the block must still come out exact.
    let recipient = Address::with_last_byte(0x98);
    let mut b = funded(SpecId::CANCUN, 4);
    b.fund(recipient, U256::MAX - U256::from(1_500));
    for i in 0..4 {
        b.transfer(eoa(i), recipient, 1_000);
    }
    let expected = assert_matches_sequential(&b.build());
    let output = expected.expect("the block executes");
    assert!(
        !output.transactions[1].result.is_success(),
        "the second payment overflows"
    );
}

#[test]
fn a_busy_recipient_that_gains_code_mid_block() {
    use revm::context_interface::{
        either::Either,
        transaction::{Authorization, RecoveredAuthority, RecoveredAuthorization},
    };
    let recipient = eoa(7);
    let mut b = funded(SpecId::PRAGUE, 8);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    for i in 0..3 {
        b.transfer(eoa(i), recipient, 100 + i as u64);
    }
    // The recipient delegates to the kitchen sink: later payments run its code.
    let tx = b.call(eoa(3), eoa(4), Bytes::new());
    tx.tx_type = 4;
    tx.gas_priority_fee = Some(1);
    tx.authorization_list = vec![Either::Right(RecoveredAuthorization::new_unchecked(
        Authorization {
            chain_id: U256::from(1),
            address: contract(0),
            nonce: 0,
        },
        RecoveredAuthority::Valid(recipient),
    ))];
    for i in 4..7 {
        let tx = b.call(
            eoa(i),
            recipient,
            sink_call(SinkOp::StoreSelfBalance, word(U256::from(i)), [0; 32], &[]),
        );
        tx.value = U256::from(200 + i);
    }
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}
