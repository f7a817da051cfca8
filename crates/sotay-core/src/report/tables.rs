//! Report input from the relational tables the laptop's store keeps in step with every change
//! (`citizen`, `session`, `attendance`, `outcome`): narrow rows instead of every merged state's
//! JSON, which took most of a report's time. The server, which keeps only states, reads those
//! (`input_from_states`); both feed the same `build`.

use super::states::{count_merged_as_kept, merged_citizen};
use super::{FastMap, ReportInput};
use crate::citizens::{citizen_from_row, CITIZEN_COLUMNS};
use crate::error::CoreResult;
use crate::sessions::{session_from_row, SESSION_COLUMNS};
use crate::store::{enum_col, parse_col, Store};
use rusqlite::types::Type;
use sotay_protocol::{AttendanceV2, CitizenId, SessionId, SkillOutcomeV2, TeamId};
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

        // Attendances, then their outcomes, each table read in its own (storage) order.
        let mut at: FastMap<(SessionId, CitizenId), usize> = FastMap::default();
        let mut stmt = self
            .conn
            .prepare("SELECT session_id, citizen_id, present FROM attendance")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (session_id, citizen_id) = (parse_col(r, 0)?, parse_col(r, 1)?);
            at.insert((session_id, citizen_id), input.attendances.len());
            input.attendances.push(AttendanceV2 {
                session_id,
                citizen_id,
                present: r.get(2)?,
                outcomes: Vec::new(),
            });
        }
        let mut stmt = self.conn.prepare(
            "SELECT session_id, citizen_id, skill_code, outcome, confirmed_by, confirmed_on
             FROM outcome",
        )?;
        let mut rows = stmt.query([])?;
        // An attendance's outcomes are written with it, so they mostly follow one another:
        // the last attendance's key, as stored, spares parsing and hashing it again.
        let mut last: (String, Option<usize>) = (String::new(), None);
        while let Some(r) = rows.next()? {
            let text = |i: usize| -> rusqlite::Result<&str> {
                r.get_ref(i)?.as_str().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e))
                })
            };
            let (session, citizen) = (text(0)?, text(1)?);
            let same = last.0.len() == session.len() + citizen.len()
                && last.0.starts_with(session)
                && last.0.ends_with(citizen);
            if !same {
                let key: (SessionId, CitizenId) = (parse_col(r, 0)?, parse_col(r, 1)?);
                last = (format!("{session}{citizen}"), at.get(&key).copied());
            }
            if let Some(i) = last.1 {
                input.attendances[i].outcomes.push(SkillOutcomeV2 {
                    skill: r.get(2)?,
                    outcome: enum_col(r, 3)?,
                    confirmed_by: r.get(4)?,
                    confirmed_on: r.get(5)?,
                });
            }
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
