//! Deterministic merge of concurrent changes, the same on every device and on the server. Each
//! entity's state is a JSON object plus, per field, the clock of the change that last set it. A
//! change sets the fields it names (all fields when it names none) if its clock is newer than the
//! field's; otherwise its value loses. Lost values, and values another device's change replaced,
//! are reported as conflicts. Because the winner of a field
//! is always the change with the highest clock, the result is the same whatever order changes
//! arrive in. A delete is the field `_deleted` set to true: a tombstone that merges like any field.
//! A forget (`crate::erasure`) is the field `_forgotten` set to true, and is stronger than any
//! clock: from then on the personal fields hold their erased values and no value of theirs is
//! kept, so every replica ends the same whichever order the forget and the edits arrive in.

use crate::erasure::{self, FORGOTTEN_FIELD, PERSONAL_FIELDS};
use crate::{Hlc, Operation, OutboxRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const DELETED_FIELD: &str = "_deleted";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EntityState {
    pub fields: Map<String, Value>,
    pub clocks: BTreeMap<String, Hlc>,
}

impl EntityState {
    pub fn is_deleted(&self) -> bool {
        self.fields.get(DELETED_FIELD) == Some(&Value::Bool(true))
    }

    /// The entity's payload (without the tombstone marker).
    pub fn payload(&self) -> Value {
        let mut fields = self.fields.clone();
        fields.remove(DELETED_FIELD);
        Value::Object(fields)
    }

    /// The newest clock of any field.
    pub fn latest(&self) -> Option<Hlc> {
        self.clocks.values().max().copied()
    }
}

/// A field value that lost a merge, kept for review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LostValue {
    pub field: String,
    pub value: Value,
    pub hlc: Hlc,
    /// The clock of the value that won.
    pub winner_hlc: Hlc,
}

