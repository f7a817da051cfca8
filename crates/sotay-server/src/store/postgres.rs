//! [`Storage`] on PostgreSQL (sqlx): a connection pool, native `uuid`, `jsonb` (merged states,
//! lost values; the record log is `json`: kept as sent, never searched inside), `timestamptz`
//! and `boolean` columns, and set-based writes: a batch's records, entities, conflicts and
//! set-aside records go in one statement each, as arrays unnested by the server. A push takes
//! its team's row lock first, so each team's positions are handed out, and commit, in order.
//! An entity made by one full upsert names that record instead of holding a copy of its state.

use super::{
    organisation_text, own_page_end, stored, team_from_columns, DeviceKey, ReportData, Storage,
};
use crate::admin::{QuarantineEntry, TeamStats};
use crate::apply::{
    keys_by_kind, now_millis, plan_batch, referenced_keys, report_state, rfc3339, seqs_to_check,
    stored_state, touched_keys, Batch, BatchContext, Decided, DeviceRow, EntityKey, EntityRow,
    PullFrom, RecordPage, StoredEntity, StoredRecord,
};
use crate::error::{ServerError, ServerResult};
use serde_json::Value;
use sotay_core::report::CommuneTarget;
use sotay_protocol::sync::{OwnRecords, PushResponse, QuarantinedRecord};
use sotay_protocol::{
    DeviceId, Entity, Operation, OutboxRecord, RecordId, TeamId, TeamV1, VolunteerV1,
};
use sqlx_core::migrate::{Migration, MigrationType, Migrator};
use sqlx_core::query::query;
use sqlx_core::query_scalar::query_scalar;
use sqlx_core::row::Row;
use sqlx_core::sql_str::SqlStr;
use sqlx_postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use uuid::Uuid;

/// The schema, compiled in; sqlx records what it applied in `_sqlx_migrations`.
const SCHEMA: &[(&str, &str)] = &[
    ("init", include_str!("../migrations/postgres/0001_init.sql")),
    (
        "targets",
        include_str!("../migrations/postgres/0002_targets.sql"),
    ),
    (
        "team position",
        include_str!("../migrations/postgres/0003_team_position.sql"),
    ),
    (
        "quarantine",
        include_str!("../migrations/postgres/0004_quarantine.sql"),
    ),
    (
        "native types",
        include_str!("../migrations/postgres/0005_native_types.sql"),
    ),
    (
        "drop records_team",
        include_str!("../migrations/postgres/0006_drop_records_team.sql"),
    ),
    (
        "state from record",
        include_str!("../migrations/postgres/0007_state_from_record.sql"),
    ),
];

