//! Sổ Tay core: everything a laptop does without a network. The [`Store`] owns the local SQLite
//! file and every write to it; each write is one transaction that also appends to the outbox the
//! records that sync later sends. No Tauri or GTK here: the CLI and the desktop shell both call in.

#![forbid(unsafe_code)]

mod changes;
pub mod citizens;
mod db;
pub mod error;
pub mod export;
pub mod import;
pub mod outbox;
pub mod refdata;
pub mod report;
pub mod sessions;
pub mod sheet;
mod store;
pub mod sync;
pub mod text;
pub mod validate;

pub use citizens::{AddedCitizen, CitizenInput, CitizenSort, DuplicateGroup, DuplicateReason};
pub use db::SCHEMA_VERSION;
pub use error::{CoreError, CoreResult, FieldError};
pub use import::{ImportOptions, ImportReport};
pub use outbox::OutboxStatus;
pub use sessions::{AttendeeInput, SessionDetail, SessionInput, SessionSummary};
pub use store::{NewTeam, Store, TeamInfo};
