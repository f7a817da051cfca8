//! Test harness for sync: a real server on 127.0.0.1 (in-process, or the `sotay serve` binary
//! when a test must kill it), a fresh database per test on SQLite or PostgreSQL, laptops as real
//! store files, and a fault-injecting TCP proxy between them.
#![allow(dead_code)]

use sotay_core::{AttendeeInput, CitizenInput, SessionInput, SharedStore, Store};
use sotay_protocol::{CitizenId, Organisation};
use sotay_server::admin::{self, TeamSpec, TeamStats};
use sotay_server::Database;
use sotay_sync::{SyncConfig, SyncSummary};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const COMMUNE: &str = "14758";

/// What every test laptop is encrypted with (also `SOTAY_PASSPHRASE` for the CLI).
pub const PASSPHRASE: &str = "hoa sen trắng";

/// A laptop's file itself, decrypted, to look at or change behind the store's back.
pub fn raw_laptop(path: &std::path::Path) -> rusqlite::Connection {
    sotay_core::protect::open_connection(path, &sotay_core::Passphrase::new(PASSPHRASE)).unwrap()
}

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

/// The backends to run each sync test on: SQLite always; PostgreSQL when
/// `SOTAY_TEST_DATABASE_URL` names a server where the test may create databases. CI sets
/// `SOTAY_REQUIRE_POSTGRES=1` so that a missing PostgreSQL fails instead of being skipped.
pub fn each_backend(test: impl Fn(Backend)) {
    let dir = tempfile::tempdir().unwrap();
    test(Backend::Sqlite(dir.path().join("central.sqlite")));
    match std::env::var("SOTAY_TEST_DATABASE_URL") {
        Ok(admin_url) => test(Backend::Postgres(fresh_postgres_database(&admin_url))),
        Err(_) if std::env::var("SOTAY_REQUIRE_POSTGRES").is_ok() => {
            panic!("SOTAY_REQUIRE_POSTGRES is set but SOTAY_TEST_DATABASE_URL is not")
        }
        Err(_) => eprintln!("PostgreSQL not configured (SOTAY_TEST_DATABASE_URL): SQLite only"),
    }
}

pub fn fresh_postgres_database(admin_url: &str) -> String {
    use sqlx_core::connection::Connection;
    use sqlx_core::executor::Executor;
    let name = format!("sotay_test_{}", uuid::Uuid::new_v4().simple());
    block_on(async {
        let mut conn = sqlx_postgres::PgConnection::connect(admin_url)
            .await
            .unwrap();
        conn.execute(sqlx_core::sql_str::AssertSqlSafe(format!(
            "CREATE DATABASE {name}"
        )))
        .await
        .unwrap();
    });
    // The admin URL ends in /DATABASE; the test's URL names the new database instead.
    let base = admin_url.rsplit_once('/').expect("URL ends in /DATABASE").0;
    format!("{base}/{name}")
}

/// A server database and the runtime its operations run on, for what an administrator does from
/// the command line.
pub struct ServerDb {
    pub db: Database,
    pub backend: Backend,
    runtime: tokio::runtime::Runtime,
}

