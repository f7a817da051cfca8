//! Sync end to end: real laptops (store files), a real server on 127.0.0.1 port 0, on SQLite and
//! on PostgreSQL, and the fault matrix. Every test ends by checking that the server holds exactly
//! what the laptops recorded: nothing lost, nothing counted twice.

mod common;

use common::*;
use sotay_core::CitizenPatch;
use sotay_protocol::sync::PROTOCOL_HEADER;
use sotay_protocol::wire::{compress_body_as, Compression};
use sotay_sync::SyncConfig;
use std::process::Command;
use std::time::Duration;

const TEAM: &str = "Đội TNTN phường Hàm Rồng";

fn assert_server_has(server: &TestServer, citizens: u64, sessions: u64, attendances: u64) {
    let s = server.stats(TEAM);
    assert_eq!(
        (s.citizens, s.sessions, s.attendances),
        (citizens, sessions, attendances),
        "server counts"
    );
}

#[test]
fn two_laptops_of_one_team_exchange_everything_exactly_once() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        // Laptop A started offline, before any server existed.
        let mut a = Laptop::new();
        a.store()
            .init_team(sotay_core::NewTeam {
                name: "Đội lập khi chưa có mạng".into(),
                organisation: sotay_protocol::Organisation::YouthUnion,
                province_code: "38".into(),
                commune_code: COMMUNE.into(),
                volunteer: "Lê Thị Hoa".into(),
            })
            .unwrap();
        let a_citizens = a.add_citizens("Nguyễn", 30);
        a.add_session(&a_citizens[..20]);
        a.enroll(&server.url(), &server.code(TEAM), "Lê Thị Hoa");
        assert_eq!(a.store().team().unwrap().team.name, TEAM);
        assert_eq!(a.count("citizen"), 30, "nothing recorded offline is lost");

        let mut b = Laptop::enrolled(&server, TEAM, "Trần Văn Nam");
        let b_citizens = b.add_citizens("Trần", 10);
        b.add_session(&b_citizens);

        let sa = a.sync().unwrap();
        let sb = b.sync().unwrap();
        assert_eq!((a.pending(), b.pending()), (0, 0));
        assert_eq!(sa.duplicates + sb.duplicates, 0);
        assert_server_has(&server, 40, 2, 30);
        let stats = server.stats(TEAM);
        assert_eq!(stats.achieved, 10 + 5);
        assert_eq!(stats.devices, 2);

        // A pulls B's work; B already pulled A's.
        a.sync().unwrap();
        assert_eq!(a.count("citizen"), 40);
        assert_eq!(b.count("citizen"), 40);
        assert_eq!(a.count("session"), 2);
        assert_eq!(b.count("attendance"), 30);
        assert_eq!(
            b.store()
                .search_citizens("nguyen van so1", 50)
                .unwrap()
                .len(),
            11
        );
        assert!(
            a.store().team().unwrap().volunteers.len() >= 2,
            "roster pulled"
        );

        // Syncing again changes nothing anywhere.
        let again = a.sync().unwrap();
        assert_eq!((again.pushed, again.pulled), (0, 0));
        assert_server_has(&server, 40, 2, 30);
        assert_eq!(
            server.stats(TEAM).records,
            a.store().outbox_status().unwrap().last_seq
                + b.store().outbox_status().unwrap().last_seq
        );
    });
}

#[test]
fn concurrent_edits_merge_per_field_the_same_everywhere_and_log_the_loser() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let id = a.add_citizens("Phạm", 1)[0];
        a.sync().unwrap();
        b.sync().unwrap();
        let original = b.store().citizen(id).unwrap();
        let input = |phone: Option<&str>, village: &str| CitizenPatch {
            village: Some(village.into()),
            phone: phone.map(Into::into),
            ..Default::default()
        };
        // Offline: A sets the phone, B moves the person to another village, then B sets a
        // different phone later than A did.
        a.store()
            .update_citizen(id, input(Some("0912345678"), &original.village))
            .unwrap();
        b.store()
            .update_citizen(id, input(None, "Thôn Mới"))
            .unwrap();
        b.store()
            .update_citizen(id, input(Some("0987654321"), "Thôn Mới"))
            .unwrap();
        a.sync().unwrap();
        b.sync().unwrap();
        a.sync().unwrap();
        let (ca, cb) = (
            a.store().citizen(id).unwrap(),
            b.store().citizen(id).unwrap(),
        );
        assert_eq!(ca, cb, "both laptops agree");
        assert_eq!(ca.village, "Thôn Mới");
        assert_eq!(
            ca.phone.as_deref(),
            Some("0987654321"),
            "the later phone wins"
        );
        let lost: Vec<_> = a.store().conflicts().unwrap();
        assert!(
            lost.iter()
                .any(|c| c.field == "phone" && c.lost_value == "0912345678"),
            "{lost:?}"
        );
        assert_server_has(&server, 1, 0, 0);
    });
}

#[test]
fn deletes_travel_as_tombstones() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let ids = a.add_citizens("Vũ", 3);
        a.sync().unwrap();
        b.sync().unwrap();
        b.store().delete_citizen(ids[0]).unwrap();
        b.sync().unwrap();
        a.sync().unwrap();
        assert_server_has(&server, 2, 0, 0);
        assert_eq!(
            a.store().list_citizens(Default::default()).unwrap().len(),
            2
        );
        assert!(a.store().citizen(ids[0]).is_err());
    });
}

/// A laptop enrolled with `server` through a fault proxy, with nothing recorded yet.
fn enrolled_behind(proxy: &FaultProxy, server: &TestServer) -> Laptop {
    let mut laptop = Laptop::new();
    laptop.enroll(&proxy.url(), &server.code(TEAM), "Hoa");
    laptop
}

/// Records `n` citizens and one session on an enrolled laptop behind a fault proxy.
fn laptop_behind(proxy: &FaultProxy, server: &TestServer, n: usize) -> Laptop {
    let mut laptop = enrolled_behind(proxy, server);
    let ids = laptop.add_citizens("Đỗ", n);
    laptop.add_session(&ids[..n.min(40)]);
    laptop
}

#[test]
fn connection_cut_after_the_server_committed_is_resent_without_duplicates() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = laptop_behind(&proxy, &server, 120);
        // The first two pushes: the server commits them, their answers are lost.
        proxy.inject_pushes([Fault::DropResponse, Fault::DropResponse]);
        let summary = laptop.sync().unwrap();
        assert!(
            summary.duplicates > 0,
            "the server saw the cut batches again: {summary:?}"
        );
        assert_eq!(laptop.pending(), 0);
        assert_server_has(&server, 120, 1, 40);
    });
}

#[test]
fn error_answers_500_and_503_are_retried() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = laptop_behind(&proxy, &server, 60);
        proxy.inject([Fault::Status(503), Fault::Status(500), Fault::Status(503)]);
        let summary = laptop.sync().unwrap();
        assert!(summary.retries >= 3);
        assert_eq!(proxy.remaining(), 0);
        assert_server_has(&server, 60, 1, 40);
    });
}

#[test]
fn a_server_too_slow_times_out_and_the_retry_completes() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = laptop_behind(&proxy, &server, 60);
        let mut config = fast_config();
        config.request_timeout = Duration::from_millis(500);
        proxy.inject([Fault::Delay(Duration::from_millis(1_500)), Fault::Duplicate]);
        let summary = laptop.sync_with(&config).unwrap();
        assert!(summary.retries >= 1);
        assert_server_has(&server, 60, 1, 40);
        assert_eq!(laptop.pending(), 0);
    });
}

/// Runs a sync on its own thread, as the app's background sync does while the volunteer works.
fn sync_in_background(
    laptop: &Laptop,
    config: SyncConfig,
) -> std::thread::JoinHandle<sotay_sync::SyncResult<sotay_sync::SyncSummary>> {
    let shared = laptop.shared();
    std::thread::spawn(move || block_on(sotay_sync::sync(&shared, &config, &mut |_| {})))
}

#[test]
fn people_recorded_while_the_last_batch_travels_go_in_the_same_sync() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = laptop_behind(&proxy, &server, 3);
        // The one push (everything fits) is held 1.5 s on the way.
        proxy.inject_pushes([Fault::Delay(Duration::from_millis(1_500))]);
        let sync = sync_in_background(&laptop, fast_config());
        std::thread::sleep(Duration::from_millis(500));
        laptop.add_citizens("Mới", 1);
        let summary = sync.join().unwrap().unwrap();
        assert_eq!(summary.pending, 0, "{summary:?}");
        assert_eq!(laptop.pending(), 0);
        assert_server_has(&server, 4, 1, 3);
    });
}

/// How many records each push that went through carried, in the order of their sequences.
/// Not in the order the proxy saw them: pushes travel several at once, and a small one sent
/// second may arrive whole before a large one sent first (once, in CI: `[1, 21]`).
fn records_per_push(proxy: &FaultProxy) -> Vec<usize> {
    let mut pushes: Vec<(u64, usize)> = proxy
        .pushed_bodies()
        .iter()
        .map(|body| {
            let push: serde_json::Value = serde_json::from_str(body).unwrap();
            let records = push["records"].as_array().unwrap();
            (records[0]["seq"].as_u64().unwrap(), records.len())
        })
        .collect();
    pushes.sort_unstable();
    pushes.into_iter().map(|(_, records)| records).collect()
}

