//! Turning one execution's state changes into writes to the multi-version memory.

use super::{
    value::{AccountBasic, AccountCode, WriteValue},
    versioned_db::{VersionedDb, VersionedDbError},
};
use crate::{
    chain::account_effect::{AccountEffect, account_effect},
    location::{Location, TxIdx},
};
use revm::{
    DatabaseRef,
    primitives::{B256, KECCAK_EMPTY},
    state::{Account, EvmState},
};

/// The locations transaction `tx` changed, compared with what it read. Locations it touched
/// without changing are not written, so they cause no conflicts.
pub(crate) fn write_set<DB: DatabaseRef>(
    tx: TxIdx,
    state: &EvmState,
    db: &mut VersionedDb<'_, DB>,
) -> Result<Vec<(Location, WriteValue)>, VersionedDbError<DB::Error>> {
    let mut writes = Vec::new();
    for (&address, account) in state {
        if db.placeholder == Some(address) {
            // Served as an empty account: what it received is recorded as an increment.
            continue;
        }
        let (after, wipes_storage, written) = match account_effect(account) {
            AccountEffect::Unchanged => continue,
            AccountEffect::Destroyed => (None, true, None),
            AccountEffect::Created(account) => (Some(account), true, Some(account)),
            AccountEffect::Updated(account) => (Some(account), false, Some(account)),
        };
        // Every account in the state was loaded through `db`, so these are cached reads.
        let (prior_account, prior_code) = db.loaded_account(address)?;
        // Destroying an account that did not exist has no storage to wipe.
        let wipes_storage = wipes_storage && (after.is_some() || prior_account.is_some());

        let account_after = after.map(|account| AccountBasic {
            balance: account.info.balance,
            nonce: account.info.nonce,
        });
        if account_after != prior_account {
            writes.push((
                Location::Account(address),
                WriteValue::Account(account_after),
            ));
        }

        // The hash decides; the code itself (a shared reference count, the same one for
        // every account without code) is only copied when it is written.
        let hash_after = after.map_or(KECCAK_EMPTY, code_hash);
        if wipes_storage || hash_after != prior_code.hash {
            let code_after = match after {
                Some(account) => code_of(account, prior_code),
                None => AccountCode::empty(),
            };
            let storage_epoch = if wipes_storage {
                Some(tx)
            } else {
                prior_code.storage_epoch
            };
            writes.push((
                Location::Code(address),
                WriteValue::Code(Box::new(AccountCode {
                    storage_epoch,
                    ..code_after
                })),
            ));
        }

        if let Some(account) = written {
            for (slot, value) in account.changed_storage_slots() {
                writes.push((
                    Location::Storage(address, *slot),
                    WriteValue::Storage(value.present_value),
                ));
            }
        }
    }
    Ok(writes)
}

/// The hash of the code an account holds after the transaction.
fn code_hash(account: &Account) -> B256 {
    if account.info.code_hash.is_zero() {
        KECCAK_EMPTY
    } else {
        account.info.code_hash
    }
}

/// The code an account holds after the transaction.
fn code_of(account: &Account, prior: &AccountCode) -> AccountCode {
    let hash = code_hash(account);
    let code = match &account.info.code {
        Some(code) => Some(code.clone()),
        None if hash == prior.hash => prior.code.clone(),
        None if hash == KECCAK_EMPTY => Some(Default::default()),
        // Left for revm to fetch by hash if it ever runs it.
        None => None,
    };
    AccountCode {
        hash,
        code,
        storage_epoch: None,
    }
}
