//! What the server decides about a pushed batch, apart from any database: given what the engine
//! loaded (the device's acknowledged sequence, the team's position, the stored state of every
//! entity the batch touches or refers to), [`plan_batch`] checks each record (device, sequence,
//! team scope, the laptop's own rules, clock drift), merges it, and returns every row to write.
//! Each engine loads and writes in the way it does best; the rules live once, here.

use crate::error::{ServerError, ServerResult};
use sotay_core::rules::{
    check_full_upsert_text, check_record_serialised, check_references, AttendanceRefs,
    RecordProblem,
};
use sotay_protocol::erasure;
use sotay_protocol::merge::{self, EntityState, LostValue};
use sotay_protocol::sync::{PushResponse, QuarantinedRecord};
use sotay_protocol::{
    DeviceId, Entity, Hlc, Operation, OutboxRecord, Outcome, OutgoingRecord, Payload, RecordId,
    TeamId, MAX_CLOCK_AHEAD_MS,
};
use std::collections::HashMap;

pub(crate) fn now_millis() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}

/// The one text timestamp format SQLite stores: RFC 3339, UTC, microseconds, so that stored
/// times also compare correctly as text.
pub(crate) fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRow {
    pub id: DeviceId,
    pub team_id: TeamId,
}

/// An entity as the server holds it.
#[derive(Debug, Clone)]
pub(crate) struct StoredEntity {
    pub team_id: TeamId,
    pub state: EntityState,
}

pub(crate) type EntityKey = (Entity, String);

/// What an engine loads, inside the push's transaction, before planning it.
#[derive(Debug, Default)]
pub(crate) struct BatchContext {
    /// The highest sequence of this device the server holds (stored or set aside).
    pub acked: u64,
    /// The team's last handed-out position, read under the team's row lock.
    pub position: i64,
    /// The record held at each already acknowledged sequence the batch repeats.
    pub held: HashMap<u64, RecordId>,
    /// Every entity of [`touched_keys`] the server holds.
    pub stored: HashMap<EntityKey, StoredEntity>,
    /// Every entity of [`referenced_keys`] the server holds: its team, and whether deleted (a
    /// person merged into another is not: what a laptop records for them later counts as the
    /// kept person's).
    pub refs: HashMap<EntityKey, (TeamId, bool)>,
}

/// The sequences of the batch the server already holds: their record IDs tell a resent record
/// from a laptop restored from an old copy.
pub(crate) fn seqs_to_check(records: &[OutgoingRecord], acked: u64) -> Vec<u64> {
    records
        .iter()
        .map(|r| r.seq)
        .filter(|&s| s <= acked)
        .collect()
}

/// The entities a batch changes: their whole state is merged. An ID with a NUL is never stored
/// (such a record is set aside) and could not even be looked up in PostgreSQL.
pub(crate) fn touched_keys(records: &[OutgoingRecord]) -> Vec<EntityKey> {
    let mut keys: Vec<EntityKey> = records
        .iter()
        .filter(|r| !r.entity_id.contains('\0'))
        .map(|r| (r.entity, r.entity_id.clone()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The sessions and citizens the batch's attendances refer to, apart from those it changes
/// (`touched`, sorted): only whether they are the team's and alive is needed.
pub(crate) fn referenced_keys(records: &[OutgoingRecord], touched: &[EntityKey]) -> Vec<EntityKey> {
    /// The two fields of an attendance's payload that name what it refers to.
    #[derive(serde::Deserialize)]
    struct Refers {
        session_id: Option<serde_json::Value>,
        citizen_id: Option<serde_json::Value>,
    }
    let mut keys = Vec::new();
    for r in records.iter().filter(|r| r.entity == Entity::Attendance) {
        // A payload that does not read is set aside by its own rules: it refers to nothing.
        let Ok(refers) = serde_json::from_str::<Refers>(r.payload.get()) else {
            continue;
        };
        for (named, entity) in [
            (refers.session_id, Entity::Session),
            (refers.citizen_id, Entity::Citizen),
        ] {
            if let Some(id) = named
                .as_ref()
                .and_then(|v| v.as_str())
                .filter(|id| !id.contains('\0'))
            {
                // Stored under the canonical form the payload decodes to (any case, braces…).
                let id = match id.parse::<uuid::Uuid>() {
                    Ok(u) => u
                        .hyphenated()
                        .encode_lower(&mut uuid::Uuid::encode_buffer())
                        .to_owned(),
                    Err(_) => id.to_owned(),
                };
                let key = (entity, id);
                if touched.binary_search(&key).is_err() {
                    keys.push(key);
                }
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// `keys` grouped by kind, in order of first appearance: the engines look each kind's IDs up in
/// one statement, an array of IDs probed against the primary key.
pub(crate) fn keys_by_kind(keys: &[EntityKey]) -> Vec<(Entity, Vec<&str>)> {
    let mut groups: Vec<(Entity, Vec<&str>)> = Vec::new();
    for (entity, id) in keys {
        match groups.iter_mut().find(|(e, _)| e == entity) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((*entity, vec![id])),
        }
    }
    groups
}

/// A value that lost a merge, to keep for review.
#[derive(Debug, Clone)]
pub(crate) struct Conflict {
    pub entity: Entity,
    pub entity_id: String,
    pub lost: LostValue,
}

/// A record to store: its payload is `payload_json`, the text it came as (and was checked as).
#[derive(Debug)]
pub(crate) struct StoredRecord {
    pub record: OutboxRecord<()>,
    pub payload_json: String,
    pub position: i64,
}

/// An entity's row as the batch leaves it.
#[derive(Debug)]
pub(crate) struct EntityRow {
    pub key: EntityKey,
    pub team_id: TeamId,
    /// The merged state in its stored form ([`state_to_json`]), or `None` when the state is
    /// exactly what `source_record` left in a new entity ([`state_of_lone_upsert`]).
    pub state_json: Option<String>,
    pub source_record: Option<RecordId>,
    pub deleted: bool,
    pub n_outcomes: i64,
    pub n_achieved: i64,
    /// Whether the server held it before this batch: then it is updated, else inserted.
    pub existed: bool,
}

/// Runs `work` on each item on every core, keeping the order: each item is independent of the
/// others (a record's own rules, a state's JSON), and a batch of 5,000 splits evenly. A small
/// batch stays on this thread.
fn on_every_core<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() < 512 {
        return items.iter().map(&work).collect();
    }
    // Asked once: the answer reads the cgroup's files each time (a hundred times a sync cost
    // the planner 7 ms in a profile).
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores =
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)));
    if cores < 2 {
        return items.iter().map(&work).collect();
    }
    let work = &work;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(items.len().div_ceil(cores))
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<R>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().expect("checks and serialisation do not panic"))
            .collect()
    })
}

