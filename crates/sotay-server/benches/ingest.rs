//! Server ingest, in-process (criterion; `cargo bench -p sotay-server --bench ingest`): the
//! 40,802 records of the sample team (20,000 citizens, 800 sessions, 20,000 attendances) pushed
//! into the server's storage in batches of 5,000 (the HTTP limit), each iteration into a fresh
//! database, as the first sync of a laptop does. Reported as records per second. SQLite always;
//! PostgreSQL when `SOTAY_BENCH_DATABASE_URL` (or `SOTAY_TEST_DATABASE_URL`) names a server where
//! the benchmark may create databases.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sotay_core::sample::SampleTeam;
use sotay_protocol::{Entity, OutboxRecord, OutgoingRecord, TeamV1};
use sotay_server::apply::DeviceRow;
use sotay_server::{Database, Storage};
use sqlx_core::connection::Connection;
use sqlx_core::executor::Executor;
use sqlx_core::sql_str::AssertSqlSafe;

// The allocator `sotay serve` runs with, so the bench measures what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 5_000;

fn sample_records() -> Vec<OutboxRecord> {
    let dir = tempfile::tempdir().unwrap();
    let store = SampleTeam::default().build(dir.path()).unwrap();
    store.pending_records(0, usize::MAX).unwrap()
}

/// The server database `db` with the laptop's team and device enrolled, and the records in
/// batches as the laptop sends them.
async fn enrolled(
    db: Database,
    records: &[OutboxRecord],
) -> (Database, DeviceRow, Vec<Vec<OutgoingRecord>>) {
    let team: TeamV1 = records
        .iter()
        .find(|r| r.entity == Entity::Team)
        .map(|r| serde_json::from_value(r.payload.clone()).unwrap())
        .unwrap();
    let code = "BENCHCODE";
    let code_hash = sotay_protocol::wire::token_hash(code);
    let expires = chrono::Utc::now() + chrono::Duration::days(1);
    db.add_enrolment_code(team.name.clone(), Some(team), code_hash.clone(), expires)
        .await
        .unwrap();
    let device = db
        .enroll(code_hash, records[0].device_id, "bench".into())
        .await
        .unwrap();
    // As the laptop sends them: each payload the JSON text its outbox holds.
    let batches = records
        .chunks(BATCH)
        .map(|batch| {
            batch
                .iter()
                .cloned()
                .map(OutboxRecord::into_outgoing)
                .collect()
        })
        .collect();
    (db, device, batches)
}

fn push_all(
    runtime: &tokio::runtime::Runtime,
    db: &Database,
    device: DeviceRow,
    batches: Vec<Vec<OutgoingRecord>>,
) -> Database {
    runtime.block_on(async {
        let mut applied = 0;
        for batch in batches {
            let response = db.push(device, batch.into()).await.unwrap();
            assert!(
                response.quarantined.is_empty(),
                "{:?}",
                response.quarantined
            );
            applied += response.applied;
        }
        assert!(applied > 40_000);
    });
    db.clone()
}

fn ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let records = sample_records();
    let mut group = c.benchmark_group("server ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(records.len() as u64));

    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    group.bench_function("SQLite", |b| {
        b.iter_batched(
            || {
                n += 1;
                let db = Database::open_sqlite(&dir.path().join(format!("s{n}.sqlite"))).unwrap();
                runtime.block_on(enrolled(db, &records))
            },
            |(db, device, batches)| push_all(&runtime, &db, device, batches),
            BatchSize::PerIteration,
        )
    });

    let url = std::env::var("SOTAY_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("SOTAY_TEST_DATABASE_URL"));
    if let Ok(admin_url) = url {
        let base = admin_url
            .rsplit_once('/')
            .expect("URL ends in /DATABASE")
            .0
            .to_owned();
        let mut made = Vec::new();
        group.bench_function("PostgreSQL", |b| {
            b.iter_batched(
                || {
                    let name = format!("sotay_bench_{}", uuid::Uuid::new_v4().simple());
                    made.push(name.clone());
                    runtime.block_on(async {
                        let mut admin = sqlx_postgres::PgConnection::connect(&admin_url)
                            .await
                            .unwrap();
                        admin
                            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                            .await
                            .unwrap();
                        let db = Database::connect_postgres(&format!("{base}/{name}"))
                            .await
                            .unwrap();
                        enrolled(db, &records).await
                    })
                },
                |(db, device, batches)| push_all(&runtime, &db, device, batches),
                BatchSize::PerIteration,
            )
        });
        runtime.block_on(async {
            let mut admin = sqlx_postgres::PgConnection::connect(&admin_url)
                .await
                .unwrap();
            for name in made {
                let _ = admin
                    .execute(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await;
            }
        });
    } else {
        eprintln!("PostgreSQL not configured (SOTAY_BENCH_DATABASE_URL): SQLite only");
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
