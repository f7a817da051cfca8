//! The Sổ Tay central server: receives each laptop's outbox in batches, stores every record once
//! (idempotent on `(device, seq)`), merges them into the team's current state with the same rules
//! as the laptops, and serves the team's records back to its other devices. It keeps no state in
//! memory between requests, so instances behind a load balancer share only the database.
//!
//! Storage is SQLite (a commune or district office) or PostgreSQL (a province); both run the same
//! SQL through [`db::Conn`].

#![forbid(unsafe_code)]

pub mod admin;
mod apply;
pub mod db;
mod error;
mod http;

pub use db::Database;
pub use error::{ServerError, ServerResult};
pub use http::{router, serve, Settings};
