//! The EIP-7928 access list delivered with a block, checked before the block runs from it
//! (from Amsterdam, its hash is the header's and it holds no more items than the gas limit
//! pays for; on every fork, it is in canonical order with every index inside the block) and after it, against the
//! list the execution built.

use alloy_consensus::Header;
use alloy_eips::eip7928::{
    BlockAccessList, ITEM_COST, compute_block_access_list_hash, first_bal_divergence,
    total_bal_items, validate_block_access_list,
};

/// What is wrong with `list` as the access list of the block of `header` with
/// `transactions` transactions, naming the account, slot and index where the rules do.
pub(crate) fn delivered_list_problem(
    header: &Header,
    transactions: usize,
    list: &BlockAccessList,
) -> Option<String> {
    // The hash and the item cap are Amsterdam's rules: an older block's gas did not pay for
    // its list (mainnet block 2462997 touches 1,942 items on a gas limit of 499,999).
    if let Some(expected) = header.block_access_list_hash {
        let hash = compute_block_access_list_hash(list);
        if hash != expected {
            return Some(format!(
                "the delivered access list hashes to {hash}, the header has {expected}"
            ));
        }
        let items = total_bal_items(list);
        let allowed = header.gas_limit / ITEM_COST as u64;
        if items > allowed {
            return Some(format!(
                "the access list holds {items} items, more than the gas limit {} allows ({allowed})",
                header.gas_limit
            ));
        }
    }
    validate_block_access_list(list, transactions)
        .err()
        .map(|error| format!("the delivered access list is malformed: {error}"))
}

/// How `delivered` differs from `built`, the list of what the block did: the first
/// divergence, and the accounts only one of them holds. `None` where they are the same.
pub(crate) fn delivered_list_differs(
    delivered: &BlockAccessList,
    built: &BlockAccessList,
) -> Option<String> {
    let divergence = first_bal_divergence(delivered, built);
    if divergence.is_empty() {
        return None;
    }
    let only = |a: &BlockAccessList, b: &BlockAccessList| -> Vec<String> {
        a.iter()
            .filter(|account| !b.iter().any(|other| other.address == account.address))
            .map(|account| account.address.to_string())
            .collect()
    };
    let mut text = format!(
        "the delivered access list is not the block's (delivered against built: {divergence})"
    );
    for (side, accounts) in [
        ("delivered", only(delivered, built)),
        ("built", only(built, delivered)),
    ] {
        if !accounts.is_empty() {
            text += &format!("; only {side}: [{}]", accounts.join(", "));
        }
    }
    Some(text)
}