/// Starts a sync whose status request (its first) the proxy holds 1.5 s on the way, and returns
/// half a second in, for the test to change the laptop while the request waits.
fn sync_with_the_status_request_held(
    laptop: &Laptop,
    proxy: &FaultProxy,
) -> std::thread::JoinHandle<sotay_sync::SyncResult<sotay_sync::SyncSummary>> {
    proxy.inject([Fault::Delay(Duration::from_millis(1_500))]);
    let sync = sync_in_background(laptop, fast_config());
    std::thread::sleep(Duration::from_millis(500));
    sync
}

#[test]
fn the_first_batch_is_read_while_the_status_request_travels() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = enrolled_behind(&proxy, &server);
        laptop.add_citizens("Sớm", 20);
        let before = laptop.pending() as usize;
        // The first batch, read while the status request waits, holds what was recorded
        // before; one recorded meanwhile goes next, in the same sync.
        let sync = sync_with_the_status_request_held(&laptop, &proxy);
        laptop.add_citizens("Muộn", 1);
        let summary = sync.join().unwrap().unwrap();
        assert_eq!((summary.pending, laptop.pending()), (0, 0), "{summary:?}");
        assert_eq!(records_per_push(&proxy), [before, 1]);
        assert_server_has(&server, 21, 0, 0);
    });
}

#[test]
fn a_person_forgotten_while_the_status_request_travels_is_never_sent() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = enrolled_behind(&proxy, &server);
        let ids = laptop.add_citizens("Quên", 20);
        let name = laptop.store().citizen(ids[7]).unwrap().full_name;
        let sync = sync_with_the_status_request_held(&laptop, &proxy);
        // Read into the first batch already: it must be read again.
        laptop.store().forget_citizen(ids[7]).unwrap();
        sync.join().unwrap().unwrap();
        assert_eq!(laptop.pending(), 0);
        let bodies = proxy.pushed_bodies();
        assert!(!bodies.is_empty());
        assert!(
            bodies.iter().all(|b| !b.contains(&name)),
            "{name} was sent after being forgotten"
        );
    });
}

#[test]
fn a_person_forgotten_while_their_batch_waits_is_never_sent() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = enrolled_behind(&proxy, &server);
        let ids = laptop.add_citizens("Quên", 20);
        // Batches of 5 and 10 go at once; the third, from the 16th record on, is read while
        // the first is held back by the proxy, and may go only once that is answered: by then
        // the person is forgotten, and what was read must be read again.
        let config = SyncConfig {
            initial_batch: 5,
            in_flight: 2,
            ..fast_config()
        };
        let pending = laptop.store().pending_records(0, 100).unwrap();
        let eighteenth = &pending[17];
        let citizen = ids
            .iter()
            .copied()
            .find(|id| id.to_string() == eighteenth.entity_id)
            .expect("the 18th record is one of the people");
        let name = laptop.store().citizen(citizen).unwrap().full_name;
        proxy.hold_push(FIRST_RECORD, Duration::from_millis(1_500));
        let sync = sync_in_background(&laptop, config);
        std::thread::sleep(Duration::from_millis(500));
        laptop.store().forget_citizen(citizen).unwrap();
        sync.join().unwrap().unwrap();
        assert_eq!(laptop.pending(), 0);
        let bodies = proxy.pushed_bodies();
        assert!(bodies.len() >= 3, "{} pushes", bodies.len());
        assert!(
            bodies.iter().all(|b| !b.contains(&name)),
            "{name} was sent after being forgotten"
        );
    });
}

/// Text only the push carrying a laptop's first record holds.
const FIRST_RECORD: &str = "\"seq\":1,\"hlc\"";

#[test]
fn batches_travel_side_by_side_and_are_stored_in_order() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = laptop_behind(&proxy, &server, 300);
        // The first batch is held on the way: those sent beside it reach the server first and
        // wait there for their turn.
        proxy.hold_push(FIRST_RECORD, Duration::from_millis(800));
        let summary = laptop.sync().unwrap();
        assert!(proxy.pushes_overlapped(), "the batches went one at a time");
        let statuses = proxy.answer_statuses();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        assert_eq!((summary.retries, summary.duplicates), (0, 0), "{summary:?}");
        assert_eq!(laptop.pending(), 0);
        assert_server_has(&server, 300, 1, 40);
        assert_eq!(
            server.stats(TEAM).records,
            laptop.store().outbox_status().unwrap().last_seq
        );
    });
}

#[test]
fn the_pull_goes_while_the_batches_travel() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut teammate = Laptop::enrolled(&server, TEAM, "Lan");
        teammate.add_citizens("Bạn", 2);
        teammate.sync().unwrap();
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = laptop_behind(&proxy, &server, 300);
        let summary = laptop.sync().unwrap();
        assert!(
            proxy.pulled_before_the_last_answer(),
            "the pull waited for the last push"
        );
        assert_eq!(
            summary.pulled,
            teammate.store().outbox_status().unwrap().last_seq,
            "{summary:?}"
        );
        assert_eq!(laptop.count("citizen"), 302);
        assert_eq!(laptop.pending(), 0);
        assert_server_has(&server, 302, 1, 40);
    });
}

/// How hard each push through `proxy` was compressed, told by its size: nearer to what the
/// fast or the thorough settings make of its JSON (the two differ by about a third).
fn compressions(proxy: &FaultProxy) -> Vec<Compression> {
    proxy
        .pushed_bodies_as_sent()
        .iter()
        .map(|(sent, json)| {
            let thorough = compress_body_as(json, Compression::Thorough).len();
            let fast = compress_body_as(json, Compression::Fast).len();
            if sent.len().abs_diff(fast) < sent.len().abs_diff(thorough) {
                Compression::Fast
            } else {
                Compression::Thorough
            }
        })
        .collect()
}

/// A backlog of 8,000 people sent through `proxy` in batches of 500 growing to 2,000: how hard
/// each batch was compressed, once everything is on the server.
fn backlog_compressions(server: &TestServer, proxy: &FaultProxy) -> Vec<Compression> {
    let mut laptop = Laptop::new();
    laptop.enroll(&proxy.url(), &server.code(TEAM), "Hoa");
    let dir = tempfile::tempdir().unwrap();
    sotay_core::sample::SampleTeam {
        citizens: 8_000,
        sessions: 0,
        per_session: 0,
    }
    .add_to(&mut laptop.store(), dir.path())
    .unwrap();
    let summary = laptop
        .sync_with(&SyncConfig {
            initial_batch: 500,
            max_batch: 2_000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(laptop.pending(), 0, "{summary:?}");
    assert_server_has(server, 8_000, 0, 0);
    compressions(proxy)
}

/// On loopback the link carries bytes far faster than the thorough compressor makes them: once
/// an answer says so (the server's Server-Timing taken off the round trip), the batches after
/// it go fast-compressed. The first goes before anything is measured, thorough.
#[test]
fn on_a_fast_link_later_batches_are_compressed_fast() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(Backend::Sqlite(dir.path().join("central.sqlite")));
    let proxy = FaultProxy::start(server.addr);
    let compressions = backlog_compressions(&server, &proxy);
    assert!(compressions.len() >= 5, "{compressions:?}");
    assert_eq!(compressions[0], Compression::Thorough, "{compressions:?}");
    // From the fifth batch on, each is read after the first answer is in.
    assert!(
        compressions[4..].iter().all(|c| *c == Compression::Fast),
        "{compressions:?}"
    );
}

/// Over a slow line (200 KB/s) the compressing costs nothing (it happens while earlier batches
/// travel) and every byte saved reaches the server sooner: every batch goes thorough.
#[test]
fn on_a_slow_link_every_batch_is_compressed_thoroughly() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(Backend::Sqlite(dir.path().join("central.sqlite")));
    let proxy = FaultProxy::start(server.addr);
    proxy.slow_line(200_000.0);
    let compressions = backlog_compressions(&server, &proxy);
    assert!(compressions.len() >= 5, "{compressions:?}");
    assert!(
        compressions.iter().all(|c| *c == Compression::Thorough),
        "{compressions:?}"
    );
}

#[test]
fn a_server_that_refuses_early_batches_still_gets_everything() {
    each_backend(|backend| {
        let limits = sotay_server::Settings {
            batch_wait: Duration::ZERO,
            ..Default::default()
        };
        let server = TestServer::start_with(backend, limits);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = laptop_behind(&proxy, &server, 300);
        proxy.hold_push(FIRST_RECORD, Duration::from_millis(500));
        let summary = laptop.sync().unwrap();
        assert!(
            proxy.answer_statuses().contains(&409),
            "no batch came early: {:?}",
            proxy.answer_statuses()
        );
        assert_eq!(summary.pending, 0, "{summary:?}");
        assert_eq!(laptop.pending(), 0);
        assert_server_has(&server, 300, 1, 40);
        assert_eq!(
            server.stats(TEAM).records,
            laptop.store().outbox_status().unwrap().last_seq
        );
    });
}

