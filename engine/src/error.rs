//! Errors that make a block unexecutable, each naming the transaction at fault.

use crate::location::TxIdx;
use revm::context_interface::result::{EVMError, InvalidHeader, InvalidTransaction};

/// Why one transaction could not be executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxFailure<E> {
    /// The transaction is invalid against the state it runs on (nonce, balance, gas, ...).
    #[error("invalid transaction: {0}")]
    InvalidTransaction(InvalidTransaction),
    /// The block environment is missing something the transaction needs.
    #[error("invalid block header: {0}")]
    InvalidHeader(InvalidHeader),
    /// The pre-state database failed.
    #[error("database error: {0}")]
    Database(E),
    /// revm failed in a way that is neither of the above (a fatal precompile error, or a
    /// panic inside revm).
    #[error("EVM failure: {0}")]
    Evm(String),
}

impl<E> TxFailure<E> {
    /// A panic inside revm (or inside the database under it), caught so that it fails the
    /// block instead of the process. The message starts `revm panicked`.
    pub(crate) fn from_panic(panic: &(dyn std::any::Any + Send)) -> Self {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Self::Evm(format!("revm panicked: {message}"))
    }

    /// Whether this is a caught panic ([`TxFailure::from_panic`]).
    pub(crate) fn is_panic(&self) -> bool {
        matches!(self, Self::Evm(message) if message.starts_with("revm panicked"))
    }

    /// Classifies an error returned by revm.
    pub fn from_evm_error<D>(error: EVMError<D>, database: impl FnOnce(D) -> Self) -> Self {
        match error {
            EVMError::Transaction(error) => Self::InvalidTransaction(error),
            EVMError::Header(error) => Self::InvalidHeader(error),
            EVMError::Database(error) => database(error),
            EVMError::Custom(message) => Self::Evm(message),
            EVMError::CustomAny(error) => Self::Evm(error.to_string()),
        }
    }
}

/// Why a block could not be executed. No partial result is returned with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionError<E> {
    /// A transaction failed.
    #[error("transaction {index}: {failure}")]
    Transaction {
        /// Position of the transaction in the block.
        index: TxIdx,
        /// What went wrong.
        failure: TxFailure<E>,
    },
    /// A transaction's gas limit exceeds the gas left in the block.
    #[error(
        "transaction {index}: gas limit {gas_limit} exceeds the {available} gas left in the block"
    )]
    BlockGasLimitExceeded {
        /// Position of the transaction in the block.
        index: TxIdx,
        /// The transaction's gas limit.
        gas_limit: u64,
        /// Block gas limit minus the gas used by the transactions before it.
        available: u64,
    },
    /// The pre-state database failed outside any transaction's execution.
    #[error("database error while {context}: {error}")]
    Database {
        /// What the engine was doing.
        context: String,
        /// The database's error.
        error: E,
    },
    /// The block's EIP-7928 access list is not what its transactions did (executing from a
    /// list): the block is invalid.
    #[error("block access list, index {index}: {detail}")]
    AccessList {
        /// The list index (transaction `index - 1`) of the first disagreement.
        index: u64,
        /// The account, the field or slot, and the two values.
        detail: String,
    },
    /// The worker threads could not be started.
    #[error("thread pool: {0}")]
    ThreadPool(String),
}

impl<E> ExecutionError<E> {
    /// The index of the transaction at fault, if one is.
    pub const fn transaction_index(&self) -> Option<TxIdx> {
        match self {
            Self::Transaction { index, .. } | Self::BlockGasLimitExceeded { index, .. } => {
                Some(*index)
            }
            Self::AccessList { index, .. } => (*index as TxIdx).checked_sub(1),
            Self::Database { .. } | Self::ThreadPool(_) => None,
        }
    }
}