/// Every row a batch writes.
#[derive(Debug, Default)]
pub(crate) struct BatchPlan {
    /// Records to store, each with its team position.
    pub records: Vec<StoredRecord>,
    /// Records set aside, with why.
    pub quarantined: Vec<(OutgoingRecord, RecordProblem)>,
    /// The final state of every entity the batch changed, ready to write.
    pub entities: Vec<EntityRow>,
    pub conflicts: Vec<Conflict>,
    /// Citizens this batch forgets: every copy of their personal data the server already holds
    /// (earlier records, conflicts) is to be scrubbed. This batch's own rows already are.
    pub forgotten: Vec<String>,
    /// The team's last position after this batch.
    pub position: i64,
    pub response: PushResponse,
}

/// An entity as the batch holds it while deciding.
struct Held {
    team_id: TeamId,
    state: HeldState,
    /// Whether the server held it before this batch: its row is then updated, not inserted.
    existed: bool,
    changed: Changed,
}

/// What the batch has done to an entity so far.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Changed {
    /// Nothing: held for the batch's lookups.
    No,
    /// Made by one record, a full upsert of an entity the server did not hold: its state is
    /// that record's payload, and is not stored twice.
    ByLoneUpsert(RecordId, Hlc),
    /// Anything else.
    Otherwise,
}

enum HeldState {
    /// Loaded or merged: its fields and their clocks.
    Merged(EntityState),
    /// Made in this batch by one full upsert, and touched by nothing else yet: its state is that
    /// payload at that clock ([`lone_state`]), read from the text only if something else
    /// touches it (most of a first sync never is).
    Lone {
        /// The text, kept only when a later record of the batch touches the entity (to be
        /// merged into): for any other, the record written is all there is to it.
        payload_json: Option<String>,
        hlc: Hlc,
        /// [`outcome_counts`] of that state.
        outcomes: (i64, i64),
    },
}

impl Held {
    /// Deleted, and not merged into another person.
    fn gone(&self) -> bool {
        match &self.state {
            HeldState::Merged(state) => gone(state),
            HeldState::Lone { .. } => false,
        }
    }

    fn forgotten(&self) -> bool {
        match &self.state {
            HeldState::Merged(state) => erasure::is_forgotten(state),
            // Its payload has no field of the merge's own (`_forgotten` is one).
            HeldState::Lone { .. } => false,
        }
    }

    /// The merged state, read from the lone upsert's text first if need be.
    fn merged(&mut self) -> ServerResult<&mut EntityState> {
        if let HeldState::Lone {
            payload_json, hlc, ..
        } = &self.state
        {
            let text = payload_json.as_deref().ok_or_else(|| {
                ServerError::Internal("bản ghi tạo mới không được giữ lại để gộp".into())
            })?;
            self.state = HeldState::Merged(lone_state(text, *hlc)?);
        }
        match &mut self.state {
            HeldState::Merged(state) => Ok(state),
            HeldState::Lone { .. } => unreachable!("just merged"),
        }
    }
}

/// Attendance references, answered from the entities as they stand at this point of the batch.
struct TeamRefs<'a> {
    team: TeamId,
    entities: &'a HashMap<EntityKey, Held>,
    refs: &'a HashMap<EntityKey, (TeamId, bool)>,
}

impl TeamRefs<'_> {
    fn live(&self, entity: Entity, id: &str) -> bool {
        let key = (entity, id.to_owned());
        match self.entities.get(&key) {
            Some(e) => e.team_id == self.team && !e.gone(),
            None => self
                .refs
                .get(&key)
                .is_some_and(|(team, deleted)| *team == self.team && !deleted),
        }
    }
}

/// Deleted, and not merged into another person.
fn gone(state: &EntityState) -> bool {
    state.is_deleted() && !state.fields.contains_key("merged_into")
}

impl AttendanceRefs for TeamRefs<'_> {
    fn citizen_known(&mut self, id: &str) -> bool {
        self.live(Entity::Citizen, id)
    }

    fn session_known(&mut self, id: &str) -> bool {
        self.live(Entity::Session, id)
    }
}

/// The team a full payload claims to belong to; for an attendance, the team of its session.
fn claimed_team(payload: &Payload, refs: &TeamRefs) -> Option<TeamId> {
    match payload {
        Payload::Team(t) => Some(t.id),
        Payload::Volunteer(v) => Some(v.team_id),
        Payload::Citizen(c) => Some(c.team_id),
        Payload::Session(s) => Some(s.team_id),
        Payload::Attendance(a) => {
            let key = (Entity::Session, a.session_id.to_string());
            match refs.entities.get(&key) {
                Some(s) => Some(s.team_id),
                None => refs.refs.get(&key).map(|(team, _)| *team),
            }
        }
    }
}

fn forbidden<P>(record: &OutboxRecord<P>) -> ServerError {
    ServerError::Forbidden(format!(
        "bản ghi số {} ({} {}) không thuộc đội của thiết bị này",
        record.seq,
        record.entity.as_str(),
        record.entity_id
    ))
}

/// A record's metadata, and its payload's text (moved, not copied).
fn split_payload(record: OutgoingRecord) -> (OutboxRecord<()>, String) {
    let mut text = String::new();
    let record = record.map_payload(|payload| text = Box::<str>::from(payload).into_string());
    (record, text)
}

/// Rows to write are handed to the engine this many at a time while the rest are decided.
pub(crate) const WRITE_CHUNK: usize = 512;

/// Rows of a batch, handed to the engine as they are decided.
#[derive(Debug)]
pub(crate) enum Decided {
    Records(Vec<StoredRecord>),
    Entities(Vec<EntityRow>),
}

/// A batch of one device's records on its way to the store. A batch that waited for its turn
/// had its records' own rules checked while it waited ([`Batch::checked`]), on a core the batch
/// before it left free; any other is checked by the store, beside its first lookups.
pub struct Batch {
    pub(crate) records: Vec<OutgoingRecord>,
    pub(crate) checks: Option<Vec<Checked>>,
}

impl From<Vec<OutgoingRecord>> for Batch {
    fn from(records: Vec<OutgoingRecord>) -> Self {
        Self {
            records,
            checks: None,
        }
    }
}

