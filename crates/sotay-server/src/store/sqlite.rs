//! [`Storage`] on SQLite (rusqlite): one connection behind a mutex (SQLite writes one at a time
//! anyway), each operation one transaction on tokio's blocking pool, statements prepared once
//! and cached. IDs and times are text (times as RFC 3339 UTC, which sorts as it should).

use super::{
    organisation_text, own_page_end, stored, team_from_columns, DeviceKey, ReportData, Storage,
};
use crate::admin::{QuarantineEntry, TeamStats};
use crate::apply::{
    keys_by_kind, plan_batch, referenced_keys, report_state, rfc3339, seqs_to_check, stored_state,
    touched_keys, Batch, BatchContext, Decided, DeviceRow, EntityKey, EntityRow, PullFrom,
    RecordPage, StoredEntity, StoredRecord,
};
use crate::error::{ServerError, ServerResult};
use rusqlite::{params, OptionalExtension, ToSql, Transaction};
use sotay_core::report::CommuneTarget;
use sotay_protocol::sync::{OwnRecords, PushResponse, QuarantinedRecord};
use sotay_protocol::{
    DeviceId, Entity, Operation, OutboxRecord, RecordId, TeamId, TeamV1, VolunteerV1,
};
use std::path::Path;
use std::sync::{Arc, Mutex};

pub(super) const SCHEMA: &[&str] = &[
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_targets.sql"),
    include_str!("../migrations/sqlite/0003_team_position.sql"),
    include_str!("../migrations/sqlite/0004_quarantine.sql"),
    include_str!("../migrations/sqlite/0005_drop_records_team.sql"),
    include_str!("../migrations/sqlite/0006_state_from_record.sql"),
];

#[derive(Clone)]
pub struct SqliteStorage {
    /// The connection every change goes through, one transaction at a time.
    conn: Arc<Mutex<rusqlite::Connection>>,
    /// A connection that only reads, for what a sync asks besides pushing (who a token belongs
    /// to, what the server holds of a device, pulls): WAL lets it read the last commit while a
    /// batch is being written. On the writer's connection, a batch arriving while the one
    /// before it was stored (~50 ms per 5,000 records) waited that long just for its device to
    /// be looked up, and only then could it be read early (`http::read_early`).
    reader: Arc<Mutex<rusqlite::Connection>>,
    /// Wakes the checkpointer after a push commits (see [`SqliteStorage::open`]).
    checkpoints: std::sync::mpsc::SyncSender<()>,
}

fn db(e: rusqlite::Error) -> ServerError {
    ServerError::db(e)
}

fn now() -> String {
    rfc3339(chrono::Utc::now())
}

impl SqliteStorage {
    pub fn open(path: &Path) -> ServerResult<Self> {
        let mut conn = rusqlite::Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        // A first sync brings tens of thousands of records: a larger page cache keeps the
        // indexes in memory, and fewer, larger checkpoints write each page once.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(db)?;
        // Checkpoints (copying the WAL into the database, and its fsync) run on a thread of their
        // own once the writer is quiet ([`checkpointer`]), not inside a push; the writer's own
        // automatic checkpoint stays as a bound on the WAL should that thread fall far behind.
        conn.pragma_update(None, "wal_autocheckpoint", 65_536)
            .map_err(db)?;
        // Bytes a change frees within a page are zeroed (FAST: at no extra I/O), so a forgotten
        // citizen's old values do not survive in free space.
        conn.pragma_update(None, "secure_delete", "FAST")
            .map_err(db)?;
        sotay_core::migrate_sqlite(&mut conn, SCHEMA).map_err(|e| match e {
            sotay_core::CoreError::Database(e) => ServerError::db(e),
            e => ServerError::Internal(e.to_string()),
        })?;
        let reader = rusqlite::Connection::open(path).map_err(db)?;
        reader
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        reader.pragma_update(None, "query_only", true).map_err(db)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            reader: Arc::new(Mutex::new(reader)),
            checkpoints: checkpointer(path)?,
        })
    }

    /// Asks for a checkpoint; one already waiting covers this commit too.
    fn after_commit(&self) {
        let _ = self.checkpoints.try_send(());
    }

    /// Moves the WAL into the database and empties it (best effort: a reader may hold it).
    async fn checkpoint(&self) {
        let _ = on_blocking_pool(self.conn.clone(), |conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(db)
        })
        .await;
    }

    /// Runs `f` in one transaction on the blocking pool: committed when it returns Ok.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction) -> ServerResult<T> + Send + 'static,
    ) -> ServerResult<T> {
        on_blocking_pool(self.conn.clone(), move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let result = f(&tx)?;
            tx.commit().map_err(db)?;
            Ok(result)
        })
        .await
    }

    /// Runs `f` in one read transaction on the reading connection, on the blocking pool: it
    /// sees what was committed when it began, and waits for no write.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction) -> ServerResult<T> + Send + 'static,
    ) -> ServerResult<T> {
        on_blocking_pool(self.reader.clone(), move |reader| {
            f(&reader.transaction().map_err(db)?)
        })
        .await
    }
}

