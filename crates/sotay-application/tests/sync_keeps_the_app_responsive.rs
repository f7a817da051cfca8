//! A sync waiting on a slow server must not hold the store: while the server sits on a push for up
//! to 20 s, another thread searches the register, and every search must have answered before the
//! server does. Were the store held across the request, the searches would wait for the answer
//! and see it given.

use sotay_application::{App, DataPaths};
use sotay_core::CitizenInput;
use sotay_protocol::Organisation;
use sotay_server::admin::{create_enrolment_code, TeamSpec};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Holds every push until released or 20 s have passed, and says when it let one through.
#[derive(Default)]
struct Gate {
    closed: AtomicBool,
    arrived: Notify,
    release: Notify,
    answered: AtomicBool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_answer_while_a_push_waits_on_a_slow_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = sotay_server::Database::open_sqlite(&dir.path().join("central.sqlite")).unwrap();
    let code = create_enrolment_code(
        &db,
        "Đội TNTN Hàm Rồng",
        Some(TeamSpec {
            name: "Đội TNTN Hàm Rồng".into(),
            organisation: Organisation::YouthUnion,
            province_code: "38".into(),
            commune_code: "14758".into(),
        }),
    )
    .await
    .unwrap()
    .code;
    let gate = Arc::new(Gate::default());
    let layer_gate = gate.clone();
    let router = sotay_server::router(db, Default::default()).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let gate = layer_gate.clone();
            async move {
                let push = request.uri().path() == "/v1/push";
                if push && gate.closed.load(Ordering::SeqCst) {
                    gate.arrived.notify_one();
                    let _ = tokio::time::timeout(Duration::from_secs(20), gate.release.notified())
                        .await;
                }
                let response = next.run(request).await;
                if push {
                    gate.answered.store(true, Ordering::SeqCst);
                }
                response
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let app = App::open(
        DataPaths {
            database: dir.path().join("laptop.sqlite"),
            output_dir: dir.path().join("out"),
            location_file: None,
        },
        &sotay_core::Passphrase::new("hoa sen trắng"),
    )
    .unwrap();
    app.enroll(&server, &code, Some("Lê Thị Hoa"), None)
        .await
        .unwrap();
    for i in 0..200 {
        app.add_citizen(CitizenInput {
            full_name: format!("Nguyễn Văn Số{i}"),
            gender: "nam".into(),
            birth: (1940 + i % 60).to_string(),
            village: "Thôn Đông".into(),
            consent: true,
            ..Default::default()
        })
        .unwrap();
    }

    gate.closed.store(true, Ordering::SeqCst);
    let syncing = app.clone();
    let sync = tokio::spawn(async move { syncing.sync(&Default::default(), &mut |_| {}).await });
    gate.arrived.notified().await;

    let searcher = app.clone();
    let searcher_gate = gate.clone();
    let searches = std::thread::spawn(move || {
        for round in 0..50 {
            let found = searcher.search_citizens("nguyen van", 30).unwrap();
            assert_eq!(found.len(), 30);
            assert!(
                !searcher_gate.answered.load(Ordering::SeqCst),
                "search {round} waited for the server's answer"
            );
        }
    });
    tokio::task::spawn_blocking(move || searches.join())
        .await
        .unwrap()
        .expect("every search answered while the push was held");
    gate.release.notify_one();
    gate.closed.store(false, Ordering::SeqCst);

    let summary = sync.await.unwrap().unwrap();
    assert_eq!(summary.pending, 0);
    assert!(summary.pushed >= 200, "{summary:?}");
}