impl Batch {
    /// `records` with their own rules checked now ([`check_batch`]).
    pub(crate) fn checked(records: Vec<OutgoingRecord>) -> Self {
        let checks = check_batch(&records);
        Self {
            records,
            checks: Some(checks),
        }
    }

    /// The records, and each one's check (made now if it was not made before).
    pub(crate) fn into_checked(self) -> (Vec<OutgoingRecord>, Vec<Checked>) {
        let checks = self.checks.unwrap_or_else(|| check_batch(&self.records));
        (self.records, checks)
    }
}

/// A record's own rules, checked: its payload, or why it is set aside; and the payload as a tree
/// of values for the merge, unless the record is one [`kept_as_text`].
pub(crate) struct Checked {
    own_rules: Result<Payload, RecordProblem>,
    values: Option<serde_json::Value>,
}

/// Whether a record is a full upsert whose payload can have no field of the merge's own (`_…`:
/// a key starting with `_` is written `"_` or escaped with `\u`): checked straight from its
/// text, and a new entity it makes keeps that text as its state ([`HeldState::Lone`]).
fn kept_as_text(record: &OutgoingRecord) -> bool {
    let text = record.payload.get();
    record.op == Operation::Upsert
        && record.fields.is_empty()
        && text.starts_with('{')
        && !text.contains("\"_")
        && !text.contains("\\u")
}

/// Each record's own rules, for the whole batch on every core. Nothing here depends on the
/// database, so an engine runs it while it loads what the batch touches.
pub(crate) fn check_batch(records: &[OutgoingRecord]) -> Vec<Checked> {
    on_every_core(records, |record| {
        let text = record.payload.get();
        if kept_as_text(record) {
            return Checked {
                own_rules: check_full_upsert_text(record, text),
                values: None,
            };
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(values) => {
                let record = record.clone().map_payload(|_| values);
                Checked {
                    own_rules: check_record_serialised(&record, text),
                    values: Some(record.payload),
                }
            }
            Err(e) => Checked {
                own_rules: Err(RecordProblem {
                    reason: format!("nội dung không đọc được: {e}"),
                    reason_en: format!("the payload does not read: {e}"),
                }),
                values: None,
            },
        }
    })
}

/// Whether a record may forget someone: its payload names `_forgotten`, or hides a name in an
/// escape. (A forget in the batch makes it go to the engine whole, once scrubbed.)
fn may_forget(record: &OutgoingRecord) -> bool {
    let text = record.payload.get();
    text.contains(erasure::FORGOTTEN_FIELD) || text.contains("\\u")
}

/// [`outcome_counts`] of the state a full upsert of `payload` makes.
fn outcomes_of(payload: &Payload) -> (i64, i64) {
    match payload {
        Payload::Attendance(a) => (
            a.outcomes.len() as i64,
            a.outcomes
                .iter()
                .filter(|o| o.outcome == Outcome::Achieved)
                .count() as i64,
        ),
        _ => (0, 0),
    }
}

