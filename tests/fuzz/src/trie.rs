//! The state trie: roots computed through the sparse trie must equal the roots alloy-trie
//! builds from scratch, reads through it must give back what was written, and an
//! `eth_getProof` answer that `verify_proof` accepts must really hash-chain from the root to
//! what it claims (checked by an independent walk over the proof's own nodes).

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy_trie::{
    EMPTY_ROOT_HASH, Nibbles, TrieAccount,
    nodes::{RlpNode, TrieNode},
};
use arbitrary::Arbitrary;
use parallax_replay::{
    AccountChange, CompleteAccount, StateTrie, TrieNodes, complete_state_root, post_state_root,
    verify_proof,
};
use revm::primitives::KECCAK_EMPTY;
use std::collections::{BTreeMap, HashMap};

/// A state, a change to it, an account to prove, and how to tamper with its proof; or, in
/// raw mode, nodes and claims straight from the fuzzer.
#[derive(Debug, Arbitrary)]
pub enum TrieCase {
    /// A real trie, updated and proved.
    Built {
        accounts: Vec<(u8, u8, u16, Vec<(u8, u8)>)>,
        changes: Vec<Change>,
        probe: u8,
        slots: Vec<u8>,
        edits: Vec<Edit>,
    },
    /// Arbitrary nodes against the root of the first one.
    Raw {
        address: u8,
        nodes: Vec<Vec<u8>>,
        claim: Claim,
        slots: Vec<(u8, u8, Vec<Vec<u8>>)>,
    },
}

/// A change of the second round.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Change {
    Balance(u8, u16),
    Delete(u8),
    Store(u8, u8, u8),
    Wipe(u8),
}

/// What an answer claims about its account.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Claim {
    nonce: u8,
    balance: u16,
    empty_storage: bool,
    empty_code: bool,
}

/// A way to tamper with a genuine proof.
#[derive(Debug, Clone, Arbitrary)]
pub enum Edit {
    FlipByte { node: u8, at: u16, bits: u8 },
    DropNode(u8),
    Truncate { node: u8, len: u16 },
    AddNode(Vec<u8>),
    Reorder(u8, u8),
    ClaimBalance(u16),
    ClaimNonce(u8),
    ClaimStorageRoot(u8),
    ClaimCodeHash(u8),
    ClaimSlot { slot: u8, value: u8 },
    SlotNodeFromAccount(u8),
}

type Model = BTreeMap<Address, (u64, U256, BTreeMap<U256, U256>)>;

fn address(seed: u8) -> Address {
    Address::with_last_byte(seed)
}

fn root_of(model: &Model) -> B256 {
    complete_state_root(model.iter().map(|(address, (nonce, balance, storage))| {
        (
            *address,
            CompleteAccount {
                nonce: *nonce,
                balance: *balance,
                code_hash: KECCAK_EMPTY,
                storage: storage.clone(),
            },
        )
    }))
}

/// The node a child reference points to: inline (shorter than a hash) or by hash.
fn child(nodes: &HashMap<B256, Bytes>, reference: &RlpNode) -> Result<Bytes, String> {
    match reference.as_hash() {
        Some(hash) => nodes
            .get(&hash)
            .cloned()
            .ok_or_else(|| format!("missing node {hash}")),
        None => Ok(Bytes::copy_from_slice(reference.as_ref())),
    }
}

/// The value under `key` in the trie rooted at `root` over `nodes`, walked independently
/// of the project's trie code; with every node on the path pushed to `path`.
pub fn walk(
    nodes: &HashMap<B256, Bytes>,
    root: B256,
    key: B256,
    path: &mut Vec<Bytes>,
) -> Result<Option<Vec<u8>>, String> {
    if root == EMPTY_ROOT_HASH {
        return Ok(None);
    }
    let mut node = nodes
        .get(&root)
        .cloned()
        .ok_or_else(|| format!("missing root {root}"))?;
    let key = Nibbles::unpack(key);
    let mut at = 0;
    loop {
        if node.len() >= 32 {
            path.push(node.clone());
        }
        let decoded = TrieNode::decode(&mut node.as_ref()).map_err(|e| e.to_string())?;
        match decoded {
            TrieNode::EmptyRoot => return Ok(None),
            TrieNode::Leaf(leaf) => {
                let rest = key.slice(at..);
                return Ok((leaf.key == rest).then_some(leaf.value));
            }
            TrieNode::Extension(extension) => {
                if !key.slice(at..).starts_with(&extension.key) {
                    return Ok(None);
                }
                at += extension.key.len();
                node = child(nodes, &extension.child)?;
            }
            TrieNode::Branch(branch) => {
                let Some(nibble) = key.get(at) else {
                    return Err("a branch at the end of the key".into());
                };
                if !branch.state_mask.is_bit_set(nibble) {
                    return Ok(None);
                }
                let index = (0..nibble)
                    .filter(|n| branch.state_mask.is_bit_set(*n))
                    .count();
                let reference = branch.stack.get(index).ok_or("short branch")?;
                at += 1;
                node = child(nodes, reference)?;
            }
        }
    }
}

