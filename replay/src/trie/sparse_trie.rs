//! One Merkle-Patricia trie over recorded nodes, read and updated in place: the nodes a read
//! or an update passes through are taken from the store as they are reached, so a recording
//! needs only the paths a block touches (plus the siblings a deletion exposes). Reaching a
//! node the recording lacks is an error naming it.
//!
//! Keys are the 32-byte hashes of the secure trie, so no branch node ever holds a value.

use super::node_store::TrieNodes;
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::{Decodable, EMPTY_STRING_CODE};
use alloy_trie::{
    EMPTY_ROOT_HASH, Nibbles, TrieMask,
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode, TrieNode},
};

/// Why a trie could not be read or updated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TrieError {
    /// The path runs through a node the recording lacks.
    #[error("trie node {0} is not recorded")]
    MissingNode(B256),
    /// A recorded node does not decode as a trie node.
    #[error("malformed trie node: {0}")]
    Malformed(String),
}

/// A node as the trie holds it while it is read and updated.
#[derive(Debug, Clone, Default)]
enum Node {
    /// No node (an empty trie, or an unused branch slot).
    #[default]
    Empty,
    /// The rest of a key, and its value.
    Leaf { key: Nibbles, value: Vec<u8> },
    /// A key fragment shared by everything below.
    Extension { key: Nibbles, child: Box<Self> },
    /// One child per next nibble.
    Branch { children: Box<[Self; 16]> },
    /// A node known by its hash only, not read from the store yet.
    Hash(B256),
}

/// A trie rooted at one hash over a node store.
#[derive(Debug)]
pub(crate) struct SparseTrie {
    nodes: TrieNodes,
    root: Node,
}

impl SparseTrie {
    /// The trie rooted at `root` over `nodes`; the root node itself must be recorded.
    pub(crate) fn open(nodes: &TrieNodes, root: B256) -> Result<Self, TrieError> {
        let root = if root == EMPTY_ROOT_HASH {
            Node::Empty
        } else {
            resolve(nodes, root)?
        };
        Ok(Self {
            nodes: nodes.clone(),
            root,
        })
    }

    /// The value under `hashed_key`, or `None` if the trie proves it absent.
    pub(crate) fn get(&self, hashed_key: B256) -> Result<Option<Vec<u8>>, TrieError> {
        get(&self.nodes, &self.root, Nibbles::unpack(hashed_key))
    }

    /// Sets the value under `hashed_key`.
    pub(crate) fn insert(&mut self, hashed_key: B256, value: Vec<u8>) -> Result<(), TrieError> {
        let root = std::mem::take(&mut self.root);
        self.root = insert(&self.nodes, root, Nibbles::unpack(hashed_key), value)?;
        Ok(())
    }

    /// Removes the value under `hashed_key`, if there is one, collapsing the branch nodes
    /// left with a single child.
    pub(crate) fn remove(&mut self, hashed_key: B256) -> Result<(), TrieError> {
        let root = std::mem::take(&mut self.root);
        self.root = remove(&self.nodes, root, Nibbles::unpack(hashed_key))?.0;
        Ok(())
    }

    /// The root hash. Every node of 32 bytes or more that the updates produced, and the
    /// root node, are added to the store, so the new trie can be read like a recorded one.
    pub(crate) fn root(&self) -> B256 {
        let mut created = Vec::new();
        let rlp = encode(&self.root, &mut created);
        let root = rlp.as_hash().unwrap_or_else(|| {
            let hash = keccak256(&rlp);
            created.push((hash, Bytes::copy_from_slice(&rlp)));
            hash
        });
        self.nodes.insert_hashed(created);
        root
    }
}

/// The recorded node with this hash, decoded.
fn resolve(nodes: &TrieNodes, hash: B256) -> Result<Node, TrieError> {
    let encoded = nodes.node(hash).ok_or(TrieError::MissingNode(hash))?;
    decode(&encoded)
}

