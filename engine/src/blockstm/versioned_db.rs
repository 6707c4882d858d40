//! The database one speculative execution reads through: earlier transactions' writes from
//! the multi-version memory, the pre-state below them, and a record of every read.

use super::{
    mv_memory::{MvMemory, MvRead, ReadOrigin, ReadSet},
    value::{AccountBasic, AccountCode, WriteValue, apply_increment},
};
use crate::{
    chain::beneficiary_fee::DefersBeneficiaryFee,
    location::{Location, TxIdx},
};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use revm::{
    Database, DatabaseRef,
    bytecode::Bytecode,
    database_interface::DBErrorMarker,
    primitives::{KECCAK_EMPTY, StorageKey, StorageValue},
    state::AccountInfo,
};

/// Why a read could not be served.
#[derive(Debug, thiserror::Error)]
pub enum VersionedDbError<E> {
    /// The location is being rewritten by this earlier transaction: wait for it.
    #[error("read an estimate of transaction {0}")]
    Blocked(TxIdx),
    /// The pre-state database failed.
    #[error(transparent)]
    Database(E),
}

impl<E: DBErrorMarker> DBErrorMarker for VersionedDbError<E> {}

/// A value read during one execution, kept so that the execution sees one consistent view
/// even if the memory changes under it, and so that its writes can be compared to it.
#[derive(Clone, Debug)]
pub(crate) enum ReadValue {
    Account(Option<AccountBasic>),
    Code(AccountCode),
    Storage(U256),
}

/// Everything one execution read, in the order it was first read. Most executions read a
/// handful of locations, and a scan of those costs less than hashing every lookup; a map
/// indexes the reads only once there are many.
#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    /// The locations and origins: what validation checks. An execution that is never
    /// validated keeps no origins ([`ReadOrigin::Base`] stands in).
    reads: ReadSet,
    /// The value of each read, at the same position.
    values: Vec<ReadValue>,
    /// Position of each read by location, kept once there are more than [`Self::SCANNED`].
    index: HashMap<Location, usize>,
}

impl ReadCache {
    /// Up to this many reads, a lookup scans them.
    const SCANNED: usize = 16;

    fn get(&self, location: &Location) -> Option<&ReadValue> {
        self.position(location).map(|at| &self.values[at])
    }

    /// Where the read of `location` is, if it was read.
    fn position(&self, location: &Location) -> Option<usize> {
        if self.reads.len() <= Self::SCANNED {
            self.reads.iter().rposition(|(read, _)| read == location)
        } else {
            self.index.get(location).copied()
        }
    }

    /// The location of the read at position `at`, if there is one.
    fn location_at(&self, at: usize) -> Option<&Location> {
        self.reads.get(at).map(|(location, _)| location)
    }

    /// Adds a read of a location not read before.
    fn insert(&mut self, location: Location, origin: ReadOrigin, value: ReadValue) {
        debug_assert!(self.get(&location).is_none(), "{location} read twice");
        self.reads.push((location, origin));
        self.values.push(value);
        match self.reads.len() {
            len if len == Self::SCANNED + 1 => {
                let positions = self
                    .reads
                    .iter()
                    .enumerate()
                    .map(|(at, (read, _))| (*read, at));
                self.index.extend(positions);
            }
            len if len > Self::SCANNED => {
                self.index.insert(location, len - 1);
            }
            _ => {}
        }
    }

    fn clear(&mut self) {
        self.reads.clear();
        self.values.clear();
        self.index.clear();
    }

    /// The reads with their origins, in a list of exactly their size (it is kept until the
    /// block ends), leaving the cache empty with its capacity.
    fn take_reads(&mut self) -> ReadSet {
        let reads = self.reads.drain(..).collect();
        self.clear();
        reads
    }
}

/// Which reads an execution keeps in its [`ReadCache`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeptReads {
    /// Every read, for validation.
    All,
    /// Accounts and code: an execution on final values, which is never validated.
    AccountsAndCode,
    /// Code only (for the storage epoch, and to lend it out): the rest of a block run in
    /// order under revm's `State`.
    Code,
}

