//! Report input from the relational tables the laptop's store keeps in step with every change
//! (`citizen`, `session`, and `attendance`, which carries its outcomes: schema 8): narrow rows
//! instead of every merged state's JSON, which took most of a report's time. The server, which
//! keeps only states, reads those (`input_from_states`); both feed the same `build`.

use super::states::{count_merged_as_kept, merged_citizen};
use super::ReportInput;
use crate::citizens::{citizen_from_row, CITIZEN_COLUMNS};
use crate::error::CoreResult;
use crate::sessions::{session_from_row, SESSION_COLUMNS};
use crate::store::{parse_col, Store};
use rusqlite::types::Type;
use sotay_protocol::{AttendanceV2, CitizenId, Outcome, SessionId, SkillOutcomeV2, TeamId};
use std::collections::HashMap;

impl Store {
    pub(crate) fn report_input(&self) -> CoreResult<ReportInput> {
        let mut input = ReportInput {
            targets: self.targets()?,
            ..Default::default()
        };
        let mut stmt = self.conn.prepare("SELECT id, name FROM team")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            input.team_names.insert(parse_col(r, 0)?, r.get(1)?);
        }

        let sql = format!("SELECT {CITIZEN_COLUMNS} FROM citizen c WHERE c.deleted = 0");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let citizen = citizen_from_row(r)?;
            input.citizens.insert(citizen.id, citizen);
        }

        let mut skills: HashMap<SessionId, Vec<String>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT session_id, skill_code FROM session_skill ORDER BY rowid")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            skills.entry(parse_col(r, 0)?).or_default().push(r.get(1)?);
        }
        let sql = format!("SELECT {SESSION_COLUMNS} FROM session WHERE deleted = 0");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let mut session = session_from_row(r)?;
            session.skills = skills.remove(&session.id).unwrap_or_default();
            input.sessions.insert(session.id, session);
        }

        // Attendances with their outcomes, in storage order.
        let mut stmt = self
            .conn
            .prepare("SELECT session_id, citizen_id, present, outcomes FROM attendance")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let text = r.get_ref(3)?.as_str().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(3, Type::Text, Box::new(e))
            })?;
            let outcomes = outcomes_from_column(text).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    3,
                    Type::Text,
                    format!("attendance outcomes {text:?}").into(),
                )
            })?;
            input.attendances.push(AttendanceV2 {
                session_id: parse_col(r, 0)?,
                citizen_id: parse_col(r, 1)?,
                present: r.get(2)?,
                outcomes,
            });
        }

        // People merged into another: where they went, from their (few) merged states.
        let mut merged: HashMap<CitizenId, (CitizenId, TeamId)> = HashMap::new();
        let mut stmt = self.conn.prepare(
            "SELECT s.state FROM entity_state s JOIN citizen c ON c.id = s.entity_id
             WHERE s.entity = 'citizen' AND c.deleted = 1",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            if let Some((id, into)) = merged_citizen(&r.get::<_, String>(0)?) {
                merged.insert(id, into);
            }
        }
        count_merged_as_kept(&mut input, &merged);
        Ok(input)
    }
}

/// An attendance's outcomes as its `outcomes` column holds them (schema 8): per outcome `t`
/// (taught) or `a` (achieved), the skill code's length in bytes, `:`, the code. Length-prefixed
/// because codes arrive from other laptops and may hold any character.
pub(crate) fn outcomes_column(outcomes: &[SkillOutcomeV2]) -> String {
    let mut column = String::new();
    for o in outcomes {
        let mark = match o.outcome {
            Outcome::Taught => 't',
            Outcome::Achieved => 'a',
        };
        column.push(mark);
        column += &o.skill.len().to_string();
        column.push(':');
        column += &o.skill;
    }
    column
}

/// Reads [`outcomes_column`] back: skill and outcome (who confirmed it, and when, the report
/// does not use). None when the text is not in that form.
pub(crate) fn outcomes_from_column(mut column: &str) -> Option<Vec<SkillOutcomeV2>> {
    let mut outcomes = Vec::new();
    while !column.is_empty() {
        let outcome = match column.as_bytes()[0] {
            b't' => Outcome::Taught,
            b'a' => Outcome::Achieved,
            _ => return None,
        };
        let (length, rest) = column[1..].split_once(':')?;
        let length: usize = length.parse().ok()?;
        let skill = rest.get(..length)?;
        outcomes.push(SkillOutcomeV2 {
            skill: skill.to_owned(),
            outcome,
            confirmed_by: None,
            confirmed_on: None,
        });
        column = &rest[length..];
    }
    Some(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_column_reads_back_any_skill_code() {
        let outcome = |skill: &str, outcome| SkillOutcomeV2 {
            skill: skill.into(),
            outcome,
            confirmed_by: Some("Cán bộ xã".into()),
            confirmed_on: Some("2026-11-02".into()),
        };
        let outcomes = vec![
            outcome("VNEID1", Outcome::Achieved),
            outcome("0.1", Outcome::Taught),
            outcome("12:a3:x", Outcome::Taught),
            outcome("Thanh toán QR", Outcome::Achieved),
            outcome("", Outcome::Taught),
        ];
        let column = outcomes_column(&outcomes);
        let read = outcomes_from_column(&column).unwrap();
        let pairs = |v: &[SkillOutcomeV2]| -> Vec<(String, Outcome)> {
            v.iter().map(|o| (o.skill.clone(), o.outcome)).collect()
        };
        assert_eq!(pairs(&read), pairs(&outcomes));
        assert_eq!(outcomes_from_column("").unwrap(), vec![]);
        for broken in ["x3:abc", "t9:abc", "t:abc", "t3abc", "t1:ư", "a-1:"] {
            assert_eq!(outcomes_from_column(broken), None, "{broken}");
        }
    }
}
