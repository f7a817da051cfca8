//! The laptop's side of sync: enrolment with a server, push of the outbox in compressed batches,
//! pull of the team's other devices' records, conflicts, status, and USB bundles for when there is
//! no network at all.
//!
//! Guarantees (see docs/sync.md): a record is marked sent only when the server acknowledged a
//! sequence at or beyond it; the server stores `(device, seq)` once, so resending after any failure
//! is harmless; only one batch is in memory at a time; a sync that did not finish says so.

use crate::changes::{apply_remote, record_local};
use crate::error::{CoreError, CoreResult};
use crate::outbox::{self, now_rfc3339};
use crate::store::{Store, TeamInfo};
use hmac::{Hmac, Mac};
use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sotay_protocol::sync::{
    DeviceStatus, EnrollRequest, EnrollResponse, ErrorBody, PullResponse, PushRequest,
    PushResponse, PROTOCOL_HEADER,
};
use sotay_protocol::{
    DeviceId, Operation, OutboxRecord, Payload, TeamV1, VolunteerId, VolunteerV1, PROTOCOL_VERSION,
};
use std::path::Path;
use std::time::{Duration, Instant};

const META_SERVER: &str = "sync.server";
const META_TOKEN: &str = "sync.token";
const META_CURSOR: &str = "sync.pull_cursor";
const META_LAST_SUCCESS: &str = "sync.last_success";
const META_LAST_ERROR: &str = "sync.last_error";
const META_LAST_ATTEMPT: &str = "sync.last_attempt";