fn by_hash<'a>(nodes: impl IntoIterator<Item = &'a Bytes>) -> HashMap<B256, Bytes> {
    nodes
        .into_iter()
        .filter(|node| !node.is_empty())
        .map(|node| (keccak256(node), node.clone()))
        .collect()
}

/// Panics unless `accepted`, what `verify_proof` returned for `proof` against `root`, is
/// what the proof's nodes say when walked from the root.
fn assert_sound(root: B256, proof: &EIP1186AccountProofResponse, accepted: Option<TrieAccount>) {
    let nodes = by_hash(
        proof
            .account_proof
            .iter()
            .chain(proof.storage_proof.iter().flat_map(|slot| &slot.proof)),
    );
    let leaf = walk(&nodes, root, keccak256(proof.address), &mut Vec::new())
        .unwrap_or_else(|e| panic!("an accepted proof does not reach its account: {e}"));
    let account = leaf.map(|leaf| {
        TrieAccount::decode(&mut leaf.as_slice())
            .unwrap_or_else(|e| panic!("an accepted proof's leaf is no account: {e}"))
    });
    assert_eq!(
        account, accepted,
        "verify_proof accepted another account than the nodes hold"
    );
    if let Some(account) = account {
        assert_eq!(
            (
                account.nonce,
                account.balance,
                account.storage_root,
                account.code_hash
            ),
            (
                proof.nonce,
                proof.balance,
                proof.storage_hash,
                proof.code_hash
            ),
            "an accepted proof claims other fields than its leaf"
        );
    } else {
        assert!(
            proof.nonce == 0 && proof.balance.is_zero(),
            "absent, yet funded"
        );
    }
    let storage_root = account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
    for slot in &proof.storage_proof {
        let key = keccak256(slot.key.as_b256());
        let value = walk(&nodes, storage_root, key, &mut Vec::new())
            .unwrap_or_else(|e| panic!("an accepted slot proof does not reach its slot: {e}"))
            .map(|v| U256::decode(&mut v.as_slice()).expect("an accepted slot leaf decodes"))
            .unwrap_or_default();
        assert_eq!(
            value, slot.value,
            "an accepted slot proof claims another value"
        );
    }
}

fn checked_verify(root: B256, proof: &EIP1186AccountProofResponse) -> Option<Option<TrieAccount>> {
    let result = verify_proof(root, proof).ok()?;
    assert_sound(root, proof, result);
    Some(result)
}

/// Runs one case, panicking on any broken property.
pub fn check(case: &TrieCase) {
    match case {
        TrieCase::Raw {
            address: seed,
            nodes,
            claim,
            slots,
        } => {
            let Some(first) = nodes.first() else { return };
            let root = keccak256(first);
            let proof = EIP1186AccountProofResponse {
                address: address(*seed),
                balance: U256::from(claim.balance),
                nonce: u64::from(claim.nonce),
                code_hash: if claim.empty_code {
                    KECCAK_EMPTY
                } else {
                    B256::ZERO
                },
                storage_hash: if claim.empty_storage {
                    EMPTY_ROOT_HASH
                } else {
                    B256::ZERO
                },
                account_proof: nodes
                    .iter()
                    .take(16)
                    .map(|n| Bytes::copy_from_slice(n))
                    .collect(),
                storage_proof: slots
                    .iter()
                    .take(4)
                    .map(|(slot, value, proof)| EIP1186StorageProof {
                        key: B256::with_last_byte(*slot).into(),
                        value: U256::from(*value),
                        proof: proof
                            .iter()
                            .take(8)
                            .map(|n| Bytes::copy_from_slice(n))
                            .collect(),
                    })
                    .collect(),
            };
            checked_verify(root, &proof);
        }
        TrieCase::Built {
            accounts,
            changes,
            probe,
            slots,
            edits,
        } => built(accounts, changes, *probe, slots, edits),
    }
}