/// Decides a batch of one device's records, given each record's [`check_batch`]. Records the
/// server already holds are skipped; a record that breaks the rules is set aside and the batch
/// goes on; a gap, a reused sequence, a record of another device, or any record outside the
/// device's team refuses the whole batch (the engine rolls back, nothing is written).
///
/// Records already decided go to `write` in parts of [`WRITE_CHUNK`] while the rest are
/// decided, then the entities' final rows, so the engine writes one part while the next is
/// planned (the two take about as long); the returned plan holds the rows not handed over. A
/// batch that touches a forgotten person, or forgets one, is handed over only whole, once
/// decided: its records are scrubbed before any is written, so that person's data never reaches
/// the database to be erased later.
pub(crate) fn plan_batch(
    context: BatchContext,
    device: &DeviceRow,
    records: Vec<OutgoingRecord>,
    checks: Vec<Checked>,
    now_ms: u64,
    write: &mut dyn FnMut(Decided),
) -> ServerResult<BatchPlan> {
    assert_eq!(records.len(), checks.len(), "every record checked");
    let BatchContext {
        mut acked,
        mut position,
        held,
        stored,
        refs,
    } = context;
    let forgotten_before: std::collections::HashSet<EntityKey> = stored
        .iter()
        .filter(|(_, e)| erasure::is_forgotten(&e.state))
        .map(|(key, _)| key.clone())
        .collect();
    // Sized for the batch up front: grown as records came, these tables rehashed every key
    // several times a batch, into fresh pages (a tenth of this function's time in a profile).
    let mut entities: HashMap<EntityKey, Held> =
        HashMap::with_capacity(stored.len() + records.len());
    entities.extend(stored.into_iter().map(|(key, e)| {
        let held = Held {
            team_id: e.team_id,
            state: HeldState::Merged(e.state),
            existed: true,
            changed: Changed::No,
        };
        (key, held)
    }));
    // The records this batch takes, in order: the sequence after `acked` first.
    let acked_before = acked;
    let mut taken: Vec<RecordId> = Vec::with_capacity(records.len());
    let mut plan = BatchPlan::default();
    // A record stamped further ahead than the server's clock allows (a laptop whose clock ran
    // to another year) is kept, restamped to now, so it neither wins every later edit nor drags
    // teammates' clocks. Laptops of this version restamp before pushing; this catches others.
    let mut restamp = Hlc::zero(device.id).tick(now_ms);
    // Each record's own rules were checked for the whole batch at once; what depends on the
    // records before it (references, ownership, the merge) is decided here, in order.
    let mut any_forgotten = !forgotten_before.is_empty();
    let streamed = !any_forgotten && !records.iter().any(may_forget);
    let mut handed_over = 0;
    // Sized at once: grown a record at a time, each part was copied ten times over.
    let first_part = if streamed {
        WRITE_CHUNK.min(records.len())
    } else {
        records.len()
    };
    plan.records.reserve(first_part);
    // Only these keep a lone upsert's text beside its record ([`HeldState::Lone`]): nearly
    // every entity of a first sync is touched once, and copying each payload cost the planner
    // a tenth of its time.
    let touched_again: std::collections::HashSet<EntityKey> = {
        let mut seen = std::collections::HashSet::with_capacity(records.len());
        records
            .iter()
            .filter(|r| !seen.insert((r.entity, r.entity_id.as_str())))
            .map(|r| (r.entity, r.entity_id.clone()))
            .collect()
    };
    for (mut record, Checked { own_rules, values }) in records.into_iter().zip(checks) {
        if record.device_id != device.id {
            return Err(ServerError::Forbidden(format!(
                "bản ghi của thiết bị {} không được gửi bằng thiết bị {}",
                record.device_id, device.id
            )));
        }
        if record.seq <= acked {
            // The same sequence with another record: this laptop was restored from an old copy
            // and numbers new records again. Taking it as a duplicate would lose it silently.
            let held_id = match record.seq.checked_sub(acked_before.saturating_add(1)) {
                Some(nth) => taken.get(nth as usize),
                None => held.get(&record.seq),
            };
            if held_id.is_some_and(|id| *id != record.record_id) {
                return Err(ServerError::SequenceReused { seq: record.seq });
            }
            plan.response.duplicates += 1;
            continue;
        }
        if record.seq != acked + 1 {
            return Err(ServerError::SequenceGap {
                expected: acked + 1,
            });
        }
        acked = record.seq;
        taken.push(record.record_id);
        if record.hlc.millis > now_ms.saturating_add(MAX_CLOCK_AHEAD_MS) {
            restamp = restamp.tick(now_ms);
            record.hlc = restamp;
        }
        // The laptop's own rules, checked again: a record that breaks them is set aside and
        // the batch goes on, so one bad record never stops the device or its teammates.
        let mut known = TeamRefs {
            team: device.team_id,
            entities: &entities,
            refs: &refs,
        };
        let checked = own_rules.and_then(|payload| {
            if record.op != Operation::Delete {
                check_references(&payload, &mut known)?;
            }
            Ok(payload)
        });
        let payload = match checked {
            Ok(payload) => payload,
            Err(mut problem) => {
                // A reason may quote a value; a forgotten person's is not kept even there.
                let key = (record.entity, record.entity_id.clone());
                if entities.get(&key).is_some_and(Held::forgotten) {
                    problem.reason = erasure::ERASED_REASON.into();
                    problem.reason_en = erasure::ERASED_REASON_EN.into();
                }
                plan.quarantined.push((record, problem));
                continue;
            }
        };
        let key = (record.entity, record.entity_id.clone());
        // The device must own both what it claims and what is already stored under that ID. A
        // partial change or a delete names the entity only; its team is the stored one.
        let owner = entities.get(&key).map(|e| e.team_id);
        let claimed = (record.op == Operation::Upsert && record.fields.is_empty())
            .then(|| claimed_team(&payload, &known))
            .flatten();
        if (owner.is_none() && claimed.is_none())
            || [owner, claimed]
                .into_iter()
                .flatten()
                .any(|t| t != device.team_id)
        {
            return Err(forbidden(&record));
        }
        let plain_upsert = record.op == Operation::Upsert
            && record.fields.is_empty()
            // (Kept as text only when no field can be the merge's own.)
            && values.as_ref().is_none_or(|v| {
                v.as_object()
                    .is_some_and(|p| !p.keys().any(|k| k.starts_with('_')))
            });
        let (record, payload_json) = split_payload(record);
        let entity = match entities.entry(key) {
            // Nothing to merge with, nothing to decode: the state is the payload's text.
            std::collections::hash_map::Entry::Vacant(slot) if values.is_none() => {
                let kept = touched_again
                    .contains(slot.key())
                    .then(|| payload_json.clone());
                slot.insert(Held {
                    team_id: device.team_id,
                    state: HeldState::Lone {
                        payload_json: kept,
                        hlc: record.hlc,
                        outcomes: outcomes_of(&payload),
                    },
                    existed: false,
                    changed: Changed::No,
                })
            }
            slot => {
                let entity = slot.or_insert_with(|| Held {
                    team_id: device.team_id,
                    state: HeldState::Merged(EntityState::default()),
                    existed: false,
                    changed: Changed::No,
                });
                let values = match values {
                    Some(values) => values,
                    // Read whole when it was checked (`Payload::decode_text`).
                    None => serde_json::from_str(&payload_json).map_err(|_| {
                        ServerError::Internal("nội dung đã kiểm tra không đọc lại được".into())
                    })?,
                };
                let state = entity.merged()?;
                let payload = match values {
                    // Nothing to merge with: the state is the payload.
                    serde_json::Value::Object(fields)
                        if plain_upsert && state.fields.is_empty() && state.clocks.is_empty() =>
                    {
                        match merge::created(fields, record.hlc) {
                            Ok(created) => {
                                *state = created;
                                None
                            }
                            Err(fields) => Some(serde_json::Value::Object(fields)),
                        }
                    }
                    other => Some(other),
                };
                for lost in payload.into_iter().flat_map(|payload| {
                    merge::apply_owned(state, record.op, &record.fields, record.hlc, payload)
                }) {
                    plan.conflicts.push(Conflict {
                        entity: record.entity,
                        entity_id: record.entity_id.clone(),
                        lost,
                    });
                }
                any_forgotten |= erasure::is_forgotten(state);
                entity
            }
        };
        entity.changed = match entity.changed {
            Changed::No if plain_upsert && !entity.existed => {
                Changed::ByLoneUpsert(record.record_id, record.hlc)
            }
            _ => Changed::Otherwise,
        };
        position += 1;
        plan.records.push(StoredRecord {
            record,
            payload_json,
            position,
        });
        if streamed && plan.records.len() == WRITE_CHUNK {
            handed_over += WRITE_CHUNK;
            let next = Vec::with_capacity(WRITE_CHUNK);
            write(Decided::Records(std::mem::replace(&mut plan.records, next)));
        }
    }
    // Taken out of the table rather than looked up in it again, and written in key order.
    let mut changed: Vec<(EntityKey, Held)> = entities
        .into_iter()
        .filter(|(_, e)| e.changed != Changed::No)
        .collect();
    changed.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    // A forgotten person's personal data is stored nowhere: not in this batch's records (an edit
    // made before the laptop heard of the forget), nor in its conflicts.
    for (key, _) in changed
        .iter()
        .filter(|(_, e)| any_forgotten && e.forgotten())
    {
        for stored in plan
            .records
            .iter_mut()
            .filter(|r| r.record.entity == key.0 && r.record.entity_id == key.1)
        {
            if let Ok(mut payload) = serde_json::from_str::<serde_json::Value>(&stored.payload_json)
            {
                if erasure::scrub(&mut payload) {
                    stored.payload_json = payload.to_string();
                }
            }
        }
        plan.conflicts.retain(|c| {
            !(c.entity == key.0 && c.entity_id == key.1 && erasure::is_personal(&c.lost.field))
        });
        if !forgotten_before.contains(key) {
            plan.forgotten.push(key.1.clone());
        }
    }
    if streamed && !plan.records.is_empty() {
        handed_over += plan.records.len();
        write(Decided::Records(std::mem::take(&mut plan.records)));
    }
    let mut changed = changed.into_iter();
    loop {
        let mut finals: Vec<(EntityKey, Held, Option<RecordId>)> =
            Vec::with_capacity(WRITE_CHUNK.min(changed.len()));
        for (key, mut entity) in changed.by_ref().take(WRITE_CHUNK) {
            let source = match (entity.changed, &entity.state) {
                (Changed::ByLoneUpsert(record, _), HeldState::Lone { .. }) => Some(record),
                (Changed::ByLoneUpsert(record, hlc), HeldState::Merged(state))
                    if left_by_lone_upsert(state, hlc) =>
                {
                    Some(record)
                }
                _ => None,
            };
            if source.is_none() {
                entity.merged()?;
            }
            finals.push((key, entity, source));
        }
        if finals.is_empty() {
            break;
        }
        // Only merged states are written out: a part of a first sync has next to none, and is
        // not worth a thread.
        let merged: Vec<(usize, &EntityState)> = finals
            .iter()
            .enumerate()
            .filter_map(|(i, (_, e, source))| match &e.state {
                HeldState::Merged(state) if source.is_none() => Some((i, state)),
                _ => None,
            })
            .collect();
        let mut state_json: Vec<Option<String>> = vec![None; finals.len()];
        for ((i, _), json) in merged
            .iter()
            .zip(on_every_core(&merged, |(_, state)| state_to_json(state)))
        {
            state_json[*i] = Some(json);
        }
        let rows: Vec<EntityRow> = finals
            .into_iter()
            .zip(state_json)
            .map(|((key, e, source_record), state_json)| {
                let (deleted, (n_outcomes, n_achieved)) = match &e.state {
                    HeldState::Merged(state) => (state.is_deleted(), outcome_counts(key.0, state)),
                    HeldState::Lone { outcomes, .. } => (false, *outcomes),
                };
                EntityRow {
                    existed: e.existed,
                    deleted,
                    key,
                    team_id: e.team_id,
                    state_json,
                    source_record,
                    n_outcomes,
                    n_achieved,
                }
            })
            .collect();
        if streamed {
            write(Decided::Entities(rows));
        } else {
            plan.entities.extend(rows);
        }
    }
    plan.position = position;
    plan.response.acked_seq = acked;
    plan.response.applied = (handed_over + plan.records.len()) as u64;
    plan.response.quarantined = plan
        .quarantined
        .iter()
        .map(|(record, problem)| QuarantinedRecord {
            seq: record.seq,
            record_id: record.record_id,
            reason: problem.reason.clone(),
            reason_en: problem.reason_en.clone(),
        })
        .collect();
    Ok(plan)
}

