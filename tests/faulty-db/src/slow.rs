//! A database whose first read of each location takes a fixed time: a state on an SSD or
//! behind a remote service, with a cache in front of it.
//!
//! Each location (an account, a contract's code, a slot, a block hash) is fetched once per
//! [`SlowDb`]: the first reader sleeps for the latency, and a reader that asks for the same
//! location while it is being fetched waits for that fetch instead of starting another, as a
//! shared cache in front of a disk does. Later reads cost a map look-up. Sleeping, not
//! spinning, is the point: a thread waiting on a read leaves its core to another, which is
//! what more worker threads than cores can use.

use alloy_primitives::{Address, B256, U256, map::DefaultHashBuilder};
use dashmap::{DashMap, mapref::entry::Entry};
use revm::{DatabaseRef, bytecode::Bytecode, state::AccountInfo};
use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// A location of the state, as a cache in front of a disk keys it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Location {
    Account(Address),
    Code(B256),
    Slot(Address, U256),
    BlockHash(u64),
}

/// `inner`, with the first read of each location taking `latency`. Make one per block run:
/// a fresh one has everything cold again.
#[derive(Debug)]
pub struct SlowDb<D> {
    inner: D,
    latency: Duration,
    /// Every location asked for, and whether its fetch has finished.
    fetches: DashMap<Location, Arc<OnceLock<()>>, DefaultHashBuilder>,
    cold_reads: AtomicU64,
    /// Time the fetching threads actually slept.
    slept_nanos: AtomicU64,
    /// How much longer than asked the operating system's sleep has been taking (a running
    /// average, 20-30 µs on a virtual machine): each fetch asks for that much less, so that
    /// fetches take the latency on average while still leaving the core to other threads.
    overshoot_nanos: AtomicU64,
}

/// What the cold reads of a [`SlowDb`] cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLatencyStats {
    /// Locations fetched (each paid the latency once).
    pub cold_reads: u64,
    /// The latency each fetch really took, on average: close to the latency asked for, since
    /// each fetch sleeps for less by what sleeping has been overshooting.
    pub mean_latency: Duration,
}

impl<D> SlowDb<D> {
    /// `inner`, everything cold, each first read of a location taking `latency`.
    pub fn new(inner: D, latency: Duration) -> Self {
        Self {
            inner,
            latency,
            fetches: DashMap::default(),
            cold_reads: AtomicU64::new(0),
            slept_nanos: AtomicU64::new(0),
            overshoot_nanos: AtomicU64::new(0),
        }
    }

    /// The latency of a cold read.
    pub const fn latency(&self) -> Duration {
        self.latency
    }

    /// The cold reads so far and what they cost.
    pub fn stats(&self) -> ReadLatencyStats {
        let cold_reads = self.cold_reads.load(Ordering::Relaxed);
        let slept = self.slept_nanos.load(Ordering::Relaxed);
        ReadLatencyStats {
            cold_reads,
            mean_latency: Duration::from_nanos(slept.checked_div(cold_reads).unwrap_or(0)),
        }
    }

    /// Pays the latency of `location` if nobody has fetched it yet, or waits for the fetch
    /// in flight.
    fn fetch(&self, location: Location) {
        if let Some(fetch) = self.fetches.get(&location) {
            let fetch = Arc::clone(fetch.value());
            fetch.wait();
            return;
        }
        let fetch = match self.fetches.entry(location) {
            Entry::Occupied(entry) => {
                let fetch = Arc::clone(entry.get());
                drop(entry);
                fetch.wait();
                return;
            }
            Entry::Vacant(entry) => {
                let fetch = Arc::new(OnceLock::new());
                entry.insert(Arc::clone(&fetch));
                fetch
            }
        };
        // The map's shard is unlocked here: other locations are fetched meanwhile.
        let overshoot = self.overshoot_nanos.load(Ordering::Relaxed);
        let asked = self.latency.saturating_sub(Duration::from_nanos(overshoot));
        let began = Instant::now();
        precise_sleep(asked);
        let took = began.elapsed();
        self.slept_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        let sample = took.saturating_sub(asked).as_nanos() as i64;
        let updated = overshoot as i64 + (sample - overshoot as i64) / 8;
        self.overshoot_nanos
            .store(updated.max(0) as u64, Ordering::Relaxed);
        self.cold_reads.fetch_add(1, Ordering::Relaxed);
        let _ = fetch.set(());
    }
}

impl<D: DatabaseRef> DatabaseRef for SlowDb<D> {
    type Error = D::Error;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.fetch(Location::Account(address));
        self.inner.basic_ref(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.fetch(Location::Code(code_hash));
        self.inner.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, slot: U256) -> Result<U256, Self::Error> {
        self.fetch(Location::Slot(address, slot));
        self.inner.storage_ref(address, slot)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.fetch(Location::BlockHash(number));
        self.inner.block_hash_ref(number)
    }
}

/// Sleeps for `duration`, with the thread's timer slack (50 µs by default on Linux, which
/// would double a 50 µs read) cut to a microsecond first.
fn precise_sleep(duration: Duration) {
    #[cfg(target_os = "linux")]
    {
        thread_local!(static SLACK_SET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        SLACK_SET.with(|set| {
            if !set.get() {
                // SAFETY: PR_SET_TIMERSLACK takes one integer argument and changes only the
                // calling thread's timer slack.
                unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong) };
                set.set(true);
            }
        });
    }
    std::thread::sleep(duration);
}

#[cfg(test)]
mod tests {
    use super::*;
    use revm::database::{CacheDB, EmptyDB};

    fn db_with_account(address: Address) -> CacheDB<EmptyDB> {
        let mut db = CacheDB::new(EmptyDB::default());
        db.insert_account_info(
            address,
            AccountInfo {
                balance: U256::from(7),
                ..AccountInfo::default()
            },
        );
        db
    }

    #[test]
    fn each_location_pays_the_latency_once() {
        let address = Address::repeat_byte(1);
        let db = SlowDb::new(db_with_account(address), Duration::from_millis(2));
        let began = Instant::now();
        let info = db.basic_ref(address).unwrap().unwrap();
        assert_eq!(info.balance, U256::from(7));
        // The first fetch has no overshoot to take off yet.
        assert!(began.elapsed() >= Duration::from_millis(2));
        for _ in 0..10 {
            db.basic_ref(address).unwrap();
        }
        assert_eq!(db.storage_ref(address, U256::ZERO).unwrap(), U256::ZERO);
        let stats = db.stats();
        assert_eq!(stats.cold_reads, 2, "the account and one slot");
        assert!(stats.mean_latency >= Duration::from_millis(1), "{stats:?}");
    }

    #[test]
    fn a_reader_waits_for_the_fetch_in_flight() {
        let address = Address::repeat_byte(2);
        let db = SlowDb::new(db_with_account(address), Duration::from_millis(20));
        let waits: Vec<Duration> = std::thread::scope(|scope| {
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let began = Instant::now();
                        db.basic_ref(address).unwrap();
                        began.elapsed()
                    })
                })
                .collect();
            readers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(db.stats().cold_reads, 1);
        // Every reader that came while the fetch was in flight waited for it; one that came
        // after it finished (the threads start at different times) found it cached.
        let slowest = waits.iter().max().unwrap();
        assert!(*slowest >= Duration::from_millis(20), "{waits:?}");
    }
}
