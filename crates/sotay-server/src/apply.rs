//! What the server does with records, written once over [`Conn`]: authenticate a device, apply a
//! batch (idempotent, gap-checked, team-scoped, merged), and page a team's records back out.

use crate::db::{Conn, Val};
use crate::error::{ServerError, ServerResult};
use sotay_protocol::merge::{self, EntityState};
use sotay_protocol::sync::{
    DeviceStatus, OwnRecords, PullResponse, PushResponse, QuarantinedRecord,
};
use sotay_protocol::{
    DeviceId, Entity, Hlc, Operation, Organisation, OutboxRecord, Payload, RecordId, TeamId,
    TeamV1, VolunteerV1, MAX_CLOCK_AHEAD_MS,
};
use std::collections::HashMap;

pub(crate) fn now_millis() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}

pub(crate) fn now() -> String {
    rfc3339(chrono::Utc::now())
}

/// The one timestamp format the server stores: RFC 3339, UTC, microseconds, so that stored
/// times also compare correctly as text.
pub(crate) fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[derive(Debug, Clone)]
pub(crate) struct DeviceRow {
    pub id: DeviceId,
    pub team_id: TeamId,
}

fn parse<T: std::str::FromStr>(v: &Val, what: &str) -> ServerResult<T> {
    v.text()
        .parse()
        .map_err(|_| ServerError::Internal(format!("{what} hỏng trong CSDL")))
}

/// The device a bearer token belongs to; revoked devices are refused.
pub(crate) fn authenticate(conn: &mut dyn Conn, token_hash: &str) -> ServerResult<DeviceRow> {
    let row = conn
        .query_one(
            "SELECT id, team_id, revoked_at FROM devices WHERE token_hash = $1",
            &[token_hash.into()],
        )?
        .ok_or(ServerError::Unauthorized)?;
    if row[2] != Val::Null {
        return Err(ServerError::Revoked);
    }
    Ok(DeviceRow {
        id: parse(&row[0], "mã thiết bị")?,
        team_id: parse(&row[1], "mã đội")?,
    })
}

pub(crate) fn team(conn: &mut dyn Conn, id: TeamId) -> ServerResult<TeamV1> {
    let row = conn
        .query_one(
            "SELECT id, name, organisation, province_code, commune_code FROM teams WHERE id = $1",
            &[id.to_string().into()],
        )?
        .ok_or_else(|| ServerError::NotFound(format!("đội {id}")))?;
    let organisation: Organisation =
        serde_json::from_value(serde_json::Value::String(row[2].text()))
            .map_err(|_| ServerError::Internal("tổ chức hỏng trong CSDL".into()))?;
    Ok(TeamV1 {
        id: parse(&row[0], "mã đội")?,
        name: row[1].text(),
        organisation,
        province_code: row[3].text(),
        commune_code: row[4].text(),
    })
}

/// The highest sequence of this device the server holds: stored or set aside in quarantine.
fn acked_seq(conn: &mut dyn Conn, device: DeviceId) -> ServerResult<u64> {
    Ok(conn
        .query_one(
            "SELECT COALESCE(MAX(seq), 0) FROM (
                 SELECT seq FROM records WHERE device_id = $1
                 UNION ALL SELECT seq FROM quarantine WHERE device_id = $1) AS held",
            &[device.to_string().into()],
        )?
        .map_or(0, |r| r[0].int()) as u64)
}

/// What an attendance may refer to on the server: the team's stored entities, and those earlier
/// in the same batch.
struct TeamRefs<'a> {
    conn: &'a mut dyn Conn,
    team: TeamId,
    in_batch: &'a HashMap<String, TeamId>,
    citizens_in_batch: &'a std::collections::HashSet<String>,
}

impl TeamRefs<'_> {
    fn stored(&mut self, entity: &str, id: &str) -> bool {
        self.conn
            .query_one(
                "SELECT 1 FROM entities
                 WHERE entity = $1 AND entity_id = $2 AND team_id = $3 AND deleted = 0",
                &[entity.into(), id.into(), self.team.to_string().into()],
            )
            .ok()
            .flatten()
            .is_some()
    }
}

