//! Accounts coming and going: creation, CREATE2 at one address, SELFDESTRUCT before and after
//! Cancun with its storage wipe, and EIP-161 touch and delete.

use super::*;

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
