//! The outbox: every change to the store is appended here in the same transaction as the change,
//! with this device's next gap-free sequence number and hybrid-logical-clock timestamp. Sync reads
//! pending records in sequence order and marks them acknowledged; rows are never deleted, so the
//! sequence stays gap-free for the life of the file.

use crate::error::CoreResult;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sotay_protocol::{DeviceId, Entity, Hlc, Operation, OutboxRecord, Payload, RecordId};

pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn last_hlc(tx: &Transaction<'_>, device: DeviceId) -> CoreResult<Hlc> {
    let last: Option<String> = tx
        .prepare_cached("SELECT value FROM meta WHERE key = 'hlc'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(last
        .and_then(|s| s.parse::<Hlc>().ok())
        .unwrap_or_else(|| Hlc::zero(device)))
}

fn save_hlc(tx: &Transaction<'_>, hlc: Hlc) -> CoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('hlc', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([hlc.to_string()])?;
    Ok(())
}

/// Moves this device's clock past a timestamp seen from another device, so that a later local
/// edit always wins over what was on screen when it was made.
pub(crate) fn observe(tx: &Transaction<'_>, remote: Hlc) -> CoreResult<()> {
    let device: String =
        tx.query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
            r.get(0)
        })?;
    let device: DeviceId = device.parse().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "device_id".into(), rusqlite::types::Type::Text)
    })?;
    let hlc = last_hlc(tx, device)?.observe(remote, now_millis());
    save_hlc(tx, hlc)
}

/// Appends one change to the outbox and returns the record as it will be sent.
pub(crate) fn append(
    tx: &Transaction<'_>,
    device: DeviceId,
    op: Operation,
    payload: &Payload,
    fields: &[&str],
) -> CoreResult<OutboxRecord> {
    append_json(
        tx,
        device,
        op,
        (payload.entity(), payload.entity_id(), payload.version()),
        payload.to_json(),
        fields,
    )
}

/// Like [`append`], for a payload that is more than its typed struct (a forget's `_forgotten`).
pub(crate) fn append_json(
    tx: &Transaction<'_>,
    device: DeviceId,
    op: Operation,
    (entity, entity_id, payload_version): (sotay_protocol::Entity, String, u16),
    payload: serde_json::Value,
    fields: &[&str],
) -> CoreResult<OutboxRecord> {
    let hlc = last_hlc(tx, device)?.tick(now_millis());
    save_hlc(tx, hlc)?;
    // After the last record, and after the last the server holds: after a recovery that one may
    // be a record the server set aside, which this laptop could not get back ([`set_acked`]).
    let seq: i64 = tx
        .prepare_cached(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM outbox), 0),
                        (SELECT upto_seq FROM outbox_acked)) + 1",
        )?
        .query_row([], |r| r.get(0))?;
    let record = OutboxRecord {
        record_id: RecordId::new(),
        device_id: device,
        seq: seq as u64,
        hlc,
        entity,
        entity_id,
        op,
        fields: fields.iter().map(|f| f.to_string()).collect(),
        payload_version,
        payload,
    };
    tx.prepare_cached(
        "INSERT INTO outbox (seq, record_id, device_id, hlc, entity, entity_id, op, fields,
                             payload_version, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        seq,
        record.record_id.to_string(),
        device.to_string(),
        hlc.to_string(),
        record.entity.as_str(),
        record.entity_id,
        op.as_str(),
        serde_json::to_string(&record.fields).expect("strings serialise"),
        record.payload_version,
        record.payload.to_string(),
        now_rfc3339(),
    ])?;
    Ok(record)
}

/// Keeps a record of this device that the server holds and this laptop had lost (a restore from
/// an old copy); the caller then marks it sent with [`set_acked`].
pub(crate) fn insert_sent(tx: &Transaction<'_>, record: &OutboxRecord) -> CoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO outbox (seq, record_id, device_id, hlc, entity, entity_id, op, fields,
                             payload_version, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        record.seq as i64,
        record.record_id.to_string(),
        record.device_id.to_string(),
        record.hlc.to_string(),
        record.entity.as_str(),
        record.entity_id,
        record.op.as_str(),
        serde_json::to_string(&record.fields).expect("strings serialise"),
        record.payload_version,
        record.payload.to_string(),
        now_rfc3339(),
    ])?;
    Ok(())
}

/// Marks every record up to `seq` as acknowledged by the server. Never beyond this laptop's
/// last record (a server that holds more, from a newer copy of this laptop, must not swallow
/// the records this one makes next) and never back.
pub(crate) fn mark_acked(conn: &Connection, seq: u64) -> CoreResult<()> {
    conn.prepare_cached(
        "UPDATE outbox_acked
         SET upto_seq = MAX(upto_seq, MIN(?1, (SELECT COALESCE(MAX(seq), 0) FROM outbox)))",
    )?
    .execute([seq as i64])?;
    Ok(())
}

