//! The HTTP API (axum). Every `/v1` request and response carries the protocol version header; a
//! request without the version this build speaks is refused before anything else is read. Bodies
//! are zstd-compressed JSON with limits on compressed size, decompressed size and records per
//! batch. A middleware authenticates the device before any body is read and hands it to the
//! handler, which calls one storage operation.

use crate::admin;
use crate::apply::{DeviceRow, PullFrom};
use crate::error::{ServerError, ServerResult};
use crate::store::{Database, Storage};
use crate::tls::{TlsIdentity, TlsListener, TlsPeer};
use crate::turns::Turns;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sotay_core::refdata::SkillCatalogue;
use sotay_protocol::sync::{
    DeviceStatus, EnrollRequest, EnrollResponse, OwnRecords, PullResponse, PushRequest,
    PushResponse, FOLLOWS_HEADER, MAX_BATCHES_IN_FLIGHT, PROTOCOL_HEADER, SERVER_TIMING_HEADER,
};
use sotay_protocol::wire::{decompress_body, token_hash, WireError};
use sotay_protocol::PROTOCOL_VERSION;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest request body as sent (compressed).
    pub max_body_bytes: usize,
    /// Largest body after decompression: guards against a small body that inflates hugely.
    pub max_json_bytes: u64,
    pub max_records_per_batch: usize,
    /// Requests handled at once; more are answered "busy" (503, which clients retry later).
    pub max_concurrent_requests: usize,
    /// Longest a request may take, body included; a stalled client is cut off.
    pub request_timeout: std::time::Duration,
    /// Longest a device's batch waits for the batches before it, still on their way on other
    /// connections (`crate::turns`); zero refuses an early batch at once as a gap. Kept well
    /// under the laptops' request timeout (60 s), so that the laptop hears of the gap.
    pub batch_wait: std::time::Duration,
    /// Decompressed JSON that batches read before their turn may hold at once, server-wide
    /// (a batch of 5,000 records is ~3.3 MB); past it, a waiting batch holds only its
    /// compressed body and is read when its turn comes. Zero: never read early.
    pub early_batch_bytes: usize,
    /// Enrolment attempts one address may make per hour (codes are short: no guessing).
    pub enrol_attempts_per_hour: usize,
    /// The skill catalogue laptops receive when theirs is another version.
    pub catalogue: Arc<SkillCatalogue>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            max_json_bytes: 128 * 1024 * 1024,
            max_records_per_batch: 5_000,
            max_concurrent_requests: 64,
            request_timeout: std::time::Duration::from_secs(120),
            // A laptop's batches travel side by side; on a slow link the one before may need
            // several seconds more to arrive.
            batch_wait: std::time::Duration::from_secs(30),
            early_batch_bytes: 64 * 1024 * 1024,
            enrol_attempts_per_hour: 20,
            catalogue: Arc::new(sotay_core::refdata::skills().clone()),
        }
    }
}

#[derive(Clone)]
struct AppState {
    db: Database,
    limits: Settings,
    in_flight: Arc<tokio::sync::Semaphore>,
    turns: Turns,
    /// KiB of [`Settings::early_batch_bytes`] left.
    early: Arc<tokio::sync::Semaphore>,
    enrolments: Arc<std::sync::Mutex<HashMap<IpAddr, Vec<Instant>>>>,
}