/// Per-execution view of the block's state for transaction `tx`.
#[derive(Debug)]
pub(crate) struct VersionedDb<'a, DB> {
    base: &'a DB,
    memory: &'a MvMemory,
    tx: TxIdx,
    reads: ReadCache,
    /// The pre-state account last fetched, so that reading an account's balance and its code
    /// costs one database call.
    base_account: Option<(Address, Option<AccountInfo>)>,
    /// The fee owed to the beneficiary when this execution did not observe its balance.
    pub(crate) deferred_beneficiary_fee: Option<U256>,
    /// The busy recipient this transaction pays, whose balance it must not read.
    lazy_recipient: Option<Address>,
    /// Set when the lazy recipient had no code and was served as a placeholder: the
    /// transaction's effect on it is an increment, and its real value is filled in later.
    pub(crate) placeholder: Option<Address>,
    /// Which reads are kept.
    kept: KeptReads,
    /// The storage epoch of the account whose storage was read last: a contract reading
    /// many slots would otherwise look its code up in the read cache for each.
    last_epoch: Option<(Address, Option<TxIdx>)>,
}

impl<'a, DB: DatabaseRef> VersionedDb<'a, DB> {
    pub(crate) fn new(base: &'a DB, memory: &'a MvMemory) -> Self {
        Self {
            base,
            memory,
            tx: 0,
            reads: ReadCache::default(),
            base_account: None,
            deferred_beneficiary_fee: None,
            lazy_recipient: None,
            placeholder: None,
            kept: KeptReads::All,
            last_epoch: None,
        }
    }

    /// The state after the transactions below `tx`, all final, for running the rest of
    /// the block in order under revm's `State` (which caches what it reads). Nothing is
    /// validated, so only code is kept (for the storage epoch, and to lend it out).
    pub(crate) fn in_order_from(base: &'a DB, memory: &'a MvMemory, tx: TxIdx) -> Self {
        let mut db = Self::new(base, memory);
        db.tx = tx;
        db.kept = KeptReads::Code;
        db
    }

    /// Starts a fresh execution of transaction `tx`, which pays `lazy_recipient` (if any)
    /// without needing its balance. Without `keep_reads` (an execution on final values,
    /// never validated), storage reads are not kept: revm's journal caches them for the
    /// transaction, while accounts are read again for the write set.
    pub(crate) fn begin(&mut self, tx: TxIdx, lazy_recipient: Option<Address>, keep_reads: bool) {
        self.tx = tx;
        self.kept = if keep_reads {
            KeptReads::All
        } else {
            KeptReads::AccountsAndCode
        };
        self.lazy_recipient = lazy_recipient;
        self.placeholder = None;
        self.reads.clear();
        self.base_account = None;
        self.deferred_beneficiary_fee = None;
        self.last_epoch = None;
    }

    /// The reads of the execution that just ended, with where each value came from. The
    /// cache keeps its capacity for the next execution.
    pub(crate) fn drain_reads(&mut self) -> ReadSet {
        debug_assert_eq!(
            self.kept,
            KeptReads::All,
            "only validated reads have origins"
        );
        self.reads.take_reads()
    }

    /// Forgets the reads of the execution that just ended, keeping the capacity.
    pub(crate) fn discard_reads(&mut self) {
        self.reads.clear();
    }

    fn read_memory(&self, location: &Location) -> Result<MvRead, VersionedDbError<DB::Error>> {
        match self.memory.read(location, self.tx) {
            MvRead::Blocked(tx) => Err(VersionedDbError::Blocked(tx)),
            read => Ok(read),
        }
    }

    fn remember(&mut self, location: Location, read: &MvRead, value: ReadValue) {
        let kept = match value {
            ReadValue::Code(_) => true,
            ReadValue::Account(_) => self.kept != KeptReads::Code,
            ReadValue::Storage(_) => self.kept == KeptReads::All,
        };
        if !kept {
            return;
        }
        // Only validation looks at a read's origin: an execution that is never validated
        // keeps its reads for their values alone.
        let origin = if self.kept == KeptReads::All {
            read.origin().expect("blocked reads are returned as errors")
        } else {
            ReadOrigin::Base
        };
        self.reads.insert(location, origin, value);
    }