/// The merged state as the server stores it: the clock most fields share once, and only the
/// clocks that differ. A state made by one record (most of them) carries one clock instead of
/// one per field: about a third of the bytes. States stored in full (before this form) read
/// the same way.
#[derive(serde::Serialize)]
struct StateOut<'a> {
    fields: &'a serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clock: Option<Hlc>,
    clocks: std::collections::BTreeMap<&'a str, Hlc>,
}

#[derive(serde::Deserialize)]
struct StateIn {
    fields: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    clock: Option<Hlc>,
    #[serde(default)]
    clocks: std::collections::BTreeMap<String, Hlc>,
}

fn compact(state: &EntityState) -> StateOut<'_> {
    let mut counts: Vec<(Hlc, usize)> = Vec::new();
    for clock in state.clocks.values() {
        match counts.iter_mut().find(|(c, _)| c == clock) {
            Some((_, n)) => *n += 1,
            None => counts.push((*clock, 1)),
        }
    }
    let clock = counts.iter().max_by_key(|(_, n)| *n).map(|(c, _)| *c);
    StateOut {
        fields: &state.fields,
        clock,
        clocks: state
            .clocks
            .iter()
            .filter(|(field, c)| Some(**c) != clock || !state.fields.contains_key(*field))
            .map(|(field, c)| (field.as_str(), *c))
            .collect(),
    }
}

/// Whether `state` is what one full upsert stamped `hlc` leaves in a new entity: every field at
/// that clock and not deleted ([`state_of_lone_upsert`] rebuilds it from the record).
fn left_by_lone_upsert(state: &EntityState, hlc: Hlc) -> bool {
    state.fields.get(merge::DELETED_FIELD) == Some(&serde_json::Value::Bool(false))
        && state.clocks.len() == state.fields.len()
        && state.clocks.values().all(|c| *c == hlc)
}

/// The state a lone full upsert left in an entity the server did not hold: the record's payload,
/// not deleted, every field at the record's clock. Such a state is not stored a second time (a
/// first sync is almost only these): the entity names the record, and readers rebuild it here.
pub(crate) fn state_of_lone_upsert(payload_json: &str, hlc: &str) -> ServerResult<EntityState> {
    let hlc: Hlc = hlc
        .parse()
        .map_err(|_| ServerError::Internal("trạng thái hỏng trong CSDL".into()))?;
    lone_state(payload_json, hlc)
}

/// [`state_of_lone_upsert`] at a clock already read: what [`merge::created`] makes of the payload
/// (a lone upsert's payload has no field of the merge's own).
fn lone_state(payload_json: &str, hlc: Hlc) -> ServerResult<EntityState> {
    let corrupt = || ServerError::Internal("trạng thái hỏng trong CSDL".into());
    let fields = serde_json::from_str(payload_json).map_err(|_| corrupt())?;
    merge::created(fields, hlc).map_err(|_| corrupt())
}

/// A stored entity's state: its own (`state`), else the one its lone record (payload, clock)
/// left.
pub(crate) fn stored_state(
    state: Option<&str>,
    record: Option<(&str, &str)>,
) -> ServerResult<EntityState> {
    match (state, record) {
        (Some(state), _) => state_from_json(state),
        (None, Some((payload, hlc))) => state_of_lone_upsert(payload, hlc),
        (None, None) => Err(ServerError::Internal("trạng thái hỏng trong CSDL".into())),
    }
}

