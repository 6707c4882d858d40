//! Transaction and call kinds: precompiles, access lists, transient storage, blob transactions
//! and EIP-7702 authorizations.

use super::*;

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