/// How hard sync tries. The defaults suit a slow village link.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Timeout of one whole request.
    pub request_timeout: Duration,
    /// Failed attempts in a row before giving up.
    pub max_attempts: u32,
    pub initial_batch: usize,
    pub min_batch: usize,
    pub max_batch: usize,
    /// First retry delay; doubles per failure, with ±50 % jitter, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A batch answered faster than this may grow; slower, it shrinks.
    pub target_request_time: Duration,
    pub pull_page: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(60),
            max_attempts: 6,
            initial_batch: 200,
            min_batch: 10,
            max_batch: 2_000,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            target_request_time: Duration::from_secs(5),
            pull_page: 500,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SyncProgress {
    /// Records acknowledged so far in this sync.
    pub sent: u64,
    /// Records that were pending when the sync started.
    pub total: u64,
    pub bytes_sent: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncSummary {
    pub pushed: u64,
    /// Records the server already had (sent before an interrupted acknowledgement).
    pub duplicates: u64,
    pub pulled: u64,
    pub requests: u64,
    pub retries: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Still pending after this sync (0 on success, unless records were added meanwhile).
    pub pending: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    pub server: Option<String>,
    pub enrolled: bool,
    pub pending: u64,
    pub last_success: Option<String>,
    pub last_attempt: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConflictEntry {
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    pub lost_value: serde_json::Value,
    pub lost_hlc: String,
    pub winner_hlc: String,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BundleSummary {
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub bytes: u64,
}

/// What a bundle file holds after its header line.
#[derive(Debug, Serialize, Deserialize)]
pub struct BundleContent {
    pub protocol_version: u32,
    pub device_id: DeviceId,
    pub created_at: String,
    pub records: Vec<OutboxRecord>,
}

pub const BUNDLE_MAGIC: &str = "SOTAY-BUNDLE-1";

/// Compresses a request body as the protocol requires: zstd with the frame's content checksum,
/// so that a body corrupted on the way fails to decompress instead of being misread.
pub fn compress_body(json: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder =
        zstd::stream::Encoder::new(Vec::new(), 3).expect("level 3 is a valid zstd level");
    encoder
        .include_checksum(true)
        .expect("checksums are supported");
    encoder.write_all(json).expect("writing to memory");
    encoder.finish().expect("finishing into memory")
}

/// Whether a zstd body carries the content checksum that `compress_body` adds (bit 2 of the
/// frame header descriptor, after the 4-byte magic number).
pub fn has_checksum(body: &[u8]) -> bool {
    body.len() > 4 && body[..4] == [0x28, 0xb5, 0x2f, 0xfd] && body[4] & 0x04 != 0
}

/// Hash under which the server stores a device token (hex SHA-256).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The signature of a bundle: HMAC-SHA256 keyed by the token's hash (which both the device and
/// the server hold) over the header prefix and the compressed body.
pub fn bundle_mac(token_hash_hex: &str, device: DeviceId, body: &[u8]) -> CoreResult<String> {
    let key = hex::decode(token_hash_hex).map_err(|e| CoreError::Bundle(e.to_string()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{BUNDLE_MAGIC} {device} ").as_bytes());
    mac.update(body);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Splits and checks a bundle file; returns the device it claims and the verified content.
/// `key_for` gives the token hash of an enrolled device (None: unknown device).
pub fn open_bundle(
    bytes: &[u8],
    key_for: impl FnOnce(DeviceId) -> Option<String>,
) -> CoreResult<BundleContent> {
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| CoreError::Bundle("thiếu dòng tiêu đề".into()))?;
    let header = std::str::from_utf8(&bytes[..newline])
        .map_err(|_| CoreError::Bundle("dòng tiêu đề hỏng".into()))?;
    let body = &bytes[newline + 1..];
    let mut parts = header.split(' ');
    let (Some(BUNDLE_MAGIC), Some(device), Some(mac), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CoreError::Bundle("không phải gói Sổ Tay".into()));
    };
    let device: DeviceId = device
        .parse()
        .map_err(|_| CoreError::Bundle("mã máy hỏng".into()))?;
    let key = key_for(device)
        .ok_or_else(|| CoreError::Bundle(format!("máy {device} không thuộc máy chủ này")))?;
    let expected = bundle_mac(&key, device, body)?;
    // Both are hex of a fixed length; compare all bytes so timing says nothing.
    let same = expected.len() == mac.len()
        && expected
            .bytes()
            .zip(mac.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(CoreError::Bundle(
            "chữ ký không khớp: gói đã bị sửa hoặc bị cắt".into(),
        ));
    }
    let json = zstd::decode_all(body).map_err(|e| CoreError::Bundle(e.to_string()))?;
    let content: BundleContent =
        serde_json::from_slice(&json).map_err(|e| CoreError::Bundle(e.to_string()))?;
    if content.device_id != device {
        return Err(CoreError::Bundle(
            "mã máy trong gói không khớp tiêu đề".into(),
        ));
    }
    if content.records.iter().any(|r| r.device_id != device) {
        return Err(CoreError::Bundle("gói chứa bản ghi của máy khác".into()));
    }
    Ok(content)
}

struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
    requests: u64,
    bytes_sent: u64,
    bytes_received: u64,
}

enum Failure {
    /// Worth retrying: network error, timeout, 5xx.
    Transient(CoreError),
    Final(CoreError),
}

impl Client {
    fn new(base: &str, token: Option<String>, timeout: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            token,
            requests: 0,
            bytes_sent: 0,
            bytes_received: 0,
        }
    }

    /// One request: JSON out (zstd-compressed when `body` is given), JSON back.
    fn call<T: DeserializeOwned>(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, Failure> {
        let url = format!("{}{path}", self.base);
        let version = PROTOCOL_VERSION.to_string();
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        self.requests += 1;
        let result = match (method, body) {
            ("GET", _) => {
                let mut req = self.agent.get(&url).header(PROTOCOL_HEADER, &version);
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.call()
            }
            (_, body) => {
                let compressed = compress_body(&body.unwrap_or_default());
                self.bytes_sent += compressed.len() as u64;
                let mut req = self
                    .agent
                    .post(&url)
                    .header(PROTOCOL_HEADER, &version)
                    .header("content-type", "application/json")
                    .header("content-encoding", "zstd");
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.send(&compressed[..])
            }
        };
        let mut response =
            result.map_err(|e| Failure::Transient(CoreError::Network(e.to_string())))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| Failure::Transient(CoreError::Network(e.to_string())))?;
        self.bytes_received += bytes.len() as u64;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| {
                Failure::Transient(CoreError::Network(format!("câu trả lời hỏng: {e}")))
            });
        }
        let (kind, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(b) => (b.error.kind, b.error.message),
            Err(_) => (
                "http".to_owned(),
                String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            ),
        };
        let err = CoreError::Server {
            status,
            kind,
            message,
        };
        if status >= 500 || status == 408 || status == 429 {
            Err(Failure::Transient(err))
        } else {
            Err(Failure::Final(err))
        }
    }
}