/// A stored entity's state as the report reads it (its fields): the stored state, else a
/// state around its lone record's payload.
pub(crate) fn report_state(state: Option<String>, payload: Option<String>) -> ServerResult<String> {
    match (state, payload) {
        (Some(state), _) => Ok(state),
        (None, Some(payload)) => Ok(format!(r#"{{"fields":{payload},"clocks":{{}}}}"#)),
        (None, None) => Err(ServerError::Internal("trạng thái hỏng trong CSDL".into())),
    }
}

pub(crate) fn state_to_json(state: &EntityState) -> String {
    serde_json::to_string(&compact(state)).expect("state serialises")
}

pub(crate) fn state_from_json(json: &str) -> ServerResult<EntityState> {
    let stored: StateIn = serde_json::from_str(json)
        .map_err(|_| ServerError::Internal("trạng thái hỏng trong CSDL".into()))?;
    let mut clocks = stored.clocks;
    if let Some(clock) = stored.clock {
        for field in stored.fields.keys() {
            clocks.entry(field.clone()).or_insert(clock);
        }
    }
    Ok(EntityState {
        fields: stored.fields,
        clocks,
    })
}

/// Outcome counts kept beside an attendance's state, so statistics need no JSON functions.
pub(crate) fn outcome_counts(entity: Entity, state: &EntityState) -> (i64, i64) {
    match state.fields.get("outcomes") {
        Some(serde_json::Value::Array(outcomes)) if entity == Entity::Attendance => (
            outcomes.len() as i64,
            outcomes
                .iter()
                .filter(|o| {
                    o.get("outcome").and_then(serde_json::Value::as_str) == Some("achieved")
                })
                .count() as i64,
        ),
        _ => (0, 0),
    }
}

/// Where a pull resumes. Laptops of this version send the team position they reached; an older
/// laptop sends the server-wide sequence it used before positions existed.
#[derive(Debug, Clone, Copy)]
pub enum PullFrom {
    Position(u64),
    LegacyCursor(u64),
}

/// A page of a team's records, as an engine reads it.
#[derive(Debug, Default)]
pub struct RecordPage {
    pub records: Vec<OutboxRecord>,
    /// The cursor after the last record of the page (the one asked for when the page is empty).
    pub next_cursor: u64,
}

/// A secret of `len` characters from an alphabet without look-alikes (no 0/O, 1/I/L), so a code
/// read aloud over the phone is typed right.
pub(crate) fn random_secret(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in uuid::Uuid::new_v4().into_bytes() {
            // 248 = 8 × 31: rejecting the rest keeps every symbol equally likely.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[(b % 31) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotay_core::sample::SampleTeam;

    /// `records` as a laptop pushes them.
    fn outgoing(records: &[OutboxRecord]) -> Vec<OutgoingRecord> {
        records
            .iter()
            .cloned()
            .map(OutboxRecord::into_outgoing)
            .collect()
    }

    /// [`plan_batch`] of `records`, checked, with rows handed over to `write`.
    fn plan_with(
        context: BatchContext,
        device: &DeviceRow,
        records: &[OutboxRecord],
        write: &mut dyn FnMut(Decided),
    ) -> ServerResult<BatchPlan> {
        let records = outgoing(records);
        let checks = check_batch(&records);
        plan_batch(context, device, records, checks, now_millis(), write)
    }

    fn decide(
        context: BatchContext,
        device: &DeviceRow,
        records: &[OutboxRecord],
    ) -> ServerResult<BatchPlan> {
        let (mut written, mut entities) = (Vec::new(), Vec::new());
        let mut plan = plan_with(context, device, records, &mut |part| match part {
            Decided::Records(part) => written.extend(part),
            Decided::Entities(part) => entities.extend(part),
        })?;
        written.append(&mut plan.records);
        plan.records = written;
        entities.append(&mut plan.entities);
        plan.entities = entities;
        Ok(plan)
    }

    /// A sample team's laptop of `citizens` people and its records; with `forget_first`, the
    /// first person is forgotten last, and the record that made them still names them (as a
    /// teammate's copy would, pushed before it heard of the forget).
    fn laptop_of(citizens: usize, forget_first: bool) -> (DeviceRow, Vec<OutboxRecord>) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SampleTeam {
            citizens,
            sessions: 1,
            per_session: 2,
        }
        .build(dir.path())
        .unwrap();
        let before = store.pending_records(0, usize::MAX).unwrap();
        let team = before.iter().find(|r| r.entity == Entity::Team).unwrap();
        let device = DeviceRow {
            id: store.device_id(),
            team_id: TeamId(team.entity_id.parse().unwrap()),
        };
        if !forget_first {
            return (device, before);
        }
        let made = before.iter().find(|r| r.entity == Entity::Citizen).unwrap();
        store
            .forget_citizen(made.entity_id.parse().unwrap())
            .unwrap();
        let mut records = store.pending_records(0, usize::MAX).unwrap();
        let at = records.iter().position(|r| r.seq == made.seq).unwrap();
        records[at] = made.clone();
        (device, records)
    }

    #[test]
    fn a_large_batch_is_handed_over_in_order_while_it_is_decided() {
        let (device, records) = laptop_of(3 * WRITE_CHUNK, false);
        let mut parts = Vec::new();
        let plan = plan_with(BatchContext::default(), &device, &records, &mut |part| {
            parts.push(part)
        })
        .unwrap();
        assert!(plan.records.is_empty() && plan.entities.is_empty());
        assert_eq!(plan.response.applied as usize, records.len());
        let mut stored = Vec::new();
        let mut entities = Vec::new();
        for part in parts {
            match part {
                Decided::Records(part) => {
                    assert!(
                        entities.is_empty(),
                        "records are handed over before entities"
                    );
                    stored.extend(part)
                }
                Decided::Entities(part) => entities.extend(part),
            }
        }
        let order: Vec<(u64, i64)> = stored.iter().map(|r| (r.record.seq, r.position)).collect();
        let expected: Vec<(u64, i64)> = (1..=records.len()).map(|n| (n as u64, n as i64)).collect();
        assert_eq!(order, expected);
        let mut keys: Vec<EntityKey> = entities.into_iter().map(|e| e.key).collect();
        let mut touched = touched_keys(&outgoing(&records));
        keys.sort_unstable();
        touched.sort_unstable();
        assert_eq!(keys, touched);
    }

    #[test]
    fn a_batch_that_forgets_someone_is_handed_over_only_once_scrubbed() {
        let (device, records) = laptop_of(3 * WRITE_CHUNK, true);
        let first = records
            .iter()
            .find(|r| r.entity == Entity::Citizen)
            .unwrap();
        let name = first.payload["full_name"].as_str().unwrap().to_owned();
        let plan = plan_with(BatchContext::default(), &device, &records, &mut |_| {
            panic!("rows handed over before the forget was decided")
        })
        .unwrap();
        assert_eq!(plan.records.len(), records.len());
        assert_eq!(plan.forgotten, vec![first.entity_id.clone()]);
        let theirs: Vec<&StoredRecord> = plan
            .records
            .iter()
            .filter(|r| r.record.entity_id == first.entity_id)
            .collect();
        assert_eq!(theirs.len(), 2);
        assert!(theirs.iter().all(|r| !r.payload_json.contains(&name)));
    }

    #[test]
    fn a_first_batch_is_applied_in_order_with_the_next_positions() {
        let (device, records) = laptop_of(3, false);
        let context = BatchContext {
            position: 40,
            ..Default::default()
        };
        let plan = decide(context, &device, &records).unwrap();
        let n = records.len();
        assert_eq!(plan.response.applied as usize, n);
        assert_eq!(plan.response.acked_seq, n as u64);
        let positions: Vec<i64> = plan.records.iter().map(|r| r.position).collect();
        assert_eq!(positions, (41..41 + n as i64).collect::<Vec<_>>());
        assert_eq!(plan.position, 40 + n as i64);
        // One final state per entity, each of the device's team.
        let mut keys: Vec<_> = records
            .iter()
            .map(|r| (r.entity, r.entity_id.clone()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(plan.entities.len(), keys.len());
        assert!(plan
            .entities
            .iter()
            .all(|e| e.team_id == device.team_id && !e.existed));
    }

    #[test]
    fn a_payload_whose_text_would_not_read_back_is_set_aside_not_stored() {
        let (device, records) = laptop_of(3, false);
        let mut batch = outgoing(&records);
        // Someone no attendance names, so that nothing else is set aside with them.
        let citizen = batch
            .iter()
            .position(|r| {
                r.entity == Entity::Citizen
                    && !batch.iter().any(|a| {
                        a.entity == Entity::Attendance && a.entity_id.contains(&r.entity_id)
                    })
            })
            .unwrap();
        // A field no struct reads, holding a number no reader could take back: stored as sent,
        // it would fail every later read of this person (a merge, a report, a teammate's pull).
        let text = batch[citizen]
            .payload
            .get()
            .replacen('{', r#"{"later":1e400,"#, 1);
        batch[citizen].payload = serde_json::value::RawValue::from_string(text).unwrap();
        let checks = check_batch(&batch);
        let mut written = Vec::new();
        let plan = plan_batch(
            BatchContext::default(),
            &device,
            batch,
            checks,
            now_millis(),
            &mut |part| {
                if let Decided::Records(part) = part {
                    written.extend(part)
                }
            },
        )
        .unwrap();
        assert_eq!(plan.quarantined.len(), 1);
        assert_eq!(plan.quarantined[0].0.seq, records[citizen].seq);
        assert!(
            plan.quarantined[0].1.reason.contains("không đọc được"),
            "{:?}",
            plan.quarantined[0].1
        );
        written.extend(plan.records);
        assert_eq!(written.len(), records.len() - 1);
        assert!(written
            .iter()
            .all(|r| serde_json::from_str::<serde_json::Value>(&r.payload_json).is_ok()));
    }

    #[test]
    fn an_entity_made_by_one_full_upsert_names_its_record_and_reads_back_as_merged() {
        let (device, mut records) = laptop_of(3, false);
        // The same laptop then corrects one citizen: that entity now has two records.
        let citizen = records
            .iter()
            .find(|r| r.entity == Entity::Citizen)
            .unwrap()
            .clone();
        let last = records.last().unwrap();
        let mut edit = citizen.clone();
        edit.seq = last.seq + 1;
        edit.record_id = RecordId::new();
        edit.hlc = last.hlc.tick(last.hlc.millis + 1);
        edit.fields = vec!["phone".into()];
        edit.payload["phone"] = "0912345678".into();
        records.push(edit);

        let plan = decide(BatchContext::default(), &device, &records).unwrap();
        assert!(plan.quarantined.is_empty(), "{:?}", plan.quarantined);
        let mut from_records = 0;
        for row in &plan.entities {
            let made: Vec<&OutboxRecord> = records
                .iter()
                .filter(|r| (r.entity, r.entity_id.clone()) == row.key)
                .collect();
            let mut merged = EntityState::default();
            for record in &made {
                merge::apply(&mut merged, record);
            }
            assert_eq!(
                (row.n_outcomes, row.n_achieved),
                outcome_counts(row.key.0, &merged),
                "{:?}",
                row.key
            );
            assert_eq!(row.deleted, merged.is_deleted());
            match (&row.state_json, row.source_record) {
                (None, Some(source)) => {
                    from_records += 1;
                    assert_eq!(made.len(), 1, "{:?}", row.key);
                    assert_eq!(source, made[0].record_id);
                    let rebuilt = state_of_lone_upsert(
                        &made[0].payload.to_string(),
                        &made[0].hlc.to_string(),
                    )
                    .unwrap();
                    assert_eq!(rebuilt, merged, "{:?}", row.key);
                }
                (Some(json), None) => assert_eq!(state_from_json(json).unwrap(), merged),
                other => panic!("{:?}: {other:?}", row.key),
            }
        }
        let edited = plan
            .entities
            .iter()
            .find(|e| e.key == (Entity::Citizen, citizen.entity_id.clone()))
            .unwrap();
        assert!(edited.state_json.is_some() && edited.source_record.is_none());
        assert_eq!(from_records, plan.entities.len() - 1);

        // An entity the server already holds keeps its own state, whatever the record.
        let stored: HashMap<EntityKey, StoredEntity> = plan
            .entities
            .iter()
            .map(|e| {
                let state = StoredEntity {
                    team_id: e.team_id,
                    state: EntityState::default(),
                };
                (e.key.clone(), state)
            })
            .collect();
        let again = BatchContext {
            stored,
            ..Default::default()
        };
        let plan = decide(again, &device, &records[..records.len() - 1]).unwrap();
        assert!(plan
            .entities
            .iter()
            .all(|e| e.existed && e.state_json.is_some() && e.source_record.is_none()));
    }

    #[test]
    fn a_resent_batch_is_counted_as_duplicates_and_a_reused_sequence_refused() {
        let (device, records) = laptop_of(3, false);
        let held: HashMap<u64, RecordId> = records.iter().map(|r| (r.seq, r.record_id)).collect();
        let resent = BatchContext {
            acked: records.len() as u64,
            held: held.clone(),
            ..Default::default()
        };
        let plan = decide(resent, &device, &records).unwrap();
        assert_eq!(plan.response.duplicates as usize, records.len());
        assert!(plan.records.is_empty() && plan.entities.is_empty());

        let mut restored = records.clone();
        restored[2].record_id = RecordId::new();
        let context = BatchContext {
            acked: records.len() as u64,
            held,
            ..Default::default()
        };
        let err = decide(context, &device, &restored).unwrap_err();
        assert!(
            matches!(err, ServerError::SequenceReused { seq: 3 }),
            "{err:?}"
        );

        // The same within one batch: a record sent twice in it counts once; a second record
        // under a sequence the batch already used refuses it.
        let mut twice = records.clone();
        twice.push(records[1].clone());
        let plan = decide(BatchContext::default(), &device, &twice).unwrap();
        assert_eq!(
            (plan.response.duplicates, plan.response.applied),
            (1, records.len() as u64)
        );
        twice.last_mut().unwrap().record_id = RecordId::new();
        let err = decide(BatchContext::default(), &device, &twice).unwrap_err();
        assert!(
            matches!(err, ServerError::SequenceReused { seq: 2 }),
            "{err:?}"
        );
    }

    #[test]
    fn a_gap_another_devices_record_or_another_teams_record_refuses_the_batch() {
        let (device, records) = laptop_of(3, false);
        let err = decide(BatchContext::default(), &device, &records[2..]).unwrap_err();
        assert!(
            matches!(err, ServerError::SequenceGap { expected: 1 }),
            "{err:?}"
        );

        let stranger = DeviceRow {
            id: DeviceId::new(),
            team_id: device.team_id,
        };
        let err = decide(BatchContext::default(), &stranger, &records).unwrap_err();
        assert!(matches!(err, ServerError::Forbidden(_)), "{err:?}");

        let other_team = DeviceRow {
            id: device.id,
            team_id: TeamId::new(),
        };
        let err = decide(BatchContext::default(), &other_team, &records).unwrap_err();
        assert!(matches!(err, ServerError::Forbidden(_)), "{err:?}");
    }

    #[test]
    fn a_record_breaking_the_rules_is_set_aside_and_the_rest_applied() {
        let (device, mut records) = laptop_of(3, false);
        let citizen = records
            .iter()
            .position(|r| r.entity == Entity::Citizen)
            .unwrap();
        records[citizen].payload["consent"]["given"] = false.into();
        let plan = decide(BatchContext::default(), &device, &records).unwrap();
        assert_eq!(plan.quarantined[0].0.seq, records[citizen].seq);
        assert_eq!(plan.response.quarantined[0].seq, records[citizen].seq);
        assert_eq!(plan.response.acked_seq, records.len() as u64);
        // An attendance of the person set aside refers to nobody: set aside too, nothing stops.
        let of_that_person = records
            .iter()
            .filter(|r| {
                r.entity == Entity::Attendance
                    && r.payload["citizen_id"] == records[citizen].entity_id.as_str()
            })
            .count();
        assert_eq!(plan.quarantined.len(), 1 + of_that_person);
        assert_eq!(
            plan.response.applied as usize,
            records.len() - 1 - of_that_person
        );
    }

    #[test]
    fn an_attendance_of_another_teams_citizen_is_set_aside() {
        let (device, records) = laptop_of(3, false);
        let attendance = records
            .iter()
            .find(|r| r.entity == Entity::Attendance)
            .unwrap();
        let citizen = attendance.payload["citizen_id"]
            .as_str()
            .unwrap()
            .to_owned();
        // The server already holds that citizen, for another team.
        let mut context = BatchContext::default();
        context
            .refs
            .insert((Entity::Citizen, citizen.clone()), (TeamId::new(), false));
        let batch: Vec<_> = records
            .iter()
            .filter(|r| !(r.entity == Entity::Citizen && r.entity_id == citizen))
            .cloned()
            .collect();
        // Renumber as if the citizen had never been made here.
        let batch: Vec<_> = batch
            .into_iter()
            .enumerate()
            .map(|(i, mut r)| {
                r.seq = i as u64 + 1;
                r
            })
            .collect();
        let plan = decide(context, &device, &batch).unwrap();
        assert!(plan
            .quarantined
            .iter()
            .any(|(r, _)| r.payload.get().contains(citizen.as_str())));
    }

    #[test]
    fn references_are_looked_up_under_the_form_they_are_stored_in() {
        let (_, records) = laptop_of(3, false);
        let mut attendance = records
            .iter()
            .find(|r| r.entity == Entity::Attendance)
            .unwrap()
            .clone();
        let session = attendance.payload["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        attendance.payload["session_id"] = session.to_uppercase().into();
        let keys = referenced_keys(&outgoing(&[attendance]), &[]);
        assert!(keys.contains(&(Entity::Session, session)), "{keys:?}");
    }

    #[test]
    fn stored_states_read_back_whole_in_a_third_of_the_bytes() {
        let (_, records) = laptop_of(3, false);
        let citizen = records
            .iter()
            .find(|r| r.entity == Entity::Citizen)
            .unwrap();
        let mut state = EntityState::default();
        merge::apply(&mut state, citizen);
        let mut edit = citizen.clone();
        edit.hlc = edit.hlc.tick(edit.hlc.millis + 5);
        edit.fields = vec!["phone".into()];
        edit.payload["phone"] = "0911111111".into();
        merge::apply(&mut state, &edit);
        let json = state_to_json(&state);
        assert_eq!(state_from_json(&json).unwrap(), state);
        let full = serde_json::to_string(&state).unwrap();
        assert!(
            json.len() * 2 < full.len(),
            "{} of {}",
            json.len(),
            full.len()
        );
        // A state stored in full, as before, reads the same.
        assert_eq!(state_from_json(&full).unwrap(), state);
    }

    #[test]
    fn a_record_stamped_years_ahead_is_kept_and_restamped_to_now() {
        let (device, mut records) = laptop_of(3, false);
        let now = now_millis();
        records[0].hlc.millis = now + 9 * 365 * 24 * 3_600_000;
        let plan = decide(BatchContext::default(), &device, &records).unwrap();
        let kept = &plan.records[0].record;
        assert_eq!(kept.record_id, records[0].record_id);
        assert!(kept.hlc.millis <= now_millis(), "{}", kept.hlc);
    }
}