/// Applies `record` to `state`. Returns the values that lost (from either side).
pub fn apply(state: &mut EntityState, record: &OutboxRecord) -> Vec<LostValue> {
    let changes = match (record.op, &record.payload) {
        // A delete sets only the fields it names (a merged person's `merged_into`), never a
        // tombstone or forget field: the delete itself decides `_deleted`.
        (Operation::Delete, Value::Object(payload)) if !record.fields.is_empty() => payload
            .iter()
            .filter(|(k, _)| named(&record.fields, k) && !k.starts_with('_'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        (Operation::Delete, _) => Vec::new(),
        (Operation::Upsert, Value::Object(payload)) => payload
            .iter()
            .filter(|(k, _)| named(&record.fields, k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        (Operation::Upsert, _) => return Vec::new(),
    };
    merge_changes(
        state,
        record.op,
        record.fields.is_empty(),
        record.hlc,
        changes,
    )
}

/// Like [`apply`], for a caller with no further use for the payload: its values move into the
/// state instead of being copied (the server merging a large batch).
pub fn apply_owned(
    state: &mut EntityState,
    op: Operation,
    fields: &[String],
    hlc: Hlc,
    payload: Value,
) -> Vec<LostValue> {
    let changes = match (op, payload) {
        (Operation::Delete, Value::Object(payload)) if !fields.is_empty() => payload
            .into_iter()
            .filter(|(k, _)| named(fields, k) && !k.starts_with('_'))
            .collect(),
        (Operation::Delete, _) => Vec::new(),
        (Operation::Upsert, Value::Object(payload)) => payload
            .into_iter()
            .filter(|(k, _)| named(fields, k))
            .collect(),
        (Operation::Upsert, _) => return Vec::new(),
    };
    merge_changes(state, op, fields.is_empty(), hlc, changes)
}

/// The state a full upsert leaves in an entity that had none: every field of `payload`, not
/// deleted, each at `hlc`; the same as [`apply_owned`] on an empty state, built in one pass (a
/// first sync makes thousands of these). The payload comes back when it sets a marker field
/// (`_…`), which only the merge may judge.
pub fn created(payload: Map<String, Value>, hlc: Hlc) -> Result<EntityState, Map<String, Value>> {
    if payload.keys().any(|field| field.starts_with('_')) {
        return Err(payload);
    }
    let mut fields = payload;
    fields.insert(DELETED_FIELD.to_owned(), Value::Bool(false));
    let clocks = fields.keys().map(|field| (field.clone(), hlc)).collect();
    Ok(EntityState { fields, clocks })
}

/// A change that names no fields sets them all.
fn named(fields: &[String], field: &str) -> bool {
    fields.is_empty() || fields.iter().any(|n| n == field)
}

fn merge_changes(
    state: &mut EntityState,
    op: Operation,
    whole: bool,
    hlc: Hlc,
    mut changes: Vec<(String, Value)>,
) -> Vec<LostValue> {
    match op {
        Operation::Delete => changes.push((DELETED_FIELD.to_owned(), Value::Bool(true))),
        // A full upsert also revives a deleted entity if it is newer than the delete.
        Operation::Upsert if whole => changes.push((DELETED_FIELD.to_owned(), Value::Bool(false))),
        Operation::Upsert => {}
    }
    if erasure::is_forgotten(state) {
        changes.retain(|(field, _)| !erasure::is_personal(field));
    }
    // Forgetting cannot be undone: only `true` is a value of `_forgotten`.
    changes.retain(|(field, value)| field != FORGOTTEN_FIELD || *value == Value::Bool(true));
    let record_hlc = hlc;
    let mut lost = Vec::new();
    for (field, value) in changes {
        match state.clocks.get(&field) {
            Some(&current) if current >= record_hlc => {
                if current != record_hlc && state.fields.get(&field) != Some(&value) {
                    lost.push(LostValue {
                        field,
                        value,
                        hlc: record_hlc,
                        winner_hlc: current,
                    });
                }
            }
            current => {
                // An overwrite by the same device is an ordinary later edit; by another device it
                // may be a concurrent one, so the replaced value is kept for review.
                if let Some(&old_hlc) = current.filter(|c| c.device != record_hlc.device) {
                    let old = state.fields.get(&field).cloned().unwrap_or(Value::Null);
                    if old != value {
                        lost.push(LostValue {
                            field: field.clone(),
                            value: old,
                            hlc: old_hlc,
                            winner_hlc: record_hlc,
                        });
                    }
                }
                state.fields.insert(field.clone(), value);
                state.clocks.insert(field, record_hlc);
            }
        }
    }
    if erasure::is_forgotten(state) {
        // Erased values carry no clock, so the state is the same whatever came first.
        for field in PERSONAL_FIELDS {
            state
                .fields
                .insert(field.to_owned(), erasure::erased_value(field));
            state.clocks.remove(field);
        }
        lost.retain(|l| !erasure::is_personal(&l.field));
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceId, Entity, RecordId};
    use serde_json::json;

    fn record(device: DeviceId, millis: u64, fields: &[&str], payload: Value) -> OutboxRecord {
        OutboxRecord {
            record_id: RecordId::new(),
            device_id: device,
            seq: 1,
            hlc: Hlc {
                millis,
                counter: 0,
                device,
            },
            entity: Entity::Citizen,
            entity_id: "c1".into(),
            op: Operation::Upsert,
            fields: fields.iter().map(|f| f.to_string()).collect(),
            payload_version: 1,
            payload,
        }
    }

    #[test]
    fn a_created_state_is_what_the_merge_makes_of_a_first_full_upsert() {
        let device = DeviceId::new();
        let payload = json!({"name": "Ân", "phone": null, "village": "Đông", "groups": ["a"]});
        let create = record(device, 7, &[], payload.clone());
        let mut merged = EntityState::default();
        assert!(apply(&mut merged, &create).is_empty());
        let Value::Object(map) = payload else {
            unreachable!()
        };
        assert_eq!(created(map, create.hlc).unwrap(), merged);

        let Value::Object(marked) = json!({"name": "Ân", "_forgotten": false}) else {
            unreachable!()
        };
        assert!(created(marked, create.hlc).is_err());
    }

    #[test]
    fn concurrent_field_edits_merge_the_same_in_any_order() {
        let (a, b) = (DeviceId::new(), DeviceId::new());
        let create = record(
            a,
            1,
            &[],
            json!({"name": "An", "phone": null, "village": "Đông"}),
        );
        let phone_on_a = record(a, 5, &["phone"], json!({"phone": "0912345678"}));
        let name_on_b = record(b, 6, &["name"], json!({"name": "Ân"}));
        let phone_on_b = record(b, 4, &["phone"], json!({"phone": "0987654321"}));
        let changes = [create, phone_on_a, name_on_b, phone_on_b];

        let orders: [[usize; 4]; 4] = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]];
        let mut results = Vec::new();
        for order in orders {
            let mut state = EntityState::default();
            let mut lost = Vec::new();
            for i in order {
                lost.extend(apply(&mut state, &changes[i]));
            }
            assert!(
                lost.iter().any(|l| l.value == json!("0987654321")),
                "the older phone is kept as a conflict"
            );
            results.push(state);
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]));
        let s = &results[0];
        assert_eq!(s.fields["name"], json!("Ân"));
        assert_eq!(s.fields["phone"], json!("0912345678"));
        assert_eq!(s.fields["village"], json!("Đông"));
    }

    #[test]
    fn applying_the_same_record_twice_changes_nothing() {
        let a = DeviceId::new();
        let r = record(a, 1, &[], json!({"name": "An"}));
        let mut state = EntityState::default();
        apply(&mut state, &r);
        let once = state.clone();
        assert!(apply(&mut state, &r).is_empty());
        assert_eq!(state, once);
    }

    #[test]
    fn a_forget_erases_for_good_in_any_order_and_keeps_no_lost_value() {
        let (a, b) = (DeviceId::new(), DeviceId::new());
        let create = record(
            a,
            1,
            &[],
            json!({"full_name": "Vi Thị Mẩy", "phone": "0912345678", "cccd": "038161001234",
                "birth_date": "1961-04-03", "note": null, "village": "Bản Khằm"}),
        );
        let forget_fields: Vec<String> = crate::erasure::forget_fields();
        let mut forget = record(
            a,
            5,
            &[],
            crate::erasure::forget_payload(create.payload.clone()),
        );
        forget.fields = forget_fields;
        // B, offline, corrects the phone and the village later than the forget.
        let edit_on_b = record(
            b,
            9,
            &["phone", "village"],
            json!({"phone": "0987654321", "village": "Bản Mới"}),
        );
        let orders: [[usize; 3]; 3] = [[0, 1, 2], [0, 2, 1], [2, 1, 0]];
        let changes = [create, forget, edit_on_b];
        let mut results = Vec::new();
        for order in orders {
            let mut state = EntityState::default();
            // Values lost before the forget arrived were logged then; the stores scrub that log
            // when the forget comes. From the forget on, nothing personal is handed out.
            let mut lost = Vec::new();
            for i in order {
                let lost_here = apply(&mut state, &changes[i]);
                if crate::erasure::is_forgotten(&state) {
                    lost.extend(lost_here);
                }
            }
            let seen = serde_json::to_string(&(&state, &lost)).unwrap();
            for secret in [
                "Vi Thị Mẩy",
                "0912345678",
                "0987654321",
                "038161001234",
                "1961-04-03",
            ] {
                assert!(!seen.contains(secret), "{secret} kept in order {order:?}");
            }
            results.push(state);
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:#?}");
        let s = &results[0];
        assert!(crate::erasure::is_forgotten(s));
        assert_eq!(s.fields["full_name"], json!(crate::erasure::ERASED_NAME));
        assert_eq!(
            s.fields["village"],
            json!("Bản Mới"),
            "what is not personal merges"
        );
        // A forget is never undone.
        let mut state = s.clone();
        apply(
            &mut state,
            &record(
                b,
                20,
                &["_forgotten", "full_name"],
                json!({"_forgotten": false, "full_name": "Vi Thị Mẩy"}),
            ),
        );
        assert_eq!(&state, s);
    }

    #[test]
    fn deletes_are_tombstones_that_win_over_older_edits() {
        let a = DeviceId::new();
        let mut state = EntityState::default();
        apply(&mut state, &record(a, 1, &[], json!({"name": "An"})));
        let mut delete = record(a, 3, &[], Value::Null);
        delete.op = Operation::Delete;
        apply(&mut state, &delete);
        apply(
            &mut state,
            &record(a, 2, &["name"], json!({"name": "Bình"})),
        );
        assert!(state.is_deleted());
        assert_eq!(state.payload(), json!({"name": "Bình"}));
    }

    #[test]
    fn a_delete_sets_only_the_fields_it_names() {
        let a = DeviceId::new();
        let mut state = EntityState::default();
        let person = json!({"name": "An", "merged_into": "c2"});
        apply(&mut state, &record(a, 1, &[], json!({"name": "An"})));
        let mut plain = record(a, 2, &[], person.clone());
        plain.op = Operation::Delete;
        apply(&mut state, &plain);
        assert!(state.is_deleted());
        assert!(!state.fields.contains_key("merged_into"));
        let mut merge = record(a, 3, &["merged_into"], person);
        merge.op = Operation::Delete;
        apply(&mut state, &merge);
        assert!(state.is_deleted());
        assert_eq!(state.fields["merged_into"], json!("c2"));
        assert_eq!(state.fields["name"], json!("An"));
    }
}