impl sotay_core::rules::AttendanceRefs for TeamRefs<'_> {
    fn citizen_known(&mut self, id: &str) -> bool {
        self.citizens_in_batch.contains(id) || self.stored("citizen", id)
    }

    fn session_known(&mut self, id: &str) -> bool {
        self.in_batch.get(id) == Some(&self.team) || self.stored("session", id)
    }
}

/// Sets a record aside: acknowledged, never merged or passed on; listed by `sotay server
/// quarantine`.
fn quarantine(
    conn: &mut dyn Conn,
    device: &DeviceRow,
    record: &OutboxRecord,
    problem: &sotay_core::rules::RecordProblem,
) -> ServerResult<QuarantinedRecord> {
    conn.exec(
        "INSERT INTO quarantine (team_id, device_id, seq, record_id, entity, entity_id, reason,
                                 reason_en, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            device.team_id.to_string().into(),
            device.id.to_string().into(),
            record.seq.into(),
            record.record_id.to_string().into(),
            record.entity.as_str().into(),
            record
                .entity_id
                .chars()
                .take(200)
                .collect::<String>()
                .into(),
            problem.reason.clone().into(),
            problem.reason_en.clone().into(),
            now().into(),
        ],
    )?;
    Ok(QuarantinedRecord {
        seq: record.seq,
        record_id: record.record_id,
        reason: problem.reason.clone(),
        reason_en: problem.reason_en.clone(),
    })
}

/// The record the server holds for this device at `seq` (stored or set aside).
fn record_id_at(conn: &mut dyn Conn, device: DeviceId, seq: u64) -> ServerResult<Option<RecordId>> {
    conn.query_one(
        "SELECT record_id FROM records WHERE device_id = $1 AND seq = $2
         UNION ALL SELECT record_id FROM quarantine WHERE device_id = $1 AND seq = $2",
        &[device.to_string().into(), seq.into()],
    )?
    .map(|r| parse(&r[0], "mã bản ghi"))
    .transpose()
}

pub(crate) fn status(conn: &mut dyn Conn, device: &DeviceRow) -> ServerResult<DeviceStatus> {
    let acked = acked_seq(conn, device.id)?;
    Ok(DeviceStatus {
        device_id: device.id,
        team: team(conn, device.team_id)?,
        acked_seq: acked,
        acked_record_id: record_id_at(conn, device.id, acked)?,
        server_time_ms: now_millis(),
    })
}

/// This device's own records with sequences in `(after, after + limit]`, as the server holds
/// them: what a laptop restored from an old copy needs to recover.
pub(crate) fn own_records(
    conn: &mut dyn Conn,
    device: &DeviceRow,
    after: u64,
    limit: u64,
) -> ServerResult<OwnRecords> {
    let last = after.saturating_add(limit);
    let rows = conn.query(
        "SELECT record_id, device_id, seq, hlc, entity, entity_id, op, fields, payload_version,
                payload
         FROM records WHERE device_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        &[device.id.to_string().into(), after.into(), last.into()],
    )?;
    let records = rows
        .iter()
        .map(|r| record_from_row(r))
        .collect::<ServerResult<Vec<_>>>()?;
    let set_aside = conn
        .query(
            "SELECT seq, record_id, reason, reason_en FROM quarantine
             WHERE device_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
            &[device.id.to_string().into(), after.into(), last.into()],
        )?
        .iter()
        .map(|r| {
            Ok(QuarantinedRecord {
                seq: r[0].int() as u64,
                record_id: parse(&r[1], "mã bản ghi")?,
                reason: r[2].text(),
                reason_en: r[3].text(),
            })
        })
        .collect::<ServerResult<Vec<_>>>()?;
    let acked = acked_seq(conn, device.id)?;
    Ok(OwnRecords {
        records,
        set_aside,
        next_after: last.min(acked),
        more: last < acked,
    })
}

