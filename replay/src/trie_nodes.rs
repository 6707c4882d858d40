//! Recorded Merkle-Patricia trie nodes, addressed by their hash, and reading through them.

use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::Decodable;
use alloy_trie::{
    EMPTY_ROOT_HASH,
    nodes::{ExtensionNode, LeafNode, TrieNode},
};
use eth_trie::{DB, EthTrie, MemoryDB, Trie, TrieError};
use std::sync::Arc;

/// Every trie node of a recording (account and storage tries alike), by hash.
#[derive(Debug, Clone)]
pub struct TrieNodes(Arc<MemoryDB>);

impl Default for TrieNodes {
    fn default() -> Self {
        Self(Arc::new(MemoryDB::new(false)))
    }
}

impl TrieNodes {
    /// Adds RLP-encoded nodes, skipping empty entries (some recordings contain `0x`).
    pub fn extend<'a>(&mut self, nodes: impl IntoIterator<Item = &'a Bytes>) {
        for node in nodes.into_iter().filter(|node| !node.is_empty()) {
            self.0
                .insert(keccak256(node).as_slice(), node.to_vec())
                .expect("in-memory insert cannot fail");
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
            for source in sources {
                self.0
                    .insert(keccak256(&source).as_slice(), source)
                    .expect("in-memory insert cannot fail");
            }
        }
    }

    /// A trie rooted at `root` over these nodes. Modifying it adds nodes to the store, which
    /// never disturbs reads of other roots since nodes are addressed by hash.
    pub fn trie(&self, root: B256) -> Result<EthTrie<MemoryDB>, TrieError> {
        if root == EMPTY_ROOT_HASH {
            Ok(EthTrie::new(Arc::clone(&self.0)))
        } else {
            EthTrie::from(Arc::clone(&self.0), root)
        }
    }

    /// Reads the value under `key` (already hashed) in the trie rooted at `root`.
    pub fn get(&self, root: B256, hashed_key: B256) -> Result<Option<Vec<u8>>, TrieError> {
        self.trie(root)?.get(hashed_key.as_slice())
    }

    /// Whether a node with this hash is recorded.
    pub fn contains(&self, hash: B256) -> bool {
        matches!(self.0.get(hash.as_slice()), Ok(Some(_)))
    }
}
