//! The application layer: every use case of Sổ Tay, once, for both front ends. The CLI
//! (`src/cli/`) and the desktop shell (`src-tauri/`) only unpack their arguments, call an [`App`]
//! method and print or serialise the result. No Tauri and no clap here (clap's `ValueEnum` only
//! behind the CLI's feature).
//!
//! An [`App`] holds the store as a [`SharedStore`]: each use case locks it for its own short
//! step, and sync locks it only between network requests, so every screen answers during a sync.

#![forbid(unsafe_code)]

mod backup;
pub mod bindings;
mod citizens;
mod error;
mod files;
mod paths;
mod reports;
mod sessions;
mod sync;
mod team;

pub use backup::{restore_backup, Drive};
pub use citizens::ExportFormat;
pub use error::{AppError, AppResult, ErrorPayload};
pub use files::{LocalSettings, WrittenFile};
pub use paths::{DataPaths, DATABASE_FILE};
pub use reports::{write_report_file, ReportFormat, ReportRequest, WrittenReport};
pub use sessions::PrintedSheet;
pub use sync::SyncOptions;
pub use team::Overview;

use sotay_core::{DatabaseFile, Passphrase, SharedStore, Store};

// The desktop shell shares one App between its commands and the background sync.
const _: () = {
    const fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<App>();
};

/// A running Sổ Tay: its store and where it writes files.
#[derive(Clone)]
pub struct App {
    store: SharedStore,
    paths: DataPaths,
}

impl App {
    /// Opens (creating and migrating if needed) the store at `paths.database` with the
    /// volunteer's passphrase. A new or plain file takes it as the passphrase chosen (and is
    /// encrypted with it); an encrypted one must match.
    pub fn open(paths: DataPaths, passphrase: &Passphrase) -> AppResult<Self> {
        let store = Store::open(&paths.database, passphrase)?;
        Ok(Self {
            store: SharedStore::new(store),
            paths,
        })
    }

    /// Whether `paths.database` is new, plain (from before encryption) or locked, which decides
    /// whether the volunteer chooses a passphrase or types it.
    pub fn database_file(paths: &DataPaths) -> DatabaseFile {
        sotay_core::protect::database_file(&paths.database)
    }

    /// Re-encrypts the store under `new` once `current` is shown to be the passphrase in use.
    pub fn change_passphrase(&self, current: &str, new: &str) -> AppResult<()> {
        Ok(self
            .store
            .with(|s| s.change_passphrase(&Passphrase::new(current), new))?)
    }

    pub fn paths(&self) -> &DataPaths {
        &self.paths
    }

    /// The shared store, for a caller that needs a step no use case offers (tests, benchmarks).
    pub fn store(&self) -> &SharedStore {
        &self.store
    }
}
