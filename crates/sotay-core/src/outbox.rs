//! The outbox: every change to the store is appended here in the same transaction as the change,
//! with this device's next gap-free sequence number and hybrid-logical-clock timestamp. Sync reads
//! pending records in sequence order and marks them acknowledged; rows are never deleted, so the
//! sequence stays gap-free for the life of the file.

use crate::error::CoreResult;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sotay_protocol::{DeviceId, Entity, Hlc, Operation, OutboxRecord, Payload, RecordId};

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a current UTC time always formats")
}

/// Appends one change and returns its timestamp, which the caller stores on the changed row.
pub(crate) fn append(
    tx: &Transaction<'_>,
    device: DeviceId,
    op: Operation,
    payload: &Payload,
) -> CoreResult<Hlc> {
    let last: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = 'hlc'", [], |r| r.get(0))
        .optional()?;
    let last = last
        .and_then(|s| s.parse::<Hlc>().ok())
        .unwrap_or_else(|| Hlc::zero(device));
    let hlc = last.tick(now_millis());
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('hlc', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [hlc.to_string()],
    )?;
    let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox", [], |r| {
        r.get(0)
    })?;
    tx.execute(
        "INSERT INTO outbox (seq, record_id, device_id, hlc, entity, entity_id, op,
                             payload_version, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            seq,
            RecordId::new().to_string(),
            device.to_string(),
            hlc.to_string(),
            payload.entity().as_str(),
            payload.entity_id(),
            op.as_str(),
            payload.version(),
            payload.to_json().to_string(),
            now_rfc3339(),
        ],
    )?;
    Ok(hlc)
}

#[derive(Debug, Clone, Serialize)]
pub struct EntityCount {
    pub entity: String,
    pub pending: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxStatus {
    pub device_id: DeviceId,
    /// Highest sequence number written (0 when nothing was ever recorded).
    pub last_seq: u64,
    pub pending: u64,
    pub acknowledged: u64,
    pub pending_by_entity: Vec<EntityCount>,
}

pub(crate) fn status(conn: &Connection, device: DeviceId) -> CoreResult<OutboxStatus> {
    let (last_seq, pending, acknowledged) = conn.query_row(
        "SELECT COALESCE(MAX(seq), 0),
                COALESCE(SUM(acked_at IS NULL), 0),
                COALESCE(SUM(acked_at IS NOT NULL), 0)
         FROM outbox",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
    )?;
    let mut stmt = conn.prepare(
        "SELECT entity, COUNT(*) FROM outbox WHERE acked_at IS NULL GROUP BY entity ORDER BY entity",
    )?;
    let pending_by_entity = stmt
        .query_map([], |r| {
            Ok(EntityCount {
                entity: r.get(0)?,
                pending: r.get::<_, i64>(1)? as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(OutboxStatus {
        device_id: device,
        last_seq: last_seq as u64,
        pending: pending as u64,
        acknowledged: acknowledged as u64,
        pending_by_entity,
    })
}

/// Pending records after `after_seq`, oldest first, at most `limit`: the unit a sync batch reads,
/// so memory stays bounded however many records wait.
pub(crate) fn pending(
    conn: &Connection,
    after_seq: u64,
    limit: usize,
) -> CoreResult<Vec<OutboxRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record_id, device_id, seq, hlc, entity, entity_id, op, payload_version, payload
         FROM outbox WHERE acked_at IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_seq as i64, limit as i64], |r| {
        let text = |i: usize| r.get::<_, String>(i);
        let bad = |i: usize, e: String| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Text,
                e.into(),
            )
        };
        Ok(OutboxRecord {
            record_id: text(0)?.parse().map_err(|e: uuid::Error| bad(0, e.to_string()))?,
            device_id: text(1)?.parse().map_err(|e: uuid::Error| bad(1, e.to_string()))?,
            seq: r.get::<_, i64>(2)? as u64,
            hlc: text(3)?.parse().map_err(|e: sotay_protocol::HlcParseError| bad(3, e.to_string()))?,
            entity: Entity::parse(&text(4)?).ok_or_else(|| bad(4, "unknown entity".into()))?,
            entity_id: text(5)?,
            op: Operation::parse(&text(6)?).ok_or_else(|| bad(6, "unknown operation".into()))?,
            payload_version: r.get(7)?,
            payload: serde_json::from_str(&text(8)?).map_err(|e| bad(8, e.to_string()))?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
