//! Watching a speculative run for the point where speculation stops paying.
//!
//! Block-STM gains nothing on a chain of dependent transactions: each one waits for, or is
//! re-executed after, the one before, and the bookkeeping makes the block slower than plain
//! revm. The pre-execution rules see only the chains that senders and values reveal; chains
//! through storage (one hot slot, a counter) show only while the block runs.
//!
//! The monitor measures the dependency depth the run has found. The block is cut into
//! windows of consecutive transactions. Every execution notes, for its transaction, the
//! heaviest chain of reads within its window that ends in it (by gas limit: what each
//! transaction may cost), taken from the origins of its reads. When the last transaction of a
//! window first finishes, the window's parallelism is its gas over its heaviest chain; below
//! the threshold, the run stops and the executor runs the rest of the block in order from the
//! committed prefix (see [`BlockRun::committed_prefix`](super::BlockRun::committed_prefix)).
//! The run also stops when most transactions of one window had to be executed again.
//!
//! Windows (rather than the whole block so far) let a chain that starts half-way through a
//! block show as soon as it starts. The first window is the shortest one allowed: on a long
//! block that is one chain from the start, everything speculated before the first judgment
//! is wasted (512 transactions of a gigagas block of ERC-20 transfers on one hot slot cost
//! about 3% of the block's time), while the later, longer windows judge the rest of the
//! block on more transactions. Transactions that only read the output of one slow
//! transaction (all speculating on the old value, then re-executed once) are not a chain:
//! they depend on that one transaction, not on each other, and the run goes on. The decision
//! only chooses how the exact result is computed, never what it is.

use super::mv_memory::ReadOrigin;
use crate::location::{Location, TxIdx, Version};
use revm::context::TxEnv;
use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
};

/// When a speculative run gives up and lets the rest of the block run in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum StopRule {
    /// Never: run Block-STM to the end.
    Never,
    /// When a window of transactions shows less parallelism than this, or, with
    /// `re_executions`, when most of a window had to be executed again.
    BelowParallelism {
        /// The least parallelism a window may show.
        threshold: f64,
        /// Whether a wave of re-executions stops the run too. Not with slow state reads:
        /// the first execution fetched what the second reads, so re-executing costs little
        /// next to the reads it overlapped.
        re_executions: bool,
    },
    /// Once this many executions have finished (for testing the switch).
    AfterExecutions(usize),
}

/// The monitor of one block's run.
#[derive(Debug)]
pub(crate) struct SpeculationMonitor {
    rule: StopRule,
    /// Transactions in the first window.
    first_window: usize,
    /// Transactions in each later window.
    window: usize,
    /// Per transaction, the gas of the heaviest chain within its window ending in it.
    chain_gas: Box<[AtomicU64]>,
    /// Per window, whether its parallelism has been judged.
    judged: Box<[AtomicBool]>,
    /// Per window, the executions of its transactions after their first.
    re_executions: Box<[AtomicU32]>,
    finished: AtomicUsize,
    stop: AtomicBool,
    /// Why the run stopped.
    reason: Mutex<Option<String>>,
}

impl SpeculationMonitor {
    /// Fewest transactions in a window: fewer would judge a block on a handful of them (on
    /// mainnet blocks, windows of 32 often held a short run of swaps on one pool, and
    /// stopping there cost more than the run lost).
    const MIN_WINDOW: usize = 128;
    /// Blocks with fewer windows than this are not watched: a block that small is over
    /// soon after its first window is judged, and switching costs a fixed 0.1-0.2 ms
    /// (waking the pool to check the prefix, assembling it, starting revm again).
    const MIN_WINDOWS: usize = 4;
    /// Most transactions in a window: a long block is judged within its first few percent.
    const MAX_WINDOW: usize = 512;

    fn window(block_size: usize) -> usize {
        (block_size / 8).clamp(Self::MIN_WINDOW, Self::MAX_WINDOW)
    }

    /// Whether a block of `block_size` transactions is long enough to be watched.
    pub(crate) fn watches(block_size: usize) -> bool {
        block_size >= Self::MIN_WINDOWS * Self::window(block_size)
    }