    /// The pre-state account at `address`, fetched once even when both its balance and its
    /// code are read.
    fn base_account(&mut self, address: Address) -> Result<Option<&AccountInfo>, DB::Error> {
        let cached = matches!(&self.base_account, Some((at, _)) if *at == address);
        if !cached {
            self.base_account = Some((address, self.base.basic_ref(address)?));
        }
        Ok(self
            .base_account
            .as_ref()
            .and_then(|(_, info)| info.as_ref()))
    }

    /// Balance, nonce and existence of `address` as this transaction sees them.
    pub(crate) fn read_account(
        &mut self,
        address: Address,
    ) -> Result<Option<AccountBasic>, VersionedDbError<DB::Error>> {
        let location = Location::Account(address);
        if let Some(ReadValue::Account(account)) = self.reads.get(&location) {
            return Ok(*account);
        }
        let read = self.read_memory(&location)?;
        let account = match &read {
            MvRead::Base => self.base_basic(address)?,
            MvRead::Written(_, WriteValue::Account(account)) => *account,
            MvRead::Increments { increments, below } => {
                let start = match below {
                    Some((_, account)) => *account,
                    None => self.base_basic(address)?,
                };
                increments.iter().fold(start, |account, (_, amount)| {
                    apply_increment(account, *amount)
                })
            }
            MvRead::Written(_, other) => unreachable!("account location holds {other:?}"),
            MvRead::Blocked(_) => unreachable!("returned as an error above"),
        };
        self.remember(location, &read, ReadValue::Account(account));
        Ok(account)
    }

    /// Balance, nonce and code of `address` as this execution loaded it, for its write set.
    /// `basic` reads an account's code right after its balance (or, for a lazy recipient,
    /// right before), so one scan finds both.
    pub(crate) fn loaded_account(
        &mut self,
        address: Address,
    ) -> Result<(Option<AccountBasic>, &AccountCode), VersionedDbError<DB::Error>> {
        let code = Location::Code(address);
        let found = self
            .reads
            .position(&Location::Account(address))
            .and_then(|at| {
                let beside = [at + 1, at.wrapping_sub(1)]
                    .into_iter()
                    .find(|beside| self.reads.location_at(*beside) == Some(&code))?;
                Some((at, beside))
            });
        let Some((at, beside)) = found else {
            let account = self.read_account(address)?;
            return Ok((account, self.code_ref(address)?));
        };
        match (&self.reads.values[at], &self.reads.values[beside]) {
            (ReadValue::Account(account), ReadValue::Code(code)) => Ok((*account, code)),
            other => unreachable!("account and code cached as {other:?}"),
        }
    }

    fn base_basic(
        &mut self,
        address: Address,
    ) -> Result<Option<AccountBasic>, VersionedDbError<DB::Error>> {
        let info = self
            .base_account(address)
            .map_err(VersionedDbError::Database)?;
        Ok(info.map(|info| AccountBasic {
            balance: info.balance,
            nonce: info.nonce,
        }))
    }

    /// Code and storage epoch of `address` as this transaction sees them.
    pub(crate) fn read_code(
        &mut self,
        address: Address,
    ) -> Result<AccountCode, VersionedDbError<DB::Error>> {
        self.code_ref(address).cloned()
    }

    /// [`Self::read_code`] without copying the code (a shared reference count that every
    /// thread would otherwise touch).
    pub(crate) fn code_ref(
        &mut self,
        address: Address,
    ) -> Result<&AccountCode, VersionedDbError<DB::Error>> {
        let location = Location::Code(address);
        let at = match self.reads.position(&location) {
            Some(at) => at,
            None => {
                let read = self.read_memory(&location)?;
                let code = match &read {
                    MvRead::Base => self
                        .base_code(address)
                        .map_err(VersionedDbError::Database)?,
                    MvRead::Written(_, WriteValue::Code(code)) => AccountCode::clone(code),
                    other => unreachable!("code location holds {other:?}"),
                };
                // Code is remembered even when other reads are not.
                self.remember(location, &read, ReadValue::Code(code));
                self.reads.values.len() - 1
            }
        };
        match &self.reads.values[at] {
            ReadValue::Code(code) => Ok(code),
            other => unreachable!("code location cached as {other:?}"),
        }
    }

