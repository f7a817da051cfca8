//! Every change to the domain tables (team, volunteer, citizen, session, attendance) goes through
//! here. A change, local or pulled from another device, is merged into the entity's field-level
//! state (`entity_state`, with `sotay_protocol::merge`), values that lost are logged in
//! `conflict`, and the typed tables are rewritten from the merged state. Local changes are also
//! appended to the outbox. The server's view of the team and its roster, which the server sends
//! with every pulled page rather than as records, is written by [`apply_roster`]. Callers run
//! these inside their own transaction, so a change and its outbox record commit together.
//! Bookkeeping that is not domain data (`meta`: clock, cursor, server) is written by `store.rs`.

use crate::error::CoreResult;
use crate::outbox::{self, now_rfc3339};
use crate::store::enum_str;
use crate::text;
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::Value;
use sotay_protocol::erasure;
use sotay_protocol::merge::{self, EntityState};
use sotay_protocol::{DeviceId, Entity, Hlc, Operation, OutboxRecord, Payload};

/// Records a change made on this laptop. `fields` names the payload fields it sets (empty: all).
pub(crate) fn record_local(
    tx: &Transaction<'_>,
    device: DeviceId,
    op: Operation,
    payload: &Payload,
    fields: &[&str],
) -> CoreResult<Hlc> {
    let record = outbox::append(tx, device, op, payload, fields)?;
    merge_and_project(tx, &record)?;
    Ok(record.hlc)
}

/// Records that this laptop forgets a citizen at their request (`sotay_protocol::erasure`).
pub(crate) fn record_forget(
    tx: &Transaction<'_>,
    device: DeviceId,
    citizen: &sotay_protocol::CitizenV1,
) -> CoreResult<()> {
    let full = Payload::Citizen(citizen.clone());
    let fields = erasure::forget_fields();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let record = outbox::append_json(
        tx,
        device,
        Operation::Upsert,
        (Entity::Citizen, full.entity_id(), full.version()),
        erasure::forget_payload(full.to_json()),
        &fields,
    )?;
    merge_and_project(tx, &record)
}

/// The record of a person merged into `into`: their personal data is erased (it now lives in
/// the kept record; a copy left here would survive the kept person's erasure), then they are
/// deleted by a tombstone that names `merged_into`, itself without personal data.
pub(crate) fn record_merged_away(
    tx: &Transaction<'_>,
    device: DeviceId,
    absorbed: &sotay_protocol::CitizenV1,
    into: sotay_protocol::CitizenId,
) -> CoreResult<()> {
    record_forget(tx, device, absorbed)?;
    let gone = Payload::Citizen(sotay_protocol::CitizenV1 {
        merged_into: Some(into),
        ..absorbed.clone()
    });
    let mut payload = gone.to_json();
    erasure::scrub(&mut payload);
    let record = outbox::append_json(
        tx,
        device,
        Operation::Delete,
        (Entity::Citizen, gone.entity_id(), gone.version()),
        payload,
        &["merged_into"],
    )?;
    merge_and_project(tx, &record)
}