    pub(crate) fn new(rule: StopRule, block_size: usize) -> Self {
        let window = Self::window(block_size);
        let rule = match rule {
            StopRule::BelowParallelism { .. } if !Self::watches(block_size) => StopRule::Never,
            rule => rule,
        };
        let watching = matches!(rule, StopRule::BelowParallelism { .. });
        let first_window = Self::MIN_WINDOW.min(window);
        let (chains, windows) = if watching {
            let later = block_size.saturating_sub(first_window).div_ceil(window);
            (block_size, 1 + later)
        } else {
            (0, 0)
        };
        Self {
            rule,
            first_window,
            window,
            chain_gas: (0..chains).map(|_| AtomicU64::new(0)).collect(),
            judged: (0..windows).map(|_| AtomicBool::new(false)).collect(),
            re_executions: (0..windows).map(|_| AtomicU32::new(0)).collect(),
            finished: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            reason: Mutex::new(None),
        }
    }

    fn stop_because(&self, reason: impl FnOnce() -> String) {
        if !self.stop.swap(true, Ordering::Relaxed) {
            *self.reason.lock().expect("reason lock poisoned") = Some(reason());
        }
    }

    /// Stops the run for a reason outside it (its consumer went away).
    pub(crate) fn cancel(&self) {
        self.stop_because(|| "the run was cancelled".to_owned());
    }

    /// Whether the run is watched for a point to stop.
    pub(crate) const fn watching(&self) -> bool {
        matches!(self.rule, StopRule::BelowParallelism { .. })
    }

    /// Whether the run should stop taking tasks.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Why the run stopped, if it did, leaving it in place.
    pub(crate) fn reason(&self) -> Option<String> {
        self.reason.lock().expect("reason lock poisoned").clone()
    }

    /// Why the run stopped, if it did.
    pub(crate) fn take_reason(&self) -> Option<String> {
        self.reason.lock().expect("reason lock poisoned").take()
    }

    /// Notes a finished execution of `version` that read `reads`.
    pub(crate) fn note(&self, version: Version, reads: &[(Location, ReadOrigin)], txs: &[TxEnv]) {
        match self.rule {
            StopRule::Never => {}
            StopRule::AfterExecutions(limit) => {
                if self.finished.fetch_add(1, Ordering::Relaxed) + 1 >= limit {
                    self.stop_because(|| format!("asked to stop after {limit} executions"));
                }
            }
            StopRule::BelowParallelism {
                threshold,
                re_executions,
            } => {
                self.note_chain(version.tx, reads, txs);
                if re_executions && version.incarnation > 0 {
                    self.count_re_execution(version.tx);
                }
                self.judge_window_ending_at(version.tx, txs, threshold);
            }
        }
    }

    /// The window that holds `tx`.
    const fn window_of(&self, tx: TxIdx) -> usize {
        if tx < self.first_window {
            0
        } else {
            1 + (tx - self.first_window) / self.window
        }
    }

    /// The transactions of window `window`, past the block's end for its last one.
    const fn window_span(&self, window: usize) -> std::ops::Range<TxIdx> {
        if window == 0 {
            0..self.first_window
        } else {
            let start = self.first_window + (window - 1) * self.window;
            start..start + self.window
        }
    }

    fn note_chain(&self, tx: TxIdx, reads: &[(Location, ReadOrigin)], txs: &[TxEnv]) {
        let window_start = self.window_span(self.window_of(tx)).start;
        let in_window = |origin: &Version| {
            (window_start..tx)
                .contains(&origin.tx)
                .then(|| self.chain_gas[origin.tx].load(Ordering::Relaxed))
        };
        let mut heaviest_before = 0;
        for (_, origin) in reads {
            let gas = match origin {
                ReadOrigin::Base => None,
                ReadOrigin::Version(version) => in_window(version),
                ReadOrigin::Chain(versions) => versions.iter().filter_map(in_window).max(),
            };
            heaviest_before = heaviest_before.max(gas.unwrap_or(0));
        }
        self.chain_gas[tx].store(heaviest_before + txs[tx].gas_limit, Ordering::Relaxed);
    }