fn built(
    accounts: &[(u8, u8, u16, Vec<(u8, u8)>)],
    changes: &[Change],
    probe: u8,
    slots: &[u8],
    edits: &[Edit],
) {
    let mut model = Model::new();
    for (seed, nonce, balance, storage) in accounts.iter().take(24) {
        let storage = storage
            .iter()
            .take(8)
            .filter(|(_, v)| *v != 0)
            .map(|(s, v)| (U256::from(*s), U256::from(*v)))
            .collect();
        model.insert(
            address(*seed),
            (u64::from(*nonce), U256::from(*balance), storage),
        );
    }
    // The first round: every account written into an empty trie.
    let nodes = TrieNodes::default();
    let first: BTreeMap<Address, AccountChange> = model
        .iter()
        .map(|(address, (nonce, balance, storage))| {
            let change = AccountChange {
                after: Some((*nonce, *balance, KECCAK_EMPTY)),
                storage_wiped: false,
                storage: storage.clone(),
            };
            (*address, change)
        })
        .collect();
    let empty = StateTrie::new(nodes.clone(), EMPTY_ROOT_HASH);
    let root = post_state_root(&empty, &first)
        .expect("a trie built from empty needs no recorded node")
        .root;
    assert_eq!(
        root,
        root_of(&model),
        "the sparse trie's root is not alloy-trie's"
    );

    // Reads give back what was written.
    let trie = StateTrie::new(nodes.clone(), root);
    for (address, (nonce, balance, storage)) in &model {
        let account = trie.account(*address).expect("every node is recorded");
        let account = account.expect("written, so present");
        assert_eq!((account.nonce, account.balance), (*nonce, *balance));
        for (slot, value) in storage {
            let read = trie.storage(*address, account.storage_root, *slot);
            assert_eq!(read.expect("every node is recorded"), *value);
        }
    }

    // The second round: updates and deletions over the recorded trie.
    let mut after = model.clone();
    let mut second: BTreeMap<Address, AccountChange> = BTreeMap::new();
    for change in changes.iter().take(16) {
        match *change {
            Change::Balance(seed, balance) => {
                let entry = after.entry(address(seed)).or_default();
                entry.1 = U256::from(balance);
            }
            Change::Delete(seed) => {
                after.remove(&address(seed));
            }
            Change::Store(seed, slot, value) => {
                let entry = after.entry(address(seed)).or_default();
                if value == 0 {
                    entry.2.remove(&U256::from(slot));
                } else {
                    entry.2.insert(U256::from(slot), U256::from(value));
                }
            }
            Change::Wipe(seed) => {
                if let Some(entry) = after.get_mut(&address(seed)) {
                    entry.2.clear();
                }
                second.entry(address(seed)).or_default().storage_wiped = true;
            }
        }
        let seed = match *change {
            Change::Balance(s, _) | Change::Delete(s) | Change::Store(s, ..) | Change::Wipe(s) => s,
        };
        second.entry(address(seed)).or_default();
    }
    // Express the second round as changes: final fields, and every slot that differs.
    for (address, change) in &mut second {
        let before = model.get(address);
        match after.get(address) {
            None => *change = AccountChange::default(),
            Some((nonce, balance, storage)) => {
                change.after = Some((*nonce, *balance, KECCAK_EMPTY));
                // A deleted-then-recreated account starts with no storage.
                if before.is_some() && !change.storage_wiped {
                    for slot in before.map(|b| b.2.keys()).into_iter().flatten() {
                        if !storage.contains_key(slot) {
                            change.storage.insert(*slot, U256::ZERO);
                        }
                    }
                } else {
                    change.storage_wiped = true;
                }
                for (slot, value) in storage {
                    change.storage.insert(*slot, *value);
                }
            }
        }
    }
    let updated = post_state_root(&trie, &second).expect("every node of the trie is recorded");
    assert_eq!(
        updated.root,
        root_of(&after),
        "the updated root is not alloy-trie's"
    );

    // A genuine proof of one account (present or not) and a few slots.
    let store = all_nodes(&nodes, root, &model);
    let target = address(probe);
    let mut account_proof = Vec::new();
    let leaf = walk(&store, root, keccak256(target), &mut account_proof).expect("complete trie");
    let account = leaf.map(|l| TrieAccount::decode(&mut l.as_slice()).expect("an account"));
    let storage_root = account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
    let storage_proof = slots
        .iter()
        .take(4)
        .map(|slot| {
            let key = B256::with_last_byte(*slot);
            let mut proof = Vec::new();
            let value = walk(&store, storage_root, keccak256(key), &mut proof)
                .expect("complete trie")
                .map(|v| U256::decode(&mut v.as_slice()).expect("a slot value"))
                .unwrap_or_default();
            EIP1186StorageProof {
                key: key.into(),
                value,
                proof,
            }
        })
        .collect();
    let mut proof = EIP1186AccountProofResponse {
        address: target,
        balance: account.map_or(U256::ZERO, |a| a.balance),
        nonce: account.map_or(0, |a| a.nonce),
        code_hash: account.map_or(B256::ZERO, |a| a.code_hash),
        storage_hash: account.map_or(B256::ZERO, |a| a.storage_root),
        account_proof,
        storage_proof,
    };
    let genuine = checked_verify(root, &proof);
    assert_eq!(genuine, Some(account), "a genuine proof was rejected");

    // Tampered: whatever is still accepted must be sound.
    for edit in edits.iter().take(4) {
        tamper(&mut proof, edit);
    }
    checked_verify(root, &proof);
}

