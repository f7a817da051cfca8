//! The Sổ Tay central server: receives each laptop's outbox in batches, stores every record once
//! (idempotent on `(device, seq)`), merges them into the team's current state with the same rules
//! as the laptops, and serves the team's records back to its other devices. Instances behind a load
//! balancer share only the database: what one keeps in memory between requests (a device's
//! batches waiting their turn, `turns`) is a shortcut it checks against the database.
//!
//! Storage is a set of domain operations ([`store::Storage`]) with one implementation per engine:
//! SQLite (a commune or district office) or PostgreSQL (a province). What a batch means is decided
//! once, apart from both ([`apply`]).

#![forbid(unsafe_code)]

pub mod admin;
pub mod apply;
mod error;
mod http;
pub mod store;
pub mod tls;
mod turns;

pub use error::{ServerError, ServerResult};
pub use http::{router, serve, Settings};
pub use store::{Database, Storage};
pub use tls::TlsIdentity;