    /// Stops the run once most transactions of one window have been executed again: their
    /// speculation was wasted, and a later window is likely to waste as much. A chain
    /// shows first in the window's parallelism; this catches a wave of invalidations, as
    /// when many cheap transactions speculated on a value that one slow transaction wrote
    /// at last, and would all be re-executed with the engine's bookkeeping.
    fn count_re_execution(&self, tx: TxIdx) {
        let window = self.window_of(tx);
        let span = self.window_span(window);
        let count = self.re_executions[window].fetch_add(1, Ordering::Relaxed) + 1;
        if 2 * count as usize > span.len() {
            self.stop_because(|| {
                format!(
                    "{count} re-executions among transactions {}..{}",
                    span.start, span.end
                )
            });
        }
    }

    fn judge_window_ending_at(&self, tx: TxIdx, txs: &[TxEnv], threshold: f64) {
        let window = self.window_of(tx);
        let span = self.window_span(window);
        let (start, end) = (span.start, span.end.min(txs.len()));
        // A short last window says little; the run is nearly over anyway.
        if tx + 1 != end
            || end - start < span.len()
            || self.judged[window].swap(true, Ordering::Relaxed)
        {
            return;
        }
        let gas: u64 = txs[start..end].iter().map(|tx| tx.gas_limit).sum();
        let heaviest = self.chain_gas[start..end]
            .iter()
            .map(|chain| chain.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        if heaviest == 0 {
            return;
        }
        let parallelism = gas as f64 / heaviest as f64;
        if parallelism < threshold {
            self.stop_because(|| {
                format!(
                    "transactions {start}..{end} showed a parallelism of {parallelism:.2}, below {threshold}"
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    fn rule() -> StopRule {
        StopRule::BelowParallelism {
            threshold: 1.75,
            re_executions: true,
        }
    }

    fn txs(count: usize) -> Vec<TxEnv> {
        (0..count)
            .map(|_| TxEnv {
                gas_limit: 50_000,
                ..Default::default()
            })
            .collect()
    }

    /// Notes first executions of `range`, each reading the write of the one before it.
    fn note_chain(monitor: &SpeculationMonitor, range: std::ops::Range<TxIdx>, txs: &[TxEnv]) {
        let slot = Location::Account(Address::repeat_byte(1));
        for tx in range {
            let origin = match tx.checked_sub(1) {
                Some(below) => ReadOrigin::Version(Version {
                    tx: below,
                    incarnation: 0,
                }),
                None => ReadOrigin::Base,
            };
            monitor.note(Version { tx, incarnation: 0 }, &[(slot, origin)], txs);
        }
    }

    #[test]
    fn a_long_block_is_first_judged_on_its_first_128_transactions() {
        let txs = txs(20_000);
        let monitor = SpeculationMonitor::new(rule(), txs.len());
        assert_eq!((monitor.first_window, monitor.window), (128, 512));
        assert_eq!(monitor.window_of(127), 0);
        assert_eq!(monitor.window_of(128), 1);
        assert_eq!(monitor.window_span(1), 128..640);
        assert_eq!(monitor.window_of(19_999), 39);
        assert_eq!(monitor.judged.len(), 40);
        note_chain(&monitor, 0..127, &txs);
        assert!(!monitor.stopped(), "the window is not complete yet");
        note_chain(&monitor, 127..128, &txs);
        assert!(monitor.stopped());
        let reason = monitor.reason().unwrap();
        assert!(reason.starts_with("transactions 0..128 showed"), "{reason}");
    }

    #[test]
    fn later_windows_keep_their_length() {
        let txs = txs(20_000);
        let monitor = SpeculationMonitor::new(rule(), txs.len());
        // Independent first window, then a chain through the second one.
        for tx in 0..128 {
            monitor.note(Version { tx, incarnation: 0 }, &[], &txs);
        }
        note_chain(&monitor, 128..639, &txs);
        assert!(
            !monitor.stopped(),
            "judged only when its last transaction finishes"
        );
        note_chain(&monitor, 639..640, &txs);
        assert!(
            monitor
                .reason()
                .unwrap()
                .starts_with("transactions 128..640 showed")
        );
    }

    #[test]
    fn a_block_of_few_windows_is_not_watched() {
        let monitor = SpeculationMonitor::new(rule(), 511);
        assert!(!monitor.watching());
        let monitor = SpeculationMonitor::new(rule(), 512);
        assert!(monitor.watching());
        assert_eq!((monitor.first_window, monitor.window), (128, 128));
    }
}