impl ServerDb {
    pub fn open(backend: &Backend) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = runtime.block_on(async {
            match backend {
                Backend::Sqlite(path) => Database::open_sqlite(path).unwrap(),
                Backend::Postgres(url) => Database::connect_postgres(url).await.unwrap(),
            }
        });
        Self {
            db,
            backend: backend.clone(),
            runtime,
        }
    }

    pub fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    pub fn code(&self, team: &str) -> String {
        self.block_on(admin::create_enrolment_code(
            &self.db,
            team,
            Some(TeamSpec {
                name: team.into(),
                organisation: Organisation::YouthUnion,
                province_code: "38".into(),
                commune_code: COMMUNE.into(),
            }),
        ))
        .unwrap()
        .code
    }

    pub fn stats(&self) -> Vec<TeamStats> {
        self.block_on(admin::stats(&self.db)).unwrap()
    }

    pub fn quarantine(&self) -> Vec<admin::QuarantineEntry> {
        self.block_on(admin::quarantine(&self.db)).unwrap()
    }

    pub fn revoke(&self, device: sotay_protocol::DeviceId) {
        self.block_on(admin::revoke(&self.db, device)).unwrap()
    }

    pub fn import_bundle(
        &self,
        bytes: &[u8],
    ) -> sotay_server::ServerResult<sotay_protocol::sync::PushResponse> {
        self.block_on(admin::import_bundle(&self.db, bytes))
    }

    pub fn report(
        &self,
        scope: &admin::ReportScope,
        options: &sotay_core::report::ReportOptions,
    ) -> sotay_core::report::Report {
        self.block_on(admin::report(&self.db, scope, options))
            .unwrap()
    }

    /// Raw SQL for what a test checks or breaks behind the server's back; each engine has its own
    /// types, so each gets its own statement. Parameters are text; columns must be text.
    pub fn sql(&self, sqlite: &str, postgres: &str, params: &[&str]) -> Vec<Vec<String>> {
        match &self.backend {
            Backend::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                let mut stmt = conn.prepare(sqlite).unwrap();
                let columns = stmt.column_count();
                stmt.query_map(rusqlite::params_from_iter(params), |r| {
                    (0..columns)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                                rusqlite::types::ValueRef::Text(t) => {
                                    String::from_utf8_lossy(t).into_owned()
                                }
                                other => format!("{other:?}"),
                            })
                        })
                        .collect()
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
            }
            Backend::Postgres(url) => self.block_on(async {
                use sqlx_core::connection::Connection;
                use sqlx_core::row::Row;
                let mut conn = sqlx_postgres::PgConnection::connect(url).await.unwrap();
                let mut query =
                    sqlx_core::query::query(sqlx_core::sql_str::AssertSqlSafe(postgres.to_owned()));
                for p in params {
                    query = query.bind(p.to_string());
                }
                query
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect())
                    .collect()
            }),
        }
    }
}

/// The server running in this test process on its own runtime.
pub struct TestServer {
    pub backend: Backend,
    pub db: ServerDb,
    pub addr: SocketAddr,
    tls: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub fn start(backend: Backend) -> Self {
        Self::start_with(backend, sotay_server::Settings::default())
    }

    pub fn start_with(backend: Backend, limits: sotay_server::Settings) -> Self {
        Self::serve(backend, limits, None, "127.0.0.1:0")
    }

    /// A server speaking HTTPS with `identity` on `address` (port 0: any free port).
    pub fn start_tls(backend: Backend, identity: sotay_server::TlsIdentity, address: &str) -> Self {
        Self::serve(backend, Default::default(), Some(identity), address)
    }