fn migrator() -> Migrator {
    Migrator::with_migrations(
        SCHEMA
            .iter()
            .enumerate()
            .map(|(i, (description, sql))| {
                Migration::new(
                    i as i64 + 1,
                    (*description).into(),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
}

#[derive(Clone)]
pub struct PostgresStorage {
    pool: PgPool,
}

fn pg(e: sqlx_core::Error) -> ServerError {
    ServerError::db(e)
}

type Tx = sqlx_postgres::PgTransaction<'static>;

impl PostgresStorage {
    pub async fn connect(url: &str) -> ServerResult<Self> {
        let options: sqlx_postgres::PgConnectOptions = url.parse().map_err(|e| {
            ServerError::BadRequest(format!("địa chỉ PostgreSQL không hợp lệ: {e}"))
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await
            .map_err(pg)?;
        adopt_legacy_schema(&pool).await?;
        migrator().run(&pool).await.map_err(|e| {
            ServerError::Internal(format!("không nâng được lược đồ cơ sở dữ liệu: {e}"))
        })?;
        Ok(Self { pool })
    }

    async fn begin(&self) -> ServerResult<Tx> {
        self.pool.begin().await.map_err(pg)
    }
}

// One array per column: a batch goes to PostgreSQL as a handful of arrays, unnested into rows.
#[derive(Default)]
struct QuarantineColumns {
    seq: Vec<i64>,
    record_id: Vec<Uuid>,
    entity: Vec<&'static str>,
    entity_id: Vec<String>,
    reason: Vec<String>,
    reason_en: Vec<String>,
}

#[derive(Default)]
struct EntityColumns {
    entity: Vec<&'static str>,
    entity_id: Vec<String>,
    team_id: Vec<Uuid>,
    state: Vec<Option<String>>,
    source_record: Vec<Option<Uuid>>,
    deleted: Vec<bool>,
    outcomes: Vec<i64>,
    achieved: Vec<i64>,
}

impl From<Vec<EntityRow>> for EntityColumns {
    fn from(rows: Vec<EntityRow>) -> Self {
        let mut e = Self::default();
        for row in rows {
            e.entity.push(row.key.0.as_str());
            e.entity_id.push(row.key.1);
            e.team_id.push(row.team_id.0);
            e.state.push(row.state_json);
            e.source_record.push(row.source_record.map(|id| id.0));
            e.deleted.push(row.deleted);
            e.outcomes.push(row.n_outcomes);
            e.achieved.push(row.n_achieved);
        }
        e
    }
}

#[derive(Default)]
struct ConflictColumns {
    entity: Vec<&'static str>,
    entity_id: Vec<String>,
    field: Vec<String>,
    lost_value: Vec<Value>,
    lost_hlc: Vec<String>,
    winner_hlc: Vec<String>,
}

/// Databases made before sqlx kept their schema version in `schema_version`: tell sqlx which
/// of its migrations those were, once, so it applies only the newer ones.
async fn adopt_legacy_schema(pool: &PgPool) -> ServerResult<()> {
    let mut tx = pool.begin().await.map_err(pg)?;
    // Serialises concurrent starts of several instances on one database.
    query("SELECT pg_advisory_xact_lock(4242)")
        .execute(&mut *tx)
        .await
        .map_err(pg)?;
    let legacy: bool = query_scalar(
        "SELECT to_regclass('schema_version') IS NOT NULL
                AND to_regclass('_sqlx_migrations') IS NULL",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(pg)?;
    if legacy {
        let found: i64 = query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            .fetch_one(&mut *tx)
            .await
            .map_err(pg)?;
        if found > SCHEMA.len() as i64 {
            return Err(ServerError::Internal(format!(
                "cơ sở dữ liệu có lược đồ phiên bản {found}, mới hơn bản này ({})",
                SCHEMA.len()
            )));
        }
        // The table as sqlx creates it (sqlx-postgres 0.9, migrate.rs).
        query(
            "CREATE TABLE _sqlx_migrations (
                 version BIGINT PRIMARY KEY,
                 description TEXT NOT NULL,
                 installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
                 success BOOLEAN NOT NULL,
                 checksum BYTEA NOT NULL,
                 execution_time BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(pg)?;
        for m in migrator().iter().filter(|m| m.version <= found) {
            query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum,
                                               execution_time)
                 VALUES ($1, $2, TRUE, $3, 0)",
            )
            .bind(m.version)
            .bind(m.description.to_string())
            .bind(m.checksum.to_vec())
            .execute(&mut *tx)
            .await
            .map_err(pg)?;
        }
        query("DROP TABLE schema_version")
            .execute(&mut *tx)
            .await
            .map_err(pg)?;
    }
    tx.commit().await.map_err(pg)
}

async fn acked_seq(conn: &mut PgConnection, device: DeviceId) -> ServerResult<u64> {
    let seq: i64 = query_scalar(
        // Each MAX on its own reads one entry of its (device_id, seq) index; over a UNION it
        // would walk every record the device ever sent, on every push.
        "SELECT GREATEST((SELECT MAX(seq) FROM records WHERE device_id = $1),
                         (SELECT MAX(seq) FROM quarantine WHERE device_id = $1), 0)::bigint",
    )
    .bind(device.0)
    .fetch_one(conn)
    .await
    .map_err(pg)?;
    Ok(seq as u64)
}

/// The record held for this device at each of `seqs` (stored or set aside).
async fn held_at(
    conn: &mut PgConnection,
    device: DeviceId,
    seqs: &[i64],
) -> ServerResult<Vec<(u64, RecordId)>> {
    let rows: Vec<(i64, Uuid)> = sqlx_core::query_as::query_as(
        "SELECT seq, record_id FROM records WHERE device_id = $1 AND seq = ANY($2)
         UNION ALL SELECT seq, record_id FROM quarantine WHERE device_id = $1 AND seq = ANY($2)",
    )
    .bind(device.0)
    .bind(seqs)
    .fetch_all(conn)
    .await
    .map_err(pg)?;
    Ok(rows
        .into_iter()
        .map(|(seq, id)| (seq as u64, RecordId(id)))
        .collect())
}

fn record_from_row(r: &PgRow) -> ServerResult<OutboxRecord> {
    let bad = |_| ServerError::Internal("nội dung bản ghi hỏng".into());
    Ok(OutboxRecord {
        record_id: RecordId(r.try_get(0).map_err(pg)?),
        device_id: DeviceId(r.try_get(1).map_err(pg)?),
        seq: r.try_get::<i64, _>(2).map_err(pg)? as u64,
        hlc: stored(&r.try_get::<String, _>(3).map_err(pg)?, "đồng hồ")?,
        entity: Entity::parse(&r.try_get::<String, _>(4).map_err(pg)?)
            .ok_or_else(|| ServerError::Internal("loại bản ghi hỏng".into()))?,
        entity_id: r.try_get(5).map_err(pg)?,
        op: Operation::parse(&r.try_get::<String, _>(6).map_err(pg)?)
            .ok_or_else(|| ServerError::Internal("thao tác hỏng".into()))?,
        fields: serde_json::from_value(r.try_get::<Value, _>(7).map_err(pg)?).map_err(bad)?,
        payload_version: r.try_get::<i64, _>(8).map_err(pg)? as u16,
        payload: r.try_get(9).map_err(pg)?,
    })
}

/// The stored entities among `keys`, in one query: entity, ID, team, then `rest` (the further
/// columns, then the `FROM` clause naming the entities `e`).
async fn entities_at(
    tx: &mut Tx,
    keys: &[EntityKey],
    rest: &'static str,
) -> ServerResult<Vec<PgRow>> {
    // One query per kind, the IDs as an array the primary key is probed with: joined to an
    // unnested list, the planner (which guesses a hundred rows for it) may scan every entity.
    let mut rows = Vec::new();
    for (kind, ids) in keys_by_kind(keys) {
        rows.extend(
            query(sqlx_core::sql_str::AssertSqlSafe(format!(
                "SELECT e.entity, e.entity_id, e.team_id, {rest}
                 WHERE e.entity = $1 AND e.entity_id = ANY($2::text[])"
            )))
            .bind(kind.as_str())
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await
            .map_err(pg)?,
        );
    }
    Ok(rows)
}

fn entity_of(row: &PgRow) -> ServerResult<Entity> {
    Entity::parse(&row.try_get::<String, _>(0).map_err(pg)?)
        .ok_or_else(|| ServerError::Internal("loại bản ghi hỏng".into()))
}

async fn push(tx: &mut Tx, device: DeviceRow, batch: Batch) -> ServerResult<PushResponse> {
    let records = &batch.records;
    let team = device.team_id.0;
    // The team's row lock: this team's pushes queue here, so positions commit in order.
    let position: i64 = query_scalar(
        "UPDATE teams SET next_position = next_position WHERE id = $1 RETURNING next_position",
    )
    .bind(team)
    .fetch_optional(&mut **tx)
    .await
    .map_err(pg)?
    .unwrap_or(0);
    let acked = acked_seq(tx, device.id).await?;
    let mut context = BatchContext {
        acked,
        position,
        ..Default::default()
    };
    let seqs: Vec<i64> = seqs_to_check(records, acked)
        .into_iter()
        .map(|s| s as i64)
        .collect();
    if !seqs.is_empty() {
        context.held = held_at(tx, device.id, &seqs).await?.into_iter().collect();
    }
    let touched = touched_keys(records);
    let referenced = referenced_keys(records, &touched);
    // A record's own rules need no database: they are checked on blocking threads while the
    // database looks up what the batch touches.
    let checker = tokio::task::spawn_blocking(move || batch.into_checked());
    let with_record = "e.state::text, r.payload::text, r.hlc FROM entities e
                       LEFT JOIN records r ON r.record_id = e.source_record";
    for r in entities_at(tx, &touched, with_record).await? {
        let key = (entity_of(&r)?, r.try_get(1).map_err(pg)?);
        let state: Option<String> = r.try_get(3).map_err(pg)?;
        let payload: Option<String> = r.try_get(4).map_err(pg)?;
        let hlc: Option<String> = r.try_get(5).map_err(pg)?;
        let entity = StoredEntity {
            team_id: TeamId(r.try_get(2).map_err(pg)?),
            state: stored_state(state.as_deref(), payload.as_deref().zip(hlc.as_deref()))?,
        };
        context.stored.insert(key, entity);
    }
    let gone = "e.deleted AND e.state->'fields'->'merged_into' IS NULL FROM entities e";
    for r in entities_at(tx, &referenced, gone).await? {
        let key = (entity_of(&r)?, r.try_get(1).map_err(pg)?);
        let team = TeamId(r.try_get(2).map_err(pg)?);
        context.refs.insert(key, (team, r.try_get(3).map_err(pg)?));
    }
    let (records, checks) = checker
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    // Decided on a blocking thread while this task writes what is already decided: the database
    // stores one part of the batch while the next is decided.
    let now_ms = now_millis();
    let (to_writer, mut parts) = tokio::sync::mpsc::channel(4);
    let planner = tokio::task::spawn_blocking(move || {
        plan_batch(context, &device, records, checks, now_ms, &mut |part| {
            // The writer stopped on an error that fails the push anyway.
            let _ = to_writer.blocking_send(part);
        })
    });
    while let Some(part) = parts.recv().await {
        match part {
            Decided::Records(part) => insert_records(tx, device, part).await?,
            Decided::Entities(part) => write_entity_rows(tx, part).await?,
        }
    }
    let mut plan = planner
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    insert_records(tx, device, std::mem::take(&mut plan.records)).await?;

    if !plan.quarantined.is_empty() {
        let mut q = QuarantineColumns::default();
        for (r, problem) in &plan.quarantined {
            q.seq.push(r.seq as i64);
            q.record_id.push(r.record_id.0);
            q.entity.push(r.entity.as_str());
            // PostgreSQL text holds no NUL; a record set aside for one may quote it.
            let text = |s: &str| s.replace('\0', "");
            q.entity_id
                .push(text(&r.entity_id.chars().take(200).collect::<String>()));
            q.reason.push(text(&problem.reason));
            q.reason_en.push(text(&problem.reason_en));
        }
        query(
            "INSERT INTO quarantine (team_id, device_id, seq, record_id, entity, entity_id, reason,
                                     reason_en)
             SELECT $1, $2, q.* FROM UNNEST($3::bigint[], $4::uuid[], $5::text[], $6::text[],
                                            $7::text[], $8::text[]) AS q",
        )
        .bind(team)
        .bind(device.id.0)
        .bind(&q.seq)
        .bind(&q.record_id)
        .bind(&q.entity)
        .bind(&q.entity_id)
        .bind(&q.reason)
        .bind(&q.reason_en)
        .execute(&mut **tx)
        .await
        .map_err(pg)?;
    }

    write_entity_rows(tx, std::mem::take(&mut plan.entities)).await?;

    if !plan.conflicts.is_empty() {
        let mut c = ConflictColumns::default();
        for conflict in plan.conflicts {
            c.entity.push(conflict.entity.as_str());
            c.entity_id.push(conflict.entity_id);
            c.field.push(conflict.lost.field);
            c.lost_value.push(conflict.lost.value);
            c.lost_hlc.push(conflict.lost.hlc.to_string());
            c.winner_hlc.push(conflict.lost.winner_hlc.to_string());
        }
        query(
            "INSERT INTO conflicts (team_id, entity, entity_id, field, lost_value, lost_hlc,
                                    winner_hlc)
             SELECT $1, c.* FROM UNNEST($2::text[], $3::text[], $4::text[], $5::jsonb[],
                                        $6::text[], $7::text[]) AS c",
        )
        .bind(team)
        .bind(&c.entity)
        .bind(&c.entity_id)
        .bind(&c.field)
        .bind(&c.lost_value)
        .bind(&c.lost_hlc)
        .bind(&c.winner_hlc)
        .execute(&mut **tx)
        .await
        .map_err(pg)?;
    }

    for id in &plan.forgotten {
        scrub_forgotten(tx, team, id).await?;
    }
    query("UPDATE teams SET next_position = $2 WHERE id = $1")
        .bind(team)
        .bind(plan.position)
        .execute(&mut **tx)
        .await
        .map_err(pg)?;
    Ok(plan.response)
}

/// Writes entities' rows as a batch leaves them, each set-based: new ones inserted and known ones
/// updated, so there is no upsert to arbitrate.
async fn write_entity_rows(tx: &mut Tx, rows: Vec<EntityRow>) -> ServerResult<()> {
    let (known, new): (Vec<EntityRow>, Vec<EntityRow>) = rows.into_iter().partition(|e| e.existed);
    write_entities(
        tx,
        "INSERT INTO entities (entity, entity_id, team_id, state, deleted, n_outcomes,
                               n_achieved, source_record)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::text[]::jsonb[],
                              $5::boolean[], $6::bigint[], $7::bigint[], $8::uuid[])
         ON CONFLICT (entity, entity_id) DO NOTHING",
        new,
    )
    .await?;
    write_entities(
        tx,
        "UPDATE entities SET state = u.state, source_record = u.source_record,
             deleted = u.deleted, n_outcomes = u.n_outcomes, n_achieved = u.n_achieved
         FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::text[]::jsonb[],
                     $5::boolean[], $6::bigint[], $7::bigint[], $8::uuid[])
              AS u (entity, entity_id, team_id, state, deleted, n_outcomes, n_achieved,
                    source_record)
         WHERE entities.entity = u.entity AND entities.entity_id = u.entity_id
           AND entities.team_id = u.team_id",
        known,
    )
    .await?;
    Ok(())
}

