//! One store shared by every caller of a running app: the UI's commands, the background sync and
//! the CLI. A single connection behind a mutex; callers hold it only for one short local step
//! (a query, a write transaction, applying one pulled page), never across network I/O, so a
//! search answers while a sync waits on a slow link.

use crate::error::{CoreError, CoreResult};
use crate::store::Store;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct SharedStore(Arc<Mutex<Store>>);

impl SharedStore {
    pub fn new(store: Store) -> Self {
        Self(Arc::new(Mutex::new(store)))
    }

    /// The store itself, for a caller that does several steps in a row (tests, a one-shot CLI
    /// command). Hold the guard only for local work.
    pub fn lock(&self) -> CoreResult<std::sync::MutexGuard<'_, Store>> {
        self.0.lock().map_err(|_| CoreError::StoreUnavailable)
    }

    /// Runs one local step with the store locked.
    pub fn with<R>(&self, step: impl FnOnce(&mut Store) -> CoreResult<R>) -> CoreResult<R> {
        // A panic while holding the lock leaves the mutex poisoned; every write is one
        // transaction, so the file itself is consistent, but this process should not go on.
        step(&mut *self.lock()?)
    }
}