/// The team a payload claims to belong to; for an attendance, the team of its session.
fn claimed_team(
    conn: &mut dyn Conn,
    payload: &Payload,
    sessions_in_batch: &HashMap<String, TeamId>,
) -> ServerResult<Option<TeamId>> {
    Ok(match payload {
        Payload::Team(t) => Some(t.id),
        Payload::Volunteer(v) => Some(v.team_id),
        Payload::Citizen(c) => Some(c.team_id),
        Payload::Session(s) => Some(s.team_id),
        Payload::Attendance(a) => {
            let id = a.session_id.to_string();
            match sessions_in_batch.get(&id) {
                Some(t) => Some(*t),
                None => conn
                    .query_one(
                        "SELECT team_id FROM entities WHERE entity = 'session' AND entity_id = $1",
                        &[id.into()],
                    )?
                    .map(|r| parse(&r[0], "mã đội"))
                    .transpose()?,
            }
        }
    })
}

/// Applies a batch of one device's records in the caller's transaction. Records the server
/// already holds are skipped; a gap, a record of another device, or any record outside the
/// device's team refuses the whole batch (the caller rolls back, nothing is written).
pub(crate) fn apply_batch(
    conn: &mut dyn Conn,
    device: &DeviceRow,
    records: &[OutboxRecord],
) -> ServerResult<PushResponse> {
    // Taking the team's row first serialises this team's pushes (PostgreSQL's row lock; SQLite
    // writes one at a time anyway): positions are handed out, and commit, in order.
    let mut position = conn
        .query_one(
            "UPDATE teams SET next_position = next_position WHERE id = $1 RETURNING next_position",
            &[device.team_id.to_string().into()],
        )?
        .map_or(0, |r| r[0].int());
    let mut acked = acked_seq(conn, device.id)?;
    let mut applied = 0;
    let mut duplicates = 0;
    let mut sessions_in_batch = HashMap::new();
    let mut citizens_in_batch = std::collections::HashSet::new();
    let mut quarantined = Vec::new();
    // A record stamped further ahead than the server's clock allows (a laptop whose clock ran
    // to another year) is kept, restamped to now, so it neither wins every later edit nor drags
    // teammates' clocks. Laptops of this version restamp before pushing; this catches others.
    let now_ms = now_millis();
    let mut restamp = Hlc::zero(device.id).tick(now_ms);
    let mut restamped;
    for record in records {
        if record.device_id != device.id {
            return Err(ServerError::Forbidden(format!(
                "bản ghi của thiết bị {} không được gửi bằng thiết bị {}",
                record.device_id, device.id
            )));
        }
        if record.seq <= acked {
            // The same sequence with another record: this laptop was restored from an old copy
            // and numbers new records again. Taking it as a duplicate would lose it silently.
            if record_id_at(conn, device.id, record.seq)?.is_some_and(|id| id != record.record_id) {
                return Err(ServerError::SequenceReused { seq: record.seq });
            }
            duplicates += 1;
            continue;
        }
        if record.seq != acked + 1 {
            return Err(ServerError::SequenceGap {
                expected: acked + 1,
            });
        }
        let record = if record.hlc.millis > now_ms.saturating_add(MAX_CLOCK_AHEAD_MS) {
            restamp = restamp.tick(now_ms);
            restamped = OutboxRecord {
                hlc: restamp,
                ..record.clone()
            };
            &restamped
        } else {
            record
        };
        // The laptop's own rules, checked again: a record that breaks them is set aside and
        // the batch goes on, so one bad record never stops the device or its teammates.
        let checked = sotay_core::rules::check_record(record).and_then(|payload| {
            if record.op == Operation::Delete {
                return Ok(());
            }
            let mut refs = TeamRefs {
                conn: &mut *conn,
                team: device.team_id,
                in_batch: &sessions_in_batch,
                citizens_in_batch: &citizens_in_batch,
            };
            sotay_core::rules::check_references(&payload, &mut refs)
        });
        if let Err(problem) = checked {
            quarantined.push(quarantine(conn, device, record, &problem)?);
            acked = record.seq;
            continue;
        }
        let payload = match record.op {
            Operation::Upsert if record.fields.is_empty() => Some(
                Payload::decode(
                    record.entity,
                    record.payload_version,
                    record.payload.clone(),
                )
                .map_err(|e| ServerError::BadRequest(e.to_string()))?,
            ),
            // A partial change or a delete names the entity only; its team is the stored one.
            _ => None,
        };
        let stored = conn.query_one(
            "SELECT team_id, state FROM entities WHERE entity = $1 AND entity_id = $2",
            &[
                record.entity.as_str().into(),
                record.entity_id.clone().into(),
            ],
        )?;
        // The device must own both what it claims and what is already stored under that ID.
        let owner: Option<TeamId> = stored
            .as_ref()
            .map(|row| parse(&row[0], "mã đội"))
            .transpose()?;
        let claimed = match &payload {
            Some(p) => claimed_team(conn, p, &sessions_in_batch)?,
            None => None,
        };
        let known = owner.is_some() || claimed.is_some();
        if !known
            || [owner, claimed]
                .into_iter()
                .flatten()
                .any(|t| t != device.team_id)
        {
            return Err(forbidden(record));
        }
        if let Some(Payload::Session(s)) = &payload {
            sessions_in_batch.insert(s.id.to_string(), s.team_id);
        }
        if record.entity == Entity::Citizen && record.op == Operation::Upsert {
            citizens_in_batch.insert(record.entity_id.clone());
        }
        position += 1;
        store_record(conn, device, record, position)?;
        let mut state: EntityState = stored
            .as_ref()
            .and_then(|r| serde_json::from_str(&r[1].text()).ok())
            .unwrap_or_default();
        let lost = merge::apply(&mut state, record);
        save_entity(
            conn,
            device.team_id,
            record.entity,
            &record.entity_id,
            &state,
        )?;
        for l in lost {
            conn.exec(
                "INSERT INTO conflicts (team_id, entity, entity_id, field, lost_value, lost_hlc,
                                        winner_hlc, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    device.team_id.to_string().into(),
                    record.entity.as_str().into(),
                    record.entity_id.clone().into(),
                    l.field.into(),
                    l.value.to_string().into(),
                    l.hlc.to_string().into(),
                    l.winner_hlc.to_string().into(),
                    now().into(),
                ],
            )?;
        }
        acked = record.seq;
        applied += 1;
    }
    conn.exec(
        "UPDATE teams SET next_position = $2 WHERE id = $1",
        &[device.team_id.to_string().into(), position.into()],
    )?;
    Ok(PushResponse {
        acked_seq: acked,
        applied,
        duplicates,
        quarantined,
    })
}

