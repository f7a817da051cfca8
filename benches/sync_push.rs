//! Sync benchmark (run with `cargo bench --bench sync_push`; not a test): a laptop with 20,000
//! citizens, 800 sessions and 20,000 attendances pushes everything to a real server, first over
//! loopback, then through an emulated village link. Prints wall time, bytes sent and requests.
//!
//! What is timed is a whole `sotay sync`: a fresh process of the CLI this build made, process
//! start and unlocking the store included. On loopback, PouchDB pushing the same records as
//! documents to express-pouchdb (`benches/pouchdb/replicate.mjs`, from npm: `npm ci` there
//! first) is timed in the same run, the replication the issue compares against, once with
//! both sides in memory and once on disk (LevelDB, PouchDB's default on Node); on the village
//! link the sync is held against the line time of the bytes the relay carried.
//!
//! The village link: this machine's kernel has no `sch_netem`, so the link is emulated in user
//! space by a TCP relay on 127.0.0.1: 1 Mbit/s each way, shared by every connection, 150 ms each
//! way (300 ms round trip), a round trip before a new connection carries data (the handshake),
//! and every hundredth segment (1 %) held back for a retransmission timeout (what packet loss
//! costs a TCP stream; the connection's later segments wait behind it, the other connections do
//! not).
//!
//! `SOTAY_BENCH_LOOPBACK_ONLY=N` runs only the loopback sync, N times (with
//! `SOTAY_BENCH_IN_FLIGHT=W`, W batches at once); `SOTAY_BENCH_PROFILE_TO=file`
//! records each timed sync with `perf` (`benches/sync_profile.py` sorts it into the sync's steps).

use sotay_core::sample::{SampleTeam, PASSPHRASE};
use sotay_core::SharedStore;
use sotay_protocol::Organisation;
use sotay_sync::SyncConfig;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

// The server runs in this process: give it the allocator `sotay serve` ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs only the loopback sync with the default window, this many times: no PouchDB, no village
/// link (to compare two builds of one change).
const LOOPBACK_ONLY: &str = "SOTAY_BENCH_LOOPBACK_ONLY";
/// The window of the loopback-only runs (`sotay sync --in-flight`), if not the default.
const IN_FLIGHT: &str = "SOTAY_BENCH_IN_FLIGHT";
/// Records each timed `sotay sync` with `perf record` into this file (see docs/benchmarks.md).
const PROFILE_TO: &str = "SOTAY_BENCH_PROFILE_TO";

fn loopback_only() -> Option<usize> {
    std::env::var(LOOPBACK_ONLY).ok()?.parse().ok()
}

const RATE_BYTES_PER_SEC: f64 = 1_000_000.0 / 8.0;

/// One direction of the village link, shared by every connection over it: each segment takes
/// the first free stretch of line time at or after the moment its sender may send it. A
/// sender waiting out a retransmission leaves the line to the other connections.
#[derive(Default)]
struct Line {
    /// Stretches of line time taken, in order, none overlapping.
    booked: std::sync::Mutex<Vec<(Instant, Instant)>>,
    /// Segments carried so far: the link loses every hundredth, whichever connection sent it
    /// (exactly 1 %, so that runs and settings meet the same loss).
    carried: std::sync::atomic::AtomicU64,
}

impl Line {
    /// Whether the next segment on this line is lost.
    fn loses(&self) -> bool {
        self.carried.fetch_add(1, Ordering::Relaxed) % 100 == 99
    }

    /// Takes `length` of line time at the earliest free moment from `from`; returns its end.
    fn take(&self, from: Instant, length: Duration) -> Instant {
        let mut booked = self.booked.lock().unwrap();
        let now = Instant::now();
        booked.retain(|&(_, end)| end > now);
        let (mut start, mut at) = (from.max(now), 0);
        for (i, &(taken_from, taken_to)) in booked.iter().enumerate() {
            if taken_to <= start {
                at = i + 1;
            } else if taken_from >= start + length {
                break;
            } else {
                start = taken_to;
                at = i + 1;
            }
        }
        booked.insert(at, (start, start + length));
        start + length
    }
}