/// Runs `f` with the connection, once it is free, on the blocking pool.
async fn on_blocking_pool<T: Send + 'static>(
    conn: Arc<Mutex<rusqlite::Connection>>,
    f: impl FnOnce(&mut rusqlite::Connection) -> ServerResult<T> + Send + 'static,
) -> ServerResult<T> {
    tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|e| e.into_inner())))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?
}

fn team(tx: &Transaction, id: TeamId) -> ServerResult<TeamV1> {
    let row = tx
        .prepare_cached(
            "SELECT name, organisation, province_code, commune_code FROM teams WHERE id = ?1",
        )
        .map_err(db)?
        .query_row([id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get(2)?,
                r.get(3)?,
            ))
        })
        .optional()
        .map_err(db)?
        .ok_or_else(|| ServerError::NotFound(format!("đội {id}")))?;
    team_from_columns(id, row)
}

fn acked_seq(tx: &Transaction, device: DeviceId) -> ServerResult<u64> {
    let seq: i64 = tx
        .prepare_cached(
            // Each MAX on its own reads one entry of its (device_id, seq) index; over a UNION
            // it would walk every record the device ever sent, on every push.
            "SELECT max(COALESCE((SELECT MAX(seq) FROM records WHERE device_id = ?1), 0),
                        COALESCE((SELECT MAX(seq) FROM quarantine WHERE device_id = ?1), 0))",
        )
        .map_err(db)?
        .query_row([device.to_string()], |r| r.get(0))
        .map_err(db)?;
    Ok(seq as u64)
}

fn record_id_at(tx: &Transaction, device: DeviceId, seq: u64) -> ServerResult<Option<RecordId>> {
    let id: Option<String> = tx
        .prepare_cached(
            "SELECT record_id FROM records WHERE device_id = ?1 AND seq = ?2
             UNION ALL SELECT record_id FROM quarantine WHERE device_id = ?1 AND seq = ?2",
        )
        .map_err(db)?
        .query_row(params![device.to_string(), seq as i64], |r| r.get(0))
        .optional()
        .map_err(db)?;
    id.map(|id| stored(&id, "mã bản ghi")).transpose()
}

const RECORD_COLUMNS: &str = "record_id, device_id, seq, hlc, entity, entity_id, op, fields, \
                              payload_version, payload";

fn record_from_row(r: &rusqlite::Row) -> ServerResult<OutboxRecord> {
    let text = |i: usize| r.get::<_, String>(i).map_err(db);
    let bad = |_| ServerError::Internal("nội dung bản ghi hỏng".into());
    Ok(OutboxRecord {
        record_id: stored(&text(0)?, "mã bản ghi")?,
        device_id: stored(&text(1)?, "mã thiết bị")?,
        seq: r.get::<_, i64>(2).map_err(db)? as u64,
        hlc: stored(&text(3)?, "đồng hồ")?,
        entity: Entity::parse(&text(4)?)
            .ok_or_else(|| ServerError::Internal("loại bản ghi hỏng".into()))?,
        entity_id: text(5)?,
        op: Operation::parse(&text(6)?)
            .ok_or_else(|| ServerError::Internal("thao tác hỏng".into()))?,
        fields: serde_json::from_str(&text(7)?).map_err(bad)?,
        payload_version: r.get::<_, i64>(8).map_err(db)? as u16,
        payload: serde_json::from_str(&text(9)?).map_err(bad)?,
    })
}