/// Writes `rows` with `sql`, whose parameters $1–$8 are the entity columns, and checks that
/// every row was written: one that was not is another team's ID (created since this batch was
/// read: the team row lock orders one team's pushes only), and the batch is refused, to be
/// judged afresh on retry.
async fn write_entities(tx: &mut Tx, sql: &'static str, rows: Vec<EntityRow>) -> ServerResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let e = EntityColumns::from(rows);
    let written = query(sql)
        .bind(&e.entity)
        .bind(&e.entity_id)
        .bind(&e.team_id)
        .bind(&e.state)
        .bind(&e.deleted)
        .bind(&e.outcomes)
        .bind(&e.achieved)
        .bind(&e.source_record)
        .execute(&mut **tx)
        .await
        .map_err(pg)?;
    if written.rows_affected() != e.entity.len() as u64 {
        return Err(ServerError::Forbidden(
            "một bản ghi trong lô trùng mã với dữ liệu của đội khác".into(),
        ));
    }
    Ok(())
}

/// Erases a forgotten citizen's personal data from every record and conflict the server holds.
/// The rows are rewritten; the old row versions are reclaimed by (auto)vacuum (docs/security.md).
/// Stores records of a batch, each at its team position, in one statement.
async fn insert_records(
    tx: &mut Tx,
    device: DeviceRow,
    records: Vec<StoredRecord>,
) -> ServerResult<()> {
    let n = records.len();
    let (mut seq, mut record_id, mut hlc, mut entity, mut entity_id, mut op) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut fields, mut version, mut payload, mut position) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for StoredRecord {
        record: r,
        payload_json,
        position: at,
    } in records
    {
        seq.push(r.seq as i64);
        record_id.push(r.record_id.0);
        hlc.push(r.hlc.to_string());
        entity.push(r.entity.as_str());
        op.push(r.op.as_str());
        fields.push(serde_json::to_string(&r.fields).expect("strings serialise"));
        version.push(i64::from(r.payload_version));
        payload.push(payload_json);
        entity_id.push(r.entity_id);
        position.push(at);
    }
    if n > 0 {
        query(
            "INSERT INTO records (device_id, team_id, seq, record_id, hlc, entity, entity_id, op,
                                  fields, payload_version, payload, team_position)
             SELECT $1, $2, r.* FROM UNNEST($3::bigint[], $4::uuid[], $5::text[], $6::text[],
                                            $7::text[], $8::text[], $9::text[]::json[], $10::bigint[], $11::text[]::json[],
                                            $12::bigint[]) AS r",
        )
        .bind(device.id.0)
        .bind(device.team_id.0)
        .bind(&seq)
        .bind(&record_id)
        .bind(&hlc)
        .bind(&entity)
        .bind(&entity_id)
        .bind(&op)
        .bind(&fields)
        .bind(&version)
        .bind(&payload)
        .bind(&position)
        .execute(&mut **tx)
        .await
        .map_err(pg)?;
    }
    Ok(())
}

