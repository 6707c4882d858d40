//! Checking `eth_getProof` answers: their nodes must lead from a state root to the account
//! and slots they claim.

use super::{node_store::TrieNodes, state_trie::StateTrie};
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::EIP1186AccountProofResponse;
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use revm::primitives::KECCAK_EMPTY;

/// Checks an `eth_getProof` answer on its own: its nodes must lead from `state_root` to the
/// account and slots it claims. Returns the account it proves.
pub fn verify_proof(
    state_root: B256,
    proof: &EIP1186AccountProofResponse,
) -> Result<Option<TrieAccount>, String> {
    let mut nodes = TrieNodes::default();
    nodes.extend(&proof.account_proof);
    for slot in &proof.storage_proof {
        nodes.extend(&slot.proof);
    }
    verify_proof_against(&StateTrie::new(nodes, state_root), proof)
}

/// Checks that an answer states what `trie` holds for its account and slots. Returns the
/// account.
pub(crate) fn verify_proof_against(
    trie: &StateTrie,
    proof: &EIP1186AccountProofResponse,
) -> Result<Option<TrieAccount>, String> {
    let address = proof.address;
    let root = trie.root();
    let account = trie.account(address).map_err(|e| {
        format!("the proof of account {address} does not reach the parent's state root {root}: {e}")
    })?;
    if !answer_matches(proof, account.as_ref()) {
        return Err(format!(
            "the proof of account {address} does not hash to the parent's state root {root}"
        ));
    }
    let storage_root = account.map_or(EMPTY_ROOT_HASH, |account| account.storage_root);
    for slot in &proof.storage_proof {
        let key = U256::from_be_bytes(slot.key.as_b256().0);
        let value = trie.storage(address, storage_root, key).map_err(|e| {
            format!("the proof of slot {key:#x} of {address} does not reach its storage root: {e}")
        })?;
        if value != slot.value {
            return Err(format!(
                "the proof of slot {key:#x} of {address} does not hash to the parent's state root: it claims {:#x}, the trie holds {value:#x}",
                slot.value
            ));
        }
    }
    Ok(account)
}

/// Whether an answer's fields describe `account` (as the trie holds it).
fn answer_matches(proof: &EIP1186AccountProofResponse, account: Option<&TrieAccount>) -> bool {
    match account {
        Some(a) => {
            (a.nonce, a.balance, a.storage_root, a.code_hash)
                == (
                    proof.nonce,
                    proof.balance,
                    proof.storage_hash,
                    proof.code_hash,
                )
        }
        None => {
            proof.nonce == 0
                && proof.balance.is_zero()
                && (proof.code_hash.is_zero() || proof.code_hash == KECCAK_EMPTY)
                && (proof.storage_hash.is_zero() || proof.storage_hash == EMPTY_ROOT_HASH)
        }
    }
}
