//! Teaching sessions: recording a session with its skills, attendance and per-skill outcomes, and
//! reading sessions back. A session and each attendance are separate outbox records, so a later
//! change to one attendee syncs as one small record.

use crate::changes::record_local;
use crate::citizens::{citizen_at, sort_by_given_name, CITIZEN_COLUMNS};
use crate::error::{CoreError, CoreResult, FieldError};
use crate::refdata::SkillCatalogue;
use crate::store::{enum_col, json_col, parse_col, Store};
use crate::text;
use crate::validate::{self, Field};
use rusqlite::OptionalExtension;
use serde::Serialize;
use sotay_protocol::{
    AttendanceV2, CitizenId, CitizenV1, Entity, Operation, Outcome, Payload, SessionId, SessionV1,
    SkillOutcomeV2, VolunteerId,
};
use std::collections::HashMap;

#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct AttendeeInput {
    pub citizen_id: CitizenId,
    /// Skill codes this person achieved; every other skill of the session counts as taught.
    #[serde(default)]
    pub achieved: Vec<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct SessionInput {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM`.
    pub time: Option<String>,
    pub place: String,
    pub village: Option<String>,
    pub skills: Vec<String>,
    /// Leading volunteers; empty means the volunteer using this laptop.
    pub volunteers: Vec<VolunteerId>,
    pub note: Option<String>,
    pub attendees: Vec<AttendeeInput>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SkillRef {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Attendee {
    pub citizen: CitizenV1,
    pub present: bool,
    pub outcomes: Vec<SkillOutcomeV2>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SessionDetail {
    pub session: SessionV1,
    pub volunteer_names: Vec<String>,
    pub skills: Vec<SkillRef>,
    /// In class-list order.
    pub attendees: Vec<Attendee>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SessionSummary {
    pub id: SessionId,
    pub date: String,
    pub time: Option<String>,
    pub place: String,
    pub skills: Vec<String>,
    pub attendees: u64,
    pub achieved: u64,
}

/// One attendee of a checked session form and their outcome for each of the session's skills.
type AttendeeOutcomes = (CitizenId, Vec<SkillOutcomeV2>);

impl From<&SessionDetail> for SessionInput {
    /// The form that records the session as it stands: the starting point of a correction.
    fn from(detail: &SessionDetail) -> Self {
        let s = &detail.session;
        SessionInput {
            date: s.date.clone(),
            time: s.time.clone(),
            place: s.place.clone(),
            village: s.village.clone(),
            skills: s.skills.clone(),
            volunteers: s.volunteers.clone(),
            note: s.note.clone(),
            attendees: detail
                .attendees
                .iter()
                .map(|a| AttendeeInput {
                    citizen_id: a.citizen.id,
                    achieved: a
                        .outcomes
                        .iter()
                        .filter(|o| o.outcome == Outcome::Achieved)
                        .map(|o| o.skill.clone())
                        .collect(),
                })
                .collect(),
        }
    }
}

fn skill_ref(catalogue: &SkillCatalogue, code: &str) -> SkillRef {
    match catalogue.skill(code) {
        Some(s) => SkillRef {
            code: s.code.clone(),
            name_vi: s.name_vi.clone(),
            name_en: s.name_en.clone(),
        },
        None => SkillRef {
            code: code.to_owned(),
            name_vi: code.to_owned(),
            name_en: code.to_owned(),
        },
    }
}

/// The `session` columns [`session_from_row`] reads, in its order.
pub(crate) const SESSION_COLUMNS: &str =
    "id, team_id, date, time, place, village, commune_code, volunteers, note";

/// A session from its row (`SESSION_COLUMNS`); its skills are in `session_skill`, left empty.
pub(crate) fn session_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionV1> {
    Ok(SessionV1 {
        id: parse_col(r, 0)?,
        team_id: parse_col(r, 1)?,
        date: r.get(2)?,
        time: r.get(3)?,
        place: r.get(4)?,
        village: r.get(5)?,
        commune_code: r.get(6)?,
        volunteers: json_col(r, 7)?,
        skills: Vec::new(),
        note: r.get(8)?,
    })
}

impl Store {
    /// Records a session and its attendance in one transaction.
    pub fn add_session(&mut self, input: SessionInput) -> CoreResult<SessionDetail> {
        let (session, attendees) = self.checked_session(&input, SessionId::new(), &[], &[])?;
        let tx = self.conn.transaction()?;
        let session_payload = Payload::Session(session.clone());
        record_local(&tx, self.device, Operation::Upsert, &session_payload, &[])?;
        for (citizen_id, outcomes) in attendees {
            let attendance = Payload::Attendance(AttendanceV2 {
                session_id: session.id,
                citizen_id,
                present: true,
                outcomes,
            });
            record_local(&tx, self.device, Operation::Upsert, &attendance, &[])?;
        }
        tx.commit()?;
        self.session(session.id)
    }

    /// Corrects a past session: its details, who came and what each reached, in one
    /// transaction. Only what changed is recorded, so a correction syncs as edits: a changed
    /// field of the session, an attendance added, removed (a tombstone) or with other outcomes.
    /// An outcome that stays achieved keeps who confirmed it and when.
    pub fn edit_session(
        &mut self,
        id: SessionId,
        input: SessionInput,
    ) -> CoreResult<SessionDetail> {
        let before = self.session(id)?;
        // Someone already on the list stays valid even if their record has since been merged
        // into another (a teammate recorded them before hearing of the merge).
        let attending: Vec<CitizenId> = before.attendees.iter().map(|a| a.citizen.id).collect();
        let (session, attendees) =
            self.checked_session(&input, id, &before.session.volunteers, &attending)?;
        let old_json = Payload::Session(before.session.clone()).to_json();
        let new_json = Payload::Session(session.clone()).to_json();
        let changed = crate::changes::changed_fields(&old_json, &new_json);
        let tx = self.conn.transaction()?;
        if !changed.is_empty() {
            let payload = Payload::Session(session.clone());
            record_local(&tx, self.device, Operation::Upsert, &payload, &changed)?;
        }
        for (citizen_id, mut outcomes) in attendees {
            let old = before.attendees.iter().find(|a| a.citizen.id == citizen_id);
            if let Some(old) = old {
                for outcome in outcomes.iter_mut() {
                    if let Some(kept) = old
                        .outcomes
                        .iter()
                        .find(|o| o.skill == outcome.skill && o.outcome == outcome.outcome)
                    {
                        outcome.clone_from(kept);
                    }
                }
            }
            let fields: &[&str] = match old {
                Some(old) if old.present && old.outcomes == outcomes => continue,
                Some(old) if old.present => &["outcomes"],
                _ => &[],
            };
            let attendance = Payload::Attendance(AttendanceV2 {
                session_id: id,
                citizen_id,
                present: true,
                outcomes,
            });
            record_local(&tx, self.device, Operation::Upsert, &attendance, fields)?;
        }
        for gone in before
            .attendees
            .iter()
            .filter(|a| !input.attendees.iter().any(|i| i.citizen_id == a.citizen.id))
        {
            let attendance = Payload::Attendance(AttendanceV2 {
                session_id: id,
                citizen_id: gone.citizen.id,
                present: gone.present,
                outcomes: gone.outcomes.clone(),
            });
            record_local(&tx, self.device, Operation::Delete, &attendance, &[])?;
        }
        tx.commit()?;
        self.session(id)
    }

    /// Validates a session form: the session it describes (with `id`) and each attendee's
    /// outcomes, or every problem found, by field. No volunteers named means `keep`, or the
    /// volunteer using this laptop when there is nothing to keep. People `attending` already
    /// need not be in the register any more.
    fn checked_session(
        &self,
        input: &SessionInput,
        id: SessionId,
        keep: &[VolunteerId],
        attending: &[CitizenId],
    ) -> CoreResult<(SessionV1, Vec<AttendeeOutcomes>)> {
        let team = self.team()?;
        let mut errors: Vec<FieldError> = Vec::new();
        let mut fail = |field, reason: String, reason_en: String| {
            errors.push(FieldError {
                field,
                reason,
                reason_en,
            })
        };
        let date = validate::iso_date(&input.date, Field::Date);
        // A form's empty time field means "no time", not a time that fails to parse.
        let time = input
            .time
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(validate::clock_time)
            .transpose();
        let place = validate::required(&input.place, Field::Place);
        let mut skill_codes: Vec<String> = Vec::new();
        let catalogue = self.catalogue()?;
        for code in &input.skills {
            let code = code.trim();
            if catalogue.skill(code).is_none() {
                fail(
                    Field::Skills,
                    format!("mã kỹ năng “{code}” không có trong danh mục (xem `sotay skill list`)"),
                    format!("there is no skill with the code “{code}” (see `sotay skill list`)"),
                );
            } else if !skill_codes.iter().any(|c| c == code) {
                skill_codes.push(code.to_owned());
            }
        }
        if input.skills.is_empty() {
            fail(
                Field::Skills,
                "cần ít nhất một kỹ năng được hướng dẫn".into(),
                "tick at least one skill taught".into(),
            );
        }
        let volunteers = if !input.volunteers.is_empty() {
            input.volunteers.clone()
        } else if !keep.is_empty() {
            keep.to_vec()
        } else {
            team.current_volunteer.into_iter().collect()
        };
        for v in &volunteers {
            if !team.volunteers.iter().any(|t| t.id == *v) {
                fail(
                    Field::Volunteer,
                    format!("tình nguyện viên “{v}” không thuộc đội"),
                    format!("the volunteer “{v}” is not in the team"),
                );
            }
        }
        let mut attendees: Vec<AttendeeOutcomes> = Vec::new();
        for a in &input.attendees {
            if attendees.iter().any(|(id, _)| *id == a.citizen_id) {
                fail(
                    Field::Attendee,
                    format!("“{}” được điểm danh hai lần", a.citizen_id),
                    format!("“{}” is marked present twice", a.citizen_id),
                );
                continue;
            }
            let registered =
                || !matches!(self.citizen(a.citizen_id), Err(CoreError::NotFound { .. }));
            if !attending.contains(&a.citizen_id) && !registered() {
                fail(
                    Field::Attendee,
                    format!("không có người dân mã “{}”", a.citizen_id),
                    format!("there is no citizen “{}”", a.citizen_id),
                );
                continue;
            }
            for code in &a.achieved {
                if !skill_codes.iter().any(|c| c == code) {
                    fail(
                        Field::Skills,
                        format!(
                            "“{code}” (đạt được của {}) không nằm trong các kỹ năng của buổi",
                            a.citizen_id
                        ),
                        format!(
                            "“{code}” (achieved by {}) is not one of the session's skills",
                            a.citizen_id
                        ),
                    );
                }
            }
            let outcomes = skill_codes
                .iter()
                .map(|code| SkillOutcomeV2 {
                    skill: code.clone(),
                    outcome: if a.achieved.iter().any(|c| c == code) {
                        Outcome::Achieved
                    } else {
                        Outcome::Taught
                    },
                    confirmed_by: None,
                    confirmed_on: None,
                })
                .collect();
            attendees.push((a.citizen_id, outcomes));
        }
        let (date, time, place) = match (date, time, place) {
            (Ok(d), Ok(t), Ok(p)) if errors.is_empty() => (d, t, p),
            (d, t, p) => {
                errors.extend(d.err());
                errors.extend(t.err());
                errors.extend(p.err());
                return Err(CoreError::Invalid(errors));
            }
        };
        let session = SessionV1 {
            id,
            team_id: team.team.id,
            date: date.to_string(),
            time,
            place,
            village: input
                .village
                .as_deref()
                .map(text::normalize)
                .filter(|v| !v.is_empty()),
            commune_code: team.team.commune_code.clone(),
            volunteers,
            skills: skill_codes,
            note: input
                .note
                .as_deref()
                .map(text::normalize)
                .filter(|n| !n.is_empty()),
        };
        Ok((session, attendees))
    }

    pub fn session(&self, id: SessionId) -> CoreResult<SessionDetail> {
        let session = self
            .conn
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM session WHERE id = ?1 AND deleted = 0"),
                [id.to_string()],
                session_from_row,
            )
            .optional()?
            .ok_or_else(|| CoreError::NotFound {
                what: "buổi hướng dẫn",
                id: id.to_string(),
            })?;
        let mut session = session;
        let mut stmt = self.conn.prepare_cached(
            "SELECT skill_code FROM session_skill WHERE session_id = ?1 ORDER BY rowid",
        )?;
        session.skills = stmt
            .query_map([id.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;

        let team = self.team()?;
        let volunteer_names = session
            .volunteers
            .iter()
            .map(|v| {
                team.volunteers
                    .iter()
                    .find(|t| t.id == *v)
                    .map_or_else(|| v.to_string(), |t| t.name.clone())
            })
            .collect();

        let mut outcomes: HashMap<CitizenId, Vec<SkillOutcomeV2>> = HashMap::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT citizen_id, skill_code, outcome, confirmed_by, confirmed_on
             FROM outcome WHERE session_id = ?1",
        )?;
        let rows = stmt.query_map([id.to_string()], |r| {
            Ok((
                parse_col::<CitizenId>(r, 0)?,
                SkillOutcomeV2 {
                    skill: r.get(1)?,
                    outcome: enum_col(r, 2)?,
                    confirmed_by: r.get(3)?,
                    confirmed_on: r.get(4)?,
                },
            ))
        })?;
        for row in rows {
            let (citizen, outcome) = row?;
            outcomes.entry(citizen).or_default().push(outcome);
        }
        let sql = format!(
            "SELECT a.present, {CITIZEN_COLUMNS} FROM attendance a
             JOIN citizen c ON c.id = a.citizen_id WHERE a.session_id = ?1"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows: Vec<(bool, CitizenV1)> = stmt
            .query_map([id.to_string()], |r| Ok((r.get(0)?, citizen_at(r, 1)?)))?
            .collect::<Result<_, _>>()?;
        let mut citizens: Vec<CitizenV1> = rows.iter().map(|(_, c)| c.clone()).collect();
        sort_by_given_name(&mut citizens);
        let order: HashMap<CitizenId, usize> = citizens
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        rows.sort_by_key(|(_, c)| order[&c.id]);
        let attendees = rows
            .into_iter()
            .map(|(present, citizen)| {
                let mut outcomes = outcomes.remove(&citizen.id).unwrap_or_default();
                outcomes.sort_by_key(|o| session.skills.iter().position(|s| *s == o.skill));
                Attendee {
                    citizen,
                    present,
                    outcomes,
                }
            })
            .collect();
        Ok(SessionDetail {
            skills: {
                let catalogue = self.catalogue()?;
                session
                    .skills
                    .iter()
                    .map(|c| skill_ref(&catalogue, c))
                    .collect()
            },
            session,
            volunteer_names,
            attendees,
        })
    }

    /// All sessions, newest first, with attendance and achievement counts.
    pub fn sessions(&self) -> CoreResult<Vec<SessionSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.id, s.date, s.time, s.place,
                    (SELECT json_group_array(skill_code) FROM session_skill k WHERE k.session_id = s.id),
                    (SELECT COUNT(*) FROM attendance a WHERE a.session_id = s.id AND a.present = 1),
                    (SELECT COUNT(*) FROM outcome o WHERE o.session_id = s.id AND o.outcome = 'achieved')
             FROM session s WHERE s.deleted = 0
             ORDER BY s.date DESC, s.time DESC, s.id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SessionSummary {
                id: parse_col(r, 0)?,
                date: r.get(1)?,
                time: r.get(2)?,
                place: r.get(3)?,
                skills: json_col(r, 4)?,
                attendees: r.get::<_, i64>(5)? as u64,
                achieved: r.get::<_, i64>(6)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// What one person was taught at one session and what they reached, with who confirmed an
/// outcome reached later.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct OutcomeDetail {
    pub skill: SkillRef,
    pub outcome: Outcome,
    pub confirmed_by: Option<String>,
    /// `YYYY-MM-DD`.
    pub confirmed_on: Option<String>,
}

/// A session a person attended.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AttendedSession {
    pub session_id: SessionId,
    pub date: String,
    pub time: Option<String>,
    pub place: String,
    pub present: bool,
    pub outcomes: Vec<OutcomeDetail>,
}

/// A person and every session they attended, newest first.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct CitizenHistory {
    pub citizen: CitizenV1,
    pub sessions: Vec<AttendedSession>,
}

/// The records a person's history gathers: their own, and any merged into it (attendances a
/// teammate recorded for the merged record before hearing of the merge).
const SELF_AND_MERGED: &str = "SELECT ?1 UNION SELECT entity_id FROM entity_state
     WHERE entity = 'citizen' AND json_extract(state, '$.fields.merged_into') = ?1";

impl Store {
    /// The person's record and their sessions, skills taught and outcomes, newest first.
    pub fn citizen_history(&self, id: CitizenId) -> CoreResult<CitizenHistory> {
        let citizen = self.citizen(id)?;
        let catalogue = self.catalogue()?;
        let mut outcomes: HashMap<String, Vec<OutcomeDetail>> = HashMap::new();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT session_id, skill_code, outcome, confirmed_by, confirmed_on FROM outcome
             WHERE citizen_id IN ({SELF_AND_MERGED})"
        ))?;
        let rows = stmt.query_map([id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                enum_col::<Outcome>(r, 2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })?;
        for row in rows {
            let (session, skill, outcome, confirmed_by, confirmed_on) = row?;
            outcomes.entry(session).or_default().push(OutcomeDetail {
                skill: skill_ref(&catalogue, &skill),
                outcome,
                confirmed_by,
                confirmed_on,
            });
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT s.id, s.date, s.time, s.place, a.present,
                    (SELECT json_group_array(skill_code) FROM session_skill k
                      WHERE k.session_id = s.id)
             FROM attendance a JOIN session s ON s.id = a.session_id
             WHERE a.citizen_id IN ({SELF_AND_MERGED}) AND s.deleted = 0
             ORDER BY s.date DESC, s.time DESC, s.id"
        ))?;
        let mut sessions = stmt
            .query_map([id.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    parse_col::<SessionId>(r, 0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    json_col::<Vec<String>>(r, 5)?,
                ))
            })?
            .map(|row| {
                let (key, session_id, date, time, place, present, skills) = row?;
                let mut outcomes = outcomes.remove(&key).unwrap_or_default();
                outcomes.sort_by_key(|o| skills.iter().position(|s| *s == o.skill.code));
                Ok(AttendedSession {
                    session_id,
                    date,
                    time,
                    place,
                    present,
                    outcomes,
                })
            })
            .collect::<CoreResult<Vec<_>>>()?;
        // Listed under both records (merged and kept): once, with every outcome.
        sessions.dedup_by_key(|s| s.session_id);
        Ok(CitizenHistory { citizen, sessions })
    }

    /// Marks a skill taught at a session as achieved later (the person activated VNeID at home
    /// the next day), saying who confirmed it and on which day (`YYYY-MM-DD`). One change of
    /// the attendance's outcomes, which syncs; an outcome already achieved stays as it was.
    pub fn mark_achieved(
        &mut self,
        citizen: CitizenId,
        session: SessionId,
        skill: &str,
        confirmed_by: &str,
        confirmed_on: &str,
    ) -> CoreResult<CitizenHistory> {
        let mut errors = Vec::new();
        let by = validate::required(confirmed_by, Field::Volunteer).map_err(|e| errors.push(e));
        let on = validate::iso_date(confirmed_on, Field::Date).map_err(|e| errors.push(e));
        let (Ok(by), Ok(on)) = (by, on) else {
            return Err(CoreError::Invalid(errors));
        };
        let key = format!("{session}/{citizen}");
        let not_attended = || CoreError::NotFound {
            what: "buổi hướng dẫn",
            id: key.clone(),
        };
        // The attendance is the person's own, or one recorded for a record merged into them.
        let records: Vec<String> = self
            .conn
            .prepare_cached(SELF_AND_MERGED)?
            .query_map([citizen.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut found = None;
        for record in records {
            found = live_attendance(&self.conn, &format!("{session}/{record}"))?;
            if found.is_some() {
                break;
            }
        }
        let mut attendance = found.ok_or_else(not_attended)?;
        let Some(outcome) = attendance.outcomes.iter_mut().find(|o| o.skill == skill) else {
            return Err(CoreError::Invalid(vec![FieldError {
                field: Field::Skills,
                reason: format!("kỹ năng “{skill}” không được dạy ở buổi này"),
                reason_en: format!("the skill “{skill}” was not taught at this session"),
            }]));
        };
        if outcome.outcome != Outcome::Achieved {
            outcome.outcome = Outcome::Achieved;
            outcome.confirmed_by = Some(by);
            outcome.confirmed_on = Some(on.to_string());
            let tx = self.conn.transaction()?;
            record_local(
                &tx,
                self.device,
                Operation::Upsert,
                &Payload::Attendance(attendance),
                &["outcomes"],
            )?;
            tx.commit()?;
        }
        self.citizen_history(citizen)
    }
}

/// The attendance `key` (`session_id/citizen_id`) as this laptop holds it, unless deleted.
pub(crate) fn live_attendance(
    conn: &rusqlite::Connection,
    key: &str,
) -> CoreResult<Option<AttendanceV2>> {
    let Some(state) = crate::changes::stored_state(conn, Entity::Attendance, key)? else {
        return Ok(None);
    };
    if state.is_deleted() {
        return Ok(None);
    }
    match Payload::decode(
        Entity::Attendance,
        Payload::current_version(Entity::Attendance),
        state.payload(),
    ) {
        Ok(Payload::Attendance(a)) => Ok(Some(a)),
        _ => Ok(None),
    }
}
