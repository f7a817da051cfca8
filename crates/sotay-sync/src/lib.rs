//! The sync engine: a laptop pushes its outbox to the server in adaptive batches and pulls what the
//! team's other devices recorded, over a link that is slow and cuts out. Three parts, each one job:
//! `decide` (pure decisions: backoff, batch size, what is worth retrying; table-tested),
//! `api_client` (the HTTP transport, reqwest with rustls on tokio) and `engine` (the loop, which
//! locks the store only for short local steps between requests and reports progress).
//!
//! Guarantees (see docs/sync.md): a record is marked sent only when the server acknowledged a
//! sequence at or beyond it; the server stores `(device, seq)` once, so resending after any failure
//! is harmless; only one batch is in memory at a time; a sync that did not finish says so.

#![forbid(unsafe_code)]

mod api_client;
pub mod decide;
mod engine;
mod error;
mod trust;

pub use decide::SyncConfig;
pub use engine::{enroll, reenroll, server_reachable, sync, SyncProgress, SyncSummary};
pub use error::{NetworkFailure, SyncError, SyncResult};