fn forbidden(record: &OutboxRecord) -> ServerError {
    ServerError::Forbidden(format!(
        "bản ghi số {} ({} {}) không thuộc đội của thiết bị này",
        record.seq,
        record.entity.as_str(),
        record.entity_id
    ))
}

fn store_record(
    conn: &mut dyn Conn,
    device: &DeviceRow,
    r: &OutboxRecord,
    team_position: i64,
) -> ServerResult<()> {
    conn.exec(
        "INSERT INTO records (device_id, seq, team_id, record_id, hlc, entity, entity_id, op,
                              fields, payload_version, payload, received_at, team_position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            device.id.to_string().into(),
            r.seq.into(),
            device.team_id.to_string().into(),
            r.record_id.to_string().into(),
            r.hlc.to_string().into(),
            r.entity.as_str().into(),
            r.entity_id.clone().into(),
            r.op.as_str().into(),
            serde_json::to_string(&r.fields)
                .expect("strings serialise")
                .into(),
            i64::from(r.payload_version).into(),
            r.payload.to_string().into(),
            now().into(),
            team_position.into(),
        ],
    )?;
    Ok(())
}

fn save_entity(
    conn: &mut dyn Conn,
    team: TeamId,
    entity: Entity,
    id: &str,
    state: &EntityState,
) -> ServerResult<()> {
    // Outcome counts are kept beside the state so statistics need no JSON functions, which
    // differ between SQLite and PostgreSQL.
    let (n_outcomes, n_achieved) = match state.fields.get("outcomes") {
        Some(serde_json::Value::Array(outcomes)) if entity == Entity::Attendance => (
            outcomes.len() as i64,
            outcomes
                .iter()
                .filter(|o| o.get("outcome") == Some(&serde_json::json!("achieved")))
                .count() as i64,
        ),
        _ => (0, 0),
    };
    conn.exec(
        "INSERT INTO entities (entity, entity_id, team_id, state, deleted, n_outcomes, n_achieved)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (entity, entity_id) DO UPDATE SET state = excluded.state,
             deleted = excluded.deleted, n_outcomes = excluded.n_outcomes,
             n_achieved = excluded.n_achieved",
        &[
            entity.as_str().into(),
            id.into(),
            team.to_string().into(),
            serde_json::to_string(state)
                .expect("state serialises")
                .into(),
            state.is_deleted().into(),
            n_outcomes.into(),
            n_achieved.into(),
        ],
    )?;
    Ok(())
}