/// The payload fields whose value differs from `before` to `after` (both the JSON of one
/// entity's payload): what an edit records as changed, so that concurrent edits of other fields
/// on other laptops are kept.
pub(crate) fn changed_fields<'a>(before: &Value, after: &'a Value) -> Vec<&'a str> {
    after
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(k, v)| before.get(k.as_str()) != Some(*v))
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// An entity's merged state, as this laptop holds it (None when it has none).
pub(crate) fn stored_state(
    conn: &rusqlite::Connection,
    entity: Entity,
    entity_id: &str,
) -> CoreResult<Option<EntityState>> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM entity_state WHERE entity = ?1 AND entity_id = ?2")?
        .query_row(params![entity.as_str(), entity_id], |r| r.get(0))
        .optional()?;
    Ok(state.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Whether the entity's merged state says the person was forgotten.
pub(crate) fn is_forgotten(conn: &rusqlite::Connection, citizen: &str) -> CoreResult<bool> {
    Ok(stored_state(conn, Entity::Citizen, citizen)?.is_some_and(|s| erasure::is_forgotten(&s)))
}

/// Erases a forgotten citizen's personal data from every copy this laptop holds besides the
/// merged state (which the merge already erased): its records in the outbox, sent or not, and
/// the values that lost merges. The search index drops the old name's terms for good
/// (`optimize` rewrites it without deleted entries), and `secure_delete` zeroes freed bytes.
fn scrub_forgotten(tx: &Transaction<'_>, citizen: &str) -> CoreResult<()> {
    // Counted so that a sync which read outbox records before this erasure reads them again
    // instead of sending what was just scrubbed (`Store::erasures`).
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
    )?
    .execute([crate::store::META_ERASURES])?;
    let rows: Vec<(i64, String)> = tx
        .prepare_cached(
            "SELECT seq, payload FROM outbox WHERE entity = 'citizen' AND entity_id = ?1",
        )?
        .query_map([citizen], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, payload) in rows {
        let Ok(mut payload) = serde_json::from_str::<Value>(&payload) else {
            continue;
        };
        if erasure::scrub(&mut payload) {
            tx.prepare_cached("UPDATE outbox SET payload = ?2 WHERE seq = ?1")?
                .execute(params![seq, payload.to_string()])?;
        }
    }
    for field in erasure::PERSONAL_FIELDS {
        tx.prepare_cached(
            "DELETE FROM conflict WHERE entity = 'citizen' AND entity_id = ?1 AND field = ?2",
        )?
        .execute(params![citizen, field])?;
    }
    tx.execute(
        "UPDATE quarantine SET reason = ?2, reason_en = ?3
         WHERE entity = 'citizen' AND entity_id = ?1",
        params![citizen, erasure::ERASED_REASON, erasure::ERASED_REASON_EN],
    )?;
    Ok(())
}

/// Applies a change recorded by another device of the team.
pub(crate) fn apply_remote(tx: &Transaction<'_>, record: &OutboxRecord) -> CoreResult<()> {
    outbox::observe(tx, record.hlc)?;
    merge_and_project(tx, record)
}

/// Writes the team and its roster as the server knows them. These are not records of any
/// device, so nothing goes to the outbox and no merged state changes; the team's own records,
/// when they arrive, merge as usual.
pub(crate) fn apply_roster(
    tx: &Transaction<'_>,
    team: &sotay_protocol::TeamV1,
    volunteers: &[sotay_protocol::VolunteerV1],
) -> CoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO team (id, name, organisation, province_code, commune_code, updated_hlc)
         VALUES (?1, ?2, ?3, ?4, ?5, '')
         ON CONFLICT (id) DO UPDATE SET name = excluded.name,
             organisation = excluded.organisation, province_code = excluded.province_code,
             commune_code = excluded.commune_code",
    )?
    .execute(params![
        team.id.to_string(),
        team.name,
        enum_str(&team.organisation),
        team.province_code,
        team.commune_code
    ])?;
    for v in volunteers {
        tx.prepare_cached(
            "INSERT INTO volunteer (id, team_id, name, updated_hlc) VALUES (?1, ?2, ?3, '')
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )?
        .execute(params![v.id.to_string(), v.team_id.to_string(), v.name])?;
    }
    Ok(())
}

