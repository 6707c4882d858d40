//! Recognising, inside code generic over any database, the one database shape the parallel
//! path can share between threads: revm's `State` over the factory's database type.
//!
//! alloy-evm's `BlockExecutorFactory` creates executors for *every* database type, so an
//! executor cannot require more than `Database + DatabaseCommit` of it. Clients plug in
//! `State<D>` (reth passes `&mut State<D>`); when `D` is the factory's database type, the
//! executor reads the state through a thread-shareable [`StateView`](crate::StateView).

use core::any::TypeId;
use revm::database::State;

/// `db` as a `State<D>`, when the database type `DB` is `State<D>` or `&mut State<D>`.
pub(crate) fn as_state<DB, D: 'static>(db: &DB) -> Option<&State<D>> {
    let id = typeid::of::<DB>();
    if id == TypeId::of::<State<D>>() {
        // SAFETY: `DB` is exactly `State<D>` (`D` is 'static, so no lifetime was erased from
        // the comparison); this is a reference-to-reference cast like `Any::downcast_ref`.
        Some(unsafe { &*(db as *const DB).cast::<State<D>>() })
    } else if id == typeid::of::<&mut State<D>>() {
        // SAFETY: `DB` is `&'x mut State<D>` for some 'x; only its lifetime was erased. The
        // result is a shared reborrow that lives no longer than our borrow of `db`, and
        // nothing is written through it.
        Some(unsafe { &**(db as *const DB).cast::<&mut State<D>>() })
    } else {
        None
    }
}

/// `db` as a mutable `State<D>`, when `DB` is `State<D>` or `&mut State<D>`.
pub(crate) fn as_state_mut<DB, D: 'static>(db: &mut DB) -> Option<&mut State<D>> {
    let id = typeid::of::<DB>();
    if id == TypeId::of::<State<D>>() {
        // SAFETY: as in `as_state`, `DB` is exactly `State<D>`; this is `Any::downcast_mut`.
        Some(unsafe { &mut *(db as *mut DB).cast::<State<D>>() })
    } else if id == typeid::of::<&mut State<D>>() {
        // SAFETY: `DB` is `&'x mut State<D>` for some 'x; the result is a unique reborrow
        // that lives no longer than our unique borrow of `db`.
        Some(unsafe { &mut **(db as *mut DB).cast::<&mut State<D>>() })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use revm::database::{CacheDB, EmptyDB};

    type Db = CacheDB<EmptyDB>;

    #[test]
    fn recognises_owned_and_borrowed_state() {
        let mut state = State::builder().with_database(Db::default()).build();
        assert!(as_state::<_, Db>(&state).is_some());
        assert!(as_state_mut::<_, Db>(&mut state).is_some());
        let mut borrowed = &mut state;
        assert!(as_state::<_, Db>(&borrowed).is_some());
        assert!(as_state_mut::<_, Db>(&mut borrowed).is_some());
    }

    #[test]
    fn rejects_other_databases() {
        let state = State::builder().with_database(Db::default()).build();
        assert!(as_state::<_, EmptyDB>(&state).is_none());
        assert!(as_state::<_, Db>(&Db::default()).is_none());
        assert!(as_state_mut::<_, Db>(&mut Db::default()).is_none());
    }
}