async fn scrub_forgotten(tx: &mut Tx, team: Uuid, citizen: &str) -> ServerResult<()> {
    let rows: Vec<(i64, Value)> = sqlx_core::query_as::query_as(
        "SELECT server_seq, payload FROM records
         WHERE team_id = $1 AND entity = 'citizen' AND entity_id = $2",
    )
    .bind(team)
    .bind(citizen)
    .fetch_all(&mut **tx)
    .await
    .map_err(pg)?;
    for (server_seq, mut payload) in rows {
        if sotay_protocol::erasure::scrub(&mut payload) {
            query("UPDATE records SET payload = $2 WHERE server_seq = $1")
                .bind(server_seq)
                .bind(payload)
                .execute(&mut **tx)
                .await
                .map_err(pg)?;
        }
    }
    let personal: Vec<&str> = sotay_protocol::erasure::PERSONAL_FIELDS.to_vec();
    query(
        "DELETE FROM conflicts
         WHERE team_id = $1 AND entity = 'citizen' AND entity_id = $2 AND field = ANY($3)",
    )
    .bind(team)
    .bind(citizen)
    .bind(&personal)
    .execute(&mut **tx)
    .await
    .map_err(pg)?;
    // A reason may quote a value; the row itself stays, as it accounts for the device's sequence.
    query(
        "UPDATE quarantine SET reason = $3, reason_en = $4
         WHERE team_id = $1 AND entity = 'citizen' AND entity_id = $2",
    )
    .bind(team)
    .bind(citizen)
    .bind(sotay_protocol::erasure::ERASED_REASON)
    .bind(sotay_protocol::erasure::ERASED_REASON_EN)
    .execute(&mut **tx)
    .await
    .map_err(pg)?;
    Ok(())
}

