//! When the parallel path is used: the policy, what it decides for a block before it runs
//! ([`Plan`]), and when a run stops speculating. Kept apart from the executor so that a
//! block can be planned on a worker thread (the streaming path plans in the background).

use crate::{
    blockstm::{
        BlockRun, MvMemory,
        speculation::{SpeculationMonitor, StopRule},
    },
    chain::known_dependencies::{AddressScratch, KnownDependencies},
};
use revm::context::{BlockEnv, TxEnv};

/// Blocks with fewer transactions than this run sequentially under [`ExecutionPolicy::Auto`]:
/// with so little work, starting the workers costs more than it saves.
pub const MIN_PARALLEL_TXS: usize = 4;

/// Blocks whose transactions' gas limits add up to less than this run sequentially under
/// [`ExecutionPolicy::Auto`]: waking the workers and assembling the output cost about
/// 100 µs, as much as such a block takes to execute (on the recorded mainnet blocks, most
/// blocks below this ran slower in parallel at 2 threads; see BENCHMARKS.md).
pub const MIN_PARALLEL_GAS: u64 = 8_000_000;

/// Blocks whose known dependencies (chains of transactions from one sender, or sent by an
/// account an earlier transaction paid) leave less parallelism than this run sequentially
/// under [`ExecutionPolicy::Auto`]. Parallelism is the block's total gas limit over that of
/// its heaviest chain. On the recorded mainnet blocks every block below 1.5 ran slower in
/// parallel than sequentially at 2 threads (see BENCHMARKS.md).
pub const MIN_PARALLELISM: f64 = 1.5;

/// Blocks whose transactions' mean gas limit is below this (plain transfers) run
/// sequentially under [`ExecutionPolicy::Auto`] on fewer than [`CHEAP_TXS_MIN_THREADS`]
/// threads: the engine's bookkeeping costs about as much as such a transaction (1.8x
/// sequential's time at one thread on gigagas blocks of transfers), which two threads do not
/// make up for (0.76-0.92x at 2 threads; see BENCHMARKS.md).
pub const CHEAP_TX_GAS: u64 = 30_000;

/// From this many threads on, blocks of cheap transactions run in parallel under
/// [`ExecutionPolicy::Auto`]: the 1.8x cost of the bookkeeping is then outweighed.
pub const CHEAP_TXS_MIN_THREADS: usize = 4;

/// Under [`ExecutionPolicy::Auto`], a parallel run stops speculating when a window of
/// consecutive transactions shows less parallelism than this in the dependencies found while
/// it runs (its gas over the gas of its heaviest chain of reads of earlier writes), and the
/// rest of the block runs in order.
pub const MIN_RUNTIME_PARALLELISM: f64 = 1.75;

/// Worker threads per CPU for a state whose reads are slow ([`StateReads::Slow`]): while
/// most workers sleep on a read, a few more than the cores keep the cores busy. Measured at
/// 50 µs per cold read on a 2-core machine (BENCHMARKS.md, "A slow database").
pub const SLOW_READS_THREADS_PER_CPU: usize = 8;

/// What reading the pre-state costs the executor, as the client knows it: the
/// [`ExecutionPolicy::Auto`] rules that weigh the engine's bookkeeping against the
/// transactions' own work hold only where reads are cheap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StateReads {
    /// The state is in memory (or a cache holds everything the block reads): execution is
    /// bound by the CPUs, and the engine's bookkeeping is weighed against it.
    #[default]
    InMemory,
    /// A cold read waits on a disk or a remote service (tens of microseconds or more).
    /// Running transactions at once overlaps their reads, which pays even where the
    /// bookkeeping alone would not: [`ExecutionPolicy::Auto`] drops the rules that weigh it
    /// against the work ([`MIN_PARALLEL_GAS`], [`CHEAP_TX_GAS`]) and the one that stops a
    /// run after a wave of re-executions (the first execution fetched what the second
    /// reads), and keeps those about dependencies (known chains, and the chains found while
    /// a block runs), which no overlap of reads makes parallel.
    Slow,
}

impl StateReads {
    /// A sensible worker count on this machine: one per CPU for a state in memory;
    /// [`SLOW_READS_THREADS_PER_CPU`] per CPU for slow reads.
    pub fn default_threads(self) -> std::num::NonZeroUsize {
        let cpus = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
        match self {
            Self::InMemory => cpus,
            Self::Slow => cpus.saturating_mul(
                std::num::NonZeroUsize::new(SLOW_READS_THREADS_PER_CPU)
                    .unwrap_or(std::num::NonZeroUsize::MIN),
            ),
        }
    }
}