#[test]
fn the_same_batch_delivered_twice_is_stored_once() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = laptop_behind(&proxy, &server, 80);
        proxy.inject(std::iter::repeat_n(Fault::Duplicate, 10));
        laptop.sync().unwrap();
        assert_server_has(&server, 80, 1, 40);
        assert_eq!(
            server.stats(TEAM).records,
            laptop.store().outbox_status().unwrap().last_seq
        );
    });
}

#[test]
fn a_failed_sync_says_so_and_keeps_everything_pending() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let proxy = FaultProxy::start(server.addr);
        let mut laptop = laptop_behind(&proxy, &server, 20);
        let before = laptop.pending();
        proxy.inject(std::iter::repeat_n(Fault::Status(503), 50));
        let err = laptop.sync().unwrap_err();
        assert_eq!(err.kind(), "server");
        assert_eq!(laptop.pending(), before);
        let status = laptop.store().sync_status().unwrap();
        assert!(status.last_error.unwrap().contains("503"));
        assert!(status.last_success.is_none());
    });
}

#[test]
fn a_revoked_token_is_refused_clearly_and_records_stay_pending() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        laptop.add_citizens("Lý", 5);
        let device = laptop.store().device_id();
        server.db.revoke(device);
        let before = laptop.pending();
        let err = laptop.sync().unwrap_err();
        assert!(err.to_string().contains("thu hồi"), "{err}");
        assert_eq!(laptop.pending(), before);
        assert_eq!(server.stats(TEAM).records, 0);
    });
}

/// Enrolment attempts with wrong codes from this address; the HTTP status of each.
fn enrol_attempts(server: &TestServer, n: usize) -> Vec<u16> {
    let client = raw_client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut statuses = Vec::new();
        for i in 0..n {
            let body = sotay_protocol::wire::compress_body(
                format!(
                    r#"{{"code": "SAI{i:05}", "device_id": "{}"}}"#,
                    uuid::Uuid::new_v4()
                )
                .as_bytes(),
            );
            let response = client
                .post(format!("{}/v1/enroll", server.url()))
                .header(
                    PROTOCOL_HEADER,
                    sotay_protocol::PROTOCOL_VERSION.to_string(),
                )
                .header("content-encoding", "zstd")
                .body(body)
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
        statuses
    })
}

/// A raw push with a given token and body, bypassing the client's own checks.
fn raw_push(
    server: &TestServer,
    token: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    raw_push_to(&server.url(), token, headers, body)
}

fn raw_push_to(url: &str, token: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
    let (status, body, _, _) = timed_push_to(url, token, headers, body);
    (status, body)
}

/// [`raw_push_to`], with the time the server says it spent (its Server-Timing) and the whole
/// round trip as the client saw it.
fn timed_push_to(
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String, Option<Duration>, Duration) {
    let client = raw_client();
    let mut req = client
        .post(format!("{url}/v1/push"))
        .header("authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let started = std::time::Instant::now();
        let resp = req.body(body).send().await.unwrap();
        let status = resp.status().as_u16();
        let spent = resp
            .headers()
            .get(sotay_protocol::sync::SERVER_TIMING_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(sotay_protocol::sync::read_server_timing);
        let text = resp.text().await.unwrap();
        (status, text, spent, started.elapsed())
    })
}

/// A push of `records` as the laptop's, whatever they hold.
fn push_records(
    server: &TestServer,
    laptop: &Laptop,
    records: Vec<sotay_protocol::OutboxRecord>,
) -> (u16, String) {
    let body = body_of(laptop, records);
    raw_push(server, &token_of(laptop), &[CURRENT_PROTOCOL, ZSTD], body)
}

fn token_of(laptop: &Laptop) -> String {
    let conn = common::raw_laptop(&laptop.path);
    conn.query_row("SELECT value FROM meta WHERE key = 'sync.token'", [], |r| {
        r.get(0)
    })
    .unwrap()
}

fn push_body(laptop: &Laptop) -> Vec<u8> {
    push_body_after(laptop, 0, 1000)
}

/// A push of at most `limit` of the laptop's pending records after sequence `after`.
fn push_body_after(laptop: &Laptop, after: u64, limit: usize) -> Vec<u8> {
    // Read in a statement of its own: `store()` holds the laptop's lock until the statement ends.
    let records = laptop.store().pending_records(after, limit).unwrap();
    body_of(laptop, records)
}

/// A push body of `records` as the laptop's, compressed as the laptop sends it.
fn body_of(laptop: &Laptop, records: Vec<sotay_protocol::OutboxRecord>) -> Vec<u8> {
    sotay_protocol::wire::compress_body(
        &serde_json::to_vec(&sotay_protocol::sync::PushRequest {
            device_id: laptop.store().device_id(),
            records,
        })
        .unwrap(),
    )
}

/// The protocol version header, as a laptop of this build sends it.
const CURRENT_PROTOCOL: (&str, &str) = (PROTOCOL_HEADER, "3");
const ZSTD: (&str, &str) = ("content-encoding", "zstd");
/// What a laptop says of a batch sent while the one up to sequence 5 is on its way.
const FOLLOWS_5: (&str, &str) = (sotay_protocol::sync::FOLLOWS_HEADER, "5");

/// Sends the laptop's records after the 5th with `headers`, then, 300 ms later (well within the
/// server's wait), the first five. Returns both answers: the early batch's, then the other's.
fn push_early_then_first_five(
    server: &TestServer,
    laptop: &Laptop,
    headers: &'static [(&'static str, &'static str)],
) -> ((u16, String), (u16, String)) {
    let token = token_of(laptop);
    let (url, later) = (server.url(), push_body_after(laptop, 5, 1000));
    let early = {
        let token = token.clone();
        std::thread::spawn(move || raw_push_to(&url, &token, headers, later))
    };
    std::thread::sleep(Duration::from_millis(300));
    let first_five = raw_push(
        server,
        &token,
        &[CURRENT_PROTOCOL, ZSTD],
        push_body_after(laptop, 0, 5),
    );
    (early.join().unwrap(), first_five)
}

#[test]
fn a_batch_that_arrives_before_the_one_it_follows_waits_its_turn() {
    each_backend(|backend| {
        // One request at a time: the waiting batch gives its place up to the one it waits for.
        let limits = sotay_server::Settings {
            max_concurrent_requests: 1,
            ..Default::default()
        };
        let server = TestServer::start_with(backend, limits);
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        laptop.add_citizens("Lê", 10);
        let ((status, body), (first_status, first_body)) =
            push_early_then_first_five(&server, &laptop, &[CURRENT_PROTOCOL, ZSTD, FOLLOWS_5]);
        assert_eq!(first_status, 200, "{first_body}");
        assert!(first_body.contains("\"acked_seq\":5"), "{first_body}");
        assert_eq!(status, 200, "{body}");
        let last = laptop.store().outbox_status().unwrap().last_seq;
        assert!(body.contains(&format!("\"acked_seq\":{last}")), "{body}");
        assert_eq!(server.stats(TEAM).records, last);
        assert_server_has(&server, 10, 0, 0);
    });
}

/// A push's answer says how long the server spent on it once its body was in, its wait for the
/// batch before it included: the laptop takes the rest of the round trip for the link's, and
/// compresses from it (`sotay_sync::engine`). Here the early batch waits ~300 ms for the first.
#[test]
fn a_push_answer_says_how_long_the_server_spent_on_it() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        laptop.add_citizens("Lê", 10);
        let (url, token) = (server.url(), token_of(&laptop));
        let early = {
            let (url, token, body) = (
                url.clone(),
                token.clone(),
                push_body_after(&laptop, 5, 1000),
            );
            std::thread::spawn(move || {
                timed_push_to(&url, &token, &[CURRENT_PROTOCOL, ZSTD, FOLLOWS_5], body)
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        let first = timed_push_to(
            &url,
            &token,
            &[CURRENT_PROTOCOL, ZSTD],
            push_body_after(&laptop, 0, 5),
        );
        let early = early.join().unwrap();
        for (status, body, spent, round_trip) in [&first, &early] {
            assert_eq!(*status, 200, "{body}");
            let spent = spent.expect("the answer says what the server spent");
            assert!(spent <= *round_trip, "{spent:?} of {round_trip:?}");
        }
        let (first_spent, early_spent) = (first.2.unwrap(), early.2.unwrap());
        assert!(early_spent >= Duration::from_millis(200), "{early_spent:?}");
        assert!(first_spent < early_spent, "{first_spent:?} {early_spent:?}");
        assert_server_has(&server, 10, 0, 0);
    });
}

