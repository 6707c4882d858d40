//! Comparing a block's execution on the executor under test with its execution on stock
//! sequential revm over the same parent state: receipts, requests, gas, state changes and the
//! built EIP-7928 access list must be identical, and a rejection must be the same rejection
//! (or, where the executor under test rejects the delivered access list, a rejection too).
//! This holds the engine to revm on every block of a test, not only where revm agrees with
//! the fixture.

use super::{
    execute_block::BlockExecution,
    rejection::{Family, Rejection},
};

/// The first way in which `under_test` differs from `on_revm`, as a rejection of its own
/// family (which no fixture expects), or `Ok` where the two are identical.
pub(super) fn compare_with_revm(
    under_test: &Result<BlockExecution, Rejection>,
    on_revm: &Result<BlockExecution, Rejection>,
) -> Result<(), Rejection> {
    let difference = match (under_test, on_revm) {
        (Err(a), Err(b)) if a == b => return Ok(()),
        // The Parallax executor found the delivered access list wrong and stock revm rejects
        // the block too: the executor checks each transaction against the list as it goes,
        // while stock revm, reading the same list, finds the fault only in the list its
        // execution builds at the end, or trips over what the wrong list made of a later
        // transaction or system call first.
        (Err(a), Err(_)) if a.family == Family::AccessList => return Ok(()),
        (Err(a), Err(b)) => format!("rejected as {a}, stock revm rejects it as {b}"),
        (Err(a), Ok(_)) => format!("rejected as {a}, stock revm executes it"),
        (Ok(_), Err(b)) => format!("executed, stock revm rejects it as {b}"),
        (Ok(a), Ok(b)) => match first_difference(a, b) {
            Some(difference) => difference,
            None => return Ok(()),
        },
    };
    Err(Rejection::new(
        Family::Divergence,
        format!("the executor under test differs from stock revm: {difference}"),
    ))
}

fn first_difference(a: &BlockExecution, b: &BlockExecution) -> Option<String> {
    let (ra, rb) = (&a.result, &b.result);
    if ra.gas_used != rb.gas_used {
        return Some(format!("gas used {} against {}", ra.gas_used, rb.gas_used));
    }
    if ra.blob_gas_used != rb.blob_gas_used {
        return Some(format!(
            "blob gas used {} against {}",
            ra.blob_gas_used, rb.blob_gas_used
        ));
    }
    if ra.receipts.len() != rb.receipts.len() {
        return Some(format!(
            "{} receipts against {}",
            ra.receipts.len(),
            rb.receipts.len()
        ));
    }
    if let Some(index) = (0..ra.receipts.len()).find(|&i| ra.receipts[i] != rb.receipts[i]) {
        return Some(format!(
            "receipt {index}: {:?} against {:?}",
            ra.receipts[index], rb.receipts[index]
        ));
    }
    if ra.requests != rb.requests {
        return Some(format!(
            "requests {:?} against {:?}",
            ra.requests, rb.requests
        ));
    }
    if a.bundle != b.bundle {
        let address = a
            .bundle
            .state
            .keys()
            .chain(b.bundle.state.keys())
            .find(|address| a.bundle.state.get(*address) != b.bundle.state.get(*address));
        return Some(match address {
            Some(address) => format!(
                "state changes of {address}: {:?} against {:?}",
                a.bundle.state.get(address),
                b.bundle.state.get(address)
            ),
            None => "state changes (contracts or reverts) differ".to_owned(),
        });
    }
    if a.access_list != b.access_list {
        return Some("the built block access lists differ".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::chain_spec::TestChainSpec;
    use alloy_consensus::{Receipt, ReceiptEnvelope};
    use alloy_primitives::{U256, address};
    use revm::{database::BundleState, state::AccountInfo};

    fn execution(gas_used: u64) -> BlockExecution {
        BlockExecution {
            result: alloy_evm::block::BlockExecutionResult {
                receipts: vec![ReceiptEnvelope::Eip1559(
                    Receipt {
                        status: true.into(),
                        cumulative_gas_used: gas_used,
                        logs: vec![],
                    }
                    .with_bloom(),
                )],
                gas_used,
                ..Default::default()
            },
            bundle: BundleState::default(),
            commits: vec![],
            pre_transaction_commits: 0,
            access_list: None,
            spec: TestChainSpec::for_network("Cancun", None).expect("Cancun"),
        }
    }

    fn divergence(
        a: Result<BlockExecution, Rejection>,
        b: Result<BlockExecution, Rejection>,
    ) -> String {
        let rejection = compare_with_revm(&a, &b).expect_err("a divergence");
        assert_eq!(rejection.family, Family::Divergence);
        rejection.detail
    }

    #[test]
    fn identical_executions_and_identical_rejections_agree() {
        assert!(compare_with_revm(&Ok(execution(21_000)), &Ok(execution(21_000))).is_ok());
        let rejected = || Err(Rejection::new(Family::Transaction, "nonce too low"));
        assert!(compare_with_revm(&rejected(), &rejected()).is_ok());
    }

    #[test]
    fn gas_receipts_state_and_rejections_are_compared() {
        assert!(divergence(Ok(execution(21_000)), Ok(execution(21_001))).contains("gas used"));

        let mut other_receipt = execution(21_000);
        other_receipt.result.receipts[0] = ReceiptEnvelope::Legacy(Receipt::default().with_bloom());
        assert!(divergence(Ok(execution(21_000)), Ok(other_receipt)).contains("receipt 0"));

        let mut other_state = execution(21_000);
        let account = address!("0x00000000000000000000000000000000000000aa");
        other_state.bundle = BundleState::new(
            [(
                account,
                None,
                Some(AccountInfo {
                    balance: U256::from(1),
                    ..Default::default()
                }),
                Default::default(),
            )],
            Vec::<Vec<(_, _, Vec<(U256, U256)>)>>::new(),
            Vec::new(),
        );
        assert!(divergence(Ok(execution(21_000)), Ok(other_state)).contains(&account.to_string()));

        let rejected = Err(Rejection::new(Family::Transaction, "nonce too low"));
        assert!(divergence(rejected, Ok(execution(21_000))).contains("stock revm executes it"));
        let other_reason = Err(Rejection::new(Family::Header, "bad"));
        let rejected = Err(Rejection::new(Family::Transaction, "nonce too low"));
        assert!(divergence(rejected, other_reason).contains("rejects it as Header"));
    }
}