fn record_from_row(row: &[Val]) -> ServerResult<OutboxRecord> {
    let entity = Entity::parse(&row[4].text())
        .ok_or_else(|| ServerError::Internal("loại bản ghi hỏng".into()))?;
    let op = Operation::parse(&row[6].text())
        .ok_or_else(|| ServerError::Internal("thao tác hỏng".into()))?;
    let bad = |_| ServerError::Internal("nội dung bản ghi hỏng".into());
    Ok(OutboxRecord {
        record_id: parse(&row[0], "mã bản ghi")?,
        device_id: parse(&row[1], "mã thiết bị")?,
        seq: row[2].int() as u64,
        hlc: parse(&row[3], "đồng hồ")?,
        entity,
        entity_id: row[5].text(),
        op,
        fields: serde_json::from_str(&row[7].text()).map_err(bad)?,
        payload_version: row[8].int() as u16,
        payload: serde_json::from_str(&row[9].text()).map_err(bad)?,
    })
}

/// Where a pull resumes. Laptops of this version send the team position they reached; an older
/// laptop sends the server-wide sequence it used before positions existed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PullFrom {
    Position(u64),
    LegacyCursor(u64),
}

/// Records of the device's team written by its other devices, after where it stopped.
pub(crate) fn pull(
    conn: &mut dyn Conn,
    device: &DeviceRow,
    from: PullFrom,
    limit: u64,
    catalogue: Option<serde_json::Value>,
) -> ServerResult<PullResponse> {
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
    let rows = conn.query(
        sql,
        &[
            device.team_id.to_string().into(),
            cursor.into(),
            device.id.to_string().into(),
            limit.into(),
        ],
    )?;
    let records = rows
        .iter()
        .map(|r| record_from_row(r))
        .collect::<ServerResult<Vec<_>>>()?;
    let next_cursor = rows.last().map_or(cursor, |r| r[10].int() as u64);
    let volunteers = conn
        .query(
            "SELECT state FROM entities WHERE team_id = $1 AND entity = 'volunteer' AND deleted = 0",
            &[device.team_id.to_string().into()],
        )?
        .iter()
        .filter_map(|r| serde_json::from_str::<EntityState>(&r[0].text()).ok())
        .filter_map(|s| serde_json::from_value::<VolunteerV1>(s.payload()).ok())
        .collect();
    Ok(PullResponse {
        more: records.len() as u64 == limit,
        records,
        next_cursor,
        team: team(conn, device.team_id)?,
        volunteers,
        catalogue,
    })
}
