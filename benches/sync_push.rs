//! Sync benchmark (run with `cargo bench --bench sync_push`; not a test): a laptop with 20,000
//! citizens, 800 sessions and 20,000 attendances pushes everything to a real server, first over
//! loopback, then through an emulated village link. Prints wall time, bytes sent and requests.
//!
//! The village link: this machine's kernel has no `sch_netem`, so the link is emulated in user
//! space by a TCP relay on 127.0.0.1: 1 Mbit/s each way, 150 ms each way (300 ms round trip), and
//! 1 % of segments held back for a retransmission timeout (what 1 % packet loss costs a TCP
//! stream). Where netem exists, `scripts/bench-netem.sh` runs the same benchmark on a real one.

use sotay_core::sample::SampleTeam;
use sotay_core::SharedStore;
use sotay_protocol::Organisation;
use sotay_sync::SyncConfig;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Relays one direction with the village link's rate, latency and loss.
fn pump(mut from: TcpStream, mut to: TcpStream, seed: u64) {
    const RATE_BYTES_PER_SEC: f64 = 1_000_000.0 / 8.0;
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
    let mut state = seed | 1;
    let mut line_free = Instant::now();
    let mut buf = [0u8; 1460];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let now = Instant::now();
        line_free = line_free.max(now) + Duration::from_secs_f64(n as f64 / RATE_BYTES_PER_SEC);
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let lost = state.is_multiple_of(100);
        let at = line_free + ONE_WAY + if lost { RETRANSMIT } else { Duration::ZERO };
        line_free += if lost { RETRANSMIT } else { Duration::ZERO };
        if tx.send((at, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}

fn village_link(upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (i, client) in listener.incoming().flatten().enumerate() {
            let server = TcpStream::connect(upstream).unwrap();
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pump(client, server, 2 * i as u64 + 7));
            std::thread::spawn(move || pump(s2, c2, 2 * i as u64 + 8));
        }
    });
    addr
}

fn run(label: &str, village: bool) {
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
    let addr = if village {
        village_link(server_addr)
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

    let started = Instant::now();
    let summary = runtime
        .block_on(sotay_sync::sync(
            &store,
            &SyncConfig::default(),
            &mut |_| {},
        ))
        .expect("sync completes");
    let took = started.elapsed();
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
    println!(
        "| {label} | {records} | {:.1} s | {:.2} MB | {} | {} | {:.0} records/s |",
        took.as_secs_f64(),
        summary.bytes_sent as f64 / 1e6,
        summary.requests,
        summary.retries,
        records as f64 / took.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful: only run
    // when asked to benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!("| link | records | wall time | sent (zstd) | requests | retries | throughput |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    run("loopback", false);
    run("village (1 Mbit/s, 300 ms RTT, 1 % loss)", true);
}
