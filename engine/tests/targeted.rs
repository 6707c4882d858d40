//! Targeted equivalence tests: one case each for the situations a parallel executor most
//! easily gets wrong. Every test forces the parallel path and compares with sequential revm
//! at 1, 2, 4 and 8 threads.

mod common;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use common::{contracts::*, *};
use revm::{context_interface::result::ExecutionResult, primitives::hardfork::SpecId};

const ETH: u64 = 1_000_000_000_000_000_000;

fn funded(spec: SpecId, senders: usize) -> BlockBuilder {
    let mut builder = BlockBuilder::new(spec);
    for i in 0..senders {
        builder.fund(eoa(i), U256::from(ETH) * U256::from(100));
    }
    builder
}

fn assert_all_succeed(result: &TestResult) {
    let output = result.as_ref().expect("block executes");
    for (i, tx) in output.transactions.iter().enumerate() {
        assert!(
            matches!(tx.result, ExecutionResult::Success { .. }),
            "tx {i}: {:?}",
            tx.result
        );
    }
}

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

#[test]
fn contract_creation_and_create2_at_the_same_address() {
    for spec in [SpecId::PETERSBURG, SpecId::SHANGHAI, SpecId::CANCUN] {
        let mut b = funded(spec, 4);
        b.deploy(contract(0), kitchen_sink(), U256::ZERO);
        let init = init_code(InitCode::SinkWithStorage);
        // Two CREATE2s with one salt: the second collides.
        b.call(
            eoa(0),
            contract(0),
            sink_call(
                SinkOp::Create2,
                word(U256::from(5)),
                word(U256::from(1)),
                &init,
            ),
        );
        b.call(
            eoa(1),
            contract(0),
            sink_call(
                SinkOp::Create2,
                word(U256::from(5)),
                word(U256::from(2)),
                &init,
            ),
        );
        b.tx(
            eoa(2),
            TxKind::Create,
            U256::from(3),
            init.clone().into(),
            10,
        );
        b.tx(
            eoa(3),
            TxKind::Create,
            U256::ZERO,
            init_code(InitCode::Empty).into(),
            10,
        );
        assert_all_succeed(&assert_matches_sequential(&b.build()));
    }
}

#[test]
fn selfdestruct_then_recreate_and_read_storage() {
    for spec in [
        SpecId::PETERSBURG,
        SpecId::ISTANBUL,
        SpecId::SHANGHAI,
        SpecId::CANCUN,
        SpecId::PRAGUE,
    ] {
        let mut b = funded(spec, 6);
        b.deploy(contract(0), kitchen_sink(), U256::ZERO);
        let init = init_code(InitCode::SinkWithStorage);
        let child = contract(0).create2_from_code(word(U256::from(9)), &init);
        // Create the child, write its storage, destroy it, re-create it, read it back.
        b.call(
            eoa(0),
            contract(0),
            sink_call(
                SinkOp::Create2,
                word(U256::from(9)),
                word(U256::from(1)),
                &init,
            ),
        );
        b.call(
            eoa(1),
            child,
            sink_call(
                SinkOp::Store,
                word(U256::from(3)),
                word(U256::from(33)),
                &[],
            ),
        );
        b.call(
            eoa(2),
            child,
            sink_call(SinkOp::SelfDestruct, address_word(eoa(5)), [0; 32], &[]),
        );
        b.call(
            eoa(3),
            contract(0),
            sink_call(
                SinkOp::Create2,
                word(U256::from(9)),
                word(U256::from(2)),
                &init,
            ),
        );
        b.call(
            eoa(4),
            child,
            sink_call(SinkOp::Copy, word(U256::from(3)), word(U256::from(4)), &[]),
        );
        b.call(
            eoa(5),
            child,
            sink_call(SinkOp::Copy, word(U256::from(7)), word(U256::from(8)), &[]),
        );
        assert_all_succeed(&assert_matches_sequential(&b.build()));
    }
}