/// Applies a batch; also says whether it forgot someone (the WAL is then emptied after commit,
/// so the old values do not linger in it).
fn push(tx: &Transaction, device: DeviceRow, batch: Batch) -> ServerResult<(PushResponse, bool)> {
    let records = &batch.records;
    let team = device.team_id.to_string();
    let device_id = device.id.to_string();
    let position: i64 = tx
        .prepare_cached("SELECT next_position FROM teams WHERE id = ?1")
        .map_err(db)?
        .query_row([&team], |r| r.get(0))
        .optional()
        .map_err(db)?
        .unwrap_or(0);
    let acked = acked_seq(tx, device.id)?;
    let mut context = BatchContext {
        acked,
        position,
        ..Default::default()
    };
    for seq in seqs_to_check(records, acked) {
        if let Some(id) = record_id_at(tx, device.id, seq)? {
            context.held.insert(seq, id);
        }
    }
    let touched = touched_keys(records);
    let referenced = referenced_keys(records, &touched);
    let now_ms = crate::apply::now_millis();
    let received = now();
    let (plan, written) = std::thread::scope(|scope| {
        // A record's own rules need no database: they are checked on the other threads while
        // this one loads what the batch touches.
        let checker = scope.spawn(move || batch.into_checked());
        let loaded = load_entities(tx, &touched, &referenced, &mut context);
        let (records, checks) = checker.join().expect("checks do not panic");
        loaded?;
        // Decided on a thread of its own: this one writes each part of the batch while the
        // next is decided.
        let (to_writer, parts) = std::sync::mpsc::sync_channel(4);
        let planner = scope.spawn(move || {
            plan_batch(context, &device, records, checks, now_ms, &mut |part| {
                // The writer stopped on an error that fails the push anyway.
                let _ = to_writer.send(part);
            })
        });
        let written = parts.iter().try_for_each(|part| match part {
            Decided::Records(part) => insert_records(tx, &device_id, &team, &received, &part),
            Decided::Entities(part) => write_entities(tx, &part),
        });
        drop(parts);
        ServerResult::Ok((planner.join().expect("planning does not panic"), written))
    })?;
    let plan = plan?;
    written?;
    insert_records(tx, &device_id, &team, &received, &plan.records)?;
    let mut set_aside = tx
        .prepare_cached(
            "INSERT INTO quarantine (team_id, device_id, seq, record_id, entity, entity_id, reason,
                                     reason_en, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(db)?;
    for (r, problem) in &plan.quarantined {
        set_aside
            .execute(params![
                team,
                device_id,
                r.seq as i64,
                r.record_id.to_string(),
                r.entity.as_str(),
                r.entity_id.chars().take(200).collect::<String>(),
                problem.reason,
                problem.reason_en,
                received,
            ])
            .map_err(db)?;
    }
    write_entities(tx, &plan.entities)?;
    let mut conflict = tx
        .prepare_cached(
            "INSERT INTO conflicts (team_id, entity, entity_id, field, lost_value, lost_hlc,
                                    winner_hlc, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(db)?;
    for c in &plan.conflicts {
        conflict
            .execute(params![
                team,
                c.entity.as_str(),
                c.entity_id,
                c.lost.field,
                c.lost.value.to_string(),
                c.lost.hlc.to_string(),
                c.lost.winner_hlc.to_string(),
                received,
            ])
            .map_err(db)?;
    }
    for id in &plan.forgotten {
        scrub_forgotten(tx, &team, id)?;
    }
    tx.prepare_cached("UPDATE teams SET next_position = ?2 WHERE id = ?1")
        .map_err(db)?
        .execute(params![team, plan.position])
        .map_err(db)?;
    Ok((plan.response, !plan.forgotten.is_empty()))
}

/// Loads into `context` the stored state of every entity in `touched`, and the team and
/// liveness of every one in `referenced`.
fn load_entities(
    tx: &Transaction,
    touched: &[EntityKey],
    referenced: &[EntityKey],
    context: &mut BatchContext,
) -> ServerResult<()> {
    // One statement per kind, the IDs as a JSON array probed against the primary key: a
    // statement per key costs more in binding and stepping than in the lookup itself.
    let mut load = tx
        .prepare_cached(
            "SELECT e.entity_id, e.team_id, e.state, r.payload, r.hlc FROM entities e
             LEFT JOIN records r ON r.record_id = e.source_record
             WHERE e.entity = ?1 AND e.entity_id IN (SELECT value FROM json_each(?2))",
        )
        .map_err(db)?;
    for (kind, ids) in by_kind(touched) {
        let mut rows = load.query(params![kind.as_str(), ids]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let id: String = r.get(0).map_err(db)?;
            let team_id: String = r.get(1).map_err(db)?;
            let (state, payload, hlc): (Option<String>, Option<String>, Option<String>) = (
                r.get(2).map_err(db)?,
                r.get(3).map_err(db)?,
                r.get(4).map_err(db)?,
            );
            let entity = StoredEntity {
                team_id: stored(&team_id, "mã đội")?,
                state: stored_state(state.as_deref(), payload.as_deref().zip(hlc.as_deref()))?,
            };
            context.stored.insert((kind, id), entity);
        }
    }
    let mut look = tx
        .prepare_cached(
            "SELECT entity_id, team_id,
                    deleted AND json_extract(state, '$.fields.merged_into') IS NULL
             FROM entities WHERE entity = ?1 AND entity_id IN (SELECT value FROM json_each(?2))",
        )
        .map_err(db)?;
    for (kind, ids) in by_kind(referenced) {
        let mut rows = look.query(params![kind.as_str(), ids]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let id: String = r.get(0).map_err(db)?;
            let team_id: String = r.get(1).map_err(db)?;
            let gone: bool = r.get(2).map_err(db)?;
            context
                .refs
                .insert((kind, id), (stored(&team_id, "mã đội")?, gone));
        }
    }
    Ok(())
}

/// Writes entities' rows as a batch leaves them: new ones inserted and known ones updated, so
/// there is no upsert to arbitrate.
fn write_entities(tx: &Transaction, rows: &[EntityRow]) -> ServerResult<()> {
    let (known, new): (Vec<&EntityRow>, Vec<&EntityRow>) = rows.iter().partition(|e| e.existed);
    // A team ID and a record ID, 36 bytes each.
    let mut texts = Texts::with_capacity(new.len() * 72);
    let spans: Vec<(Span, Option<Span>)> = new
        .iter()
        .map(|e| {
            (
                texts.push(e.team_id),
                e.source_record.map(|id| texts.push(id)),
            )
        })
        .collect();
    let columns: Vec<(&str, Option<&str>, &'static str)> = new
        .iter()
        .zip(spans)
        .map(|(e, (team, source))| {
            let team = texts.get(team);
            let source = source.map(|span| texts.get(span));
            (team, source, e.key.0.as_str())
        })
        .collect();
    insert_rows(
        tx,
        "entities (entity, entity_id, team_id, state, source_record, deleted, n_outcomes,
                   n_achieved)",
        new.iter().zip(&columns).map(|(e, (team, source, kind))| {
            [
                kind as &dyn ToSql,
                &e.key.1,
                team,
                &e.state_json,
                source,
                &e.deleted,
                &e.n_outcomes,
                &e.n_achieved,
            ]
        }),
    )?;
    let mut update_entity = tx
        .prepare_cached(
            "UPDATE entities SET state = ?3, source_record = ?4, deleted = ?5, n_outcomes = ?6,
                                 n_achieved = ?7
             WHERE entity = ?1 AND entity_id = ?2",
        )
        .map_err(db)?;
    for e in known {
        update_entity
            .execute(params![
                e.key.0.as_str(),
                e.key.1,
                e.state_json,
                e.source_record.map(|id| id.to_string()),
                e.deleted,
                e.n_outcomes,
                e.n_achieved,
            ])
            .map_err(db)?;
    }
    Ok(())
}

/// Stores records of a batch, each at its team position.
fn insert_records(
    tx: &Transaction,
    device_id: &str,
    team: &str,
    received: &str,
    records: &[StoredRecord],
) -> ServerResult<()> {
    // A record ID (36 bytes), a clock (59) and, nearly always, `[]`.
    let mut texts = Texts::with_capacity(records.len() * 97);
    let spans: Vec<[Span; 3]> = records
        .iter()
        .map(|stored| {
            let r = &stored.record;
            let fields: std::borrow::Cow<str> = if r.fields.is_empty() {
                "[]".into()
            } else {
                serde_json::to_string(&r.fields)
                    .expect("strings serialise")
                    .into()
            };
            [
                texts.push(r.record_id),
                texts.push(r.hlc),
                texts.push(fields),
            ]
        })
        .collect();
    let columns: Vec<([&str; 3], i64, [&'static str; 2])> = records
        .iter()
        .zip(spans)
        .map(|(stored, spans)| {
            let r = &stored.record;
            let own = spans.map(|span| texts.get(span));
            (own, r.seq as i64, [r.entity.as_str(), r.op.as_str()])
        })
        .collect();
    insert_rows(
        tx,
        "records (device_id, seq, team_id, record_id, hlc, entity, entity_id, op, fields,
                  payload_version, payload, received_at, team_position)",
        records
            .iter()
            .zip(&columns)
            .map(|(stored, (own, seq, kinds))| {
                let r = &stored.record;
                [
                    &device_id as &dyn ToSql,
                    seq,
                    &team,
                    &own[0],
                    &own[1],
                    &kinds[0],
                    &r.entity_id,
                    &kinds[1],
                    &own[2],
                    &r.payload_version,
                    &stored.payload_json,
                    &received,
                    &stored.position,
                ]
            }),
    )
}

/// Inserts `rows` into `table_and_columns` (`table (columns)`) many rows per statement: a
/// batch is thousands of rows, and a statement per row costs more in stepping and resetting
/// than in the row itself. `OR FAIL` because a statement that may abort halfway (SQLite's
/// default, `OR ABORT`) first copies every page it changes into a statement journal to undo its
/// own rows; here a failed insert fails the push, whose transaction undoes everything anyway.
fn insert_rows<'a, const N: usize>(
    tx: &Transaction,
    table_and_columns: &str,
    rows: impl Iterator<Item = [&'a dyn ToSql; N]>,
) -> ServerResult<()> {
    const PER_STATEMENT: usize = 64;
    let values = |n: usize| {
        let row = format!("({})", vec!["?"; N].join(", "));
        format!(
            "INSERT OR FAIL INTO {table_and_columns} VALUES {}",
            vec![row; n].join(", ")
        )
    };
    let full = values(PER_STATEMENT);
    let mut chunk: Vec<&dyn ToSql> = Vec::with_capacity(PER_STATEMENT * N);
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        chunk.clear();
        for row in rows.by_ref().take(PER_STATEMENT) {
            chunk.extend(row);
        }
        let n = chunk.len() / N;
        let partial;
        let sql = if n == PER_STATEMENT {
            &full
        } else {
            partial = values(n);
            &partial
        };
        tx.prepare_cached(sql)
            .map_err(db)?
            .execute(rusqlite::params_from_iter(chunk.iter()))
            .map_err(db)?;
    }
    Ok(())
}

/// Where a text is in [`Texts`].
type Span = std::ops::Range<usize>;

/// Texts written one after another into one buffer, each read back by its span: a batch binds
/// thousands of IDs and clocks, and a string each was an allocation to free again.
struct Texts(String);

impl Texts {
    fn with_capacity(bytes: usize) -> Self {
        Self(String::with_capacity(bytes))
    }

    fn push(&mut self, value: impl std::fmt::Display) -> Span {
        use std::fmt::Write;
        let start = self.0.len();
        write!(self.0, "{value}").expect("writing to memory");
        start..self.0.len()
    }

    fn get(&self, span: Span) -> &str {
        &self.0[span]
    }
}

/// `keys` grouped by kind, each group's IDs as a JSON array (read by `json_each`).
fn by_kind(keys: &[EntityKey]) -> Vec<(Entity, String)> {
    keys_by_kind(keys)
        .into_iter()
        .map(|(entity, ids)| {
            (
                entity,
                serde_json::to_string(&ids).expect("strings serialise"),
            )
        })
        .collect()
}

/// How long the writer stays quiet before the checkpointer copies the WAL into the database.
const CHECKPOINT_WHEN_QUIET: std::time::Duration = std::time::Duration::from_millis(250);
/// The longest a checkpoint waits for quiet after the first commit it would cover.
const CHECKPOINT_AT_MOST_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// A thread with its own connection that checkpoints the WAL (PASSIVE: it never waits for or
/// blocks the writer) once pushes have committed and the writer has been quiet for
/// [`CHECKPOINT_WHEN_QUIET`], or [`CHECKPOINT_AT_MOST_AFTER`] the first of them on a server
/// that is never quiet; it ends when the storage is dropped. A laptop's first sync is a batch
/// every ~80 ms: a checkpoint after each copied pages and synced the file beside the next
/// batch, on the cores that batch needed; now it comes once, after the laptop has its answer.
fn checkpointer(path: &Path) -> ServerResult<std::sync::mpsc::SyncSender<()>> {
    use std::sync::mpsc::RecvTimeoutError;
    let conn = rusqlite::Connection::open(path).map_err(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db)?;
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("sotay-checkpoint".into())
        .spawn(move || {
            let checkpoint = || {
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            };
            while woken.recv().is_ok() {
                let first = std::time::Instant::now();
                loop {
                    let left = CHECKPOINT_AT_MOST_AFTER.saturating_sub(first.elapsed());
                    match woken.recv_timeout(CHECKPOINT_WHEN_QUIET.min(left)) {
                        Ok(()) if !left.is_zero() => continue,
                        Err(RecvTimeoutError::Disconnected) => {
                            checkpoint();
                            return;
                        }
                        _ => break,
                    }
                }
                checkpoint();
            }
        })
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok(wake)
}

/// Erases a forgotten citizen's personal data from every record and conflict the server holds.
/// `secure_delete` (set on every connection) zeroes the bytes the old values leave behind.
fn scrub_forgotten(tx: &Transaction, team: &str, citizen: &str) -> ServerResult<()> {
    let rows: Vec<(i64, String)> = tx
        .prepare_cached(
            "SELECT server_seq, payload FROM records
             WHERE team_id = ?1 AND entity = 'citizen' AND entity_id = ?2",
        )
        .map_err(db)?
        .query_map(params![team, citizen], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    for (server_seq, payload) in rows {
        let Ok(mut payload) = serde_json::from_str::<serde_json::Value>(&payload) else {
            continue;
        };
        if sotay_protocol::erasure::scrub(&mut payload) {
            tx.prepare_cached("UPDATE records SET payload = ?2 WHERE server_seq = ?1")
                .map_err(db)?
                .execute(params![server_seq, payload.to_string()])
                .map_err(db)?;
        }
    }
    let mut forget_conflicts = tx
        .prepare_cached(
            "DELETE FROM conflicts
             WHERE team_id = ?1 AND entity = 'citizen' AND entity_id = ?2 AND field = ?3",
        )
        .map_err(db)?;
    for field in sotay_protocol::erasure::PERSONAL_FIELDS {
        forget_conflicts
            .execute(params![team, citizen, field])
            .map_err(db)?;
    }
    // A reason may quote a value ("phone “0212…” must have 10 digits"); the row itself stays,
    // as it accounts for the device's sequence.
    tx.prepare_cached(
        "UPDATE quarantine SET reason = ?3, reason_en = ?4
         WHERE team_id = ?1 AND entity = 'citizen' AND entity_id = ?2",
    )
    .map_err(db)?
    .execute(params![
        team,
        citizen,
        sotay_protocol::erasure::ERASED_REASON,
        sotay_protocol::erasure::ERASED_REASON_EN
    ])
    .map_err(db)?;
    Ok(())
}

fn stats(tx: &Transaction) -> ServerResult<Vec<TeamStats>> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT t.id, t.name,
                (SELECT COUNT(*) FROM devices d WHERE d.team_id = t.id),
                (SELECT COUNT(*) FROM records r WHERE r.team_id = t.id),
                (SELECT COUNT(*) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'citizen' AND e.deleted = 0),
                (SELECT COUNT(*) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'session' AND e.deleted = 0),
                (SELECT COUNT(*) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'attendance' AND e.deleted = 0),
                (SELECT COALESCE(SUM(e.n_outcomes), 0) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'attendance' AND e.deleted = 0),
                (SELECT COALESCE(SUM(e.n_achieved), 0) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'attendance' AND e.deleted = 0)
             FROM teams t ORDER BY t.name",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
            Ok(TeamStats {
                team_id: r.get(0)?,
                team_name: r.get(1)?,
                devices: n(2)?,
                records: n(3)?,
                citizens: n(4)?,
                sessions: n(5)?,
                attendances: n(6)?,
                outcomes: n(7)?,
                achieved: n(8)?,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

impl Storage for SqliteStorage {
    async fn authenticate(&self, token_hash: String) -> ServerResult<DeviceRow> {
        self.read(move |tx| {
            let (id, team, revoked): (String, String, Option<String>) = tx
                .prepare_cached("SELECT id, team_id, revoked_at FROM devices WHERE token_hash = ?1")
                .map_err(db)?
                .query_row([token_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
                .map_err(db)?
                .ok_or(ServerError::Unauthorized)?;
            if revoked.is_some() {
                return Err(ServerError::Revoked);
            }
            Ok(DeviceRow {
                id: stored(&id, "mã thiết bị")?,
                team_id: stored(&team, "mã đội")?,
            })
        })
        .await
    }

    async fn team(&self, id: TeamId) -> ServerResult<TeamV1> {
        self.read(move |tx| team(tx, id)).await
    }

    async fn acked(&self, device: DeviceId) -> ServerResult<(u64, Option<RecordId>)> {
        self.read(move |tx| {
            let acked = acked_seq(tx, device)?;
            Ok((acked, record_id_at(tx, device, acked)?))
        })
        .await
    }

    async fn push(&self, device: DeviceRow, batch: Batch) -> ServerResult<PushResponse> {
        let (response, forgot) = self.run(move |tx| push(tx, device, batch)).await?;
        if forgot {
            self.checkpoint().await;
        } else {
            self.after_commit();
        }
        Ok(response)
    }

    async fn pull(
        &self,
        device: DeviceRow,
        from: PullFrom,
        limit: u64,
    ) -> ServerResult<RecordPage> {
        self.read(move |tx| {
            let (sql, cursor) = match from {
                PullFrom::Position(p) => (
                    "SELECT record_id, device_id, seq, hlc, entity, entity_id, op, fields,
                            payload_version, payload, team_position
                     FROM records
                     WHERE team_id = ?1 AND team_position > ?2 AND device_id <> ?3
                     ORDER BY team_position LIMIT ?4",
                    p,
                ),
                PullFrom::LegacyCursor(c) => (
                    "SELECT record_id, device_id, seq, hlc, entity, entity_id, op, fields,
                            payload_version, payload, server_seq
                     FROM records
                     WHERE team_id = ?1 AND server_seq > ?2 AND device_id <> ?3
                     ORDER BY server_seq LIMIT ?4",
                    c,
                ),
            };
            let mut stmt = tx.prepare_cached(sql).map_err(db)?;
            let mut rows = stmt
                .query(params![
                    device.team_id.to_string(),
                    cursor as i64,
                    device.id.to_string(),
                    limit as i64
                ])
                .map_err(db)?;
            let mut page = RecordPage {
                next_cursor: cursor,
                ..Default::default()
            };
            while let Some(row) = rows.next().map_err(db)? {
                page.records.push(record_from_row(row)?);
                page.next_cursor = row.get::<_, i64>(10).map_err(db)? as u64;
            }
            Ok(page)
        })
        .await
    }

    async fn volunteers(&self, team: TeamId) -> ServerResult<Vec<VolunteerV1>> {
        self.read(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT e.state, r.payload, r.hlc FROM entities e
                     LEFT JOIN records r ON r.record_id = e.source_record
                     WHERE e.team_id = ?1 AND e.entity = 'volunteer' AND e.deleted = 0",
                )
                .map_err(db)?;
            let states = stmt
                .query_map([team.to_string()], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            Ok(states
                .iter()
                .filter_map(|(state, payload, hlc)| {
                    stored_state(state.as_deref(), payload.as_deref().zip(hlc.as_deref())).ok()
                })
                .filter_map(|s| serde_json::from_value(s.payload()).ok())
                .collect())
        })
        .await
    }

    async fn own_records(
        &self,
        device: DeviceRow,
        after: u64,
        limit: u64,
    ) -> ServerResult<OwnRecords> {
        self.run(move |tx| {
            let id = device.id.to_string();
            let last = after.saturating_add(limit) as i64;
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM records
                     WHERE device_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq"
                ))
                .map_err(db)?;
            let mut rows = stmt.query(params![id, after as i64, last]).map_err(db)?;
            let mut records = Vec::new();
            while let Some(row) = rows.next().map_err(db)? {
                records.push(record_from_row(row)?);
            }
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq, record_id, reason, reason_en FROM quarantine
                     WHERE device_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
                )
                .map_err(db)?;
            let set_aside = stmt
                .query_map(params![id, after as i64, last], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get(2)?,
                        r.get(3)?,
                    ))
                })
                .map_err(db)?
                .map(|row| {
                    let (seq, record_id, reason, reason_en) = row.map_err(db)?;
                    Ok(QuarantinedRecord {
                        seq: seq as u64,
                        record_id: stored(&record_id, "mã bản ghi")?,
                        reason,
                        reason_en,
                    })
                })
                .collect::<ServerResult<Vec<_>>>()?;
            let (next_after, more) = own_page_end(after, limit, acked_seq(tx, device.id)?);
            Ok(OwnRecords {
                records,
                set_aside,
                next_after,
                more,
            })
        })
        .await
    }

    async fn add_enrolment_code(
        &self,
        team_name: String,
        new_team: Option<TeamV1>,
        code_hash: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> ServerResult<Option<(TeamId, String)>> {
        self.run(move |tx| {
            let existing: Option<(String, String)> = tx
                .query_row(
                    "SELECT id, name FROM teams WHERE name = ?1",
                    [&team_name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db)?;
            let (id, name) = match (existing, new_team) {
                (Some((id, name)), _) => (stored(&id, "mã đội")?, name),
                (None, Some(team)) => {
                    tx.execute(
                        "INSERT INTO teams (id, name, organisation, province_code, commune_code,
                                            created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            team.id.to_string(),
                            team.name,
                            organisation_text(team.organisation),
                            team.province_code,
                            team.commune_code,
                            now()
                        ],
                    )
                    .map_err(db)?;
                    (team.id, team.name)
                }
                (None, None) => return Ok(None),
            };
            tx.execute(
                "INSERT INTO enrolment_codes (code_hash, team_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![code_hash, id.to_string(), now(), rfc3339(expires_at)],
            )
            .map_err(db)?;
            Ok(Some((id, name)))
        })
        .await
    }

    async fn enroll(
        &self,
        code_hash: String,
        device: DeviceId,
        token_hash: String,
    ) -> ServerResult<DeviceRow> {
        self.run(move |tx| {
            let (team, expires_at, used_by): (String, String, Option<String>) = tx
                .query_row(
                    "SELECT team_id, expires_at, used_by FROM enrolment_codes WHERE code_hash = ?1",
                    [&code_hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db)?
                .ok_or(ServerError::BadEnrolmentCode)?;
            if used_by.is_some() || expires_at < now() {
                return Err(ServerError::BadEnrolmentCode);
            }
            let known: Option<(String, bool)> = tx
                .query_row(
                    "SELECT team_id, revoked_at IS NOT NULL FROM devices WHERE id = ?1",
                    [device.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db)?;
            tx.execute(
                "UPDATE enrolment_codes SET used_by = ?1 WHERE code_hash = ?2",
                params![device.to_string(), code_hash],
            )
            .map_err(db)?;
            match known {
                None => tx.execute(
                    "INSERT INTO devices (id, team_id, token_hash, enrolled_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![device.to_string(), team, token_hash, now()],
                ),
                // Revoked by the admin, who then gave it a new code of its team: back in, with
                // a new token; the records it sent are still its own.
                Some((known_team, true)) if known_team == team => tx.execute(
                    "UPDATE devices SET token_hash = ?1, revoked_at = NULL, enrolled_at = ?2
                     WHERE id = ?3",
                    params![token_hash, now(), device.to_string()],
                ),
                Some((known_team, _)) if known_team != team => {
                    return Err(ServerError::other_team(device))
                }
                Some(_) => return Err(ServerError::already_enrolled(device)),
            }
            .map_err(db)?;
            Ok(DeviceRow {
                id: device,
                team_id: stored(&team, "mã đội")?,
            })
        })
        .await
    }

    async fn revoke(&self, device: DeviceId) -> ServerResult<bool> {
        self.run(move |tx| {
            let n = tx
                .execute(
                    "UPDATE devices SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                    params![now(), device.to_string()],
                )
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn device_key(&self, device: DeviceId) -> ServerResult<Option<DeviceKey>> {
        self.run(move |tx| {
            let row: Option<(String, String, Option<String>)> = tx
                .query_row(
                    "SELECT team_id, token_hash, revoked_at FROM devices WHERE id = ?1",
                    [device.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(db)?;
            row.map(|(team, token_hash, revoked)| {
                Ok(DeviceKey {
                    device: DeviceRow {
                        id: device,
                        team_id: stored(&team, "mã đội")?,
                    },
                    token_hash,
                    revoked: revoked.is_some(),
                })
            })
            .transpose()
        })
        .await
    }

    async fn stats(&self) -> ServerResult<Vec<TeamStats>> {
        self.run(stats).await
    }

    async fn quarantine(&self) -> ServerResult<Vec<QuarantineEntry>> {
        self.run(|tx| {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT t.name, q.device_id, q.seq, q.record_id, q.entity, q.entity_id,
                            q.reason, q.received_at
                     FROM quarantine q JOIN teams t ON t.id = q.team_id
                     ORDER BY q.id DESC",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(QuarantineEntry {
                        team_name: r.get(0)?,
                        device_id: r.get(1)?,
                        seq: r.get::<_, i64>(2)? as u64,
                        record_id: r.get(3)?,
                        entity: r.get(4)?,
                        entity_id: r.get(5)?,
                        reason: r.get(6)?,
                        received_at: r.get(7)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn set_target(&self, target: CommuneTarget) -> ServerResult<()> {
        self.run(move |tx| {
            tx.execute(
                "INSERT INTO commune_targets (commune_code, adult_population, basic_pct,
                                              confirmed_pct, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (commune_code) DO UPDATE SET
                     adult_population = excluded.adult_population, basic_pct = excluded.basic_pct,
                     confirmed_pct = excluded.confirmed_pct, updated_at = excluded.updated_at",
                params![
                    target.commune_code,
                    target.adult_population as i64,
                    target.basic_pct,
                    target.confirmed_pct,
                    now()
                ],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn report_data(&self) -> ServerResult<ReportData> {
        self.run(|tx| {
            let mut data = ReportData::default();
            let mut stmt = tx.prepare("SELECT id, name FROM teams").map_err(db)?;
            let mut rows = stmt.query([]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let id: String = r.get(0).map_err(db)?;
                data.teams
                    .push((stored(&id, "mã đội")?, r.get(1).map_err(db)?));
            }
            let mut stmt = tx
                .prepare(
                    "SELECT e.entity, e.state, e.team_id, r.payload FROM entities e
                     LEFT JOIN records r ON r.record_id = e.source_record
                     WHERE e.entity IN ('citizen', 'session', 'attendance')
                       AND (e.deleted = 0
                            OR json_extract(e.state, '$.fields.merged_into') IS NOT NULL)",
                )
                .map_err(db)?;
            let mut rows = stmt.query([]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                let team: String = r.get(2).map_err(db)?;
                let state = report_state(r.get(1).map_err(db)?, r.get(3).map_err(db)?)?;
                data.states
                    .push((r.get(0).map_err(db)?, state, stored(&team, "mã đội")?));
            }
            let mut stmt = tx
                .prepare(
                    "SELECT commune_code, adult_population, basic_pct, confirmed_pct
                     FROM commune_targets ORDER BY commune_code",
                )
                .map_err(db)?;
            data.targets = stmt
                .query_map([], |r| {
                    Ok(CommuneTarget {
                        commune_code: r.get(0)?,
                        adult_population: r.get::<_, i64>(1)? as u64,
                        basic_pct: r.get(2)?,
                        confirmed_pct: r.get(3)?,
                    })
                })
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?;
            Ok(data)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrading_to_team_positions_numbers_each_teams_records_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("central.sqlite");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        sotay_core::migrate_sqlite(&mut conn, &SCHEMA[..2]).unwrap();
        for team in ["a", "b"] {
            conn.execute(
                "INSERT INTO teams VALUES (?1, ?1, 'other', '38', '14758', 'now')",
                [team],
            )
            .unwrap();
        }
        // Arrival order a, b, a, a, b.
        for (i, team) in ["a", "b", "a", "a", "b"].iter().enumerate() {
            conn.execute(
                "INSERT INTO records (device_id, seq, team_id, record_id, hlc, entity, entity_id,
                                      op, fields, payload_version, payload, received_at)
                 VALUES (?1, 1, ?2, ?1, 'h', 'citizen', ?1, 'upsert', '[]', 1, '{}', 'now')",
                rusqlite::params![format!("d{i}"), team],
            )
            .unwrap();
        }
        drop(conn);
        let storage = SqliteStorage::open(&path).unwrap();
        let conn = storage.conn.lock().unwrap();
        let positions: Vec<(String, i64)> = conn
            .prepare("SELECT team_id, team_position FROM records ORDER BY server_seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected = [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2)];
        assert_eq!(positions, expected.map(|(t, p)| (t.to_owned(), p)).to_vec());
        let next: Vec<i64> = conn
            .prepare("SELECT next_position FROM teams ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(next, [3, 2]);
    }

    #[test]
    fn a_device_is_looked_up_while_a_batch_is_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("central.sqlite")).unwrap();
        let (team, device) = (TeamId::new(), DeviceId::new());
        {
            let conn = storage.conn.lock().unwrap();
            conn.execute(
                "INSERT INTO teams VALUES (?1, 'a', 'other', '38', '14758', 'now', 0)",
                [team.to_string()],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO devices VALUES (?1, ?2, 'hash', 'now', NULL)",
                [device.to_string(), team.to_string()],
            )
            .unwrap();
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            // A batch holds the writer until it is let go.
            let (let_go, held) = std::sync::mpsc::channel::<()>();
            let (holding, writer_held) = tokio::sync::oneshot::channel::<()>();
            let writing = tokio::spawn({
                let storage = storage.clone();
                async move {
                    storage
                        .run(move |_| {
                            let _ = holding.send(());
                            Ok(held.recv().ok())
                        })
                        .await
                }
            });
            writer_held.await.unwrap();
            let meanwhile = async {
                let found = storage.authenticate("hash".into()).await.unwrap();
                assert_eq!((found.id, found.team_id), (device, team));
                assert_eq!(storage.acked(device).await.unwrap(), (0, None));
            };
            // The lookup would otherwise wait for the batch forever: give up well before.
            tokio::time::timeout(std::time::Duration::from_secs(10), meanwhile)
                .await
                .expect("the lookups did not wait for the batch being written");
            let_go.send(()).unwrap();
            writing.await.unwrap().unwrap();
        });
    }
}
