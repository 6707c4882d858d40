//! Why a block was rejected, and whether that is the reason a fixture expects.

use std::fmt;

/// The family of a rejection, matched against the family of an expected exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// The block's bytes do not decode into a block of its fork.
    Decode,
    /// The block's parent is unknown.
    UnknownParent,
    /// A header field breaks a rule relative to the parent or the body.
    Header,
    /// A transaction is invalid in the block (nonce, funds, gas, type, blobs, ...).
    Transaction,
    /// Execution-layer requests or a system contract call are wrong.
    Requests,
    /// Executing the block gives results other than its header states.
    Result,
    /// The block's EIP-7928 access list is not the one its execution builds, or is malformed.
    AccessList,
    /// The executor under test produced something other than stock revm did; no fixture
    /// expects this.
    Divergence,
}

/// A rejected block: the family and what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// The family.
    pub family: Family,
    /// What was wrong.
    pub detail: String,
}

impl Rejection {
    /// A rejection of `family`.
    pub(crate) fn new(family: Family, detail: impl Into<String>) -> Self {
        Self {
            family,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.family, self.detail)
    }
}

/// How to treat a block a fixture expects to be rejected for `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expectation {
    /// Rejected for one of these families.
    RejectedAs(Vec<Family>),
    /// The reason is a check this harness does not make (difficulty, seal, ommers).
    OutOfScope(&'static str),
}

/// The families an expected exception (`A|B|...`) may be rejected as.
pub(crate) fn expectation(expected: &str) -> Expectation {
    let mut families = Vec::new();
    for name in expected.split('|').map(str::trim) {
        match family_of(name) {
            Ok(family) => families.push(family),
            Err(reason) => return Expectation::OutOfScope(reason),
        }
        // A block the fork rules make impossible to import may break them through its
        // header's values or through its header's very format.
        if name.contains("IMPORT_IMPOSSIBLE") {
            families.push(Family::Decode);
        }
    }
    families.dedup();
    Expectation::RejectedAs(families)
}

fn family_of(name: &str) -> Result<Family, &'static str> {
    let (kind, detail) = name.split_once('.').unwrap_or(("", name));
    if kind == "TransactionException" {
        return Ok(Family::Transaction);
    }
    Ok(match detail {
        "RLP_STRUCTURES_ENCODING" | "INCORRECT_BLOCK_FORMAT" | "RLP_INVALID_FIELD_OVERFLOW_64" => {
            Family::Decode
        }
        "UNKNOWN_PARENT" | "UNKNOWN_PARENT_ZERO" => Family::UnknownParent,
        "INVALID_REQUESTS"
        | "INVALID_DEPOSIT_EVENT_LAYOUT"
        | "SYSTEM_CONTRACT_CALL_FAILED"
        | "SYSTEM_CONTRACT_EMPTY"
        | "INVALID_WITHDRAWAL_REQUEST" => Family::Requests,
        "INVALID_BLOCK_ACCESS_LIST"
        | "INVALID_BAL_HASH"
        | "BLOCK_ACCESS_LIST_GAS_LIMIT_EXCEEDED" => Family::AccessList,
        "INVALID_STATE_ROOT"
        | "INVALID_RECEIPTS_ROOT"
        | "INVALID_LOG_BLOOM"
        | "INVALID_GAS_USED" => Family::Result,
        "INVALID_DIFFICULTY"
        | "UNCLE_PARENT_INCORRECT"
        | "INVALID_UNCLE_PARENT"
        | "UNCLE_IS_ANCESTOR"
        | "UNCLE_IN_CHAIN"
        | "UNCLE_IS_BROTHER"
        | "TOO_MANY_UNCLES"
        | "INVALID_POW"
        | "INVALID_NONCE" => {
            return Err("proof-of-work header checks (difficulty, seal, ommers) are out of scope");
        }
        "IMPORT_IMPOSSIBLE_PARIS_WRONG_POW" | "IMPORT_IMPOSSIBLE_LEGACY_WRONG_PARENT" => {
            return Err("proof-of-work header checks (difficulty, seal, ommers) are out of scope");
        }
        _ => Family::Header,
    })
}

/// Whether `rejection` is an acceptable rejection under `expectation`.
pub(crate) fn matches(expectation: &Expectation, rejection: &Rejection) -> bool {
    match expectation {
        Expectation::RejectedAs(families) => families.contains(&rejection.family),
        Expectation::OutOfScope(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_accept_any_named_family() {
        let e = expectation(
            "TransactionException.INSUFFICIENT_ACCOUNT_FUNDS|BlockException.INCORRECT_EXCESS_BLOB_GAS",
        );
        assert!(matches(&e, &Rejection::new(Family::Transaction, "")));
        assert!(matches(&e, &Rejection::new(Family::Header, "")));
        assert!(!matches(&e, &Rejection::new(Family::Decode, "")));
    }

    #[test]
    fn difficulty_checks_are_out_of_scope() {
        assert!(matches!(
            expectation("BlockException.INVALID_DIFFICULTY"),
            Expectation::OutOfScope(_)
        ));
    }
}