fn decode(mut encoded: &[u8]) -> Result<Node, TrieError> {
    let node = TrieNode::decode(&mut encoded).map_err(|e| TrieError::Malformed(e.to_string()))?;
    Ok(match node {
        TrieNode::EmptyRoot => Node::Empty,
        TrieNode::Leaf(leaf) => Node::Leaf {
            key: leaf.key,
            value: leaf.value,
        },
        TrieNode::Extension(extension) => Node::Extension {
            key: extension.key,
            child: Box::new(reference(&extension.child)?),
        },
        TrieNode::Branch(branch) => {
            let mut children: Box<[Node; 16]> = Box::default();
            for (nibble, child) in branch.as_ref().children() {
                if let Some(child) = child {
                    children[usize::from(nibble)] = reference(child)?;
                }
            }
            Node::Branch { children }
        }
    })
}

/// A child as its parent refers to it: by hash, or inline when its encoding is short.
fn reference(child: &RlpNode) -> Result<Node, TrieError> {
    match child.as_hash() {
        Some(hash) => Ok(Node::Hash(hash)),
        None => decode(child),
    }
}

fn get(nodes: &TrieNodes, node: &Node, path: Nibbles) -> Result<Option<Vec<u8>>, TrieError> {
    match node {
        Node::Empty => Ok(None),
        Node::Leaf { key, value } => Ok((*key == path).then(|| value.clone())),
        Node::Extension { key, child } => {
            if path.starts_with(key) {
                get(nodes, child, path.slice(key.len()..))
            } else {
                Ok(None)
            }
        }
        Node::Branch { children } => match path.first() {
            Some(nibble) => get(nodes, &children[usize::from(nibble)], path.slice(1..)),
            None => Ok(None),
        },
        Node::Hash(hash) => get(nodes, &resolve(nodes, *hash)?, path),
    }
}

fn leaf(key: Nibbles, value: Vec<u8>) -> Node {
    Node::Leaf { key, value }
}

fn extension(key: Nibbles, child: Node) -> Node {
    Node::Extension {
        key,
        child: Box::new(child),
    }
}

fn insert(nodes: &TrieNodes, node: Node, path: Nibbles, value: Vec<u8>) -> Result<Node, TrieError> {
    Ok(match node {
        Node::Empty => leaf(path, value),
        Node::Leaf { key, value: old } => {
            let shared = path.common_prefix_length(&key);
            if shared == key.len() {
                return Ok(leaf(key, value));
            }
            let mut children: Box<[Node; 16]> = Box::default();
            children[usize::from(key.get_unchecked(shared))] = leaf(key.slice(shared + 1..), old);
            children[usize::from(path.get_unchecked(shared))] =
                leaf(path.slice(shared + 1..), value);
            let branch = Node::Branch { children };
            if shared == 0 {
                branch
            } else {
                extension(path.slice(..shared), branch)
            }
        }
        Node::Extension { key, child } => {
            let shared = path.common_prefix_length(&key);
            if shared == 0 {
                let mut children: Box<[Node; 16]> = Box::default();
                children[usize::from(key.get_unchecked(0))] = if key.len() == 1 {
                    *child
                } else {
                    Node::Extension {
                        key: key.slice(1..),
                        child,
                    }
                };
                return insert(nodes, Node::Branch { children }, path, value);
            }
            if shared == key.len() {
                return Ok(extension(
                    key,
                    insert(nodes, *child, path.slice(shared..), value)?,
                ));
            }
            let rest = Node::Extension {
                key: key.slice(shared..),
                child,
            };
            extension(
                key.slice(..shared),
                insert(nodes, rest, path.slice(shared..), value)?,
            )
        }
        Node::Branch { mut children } => {
            let slot = &mut children[usize::from(path.get_unchecked(0))];
            *slot = insert(nodes, std::mem::take(slot), path.slice(1..), value)?;
            Node::Branch { children }
        }
        Node::Hash(hash) => insert(nodes, resolve(nodes, hash)?, path, value)?,
    })
}

