//! The rules every record must keep, wherever it comes from: the laptop checks what it pulls and
//! the server checks what it receives with these same functions, so one bad record (no consent, a
//! 70 MB note, an ID that is not its payload's) is set aside instead of reaching, and breaking,
//! every teammate. Checks that need to know what else exists (an attendance's citizen and
//! session) are made by each side against its own store, through [`AttendanceRefs`].

use crate::citizens::{validate_citizen, CitizenPatch};
use crate::validate;
use sotay_protocol::erasure;
use sotay_protocol::{Operation, OutboxRecord, Payload};

/// Largest payload a record may carry (a citizen with a long note is a few KB).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Longest note on a citizen or a session.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Why a record was set aside, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    pub reason: String,
    pub reason_en: String,
}

fn problem(reason: impl Into<String>, reason_en: impl Into<String>) -> RecordProblem {
    RecordProblem {
        reason: reason.into(),
        reason_en: reason_en.into(),
    }
}

fn check_note(note: &Option<String>) -> Result<(), RecordProblem> {
    match note {
        Some(n) if n.chars().count() > MAX_NOTE_CHARS => Err(problem(
            format!(
                "ghi chú dài {} ký tự, quá {MAX_NOTE_CHARS}",
                n.chars().count()
            ),
            format!(
                "the note has {} characters, over {MAX_NOTE_CHARS}",
                n.chars().count()
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether compact JSON holds a NUL: serde_json writes one (in a string or a key) as `\u0000`,
/// an escape only when an odd run of backslashes leads to it (`\\u0000` is a backslash, then
/// the text "u0000").
fn escapes_nul(json: &str) -> bool {
    let bytes = json.as_bytes();
    json.match_indices("u0000").any(|(at, _)| {
        let backslashes = bytes[..at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        backslashes % 2 == 1
    })
}

/// Checks a record on its own: its size, that its payload decodes and is the entity it names,
/// and the same field rules as the forms (a citizen needs consent, a valid phone…). A delete
/// needs only to name its entity.
pub fn check_record(record: &OutboxRecord) -> Result<Payload, RecordProblem> {
    check_record_serialised(record, &record.payload.to_string())
}

/// [`check_record`] for a caller that already holds the payload's compact JSON (the server,
/// which stores it): its size and any NUL are read off that text instead of walking the value
/// again. serde_json writes a NUL in a string or key as `\u0000`, and nothing else does.
pub fn check_record_serialised(
    record: &OutboxRecord,
    payload_json: &str,
) -> Result<Payload, RecordProblem> {
    check_text(record, payload_json)?;
    let payload = Payload::decode_ref(record.entity, record.payload_version, &record.payload)
        .map_err(|e| problem(format!("nội dung không đọc được: {e}"), e.to_string()))?;
    check_id(record, &payload)?;
    if record.op == Operation::Delete {
        // A delete sets only the fields it names, and the one it may name is a merged person's
        // pointer to the record kept, another person of the same payload.
        let merged_into = match &payload {
            Payload::Citizen(c) => c.merged_into,
            _ => None,
        };
        let plain = record.fields.is_empty();
        let a_merge = record.fields.iter().all(|f| f == "merged_into")
            && merged_into.is_some_and(|into| into.to_string() != record.entity_id);
        if !(plain || a_merge) {
            return Err(problem(
                "bản ghi xóa chỉ được ghi kèm “gộp vào” một người khác",
                "a delete may only name merged_into, pointing to another person",
            ));
        }
        return Ok(payload);
    }
    if erasure::is_forget(record) || record.fields.iter().any(|f| f == erasure::FORGOTTEN_FIELD) {
        check_forget(record)?;
        return Ok(payload);
    }
    check_fields(payload)
}

/// [`check_record`] for a full upsert (no fields named) whose payload is only text, as a pushed
/// batch carries it: decoded straight from the text. A forget or a delete never comes this way:
/// such a record names its fields or is not an upsert.
pub fn check_full_upsert_text<P>(
    record: &OutboxRecord<P>,
    payload_json: &str,
) -> Result<Payload, RecordProblem> {
    assert!(
        record.op == Operation::Upsert && record.fields.is_empty(),
        "a full upsert"
    );
    check_text(record, payload_json)?;
    let payload = Payload::decode_text(record.entity, record.payload_version, payload_json)
        .map_err(|e| problem(format!("nội dung không đọc được: {e}"), e.to_string()))?;
    check_id(record, &payload)?;
    check_fields(payload)
}

/// No NUL anywhere (PostgreSQL stores none, in text or jsonb: a record with one would fail the
/// server's transaction on every retry), and no payload over the limit.
fn check_text<P>(record: &OutboxRecord<P>, payload_json: &str) -> Result<(), RecordProblem> {
    if record.entity_id.contains('\0')
        || record.fields.iter().any(|f| f.contains('\0'))
        || escapes_nul(payload_json)
    {
        return Err(problem(
            "nội dung chứa ký tự NUL (\\0), không lưu được",
            "the record contains a NUL character (\\0), which cannot be stored",
        ));
    }
    let size = payload_json.len();
    if size > MAX_PAYLOAD_BYTES {
        return Err(problem(
            format!("nội dung {size} byte, quá giới hạn {MAX_PAYLOAD_BYTES}"),
            format!("the payload has {size} bytes, over the limit of {MAX_PAYLOAD_BYTES}"),
        ));
    }
    Ok(())
}

/// The record names the entity its payload is.
fn check_id<P>(record: &OutboxRecord<P>, payload: &Payload) -> Result<(), RecordProblem> {
    if payload.entity_id() != record.entity_id {
        return Err(problem(
            format!(
                "mã “{}” không khớp nội dung (“{}”)",
                record.entity_id,
                payload.entity_id()
            ),
            format!(
                "the ID “{}” is not its payload's (“{}”)",
                record.entity_id,
                payload.entity_id()
            ),
        ));
    }
    Ok(())
}

/// The same field rules as the forms.
fn check_fields(payload: Payload) -> Result<Payload, RecordProblem> {
    match &payload {
        Payload::Citizen(c) => {
            // The citizen as the form would have taken it: the form's rules, once.
            let input = CitizenPatch::default().apply_to(c);
            validate_citizen(&input).map_err(|errors| {
                let join = |en: bool| {
                    errors
                        .iter()
                        .map(|e| {
                            if en {
                                format!("{}: {}", e.field.label_en(), e.reason_en)
                            } else {
                                e.to_string()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                problem(join(false), join(true))
            })?;
        }
        Payload::Session(s) => {
            let checks = [
                validate::iso_date(&s.date, validate::Field::Date).map(|_| ()),
                validate::required(&s.place, validate::Field::Place).map(|_| ()),
            ];
            for check in checks {
                check.map_err(|e| {
                    problem(
                        e.to_string(),
                        format!("{}: {}", e.field.label_en(), e.reason_en),
                    )
                })?;
            }
            check_note(&s.note)?;
        }
        Payload::Team(t) => {
            validate::required(&t.name, validate::Field::Team)
                .map_err(|e| problem(e.to_string(), e.reason_en))?;
        }
        Payload::Volunteer(v) => {
            validate::required(&v.name, validate::Field::Volunteer)
                .map_err(|e| problem(e.to_string(), e.reason_en))?;
        }
        Payload::Attendance(_) => {}
    }
    if let Payload::Citizen(c) = &payload {
        check_note(&c.note)?;
    }
    Ok(payload)
}

/// A forget names only `_forgotten` and personal fields, sets `_forgotten` to true and carries
/// nothing personal: it cannot be used to smuggle a value past the merge, nor to undo a forget.
fn check_forget(record: &OutboxRecord) -> Result<(), RecordProblem> {
    let allowed = erasure::forget_fields();
    let mut scrubbed = record.payload.clone();
    let well_formed = record.entity == sotay_protocol::Entity::Citizen
        && record.payload.get(erasure::FORGOTTEN_FIELD) == Some(&serde_json::Value::Bool(true))
        && record.fields.iter().any(|f| f == erasure::FORGOTTEN_FIELD)
        && record.fields.iter().all(|f| allowed.contains(f))
        && !erasure::scrub(&mut scrubbed);
    if well_formed {
        Ok(())
    } else {
        Err(problem(
            "yêu cầu xóa thông tin không đúng dạng",
            "a malformed erasure request",
        ))
    }
}

/// What an attendance refers to, checked against whatever store is applying it.
pub trait AttendanceRefs {
    fn citizen_known(&mut self, id: &str) -> bool;
    fn session_known(&mut self, id: &str) -> bool;
}

/// An attendance must be of a known session and a known citizen.
pub fn check_references(
    payload: &Payload,
    known: &mut dyn AttendanceRefs,
) -> Result<(), RecordProblem> {
    if let Payload::Attendance(a) = payload {
        if !known.session_known(&a.session_id.to_string()) {
            return Err(problem(
                format!("điểm danh của buổi “{}” không có", a.session_id),
                format!(
                    "an attendance of a session “{}” that does not exist",
                    a.session_id
                ),
            ));
        }
        if !known.citizen_known(&a.citizen_id.to_string()) {
            return Err(problem(
                format!("điểm danh người dân “{}” không có", a.citizen_id),
                format!(
                    "an attendance of a citizen “{}” who does not exist",
                    a.citizen_id
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sotay_protocol::{CitizenId, DeviceId, Entity, Hlc, RecordId, TeamId};

    fn forget(
        payload_change: impl FnOnce(&mut serde_json::Value),
        fields: &[&str],
    ) -> OutboxRecord {
        let id = CitizenId::new();
        let citizen = json!({"id": id, "team_id": TeamId::new(), "full_name": "Vi Thị Mẩy",
            "gender": "female", "birth_year": 1961, "birth_date": "1961-04-03",
            "village": "Bản Khằm", "commune_code": "14758", "phone": "0912345678",
            "cccd": null, "groups": [], "note": null,
            "consent": {"given": true, "date": "2026-11-20", "recorded_by": "Lê Thị Hoa"}});
        let mut payload = erasure::forget_payload(citizen);
        payload_change(&mut payload);
        let device = DeviceId::new();
        OutboxRecord {
            record_id: RecordId::new(),
            device_id: device,
            seq: 1,
            hlc: Hlc::zero(device).tick(1),
            entity: Entity::Citizen,
            entity_id: id.to_string(),
            op: Operation::Upsert,
            fields: fields.iter().map(|f| f.to_string()).collect(),
            payload_version: 1,
            payload,
        }
    }

    #[test]
    fn a_nul_is_told_from_the_text_backslash_u0000() {
        let json = |v: serde_json::Value| v.to_string();
        assert!(escapes_nul(&json(json!({"note": "a\u{0}b"}))));
        assert!(escapes_nul(&json(json!({"k\u{0}": 1}))));
        assert!(escapes_nul(&json(json!({"note": "\\\u{0}"}))));
        assert!(!escapes_nul(&json(json!({"note": "\\u0000"}))));
        assert!(!escapes_nul(&json(json!({"note": "u0000 \\\\u0000"}))));
    }

    #[test]
    fn a_forget_passes_only_in_its_own_shape() {
        let all = erasure::forget_fields();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert!(check_record(&forget(|_| {}, &all)).is_ok());
        // Carrying a personal value, changing a field that is not personal, undoing a forget,
        // or naming `_forgotten` without setting it: set aside.
        let smuggled = forget(|p| p["phone"] = json!("0912345678"), &all);
        let widened = forget(|_| {}, &["_forgotten", "village"]);
        let undone = forget(|p| p["_forgotten"] = json!(false), &all);
        let unnamed = forget(|_| {}, &["full_name"]);
        let mut sneaky = forget(
            |p| {
                p.as_object_mut().unwrap().remove("_forgotten");
            },
            &all,
        );
        sneaky.payload["phone"] = json!("0912345678");
        for record in [smuggled, widened, undone, unnamed, sneaky] {
            let problem = check_record(&record).unwrap_err();
            assert!(problem.reason.contains("xóa thông tin"), "{problem:?}");
        }
    }

    #[test]
    fn a_delete_may_name_only_a_pointer_to_another_person() {
        let delete = |change: fn(&mut serde_json::Value, &str), fields: &[&str]| {
            let mut record = forget(|_| {}, fields);
            record.op = Operation::Delete;
            record.payload.as_object_mut().unwrap().remove("_forgotten");
            let own = record.entity_id.clone();
            change(&mut record.payload, &own);
            record
        };
        let to_other: fn(&mut serde_json::Value, &str) =
            |p, _| p["merged_into"] = json!(CitizenId::new());
        assert!(
            check_record(&delete(|_, _| {}, &[])).is_ok(),
            "a plain delete"
        );
        assert!(check_record(&delete(to_other, &["merged_into"])).is_ok());
        // Reviving with unchecked values, moving team, pointing to itself or to nobody: set aside.
        let revive = delete(
            |p, _| p["_deleted"] = json!(false),
            &["_deleted", "consent", "phone"],
        );
        let other_field = delete(to_other, &["merged_into", "team_id"]);
        let to_itself = delete(|p, own| p["merged_into"] = json!(own), &["merged_into"]);
        let to_nobody = delete(|_, _| {}, &["merged_into"]);
        for record in [revive, other_field, to_itself, to_nobody] {
            let problem = check_record(&record).unwrap_err();
            assert!(problem.reason.contains("gộp vào"), "{problem:?}");
        }
    }
}
