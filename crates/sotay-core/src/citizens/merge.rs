//! Merging two records of one person: the kept record takes what only the other one knew, the
//! other one's attendances move to it, and the other one is erased and deleted with a pointer
//! to it. Each
//! step is an ordinary record, so the merge syncs like any edit and every laptop and the server
//! end with one person.

use super::{validate_citizen, CitizenPatch};
use crate::changes::{is_forgotten, record_local};
use crate::error::{CoreError, CoreResult, FieldError};
use crate::sessions::live_attendance;
use crate::store::Store;
use crate::validate::Field;
use sotay_protocol::{AttendanceV2, CitizenId, CitizenV1, Operation, Outcome, Payload, SessionId};

impl Store {
    /// Merges two records of one person, in one transaction, into one with `keep`'s values and
    /// what only `other` knew (groups are joined, notes kept both). The record that remains is
    /// the one with the smaller ID, whichever the volunteer chose, so that two laptops merging
    /// the same pair in opposite directions agree on who remains. The other record's
    /// attendances become the remaining one's (an outcome achieved in either counts as
    /// achieved), and it is erased and deleted, marked as merged into the remaining one.
    /// Returns the remaining person.
    pub fn merge_citizens(&mut self, keep: CitizenId, other: CitizenId) -> CoreResult<CitizenV1> {
        if keep == other {
            return Err(CoreError::Invalid(vec![FieldError {
                field: Field::FullName,
                reason: "không thể gộp một người với chính họ".into(),
                reason_en: "a person cannot be merged with themselves".into(),
            }]));
        }
        let chosen = self.citizen(keep)?;
        let second = self.citizen(other)?;
        for id in [keep, other] {
            if is_forgotten(&self.conn, &id.to_string())? {
                return Err(CoreError::Erased { id: id.to_string() });
            }
        }
        let values = combined(&chosen, &second)?;
        let (kept, merged) = if keep < other {
            (chosen, second)
        } else {
            (second, chosen)
        };
        let (keep, other) = (kept.id, merged.id);
        let updated = CitizenV1 {
            id: kept.id,
            team_id: kept.team_id,
            consent: kept.consent.clone(),
            merged_into: None,
            ..values
        };
        let before = Payload::Citizen(kept.clone()).to_json();
        let after = Payload::Citizen(updated.clone()).to_json();
        let changed = crate::changes::changed_fields(&before, &after);

        let sessions: Vec<SessionId> = self
            .conn
            .prepare_cached("SELECT session_id FROM attendance WHERE citizen_id = ?1")?
            .query_map([other.to_string()], |r| r.get::<_, String>(0))?
            .filter_map(|id| id.map(|id| id.parse().ok()).transpose())
            .collect::<Result<_, _>>()?;

        let tx = self.conn.transaction()?;
        if !changed.is_empty() {
            let payload = Payload::Citizen(updated);
            record_local(&tx, self.device, Operation::Upsert, &payload, &changed)?;
        }
        for session in sessions {
            let Some(moved) = live_attendance(&tx, &format!("{session}/{other}"))? else {
                continue;
            };
            match live_attendance(&tx, &format!("{session}/{keep}"))? {
                Some(mut existing) => {
                    let before = existing.outcomes.clone();
                    for outcome in &moved.outcomes {
                        match existing
                            .outcomes
                            .iter_mut()
                            .find(|o| o.skill == outcome.skill)
                        {
                            Some(o) if o.outcome == Outcome::Achieved => {}
                            Some(o) => o.clone_from(outcome),
                            None => existing.outcomes.push(outcome.clone()),
                        }
                    }
                    if existing.outcomes != before {
                        let payload = Payload::Attendance(existing);
                        record_local(&tx, self.device, Operation::Upsert, &payload, &["outcomes"])?;
                    }
                }
                None => {
                    let payload = Payload::Attendance(AttendanceV2 {
                        citizen_id: keep,
                        ..moved.clone()
                    });
                    record_local(&tx, self.device, Operation::Upsert, &payload, &[])?;
                }
            }
            record_local(
                &tx,
                self.device,
                Operation::Delete,
                &Payload::Attendance(moved),
                &[],
            )?;
        }
        crate::changes::record_merged_away(&tx, self.device, &merged, keep)?;
        tx.commit()?;
        self.citizen(keep)
    }
}

/// The kept person with what only the other record knew.
fn combined(kept: &CitizenV1, other: &CitizenV1) -> CoreResult<CitizenV1> {
    let mut person = kept.clone();
    // A birth date of another year would contradict the kept birth year.
    let same_year = |d: &String| d.starts_with(&format!("{}-", person.birth_year));
    person.birth_date = person
        .birth_date
        .clone()
        .or_else(|| other.birth_date.clone().filter(same_year));
    person.phone = person.phone.or_else(|| other.phone.clone());
    person.cccd = person.cccd.or_else(|| other.cccd.clone());
    for group in &other.groups {
        if !person.groups.contains(group) {
            person.groups.push(*group);
        }
    }
    person.note = match (person.note, &other.note) {
        (Some(a), Some(b)) if a != *b => Some(format!("{a}; {b}")),
        (a, b) => a.or_else(|| b.clone()),
    };
    // The same checks as an edit: the joined note may not grow past what a note may hold.
    validate_citizen(&CitizenPatch::default().apply_to(&person)).map_err(CoreError::Invalid)?;
    Ok(person)
}
