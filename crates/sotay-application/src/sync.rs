//! Sync's use cases: enrol with a server, sync now (with progress), the background sync's cue,
//! status, conflicts, and the USB bundle for when there is no network at all.

use crate::error::AppResult;
use crate::App;
use sotay_core::{BundleSummary, ConflictEntry, SyncStatus, TeamInfo};
use sotay_sync::{SyncConfig, SyncProgress, SyncSummary};
use std::path::Path;
use std::time::Duration;

/// How hard `sync` tries; the rest of the engine's settings keep their defaults.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Seconds before one request is abandoned and retried.
    pub timeout_secs: u64,
    /// Failed attempts in a row before giving up.
    pub attempts: u32,
    /// Batches on their way at once, each on its own connection.
    pub in_flight: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        let config = SyncConfig::default();
        Self {
            timeout_secs: config.request_timeout.as_secs(),
            attempts: config.max_attempts,
            in_flight: config.in_flight,
        }
    }
}

impl SyncOptions {
    pub fn config(self) -> SyncConfig {
        SyncConfig {
            request_timeout: Duration::from_secs(self.timeout_secs),
            max_attempts: self.attempts,
            in_flight: self.in_flight,
            ..Default::default()
        }
    }
}

impl App {
    /// Joins the server's team with a one-time code. `fingerprint` is the server certificate's,
    /// as the administrator printed it; without it, the certificate the server shows now is the
    /// one trusted from then on (`sync_status().certificate`).
    pub async fn enroll(
        &self,
        server: &str,
        code: &str,
        volunteer: Option<&str>,
        fingerprint: Option<&str>,
    ) -> AppResult<TeamInfo> {
        Ok(sotay_sync::enroll(&self.store, server, code, volunteer, fingerprint).await?)
    }

    /// Enrols again with a new code, keeping the team and every record; see
    /// `sotay_sync::reenroll`.
    pub async fn reenroll(
        &self,
        server: &str,
        code: &str,
        fingerprint: Option<&str>,
    ) -> AppResult<TeamInfo> {
        Ok(sotay_sync::reenroll(&self.store, server, code, fingerprint).await?)
    }

    /// Pushes what waits and pulls the team's records; `progress` hears "X of Y" after each
    /// batch. The store stays usable by every other use case meanwhile.
    pub async fn sync(
        &self,
        config: &SyncConfig,
        progress: &mut (dyn FnMut(SyncProgress) + Send),
    ) -> AppResult<SyncSummary> {
        Ok(sotay_sync::sync(&self.store, config, progress).await?)
    }

    /// Whether records wait and the server answers on its port: the background sync's cue.
    pub async fn should_sync_in_background(&self) -> bool {
        let Ok(status) = self.store.with(|s| s.sync_status()) else {
            return false;
        };
        match status.server.filter(|_| status.enrolled) {
            Some(server) if status.pending > 0 => sotay_sync::server_reachable(&server).await,
            _ => false,
        }
    }

    pub fn sync_status(&self) -> AppResult<SyncStatus> {
        Ok(self.store.with(|s| s.sync_status())?)
    }

    pub fn conflicts(&self) -> AppResult<Vec<ConflictEntry>> {
        Ok(self.store.with(|s| s.conflicts())?)
    }

    /// Puts a value that lost a merge back, as a new edit that syncs (see
    /// `sotay_core::Store::use_lost_value`).
    pub fn use_lost_value(&self, conflict: i64) -> AppResult<()> {
        Ok(self.store.with(|s| s.use_lost_value(conflict))?)
    }

    pub fn export_bundle(&self, out: &Path) -> AppResult<BundleSummary> {
        Ok(self.store.with(|s| s.export_bundle(out))?)
    }
}