/// Replaces a clock in an entity's merged state (a record restamped after a wrong clock): the
/// fields it set keep their values and now carry the corrected time.
pub(crate) fn restamp_state(
    tx: &Transaction<'_>,
    entity: &str,
    entity_id: &str,
    old: &str,
    new: &str,
) -> CoreResult<()> {
    let current: Option<String> = tx
        .query_row(
            "SELECT state FROM entity_state WHERE entity = ?1 AND entity_id = ?2",
            params![entity, entity_id],
            |r| r.get(0),
        )
        .optional()?;
    let (Some(state), Ok(old), Ok(new)) = (current, old.parse::<Hlc>(), new.parse::<Hlc>()) else {
        return Ok(());
    };
    let mut state: EntityState = serde_json::from_str(&state).unwrap_or_default();
    for clock in state.clocks.values_mut() {
        if *clock == old {
            *clock = new;
        }
    }
    tx.execute(
        "UPDATE entity_state SET state = ?3 WHERE entity = ?1 AND entity_id = ?2",
        params![
            entity,
            entity_id,
            serde_json::to_string(&state).expect("state serialises")
        ],
    )?;
    Ok(())
}

fn merge_and_project(tx: &Transaction<'_>, record: &OutboxRecord) -> CoreResult<()> {
    let entity = record.entity.as_str();
    let mut state = stored_state(tx, record.entity, &record.entity_id)?.unwrap_or_default();
    let was_forgotten = erasure::is_forgotten(&state);
    let lost = merge::apply(&mut state, record);
    tx.prepare_cached(
        "INSERT INTO entity_state (entity, entity_id, state) VALUES (?1, ?2, ?3)
         ON CONFLICT (entity, entity_id) DO UPDATE SET state = excluded.state",
    )?
    .execute(params![
        entity,
        record.entity_id,
        serde_json::to_string(&state).expect("state serialises")
    ])?;
    for l in lost {
        tx.prepare_cached(
            "INSERT INTO conflict (entity, entity_id, field, lost_value, lost_hlc, winner_hlc,
                                   recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            entity,
            record.entity_id,
            l.field,
            l.value.to_string(),
            l.hlc.to_string(),
            l.winner_hlc.to_string(),
            now_rfc3339()
        ])?;
    }
    project(tx, record.entity, &state)?;
    if !was_forgotten && erasure::is_forgotten(&state) {
        scrub_forgotten(tx, &record.entity_id)?;
    }
    Ok(())
}