#[test]
fn selfdestruct_of_a_pre_existing_contract_wipes_its_storage() {
    for spec in [SpecId::TANGERINE, SpecId::LONDON, SpecId::CANCUN] {
        let mut b = funded(spec, 4);
        b.deploy(contract(1), kitchen_sink(), U256::from(1_000));
        b.set_storage(contract(1), U256::from(1), U256::from(11));
        b.set_storage(contract(1), U256::from(2), U256::from(22));
        b.call(
            eoa(0),
            contract(1),
            sink_call(SinkOp::Copy, word(U256::from(1)), word(U256::from(3)), &[]),
        );
        b.call(
            eoa(1),
            contract(1),
            sink_call(SinkOp::SelfDestruct, address_word(eoa(3)), [0; 32], &[]),
        );
        b.call(
            eoa(2),
            contract(1),
            sink_call(SinkOp::Copy, word(U256::from(2)), word(U256::from(4)), &[]),
        );
        b.transfer(eoa(3), contract(1), 5);
        assert_all_succeed(&assert_matches_sequential(&b.build()));
    }
}

#[test]
fn created_and_destroyed_in_one_transaction() {
    for spec in [SpecId::PETERSBURG, SpecId::CANCUN] {
        let mut b = funded(spec, 3);
        b.deploy(contract(0), kitchen_sink(), U256::ZERO);
        let init = init_code(InitCode::DestroyInConstructor);
        b.call(
            eoa(0),
            contract(0),
            sink_call(
                SinkOp::Create2,
                word(U256::from(1)),
                word(U256::from(1)),
                &init,
            ),
        );
        b.tx(
            eoa(1),
            TxKind::Create,
            U256::from(100),
            init.clone().into(),
            10,
        );
        b.call(
            eoa(2),
            contract(0),
            sink_call(
                SinkOp::Create2,
                word(U256::from(1)),
                word(U256::from(2)),
                &init,
            ),
        );
        assert_all_succeed(&assert_matches_sequential(&b.build()));
    }
}

#[test]
fn empty_accounts_touched_under_eip161() {
    for spec in [
        SpecId::HOMESTEAD,
        SpecId::TANGERINE,
        SpecId::SPURIOUS_DRAGON,
        SpecId::CANCUN,
    ] {
        let mut b = funded(spec, 3);
        b.deploy(contract(0), kitchen_sink(), U256::from(10));
        let empty = Address::with_last_byte(0x66);
        b.fund(empty, U256::ZERO);
        // A zero-value call to an existing empty account, and one to a missing account.
        b.call(
            eoa(0),
            contract(0),
            sink_call(SinkOp::Send, address_word(empty), word(U256::ZERO), &[]),
        );
        b.call(
            eoa(1),
            contract(0),
            sink_call(
                SinkOp::Send,
                address_word(Address::with_last_byte(0x67)),
                word(U256::ZERO),
                &[],
            ),
        );
        b.transfer(eoa(2), empty, 0);
        // EXTCODEHASH only exists from Constantinople: earlier it halts, identically.
        b.call(
            eoa(0),
            contract(0),
            sink_call(
                SinkOp::StoreCodeHash,
                word(U256::from(1)),
                address_word(empty),
                &[],
            ),
        );
        assert_matches_sequential(&b.build()).unwrap();
    }
}

#[test]
fn precompiles_with_value() {
    let mut b = funded(SpecId::CANCUN, 3);
    for i in 1..=3u8 {
        b.tx(
            eoa(i as usize - 1),
            TxKind::Call(Address::with_last_byte(i)),
            U256::from(7),
            Bytes::from(vec![1, 2, 3]),
            10,
        );
    }
    b.transfer(eoa(0), Address::with_last_byte(2), 1);
    assert_matches_sequential(&b.build()).unwrap();
}

#[test]
fn access_list_transactions() {
    let mut b = funded(SpecId::BERLIN, 3);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    for i in 0..3 {
        let tx = b.call(
            eoa(i),
            contract(0),
            sink_call(SinkOp::Increment, word(U256::from(i % 2)), [0; 32], &[]),
        );
        tx.tx_type = 1;
        tx.access_list = vec![revm::context_interface::transaction::AccessListItem {
            address: contract(0),
            storage_keys: vec![(U256::from(i % 2)).into()],
        }]
        .into();
    }
    assert_all_succeed(&assert_matches_sequential(&b.build()));
}

#[test]
fn transient_storage_does_not_leak_between_transactions() {
    let mut b = funded(SpecId::CANCUN, 3);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    for i in 0..3 {
        b.call(
            eoa(i),
            contract(0),
            sink_call(SinkOp::Transient, word(U256::from(1)), [0; 32], &[]),
        );
    }
    let output = assert_matches_sequential(&b.build()).unwrap();
    let slot = &output.transactions[2].state[&contract(0)].storage[&U256::from(1)];
    assert_eq!(slot.present_value, U256::from(2));
}

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

