//! Ethereum's rules, behind one seam: everything in the engine that depends on what a fork
//! says rather than on how Block-STM works.
//!
//! - [`beneficiary_fee`]: the fee a transaction owes the beneficiary (the London rule), and
//!   revm's handler with that credit deferred when the transaction did not read it;
//! - [`busy_recipient`]: which payments may be increments, by fork (EIP-161 to Osaka);
//! - [`account_effect`] and [`credited_account`]: what committing an account does under
//!   EIP-161, and the entry revm's journal builds for a credited account;
//! - [`block_gas`]: the block gas limit rule;
//! - [`known_dependencies`]: the dependencies a block's senders and payments reveal before
//!   execution (nonce chains, payer-to-sender chains, busy recipients);
//! - [`evm`]: the mainnet EVM every path executes with.

pub(crate) mod account_effect;
pub(crate) mod beneficiary_fee;
pub(crate) mod block_gas;
pub(crate) mod busy_recipient;
pub(crate) mod credited_account;
pub(crate) mod evm;

pub use evm::warm_up;
pub(crate) mod known_dependencies;