/// A batch that must wait for the ones before it is read and checked while it waits (the one
/// before is being stored meanwhile, and a free core does the reading), so a body that does not
/// read is refused at once, not after the wait. Past the server's budget for batches read early
/// a waiting batch holds only its compressed body and is read when its wait ends.
#[test]
fn a_waiting_batch_is_read_while_it_waits_within_the_servers_budget() {
    each_backend(|backend| {
        for (budget, read_early) in [
            (sotay_server::Settings::default().early_batch_bytes, true),
            (0, false),
        ] {
            let wait = Duration::from_millis(800);
            let limits = sotay_server::Settings {
                batch_wait: wait,
                early_batch_bytes: budget,
                ..Default::default()
            };
            let server = TestServer::start_with(backend.clone(), limits);
            let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
            laptop.add_citizens("Lê", 10);
            let garbled = sotay_protocol::wire::compress_body(br#"{"records": [{"seq": 6"#);
            let (status, body, _, took) = timed_push_to(
                &server.url(),
                &token_of(&laptop),
                &[CURRENT_PROTOCOL, ZSTD, FOLLOWS_5],
                garbled,
            );
            assert_eq!(status, 400, "{body}");
            assert!(body.contains("JSON"), "{body}");
            assert_eq!(
                took < wait,
                read_early,
                "budget {budget}: answered in {took:?}"
            );
            assert_eq!(server.stats(TEAM).records, 0);
        }
    });
}

#[test]
fn a_batch_whose_predecessor_never_comes_is_refused_as_a_gap() {
    each_backend(|backend| {
        let limits = sotay_server::Settings {
            batch_wait: Duration::from_millis(300),
            ..Default::default()
        };
        let server = TestServer::start_with(backend, limits);
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        laptop.add_citizens("Lê", 10);
        let (status, body) = raw_push(
            &server,
            &token_of(&laptop),
            &[CURRENT_PROTOCOL, ZSTD, FOLLOWS_5],
            push_body_after(&laptop, 5, 1000),
        );
        assert_eq!(status, 409, "{body}");
        assert!(
            body.contains("sequence_gap") && body.contains("\"expected_seq\":1"),
            "{body}"
        );
        assert_eq!(server.stats(TEAM).records, 0);
    });
}

#[test]
fn a_batch_that_does_not_say_it_follows_others_is_refused_at_once_as_a_gap() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        laptop.add_citizens("Lê", 10);
        // What it follows arrives within the server's wait, too late for a batch that did not
        // ask to wait (a laptop put back from an old copy, a server restored).
        let ((status, body), (first_status, first_body)) =
            push_early_then_first_five(&server, &laptop, &[CURRENT_PROTOCOL, ZSTD]);
        assert_eq!(first_status, 200, "{first_body}");
        assert_eq!(status, 409, "{body}");
        assert!(body.contains("\"expected_seq\":1"), "{body}");
        assert_eq!(server.stats(TEAM).records, 5);
    });
}

#[test]
fn a_device_of_team_a_cannot_write_team_b_records() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, "Đội A", "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        b.add_citizens("Bùi", 3);
        let mut forged = b.store().pending_records(0, 100).unwrap();
        b.sync().unwrap();
        // A forges records claiming B's team, signed with A's own token and device.
        let team_b = b.store().team().unwrap().team.id;
        let mut records = a.store().pending_records(0, 100).unwrap();
        forged.retain(|r| r.entity == sotay_protocol::Entity::Citizen);
        let next = records.last().unwrap().seq + 1;
        assert_eq!(forged.len(), 3);
        for (i, r) in forged.iter_mut().enumerate() {
            r.device_id = a.store().device_id();
            r.seq = next + i as u64;
            r.record_id = sotay_protocol::RecordId::new();
            assert_eq!(r.payload["team_id"], team_b.to_string());
        }
        records.extend(forged);
        let (status, body) = push_records(&server, &a, records);
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("forbidden"));
        // Nothing of the batch was written, not even A's own valid records.
        assert_eq!(server.stats("Đội A").records, 0);
        assert_server_has(&server, 3, 0, 0);
        // A's own records still go through afterwards.
        a.sync().unwrap();
        assert_eq!(
            server.stats("Đội A").records,
            a.store().outbox_status().unwrap().last_seq
        );
    });
}

#[test]
fn a_protocol_version_mismatch_is_refused_with_a_clear_error() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        assert_eq!(
            CURRENT_PROTOCOL.1,
            sotay_protocol::PROTOCOL_VERSION.to_string()
        );
        for headers in [
            vec![ZSTD],
            vec![(PROTOCOL_HEADER, "2"), ZSTD],
            vec![(PROTOCOL_HEADER, "4"), ZSTD],
        ] {
            let (status, body) =
                raw_push(&server, &token_of(&laptop), &headers, push_body(&laptop));
            assert_eq!(status, 400);
            assert!(
                body.contains("protocol_version") && body.contains("phiên bản"),
                "{body}"
            );
        }
        assert_eq!(server.stats(TEAM).records, 0);
    });
}

#[test]
fn truncated_or_corrupt_bodies_are_refused_and_write_nothing() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        laptop.add_citizens("Hồ", 20);
        let body = push_body(&laptop);
        let token = token_of(&laptop);
        let truncated = body[..body.len() / 2].to_vec();
        let mut corrupt = body.clone();
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0xff;
        let not_json = sotay_protocol::wire::compress_body(b"{\"device_id\": 12");
        let no_checksum = zstd::encode_all(&b"{}"[..], 3).unwrap();
        for bad in [
            truncated,
            corrupt,
            not_json,
            no_checksum,
            b"garbage".to_vec(),
        ] {
            let (status, body) = raw_push(&server, &token, &[CURRENT_PROTOCOL, ZSTD], bad);
            assert_eq!(status, 400, "{body}");
            assert!(body.contains("bad_request"), "{body}");
        }
        assert_eq!(server.stats(TEAM).records, 0);
        laptop.sync().unwrap();
        assert_server_has(&server, 20, 0, 0);
    });
}

#[test]
fn oversized_batches_are_refused_with_a_clear_error() {
    each_backend(|backend| {
        let limits = sotay_server::Settings {
            max_records_per_batch: 10,
            ..Default::default()
        };
        let server = TestServer::start_with(backend, limits);
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        laptop.add_citizens("Ngô", 20);
        let (status, body) = raw_push(
            &server,
            &token_of(&laptop),
            &[CURRENT_PROTOCOL, ZSTD],
            push_body(&laptop),
        );
        assert_eq!(status, 413, "{body}");
        assert!(body.contains("too_large"));
    });
}

#[test]
fn usb_bundles_apply_once_and_tampered_or_foreign_ones_are_refused() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        let ids = laptop.add_citizens("Đặng", 25);
        laptop.add_session(&ids[..10]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("so-tay.bundle");
        let summary = laptop.store().export_bundle(&path).unwrap();
        assert_eq!(summary.records, laptop.pending());
        let bytes = std::fs::read(&path).unwrap();

        let mut tampered = bytes.clone();
        let last = tampered.len() - 10;
        tampered[last] ^= 1;
        for bad in [tampered, bytes[..bytes.len() - 20].to_vec()] {
            let err = server.db.import_bundle(&bad).unwrap_err();
            assert_eq!(err.kind(), "forbidden", "{err}");
        }
        // A laptop never enrolled here: a foreign bundle.
        let other = TestServer::start(match &server.backend {
            Backend::Sqlite(p) => Backend::Sqlite(p.with_file_name("other.sqlite")),
            Backend::Postgres(_) => Backend::Postgres(fresh_postgres_database(
                &std::env::var("SOTAY_TEST_DATABASE_URL").unwrap(),
            )),
        });
        let mut stranger = Laptop::enrolled(&other, "Đội khác", "X");
        stranger.add_citizens("Lạ", 2);
        let foreign = dir.path().join("foreign.bundle");
        stranger.store().export_bundle(&foreign).unwrap();
        let foreign = std::fs::read(&foreign).unwrap();
        let err = server.db.import_bundle(&foreign).unwrap_err();
        assert_eq!(err.kind(), "forbidden", "{err}");
        assert!(err.to_string().contains("không thuộc máy chủ này"), "{err}");
        assert_eq!(server.stats(TEAM).records, 0);

        let applied = server.db.import_bundle(&bytes).unwrap();
        assert_eq!(applied.applied, summary.records);
        let again = server.db.import_bundle(&bytes).unwrap();
        assert_eq!((again.applied, again.duplicates), (0, summary.records));
        assert_server_has(&server, 25, 1, 10);
        // Still pending on the laptop until the next contact acknowledges them.
        assert_eq!(laptop.pending(), summary.records);
        let sync = laptop.sync().unwrap();
        assert_eq!((sync.pushed, laptop.pending()), (0, 0));
        assert_server_has(&server, 25, 1, 10);
    });
}