/// Removes `path` below `node`; says whether anything was removed.
fn remove(nodes: &TrieNodes, node: Node, path: Nibbles) -> Result<(Node, bool), TrieError> {
    let (node, removed) = match node {
        Node::Empty => (Node::Empty, false),
        Node::Leaf { key, value } => {
            if key == path {
                return Ok((Node::Empty, true));
            }
            (leaf(key, value), false)
        }
        Node::Branch { mut children } => {
            let slot = &mut children[usize::from(path.get_unchecked(0))];
            let (child, removed) = remove(nodes, std::mem::take(slot), path.slice(1..))?;
            *slot = child;
            (Node::Branch { children }, removed)
        }
        Node::Extension { key, child } => {
            if path.starts_with(&key) {
                let (child, removed) = remove(nodes, *child, path.slice(key.len()..))?;
                (extension(key, child), removed)
            } else {
                (Node::Extension { key, child }, false)
            }
        }
        Node::Hash(hash) => return remove(nodes, resolve(nodes, hash)?, path),
    };
    if removed {
        Ok((collapse(nodes, node)?, true))
    } else {
        Ok((node, false))
    }
}

/// Restores the trie's shape after a removal: a branch left with one child becomes an
/// extension towards it, and an extension merges with the extension or leaf below it.
fn collapse(nodes: &TrieNodes, node: Node) -> Result<Node, TrieError> {
    match node {
        Node::Branch { mut children } => {
            let mut used = children
                .iter()
                .enumerate()
                .filter(|(_, child)| !matches!(child, Node::Empty))
                .map(|(nibble, _)| nibble);
            match (used.next(), used.next()) {
                (Some(only), None) => {
                    let nibble = u8::try_from(only).expect("a nibble");
                    let child = std::mem::take(&mut children[only]);
                    collapse(nodes, extension(Nibbles::from_nibbles([nibble]), child))
                }
                _ => Ok(Node::Branch { children }),
            }
        }
        Node::Extension { key, child } => match *child {
            Node::Extension {
                key: below,
                child: grandchild,
            } => Ok(Node::Extension {
                key: key.join(&below),
                child: grandchild,
            }),
            Node::Leaf { key: below, value } => Ok(leaf(key.join(&below), value)),
            Node::Hash(hash) => collapse(nodes, extension(key, resolve(nodes, hash)?)),
            child => Ok(extension(key, child)),
        },
        other => Ok(other),
    }
}