/// When to use the parallel path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExecutionPolicy {
    /// Decide per block, before and while it runs: sequential for one thread, fewer than
    /// [`MIN_PARALLEL_TXS`] transactions, less than [`MIN_PARALLEL_GAS`] of gas limit,
    /// known dependencies leaving less than [`MIN_PARALLELISM`], or cheap transactions
    /// ([`CHEAP_TX_GAS`]) on few threads; otherwise Block-STM, which switches to running the
    /// rest of the block in order when the dependencies it finds leave less than
    /// [`MIN_RUNTIME_PARALLELISM`].
    #[default]
    Auto,
    /// Always run Block-STM to the end, even for one transaction or one thread (for
    /// testing and for measuring it).
    AlwaysParallel,
    /// Always run plain sequential revm.
    AlwaysSequential,
    /// Run Block-STM until this many executions have finished, then the rest of the block in
    /// order from the validated prefix: the switch [`Self::Auto`] makes when speculation stops
    /// paying, at a chosen point (for testing it).
    SwitchToInOrderAfter(usize),
}

/// What a policy decides for a block before it runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Plan {
    /// Plain sequential revm, for this reason.
    Sequential(SequentialBecause),
    /// Block-STM.
    Parallel {
        /// Total gas limit over that of the heaviest known chain (same sender, or sent by
        /// an account an earlier transaction paid).
        known_parallelism: f64,
        /// Whether the run may stop speculating and finish in order.
        watched: bool,
    },
}

/// Why a block runs sequentially.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SequentialBecause {
    /// The policy says so.
    Policy,
    /// One thread has nothing to share.
    OneThread,
    /// Fewer transactions than [`MIN_PARALLEL_TXS`].
    FewTransactions(usize),
    /// Less total gas limit than [`MIN_PARALLEL_GAS`].
    LittleGas(u64),
    /// Known dependency chains leave less than [`MIN_PARALLELISM`].
    KnownChains(f64),
    /// A mean gas limit per transaction below [`CHEAP_TX_GAS`] on few threads.
    CheapTransactions(u64),
}

impl Plan {
    /// Whether Block-STM runs.
    pub const fn is_parallel(&self) -> bool {
        matches!(self, Self::Parallel { .. })
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Parallel {
                known_parallelism,
                watched,
            } => {
                write!(
                    f,
                    "parallel: known dependencies leave a parallelism of {known_parallelism:.2}"
                )?;
                if *watched {
                    write!(
                        f,
                        "; finishes in order if the chains found while running leave less than {MIN_RUNTIME_PARALLELISM}"
                    )?;
                }
                Ok(())
            }
            Self::Sequential(because) => {
                write!(f, "sequential: ")?;
                match because {
                    SequentialBecause::Policy => write!(f, "the policy says so"),
                    SequentialBecause::OneThread => write!(f, "one thread"),
                    SequentialBecause::FewTransactions(n) => {
                        write!(f, "{n} transactions, fewer than {MIN_PARALLEL_TXS}")
                    }
                    SequentialBecause::LittleGas(gas) => {
                        write!(f, "total gas limit {gas}, less than {MIN_PARALLEL_GAS}")
                    }
                    SequentialBecause::KnownChains(p) => write!(
                        f,
                        "known dependency chains leave a parallelism of {p:.2}, less than {MIN_PARALLELISM}"
                    ),
                    SequentialBecause::CheapTransactions(mean) => write!(
                        f,
                        "mean gas limit {mean} per transaction, below {CHEAP_TX_GAS}, on fewer than {CHEAP_TXS_MIN_THREADS} threads"
                    ),
                }
            }
        }
    }
}

/// A policy with the thread count it runs at: everything planning a block needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Planner {
    pub(crate) policy: ExecutionPolicy,
    pub(crate) threads: usize,
    pub(crate) reads: StateReads,
}

impl Planner {
    /// The plan for `txs`, with their known dependencies when they take the parallel path
    /// (`scratch` is the known-dependency pass's map, reused from block to block).
    pub(crate) fn plan(
        &self,
        txs: &[TxEnv],
        scratch: &mut AddressScratch,
    ) -> (Plan, Option<KnownDependencies>) {
        let mut known = || KnownDependencies::of_reusing(txs, scratch);
        let parallel = |known: KnownDependencies, watched: bool| {
            let plan = Plan::Parallel {
                known_parallelism: known.parallelism(),
                watched,
            };
            (plan, Some(known))
        };
        let sequential = |because| (Plan::Sequential(because), None);
        match self.policy {
            ExecutionPolicy::AlwaysSequential => sequential(SequentialBecause::Policy),
            ExecutionPolicy::AlwaysParallel => parallel(known(), false),
            ExecutionPolicy::SwitchToInOrderAfter(_) => parallel(known(), true),
            ExecutionPolicy::Auto => {
                // Gas limits first: they cost a pass over the block, not a map per sender.
                let total_gas = txs
                    .iter()
                    .fold(0u64, |sum, tx| sum.saturating_add(tx.gas_limit));
                if let Some(because) = self.sequential_by_size(txs.len(), total_gas) {
                    return sequential(because);
                }
                let known = known();
                if known.parallelism() < MIN_PARALLELISM {
                    return sequential(SequentialBecause::KnownChains(known.parallelism()));
                }
                parallel(known, SpeculationMonitor::watches(txs.len()))
            }
        }
    }

