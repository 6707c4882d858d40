//! EIP-7928 block access lists: the list a block travels with is checked against its header
//! and gas limit before execution, and against the list execution built after it.

use super::rejection::{Family, Rejection};
use alloy_consensus::Header;
use alloy_eips::eip7928::{
    BlockAccessList, ITEM_COST, compute_block_access_list_hash, first_bal_divergence,
    total_bal_items, validate_block_access_list,
};

fn rejected(detail: String) -> Rejection {
    Rejection::new(Family::AccessList, detail)
}

/// Checks the list delivered with a block of `transactions` transactions before executing it:
/// its hash is the header's, it is in canonical order with indices inside the block, and it
/// holds no more items than the gas limit pays for.
pub(super) fn check_delivered(
    header: &Header,
    transactions: usize,
    delivered: Option<&BlockAccessList>,
) -> Result<(), Rejection> {
    let (Some(expected), Some(list)) = (header.block_access_list_hash, delivered) else {
        return Ok(());
    };
    let hash = compute_block_access_list_hash(list);
    if hash != expected {
        return Err(rejected(format!(
            "the delivered access list hashes to {hash}, the header has {expected}"
        )));
    }
    let items = total_bal_items(list);
    let allowed = header.gas_limit / ITEM_COST as u64;
    if items > allowed {
        return Err(rejected(format!(
            "the access list holds {items} items, more than the gas limit {} allows ({allowed})",
            header.gas_limit
        )));
    }
    validate_block_access_list(list, transactions)
        .map_err(|error| rejected(format!("the delivered access list is malformed: {error}")))
}

/// The accounts only one of two lists holds, as `; only delivered: [..]; only built: [..]`
/// (empty where both hold the same accounts).
fn accounts_on_one_side(delivered: &BlockAccessList, built: &BlockAccessList) -> String {
    let only = |a: &BlockAccessList, b: &BlockAccessList| -> Vec<String> {
        a.iter()
            .filter(|account| !b.iter().any(|other| other.address == account.address))
            .map(|account| account.address.to_string())
            .collect()
    };
    let (delivered_only, built_only) = (only(delivered, built), only(built, delivered));
    let mut text = String::new();
    if !delivered_only.is_empty() {
        text += &format!("; only delivered: [{}]", delivered_only.join(", "));
    }
    if !built_only.is_empty() {
        text += &format!("; only built: [{}]", built_only.join(", "));
    }
    text
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
    if let Some(delivered) = delivered {
        let divergence = first_bal_divergence(delivered, built);
        if !divergence.is_empty() {
            return Err(rejected(format!(
                "the delivered access list is not the block's (delivered against built: {divergence}){}",
                accounts_on_one_side(delivered, built)
            )));
        }
    }
    let hash = compute_block_access_list_hash(built);
    if hash != expected {
        return Err(rejected(format!(
            "the block's access list hashes to {hash}, the header has {expected}"
        )));
    }
    Ok(())
}
