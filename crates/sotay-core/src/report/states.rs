//! Report input from merged entity states: the form in which the laptop and the server both keep
//! synced records, so both feed `build` through here.

use super::{CommuneTarget, ReportInput};
use sotay_protocol::merge::EntityState;
use sotay_protocol::{Entity, Payload, TeamId};
use std::collections::HashMap;

/// Collects report input from merged entity states (`sotay_protocol::merge::EntityState` as
/// JSON, by entity name), as both the laptop and the server store them. Deleted entities and
/// states that do not decode are left out.
pub fn input_from_states<'a>(
    states: impl IntoIterator<Item = (&'a str, &'a str)>,
    team_names: HashMap<TeamId, String>,
    targets: Vec<CommuneTarget>,
) -> ReportInput {
    let mut input = ReportInput {
        team_names,
        targets,
        ..Default::default()
    };
    for (entity, state) in states {
        let (Some(entity), Ok(state)) = (
            Entity::parse(entity),
            serde_json::from_str::<EntityState>(state),
        ) else {
            continue;
        };
        if state.is_deleted() {
            continue;
        }
        match Payload::decode(entity, Payload::current_version(entity), state.payload()) {
            Ok(Payload::Citizen(c)) => {
                input.citizens.insert(c.id, c);
            }
            Ok(Payload::Session(s)) => {
                input.sessions.insert(s.id, s);
            }
            Ok(Payload::Attendance(a)) => input.attendances.push(a),
            Ok(Payload::Team(t)) => {
                input.team_names.entry(t.id).or_insert(t.name);
            }
            _ => {}
        }
    }
    input
}
