//! What executing a block returns.

use crate::{
    location::{Location, TxIdx, access_index},
    state_diff::StateDiff,
};
use revm::{
    context_interface::result::ExecutionResult,
    state::{EvmState, bal::Bal},
};
use std::time::Duration;

/// One transaction's outcome: exactly what sequential revm returns for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutput {
    /// Success, revert or halt, with gas and logs.
    pub result: ExecutionResult,
    /// The accounts it loaded, with their changes (revm's per-transaction state).
    pub state: EvmState,
}

impl TxOutput {
    /// Adds what the transaction read and changed to `list` at EIP-7928 index `index + 1`
    /// (transaction `index`), with revm's own builder, as `State::with_bal_builder` does when
    /// the transaction is committed. Transactions are added in block order.
    pub fn add_to_access_list(&self, list: &mut Bal, index: TxIdx) {
        let at = access_index(index);
        for (address, account) in &self.state {
            list.update_account(at, *address, account);
        }
    }
}

/// The locations one transaction's final execution read and wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxAccess {
    /// Locations read (the beneficiary's balance is absent when only its fee was credited).
    pub reads: Vec<Location>,
    /// Locations written with a full value.
    pub writes: Vec<Location>,
    /// Account balances it added to without reading them: the beneficiary's fee, a payment
    /// to a busy recipient. Increments commute, so they never conflict with each other; a
    /// later transaction that reads the account depends on every one of them.
    pub increments: Vec<Location>,
}

/// How the block was executed; informational, and not part of the result's identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionStats {
    /// Worker threads used (1 for sequential execution).
    pub threads: usize,
    /// Whether the Block-STM path ran (false for the sequential path).
    pub parallel: bool,
    /// Whether the block ran from its EIP-7928 access list
    /// ([`ParallelExecutor::execute_with_access_list`](crate::ParallelExecutor::execute_with_access_list)):
    /// every transaction once, at once.
    pub from_access_list: bool,
    /// On the access-list path, the time of the in-order pass after the parallel one: the
    /// block gas rule, each transaction's validity, and building the transactions' list
    /// from their changes and comparing it with the list given.
    pub access_list_check: Duration,
    /// Transaction executions, including re-executions.
    pub executions: usize,
    /// Validations run. An execution that began with every transaction below it final
    /// (always, on one worker) needs none.
    pub validations: usize,
    /// Executions that stopped to wait for an earlier transaction.
    pub dependency_waits: usize,
    /// Set when the engine stopped speculating part-way (the dependency chains it found left
    /// too little parallelism): the transactions from this index on ran in order, on top
    /// of the validated results of those before it.
    pub in_order_from: Option<usize>,
    /// Why the engine stopped speculating, when it did: the window of transactions whose
    /// dependency chains left less than
    /// [`MIN_RUNTIME_PARALLELISM`](crate::MIN_RUNTIME_PARALLELISM), or most of whose
    /// transactions had to be executed again.
    pub switch_reason: Option<String>,
}

impl ExecutionStats {
    /// How the block ran: `"parallel"`, `"sequential"`, `"mixed"` (Block-STM, then in
    /// order from [`Self::in_order_from`]), or `"access_list"`.
    pub const fn path(&self) -> &'static str {
        if self.from_access_list {
            return "access_list";
        }
        match (self.parallel, self.in_order_from) {
            (false, _) => "sequential",
            (true, None) => "parallel",
            (true, Some(_)) => "mixed",
        }
    }
}

/// The result of executing a block's transactions.
#[derive(Clone, Debug)]
pub struct BlockOutput {
    /// Per-transaction outcomes, in block order.
    pub transactions: Vec<TxOutput>,
    /// Gas used by all transactions (the sum of their receipts' gas).
    pub gas_used: u64,
    /// Per-transaction read and write sets of the final executions: parallel path only, and
    /// only when asked for with [`ParallelExecutor::with_access_sets`](crate::ParallelExecutor::with_access_sets).
    pub access: Option<Vec<TxAccess>>,
    /// How the block was executed.
    pub stats: ExecutionStats,
}

impl BlockOutput {
    /// The transactions' part of the block's EIP-7928 access list (indices 1 to n), built
    /// from their outputs, with no second execution: the list revm's `State` builds for
    /// them. A client adds the entries of the system calls and withdrawals (indices 0 and
    /// n + 1), as its `State` does when the outputs are committed into it.
    pub fn access_list(&self) -> Bal {
        let mut list = Bal::new();
        for (index, tx) in self.transactions.iter().enumerate() {
            tx.add_to_access_list(&mut list, index);
        }
        list
    }

    /// The block's net state changes, merged from every transaction's (computed on demand:
    /// executors commit per-transaction states and rarely need it).
    pub fn state_diff(&self) -> StateDiff {
        let mut diff = StateDiff::default();
        for tx in &self.transactions {
            diff.apply(&tx.state);
        }
        diff
    }
}

impl PartialEq for BlockOutput {
    /// Two outputs are equal when their results are: how they were computed does not count.
    fn eq(&self, other: &Self) -> bool {
        self.transactions == other.transactions && self.gas_used == other.gas_used
    }
}