/// Rewrites the typed rows of one entity from its merged state.
fn project(tx: &Transaction<'_>, entity: Entity, state: &EntityState) -> CoreResult<()> {
    // A partial state (only some fields of an entity never seen whole) waits for the rest.
    // The state may hold fields of any version's records; the current version reads them all.
    let Ok(payload) = Payload::decode(entity, Payload::current_version(entity), state.payload())
    else {
        return Ok(());
    };
    let hlc = state.latest().map(|h| h.to_string()).unwrap_or_default();
    let deleted = state.is_deleted();
    match payload {
        Payload::Team(t) => {
            tx.prepare_cached(
                "INSERT INTO team (id, name, organisation, province_code, commune_code, updated_hlc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                     organisation = excluded.organisation, province_code = excluded.province_code,
                     commune_code = excluded.commune_code, updated_hlc = excluded.updated_hlc",
            )?
            .execute(params![
                t.id.to_string(),
                t.name,
                enum_str(&t.organisation),
                t.province_code,
                t.commune_code,
                hlc
            ])?;
        }
        Payload::Volunteer(v) => {
            tx.prepare_cached(
                "INSERT INTO volunteer (id, team_id, name, updated_hlc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET team_id = excluded.team_id, name = excluded.name,
                     updated_hlc = excluded.updated_hlc",
            )?
            .execute(params![
                v.id.to_string(),
                v.team_id.to_string(),
                v.name,
                hlc
            ])?;
        }
        Payload::Citizen(c) => {
            let parts = text::split_name(&c.full_name);
            tx.prepare_cached(
                "INSERT INTO citizen (id, team_id, full_name, family_name, middle_name, given_name,
                     name_key, gender, birth_year, birth_date, village, village_key, commune_code,
                     phone, cccd, groups, consent_given, consent_date, consent_by, note, deleted,
                     updated_hlc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19, ?20, ?21, ?22)
                 ON CONFLICT (id) DO UPDATE SET team_id = excluded.team_id,
                     full_name = excluded.full_name, family_name = excluded.family_name,
                     middle_name = excluded.middle_name, given_name = excluded.given_name,
                     name_key = excluded.name_key, gender = excluded.gender,
                     birth_year = excluded.birth_year, birth_date = excluded.birth_date,
                     village = excluded.village, village_key = excluded.village_key,
                     commune_code = excluded.commune_code, phone = excluded.phone,
                     cccd = excluded.cccd, groups = excluded.groups,
                     consent_given = excluded.consent_given, consent_date = excluded.consent_date,
                     consent_by = excluded.consent_by, note = excluded.note,
                     deleted = excluded.deleted, updated_hlc = excluded.updated_hlc",
            )?
            .execute(params![
                c.id.to_string(),
                c.team_id.to_string(),
                c.full_name,
                parts.family,
                parts.middle,
                parts.given,
                text::fold(&c.full_name),
                enum_str(&c.gender),
                c.birth_year,
                c.birth_date,
                c.village,
                text::fold(&c.village),
                c.commune_code,
                c.phone,
                c.cccd,
                serde_json::to_string(&c.groups).expect("groups serialise"),
                c.consent.given,
                c.consent.date,
                c.consent.recorded_by,
                c.note,
                deleted,
                hlc,
            ])?;
        }
        Payload::Session(s) => {
            let id = s.id.to_string();
            tx.prepare_cached(
                "INSERT INTO session (id, team_id, date, time, place, village, commune_code,
                     volunteers, note, deleted, updated_hlc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO UPDATE SET team_id = excluded.team_id, date = excluded.date,
                     time = excluded.time, place = excluded.place, village = excluded.village,
                     commune_code = excluded.commune_code, volunteers = excluded.volunteers,
                     note = excluded.note, deleted = excluded.deleted,
                     updated_hlc = excluded.updated_hlc",
            )?
            .execute(params![
                id,
                s.team_id.to_string(),
                s.date,
                s.time,
                s.place,
                s.village,
                s.commune_code,
                serde_json::to_string(&s.volunteers).expect("IDs serialise"),
                s.note,
                deleted,
                hlc
            ])?;
            tx.prepare_cached("DELETE FROM session_skill WHERE session_id = ?1")?
                .execute([&id])?;
            for code in &s.skills {
                tx.prepare_cached(
                    "INSERT INTO session_skill (session_id, skill_code) VALUES (?1, ?2)",
                )?
                .execute(params![id, code])?;
            }
        }
        Payload::Attendance(a) => {
            let (session, citizen) = (a.session_id.to_string(), a.citizen_id.to_string());
            if deleted {
                tx.prepare_cached(
                    "DELETE FROM attendance WHERE session_id = ?1 AND citizen_id = ?2",
                )?
                .execute(params![session, citizen])?;
                return Ok(());
            }
            tx.prepare_cached(
                "INSERT INTO attendance (session_id, citizen_id, present, updated_hlc, outcomes)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (session_id, citizen_id) DO UPDATE SET present = excluded.present,
                     updated_hlc = excluded.updated_hlc, outcomes = excluded.outcomes",
            )?
            .execute(params![
                session,
                citizen,
                a.present,
                hlc,
                crate::report::outcomes_column(&a.outcomes)
            ])?;
            tx.prepare_cached("DELETE FROM outcome WHERE session_id = ?1 AND citizen_id = ?2")?
                .execute(params![session, citizen])?;
            for o in &a.outcomes {
                tx.prepare_cached(
                    "INSERT INTO outcome (session_id, citizen_id, skill_code, outcome,
                                          confirmed_by, confirmed_on)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    session,
                    citizen,
                    o.skill,
                    enum_str(&o.outcome),
                    o.confirmed_by,
                    o.confirmed_on
                ])?;
            }
        }
    }
    Ok(())
}