    fn serve(
        backend: Backend,
        limits: sotay_server::Settings,
        tls: Option<sotay_server::TlsIdentity>,
        address: &str,
    ) -> Self {
        let db = ServerDb::open(&backend);
        let listener = db.block_on(tokio::net::TcpListener::bind(address)).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = db.db.clone();
        let with_tls = tls.is_some();
        let task = db.runtime.spawn(async move {
            sotay_server::serve(listener, served, limits, tls.as_ref(), async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            backend,
            db,
            addr,
            tls: with_tls,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn code(&self, team: &str) -> String {
        self.db.code(team)
    }

    pub fn stats(&self, team: &str) -> TeamStats {
        self.db
            .stats()
            .into_iter()
            .find(|t| t.team_name == team)
            .expect("team on server")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self.db.block_on(task);
        }
    }
}

/// A volunteer's laptop: its own store file.
pub struct Laptop {
    shared: SharedStore,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

/// A reqwest client for requests a laptop would never make; reqwest is built without a default
/// crypto provider, and the sync engine installs ring, so tests do the same first.
pub fn raw_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Runs one async step of the sync engine to completion, as the CLI does.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

impl Laptop {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("laptop.sqlite");
        Self {
            shared: SharedStore::new(
                Store::open(&path, &sotay_core::Passphrase::new(PASSPHRASE)).unwrap(),
            ),
            path,
            _dir: dir,
        }
    }

    /// The store as the sync engine holds it.
    pub fn shared(&self) -> SharedStore {
        self.shared.clone()
    }

    /// The laptop's store, for one step.
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.shared.lock().unwrap()
    }

    /// Opens the store file again (after `release`).
    pub fn reopen(&mut self) {
        self.shared = SharedStore::new(
            Store::open(&self.path, &sotay_core::Passphrase::new(PASSPHRASE)).unwrap(),
        );
    }

    /// Closes the store file (as quitting the app would) but keeps it on disk.
    pub fn release(&mut self) {
        self.shared = SharedStore::new(Store::open_in_memory().unwrap());
    }

    /// A laptop that joins the team on `server` with a fresh code.
    pub fn enrolled(server: &TestServer, team: &str, volunteer: &str) -> Self {
        let mut laptop = Self::new();
        laptop.enroll(&server.url(), &server.code(team), volunteer);
        laptop
    }

    pub fn enroll(&mut self, url: &str, code: &str, volunteer: &str) {
        self.try_enroll(url, code, volunteer, None).unwrap();
    }

    /// Enrols again with a new code (same team); see `sotay_sync::reenroll`.
    pub fn reenroll(
        &mut self,
        url: &str,
        code: &str,
    ) -> sotay_sync::SyncResult<sotay_core::TeamInfo> {
        block_on(sotay_sync::reenroll(&self.shared, url, code, None))
    }

    pub fn try_enroll(
        &mut self,
        url: &str,
        code: &str,
        volunteer: &str,
        fingerprint: Option<&str>,
    ) -> sotay_sync::SyncResult<sotay_core::TeamInfo> {
        block_on(sotay_sync::enroll(
            &self.shared,
            url,
            code,
            Some(volunteer),
            fingerprint,
        ))
    }

    pub fn add_citizens(&mut self, prefix: &str, n: usize) -> Vec<CitizenId> {
        (0..n)
            .map(|i| {
                self.store()
                    .add_citizen(CitizenInput {
                        full_name: format!("{prefix} Văn Số{i}"),
                        gender: "nam".into(),
                        birth: format!("{}", 1930 + i % 90),
                        village: format!("Thôn {}", i / 90),
                        consent: true,
                        ..Default::default()
                    })
                    .unwrap()
                    .citizen
                    .id
            })
            .collect()
    }

    pub fn add_session(&mut self, attendees: &[CitizenId]) {
        self.store()
            .add_session(SessionInput {
                date: "2026-11-20".into(),
                place: "Nhà văn hóa thôn Đông".into(),
                skills: vec!["0.1".into(), "VNEID1".into()],
                attendees: attendees
                    .iter()
                    .enumerate()
                    .map(|(i, &citizen_id)| AttendeeInput {
                        citizen_id,
                        achieved: if i.is_multiple_of(2) {
                            vec!["VNEID1".into()]
                        } else {
                            vec![]
                        },
                    })
                    .collect(),
                ..Default::default()
            })
            .unwrap();
    }

    pub fn sync(&mut self) -> sotay_sync::SyncResult<SyncSummary> {
        self.sync_with(&fast_config())
    }

    pub fn sync_with(&mut self, config: &SyncConfig) -> sotay_sync::SyncResult<SyncSummary> {
        block_on(sotay_sync::sync(&self.shared, config, &mut |_| {}))
    }

    pub fn pending(&self) -> u64 {
        self.store().outbox_status().unwrap().pending
    }

    /// Changes a setting behind the app's back (a server address someone edited, say).
    pub fn set_meta(&self, key: &str, value: &str) {
        let conn = raw_laptop(&self.path);
        conn.execute(
            "UPDATE meta SET value = ?2 WHERE key = ?1",
            rusqlite::params![key, value],
        )
        .unwrap();
    }

    pub fn count(&self, table: &str) -> i64 {
        let conn = raw_laptop(&self.path);
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }
}

/// Retries quickly so fault tests finish fast; the production defaults are in `SyncConfig`.
pub fn fast_config() -> SyncConfig {
    SyncConfig {
        request_timeout: Duration::from_secs(10),
        max_attempts: 8,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        initial_batch: 50,
        ..Default::default()
    }
}

/// What the proxy does to one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forward untouched.
    Pass,
    /// Answer with this status and an error body; the server never sees the request.
    Status(u16),
    /// Forward, let the server answer, then close the connection without passing the answer on:
    /// the server committed, the client never got the acknowledgement.
    DropResponse,
    /// Wait this long before forwarding (longer than the client's timeout).
    Delay(Duration),
    /// Forward the same request twice and pass on the second answer.
    Duplicate,
}

/// What the proxy saw, in order: requests numbered by arrival (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Arrived {
        request: u64,
        push: bool,
        pull: bool,
    },
    Answered {
        request: u64,
        status: u16,
    },
}