/// Relays one direction of one connection with the village link's rate, latency and loss.
/// Nothing of it is sent before `not_before` (the TCP handshake's round trip).
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    line: Arc<Line>,
    not_before: Instant,
    carried: Arc<AtomicU64>,
    held: Arc<AtomicU64>,
) {
    const ONE_WAY: Duration = Duration::from_millis(150);
    const RETRANSMIT: Duration = Duration::from_millis(500);
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        for (at, chunk) in rx {
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    // When this connection's sender may send its next segment.
    let mut sender_free = not_before;
    let mut buf = [0u8; 1460];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let length = Duration::from_secs_f64(n as f64 / RATE_BYTES_PER_SEC);
        let mut sent = line.take(sender_free, length);
        let lost = line.loses();
        if lost {
            // Sent again after the timeout, taking the line again; the connection's later
            // segments wait behind it (TCP delivers in order).
            sent = line.take(sent + RETRANSMIT, length);
        }
        sender_free = sent;
        carried.fetch_add(n as u64, Ordering::Relaxed);
        held.fetch_add(lost as u64, Ordering::Relaxed);
        if tx.send((sent + ONE_WAY, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}

/// Bytes the village link carried, up (laptop to server) and down, and the segments it held
/// back for a retransmission.
#[derive(Default, Clone)]
struct Carried {
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    held: Arc<AtomicU64>,
}

impl Carried {
    /// Bytes up and down, and segments held back, since the last call.
    fn take(&self) -> ((u64, u64), u64) {
        (
            (
                self.up.swap(0, Ordering::Relaxed),
                self.down.swap(0, Ordering::Relaxed),
            ),
            self.held.swap(0, Ordering::Relaxed),
        )
    }
}

fn village_link(upstream: SocketAddr, carried: Carried) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (line_up, line_down): (Arc<Line>, Arc<Line>) = Default::default();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            // SYN, SYN-ACK: a round trip before the laptop can send on a new connection.
            let opened = Instant::now() + Duration::from_millis(300);
            let server = TcpStream::connect(upstream).unwrap();
            // Without this the relay's own Nagle delays would hold back every small request
            // (PouchDB sends four per 100 documents) on top of the link's.
            client.set_nodelay(true).unwrap();
            server.set_nodelay(true).unwrap();
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (up, down, held) = (
                carried.up.clone(),
                carried.down.clone(),
                carried.held.clone(),
            );
            let held2 = held.clone();
            let (line_up, line_down) = (line_up.clone(), line_down.clone());
            std::thread::spawn(move || pump(client, server, line_up, opened, up, held));
            std::thread::spawn(move || pump(s2, c2, line_down, opened, down, held2));
        }
    });
    addr
}

/// The seconds a link of `RATE_BYTES_PER_SEC` each way needs for these bytes at the least.
fn line_time((up, down): (u64, u64)) -> f64 {
    up.max(down) as f64 / RATE_BYTES_PER_SEC
}

/// What a PouchDB push replication of the same records took, from `replicate.mjs`.
#[derive(serde::Deserialize)]
struct Pouch {
    docs: u64,
    ms: f64,
    bytes_sent: u64,
    bytes_received: u64,
    requests: u64,
}

