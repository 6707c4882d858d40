//! The Block-STM machinery (Gelashvili et al., 2022), independent of Ethereum's rules.
//!
//! - [`mv_memory`]: the multi-version memory, one sorted list of versions per
//!   [`Location`](crate::Location), with [`increments`] (fees, busy-recipient payments) in
//!   per-transaction slots beside it;
//! - [`versioned_db`]: the database one speculative execution reads through, which records
//!   every read and where its value came from;
//! - [`worker`]: one thread's EVM, turning an execution into reads, a [`write_set`] and an
//!   [`outcome`];
//! - [`scheduler`]: the collaborative scheduler that hands out execution and validation
//!   tasks in transaction order;
//! - [`block_run`]: one block's shared state and the loop every worker runs;
//! - [`speculation`]: the monitor that stops a run whose speculation stops paying, so that
//!   the rest of the block runs in order.
//!
//! A conflict is detected in exactly two places: a read that meets an estimate (an earlier
//! transaction being re-executed) in [`MvMemory::read`], which stops the execution and parks
//! the transaction on the earlier one ([`Scheduler::add_dependency`](scheduler::Scheduler));
//! and a failed validation in [`MvMemory::validate_reads`], which aborts the incarnation and
//! turns its writes into estimates.

pub(crate) mod block_run;
pub(crate) mod increments;
pub(crate) mod lowest_writers;
pub(crate) mod mv_memory;
pub(crate) mod outcome;
pub(crate) mod scheduler;
pub(crate) mod speculation;
pub(crate) mod value;
pub(crate) mod versioned_db;
pub(crate) mod worker;
pub(crate) mod write_set;

pub(crate) use block_run::BlockRun;
pub(crate) use mv_memory::MvMemory;
pub(crate) use outcome::{BeneficiaryTouch, OutcomeSlot, TxOutcome};
pub(crate) use value::{AccountBasic, AccountCode};
pub(crate) use versioned_db::account_info;
