//! Report input from merged entity states: the form in which the laptop and the server both keep
//! synced records, so both feed `build` through here.

use super::{CommuneTarget, ReportInput};
use sotay_protocol::merge::EntityState;
use sotay_protocol::{CitizenId, Entity, Payload, SessionId, TeamId};
use std::collections::{HashMap, HashSet};

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
    // Records merged into another: (the kept one, the merged one's team).
    let mut merged: HashMap<CitizenId, (CitizenId, TeamId)> = HashMap::new();
    for (entity, state) in states {
        let (Some(entity), Ok(state)) = (
            Entity::parse(entity),
            serde_json::from_str::<EntityState>(state),
        ) else {
            continue;
        };
        if state.is_deleted() {
            if entity == Entity::Citizen {
                let field = |name: &str| state.fields.get(name).and_then(|v| v.as_str());
                if let (Some(id), Some(into), Some(team)) =
                    (field("id"), field("merged_into"), field("team_id"))
                {
                    if let (Ok(id), Ok(into), Ok(team)) = (id.parse(), into.parse(), team.parse()) {
                        merged.insert(id, (into, team));
                    }
                }
            }
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
    count_merged_as_kept(&mut input, &merged);
    input
}

/// An attendance recorded for a person after a teammate merged them into another record, on a
/// laptop that had not yet heard of the merge, counts as the kept person's: once, and only
/// within the merged record's team.
fn count_merged_as_kept(input: &mut ReportInput, merged: &HashMap<CitizenId, (CitizenId, TeamId)>) {
    if merged.is_empty() {
        return;
    }
    let kept = |mut id: CitizenId| {
        let team = merged.get(&id)?.1;
        // A merge of a merge: bounded, so that a cycle from a hostile device ends.
        for _ in 0..8 {
            match merged.get(&id) {
                Some(&(into, _)) => id = into,
                None => break,
            }
        }
        input
            .citizens
            .get(&id)
            .filter(|c| c.team_id == team)
            .map(|c| c.id)
    };
    let redirected: Vec<(usize, CitizenId)> = input
        .attendances
        .iter()
        .enumerate()
        .filter(|(_, a)| !input.citizens.contains_key(&a.citizen_id))
        .filter_map(|(i, a)| kept(a.citizen_id).map(|k| (i, k)))
        .collect();
    let mut seen: HashSet<(SessionId, CitizenId)> = input
        .attendances
        .iter()
        .map(|a| (a.session_id, a.citizen_id))
        .collect();
    let mut drop = HashSet::new();
    for (i, kept) in redirected {
        let a = &mut input.attendances[i];
        if seen.insert((a.session_id, kept)) {
            a.citizen_id = kept;
        } else {
            drop.insert(i);
        }
    }
    let mut i = 0;
    input.attendances.retain(|_| {
        i += 1;
        !drop.contains(&(i - 1))
    });
}