/// `sotay sync --json` of the laptop at `path` in a process of its own, with `env` set; its
/// summary, once it succeeded.
fn cli_sync(path: &std::path::Path, env: &[(&str, &std::path::Path)]) -> serde_json::Value {
    let out = sotay()
        .arg("--db")
        .arg(path)
        .args(["sync", "--json"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sotay() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sotay"));
    cmd.env_remove("SOTAY_DB")
        .env_remove("SOTAY_DATABASE_URL")
        .env("SOTAY_PASSPHRASE", common::PASSPHRASE);
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `sotay serve` as its own process, so that a test can kill it with SIGKILL.
fn spawn_server(backend: &Backend, port: u16) -> std::process::Child {
    let mut cmd = sotay();
    cmd.arg("serve");
    match backend {
        Backend::Sqlite(path) => cmd.arg("--db").arg(path),
        Backend::Postgres(url) => cmd.arg("--database-url").arg(url),
    };
    let log = std::env::temp_dir().join(format!("sotay-serve-{port}.log"));
    let mut child = cmd
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "sotay serve did not start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

#[test]
fn a_server_killed_mid_batch_loses_nothing_and_duplicates_nothing() {
    each_backend(|backend| {
        let port = free_port();
        let mut process = spawn_server(&backend, port);
        let db = ServerDb::open(&backend);
        let code = db.code(TEAM);
        let mut laptop = Laptop::new();
        laptop.enroll(&format!("http://127.0.0.1:{port}"), &code, "Hoa");
        let ids = laptop.add_citizens("Phan", 1_500);
        laptop.add_session(&ids[..40]);
        let total = laptop.store().outbox_status().unwrap().last_seq;

        let killer_backend = backend.clone();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            process.kill().unwrap();
            process.wait().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            spawn_server(&killer_backend, port)
        });
        let mut config = fast_config();
        config.max_attempts = 30;
        config.initial_batch = 400;
        let result = laptop.sync_with(&config);
        let mut restarted = killer.join().unwrap();
        if result.is_err() {
            // The kill came between retries' patience: the next sync picks up where it stopped.
            laptop.sync_with(&config).unwrap();
        }
        assert_eq!(laptop.pending(), 0);
        let stats = db.stats();
        let team = stats.iter().find(|t| t.team_name == TEAM).unwrap();
        assert_eq!(
            (team.citizens, team.sessions, team.attendances),
            (1_500, 1, 40)
        );
        assert_eq!(team.records, total);
        restarted.kill().unwrap();
        restarted.wait().unwrap();
    });
}

#[test]
fn a_client_killed_mid_sync_resumes_where_it_stopped() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        let ids = laptop.add_citizens("Huỳnh", 1_500);
        laptop.add_session(&ids[..40]);
        let total = laptop.store().outbox_status().unwrap().last_seq;
        let path = laptop.path.clone();
        laptop.release();

        let mut child = sotay().arg("--db").arg(&path).arg("sync").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        child.kill().unwrap();
        child.wait().unwrap();

        let summary = cli_sync(&path, &[]);
        assert_eq!(summary["pending"], 0);
        assert_server_has(&server, 1_500, 1, 40);
        assert_eq!(server.stats(TEAM).records, total);
    });
}

/// Plain http:// goes only to this machine and speaks no TLS, so the sync's client trusts no
/// certificate for it: it must not need the system's certificate store at all (reading all of
/// it cost every such sync ~150 files; a machine without one could not sync here). The
/// store's locations are pointed at nothing, as on a minimal install without `ca-certificates`.
#[test]
fn a_sync_over_plain_http_needs_no_system_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(Backend::Sqlite(dir.path().join("central.sqlite")));
    let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
    laptop.add_citizens("Vũ", 3);
    let path = laptop.path.clone();
    laptop.release();
    let nothing = dir.path().join("no-certificates-here");
    let summary = cli_sync(
        &path,
        &[("SSL_CERT_FILE", &nothing), ("SSL_CERT_DIR", &nothing)],
    );
    assert_eq!(summary["pending"], 0);
    assert_server_has(&server, 3, 0, 0);
}

#[test]
fn the_server_report_counts_what_every_laptop_recorded() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let ids = a.add_citizens("Mai", 12);
        a.add_session(&ids[..8]);
        let ids = b.add_citizens("Lã", 6);
        b.add_session(&ids);
        a.sync().unwrap();
        b.sync().unwrap();
        a.sync().unwrap();
        let options = sotay_core::report::ReportOptions::default();
        let laptop = a.store().report(&options).unwrap();
        let on_server = server
            .db
            .report(&sotay_server::admin::ReportScope::default(), &options);
        assert_eq!(on_server.totals, laptop.totals);
        assert_eq!(
            (on_server.totals.people, on_server.totals.attendances),
            (14, 14)
        );
        assert_eq!(on_server.people_confirmed, 4 + 3);
        let scoped = server.db.report(
            &sotay_server::admin::ReportScope {
                team: None,
                province: Some("01".into()),
            },
            &options,
        );
        assert_eq!(scoped.totals.people, 0, "no data in Hà Nội");
    });
}

#[test]
fn laptops_pull_a_newer_skill_catalogue_and_ignore_an_older_one() {
    each_backend(|backend| {
        let mut newer = sotay_core::refdata::skills().clone();
        newer.version = "2099.1".into();
        let mut zalo = newer.skills[0].clone();
        zalo.code = "ZALO".into();
        zalo.name_vi = "Sử dụng Zalo".into();
        zalo.short_vi = "Zalo".into();
        newer.skills.push(zalo);
        let server = TestServer::start_with(
            backend.clone(),
            sotay_server::Settings {
                catalogue: std::sync::Arc::new(newer),
                ..Default::default()
            },
        );
        let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
        assert!(laptop.store().catalogue().unwrap().skill("ZALO").is_none());
        laptop.sync().unwrap();
        let catalogue = laptop.store().catalogue().unwrap();
        assert_eq!(catalogue.version, "2099.1");
        let ids = laptop.add_citizens("Kiều", 1);
        laptop
            .store()
            .add_session(sotay_core::SessionInput {
                date: "2026-11-20".into(),
                place: "Nhà văn hóa".into(),
                skills: vec!["ZALO".into()],
                attendees: vec![sotay_core::AttendeeInput {
                    citizen_id: ids[0],
                    achieved: vec!["ZALO".into()],
                }],
                ..Default::default()
            })
            .expect("the pulled catalogue's new skill is accepted");
        drop(server);

        // A server still on an older catalogue does not downgrade the laptop.
        let mut older = sotay_core::refdata::skills().clone();
        older.version = "2000.1".into();
        let old_server = TestServer::start_with(
            match backend {
                Backend::Sqlite(p) => Backend::Sqlite(p.with_file_name("old.sqlite")),
                Backend::Postgres(_) => Backend::Postgres(fresh_postgres_database(
                    &std::env::var("SOTAY_TEST_DATABASE_URL").unwrap(),
                )),
            },
            sotay_server::Settings {
                catalogue: std::sync::Arc::new(older),
                ..Default::default()
            },
        );
        let mut other = Laptop::enrolled(&old_server, TEAM, "Nam");
        other.sync().unwrap();
        assert_eq!(
            other.store().catalogue().unwrap().version,
            sotay_core::refdata::skills().version
        );
    });
}

/// Problem 1 of "Nothing lost, whatever happens": pushes of one team commit in another order than
/// their records were numbered, and a teammate pulling meanwhile must still end with every record.
#[test]
fn a_teammate_pulling_while_six_laptops_push_ends_with_every_record() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut pushers: Vec<Laptop> = (0..6)
            .map(|i| Laptop::enrolled(&server, TEAM, &format!("Tình nguyện viên {i}")))
            .collect();
        for (i, laptop) in pushers.iter_mut().enumerate() {
            laptop.add_citizens(&format!("Nhóm{i}"), 300);
        }
        let mut teammate = Laptop::enrolled(&server, TEAM, "Người kéo");
        let pushing: Vec<_> = pushers
            .into_iter()
            .map(|mut laptop| {
                std::thread::spawn(move || {
                    // Small batches: many transactions to interleave.
                    let config = SyncConfig {
                        initial_batch: 15,
                        max_batch: 15,
                        ..fast_config()
                    };
                    laptop.sync_with(&config).unwrap();
                    laptop
                })
            })
            .collect();
        while !pushing.iter().all(|h| h.is_finished()) {
            teammate.sync().unwrap();
        }
        for h in pushing {
            h.join().unwrap();
        }
        teammate.sync().unwrap();
        assert_eq!(teammate.count("citizen"), 6 * 300);
    });
}

