//! Databases that misbehave, around any revm `DatabaseRef`, for the robustness tests and the
//! benchmarks of Parallax:
//!
//! - [`FaultyDb`] fails a chosen read (every read of an account or a slot, or the k-th read of
//!   all), panics on one, or answers repeated reads of an account with a different balance
//!   each time. The robustness tests of the engine and the adapter run every path over it.
//! - [`SlowDb`] answers the first read of each location after a fixed latency, as a state on
//!   an SSD or behind a remote service does, and later reads of it at once, as the cache in
//!   front of such a state does. `parallax bench --db-latency` runs both executors over it.

mod faulty;
mod slow;

pub use faulty::{Fault, FaultyDb, InjectedFault};
pub use slow::{ReadLatencyStats, SlowDb};
