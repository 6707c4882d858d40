//! EIP-7928 block access lists: the list a block travels with is checked against its header
//! and gas limit before execution, and against the list execution built after it.

use super::rejection::{Family, Rejection};
use crate::check::delivered_list::{delivered_list_differs, delivered_list_problem};
use alloy_consensus::Header;
use alloy_eips::eip7928::{BlockAccessList, compute_block_access_list_hash};

fn rejected(detail: String) -> Rejection {
    Rejection::new(Family::AccessList, detail)
}

/// Checks the list delivered with a block of `transactions` transactions before executing it,
/// where the header commits to one ([`delivered_list_problem`]).
pub(super) fn check_delivered(
    header: &Header,
    transactions: usize,
    delivered: Option<&BlockAccessList>,
) -> Result<(), Rejection> {
    let (Some(_), Some(list)) = (header.block_access_list_hash, delivered) else {
        return Ok(());
    };
    delivered_list_problem(header, transactions, list)
        .map_or(Ok(()), |problem| Err(rejected(problem)))
}

/// Checks the list execution built against the header and the delivered list.
pub(super) fn check_built(
    header: &Header,
    delivered: Option<&BlockAccessList>,
    built: Option<&BlockAccessList>,
) -> Result<(), Rejection> {
    let Some(expected) = header.block_access_list_hash else {
        return Ok(());
    };
    let Some(built) = built else {
        return Err(rejected(
            "the header has an access list hash but execution built no list".to_owned(),
        ));
    };
    if let Some(problem) = delivered.and_then(|delivered| delivered_list_differs(delivered, built))
    {
        return Err(rejected(problem));
    }
    let hash = compute_block_access_list_hash(built);
    if hash != expected {
        return Err(rejected(format!(
            "the block's access list hashes to {hash}, the header has {expected}"
        )));
    }
    Ok(())
}