/// Pushes (by a text their JSON holds) the proxy keeps back before forwarding, once each.
type Holds = Arc<Mutex<Vec<(String, Duration)>>>;

/// A TCP proxy in front of a server that applies queued faults to the next requests, one each.
pub struct FaultProxy {
    pub addr: SocketAddr,
    shared: Shared,
    upstream: Arc<Mutex<SocketAddr>>,
}

impl FaultProxy {
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Shared::default();
        let upstream = Arc::new(Mutex::new(upstream));
        let (s, u) = (shared.clone(), upstream.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = s.clone();
                let to = *u.lock().unwrap();
                std::thread::spawn(move || handle(client, to, shared));
            }
        });
        Self {
            addr,
            shared,
            upstream,
        }
    }

    /// Keeps the next push whose JSON holds `text` back for `delay` before forwarding it.
    pub fn hold_push(&self, text: &str, delay: Duration) {
        self.shared
            .holds
            .lock()
            .unwrap()
            .push((text.to_owned(), delay));
    }

    /// Whether a push arrived while another was still unanswered: batches travelled together.
    pub fn pushes_overlapped(&self) -> bool {
        let mut unanswered = std::collections::HashSet::new();
        for event in self.shared.events.lock().unwrap().iter() {
            match *event {
                Seen::Arrived {
                    request,
                    push: true,
                    ..
                } => {
                    if !unanswered.is_empty() {
                        return true;
                    }
                    unanswered.insert(request);
                }
                Seen::Answered { request, .. } => {
                    unanswered.remove(&request);
                }
                Seen::Arrived { push: false, .. } => {}
            }
        }
        false
    }

    /// Whether a pull arrived before the last push was answered: the laptop pulled while its
    /// batches travelled, instead of after them.
    pub fn pulled_before_the_last_answer(&self) -> bool {
        let events = self.shared.events.lock().unwrap();
        let pushes: std::collections::HashSet<u64> = events
            .iter()
            .filter_map(|e| match *e {
                Seen::Arrived {
                    request,
                    push: true,
                    ..
                } => Some(request),
                _ => None,
            })
            .collect();
        let first_pull = events
            .iter()
            .position(|e| matches!(e, Seen::Arrived { pull: true, .. }));
        let last_push_answer = events
            .iter()
            .rposition(|e| matches!(e, Seen::Answered { request, .. } if pushes.contains(request)));
        matches!((first_pull, last_push_answer), (Some(pull), Some(answer)) if pull < answer)
    }

    /// The statuses of every answer passed on, in order.
    pub fn answer_statuses(&self) -> Vec<u16> {
        self.shared
            .events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Seen::Answered { status, .. } => Some(*status),
                _ => None,
            })
            .collect()
    }

    /// Sends later connections to another server (one restarted on a new port).
    pub fn redirect(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.faults.lock().unwrap().extend(faults);
    }

    /// Faults for the next pushes, one each, whatever other requests (the status check, pulls)
    /// come between them.
    pub fn inject_pushes(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.push_faults.lock().unwrap().extend(faults);
    }

    pub fn remaining(&self) -> usize {
        self.shared.faults.lock().unwrap().len() + self.shared.push_faults.lock().unwrap().len()
    }

    /// From now on, holds each request as long as it takes to go over a line of
    /// `bytes_per_second` (a slow link as the laptop sees it: the server's time is unchanged).
    pub fn slow_line(&self, bytes_per_second: f64) {
        *self.shared.line_rate.lock().unwrap() = Some(bytes_per_second);
    }

    /// Every push that went through: its body as sent (compressed), and its JSON.
    pub fn pushed_bodies_as_sent(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.shared
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter_map(|r| {
                let body = push_body(r)?;
                let json = sotay_protocol::wire::decompress_body(body, 1 << 30).ok()?;
                Some((body.to_vec(), json))
            })
            .collect()
    }

    /// The JSON of every push that went through, decompressed.
    pub fn pushed_bodies(&self) -> Vec<String> {
        self.shared
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter_map(|r| push_json(r))
            .collect()
    }
}

