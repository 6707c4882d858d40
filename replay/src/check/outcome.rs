//! The outcome of comparing one computed value with the block header.

use serde::Serialize;
use std::fmt;

/// One check against the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Computed value equals the header's.
    Ok,
    /// It does not; the text says what differs.
    Mismatch(String),
    /// The recorded data cannot support this check; the text says why.
    Skipped(String),
}

impl Check {
    /// `Ok` when `computed == expected`, else a mismatch naming both.
    pub fn compare<T: PartialEq + fmt::Display>(what: &str, computed: T, expected: T) -> Self {
        if computed == expected {
            Self::Ok
        } else {
            Self::Mismatch(format!(
                "{what}: computed {computed}, header has {expected}"
            ))
        }
    }

    /// Whether the check failed.
    pub const fn is_mismatch(&self) -> bool {
        matches!(self, Self::Mismatch(_))
    }

    /// The word reports use: `ok`, `mismatch` or `skipped`.
    pub const fn word(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Mismatch(_) => "mismatch",
            Self::Skipped(_) => "skipped",
        }
    }
}

impl Serialize for Check {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.word())
    }
}

/// Every check made on a block, in report order.
#[derive(Debug, Clone, Serialize)]
pub struct Checks {
    /// The transactions hash to the header's transactions root.
    pub transactions_root: Check,
    /// Gas used equals the header's.
    pub gas_used: Check,
    /// The receipts' blooms combine to the header's logs bloom.
    pub logs_bloom: Check,
    /// The receipts hash to the header's receipts root (Byzantium on).
    pub receipts_root: Check,
    /// The post-state hashes to the header's state root (proofs and witnesses).
    pub state_root: Check,
    /// The execution-layer requests hash to the header's requests hash (Prague on).
    pub requests_hash: Check,
    /// The EIP-7928 access list the execution built hashes to the header's
    /// `blockAccessListHash` (Amsterdam on).
    pub block_access_list: Check,
}

impl Checks {
    /// Every check with its name.
    pub fn named(&self) -> [(&'static str, &Check); 7] {
        [
            ("transactions_root", &self.transactions_root),
            ("gas_used", &self.gas_used),
            ("logs_bloom", &self.logs_bloom),
            ("receipts_root", &self.receipts_root),
            ("state_root", &self.state_root),
            ("requests_hash", &self.requests_hash),
            ("block_access_list", &self.block_access_list),
        ]
    }

    /// The failed checks, with what differs.
    pub fn mismatches(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.named()
            .into_iter()
            .filter_map(|(name, check)| match check {
                Check::Mismatch(detail) => Some((name, detail.as_str())),
                _ => None,
            })
    }
}
