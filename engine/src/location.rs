//! The unit of conflict detection: one piece of state a transaction can read or write.

use alloy_primitives::{Address, U256};

/// Position of a transaction in its block.
pub type TxIdx = usize;

/// The EIP-7928 block access index of transaction `index`: 0 is the pre-execution system
/// calls, so transaction `i` is `i + 1`.
pub(crate) const fn access_index(index: TxIdx) -> revm::state::bal::BlockAccessIndex {
    revm::state::bal::BlockAccessIndex(index as u64 + 1)
}

/// How many times a transaction has been re-executed (0 for its first execution).
pub(crate) type Incarnation = u32;

/// One execution of one transaction: its writes are identified by this pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Version {
    /// The transaction that wrote.
    pub(crate) tx: TxIdx,
    /// The incarnation of that transaction that wrote.
    pub(crate) incarnation: Incarnation,
}

/// A location in the multi-version memory, keyed by its full identity (never a lossy hash).
///
/// Balance and nonce share one location because revm loads and writes them together; code
/// lives apart so that paying a contract does not conflict with calling it, and every storage
/// slot is its own location so that two transactions touching different slots of one
/// contract never conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// Balance, nonce and existence of an account.
    Account(Address),
    /// Code of an account, and the last transaction that wiped its storage.
    Code(Address),
    /// One storage slot.
    Storage(Address, U256),
}

impl Location {
    /// The account this location belongs to.
    pub const fn address(&self) -> Address {
        match self {
            Self::Account(address) | Self::Code(address) | Self::Storage(address, _) => *address,
        }
    }
}

/// Hashes whole words instead of bytes: every read and write of every transaction hashes a
/// location at least twice (the versions map, the read cache), and a byte-wise hash of a
/// 20-byte address costs several times more. Equal locations hash equally, as `Eq` needs.
impl core::hash::Hash for Location {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        let (tag, address) = match self {
            Self::Account(address) => (0u64, address),
            Self::Code(address) => (1, address),
            Self::Storage(address, _) => (2, address),
        };
        let bytes: &[u8; 20] = &address.0.0;
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let tail = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
        state.write_u64(word(0));
        state.write_u64(word(8) ^ (u64::from(tail) << 2 | tag).rotate_left(31));
        if let Self::Storage(_, slot) = self {
            for limb in slot.as_limbs() {
                state.write_u64(*limb);
            }
        }
    }
}

impl core::fmt::Display for Location {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Account(address) => write!(f, "{address} balance/nonce"),
            Self::Code(address) => write!(f, "{address} code"),
            Self::Storage(address, slot) => write!(f, "{address} slot {slot:#x}"),
        }
    }
}