/// Sets what the server holds to every record up to `seq`, lower or higher than before: after
/// recovering from an old copy, the records renumbered after the server's last are to send,
/// whatever the laptop believed sent before. It may pass this laptop's last record, where the
/// server's last ones are records it set aside (it keeps no copy to give back): the record made
/// next is numbered after them ([`append`]), so the server never sees a sequence twice.
pub(crate) fn set_acked(conn: &Connection, seq: u64) -> CoreResult<()> {
    conn.execute("UPDATE outbox_acked SET upto_seq = ?1", [seq as i64])?;
    Ok(())
}

/// Marks nothing as acknowledged: every record is sent again (to a server that lost them).
pub(crate) fn forget_acks(conn: &Connection) -> CoreResult<()> {
    conn.execute("UPDATE outbox_acked SET upto_seq = 0", [])?;
    Ok(())
}

/// The highest sequence this laptop knows the server acknowledged.
pub(crate) fn acked_upto(conn: &Connection) -> CoreResult<u64> {
    Ok(
        conn.query_row("SELECT upto_seq FROM outbox_acked", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct EntityCount {
    pub entity: String,
    pub pending: u64,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct OutboxStatus {
    pub device_id: DeviceId,
    /// Highest sequence number written (0 when nothing was ever recorded).
    pub last_seq: u64,
    pub pending: u64,
    pub acknowledged: u64,
    pub pending_by_entity: Vec<EntityCount>,
}

/// Pending records by entity, from their index alone.
const PENDING_BY_ENTITY: &str = "SELECT entity, COUNT(*) FROM outbox INDEXED BY outbox_seq_entity
     WHERE seq > (SELECT upto_seq FROM outbox_acked) GROUP BY entity ORDER BY entity";

/// Pending records, counted from the index by sequence alone.
const PENDING: &str = "SELECT COUNT(*) FROM outbox INDEXED BY outbox_seq_entity
     WHERE seq > (SELECT upto_seq FROM outbox_acked)";

/// How many records wait, for a sync's progress and the sync screen: without the status's
/// count by entity and of every record ever made, which on 40,000 records kept a sync ~20 ms
/// from sending its first batch (the range count alone: under 5 ms, nothing once all is sent).
pub(crate) fn pending_count(conn: &Connection) -> CoreResult<u64> {
    let pending: i64 = conn.prepare_cached(PENDING)?.query_row([], |r| r.get(0))?;
    Ok(pending as u64)
}

pub(crate) fn status(conn: &Connection, device: DeviceId) -> CoreResult<OutboxStatus> {
    // Each count is answered by an index (the key, the smallest index, the pending records'
    // index by entity): the payloads, most of the table, are never read.
    let (last_seq, total) = conn.query_row(
        "SELECT (SELECT COALESCE(MAX(seq), 0) FROM outbox), (SELECT COUNT(*) FROM outbox)",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    )?;
    let mut stmt = conn.prepare_cached(PENDING_BY_ENTITY)?;
    let pending_by_entity: Vec<EntityCount> = stmt
        .query_map([], |r| {
            Ok(EntityCount {
                entity: r.get(0)?,
                pending: r.get::<_, i64>(1)? as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    let pending: u64 = pending_by_entity.iter().map(|e| e.pending).sum();
    let acknowledged = (total as u64).saturating_sub(pending);
    Ok(OutboxStatus {
        device_id: device,
        last_seq: last_seq as u64,
        pending,
        acknowledged,
        pending_by_entity,
    })
}

/// Pending records after `after_seq`, oldest first, at most `limit`: the unit a sync batch reads,
/// so memory stays bounded however many records wait. `payload` takes each payload's stored
/// JSON text: decoded into a value, or kept as text to send.
pub(crate) fn pending<P>(
    conn: &Connection,
    after_seq: u64,
    limit: usize,
    payload: fn(String) -> serde_json::Result<P>,
) -> CoreResult<Vec<OutboxRecord<P>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record_id, device_id, seq, hlc, entity, entity_id, op, payload_version, payload,
                fields
         FROM outbox WHERE seq > MAX(?1, (SELECT upto_seq FROM outbox_acked))
         ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_seq as i64, limit as i64], |r| {
        // Read in place: only the columns kept as text are copied out (a batch is thousands of
        // rows, and each copy a malloc and a free).
        let bad = |i: usize, e: String| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        };
        let text = |i: usize| r.get_ref(i)?.as_str().map_err(|e| bad(i, e.to_string()));
        Ok(OutboxRecord {
            record_id: text(0)?
                .parse()
                .map_err(|e: uuid::Error| bad(0, e.to_string()))?,
            device_id: text(1)?
                .parse()
                .map_err(|e: uuid::Error| bad(1, e.to_string()))?,
            seq: r.get::<_, i64>(2)? as u64,
            hlc: text(3)?
                .parse()
                .map_err(|e: sotay_protocol::HlcParseError| bad(3, e.to_string()))?,
            entity: Entity::parse(text(4)?).ok_or_else(|| bad(4, "unknown entity".into()))?,
            entity_id: r.get(5)?,
            op: Operation::parse(text(6)?).ok_or_else(|| bad(6, "unknown operation".into()))?,
            payload_version: r.get(7)?,
            payload: payload(r.get(8)?).map_err(|e| bad(8, e.to_string()))?,
            fields: serde_json::from_str(text(9)?).map_err(|e| bad(9, e.to_string()))?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_status_counts_from_indexes_without_reading_a_payload() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        for (seq, entity) in [(1, "citizen"), (2, "citizen"), (3, "session")] {
            conn.execute(
                "INSERT INTO outbox (seq, record_id, device_id, hlc, entity, entity_id, op,
                                     payload_version, payload, created_at)
                 VALUES (?1, ?1, 'd', 'h', ?2, 'e', 'upsert', 1, '{}', 'now')",
                rusqlite::params![seq, entity],
            )
            .unwrap();
        }
        super::mark_acked(&conn, 1).unwrap();
        let status = super::status(&conn, sotay_protocol::DeviceId::new()).unwrap();
        assert_eq!(
            (status.last_seq, status.pending, status.acknowledged),
            (3, 2, 1)
        );
        let by_entity: Vec<(String, u64)> = status
            .pending_by_entity
            .into_iter()
            .map(|e| (e.entity, e.pending))
            .collect();
        assert_eq!(by_entity, [("citizen".into(), 1), ("session".into(), 1)]);
        assert_eq!(super::pending_count(&conn).unwrap(), 2);
        super::mark_acked(&conn, 3).unwrap();
        assert_eq!(super::pending_count(&conn).unwrap(), 0);
        for query in [
            "SELECT COUNT(*) FROM outbox",
            super::PENDING_BY_ENTITY,
            super::PENDING,
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap()
                .query_map([], |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let reads_outbox: Vec<&String> = plan
                .iter()
                .filter(|step| step.contains("outbox ") || step.ends_with("outbox"))
                .collect();
            assert!(
                !reads_outbox.is_empty()
                    && reads_outbox
                        .iter()
                        .all(|step| step.contains("COVERING INDEX")),
                "{query}: {plan:?}"
            );
        }
    }

    #[test]
    fn acknowledging_never_goes_back_and_new_records_follow_what_the_server_holds() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        for seq in 1..=3 {
            conn.execute(
                "INSERT INTO outbox (seq, record_id, device_id, hlc, entity, entity_id, op,
                                     payload_version, payload, created_at)
                 VALUES (?1, ?1, 'd', 'h', 'citizen', 'e', 'upsert', 1, '{}', 'now')",
                [seq],
            )
            .unwrap();
        }
        super::mark_acked(&conn, 2).unwrap();
        assert_eq!(super::acked_upto(&conn).unwrap(), 2);
        super::mark_acked(&conn, 1).unwrap();
        assert_eq!(super::acked_upto(&conn).unwrap(), 2, "never back");
        // A server holding more of this device (a newer copy of this laptop) acknowledges
        // only what this laptop has: the record it makes next is still to send.
        super::mark_acked(&conn, 9).unwrap();
        assert_eq!(super::acked_upto(&conn).unwrap(), 3);
        let pending = |conn: &rusqlite::Connection| {
            super::status(conn, sotay_protocol::DeviceId::new())
                .unwrap()
                .pending
        };
        assert_eq!(pending(&conn), 0);
        conn.execute(
            "INSERT INTO outbox (seq, record_id, device_id, hlc, entity, entity_id, op,
                                 payload_version, payload, created_at)
             VALUES (4, 4, 'd', 'h', 'citizen', 'e', 'upsert', 1, '{}', 'now')",
            [],
        )
        .unwrap();
        assert_eq!(pending(&conn), 1);
        super::set_acked(&conn, 2).unwrap();
        assert_eq!(pending(&conn), 2, "set, it may go back");
        // The server's last records are ones it set aside: what this laptop makes next follows
        // them, and is to send.
        super::set_acked(&conn, 9).unwrap();
        assert_eq!(pending(&conn), 0);
        let tx = conn.transaction().unwrap();
        let next = super::append_json(
            &tx,
            sotay_protocol::DeviceId::new(),
            sotay_protocol::Operation::Upsert,
            (sotay_protocol::Entity::Citizen, "e".into(), 1),
            serde_json::json!({}),
            &[],
        )
        .unwrap();
        tx.commit().unwrap();
        assert_eq!(next.seq, 10);
        assert_eq!(pending(&conn), 1);
        super::forget_acks(&conn).unwrap();
        assert_eq!(pending(&conn), 5);
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        let now = super::now_rfc3339();
        assert!(now.ends_with('Z'), "{now}");
        assert!(chrono::DateTime::parse_from_rfc3339(&now).is_ok(), "{now}");
    }
}
