//! The server's storage as domain operations ([`Storage`]), with one implementation per engine,
//! each written the way that engine is used best: [`SqliteStorage`] (a commune or district
//! office; rusqlite, prepared statements, one transaction per batch) and [`PostgresStorage`] (a
//! province; sqlx, a pool, native `uuid`/`jsonb`/`timestamptz`, set-based batch writes).
//! What a batch means is decided once, in [`crate::apply`]; the engines load and write.

mod postgres;
mod sqlite;

pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

use crate::admin::{QuarantineEntry, TeamStats};
use crate::apply::{DeviceRow, PullFrom, RecordPage};
use crate::error::ServerResult;
use sotay_core::report::CommuneTarget;
use sotay_protocol::sync::{OwnRecords, PushResponse};
use sotay_protocol::{DeviceId, TeamId, TeamV1, VolunteerV1};
use std::future::Future;
use std::path::Path;

/// A device as an administrator's bundle import needs it: its row, its token hash (the key that
/// checks the bundle's signature) and whether it was revoked.
#[derive(Debug, Clone)]
pub struct DeviceKey {
    pub device: DeviceRow,
    pub token_hash: String,
    pub revoked: bool,
}

/// Everything a server report is built from.
#[derive(Debug, Default)]
pub struct ReportData {
    /// `(entity, state as JSON, team)` of every live citizen, session and attendance.
    pub states: Vec<(String, String, TeamId)>,
    pub teams: Vec<(TeamId, String)>,
    pub targets: Vec<CommuneTarget>,
}

/// What the server keeps, as the operations it needs. Every operation is one transaction.
pub trait Storage: Clone + Send + Sync + 'static {
    /// The device a bearer token belongs to; unknown tokens and revoked devices are refused.
    fn authenticate(
        &self,
        token_hash: String,
    ) -> impl Future<Output = ServerResult<DeviceRow>> + Send;

    fn team(&self, id: TeamId) -> impl Future<Output = ServerResult<TeamV1>> + Send;

    /// The highest sequence of the device the server holds (stored or set aside), and the ID of
    /// the record at it.
    fn acked(
        &self,
        device: DeviceId,
    ) -> impl Future<Output = ServerResult<(u64, Option<sotay_protocol::RecordId>)>> + Send;

    /// Applies a batch of one device's records ([`crate::apply::plan_batch`]), all or nothing,
    /// while holding the team's position so positions commit in order.
    fn push(
        &self,
        device: DeviceRow,
        batch: crate::apply::Batch,
    ) -> impl Future<Output = ServerResult<PushResponse>> + Send;

    /// Records of the device's team written by its other devices, after `from`.
    fn pull(
        &self,
        device: DeviceRow,
        from: PullFrom,
        limit: u64,
    ) -> impl Future<Output = ServerResult<RecordPage>> + Send;

    /// The team's volunteers (live), sent with each pull.
    fn volunteers(
        &self,
        team: TeamId,
    ) -> impl Future<Output = ServerResult<Vec<VolunteerV1>>> + Send;

    /// This device's own records with `after < seq <= after + limit`, and those set aside.
    fn own_records(
        &self,
        device: DeviceRow,
        after: u64,
        limit: u64,
    ) -> impl Future<Output = ServerResult<OwnRecords>> + Send;

    /// Stores a one-time enrolment code for the team of that name, creating the team from
    /// `new_team` when none has the name. `None` when there is no such team and nothing to
    /// create.
    fn add_enrolment_code(
        &self,
        team_name: String,
        new_team: Option<TeamV1>,
        code_hash: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = ServerResult<Option<(TeamId, String)>>> + Send;

    /// Trades an unused, unexpired code for a device token (stored as its hash).
    fn enroll(
        &self,
        code_hash: String,
        device: DeviceId,
        token_hash: String,
    ) -> impl Future<Output = ServerResult<DeviceRow>> + Send;

    /// False when there is no such device still enrolled.
    fn revoke(&self, device: DeviceId) -> impl Future<Output = ServerResult<bool>> + Send;

    fn device_key(
        &self,
        device: DeviceId,
    ) -> impl Future<Output = ServerResult<Option<DeviceKey>>> + Send;

    fn stats(&self) -> impl Future<Output = ServerResult<Vec<TeamStats>>> + Send;

    /// Every record set aside, newest first.
    fn quarantine(&self) -> impl Future<Output = ServerResult<Vec<QuarantineEntry>>> + Send;

    fn set_target(&self, target: CommuneTarget) -> impl Future<Output = ServerResult<()>> + Send;

    fn report_data(&self) -> impl Future<Output = ServerResult<ReportData>> + Send;
}

/// The engine a server runs on, chosen at start.
#[derive(Clone)]
pub enum Database {
    Sqlite(SqliteStorage),
    Postgres(PostgresStorage),
}

