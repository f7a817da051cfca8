//! Report input from merged entity states: the form in which the laptop and the server both keep
//! synced records, so both feed `build` through here.

use super::{CommuneTarget, ReportInput};
use sotay_protocol::{
    AttendanceV2, CitizenId, CitizenV1, Entity, SessionId, SessionV1, TeamId, TeamV1,
};
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
        let Some(entity) = Entity::parse(entity) else {
            continue;
        };
        // Each state is read straight into what the report needs: first whether it is live,
        // then its payload's own type. Building a JSON tree, its per-field clocks and a copy of
        // its fields first took most of a report's time.
        let Ok(StateOf { fields: live }) = serde_json::from_str::<StateOf<Liveness>>(state) else {
            continue;
        };
        if live.deleted == Some(true) {
            if entity == Entity::Citizen {
                if let Some((id, into)) = merged_from(&live) {
                    merged.insert(id, into);
                }
            }
            continue;
        }
        match entity {
            Entity::Citizen => {
                if let Ok(StateOf { fields: c }) = serde_json::from_str::<StateOf<CitizenV1>>(state)
                {
                    input.citizens.insert(c.id, c);
                }
            }
            Entity::Session => {
                if let Ok(StateOf { fields: s }) = serde_json::from_str::<StateOf<SessionV1>>(state)
                {
                    input.sessions.insert(s.id, s);
                }
            }
            Entity::Attendance => {
                if let Ok(StateOf { fields: a }) =
                    serde_json::from_str::<StateOf<AttendanceV2>>(state)
                {
                    input.attendances.push(a);
                }
            }
            Entity::Team => {
                if let Ok(StateOf { fields: t }) = serde_json::from_str::<StateOf<TeamV1>>(state) {
                    input.team_names.entry(t.id).or_insert(t.name);
                }
            }
            Entity::Volunteer => {}
        }
    }
    count_merged_as_kept(&mut input, &merged);
    input
}

/// A merged state (`{"fields": …, "clocks": …}`), read for its fields only.
#[derive(serde::Deserialize)]
struct StateOf<T> {
    fields: T,
}

/// What decides whether a state counts: its tombstone, and where a merged person went.
#[derive(serde::Deserialize)]
struct Liveness {
    #[serde(rename = "_deleted", default)]
    deleted: Option<bool>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    merged_into: Option<serde_json::Value>,
    #[serde(default)]
    team_id: Option<serde_json::Value>,
}

/// Where a deleted citizen's state says they were merged: (them, (the kept one, their team)).
pub(super) fn merged_citizen(state: &str) -> Option<(CitizenId, (CitizenId, TeamId))> {
    let StateOf { fields: live } = serde_json::from_str::<StateOf<Liveness>>(state).ok()?;
    merged_from(&live)
}

fn merged_from(live: &Liveness) -> Option<(CitizenId, (CitizenId, TeamId))> {
    fn text(v: &Option<serde_json::Value>) -> Option<&str> {
        v.as_ref().and_then(|v| v.as_str())
    }
    let id = text(&live.id)?.parse().ok()?;
    let into = text(&live.merged_into)?.parse().ok()?;
    let team = text(&live.team_id)?.parse().ok()?;
    Some((id, (into, team)))
}

/// An attendance recorded for a person after a teammate merged them into another record, on a
/// laptop that had not yet heard of the merge, counts as the kept person's: once, and only
/// within the merged record's team.
pub(super) fn count_merged_as_kept(
    input: &mut ReportInput,
    merged: &HashMap<CitizenId, (CitizenId, TeamId)>,
) {
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