/// Problem 3 of "Nothing lost, whatever happens": one bad record must not stop the team. A broken
/// or hostile client pushes records that break the rules; the server sets each aside, the good
/// ones go through, teammates sync on, and an admin sees why. A bad record already stored by an
/// older server is set aside by the laptop that pulls it.
#[test]
fn a_bad_record_is_set_aside_and_nobody_stops() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let ids = a.add_citizens("Vi", 8);
        a.add_session(&ids[..1]);
        let mut records = a.store().pending_records(0, 1000).unwrap();
        let citizen = |id: &sotay_protocol::CitizenId| id.to_string();
        for r in records.iter_mut() {
            if r.entity_id == citizen(&ids[1]) {
                r.payload["consent"]["given"] = false.into();
            } else if r.entity_id == citizen(&ids[2]) {
                r.payload["note"] = "x".repeat(100_000).into();
            } else if r.entity_id == citizen(&ids[3]) {
                r.entity_id = sotay_protocol::CitizenId::new().to_string();
            } else if r.entity_id == citizen(&ids[4]) {
                // PostgreSQL stores no NUL: once, this failed the batch on every retry.
                r.payload["note"] = "a\u{0}b".into();
            } else if r.entity_id == citizen(&ids[5]) {
                r.entity_id = format!("{}\u{0}", citizen(&ids[5]));
            } else if r.entity == sotay_protocol::Entity::Attendance {
                let stranger = sotay_protocol::CitizenId::new();
                r.payload["citizen_id"] = stranger.to_string().into();
                r.entity_id = format!("{}/{stranger}", r.payload["session_id"].as_str().unwrap());
            }
        }
        // Values no reader could take back, in fields of no struct: JSON text a tree of values
        // cannot hold (so written here as text), which once refused the whole batch, again on
        // every retry. One is a full upsert's plain field, the other hides in an escape.
        let json = serde_json::to_string(&sotay_protocol::sync::PushRequest {
            device_id: a.store().device_id(),
            records,
        })
        .unwrap()
        .replace(
            &format!(r#""id":"{}""#, ids[6]),
            &format!(r#""later":1e400,"id":"{}""#, ids[6]),
        )
        .replace(
            &format!(r#""id":"{}""#, ids[7]),
            &format!(r#""later":"\ud800","id":"{}""#, ids[7]),
        );
        let body = sotay_protocol::wire::compress_body(json.as_bytes());
        let (status, answer) = raw_push(&server, &token_of(&a), &[CURRENT_PROTOCOL, ZSTD], body);
        assert_eq!(status, 200, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(
            answer["quarantined"].as_array().unwrap().len(),
            8,
            "{answer}"
        );

        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        b.sync().expect("a teammate syncs on");
        assert_eq!((b.count("citizen"), b.count("session")), (1, 1));
        let listed = server.db.quarantine();
        let reasons: Vec<&str> = listed.iter().map(|q| q.reason.as_str()).collect();
        for expected in [
            "đồng ý",
            "byte",
            "không khớp",
            "không có",
            "NUL",
            "không đọc được",
        ] {
            assert!(
                reasons.iter().any(|r| r.contains(expected)),
                "{expected} not in {reasons:?}"
            );
        }

        // A record an older server let through, already in the team's log: B sets it aside.
        let mut c = Laptop::enrolled(&server, TEAM, "Lan");
        c.add_citizens("Lò", 1);
        let mut bad = c.store().pending_records(0, 1000).unwrap().pop().unwrap();
        bad.payload["consent"]["given"] = false.into();
        c.sync().unwrap();
        server.db.sql(
            "UPDATE records SET payload = ?1 WHERE record_id = ?2",
            "UPDATE records SET payload = $1::jsonb WHERE record_id = $2::uuid",
            &[&bad.payload.to_string(), &bad.record_id.to_string()],
        );
        let summary = b
            .sync()
            .expect("the bad pulled record does not stop the pull");
        assert_eq!(summary.quarantined, 1);
        assert_eq!(b.store().sync_status().unwrap().quarantined, 1);
        assert_eq!(
            b.count("citizen"),
            1,
            "the consent-less citizen was not stored"
        );
    });
}

/// "The server under load and abuse": a request without a valid token is refused before its body
/// is read (a 16 MB push that never arrives still gets its 401 at once), and enrolment codes
/// cannot be guessed at speed from one address.
#[test]
fn the_server_refuses_strangers_before_reading_their_bodies() {
    use std::io::{Read, Write};
    each_backend(|backend| {
        let server = TestServer::start(backend);
        for _ in 0..20 {
            let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            // Headers of a 16 MB push, and not one byte of the body.
            write!(
                stream,
                "POST /v1/push HTTP/1.1\r\nhost: {}\r\n{}: {}\r\nauthorization: Bearer nope\r\n\
                 content-encoding: zstd\r\ncontent-length: 16777216\r\n\r\n",
                server.addr,
                PROTOCOL_HEADER,
                sotay_protocol::PROTOCOL_VERSION
            )
            .unwrap();
            let mut answer = [0u8; 12];
            stream
                .read_exact(&mut answer)
                .expect("answered without waiting for the body");
            assert_eq!(&answer, b"HTTP/1.1 401");
        }

        // 20 wrong codes are refused one by one; the 21st attempt within the hour is not even
        // looked at.
        let statuses = enrol_attempts(&server, 21);
        assert!(statuses[..20].iter().all(|s| *s == 403), "{statuses:?}");
        assert_eq!(statuses[20], 429, "{statuses:?}");
    });
}

/// A laptop on `server` with three citizens synced, and a copy of its file taken then.
fn laptop_with_a_copy(server: &TestServer) -> (Laptop, std::path::PathBuf) {
    let mut laptop = Laptop::enrolled(server, TEAM, "Hoa");
    laptop.add_citizens("Trước", 3);
    laptop.sync().unwrap();
    let copy = laptop.path.with_file_name("ban-sao.sqlite");
    laptop.store().backup_to(&copy).unwrap();
    (laptop, copy)
}

/// Puts `copy` back in place of the laptop's file, as a volunteer restoring a backup would.
fn put_back(laptop: &mut Laptop, copy: &std::path::Path) {
    laptop.release();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", laptop.path.display()));
    }
    std::fs::copy(copy, &laptop.path).unwrap();
    laptop.reopen();
}

/// Problem 2 of "Nothing lost, whatever happens": a laptop put back from an old copy of its file
/// numbers new records with sequences the server already holds. It must notice, bring back what
/// it made after the copy, send what it made since, and say so once.
#[test]
fn a_laptop_put_back_from_an_old_copy_loses_nothing() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let (mut a, copy) = laptop_with_a_copy(&server);
        a.add_citizens("Sau", 2);
        a.sync().unwrap();

        put_back(&mut a, &copy);
        a.add_citizens("Mới", 1);
        let summary = a.sync().unwrap();
        let notice = summary.notice.expect("the volunteer is told");
        assert!(notice.contains("bản sao cũ"), "{notice}");
        assert_eq!(
            a.count("citizen"),
            6,
            "what was made after the copy came back"
        );
        assert_eq!(a.pending(), 0);
        assert!(a.sync().unwrap().notice.is_none(), "told once");

        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        b.sync().unwrap();
        assert_eq!(
            b.count("citizen"),
            6,
            "what was made since the restore reached the team"
        );
        assert_eq!(server.stats(TEAM).citizens, 6);
    });
}

/// Put back twice: first from an old copy, then, after that recovery renumbered what was made
/// since, from a copy taken before the recovery. The second copy holds that record under its old
/// sequence; it takes the server's, and the second recovery loses nothing either.
#[test]
fn a_laptop_put_back_twice_from_copies_of_different_ages_loses_nothing() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let (mut a, first_copy) = laptop_with_a_copy(&server);
        a.add_citizens("Sau", 2);
        a.sync().unwrap();
        put_back(&mut a, &first_copy);
        a.add_citizens("Mới", 1);
        let second_copy = a.path.with_file_name("ban-sao-2.sqlite");
        a.store().backup_to(&second_copy).unwrap();
        a.sync().unwrap();

        put_back(&mut a, &second_copy);
        let notice = a.sync().expect("the second recovery").notice;
        assert!(notice.is_some_and(|n| n.contains("bản sao cũ")));
        assert_eq!(a.pending(), 0);
        assert_eq!(a.count("citizen"), 6);
        assert_eq!(server.stats(TEAM).citizens, 6);
        a.add_citizens("Sau nữa", 1);
        a.sync().unwrap();
        assert_eq!(server.stats(TEAM).citizens, 7);
    });
}

/// A laptop put back from an old copy, where the server's last record of it is one it set aside
/// (and so cannot give back): the first sync after tells the volunteer.
fn put_back_behind_a_record_set_aside(server: &TestServer) -> Laptop {
    let (mut laptop, copy) = laptop_with_a_copy(server);
    // The next record reaches the server broken (as a damaged laptop once sent one): set aside.
    laptop.add_citizens("Hỏng", 1);
    let mut broken = laptop.store().pending_records(0, 10).unwrap();
    assert_eq!(broken.len(), 1, "the broken record is the server's last");
    broken[0].payload["consent"]["given"] = false.into();
    let (status, answer) = push_records(server, &laptop, broken);
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer["quarantined"].as_array().unwrap().len(),
        1,
        "{answer}"
    );
    laptop.sync().unwrap();

    put_back(&mut laptop, &copy);
    let notice = laptop
        .sync()
        .unwrap()
        .notice
        .expect("the volunteer is told");
    assert!(notice.contains("bản sao cũ"), "{notice}");
    laptop
}

