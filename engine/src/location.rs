//! The unit of conflict detection: one piece of state a transaction can read or write.

use alloy_primitives::{Address, U256};

/// Position of a transaction in its block.
pub type TxIdx = usize;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

impl core::fmt::Display for Location {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Account(address) => write!(f, "{address} balance/nonce"),
            Self::Code(address) => write!(f, "{address} code"),
            Self::Storage(address, slot) => write!(f, "{address} slot {slot:#x}"),
        }
    }
}