/// Reads one HTTP/1.1 message (headers and a Content-Length body).
fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap_or(0));
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf)
}

fn forward(request: &[u8], upstream: SocketAddr) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).ok()?;
    server.write_all(request).ok()?;
    read_message(&mut server)
}

/// What the proxy and every connection through it share.
#[derive(Clone, Default)]
struct Shared {
    faults: Arc<Mutex<Vec<Fault>>>,
    /// Faults for pushes only, applied before `faults`.
    push_faults: Arc<Mutex<Vec<Fault>>>,
    /// Requests so far.
    seen: Arc<Mutex<u64>>,
    /// Every request as it came, headers and body, in order of arrival.
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    events: Arc<Mutex<Vec<Seen>>>,
    holds: Holds,
    /// Bytes per second of a slow line: each request is held as long as it would take to go
    /// over it, before it is forwarded.
    line_rate: Arc<Mutex<Option<f64>>>,
}

/// The body of a push request as sent, or None for any other request.
fn push_body(request: &[u8]) -> Option<&[u8]> {
    if !request.starts_with(b"POST /v1/push ") {
        return None;
    }
    let body = request.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some(&request[body..])
}

/// The decompressed JSON of a push request, or None for any other request.
fn push_json(request: &[u8]) -> Option<String> {
    let json = sotay_protocol::wire::decompress_body(push_body(request)?, 1 << 30).ok()?;
    String::from_utf8(json).ok()
}

fn handle(mut client: TcpStream, upstream: SocketAddr, shared: Shared) {
    // One request per connection keeps each fault attached to exactly one request.
    let Some(request) = read_message(&mut client) else {
        return;
    };
    let json = push_json(&request);
    let number = {
        // Numbered and logged under one lock, so the log's order is the numbers' order.
        let mut events = shared.events.lock().unwrap();
        let mut seen = shared.seen.lock().unwrap();
        *seen += 1;
        events.push(Seen::Arrived {
            request: *seen,
            push: json.is_some(),
            pull: request.starts_with(b"GET /v1/pull"),
        });
        *seen
    };
    shared.requests.lock().unwrap().push(request.clone());
    let line_rate = *shared.line_rate.lock().unwrap();
    if let Some(rate) = line_rate {
        std::thread::sleep(Duration::from_secs_f64(request.len() as f64 / rate));
    }
    if let Some(json) = &json {
        let held = {
            let mut holds = shared.holds.lock().unwrap();
            let found = holds
                .iter()
                .position(|(text, _)| json.contains(text.as_str()));
            found.map(|i| holds.remove(i).1)
        };
        if let Some(delay) = held {
            std::thread::sleep(delay);
        }
    }
    let next_of = |queue: &Mutex<Vec<Fault>>| {
        let mut f = queue.lock().unwrap();
        (!f.is_empty()).then(|| f.remove(0))
    };
    let fault = json
        .as_ref()
        .and_then(|_| next_of(&shared.push_faults))
        .or_else(|| next_of(&shared.faults));
    let response = match fault {
        None | Some(Fault::Pass) => forward(&request, upstream),
        Some(Fault::Status(code)) => {
            let body = format!(r#"{{"error":{{"kind":"internal","message":"injected {code}"}}}}"#);
            Some(
                format!(
                    "HTTP/1.1 {code} Injected\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes(),
            )
        }
        Some(Fault::DropResponse) => {
            let _ = forward(&request, upstream);
            None
        }
        Some(Fault::Delay(d)) => {
            std::thread::sleep(d);
            forward(&request, upstream)
        }
        Some(Fault::Duplicate) => {
            let _ = forward(&request, upstream);
            forward(&request, upstream)
        }
    };
    if let Some(mut response) = response {
        // Tell the client not to reuse this connection: the next request gets a fresh one.
        if let Some(i) = response.windows(2).position(|w| w == b"\r\n") {
            response.splice(i + 2..i + 2, b"connection: close\r\n".iter().copied());
        }
        let status = String::from_utf8_lossy(&response[..response.len().min(12)])
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        shared.events.lock().unwrap().push(Seen::Answered {
            request: number,
            status,
        });
        let _ = client.write_all(&response);
    }
    let _ = client.shutdown(std::net::Shutdown::Both);
}