/// Behind a record the server set aside, the volunteer is told once, and what they record next
/// is sent under a sequence of its own.
#[test]
fn an_old_copy_behind_a_record_the_server_set_aside_recovers_once() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = put_back_behind_a_record_set_aside(&server);
        assert!(a.sync().unwrap().notice.is_none(), "told once");
        a.add_citizens("Mới", 1);
        let summary = a.sync().unwrap();
        assert!(summary.notice.is_none(), "nothing more to recover");
        assert_eq!(a.pending(), 0);
        assert_eq!(server.stats(TEAM).citizens, 4);
    });
}

/// A server put back from an older backup holds less of a laptop than it acknowledged: the
/// laptop sends again what the server lost, then what it records next.
#[test]
fn a_server_put_back_from_a_backup_gets_again_what_it_lost() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        a.add_citizens("Lê", 3);
        a.sync().unwrap();
        let before_backup = a.store().outbox_status().unwrap().last_seq.to_string();
        a.add_citizens("Sau", 2);
        a.sync().unwrap();
        lose_records_after(&server, &before_backup);
        assert_eq!(server.stats(TEAM).citizens, 3);

        a.add_citizens("Mới", 1);
        a.sync()
            .expect("the server takes what it lost and what is new");
        assert_eq!(a.pending(), 0);
        assert_eq!(server.stats(TEAM).citizens, 6);
    });
}

/// The same behind a record the server had set aside, the server put back from before it: the
/// sequence the laptop skipped for it is no longer the server's, and would be a gap.
#[test]
fn a_server_put_back_from_before_a_record_it_set_aside_gets_the_next_without_a_gap() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = put_back_behind_a_record_set_aside(&server);
        server
            .db
            .sql("DELETE FROM quarantine", "DELETE FROM quarantine", &[]);
        a.add_citizens("Mới", 1);
        a.sync().expect("no gap");
        assert_eq!(a.pending(), 0);
        assert_eq!(server.stats(TEAM).citizens, 4);
    });
}

/// The server as a backup taken when it held this team's records up to sequence `seq` would
/// leave it: later records and the entities they made are gone.
fn lose_records_after(server: &TestServer, seq: &str) {
    server.db.sql(
        "DELETE FROM entities WHERE source_record IN
             (SELECT record_id FROM records WHERE seq > CAST(?1 AS INTEGER))",
        "DELETE FROM entities WHERE source_record IN
             (SELECT record_id FROM records WHERE seq > $1::bigint)",
        &[seq],
    );
    server.db.sql(
        "DELETE FROM records WHERE seq > CAST(?1 AS INTEGER)",
        "DELETE FROM records WHERE seq > $1::bigint",
        &[seq],
    );
}

/// Problem 4 of "Nothing lost, whatever happens": a laptop whose clock ran years ahead (a flat
/// CMOS battery) must not win every later edit nor drag teammates' clocks; its records are kept
/// and its user is told the clock is wrong.
#[test]
fn a_laptop_whose_clock_ran_years_ahead_neither_wins_nor_drags() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let id = a.add_citizens("Đồng", 1)[0];
        a.sync().unwrap();
        b.sync().unwrap();

        // A's clock jumps to 2035 and it edits the person.
        let year_2035: u64 = 2_051_222_400_000;
        let device = a.store().device_id();
        let future = sotay_protocol::Hlc {
            millis: year_2035,
            counter: 0,
            device,
        };
        common::raw_laptop(&a.path)
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'hlc'",
                [future.to_string()],
            )
            .unwrap();
        let village = |v: &str| CitizenPatch {
            village: Some(v.into()),
            ..Default::default()
        };
        a.store()
            .update_citizen(id, village("Thôn Năm 2035"))
            .unwrap();
        a.sync().unwrap();
        let warning = a.store().sync_status().unwrap().clock_warning;
        assert!(warning.is_some_and(|w| w.contains("đồng hồ sai")));
        assert_eq!(
            a.store().citizen(id).unwrap().village,
            "Thôn Năm 2035",
            "kept"
        );

        // B pulls it, then edits the same person later: the later edit wins everywhere.
        b.sync().unwrap();
        assert_eq!(b.store().citizen(id).unwrap().village, "Thôn Năm 2035");
        // Not believed beyond an hour or so ahead of the real time (here: a day, for slack).
        let limit = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 86_400_000;
        let b_clock: String = common::raw_laptop(&b.path)
            .query_row("SELECT value FROM meta WHERE key = 'hlc'", [], |r| r.get(0))
            .unwrap();
        assert!(
            b_clock.parse::<sotay_protocol::Hlc>().unwrap().millis < limit,
            "B's clock was dragged: {b_clock}"
        );
        std::thread::sleep(Duration::from_millis(5));
        b.store().update_citizen(id, village("Thôn Mới")).unwrap();
        b.sync().unwrap();
        a.sync().unwrap();
        assert_eq!(a.store().citizen(id).unwrap().village, "Thôn Mới");
        assert_eq!(b.store().citizen(id).unwrap().village, "Thôn Mới");

        // A laptop of an older version pushes a 2035 stamp as is: the server restamps it.
        let mut c = Laptop::enrolled(&server, TEAM, "Lan");
        let mut records = c.store().pending_records(0, 100).unwrap();
        for r in records.iter_mut() {
            r.hlc.millis = year_2035;
        }
        let (status, answer) = push_records(&server, &c, records);
        assert_eq!(status, 200, "{answer}");
        let stored: Vec<String> = server
            .db
            .sql("SELECT hlc FROM records", "SELECT hlc FROM records", &[])
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert!(
            stored
                .iter()
                .all(|h| h.parse::<sotay_protocol::Hlc>().unwrap().millis < limit),
            "{stored:?}"
        );
        c.release();
    });
}

#[test]
fn a_value_that_lost_a_merge_is_listed_and_can_be_put_back_everywhere() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let id = a.add_citizens("Đinh", 1)[0];
        a.sync().unwrap();
        b.sync().unwrap();
        let phone = |p: &str| CitizenPatch {
            phone: Some(p.into()),
            ..Default::default()
        };
        a.store().update_citizen(id, phone("0911111111")).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        b.store().update_citizen(id, phone("0922222222")).unwrap();
        a.sync().unwrap();
        b.sync().unwrap();
        a.sync().unwrap();

        // On A: its own phone was replaced by B's later one; listed with what it is about.
        let conflicts = a.store().conflicts().unwrap();
        let c = conflicts
            .iter()
            .find(|c| c.field == "phone")
            .expect("the replaced phone is listed");
        assert_eq!(c.subject, "Đinh Văn Số0");
        assert_eq!(c.lost_value, serde_json::json!("0911111111"));
        assert_eq!(c.current_value, serde_json::json!("0922222222"));
        assert!(c.lost_here);
        assert!(c.lost_at <= c.winner_at, "{} {}", c.lost_at, c.winner_at);

        // "Use this value": A's phone again, everywhere, and the conflict settled.
        a.store().use_lost_value(c.id).unwrap();
        assert_eq!(
            a.store().citizen(id).unwrap().phone.as_deref(),
            Some("0911111111")
        );
        assert!(a.store().conflicts().unwrap().iter().all(|x| x.id != c.id));
        a.sync().unwrap();
        b.sync().unwrap();
        assert_eq!(
            b.store().citizen(id).unwrap().phone.as_deref(),
            Some("0911111111")
        );
        let err = a.store().use_lost_value(c.id).unwrap_err();
        assert_eq!(err.kind(), "not_found");
    });
}

#[test]
fn an_outcome_reached_later_syncs_with_who_confirmed_it() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let people = a.add_citizens("Vàng", 2);
        a.add_session(&people);
        a.sync().unwrap();
        b.sync().unwrap();
        let achieved_before = server.stats(TEAM).achieved;
        // The second person (odd: only taught) activates VNeID at home the next day.
        let session = a.store().citizen_history(people[1]).unwrap().sessions[0].session_id;
        a.store()
            .mark_achieved(people[1], session, "VNEID1", "Lê Thị Hoa", "2026-11-21")
            .unwrap();
        a.sync().unwrap();
        b.sync().unwrap();
        let seen = b.store().citizen_history(people[1]).unwrap();
        let vneid = seen.sessions[0]
            .outcomes
            .iter()
            .find(|o| o.skill.code == "VNEID1")
            .unwrap();
        assert_eq!(vneid.outcome, sotay_protocol::Outcome::Achieved);
        assert_eq!(vneid.confirmed_by.as_deref(), Some("Lê Thị Hoa"));
        assert_eq!(vneid.confirmed_on.as_deref(), Some("2026-11-21"));
        assert_eq!(server.stats(TEAM).achieved, achieved_before + 1);
        assert_eq!(b.store().headline().unwrap().people_confirmed, 2);
    });
}