impl Storage for PostgresStorage {
    async fn authenticate(&self, token_hash: String) -> ServerResult<DeviceRow> {
        let row: (Uuid, Uuid, bool) = sqlx_core::query_as::query_as(
            "SELECT id, team_id, revoked_at IS NOT NULL FROM devices WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(pg)?
        .ok_or(ServerError::Unauthorized)?;
        if row.2 {
            return Err(ServerError::Revoked);
        }
        Ok(DeviceRow {
            id: DeviceId(row.0),
            team_id: TeamId(row.1),
        })
    }

    async fn team(&self, id: TeamId) -> ServerResult<TeamV1> {
        let row: (String, String, String, String) = sqlx_core::query_as::query_as(
            "SELECT name, organisation, province_code, commune_code FROM teams WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(pg)?
        .ok_or_else(|| ServerError::NotFound(format!("đội {id}")))?;
        team_from_columns(id, row)
    }

    async fn acked(&self, device: DeviceId) -> ServerResult<(u64, Option<RecordId>)> {
        let mut tx = self.begin().await?;
        let acked = acked_seq(&mut tx, device).await?;
        let held = held_at(&mut tx, device, &[acked as i64]).await?;
        tx.commit().await.map_err(pg)?;
        Ok((acked, held.first().map(|(_, id)| *id)))
    }

    async fn push(&self, device: DeviceRow, batch: Batch) -> ServerResult<PushResponse> {
        let mut tx = self.begin().await?;
        let response = push(&mut tx, device, batch).await?;
        tx.commit().await.map_err(pg)?;
        Ok(response)
    }

    async fn pull(
        &self,
        device: DeviceRow,
        from: PullFrom,
        limit: u64,
    ) -> ServerResult<RecordPage> {
        let (sql, cursor) = match from {
            PullFrom::Position(p) => (
                "SELECT record_id, device_id, seq, hlc, entity, entity_id, op, fields,
                        payload_version, payload, team_position
                 FROM records
                 WHERE team_id = $1 AND team_position > $2 AND device_id <> $3
                 ORDER BY team_position LIMIT $4",
                p,
            ),
            PullFrom::LegacyCursor(c) => (
                "SELECT record_id, device_id, seq, hlc, entity, entity_id, op, fields,
                        payload_version, payload, server_seq
                 FROM records
                 WHERE team_id = $1 AND server_seq > $2 AND device_id <> $3
                 ORDER BY server_seq LIMIT $4",
                c,
            ),
        };
        let rows = query(sql)
            .bind(device.team_id.0)
            .bind(cursor as i64)
            .bind(device.id.0)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        let mut page = RecordPage {
            next_cursor: cursor,
            ..Default::default()
        };
        for row in &rows {
            page.records.push(record_from_row(row)?);
            page.next_cursor = row.try_get::<i64, _>(10).map_err(pg)? as u64;
        }
        Ok(page)
    }

    async fn volunteers(&self, team: TeamId) -> ServerResult<Vec<VolunteerV1>> {
        let states: Vec<(Option<String>, Option<String>, Option<String>)> =
            sqlx_core::query_as::query_as(
                "SELECT e.state::text, r.payload::text, r.hlc FROM entities e
                 LEFT JOIN records r ON r.record_id = e.source_record
                 WHERE e.team_id = $1 AND e.entity = 'volunteer' AND NOT e.deleted",
            )
            .bind(team.0)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        Ok(states
            .into_iter()
            .filter_map(|(state, payload, hlc)| {
                stored_state(state.as_deref(), payload.as_deref().zip(hlc.as_deref())).ok()
            })
            .filter_map(|s| serde_json::from_value(s.payload()).ok())
            .collect())
    }

    async fn own_records(
        &self,
        device: DeviceRow,
        after: u64,
        limit: u64,
    ) -> ServerResult<OwnRecords> {
        let last = after.saturating_add(limit) as i64;
        let mut tx = self.begin().await?;
        let rows = query(
            "SELECT record_id, device_id, seq, hlc, entity, entity_id, op, fields,
                    payload_version, payload
             FROM records WHERE device_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(device.id.0)
        .bind(after as i64)
        .bind(last)
        .fetch_all(&mut *tx)
        .await
        .map_err(pg)?;
        let records = rows
            .iter()
            .map(record_from_row)
            .collect::<ServerResult<Vec<_>>>()?;
        let set_aside: Vec<(i64, Uuid, String, String)> = sqlx_core::query_as::query_as(
            "SELECT seq, record_id, reason, reason_en FROM quarantine
             WHERE device_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(device.id.0)
        .bind(after as i64)
        .bind(last)
        .fetch_all(&mut *tx)
        .await
        .map_err(pg)?;
        let acked = acked_seq(&mut tx, device.id).await?;
        tx.commit().await.map_err(pg)?;
        let (next_after, more) = own_page_end(after, limit, acked);
        Ok(OwnRecords {
            records,
            set_aside: set_aside
                .into_iter()
                .map(|(seq, id, reason, reason_en)| QuarantinedRecord {
                    seq: seq as u64,
                    record_id: RecordId(id),
                    reason,
                    reason_en,
                })
                .collect(),
            next_after,
            more,
        })
    }

    async fn add_enrolment_code(
        &self,
        team_name: String,
        new_team: Option<TeamV1>,
        code_hash: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> ServerResult<Option<(TeamId, String)>> {
        let mut tx = self.begin().await?;
        let existing: Option<(Uuid, String)> =
            sqlx_core::query_as::query_as("SELECT id, name FROM teams WHERE name = $1")
                .bind(&team_name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(pg)?;
        let (id, name) = match (existing, new_team) {
            (Some((id, name)), _) => (TeamId(id), name),
            (None, Some(team)) => {
                query(
                    "INSERT INTO teams (id, name, organisation, province_code, commune_code,
                                        created_at)
                     VALUES ($1, $2, $3, $4, $5, now())",
                )
                .bind(team.id.0)
                .bind(&team.name)
                .bind(organisation_text(team.organisation))
                .bind(&team.province_code)
                .bind(&team.commune_code)
                .execute(&mut *tx)
                .await
                .map_err(pg)?;
                (team.id, team.name)
            }
            (None, None) => return Ok(None),
        };
        query(
            "INSERT INTO enrolment_codes (code_hash, team_id, created_at, expires_at)
             VALUES ($1, $2, now(), $3)",
        )
        .bind(code_hash)
        .bind(id.0)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(Some((id, name)))
    }

    async fn enroll(
        &self,
        code_hash: String,
        device: DeviceId,
        token_hash: String,
    ) -> ServerResult<DeviceRow> {
        let mut tx = self.begin().await?;
        // FOR UPDATE: two laptops racing with one code, one wins.
        let (team, usable): (Uuid, bool) = sqlx_core::query_as::query_as(
            "SELECT team_id, used_by IS NULL AND expires_at >= now()
             FROM enrolment_codes WHERE code_hash = $1 FOR UPDATE",
        )
        .bind(&code_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(pg)?
        .ok_or(ServerError::BadEnrolmentCode)?;
        if !usable {
            return Err(ServerError::BadEnrolmentCode);
        }
        let known: Option<(Uuid, bool)> = sqlx_core::query_as::query_as(
            "SELECT team_id, revoked_at IS NOT NULL FROM devices WHERE id = $1 FOR UPDATE",
        )
        .bind(device.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(pg)?;
        let statement = match known {
            None => {
                "INSERT INTO devices (id, team_id, token_hash, enrolled_at)
                     VALUES ($1, $2, $3, now())"
            }
            // Revoked by the admin, who then gave it a new code of its team: back in, with a
            // new token; the records it sent are still its own.
            Some((known_team, true)) if known_team == team => {
                "UPDATE devices SET token_hash = $3, revoked_at = NULL, enrolled_at = now()
                 WHERE id = $1 AND team_id = $2"
            }
            Some((known_team, _)) if known_team != team => {
                return Err(ServerError::other_team(device))
            }
            Some(_) => return Err(ServerError::already_enrolled(device)),
        };
        query("UPDATE enrolment_codes SET used_by = $1 WHERE code_hash = $2")
            .bind(device.0)
            .bind(&code_hash)
            .execute(&mut *tx)
            .await
            .map_err(pg)?;
        query(statement)
            .bind(device.0)
            .bind(team)
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(DeviceRow {
            id: device,
            team_id: TeamId(team),
        })
    }

    async fn revoke(&self, device: DeviceId) -> ServerResult<bool> {
        let done =
            query("UPDATE devices SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
                .bind(device.0)
                .execute(&self.pool)
                .await
                .map_err(pg)?;
        Ok(done.rows_affected() > 0)
    }

    async fn device_key(&self, device: DeviceId) -> ServerResult<Option<DeviceKey>> {
        let row: Option<(Uuid, String, bool)> = sqlx_core::query_as::query_as(
            "SELECT team_id, token_hash, revoked_at IS NOT NULL FROM devices WHERE id = $1",
        )
        .bind(device.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(pg)?;
        Ok(row.map(|(team, token_hash, revoked)| DeviceKey {
            device: DeviceRow {
                id: device,
                team_id: TeamId(team),
            },
            token_hash,
            revoked,
        }))
    }

    async fn stats(&self) -> ServerResult<Vec<TeamStats>> {
        let rows = query(
            "SELECT t.id::text, t.name,
                (SELECT COUNT(*) FROM devices d WHERE d.team_id = t.id),
                (SELECT COUNT(*) FROM records r WHERE r.team_id = t.id),
                e.citizens, e.sessions, e.attendances, e.outcomes, e.achieved
             FROM teams t
             LEFT JOIN LATERAL (
                 SELECT COUNT(*) FILTER (WHERE entity = 'citizen') AS citizens,
                        COUNT(*) FILTER (WHERE entity = 'session') AS sessions,
                        COUNT(*) FILTER (WHERE entity = 'attendance') AS attendances,
                        COALESCE(SUM(n_outcomes) FILTER (WHERE entity = 'attendance'), 0)::bigint
                            AS outcomes,
                        COALESCE(SUM(n_achieved) FILTER (WHERE entity = 'attendance'), 0)::bigint
                            AS achieved
                 FROM entities WHERE team_id = t.id AND NOT deleted) AS e ON TRUE
             ORDER BY t.name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(pg)?;
        rows.iter()
            .map(|r| {
                let n = |i: usize| r.try_get::<i64, _>(i).map(|v| v as u64).map_err(pg);
                Ok(TeamStats {
                    team_id: r.try_get(0).map_err(pg)?,
                    team_name: r.try_get(1).map_err(pg)?,
                    devices: n(2)?,
                    records: n(3)?,
                    citizens: n(4)?,
                    sessions: n(5)?,
                    attendances: n(6)?,
                    outcomes: n(7)?,
                    achieved: n(8)?,
                })
            })
            .collect()
    }

    async fn quarantine(&self) -> ServerResult<Vec<QuarantineEntry>> {
        let rows = query(
            "SELECT t.name, q.device_id::text, q.seq, q.record_id::text, q.entity, q.entity_id,
                    q.reason, q.received_at
             FROM quarantine q JOIN teams t ON t.id = q.team_id
             ORDER BY q.id DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(pg)?;
        rows.iter()
            .map(|r| {
                Ok(QuarantineEntry {
                    team_name: r.try_get(0).map_err(pg)?,
                    device_id: r.try_get(1).map_err(pg)?,
                    seq: r.try_get::<i64, _>(2).map_err(pg)? as u64,
                    record_id: r.try_get(3).map_err(pg)?,
                    entity: r.try_get(4).map_err(pg)?,
                    entity_id: r.try_get(5).map_err(pg)?,
                    reason: r.try_get(6).map_err(pg)?,
                    received_at: rfc3339(r.try_get(7).map_err(pg)?),
                })
            })
            .collect()
    }

    async fn set_target(&self, target: CommuneTarget) -> ServerResult<()> {
        query(
            "INSERT INTO commune_targets (commune_code, adult_population, basic_pct,
                                          confirmed_pct, updated_at)
             VALUES ($1, $2, $3, $4, now())
             ON CONFLICT (commune_code) DO UPDATE SET
                 adult_population = excluded.adult_population, basic_pct = excluded.basic_pct,
                 confirmed_pct = excluded.confirmed_pct, updated_at = excluded.updated_at",
        )
        .bind(&target.commune_code)
        .bind(target.adult_population as i64)
        .bind(i64::from(target.basic_pct))
        .bind(i64::from(target.confirmed_pct))
        .execute(&self.pool)
        .await
        .map_err(pg)?;
        Ok(())
    }

    async fn report_data(&self) -> ServerResult<ReportData> {
        let mut tx = self.begin().await?;
        let teams: Vec<(Uuid, String)> =
            sqlx_core::query_as::query_as("SELECT id, name FROM teams")
                .fetch_all(&mut *tx)
                .await
                .map_err(pg)?;
        let states: Vec<(String, Option<String>, Uuid, Option<String>)> =
            sqlx_core::query_as::query_as(
                "SELECT e.entity, e.state::text, e.team_id, r.payload::text FROM entities e
                 LEFT JOIN records r ON r.record_id = e.source_record
                 WHERE e.entity IN ('citizen', 'session', 'attendance')
                   AND (NOT e.deleted OR e.state->'fields'->'merged_into' IS NOT NULL)",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(pg)?;
        let targets: Vec<(String, i64, i64, i64)> = sqlx_core::query_as::query_as(
            "SELECT commune_code, adult_population, basic_pct, confirmed_pct
             FROM commune_targets ORDER BY commune_code",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(ReportData {
            states: states
                .into_iter()
                .map(|(e, s, t, payload)| Ok((e, report_state(s, payload)?, TeamId(t))))
                .collect::<ServerResult<_>>()?,
            teams: teams.into_iter().map(|(id, n)| (TeamId(id), n)).collect(),
            targets: targets
                .into_iter()
                .map(|(commune_code, adult, basic, confirmed)| CommuneTarget {
                    commune_code,
                    adult_population: adult as u64,
                    basic_pct: basic as u32,
                    confirmed_pct: confirmed as u32,
                })
                .collect(),
        })
    }
}