/// The records as PouchDB documents: each entity's payload under its own `_id`.
fn write_documents(store: &SharedStore, path: &Path) -> u64 {
    let records = store.with(|s| s.pending_records(0, usize::MAX)).unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for r in &records {
        let mut doc = r.payload.clone();
        let id = format!("{}:{}", r.entity.as_str(), r.entity_id);
        doc.as_object_mut().unwrap().insert("_id".into(), id.into());
        serde_json::to_writer(&mut out, &doc).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
    records.len() as u64
}

/// PouchDB replicates `documents` to express-pouchdb on loopback, both sides keeping their
/// documents with `adapter` (`memory`, or `leveldb` in files under `dir`).
fn pouchdb(documents: &Path, adapter: &str, dir: &Path) -> Pouch {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pouchdb/replicate.mjs");
    let mut node = Command::new("node")
        .arg(&script)
        .arg(documents)
        .args(["--adapter", adapter, "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (npm ci in benches/pouchdb first)");
    let mut result = String::new();
    node.stdout
        .take()
        .unwrap()
        .read_to_string(&mut result)
        .unwrap();
    assert!(node.wait().unwrap().success(), "replicate.mjs failed");
    serde_json::from_str(&result).unwrap()
}

/// A `sotay sync` of the laptop at `database` in a fresh process of the CLI this build made,
/// and the seconds it took.
fn sotay_sync(database: &Path, in_flight: usize) -> (std::process::Output, f64) {
    let started = Instant::now();
    // Profiled system-wide, so that the server in this process is in the profile beside the CLI.
    let mut command = match std::env::var_os(PROFILE_TO) {
        Some(out) => {
            let mut perf = Command::new("perf");
            perf.args([
                "record",
                "-a",
                "-F",
                "2000",
                "--call-graph",
                "dwarf,16384",
                "-o",
            ])
            .arg(out)
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_sotay"));
            perf
        }
        None => Command::new(env!("CARGO_BIN_EXE_sotay")),
    };
    let output = command
        .arg("--db")
        .arg(database)
        .args(["--json", "sync", "--in-flight", &in_flight.to_string()])
        .env("SOTAY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    (output, started.elapsed().as_secs_f64())
}

/// CPU seconds (user and system) used so far by this process, where the server runs, and by its
/// waited-for children, the `sotay sync` runs: measured around a sync, they are each side's
/// share, far steadier on this machine than the wall time (which spreads by a third between
/// runs of one build). From `/proc/self/stat`, in ticks of 1/100 s (Linux's `USER_HZ`).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces: the
    // first of them is field 3 (the state), so utime..cstime (14..17) are 11..14 here.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks = |i: usize| fields[i].parse::<u64>().unwrap() as f64 / 100.0;
    (ticks(11) + ticks(12), ticks(13) + ticks(14))
}

/// One whole sync of a fresh laptop to a fresh server, `in_flight` batches at once; on loopback
/// with the default, PouchDB replicates the same records after it.
fn run(label: &str, village: bool, in_flight: usize) {
    let label = &format!("{label}, {in_flight} at once");
    let dir = tempfile::tempdir().unwrap();
    let setup = Instant::now();
    let sample = SampleTeam::default();
    let store = SharedStore::new(sample.build(dir.path()).unwrap());
    let records = store.with(|s| s.outbox_status()).unwrap().pending;
    eprintln!(
        "{label}: {records} records prepared in {:.1?}",
        setup.elapsed()
    );

    let db = sotay_server::Database::open_sqlite(&dir.path().join("central.sqlite")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let code = runtime
        .block_on(sotay_server::admin::create_enrolment_code(
            &db,
            "Đội bench",
            Some(sotay_server::admin::TeamSpec {
                name: "Đội bench".into(),
                organisation: Organisation::YouthUnion,
                province_code: "38".into(),
                commune_code: "14758".into(),
            }),
        ))
        .unwrap()
        .code;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let server_addr = listener.local_addr().unwrap();
    runtime.spawn(sotay_server::serve(
        listener,
        db.clone(),
        Default::default(),
        None,
        std::future::pending(),
    ));
    let carried = Carried::default();
    let addr = if village {
        village_link(server_addr, carried.clone())
    } else {
        server_addr
    };
    runtime
        .block_on(sotay_sync::enroll(
            &store,
            &format!("http://{addr}"),
            &code,
            None,
            None,
        ))
        .unwrap();
    let documents = dir.path().join("documents.jsonl");
    assert_eq!(write_documents(&store, &documents), records);
    drop(store);
    carried.take();

    // A volunteer's whole sync: the CLI starts, unlocks the store, pushes and pulls, exits.
    let (server_before, laptop_before) = cpu_seconds();
    let (sync, took) = sotay_sync(&dir.path().join("laptop.sqlite"), in_flight);
    let (server_after, laptop_after) = cpu_seconds();
    let cpu = format!(
        "CPU: laptop {:.2} s, server {:.2} s",
        laptop_after - laptop_before,
        server_after - server_before
    );
    assert!(
        sync.status.success(),
        "sotay sync failed: {}",
        String::from_utf8_lossy(&sync.stderr)
    );
    let summary = serde_json::from_slice::<serde_json::Value>(&sync.stdout).unwrap_or_default();
    let requests = match summary["requests"].as_u64() {
        Some(n) => format!(
            "{n} requests, {:.2} MB up",
            summary["bytes_sent"].as_f64().unwrap_or(0.0) / 1e6
        ),
        None => "? requests".to_owned(),
    };
    let (wire, held) = carried.take();
    let stats = runtime.block_on(sotay_server::admin::stats(&db)).unwrap();
    let team = &stats[0];
    assert_eq!(
        (team.citizens, team.sessions, team.attendances),
        (
            sample.citizens as u64,
            sample.sessions as u64,
            (sample.sessions * sample.per_session) as u64
        )
    );
    if village {
        // PouchDB's four requests in turn per 100 documents would take over ten minutes of
        // round trips here: the village target is against the line itself.
        println!(
            "| {label} | {records} | **{took:.2} s** in {requests} ({cpu}) | {:.2} / {:.2} MB, {held} segments held back 0.5 s; **{:.2} ×** the line time ({:.1} s) |",
            wire.0 as f64 / 1e6,
            wire.1 as f64 / 1e6,
            took / line_time(wire),
            line_time(wire),
        );
        return;
    }
    if in_flight != SyncConfig::default().in_flight || loopback_only().is_some() {
        println!("| {label} | {records} | **{took:.2} s** in {requests} ({cpu}) | | |");
        return;
    }
    // The fixed costs alone: the same command again, with nothing left to send.
    let (idle, idle_took) = sotay_sync(&dir.path().join("laptop.sqlite"), in_flight);
    assert!(idle.status.success());
    eprintln!("{label}: a second `sotay sync`, nothing left to send: {idle_took:.2} s");
    // PouchDB in memory on both sides, and on disk (LevelDB, its default on Node) as Sổ Tay's
    // laptop and server keep their records.
    let leveldb = dir.path().join("pouchdb");
    std::fs::create_dir(&leveldb).unwrap();
    for adapter in ["memory", "leveldb"] {
        let pouch = pouchdb(&documents, adapter, &leveldb);
        assert_eq!(pouch.docs, records);
        println!(
            "| {label} | {records} | **{took:.2} s** in {requests} ({cpu}) | PouchDB ({adapter}) {:.2} s, {:.2} / {:.2} MB in {} requests | **{:.1} ×** faster |",
            pouch.ms / 1000.0,
            pouch.bytes_sent as f64 / 1e6,
            pouch.bytes_received as f64 / 1e6,
            pouch.requests,
            pouch.ms / 1000.0 / took,
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful: only run
    // when asked to benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!("| link | records | whole `sotay sync` | compared with |");
    println!("| --- | --- | --- | --- |");
    // One batch at a time, as before 2026-11-29's second change, beside the default.
    let default = SyncConfig::default().in_flight;
    if let Some(runs) = loopback_only() {
        let in_flight = std::env::var(IN_FLIGHT)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default);
        for _ in 0..runs {
            run("loopback", false, in_flight);
        }
        return;
    }
    for in_flight in [1, default] {
        run("loopback", false, in_flight);
        run("village (1 Mbit/s, 300 ms RTT, 1 % loss)", true, in_flight);
    }
}