#[test]
fn a_past_session_corrected_on_one_laptop_is_corrected_everywhere() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let people = a.add_citizens("Vàng", 3);
        a.add_session(&people[..2]);
        a.sync().unwrap();
        b.sync().unwrap();
        let session = a.store().sessions().unwrap()[0].id;
        // The second person was written down by mistake; the third came and activated VNeID;
        // the place was the commune hall.
        let mut form = sotay_core::SessionInput::from(&b.store().session(session).unwrap());
        form.place = "Hội trường UBND xã".into();
        form.attendees.retain(|x| x.citizen_id != people[1]);
        form.attendees.push(sotay_core::AttendeeInput {
            citizen_id: people[2],
            achieved: vec!["VNEID1".into()],
        });
        b.store().edit_session(session, form).unwrap();
        b.sync().unwrap();
        a.sync().unwrap();
        let seen = a.store().session(session).unwrap();
        assert_eq!(seen.session.place, "Hội trường UBND xã");
        let ids: Vec<_> = seen.attendees.iter().map(|x| x.citizen.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&people[0]) && ids.contains(&people[2]));
        assert!(a
            .store()
            .citizen_history(people[1])
            .unwrap()
            .sessions
            .is_empty());
        let options = sotay_core::report::ReportOptions::default();
        let on_server = server
            .db
            .report(&sotay_server::admin::ReportScope::default(), &options);
        assert_eq!(on_server.totals, a.store().report(&options).unwrap().totals);
        assert_eq!(
            (on_server.totals.people, on_server.totals.attendances),
            (2, 2)
        );
        assert_eq!(on_server.people_confirmed, 2);
    });
}

#[test]
fn two_records_merged_on_one_laptop_are_one_person_everywhere() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let person = |laptop: &Laptop, phone: &str| {
            laptop
                .store()
                .add_citizen(sotay_core::CitizenInput {
                    full_name: "Giàng Thị Mỷ".into(),
                    gender: "nu".into(),
                    birth: "1961".into(),
                    village: "Bản Lìm".into(),
                    phone: Some(phone.into()),
                    consent: true,
                    ..Default::default()
                })
                .unwrap()
                .citizen
                .id
        };
        // Each laptop registered her once.
        let keep = person(&a, "0912000001");
        let other = person(&b, "0912000002");
        a.add_session(&[keep]);
        b.add_session(&[other]);
        a.sync().unwrap();
        b.sync().unwrap();
        a.sync().unwrap();
        let options = sotay_core::report::ReportOptions::default();
        let report = |server: &TestServer| {
            server
                .db
                .report(&sotay_server::admin::ReportScope::default(), &options)
        };
        assert_eq!(report(&server).totals.people, 2);

        // Laptop B records her again, under its record, before it hears of the merge.
        b.add_session(&[other]);
        a.store().merge_citizens(keep, other).unwrap();
        a.sync().unwrap();
        b.sync().unwrap();
        a.sync().unwrap();

        for laptop in [&a, &b] {
            let store = laptop.store();
            assert_eq!(store.citizen(other).unwrap_err().kind(), "not_found");
            assert_eq!(
                store.citizen(keep).unwrap().phone.as_deref(),
                Some("0912000001")
            );
            let r = store.report(&options).unwrap();
            assert_eq!(r.totals.people, 1);
            assert_eq!(laptop.count("quarantine"), 0);
            assert_eq!(r.totals.attendances, 3, "both sessions of B count as hers");
        }
        let on_server = report(&server);
        assert_eq!(on_server.totals.people, 1);
        assert_eq!(on_server.totals.attendances, 3);
        assert_eq!(on_server.totals, a.store().report(&options).unwrap().totals);
        assert_eq!(server.stats(TEAM).citizens, 1);
        assert!(server.db.quarantine().is_empty());

        // Her history shows all three sessions, the late one too, and a skill reached later is
        // marked there like any other.
        let history = a.store().citizen_history(keep).unwrap();
        assert_eq!(history.sessions.len(), 3);
        for s in &history.sessions {
            a.store()
                .mark_achieved(keep, s.session_id, "0.1", "Lê Thị Hoa", "2026-11-21")
                .unwrap();
        }
        let history = a.store().citizen_history(keep).unwrap();
        assert!(history.sessions.iter().all(|s| s
            .outcomes
            .iter()
            .all(|o| o.outcome == sotay_protocol::Outcome::Achieved)));
    });
}

#[test]
fn a_revoked_laptop_enrolled_again_sends_everything_once() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let people = a.add_citizens("Lý", 4);
        a.add_session(&people);
        a.sync().unwrap();
        let synced = server.stats(TEAM);

        // An active laptop cannot take a new code for itself: the admin revokes it first.
        let refused = a.reenroll(&server.url(), &server.code(TEAM)).unwrap_err();
        assert!(refused.to_string().contains("thu hồi"), "{refused}");
        assert_eq!(a.pending(), 0, "nothing changed");

        server.db.revoke(a.store().device_id());
        a.add_citizens("Lò", 2);
        assert!(a.sync().is_err());
        // A code of another team: refused by the server that knows this laptop, and by the
        // laptop itself on a server that does not; either way it stays as it was.
        let other = a
            .reenroll(&server.url(), &server.code("Đội TNTN xã Khác"))
            .unwrap_err();
        assert!(other.to_string().contains("đội khác"), "{other}");
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = TestServer::start(Backend::Sqlite(dir.path().join("elsewhere.sqlite")));
        let other = a
            .reenroll(&elsewhere.url(), &elsewhere.code("Đội TNTN xã Khác"))
            .unwrap_err();
        assert!(other.to_string().contains("không phải đội"), "{other}");
        assert_eq!(a.pending(), 2);
        assert!(a.sync().unwrap_err().to_string().contains("thu hồi"));

        a.reenroll(&server.url(), &server.code(TEAM)).unwrap();
        assert!(a.pending() > 2, "everything is sent again");
        a.sync().unwrap();
        assert_eq!(a.pending(), 0);
        b.sync().unwrap();
        let stats = server.stats(TEAM);
        assert_eq!(
            stats.citizens,
            synced.citizens + 2,
            "the two new people, once"
        );
        assert_eq!(stats.attendances, synced.attendances);
        assert_eq!(b.store().count_citizens().unwrap(), 6);
        assert!(server.db.quarantine().is_empty());
    });
}

#[test]
fn two_laptops_merging_a_pair_in_opposite_directions_keep_one_person() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        let people = a.add_citizens("Giàng", 2);
        let (x, y) = (people[0], people[1]);
        a.add_session(&people);
        a.sync().unwrap();
        b.sync().unwrap();
        // Offline, each picks the other record to keep.
        a.store().merge_citizens(x, y).unwrap();
        b.store().merge_citizens(y, x).unwrap();
        a.sync().unwrap();
        b.sync().unwrap();
        a.sync().unwrap();
        let options = sotay_core::report::ReportOptions::default();
        for laptop in [&a, &b] {
            let store = laptop.store();
            assert!(store.citizen(x.min(y)).is_ok());
            assert_eq!(store.citizen(x.max(y)).unwrap_err().kind(), "not_found");
            assert_eq!(store.report(&options).unwrap().totals.people, 1);
            // The session that listed both is still correctable.
            let session = store.sessions().unwrap()[0].id;
            drop(store);
            let mut form =
                sotay_core::SessionInput::from(&laptop.store().session(session).unwrap());
            form.place = "Nhà văn hóa bản Lìm".into();
            laptop.store().edit_session(session, form).unwrap();
        }
        let on_server = server
            .db
            .report(&sotay_server::admin::ReportScope::default(), &options);
        assert_eq!(on_server.totals.people, 1);
        assert_eq!(server.stats(TEAM).citizens, 1);
    });
}

#[test]
fn the_laptop_never_sends_a_batch_the_server_refuses_for_its_size() {
    let (client, server) = (SyncConfig::default(), sotay_server::Settings::default());
    assert!(client.max_batch <= server.max_records_per_batch);
}

/// A laptop that gives a record a teammate's record ID, past the first part of its batch the
/// server writes while it decides the rest (512 records), is refused, and nothing of that
/// batch is kept: the part already written goes with it. SQLite inserts `OR FAIL` (no
/// statement journal), which leaves undoing a statement's earlier rows to the transaction.
#[test]
fn a_batch_reusing_a_teammates_record_id_is_refused_and_nothing_of_it_is_kept() {
    each_backend(|backend| {
        let server = TestServer::start(backend);
        let mut a = Laptop::enrolled(&server, TEAM, "Hoa");
        a.add_citizens("Lê", 1);
        let taken = a.store().pending_records(0, 1).unwrap()[0].record_id;
        a.sync().unwrap();
        let mut b = Laptop::enrolled(&server, TEAM, "Nam");
        b.add_citizens("Trần", 600);
        let mut records = b.store().pending_records(0, 1000).unwrap();
        assert!(records.len() > 512, "{} records", records.len());
        let sent = records.len() as u64;
        records.last_mut().unwrap().record_id = taken;
        let held = |s: sotay_server::admin::TeamStats| (s.records, s.citizens);
        let before = held(server.stats(TEAM));

        let (status, answer) = push_records(&server, &b, records);
        assert_ne!(status, 200, "{answer}");
        assert_eq!(held(server.stats(TEAM)), before);

        b.sync().expect("the laptop's own records go through");
        assert_eq!(held(server.stats(TEAM)), (before.0 + sent, before.1 + 600));
    });
}