/// Every node of the trie rooted at `root`, gathered through the project's store by walking
/// to every account and slot of `model`.
fn all_nodes(nodes: &TrieNodes, root: B256, model: &Model) -> HashMap<B256, Bytes> {
    let mut store = HashMap::new();
    let mut pending = vec![root];
    while let Some(hash) = pending.pop() {
        if hash == EMPTY_ROOT_HASH || store.contains_key(&hash) {
            continue;
        }
        let Some(node) = nodes.node(hash) else {
            continue;
        };
        store.insert(hash, node.clone());
        collect_children(&node, &mut pending);
    }
    // Storage roots hang below account leaves: reach them through the model's accounts.
    let trie = StateTrie::new(nodes.clone(), root);
    for address in model.keys() {
        if let Ok(Some(account)) = trie.account(*address) {
            let mut pending = vec![account.storage_root];
            while let Some(hash) = pending.pop() {
                if hash == EMPTY_ROOT_HASH || store.contains_key(&hash) {
                    continue;
                }
                let Some(node) = nodes.node(hash) else {
                    continue;
                };
                store.insert(hash, node.clone());
                collect_children(&node, &mut pending);
            }
        }
    }
    store
}

/// Pushes the hashes a node refers to (inline children are walked in place).
fn collect_children(node: &[u8], pending: &mut Vec<B256>) {
    let Ok(decoded) = TrieNode::decode(&mut &node[..]) else {
        return;
    };
    let references: Vec<RlpNode> = match decoded {
        TrieNode::Branch(branch) => branch.stack,
        TrieNode::Extension(extension) => vec![extension.child],
        TrieNode::Leaf(_) | TrieNode::EmptyRoot => Vec::new(),
    };
    for reference in references {
        match reference.as_hash() {
            Some(hash) => pending.push(hash),
            None => collect_children(reference.as_ref(), pending),
        }
    }
}

fn tamper(proof: &mut EIP1186AccountProofResponse, edit: &Edit) {
    let nodes = &mut proof.account_proof;
    let pick = |len: usize, i: u8| usize::from(i).checked_rem(len);
    match edit {
        Edit::FlipByte { node, at, bits } => {
            if let Some(n) = pick(nodes.len(), *node) {
                let mut bytes = nodes[n].to_vec();
                if let Some(i) = usize::from(*at).checked_rem(bytes.len()) {
                    bytes[i] ^= bits.max(&1);
                }
                nodes[n] = bytes.into();
            }
        }
        Edit::DropNode(node) => {
            if let Some(n) = pick(nodes.len(), *node) {
                nodes.remove(n);
            }
        }
        Edit::Truncate { node, len } => {
            if let Some(n) = pick(nodes.len(), *node) {
                let keep = usize::from(*len) % (nodes[n].len() + 1);
                nodes[n] = nodes[n].slice(..keep);
            }
        }
        Edit::AddNode(bytes) => nodes.push(Bytes::copy_from_slice(bytes)),
        Edit::Reorder(a, b) => {
            if let (Some(a), Some(b)) = (pick(nodes.len(), *a), pick(nodes.len(), *b)) {
                nodes.swap(a, b);
            }
        }
        Edit::ClaimBalance(balance) => proof.balance = U256::from(*balance),
        Edit::ClaimNonce(nonce) => proof.nonce = u64::from(*nonce),
        Edit::ClaimStorageRoot(byte) => proof.storage_hash = B256::repeat_byte(*byte),
        Edit::ClaimCodeHash(byte) => proof.code_hash = B256::repeat_byte(*byte),
        Edit::ClaimSlot { slot, value } => {
            if let Some(n) = pick(proof.storage_proof.len(), *slot) {
                proof.storage_proof[n].value = U256::from(*value);
            }
        }
        Edit::SlotNodeFromAccount(i) => {
            if let (Some(n), Some(s)) = (pick(nodes.len(), *i), pick(proof.storage_proof.len(), *i))
            {
                let node = nodes[n].clone();
                proof.storage_proof[s].proof.push(node);
            }
        }
    }
}