impl Database {
    /// Opens (creating if needed) an SQLite server database and brings its schema up to date.
    pub fn open_sqlite(path: &Path) -> ServerResult<Self> {
        Ok(Database::Sqlite(SqliteStorage::open(path)?))
    }

    /// Connects to PostgreSQL (`postgres://user:pass@host/db`) and brings the schema up to date.
    pub async fn connect_postgres(url: &str) -> ServerResult<Self> {
        Ok(Database::Postgres(PostgresStorage::connect(url).await?))
    }
}

macro_rules! dispatch {
    ($self:ident . $op:ident ( $($arg:expr),* )) => {
        match $self {
            Database::Sqlite(s) => s.$op($($arg),*).await,
            Database::Postgres(s) => s.$op($($arg),*).await,
        }
    };
}

impl Storage for Database {
    async fn authenticate(&self, token_hash: String) -> ServerResult<DeviceRow> {
        dispatch!(self.authenticate(token_hash))
    }
    async fn team(&self, id: TeamId) -> ServerResult<TeamV1> {
        dispatch!(self.team(id))
    }
    async fn acked(
        &self,
        device: DeviceId,
    ) -> ServerResult<(u64, Option<sotay_protocol::RecordId>)> {
        dispatch!(self.acked(device))
    }
    async fn push(
        &self,
        device: DeviceRow,
        batch: crate::apply::Batch,
    ) -> ServerResult<PushResponse> {
        dispatch!(self.push(device, batch))
    }
    async fn pull(
        &self,
        device: DeviceRow,
        from: PullFrom,
        limit: u64,
    ) -> ServerResult<RecordPage> {
        dispatch!(self.pull(device, from, limit))
    }
    async fn volunteers(&self, team: TeamId) -> ServerResult<Vec<VolunteerV1>> {
        dispatch!(self.volunteers(team))
    }
    async fn own_records(
        &self,
        device: DeviceRow,
        after: u64,
        limit: u64,
    ) -> ServerResult<OwnRecords> {
        dispatch!(self.own_records(device, after, limit))
    }
    async fn add_enrolment_code(
        &self,
        team_name: String,
        new_team: Option<TeamV1>,
        code_hash: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> ServerResult<Option<(TeamId, String)>> {
        dispatch!(self.add_enrolment_code(team_name, new_team, code_hash, expires_at))
    }
    async fn enroll(
        &self,
        code_hash: String,
        device: DeviceId,
        token_hash: String,
    ) -> ServerResult<DeviceRow> {
        dispatch!(self.enroll(code_hash, device, token_hash))
    }
    async fn revoke(&self, device: DeviceId) -> ServerResult<bool> {
        dispatch!(self.revoke(device))
    }
    async fn device_key(&self, device: DeviceId) -> ServerResult<Option<DeviceKey>> {
        dispatch!(self.device_key(device))
    }
    async fn stats(&self) -> ServerResult<Vec<TeamStats>> {
        dispatch!(self.stats())
    }
    async fn quarantine(&self) -> ServerResult<Vec<QuarantineEntry>> {
        dispatch!(self.quarantine())
    }
    async fn set_target(&self, target: CommuneTarget) -> ServerResult<()> {
        dispatch!(self.set_target(target))
    }
    async fn report_data(&self) -> ServerResult<ReportData> {
        dispatch!(self.report_data())
    }
}

/// Shared by both engines' `own_records`: the page's bounds and whether more follow.
pub(crate) fn own_page_end(after: u64, limit: u64, acked: u64) -> (u64, bool) {
    let last = after.saturating_add(limit);
    (last.min(acked), last < acked)
}

/// Parses a stored value that the server itself wrote; failure means a damaged database.
pub(crate) fn stored<T: std::str::FromStr>(text: &str, what: &str) -> ServerResult<T> {
    text.parse()
        .map_err(|_| crate::ServerError::Internal(format!("{what} hỏng trong CSDL")))
}

/// A team from its stored columns: name, organisation, province, commune.
pub(crate) fn team_from_columns(
    id: TeamId,
    (name, organisation_text, province_code, commune_code): (String, String, String, String),
) -> ServerResult<TeamV1> {
    Ok(TeamV1 {
        id,
        name,
        organisation: organisation(&organisation_text)?,
        province_code,
        commune_code,
    })
}

pub(crate) fn organisation(text: &str) -> ServerResult<sotay_protocol::Organisation> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| crate::ServerError::Internal("tổ chức hỏng trong CSDL".into()))
}

pub(crate) fn organisation_text(organisation: sotay_protocol::Organisation) -> String {
    match serde_json::to_value(organisation) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("unit variants serialise to strings"),
    }
}