/// RLP-encodes `node` as its parent refers to it, collecting every node that is referred to
/// by hash.
fn encode(node: &Node, created: &mut Vec<(B256, Bytes)>) -> RlpNode {
    let mut buf = Vec::new();
    let rlp = match node {
        Node::Hash(hash) => return RlpNode::word_rlp(hash),
        Node::Empty => {
            buf.push(EMPTY_STRING_CODE);
            RlpNode::from_rlp(&buf)
        }
        Node::Leaf { key, value } => LeafNodeRef::new(key, value).rlp(&mut buf),
        Node::Extension { key, child } => {
            let child = encode(child, created);
            ExtensionNodeRef::new(key, &child).rlp(&mut buf)
        }
        Node::Branch { children } => {
            let mut stack = Vec::new();
            let mut mask = TrieMask::default();
            for (nibble, child) in (0u8..).zip(children.iter()) {
                if !matches!(child, Node::Empty) {
                    stack.push(encode(child, created));
                    mask.set_bit(nibble);
                }
            }
            BranchNodeRef::new(&stack, mask).rlp(&mut buf)
        }
    };
    if let Some(hash) = rlp.as_hash() {
        created.push((hash, buf.into()));
    }
    rlp
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;
    use alloy_trie::root::storage_root_unhashed;
    use std::collections::BTreeMap;

    fn slot_key(slot: u64) -> B256 {
        keccak256(B256::from(U256::from(slot)))
    }

    /// Random-looking inserts and removals give the root a trie built from scratch over the
    /// surviving keys gives, and every surviving key reads back.
    #[test]
    fn updates_agree_with_a_trie_built_from_scratch() {
        let nodes = TrieNodes::default();
        let mut trie = SparseTrie::open(&nodes, EMPTY_ROOT_HASH).unwrap();
        let mut expected = BTreeMap::new();
        for step in 0u64..600 {
            let slot = (step * 7919) % 211;
            if step % 3 == 2 {
                trie.remove(slot_key(slot)).unwrap();
                expected.remove(&slot);
            } else {
                let value = U256::from(step + 1);
                trie.insert(slot_key(slot), alloy_rlp::encode(value))
                    .unwrap();
                expected.insert(slot, value);
            }
            if step % 50 == 49 {
                let want = storage_root_unhashed(
                    expected
                        .iter()
                        .map(|(slot, value)| (B256::from(U256::from(*slot)), *value)),
                );
                let root = trie.root();
                assert_eq!(root, want, "after step {step}");
                // Reopened from the store, the trie reads every key back.
                let reopened = SparseTrie::open(&nodes, root).unwrap();
                for (slot, value) in &expected {
                    assert_eq!(
                        reopened.get(slot_key(*slot)).unwrap(),
                        Some(alloy_rlp::encode(value))
                    );
                }
                assert_eq!(reopened.get(slot_key(1000)).unwrap(), None);
            }
        }
    }

    /// A key whose nibbles share long prefixes with the other keys drawn, so that inserts
    /// and removals split and merge branches, extensions and leaves at every depth.
    fn clustered_key(high: u8, middle: u8, low: u8) -> B256 {
        let mut key = B256::ZERO;
        key[0] = high * 0x11;
        key[1] = middle << 4;
        key[31] = low;
        key
    }

    proptest::proptest! {
        /// Any sequence of inserts and removals on clustered keys gives the root that
        /// alloy-trie's hash builder gives over the surviving entries, and every survivor
        /// reads back from a trie reopened at that root.
        #[test]
        fn any_updates_agree_with_the_hash_builder(
            ops in proptest::collection::vec(
                (proptest::bool::ANY, 0u8..4, 0u8..4, 0u8..6, 1u64..1_000),
                1..120,
            )
        ) {
            let nodes = TrieNodes::default();
            let mut trie = SparseTrie::open(&nodes, EMPTY_ROOT_HASH).unwrap();
            let mut expected = BTreeMap::new();
            for (insert, high, middle, low, value) in ops {
                let key = clustered_key(high, middle, low);
                if insert {
                    let value = alloy_rlp::encode(U256::from(value));
                    trie.insert(key, value.clone()).unwrap();
                    expected.insert(key, value);
                } else {
                    trie.remove(key).unwrap();
                    expected.remove(&key);
                }
            }
            let mut builder = alloy_trie::HashBuilder::default();
            for (key, value) in &expected {
                builder.add_leaf(Nibbles::unpack(key), value);
            }
            let root = trie.root();
            proptest::prop_assert_eq!(root, builder.root());
            let reopened = SparseTrie::open(&nodes, root).unwrap();
            for (key, value) in &expected {
                proptest::prop_assert_eq!(reopened.get(*key).unwrap(), Some(value.clone()));
            }
        }
    }

    /// A read through a node the store lacks names that node.
    #[test]
    fn missing_nodes_are_named() {
        let nodes = TrieNodes::default();
        let mut trie = SparseTrie::open(&nodes, EMPTY_ROOT_HASH).unwrap();
        for slot in 0..64 {
            trie.insert(slot_key(slot), vec![1]).unwrap();
        }
        let root = trie.root();
        let sparse = TrieNodes::default();
        sparse.insert_hashed([(root, nodes.node(root).unwrap())]);
        let error = SparseTrie::open(&sparse, root)
            .unwrap()
            .get(slot_key(3))
            .unwrap_err();
        assert!(matches!(error, TrieError::MissingNode(hash) if nodes.contains(hash)));
        assert_eq!(
            SparseTrie::open(&TrieNodes::default(), root).unwrap_err(),
            TrieError::MissingNode(root)
        );
    }
}