    /// Why the policy runs a block of `transactions` whose gas limits add up to
    /// `total_gas_limit` sequentially whatever its dependencies, if it does.
    pub(crate) const fn sequential_by_size(
        &self,
        transactions: usize,
        total_gas_limit: u64,
    ) -> Option<SequentialBecause> {
        match self.policy {
            ExecutionPolicy::AlwaysSequential => Some(SequentialBecause::Policy),
            ExecutionPolicy::AlwaysParallel | ExecutionPolicy::SwitchToInOrderAfter(_) => None,
            ExecutionPolicy::Auto => {
                if self.threads == 1 {
                    return Some(SequentialBecause::OneThread);
                }
                if transactions < MIN_PARALLEL_TXS {
                    return Some(SequentialBecause::FewTransactions(transactions));
                }
                if matches!(self.reads, StateReads::Slow) {
                    return None;
                }
                if total_gas_limit < MIN_PARALLEL_GAS {
                    return Some(SequentialBecause::LittleGas(total_gas_limit));
                }
                let mean_gas = total_gas_limit / transactions as u64;
                if mean_gas < CHEAP_TX_GAS && self.threads < CHEAP_TXS_MIN_THREADS {
                    return Some(SequentialBecause::CheapTransactions(mean_gas));
                }
                None
            }
        }
    }

    /// When a parallel run stops speculating.
    const fn stop_rule(&self) -> StopRule {
        match self.policy {
            ExecutionPolicy::Auto => StopRule::BelowParallelism {
                threshold: MIN_RUNTIME_PARALLELISM,
                re_executions: matches!(self.reads, StateReads::InMemory),
            },
            ExecutionPolicy::SwitchToInOrderAfter(executions) => {
                StopRule::AfterExecutions(executions)
            }
            ExecutionPolicy::AlwaysParallel | ExecutionPolicy::AlwaysSequential => StopRule::Never,
        }
    }

    /// A fresh run of `txs`, on `spare`, the memory of an earlier block, when there is one.
    pub(crate) fn new_run<E>(
        &self,
        spare: Option<MvMemory>,
        block: &BlockEnv,
        txs: &[TxEnv],
        known: &KnownDependencies,
    ) -> BlockRun<E> {
        let memory = match spare {
            Some(mut memory) => {
                memory.reset(txs.len(), block.beneficiary, &known.busy_recipients);
                memory
            }
            None => MvMemory::new(txs.len(), block.beneficiary, &known.busy_recipients),
        };
        let monitor = SpeculationMonitor::new(self.stop_rule(), txs.len());
        let run = BlockRun::new(memory, txs.len(), self.threads, monitor);
        run.memory.seed_known_dependencies(known, txs);
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    /// `count` plain transfers, from `sender(i)`.
    fn transfers(count: usize, sender: impl Fn(usize) -> u64) -> Vec<TxEnv> {
        (0..count)
            .map(|i| TxEnv {
                caller: Address::left_padding_from(&sender(i).to_be_bytes()),
                gas_limit: 21_000,
                ..TxEnv::default()
            })
            .collect()
    }

    fn plan(reads: StateReads, txs: &[TxEnv]) -> Plan {
        let planner = Planner {
            policy: ExecutionPolicy::Auto,
            threads: 2,
            reads,
        };
        planner.plan(txs, &mut AddressScratch::default()).0
    }

    #[test]
    fn slow_reads_drop_the_cost_rules_and_keep_the_dependency_rules() {
        // 100 independent transfers: too little gas, and too cheap, for 2 threads in memory;
        // worth overlapping their reads on a slow database.
        let independent = transfers(100, |i| i as u64);
        assert!(matches!(
            plan(StateReads::InMemory, &independent),
            Plan::Sequential(SequentialBecause::LittleGas(_))
        ));
        assert!(plan(StateReads::Slow, &independent).is_parallel());
        // One sender's chain has nothing to overlap.
        let chain = transfers(100, |_| 7);
        assert!(matches!(
            plan(StateReads::Slow, &chain),
            Plan::Sequential(SequentialBecause::KnownChains(_))
        ));
        assert!(matches!(
            plan(StateReads::Slow, &independent[..3]),
            Plan::Sequential(SequentialBecause::FewTransactions(3))
        ));
    }

    #[test]
    fn only_cheap_reads_stop_speculation_after_a_wave_of_re_executions() {
        let rule = |reads| {
            Planner {
                policy: ExecutionPolicy::Auto,
                threads: 2,
                reads,
            }
            .stop_rule()
        };
        assert!(matches!(
            rule(StateReads::InMemory),
            StopRule::BelowParallelism {
                re_executions: true,
                ..
            }
        ));
        assert!(matches!(
            rule(StateReads::Slow),
            StopRule::BelowParallelism {
                re_executions: false,
                ..
            }
        ));
    }

    #[test]
    fn slow_reads_get_more_workers_than_cpus() {
        let cpus = StateReads::InMemory.default_threads().get();
        assert_eq!(
            StateReads::Slow.default_threads().get(),
            cpus * SLOW_READS_THREADS_PER_CPU
        );
    }
}