/// Retry delay for the `attempt`-th failure in a row: exponential, capped, ±50 % jitter so that
/// many laptops coming online together do not retry in step.
pub fn backoff(config: &SyncConfig, attempt: u32, jitter_unit: f64) -> Duration {
    let exp = config
        .base_backoff
        .saturating_mul(1u32 << attempt.min(16))
        .min(config.max_backoff);
    exp.mul_f64(0.5 + jitter_unit.clamp(0.0, 1.0))
}

/// The next batch size after a request: grow on fast success, halve on failure or slowness.
pub fn next_batch(config: &SyncConfig, current: usize, ok: bool, took: Duration) -> usize {
    if ok && took < config.target_request_time {
        (current * 2).min(config.max_batch)
    } else if ok {
        current
    } else {
        (current / 2).max(config.min_batch)
    }
}

fn jitter() -> f64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    f64::from(u16::from_le_bytes([bytes[0], bytes[1]])) / f64::from(u16::MAX)
}

impl Store {
    fn set_meta(&self, key: &str, value: Option<&str>) -> CoreResult<()> {
        match value {
            Some(v) => self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, v],
            )?,
            None => self
                .conn
                .execute("DELETE FROM meta WHERE key = ?1", [key])?,
        };
        Ok(())
    }

    /// Trades a one-time enrolment code for a device token. The laptop joins the code's team; a
    /// laptop set up offline with `init_team` keeps all its records, moved to that team.
    pub fn enroll(
        &mut self,
        server: &str,
        code: &str,
        volunteer: Option<&str>,
    ) -> CoreResult<TeamInfo> {
        if let Some(server) = self.meta(META_SERVER)? {
            return Err(CoreError::AlreadyEnrolled { server });
        }
        let mut client = Client::new(server, None, SyncConfig::default().request_timeout);
        let request = EnrollRequest {
            code: code.trim().to_owned(),
            device_id: self.device,
        };
        let body = serde_json::to_vec(&request).expect("request serialises");
        let response: EnrollResponse =
            client
                .call("POST", "/v1/enroll", Some(body))
                .map_err(|f| match f {
                    Failure::Transient(e) | Failure::Final(e) => e,
                })?;
        let team = response.team;
        let local_team = self.team().ok().map(|t| t.team);
        let tx = self.conn.transaction()?;
        // Pulled team and roster records are not this device's changes: no outbox records.
        match local_team {
            Some(local) if local.id != team.id => adopt_team(&tx, &local, &team)?,
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO team (id, name, organisation, province_code, commune_code,
                                       updated_hlc)
                     VALUES (?1, ?2, ?3, ?4, ?5, '')",
                    params![
                        team.id.to_string(),
                        team.name,
                        crate::store::enum_str(&team.organisation),
                        team.province_code,
                        team.commune_code
                    ],
                )?;
            }
        }
        if let Some(name) = volunteer {
            let name = crate::validate::required(name, crate::validate::Field::Volunteer)?;
            let v = VolunteerV1 {
                id: VolunteerId::new(),
                team_id: team.id,
                name,
            };
            record_local(
                &tx,
                self.device,
                Operation::Upsert,
                &Payload::Volunteer(v.clone()),
                &[],
            )?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('current_volunteer', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [v.id.to_string()],
            )?;
        }
        for (key, value) in [
            (META_SERVER, server),
            (META_TOKEN, response.device_token.as_str()),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
        }
        tx.commit()?;
        self.team()
    }

    fn client(&self, config: &SyncConfig) -> CoreResult<Client> {
        let server = self.meta(META_SERVER)?.ok_or(CoreError::NotEnrolled)?;
        let token = self.meta(META_TOKEN)?.ok_or(CoreError::NotEnrolled)?;
        Ok(Client::new(&server, Some(token), config.request_timeout))
    }

    /// Pushes every pending record, then pulls what the team's other devices recorded.
    pub fn sync(
        &mut self,
        config: &SyncConfig,
        progress: &mut dyn FnMut(SyncProgress),
    ) -> CoreResult<SyncSummary> {
        let mut client = self.client(config)?;
        self.set_meta(META_LAST_ATTEMPT, Some(&now_rfc3339()))?;
        let mut summary = SyncSummary::default();
        let result = self.sync_with(&mut client, config, progress, &mut summary);
        summary.requests = client.requests;
        summary.bytes_sent = client.bytes_sent;
        summary.bytes_received = client.bytes_received;
        summary.pending = self.outbox_status()?.pending;
        match result {
            Ok(()) => {
                self.set_meta(META_LAST_SUCCESS, Some(&now_rfc3339()))?;
                self.set_meta(META_LAST_ERROR, None)?;
                Ok(summary)
            }
            Err(e) => {
                self.set_meta(META_LAST_ERROR, Some(&e.to_string()))?;
                Err(e)
            }
        }
    }

    /// Runs `call` until it succeeds, retrying transient failures with backoff.
    fn with_retries<T>(
        client: &mut Client,
        config: &SyncConfig,
        summary: &mut SyncSummary,
        mut on_failure: impl FnMut(),
        mut call: impl FnMut(&mut Client) -> Result<T, Failure>,
    ) -> CoreResult<T> {
        let mut attempt = 0;
        loop {
            match call(client) {
                Ok(v) => return Ok(v),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Transient(e)) => {
                    attempt += 1;
                    if attempt >= config.max_attempts {
                        return Err(e);
                    }
                    summary.retries += 1;
                    on_failure();
                    std::thread::sleep(backoff(config, attempt - 1, jitter()));
                }
            }
        }
    }

    fn sync_with(
        &mut self,
        client: &mut Client,
        config: &SyncConfig,
        progress: &mut dyn FnMut(SyncProgress),
        summary: &mut SyncSummary,
    ) -> CoreResult<()> {
        // What the server already holds: records acknowledged by a response we never received,
        // or applied from a USB bundle, are marked sent here.
        let status: DeviceStatus = Self::with_retries(
            client,
            config,
            summary,
            || {},
            |c| c.call("GET", "/v1/status", None),
        )?;
        outbox::mark_acked(&self.conn, status.acked_seq)?;
        let total = self.outbox_status()?.pending;
        let mut acked = status.acked_seq;
        let mut batch = config.initial_batch;
        let mut sent = 0;
        progress(SyncProgress {
            sent,
            total,
            bytes_sent: client.bytes_sent,
        });
        loop {
            let mut shrink = false;
            let started = Instant::now();
            let response: PushResponse = {
                let conn = &self.conn;
                let device = self.device;
                let batch_now = std::cell::Cell::new(batch);
                let result = Self::with_retries(
                    client,
                    config,
                    summary,
                    || {
                        shrink = true;
                        batch_now.set((batch_now.get() / 2).max(config.min_batch));
                    },
                    |c| {
                        let records = outbox::pending(conn, acked, batch_now.get())
                            .map_err(Failure::Final)?;
                        if records.is_empty() {
                            return Ok(None);
                        }
                        let body = serde_json::to_vec(&PushRequest {
                            device_id: device,
                            records,
                        })
                        .expect("records serialise");
                        c.call::<PushResponse>("POST", "/v1/push", Some(body))
                            .map(Some)
                    },
                );
                batch = batch_now.get();
                match result? {
                    None => break,
                    Some(r) => r,
                }
            };
            outbox::mark_acked(&self.conn, response.acked_seq)?;
            sent += response.acked_seq.saturating_sub(acked);
            acked = response.acked_seq;
            summary.pushed += response.applied;
            summary.duplicates += response.duplicates;
            batch = next_batch(config, batch, !shrink, started.elapsed());
            progress(SyncProgress {
                sent: sent.min(total),
                total,
                bytes_sent: client.bytes_sent,
            });
        }
        self.pull(client, config, summary)
    }

    fn pull(
        &mut self,
        client: &mut Client,
        config: &SyncConfig,
        summary: &mut SyncSummary,
    ) -> CoreResult<()> {
        loop {
            let cursor: u64 = self
                .meta(META_CURSOR)?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let catalogue = self.catalogue()?.version.clone();
            let path = format!(
                "/v1/pull?cursor={cursor}&limit={}&catalogue={catalogue}",
                config.pull_page
            );
            let page: PullResponse = Self::with_retries(
                client,
                config,
                summary,
                || {},
                |c| c.call("GET", &path, None),
            )?;
            let tx = self.conn.transaction()?;
            // Records of one page may refer to each other in any order (an attendance before
            // its session arrives later in the same page); checked at commit.
            tx.pragma_update(None, "defer_foreign_keys", true)?;
            for record in &page.records {
                apply_remote(&tx, record)?;
            }
            for v in &page.volunteers {
                tx.execute(
                    "INSERT INTO volunteer (id, team_id, name, updated_hlc) VALUES (?1, ?2, ?3, '')
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                    params![v.id.to_string(), v.team_id.to_string(), v.name],
                )?;
            }
            tx.execute(
                "UPDATE team SET name = ?2, organisation = ?3, province_code = ?4,
                     commune_code = ?5 WHERE id = ?1",
                params![
                    page.team.id.to_string(),
                    page.team.name,
                    crate::store::enum_str(&page.team.organisation),
                    page.team.province_code,
                    page.team.commune_code
                ],
            )?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![META_CURSOR, page.next_cursor.to_string()],
            )?;
            // A newer catalogue from the server replaces ours; an older one (a server not yet
            // upgraded) is ignored.
            if let Some(value) = &page.catalogue {
                if let Ok(pulled) =
                    serde_json::from_value::<crate::refdata::SkillCatalogue>(value.clone())
                {
                    if pulled.is_newer_than(&catalogue) {
                        tx.execute(
                            "INSERT INTO meta (key, value) VALUES ('catalogue', ?1)
                             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            [value.to_string()],
                        )?;
                    }
                }
            }
            tx.commit()?;
            summary.pulled += page.records.len() as u64;
            if !page.more {
                return Ok(());
            }
        }
    }

    pub fn sync_status(&self) -> CoreResult<SyncStatus> {
        Ok(SyncStatus {
            server: self.meta(META_SERVER)?,
            enrolled: self.meta(META_TOKEN)?.is_some(),
            pending: self.outbox_status()?.pending,
            last_success: self.meta(META_LAST_SUCCESS)?,
            last_attempt: self.meta(META_LAST_ATTEMPT)?,
            last_error: self.meta(META_LAST_ERROR)?,
        })
    }

    /// Values that lost a merge, newest first.
    pub fn conflicts(&self) -> CoreResult<Vec<ConflictEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT entity, entity_id, field, lost_value, lost_hlc, winner_hlc, recorded_at
             FROM conflict ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ConflictEntry {
                entity: r.get(0)?,
                entity_id: r.get(1)?,
                field: r.get(2)?,
                lost_value: serde_json::from_str(&r.get::<_, String>(3)?)
                    .unwrap_or(serde_json::Value::Null),
                lost_hlc: r.get(4)?,
                winner_hlc: r.get(5)?,
                recorded_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes every pending record to a signed, compressed file for a USB stick. The records
    /// stay pending until the server acknowledges them (on the next contact after the import).
    pub fn export_bundle(&self, out: &Path) -> CoreResult<BundleSummary> {
        let token = self.meta(META_TOKEN)?.ok_or(CoreError::NotEnrolled)?;
        let records = outbox::pending(&self.conn, 0, usize::MAX >> 1)?;
        let content = BundleContent {
            protocol_version: PROTOCOL_VERSION,
            device_id: self.device,
            created_at: now_rfc3339(),
            records,
        };
        let json = serde_json::to_vec(&content).expect("records serialise");
        let body = zstd::encode_all(json.as_slice(), 9).expect("compressing into memory");
        let mac = bundle_mac(&token_hash(&token), self.device, &body)?;
        let mut file = format!("{BUNDLE_MAGIC} {} {mac}\n", self.device).into_bytes();
        file.extend_from_slice(&body);
        std::fs::write(out, &file).map_err(|e| CoreError::File {
            path: out.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(BundleSummary {
            records: content.records.len() as u64,
            first_seq: content.records.first().map_or(0, |r| r.seq),
            last_seq: content.records.last().map_or(0, |r| r.seq),
            bytes: file.len() as u64,
        })
    }
}

/// Moves a laptop's offline team onto the server's team: rows, merged state and the records
/// still waiting in the outbox (none was ever sent, so rewriting them loses nothing).
fn adopt_team(tx: &rusqlite::Transaction<'_>, local: &TeamV1, server: &TeamV1) -> CoreResult<()> {
    let (old, new) = (local.id.to_string(), server.id.to_string());
    let already_sent: i64 = tx.query_row(
        "SELECT COUNT(*) FROM outbox WHERE acked_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    if already_sent > 0 {
        return Err(CoreError::AlreadyEnrolled {
            server: "(máy chủ trước)".into(),
        });
    }
    let server_json =
        serde_json::to_string(&Payload::Team(server.clone()).to_json()).expect("team serialises");
    // ON UPDATE CASCADE moves volunteers, citizens and sessions with the team row.
    tx.execute(
        "UPDATE team SET id = ?2, name = ?3, organisation = ?4, province_code = ?5,
             commune_code = ?6 WHERE id = ?1",
        params![
            old,
            new,
            server.name,
            crate::store::enum_str(&server.organisation),
            server.province_code,
            server.commune_code
        ],
    )?;
    tx.execute(
        "UPDATE outbox SET payload = json_set(payload, '$.team_id', ?1)
         WHERE entity IN ('volunteer', 'citizen', 'session') AND json_extract(payload, '$.team_id') = ?2",
        params![new, old],
    )?;
    tx.execute(
        "UPDATE outbox SET entity_id = ?1, payload = ?2 WHERE entity = 'team' AND entity_id = ?3",
        params![new, server_json, old],
    )?;
    tx.execute(
        "UPDATE entity_state SET state = json_set(state, '$.fields.team_id', ?1)
         WHERE entity IN ('volunteer', 'citizen', 'session')
           AND json_extract(state, '$.fields.team_id') = ?2",
        params![new, old],
    )?;
    let team_state: Option<String> = tx
        .query_row(
            "SELECT state FROM entity_state WHERE entity = 'team' AND entity_id = ?1",
            [&old],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(state) = team_state {
        let mut state: sotay_protocol::merge::EntityState =
            serde_json::from_str(&state).unwrap_or_default();
        if let serde_json::Value::Object(fields) = Payload::Team(server.clone()).to_json() {
            state.fields.extend(fields);
        }
        tx.execute(
            "UPDATE entity_state SET entity_id = ?1, state = ?2 WHERE entity = 'team' AND entity_id = ?3",
            params![new, serde_json::to_string(&state).expect("state serialises"), old],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let c = SyncConfig::default();
        assert_eq!(backoff(&c, 0, 0.5), c.base_backoff);
        assert_eq!(backoff(&c, 3, 0.5), c.base_backoff * 8);
        assert_eq!(backoff(&c, 30, 0.5), c.max_backoff);
        assert_eq!(backoff(&c, 1, 0.0), c.base_backoff);
        assert_eq!(backoff(&c, 1, 1.0), c.base_backoff * 3);
    }

    #[test]
    fn batch_size_adapts_to_the_link() {
        let c = SyncConfig::default();
        let fast = Duration::from_millis(100);
        let slow = c.target_request_time * 2;
        assert_eq!(next_batch(&c, 200, true, fast), 400);
        assert_eq!(next_batch(&c, 1_500, true, fast), c.max_batch);
        assert_eq!(next_batch(&c, 200, true, slow), 200);
        assert_eq!(next_batch(&c, 200, false, fast), 100);
        assert_eq!(next_batch(&c, 12, false, fast), c.min_batch);
    }

    #[test]
    fn bundles_refuse_tampering_truncation_and_strangers() {
        let device = DeviceId::new();
        let key = token_hash("secret");
        let content = BundleContent {
            protocol_version: PROTOCOL_VERSION,
            device_id: device,
            created_at: "now".into(),
            records: vec![],
        };
        let body = zstd::encode_all(serde_json::to_vec(&content).unwrap().as_slice(), 3).unwrap();
        let mac = bundle_mac(&key, device, &body).unwrap();
        let mut file = format!("{BUNDLE_MAGIC} {device} {mac}\n").into_bytes();
        file.extend_from_slice(&body);
        assert!(open_bundle(&file, |_| Some(key.clone())).is_ok());
        let mut tampered = file.clone();
        let last = tampered.len() - 3;
        tampered[last] ^= 1;
        assert!(open_bundle(&tampered, |_| Some(key.clone())).is_err());
        assert!(open_bundle(&file[..file.len() - 5], |_| Some(key.clone())).is_err());
        assert!(open_bundle(&file, |_| None).is_err());
        assert!(open_bundle(&file, |_| Some(token_hash("other"))).is_err());
    }
}