pub fn router(db: Database, limits: Settings) -> Router {
    let state = AppState {
        in_flight: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent_requests)),
        turns: Turns::new(
            limits.batch_wait,
            MAX_BATCHES_IN_FLIGHT,
            limits.max_concurrent_requests,
        ),
        early: Arc::new(tokio::sync::Semaphore::new(limits.early_batch_bytes / 1024)),
        enrolments: Arc::default(),
        db,
        limits,
    };
    // Device routes check the token before anything reads the body: a flood of large pushes
    // without a valid token costs the server a header and a lookup each.
    let device = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/push", post(push))
        .route("/v1/pull", get(pull))
        .route("/v1/own", get(own))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_device,
        ));
    let v1 = Router::new()
        .route(
            "/v1/enroll",
            post(enroll).layer(middleware::from_fn_with_state(
                state.clone(),
                limit_enrolment,
            )),
        )
        .merge(device)
        .layer(middleware::from_fn(protocol_version));
    Router::new()
        .merge(v1)
        .route("/health", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// A request's place among the `max_concurrent_requests`, which a push gives up while it waits
/// for its turn (`crate::turns`): waiting costs the server no work.
#[derive(Clone)]
struct Place(Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>);

impl Place {
    fn give_up(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Takes a place again, or answers busy (retried by clients) when none comes free within
    /// a second.
    async fn take_again(&self, places: &Arc<tokio::sync::Semaphore>) -> ServerResult<()> {
        let waited = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            places.clone().acquire_owned(),
        )
        .await;
        let Ok(Ok(permit)) = waited else {
            return Err(ServerError::Busy);
        };
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(permit);
        Ok(())
    }
}

/// At most `max_concurrent_requests` at once (the rest: 503, retried by clients), each within
/// `request_timeout`.
async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Ok(permit) = state.in_flight.clone().try_acquire_owned() else {
        return axum::response::IntoResponse::into_response(ServerError::Busy);
    };
    // Held here until the answer is ready, whatever the handler did with it meanwhile.
    let place = Place(Arc::new(std::sync::Mutex::new(Some(permit))));
    request.extensions_mut().insert(place.clone());
    match tokio::time::timeout(state.limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::response::IntoResponse::into_response(ServerError::Busy),
    }
}

/// How long a request waited for its device to be looked up (for a free connection of the store:
/// PostgreSQL's pool may be busy with other batches). A push's Server-Timing counts it as the
/// server's time, not the link's.
#[derive(Clone, Copy)]
struct Authenticating(std::time::Duration);

/// Refuses a request whose token is missing, unknown or revoked, before its body is read; hands
/// the device on to the handler, which does not look it up again.
async fn require_device(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let arrived = Instant::now();
    let checked = match bearer_hash(request.headers()) {
        Ok(token_hash) => state.db.authenticate(token_hash).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(device) => {
            request.extensions_mut().insert(device);
            request
                .extensions_mut()
                .insert(Authenticating(arrived.elapsed()));
            next.run(request).await
        }
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

/// At most `enrol_attempts_per_hour` enrolment attempts per address (when the server knows the
/// address: `serve` does).
async fn limit_enrolment(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let extensions = request.extensions();
    let address = extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| {
            extensions
                .get::<axum::extract::ConnectInfo<TlsPeer>>()
                .map(|c| c.0 .0.ip())
        });
    if let Some(ip) = address {
        let mut attempts = state.enrolments.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let recent = attempts.entry(ip).or_default();
        recent.retain(|t| now.duration_since(*t) < std::time::Duration::from_secs(3600));
        if recent.len() >= state.limits.enrol_attempts_per_hour {
            return axum::response::IntoResponse::into_response(ServerError::TooManyAttempts);
        }
        recent.push(now);
    }
    next.run(request).await
}

/// Serves until `shutdown` resolves: over TLS when given the server's identity, else plain HTTP
/// (which laptops accept only on their own machine).
pub async fn serve(
    listener: tokio::net::TcpListener,
    db: Database,
    limits: Settings,
    tls: Option<&TlsIdentity>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(db, limits);
    match tls {
        Some(identity) => {
            axum::serve(
                TlsListener::new(listener, identity)?,
                app.into_make_service_with_connect_info::<TlsPeer>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        None => {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
    }
}

async fn protocol_version(request: Request, next: Next) -> Response {
    let got = request
        .headers()
        .get(PROTOCOL_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mut response = if got.as_deref() == Some(PROTOCOL_VERSION.to_string().as_str()) {
        next.run(request).await
    } else {
        axum::response::IntoResponse::into_response(ServerError::ProtocolVersion {
            got,
            supported: PROTOCOL_VERSION,
        })
    };
    response.headers_mut().insert(
        PROTOCOL_HEADER,
        HeaderValue::from_str(&PROTOCOL_VERSION.to_string()).expect("digits are a valid header"),
    );
    response
}

fn decode_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    limits: &Settings,
) -> ServerResult<T> {
    parse_json(&decompress(headers, body, limits)?)
}

/// A body's JSON: decompressed (within the limit) when it says it is zstd.
fn decompress(headers: &HeaderMap, body: &[u8], limits: &Settings) -> ServerResult<Vec<u8>> {
    let zstd = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"zstd"));
    if !zstd {
        return Ok(body.to_vec());
    }
    decompress_body(body, limits.max_json_bytes).map_err(|e| match e {
        WireError::TooLarge { .. } => ServerError::TooLarge(e.to_string()),
        WireError::MissingChecksum | WireError::Corrupt(_) => {
            ServerError::BadRequest(e.to_string())
        }
    })
}

fn parse_json<T: DeserializeOwned>(json: &[u8]) -> ServerResult<T> {
    serde_json::from_slice(json).map_err(|e| ServerError::BadRequest(format!("JSON hỏng: {e}")))
}

fn bearer_hash(headers: &HeaderMap) -> ServerResult<String> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ServerError::Unauthorized)?;
    Ok(token_hash(value.trim()))
}