    fn base_code(&mut self, address: Address) -> Result<AccountCode, DB::Error> {
        let Some(info) = self.base_account(address)? else {
            return Ok(AccountCode::empty());
        };
        let hash = if info.code_hash.is_zero() {
            KECCAK_EMPTY
        } else {
            info.code_hash
        };
        let code = if hash == KECCAK_EMPTY {
            Some(Bytecode::default())
        } else {
            info.code.clone()
        };
        Ok(AccountCode {
            hash,
            code,
            storage_epoch: None,
        })
    }

    /// A storage slot as this transaction sees it: zero if the account's storage was wiped
    /// after the slot was last written.
    fn read_storage(
        &mut self,
        address: Address,
        slot: U256,
    ) -> Result<U256, VersionedDbError<DB::Error>> {
        let location = Location::Storage(address, slot);
        if let Some(ReadValue::Storage(value)) = self.reads.get(&location) {
            return Ok(*value);
        }
        let epoch = match self.last_epoch {
            Some((last, epoch)) if last == address => epoch,
            _ => {
                let epoch = self.code_ref(address)?.storage_epoch;
                self.last_epoch = Some((address, epoch));
                epoch
            }
        };
        let read = self.read_memory(&location)?;
        let value = match &read {
            MvRead::Base if epoch.is_some() => U256::ZERO,
            MvRead::Base => self
                .base
                .storage_ref(address, slot)
                .map_err(VersionedDbError::Database)?,
            MvRead::Written(version, WriteValue::Storage(value)) => {
                if epoch.is_some_and(|wiped_by| version.tx < wiped_by) {
                    U256::ZERO
                } else {
                    *value
                }
            }
            other => unreachable!("storage location holds {other:?}"),
        };
        self.remember(location, &read, ReadValue::Storage(value));
        Ok(value)
    }
}

impl<DB> DefersBeneficiaryFee for VersionedDb<'_, DB> {
    fn defer_beneficiary_fee(&mut self, fee: U256) {
        self.deferred_beneficiary_fee = Some(fee);
    }
}

impl<DB: DatabaseRef> Database for VersionedDb<'_, DB> {
    type Error = VersionedDbError<DB::Error>;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        if self.lazy_recipient == Some(address) {
            // A plain payment to an account without code does not depend on its balance,
            // nonce or existence: execute it against an empty account instead of reading
            // them, so that payments to one busy recipient do not conflict.
            let code = self.read_code(address)?;
            if code.hash == KECCAK_EMPTY {
                self.placeholder = Some(address);
                return Ok(Some(account_info(AccountBasic::default(), code)));
            }
        }
        let account = self.read_account(address)?;
        // Read the code even for a missing account: a later code write to it (an EIP-7702
        // delegation, a creation) must carry the storage epoch this execution saw.
        let code = self.read_code(address)?;
        Ok(account.map(|account| account_info(account, code)))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        // `basic` always returns the code, so revm only gets here for pre-state code.
        self.base
            .code_by_hash_ref(code_hash)
            .map_err(VersionedDbError::Database)
    }

    fn storage(
        &mut self,
        address: Address,
        index: StorageKey,
    ) -> Result<StorageValue, Self::Error> {
        self.read_storage(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.base
            .block_hash_ref(number)
            .map_err(VersionedDbError::Database)
    }
}

/// The account revm loads for balance and nonce `account` with `code`.
pub(crate) fn account_info(account: AccountBasic, code: AccountCode) -> AccountInfo {
    AccountInfo {
        balance: account.balance,
        nonce: account.nonce,
        code_hash: code.hash,
        code: code.code,
        ..Default::default()
    }
}
