//! A database that fails a chosen read, panics on one, or contradicts itself.

use alloy_primitives::{Address, B256, U256};
use revm::{
    DatabaseRef, bytecode::Bytecode, database_interface::DBErrorMarker, state::AccountInfo,
};
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

/// What goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every read of this account fails.
    Account(Address),
    /// Every read of this slot fails.
    Slot(Address, U256),
    /// The k-th read (counting from 0, of any kind, in whatever order the reads come) fails;
    /// the others succeed.
    NthRead(usize),
    /// Reading this account panics.
    PanicOn(Address),
    /// Each read of this account gives a balance one wei higher than the one before.
    Inconsistent(Address),
}

/// The error a faulty read returns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("injected fault: {0}")]
pub struct InjectedFault(pub String);

impl DBErrorMarker for InjectedFault {}

/// `inner` with `fault`.
#[derive(Clone, Debug)]
pub struct FaultyDb<D> {
    inner: Arc<D>,
    fault: Fault,
    reads: Arc<AtomicUsize>,
}

impl<D> FaultyDb<D> {
    /// `inner`, read through `fault`.
    pub fn new(inner: Arc<D>, fault: Fault) -> Self {
        quiet_injected_panics();
        Self {
            inner,
            fault,
            reads: Arc::default(),
        }
    }

    /// How many reads it has answered or failed.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    /// Fails the read when it is the k-th.
    fn count(&self, what: impl FnOnce() -> String) -> Result<usize, InjectedFault> {
        let read = self.reads.fetch_add(1, Ordering::Relaxed);
        match self.fault {
            Fault::NthRead(k) if k == read => Err(InjectedFault(format!("read {k} ({})", what()))),
            _ => Ok(read),
        }
    }
}

impl<D: DatabaseRef> DatabaseRef for FaultyDb<D> {
    type Error = InjectedFault;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let read = self.count(|| format!("account {address}"))?;
        let info = self
            .inner
            .basic_ref(address)
            .map_err(|_| fault("inner database"))?;
        match self.fault {
            Fault::Account(failing) if failing == address => {
                Err(fault(&format!("account {address}")))
            }
            Fault::PanicOn(panicking) if panicking == address => {
                panic!("injected panic reading account {address}")
            }
            Fault::Inconsistent(changing) if changing == address => Ok(info.map(|mut info| {
                info.balance += U256::from(read);
                info
            })),
            _ => Ok(info),
        }
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.count(|| format!("code {code_hash}"))?;
        self.inner
            .code_by_hash_ref(code_hash)
            .map_err(|_| fault("inner database"))
    }

    fn storage_ref(&self, address: Address, slot: U256) -> Result<U256, Self::Error> {
        self.count(|| format!("slot {slot:#x} of {address}"))?;
        if self.fault == Fault::Slot(address, slot) {
            return Err(fault(&format!("slot {slot:#x} of {address}")));
        }
        self.inner
            .storage_ref(address, slot)
            .map_err(|_| fault("inner database"))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.count(|| format!("block hash {number}"))?;
        self.inner
            .block_hash_ref(number)
            .map_err(|_| fault("inner database"))
    }
}

/// Keeps the panics this database injects out of the test output (the engine catches them);
/// every other panic is reported as usual.
fn quiet_injected_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let injected = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|message| message.starts_with("injected panic"));
            if !injected {
                report(info);
            }
        }));
    });
}

fn fault(what: &str) -> InjectedFault {
    InjectedFault(what.to_owned())
}
