//! Erasure at a citizen's request (Law 91/2025/QH15): what "forgotten" means, the same on every
//! laptop and on the server. A forget is an ordinary citizen record that sets the field
//! `_forgotten` to true and blanks the personal fields. Once an entity's state is forgotten it
//! stays so: its personal fields hold the erased values whatever arrives later or arrived before
//! (an edit made offline before the laptop heard of the forget), no value of theirs is kept as a
//! conflict, and every stored copy of a record about that person is scrubbed the same way. What
//! reports count (gender, birth year, village, groups, attendance, outcomes) stays, anonymous.

use crate::merge::EntityState;
use crate::{Entity, Operation, OutboxRecord};
use serde_json::Value;

pub const FORGOTTEN_FIELD: &str = "_forgotten";

/// The fields that say who a person is; a forget erases them for good.
pub const PERSONAL_FIELDS: [&str; 5] = ["full_name", "birth_date", "phone", "cccd", "note"];

/// What a forgotten person's name reads as on lists and sheets.
pub const ERASED_NAME: &str = "(Đã xóa theo yêu cầu)";

/// What a set-aside record's reason reads as once its person is forgotten (a reason may quote a
/// value).
pub const ERASED_REASON: &str = "(lý do đã xóa cùng thông tin cá nhân)";
pub const ERASED_REASON_EN: &str = "(reason erased with the personal data)";

/// The value a personal field holds once erased.
pub fn erased_value(field: &str) -> Value {
    if field == "full_name" {
        Value::String(ERASED_NAME.to_owned())
    } else {
        Value::Null
    }
}

pub fn is_personal(field: &str) -> bool {
    PERSONAL_FIELDS.contains(&field)
}

pub fn is_forgotten(state: &EntityState) -> bool {
    state.fields.get(FORGOTTEN_FIELD) == Some(&Value::Bool(true))
}

/// The fields a forget record names.
pub fn forget_fields() -> Vec<String> {
    std::iter::once(FORGOTTEN_FIELD)
        .chain(PERSONAL_FIELDS)
        .map(str::to_owned)
        .collect()
}

/// Whether `record` is a forget (its shape is checked by the rules, not here).
pub fn is_forget(record: &OutboxRecord) -> bool {
    record.entity == Entity::Citizen
        && record.op == Operation::Upsert
        && record.payload.get(FORGOTTEN_FIELD).is_some()
}

/// Replaces the personal fields a payload holds by their erased values. Returns whether anything
/// changed.
pub fn scrub(payload: &mut Value) -> bool {
    let Value::Object(fields) = payload else {
        return false;
    };
    let mut changed = false;
    for field in PERSONAL_FIELDS {
        if let Some(value) = fields.get_mut(field) {
            let erased = erased_value(field);
            if *value != erased {
                *value = erased;
                changed = true;
            }
        }
    }
    changed
}

/// Makes a citizen's full payload into its forget: personal fields erased, `_forgotten` set.
pub fn forget_payload(mut citizen: Value) -> Value {
    scrub(&mut citizen);
    if let Value::Object(fields) = &mut citizen {
        fields.insert(FORGOTTEN_FIELD.to_owned(), Value::Bool(true));
    }
    citizen
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubbing_erases_only_personal_fields() {
        let mut payload = json!({"full_name": "Vi Thị Mẩy", "phone": "0912345678",
            "cccd": "038161001234", "birth_date": "1961-04-03", "note": "nghe kém",
            "village": "Bản Khằm", "birth_year": 1961, "groups": ["ethnic_minority"]});
        assert!(scrub(&mut payload));
        assert_eq!(
            payload,
            json!({"full_name": ERASED_NAME, "phone": null, "cccd": null, "birth_date": null,
                "note": null, "village": "Bản Khằm", "birth_year": 1961,
                "groups": ["ethnic_minority"]})
        );
        assert!(!scrub(&mut payload), "already erased");
        let mut partial = json!({"village": "Bản Khằm"});
        assert!(!scrub(&mut partial));
    }
}
