//! Recorded Merkle-Patricia trie nodes, addressed by their hash: the account trie and every
//! storage trie of a recording in one store.

use alloy_primitives::{B256, Bytes, keccak256, map::B256Map};
use alloy_rlp::Decodable;
use alloy_trie::nodes::{ExtensionNode, LeafNode, TrieNode};
use std::sync::{Arc, RwLock};

/// Every trie node of a recording (account and storage tries alike), by hash. Clones share
/// one store: nodes a trie update creates become readable through every clone, which never
/// disturbs reads of other roots since nodes are addressed by hash.
#[derive(Debug, Clone, Default)]
pub struct TrieNodes(Arc<RwLock<B256Map<Bytes>>>);

impl TrieNodes {
    /// Adds RLP-encoded nodes, skipping empty entries (some recordings contain `0x`).
    pub fn extend<'a>(&mut self, nodes: impl IntoIterator<Item = &'a Bytes>) {
        let mut store = self.0.write().expect("trie node store poisoned");
        for node in nodes.into_iter().filter(|node| !node.is_empty()) {
            store.insert(keccak256(node), node.clone());
        }
    }

    /// Adds the nodes a deletion's collapse needs, derived from post-state nodes.
    ///
    /// When deleting a key leaves a branch node with one child, the branch collapses into
    /// that child, merging its key: the child must be read, yet recordings often hold only
    /// the merged result, which the post-state proofs show. For every post-state leaf and
    /// extension this adds the nodes it could have been merged from: the same node with one
    /// or more leading nibbles removed. Candidates that never were are harmless: nothing
    /// refers to their hashes.
    pub fn extend_with_collapse_sources<'a>(
        &mut self,
        post_nodes: impl IntoIterator<Item = &'a Bytes>,
    ) {
        for node in post_nodes {
            let Ok(decoded) = TrieNode::decode(&mut node.as_ref()) else {
                continue;
            };
            let sources: Vec<Vec<u8>> = match decoded {
                TrieNode::Leaf(leaf) => (1..=leaf.key.len())
                    .map(|strip| {
                        alloy_rlp::encode(LeafNode::new(
                            leaf.key.slice(strip..),
                            leaf.value.clone(),
                        ))
                    })
                    .collect(),
                TrieNode::Extension(extension) => (1..extension.key.len())
                    .map(|strip| {
                        alloy_rlp::encode(ExtensionNode::new(
                            extension.key.slice(strip..),
                            extension.child.clone(),
                        ))
                    })
                    .collect(),
                TrieNode::Branch(_) | TrieNode::EmptyRoot => continue,
            };
            let mut store = self.0.write().expect("trie node store poisoned");
            for source in sources {
                store.insert(keccak256(&source), source.into());
            }
        }
    }

    /// Adds nodes a trie update produced, already hashed.
    pub(crate) fn insert_hashed(&self, nodes: impl IntoIterator<Item = (B256, Bytes)>) {
        self.0
            .write()
            .expect("trie node store poisoned")
            .extend(nodes);
    }

    /// The RLP encoding of the node with this hash, if recorded.
    pub fn node(&self, hash: B256) -> Option<Bytes> {
        self.0
            .read()
            .expect("trie node store poisoned")
            .get(&hash)
            .cloned()
    }

    /// Whether a node with this hash is recorded.
    pub fn contains(&self, hash: B256) -> bool {
        self.0
            .read()
            .expect("trie node store poisoned")
            .contains_key(&hash)
    }
}