#[test]
fn blob_transactions() {
    use revm::context_interface::block::BlobExcessGasAndPrice;
    for spec in [SpecId::CANCUN, SpecId::PRAGUE, SpecId::OSAKA] {
        let mut b = funded(spec, 3);
        b.block.blob_excess_gas_and_price = Some(BlobExcessGasAndPrice::new(393_216, 3_338_477));
        for i in 0..3 {
            let tx = b.transfer(eoa(i), eoa((i + 1) % 3), 10);
            tx.tx_type = 3;
            tx.gas_priority_fee = Some(2);
            tx.blob_hashes = vec![{
                let mut hash = [i as u8 + 1; 32];
                hash[0] = 1; // versioned hash, KZG version byte
                hash.into()
            }];
            tx.max_fee_per_blob_gas = 1_000;
        }
        assert_all_succeed(&assert_matches_sequential(&b.build()));
    }
}

#[test]
fn eip7702_authorizations_write_nonce_and_code() {
    use revm::context_interface::{
        either::Either,
        transaction::{Authorization, RecoveredAuthority, RecoveredAuthorization},
    };
    let mut b = funded(SpecId::PRAGUE, 4);
    b.deploy(contract(0), kitchen_sink(), U256::ZERO);
    let authority = eoa(3);
    let delegate = |nonce: u64, address: Address| {
        Either::Right(RecoveredAuthorization::new_unchecked(
            Authorization {
                chain_id: U256::from(1),
                address,
                nonce,
            },
            RecoveredAuthority::Valid(authority),
        ))
    };
    // Delegate eoa(3) to the kitchen sink, use its storage through the delegation, then
    // clear the delegation and send it funds.
    let tx = b.call(eoa(0), eoa(2), Bytes::new());
    tx.tx_type = 4;
    tx.gas_priority_fee = Some(1);
    tx.authorization_list = vec![delegate(0, contract(0))];
    b.call(
        eoa(1),
        authority,
        sink_call(SinkOp::Increment, word(U256::from(1)), [0; 32], &[]),
    );
    b.call(
        eoa(2),
        authority,
        sink_call(SinkOp::Increment, word(U256::from(1)), [0; 32], &[]),
    );
    let tx = b.call(eoa(0), eoa(1), Bytes::new());
    tx.tx_type = 4;
    tx.gas_priority_fee = Some(1);
    tx.authorization_list = vec![delegate(1, Address::ZERO)];
    b.transfer(eoa(1), authority, 5);
    let output = assert_matches_sequential(&b.build()).unwrap();
    assert_all_succeed(&Ok(output.clone()));
    let slot = &output.transactions[2].state[&authority].storage[&U256::from(1)];
    assert_eq!(slot.present_value, U256::from(2));
}

#[test]
fn recreated_contract_does_not_see_storage_from_before_the_block() {
    // The child exists before the block (at its CREATE2 address) with storage. Destroying and
    // re-creating it must hide every old slot, including ones the block never wrote.
    for spec in [SpecId::PETERSBURG, SpecId::SHANGHAI] {
        let mut b = funded(spec, 4);
        b.deploy(contract(0), kitchen_sink(), U256::ZERO);
        let init = init_code(InitCode::Sink);
        let child = contract(0).create2_from_code(word(U256::from(4)), &init);
        b.deploy(child, kitchen_sink(), U256::from(50));
        b.set_storage(child, U256::from(1), U256::from(111));
        b.set_storage(child, U256::from(2), U256::from(222));
        b.call(
            eoa(0),
            child,
            sink_call(SinkOp::SelfDestruct, address_word(eoa(3)), [0; 32], &[]),
        );
        b.call(
            eoa(1),
            contract(0),
            sink_call(
                SinkOp::Create2,
                word(U256::from(4)),
                word(U256::from(1)),
                &init,
            ),
        );
        b.call(
            eoa(2),
            child,
            sink_call(SinkOp::Copy, word(U256::from(1)), word(U256::from(5)), &[]),
        );
        b.call(
            eoa(3),
            child,
            sink_call(SinkOp::Increment, word(U256::from(2)), [0; 32], &[]),
        );
        let output = assert_matches_sequential(&b.build()).unwrap();
        assert_all_succeed(&Ok(output.clone()));
        let incremented = &output.transactions[3].state[&child].storage[&U256::from(2)];
        assert_eq!(
            incremented.present_value,
            U256::from(1),
            "old storage must be gone"
        );
    }
}

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