async fn enroll(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ServerResult<Json<EnrollResponse>> {
    let request: EnrollRequest = decode_body(&headers, &body, &state.limits)?;
    let (token, device) = admin::enroll(&state.db, &request.code, request.device_id).await?;
    let team = state.db.team(device.team_id).await?;
    tracing::info!(device = %device.id, team = %device.team_id, "device enrolled");
    Ok(Json(EnrollResponse {
        device_token: token,
        team,
    }))
}

async fn status(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceRow>,
) -> ServerResult<Json<DeviceStatus>> {
    let (acked_seq, acked_record_id) = state.db.acked(device.id).await?;
    Ok(Json(DeviceStatus {
        device_id: device.id,
        team: state.db.team(device.team_id).await?,
        acked_seq,
        acked_record_id,
        server_time_ms: crate::apply::now_millis(),
    }))
}

async fn push(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceRow>,
    Extension(place): Extension<Place>,
    Extension(Authenticating(authenticating)): Extension<Authenticating>,
    headers: HeaderMap,
    body: Bytes,
) -> ServerResult<([(&'static str, String); 1], Json<PushResponse>)> {
    // The body is read by now: from here on the time is the server's, not the link's (and so
    // was the device's lookup before the body was read).
    let received = Instant::now();
    // Only a batch that says it follows earlier ones still on their way waits for them, read
    // before it waits when the budget for that allows ([`read_early`]); any other is checked at
    // once. What the batch holds is the store's to judge either way.
    let follows = headers
        .get(FOLLOWS_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut early = None;
    if let Some(next) = follows.map(|f| f.saturating_add(1)) {
        if !state.turns.may_go(device.id, next) {
            early = read_early(&state, &headers, &body).await?;
            place.give_up();
            state.turns.wait_for(&state.db, device, next).await?;
            place.take_again(&state.in_flight).await?;
        }
    }
    // The early batch's share of the budget is held until it is stored.
    let (batch, _early_share) = match early {
        Some((batch, share)) => (batch, Some(share)),
        None => (read_batch(&headers, &body, &state.limits)?.into(), None),
    };
    drop(body);
    let response = state.db.push(device, batch).await?;
    // The place goes before the next batch is woken, so that it finds one free.
    place.give_up();
    state.turns.stored(device.id, response.acked_seq);
    tracing::info!(
        device = %device.id,
        applied = response.applied,
        duplicates = response.duplicates,
        acked_seq = response.acked_seq,
        "batch applied"
    );
    let spent = sotay_protocol::sync::server_timing(authenticating + received.elapsed());
    Ok(([(SERVER_TIMING_HEADER, spent)], Json(response)))
}

/// A push's records, decoded and within the limits.
fn read_batch(
    headers: &HeaderMap,
    body: &[u8],
    limits: &Settings,
) -> ServerResult<Vec<sotay_protocol::OutgoingRecord>> {
    records_of(&decompress(headers, body, limits)?, limits)
}

/// Reads and checks, now, a batch that must wait for the batches before it, when the server's
/// budget for batches read early ([`Settings::early_batch_bytes`]) has room for its JSON: the
/// one before is being stored meanwhile, and where a core is free (a laptop's last batches,
/// with nothing left to send) the reading is done by the time its turn comes, not after. A
/// body that does not read is refused now, not after the wait. Without room: None, and the
/// batch is read after its wait, holding only its compressed body while it waits.
async fn read_early(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> ServerResult<Option<(crate::apply::Batch, tokio::sync::OwnedSemaphorePermit)>> {
    let (headers, body, limits, budget) = (
        headers.clone(),
        body.clone(),
        state.limits.clone(),
        state.early.clone(),
    );
    tokio::task::spawn_blocking(move || {
        let json = decompress(&headers, &body, &limits)?;
        let kib = u32::try_from(json.len().div_ceil(1024)).unwrap_or(u32::MAX);
        let Ok(share) = budget.try_acquire_many_owned(kib) else {
            return Ok(None);
        };
        let records = records_of(&json, &limits)?;
        drop(json);
        Ok(Some((crate::apply::Batch::checked(records), share)))
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?
}

/// The records of a push's JSON, within the limit on records per batch.
fn records_of(json: &[u8], limits: &Settings) -> ServerResult<Vec<sotay_protocol::OutgoingRecord>> {
    // Payloads stay text: most are checked and stored as such (`apply::check_batch`).
    let request: PushRequest<Box<serde_json::value::RawValue>> = parse_json(json)?;
    if request.records.len() > limits.max_records_per_batch {
        return Err(ServerError::TooLarge(format!(
            "{} bản ghi trong một lô; tối đa {}",
            request.records.len(),
            limits.max_records_per_batch
        )));
    }
    Ok(request.records)
}

#[derive(Deserialize)]
struct OwnQuery {
    #[serde(default)]
    after: u64,
    limit: Option<u64>,
}

/// This device's own records as the server holds them (recovery from an old copy).
async fn own(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceRow>,
    Query(query): Query<OwnQuery>,
) -> ServerResult<Json<OwnRecords>> {
    let limit = query.limit.unwrap_or(500).clamp(1, 2_000);
    Ok(Json(
        state.db.own_records(device, query.after, limit).await?,
    ))
}

#[derive(Deserialize)]
struct PullQuery {
    /// The team position the laptop has pulled up to.
    position: Option<u64>,
    /// What laptops sent before team positions existed (a server-wide sequence).
    #[serde(default)]
    cursor: u64,
    limit: Option<u64>,
    /// The catalogue version the client has.
    catalogue: Option<String>,
}

async fn pull(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceRow>,
    Query(query): Query<PullQuery>,
) -> ServerResult<Json<PullResponse>> {
    let limit = query.limit.unwrap_or(500).clamp(1, 2_000);
    let catalogue = (query.catalogue.as_deref() != Some(state.limits.catalogue.version.as_str()))
        .then(|| serde_json::to_value(&*state.limits.catalogue).expect("catalogue serialises"));
    let from = match query.position {
        Some(p) => PullFrom::Position(p),
        None => PullFrom::LegacyCursor(query.cursor),
    };
    let page = state.db.pull(device, from, limit).await?;
    Ok(Json(PullResponse {
        more: page.records.len() as u64 == limit,
        records: page.records,
        next_cursor: page.next_cursor,
        team: state.db.team(device.team_id).await?,
        volunteers: state.db.volunteers(device.team_id).await?,
        catalogue,
    }))
}
