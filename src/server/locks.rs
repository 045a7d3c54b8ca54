//! The server's one policy for a poisoned lock: take the data anyway.
//!
//! A std lock is poisoned when a thread panicked while holding it. Nothing
//! in `src/` panics on purpose (no `unwrap`), and every critical section
//! here leaves its data whole at each step (inserts, removals, counters),
//! so after such a bug the data is still usable. Refusing it instead would
//! turn one bug into a node that silently stops delivering, counting or
//! limiting for the rest of its life. Every `std::sync` lock in the server
//! is taken through these three functions; none is held across an `.await`.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
