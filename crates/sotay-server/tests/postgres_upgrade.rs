//! A PostgreSQL database made by a server from before sqlx (its own `schema_version` table, every
//! column text) is taken over by sqlx's migrations on first start: nothing lost, IDs, JSON and
//! times in native types, and a second start changes nothing.

use sotay_protocol::merge::EntityState;
use sotay_protocol::{
    DeviceId, Entity, Hlc, Operation, OutboxRecord, RecordId, TeamId, VolunteerId, VolunteerV1,
};
use sotay_server::apply::PullFrom;
use sotay_server::{Database, Storage};
use sqlx_core::connection::Connection;
use sqlx_core::executor::Executor;
use sqlx_core::sql_str::AssertSqlSafe;
use sqlx_postgres::PgConnection;

const BEFORE_SQLX: [&str; 4] = [
    include_str!("../src/migrations/postgres/0001_init.sql"),
    include_str!("../src/migrations/postgres/0002_targets.sql"),
    include_str!("../src/migrations/postgres/0003_team_position.sql"),
    include_str!("../src/migrations/postgres/0004_quarantine.sql"),
];

/// A fresh database on the test server, or None (skipped) when none is configured and CI does not
/// require one.
async fn fresh_database() -> Option<String> {
    let Ok(admin_url) = std::env::var("SOTAY_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("SOTAY_REQUIRE_POSTGRES").is_err(),
            "SOTAY_REQUIRE_POSTGRES is set but SOTAY_TEST_DATABASE_URL is not"
        );
        eprintln!("PostgreSQL not configured (SOTAY_TEST_DATABASE_URL): skipped");
        return None;
    };
    let name = format!("sotay_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    Some(format!("{base}/{name}"))
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[tokio::test]
async fn a_database_from_before_sqlx_is_upgraded_in_place_with_its_data() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let (team, maker, reader) = (TeamId::new(), DeviceId::new(), DeviceId::new());
    let volunteer = VolunteerV1 {
        id: VolunteerId::new(),
        team_id: team,
        name: "Lê Thị Hoa".into(),
    };
    let record = OutboxRecord {
        record_id: RecordId::new(),
        device_id: maker,
        seq: 1,
        hlc: Hlc::zero(maker).tick(1_780_000_000_000),
        entity: Entity::Volunteer,
        entity_id: volunteer.id.to_string(),
        op: Operation::Upsert,
        fields: vec![],
        payload_version: 1,
        payload: serde_json::to_value(&volunteer).unwrap(),
    };
    let mut state = EntityState::default();
    sotay_protocol::merge::apply(&mut state, &record);

    // Exactly what the runner before sqlx left: schemas 1 to 4, `schema_version` 4, text columns.
    let mut conn = PgConnection::connect(&url).await.unwrap();
    for sql in BEFORE_SQLX {
        conn.execute(sql).await.unwrap();
    }
    let now = "'2026-11-01T08:00:00.000000Z'";
    let rows = format!(
        "CREATE TABLE schema_version (version BIGINT NOT NULL);
         INSERT INTO schema_version VALUES (4);
         INSERT INTO teams VALUES ('{team}', 'Đội TNTN Hàm Rồng', 'youth_union', '38', '14758',
                                   {now}, 1);
         INSERT INTO devices VALUES ('{maker}', '{team}', {maker_token}, {now}, NULL),
                                    ('{reader}', '{team}', {reader_token}, {now}, NULL);
         INSERT INTO records (device_id, seq, team_id, record_id, hlc, entity, entity_id, op,
                              fields, payload_version, payload, received_at, team_position)
         VALUES ('{maker}', 1, '{team}', '{record_id}', '{hlc}', 'volunteer', '{volunteer_id}',
                 'upsert', '[]', 1, {payload}, {now}, 1);
         INSERT INTO entities VALUES ('volunteer', '{volunteer_id}', '{team}', {state}, 0, 0, 0);
         INSERT INTO commune_targets VALUES ('14758', 5000, 100, 80, {now});",
        maker_token = quote(&sotay_protocol::wire::token_hash("maker")),
        reader_token = quote(&sotay_protocol::wire::token_hash("reader")),
        record_id = record.record_id,
        hlc = record.hlc,
        volunteer_id = volunteer.id,
        payload = quote(&record.payload.to_string()),
        state = quote(&serde_json::to_string(&state).unwrap()),
    );
    conn.execute(AssertSqlSafe(rows)).await.unwrap();

    let db = Database::connect_postgres(&url).await.unwrap();
    let device = db
        .authenticate(sotay_protocol::wire::token_hash("reader"))
        .await
        .unwrap();
    assert_eq!((device.id, device.team_id), (reader, team));
    let page = db.pull(device, PullFrom::Position(0), 10).await.unwrap();
    assert_eq!(page.records, vec![record.clone()]);
    assert_eq!(page.next_cursor, 1);
    assert_eq!(db.volunteers(team).await.unwrap(), vec![volunteer]);
    assert_eq!(db.acked(maker).await.unwrap(), (1, Some(record.record_id)));
    assert_eq!(db.team(team).await.unwrap().name, "Đội TNTN Hàm Rồng");
    let targets = db.report_data().await.unwrap().targets;
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].adult_population, 5000);

    let types: Vec<(String, String, String)> = sqlx_core::query_as::query_as(
        "SELECT table_name::text, column_name::text, data_type::text
         FROM information_schema.columns
         WHERE (table_name, column_name) IN (('records', 'payload'), ('records', 'record_id'),
                                             ('entities', 'state'), ('entities', 'deleted'),
                                             ('devices', 'enrolled_at'))
         ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let types: Vec<String> = types.into_iter().map(|t| t.2).collect();
    assert_eq!(
        types,
        [
            "timestamp with time zone",
            "boolean",
            "jsonb",
            // The record log keeps the text it came as (schema 7).
            "json",
            "uuid"
        ]
    );
    let legacy: bool =
        sqlx_core::query_scalar::query_scalar("SELECT to_regclass('schema_version') IS NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(
        legacy,
        "the old version table is gone once sqlx keeps the record"
    );

    // A second start (or a second instance) finds nothing to do.
    drop(db);
    let again = Database::connect_postgres(&url).await.unwrap();
    assert_eq!(again.acked(maker).await.unwrap().0, 1);
    let applied: i64 =
        sqlx_core::query_scalar::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(applied, 7);
}
