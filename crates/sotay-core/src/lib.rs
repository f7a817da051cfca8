//! Sổ Tay core: everything a laptop does with its own data. The [`Store`] owns the local SQLite
//! file and every write to it; each write is one transaction that also appends to the outbox the
//! records that sync later sends. No network, no Tauri, no GTK: the sync engine (`sotay-sync`)
//! does the talking and calls the store's local steps, and the application layer
//! (`sotay-application`) is what the CLI and the desktop shell call.

#![forbid(unsafe_code)]

mod backup;
mod changes;
pub mod citizens;
mod db;
pub mod error;
pub mod export;
pub mod import;
pub mod outbox;
pub mod protect;
pub mod refdata;
pub mod report;
pub mod rules;
pub mod sample;
pub mod sessions;
mod shared;
pub mod sheet;
mod store;
pub mod sync_state;
pub mod text;
pub mod validate;
mod views;

pub use citizens::{
    AddedCitizen, CitizenInput, CitizenPage, CitizenPatch, CitizenSort, DuplicateGroup,
    DuplicateReason,
};
pub use db::{migrate_sqlite, SCHEMA_VERSION};
pub use error::{CoreError, CoreResult, FieldError};
pub use import::{ImportConsent, ImportOptions, ImportReport};
pub use outbox::OutboxStatus;
pub use protect::{DatabaseFile, Passphrase};
pub use sessions::{
    AttendedSession, AttendeeInput, CitizenHistory, OutcomeDetail, SessionDetail, SessionInput,
    SessionSummary,
};
pub use shared::SharedStore;
pub use store::{NewTeam, Store, TeamInfo};
pub use sync_state::{BundleSummary, ConflictEntry, SyncStatus};
pub use views::Headline;
