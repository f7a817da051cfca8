//! The change record (what a device appends to its outbox and the server stores) and the versioned
//! payloads it carries.

use crate::{CitizenId, DeviceId, Hlc, RecordId, SessionId, TeamId, VolunteerId};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What kind of thing a record changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Team,
    Volunteer,
    Citizen,
    Session,
    Attendance,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Team => "team",
            Entity::Volunteer => "volunteer",
            Entity::Citizen => "citizen",
            Entity::Session => "session",
            Entity::Attendance => "attendance",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "team" => Entity::Team,
            "volunteer" => Entity::Volunteer,
            "citizen" => Entity::Citizen,
            "session" => Entity::Session,
            "attendance" => Entity::Attendance,
            _ => return None,
        })
    }
}

/// Deletes are tombstones: an `Delete` record keeps the entity's ID so every peer can apply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Upsert,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Upsert => "upsert",
            Operation::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "upsert" => Some(Operation::Upsert),
            "delete" => Some(Operation::Delete),
            _ => None,
        }
    }
}

/// One entry of a device's outbox. `(device_id, seq)` is unique and `seq` has no gaps, so a peer
/// knows exactly what it is missing from the highest sequence it holds.
///
/// The payload is decoded JSON wherever a record is read or merged; a laptop sending its
/// outbox passes the JSON it stored straight through ([`OutgoingRecord`]), as the same fields
/// in the same order on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxRecord<Payload = serde_json::Value> {
    pub record_id: RecordId,
    pub device_id: DeviceId,
    pub seq: u64,
    pub hlc: Hlc,
    pub entity: Entity,
    /// The changed entity's ID as text (for attendance: `session_id/citizen_id`).
    pub entity_id: String,
    pub op: Operation,
    /// The payload fields this change sets; empty means all of them (a creation or full upsert).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    pub payload_version: u16,
    /// The payload's JSON; decode with [`Payload::decode`].
    pub payload: Payload,
}

/// A record as a laptop sends it and the server receives it: its payload the JSON text its
/// outbox holds, checked to be JSON but not decoded into a tree of values. Reading a batch of
/// 5,000 into trees of values and writing them out again was a quarter of a first sync's work
/// on the laptop; on the server, most records (full upserts) are checked straight from the text
/// and stored as it ([`Payload::decode_text`]).
pub type OutgoingRecord = OutboxRecord<Box<serde_json::value::RawValue>>;

impl<P> OutboxRecord<P> {
    /// The same record with its payload made into another form.
    pub fn map_payload<Q>(self, into: impl FnOnce(P) -> Q) -> OutboxRecord<Q> {
        OutboxRecord {
            record_id: self.record_id,
            device_id: self.device_id,
            seq: self.seq,
            hlc: self.hlc,
            entity: self.entity,
            entity_id: self.entity_id,
            op: self.op,
            fields: self.fields,
            payload_version: self.payload_version,
            payload: into(self.payload),
        }
    }
}

impl OutboxRecord {
    /// The record with its payload as compact JSON text, as a laptop pushes it.
    pub fn into_outgoing(self) -> OutgoingRecord {
        self.map_payload(|payload| {
            serde_json::value::to_raw_value(&payload).expect("a JSON value writes as JSON")
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Organisation {
    #[cfg_attr(feature = "clap", value(name = "youth"))]
    YouthUnion,
    #[cfg_attr(feature = "clap", value(name = "women"))]
    WomensUnion,
    University,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Gender {
    #[cfg_attr(feature = "clap", value(name = "nam", alias = "male"))]
    Male,
    #[cfg_attr(feature = "clap", value(name = "nu", alias = "female"))]
    Female,
    #[cfg_attr(feature = "clap", value(name = "khac", alias = "other"))]
    Other,
}

/// Groups the movement reports on separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Group {
    Elderly,
    Woman,
    EthnicMinority,
    Disability,
    Youth,
}

/// What a citizen got out of a session for one skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Shown how; not yet done on their own.
    Taught,
    /// Did it (e.g. VNeID level 1 activated on their phone).
    Achieved,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TeamV1 {
    pub id: TeamId,
    pub name: String,
    pub organisation: Organisation,
    pub province_code: String,
    pub commune_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VolunteerV1 {
    pub id: VolunteerId,
    pub team_id: TeamId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConsentV1 {
    pub given: bool,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Who recorded it: a volunteer's name, or "collected on paper by the commune" for imports.
    pub recorded_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CitizenV1 {
    pub id: CitizenId,
    pub team_id: TeamId,
    pub full_name: String,
    pub gender: Gender,
    pub birth_year: i32,
    /// `YYYY-MM-DD` when the full date is known.
    pub birth_date: Option<String>,
    pub village: String,
    pub commune_code: String,
    pub phone: Option<String>,
    pub cccd: Option<String>,
    pub groups: Vec<Group>,
    pub consent: ConsentV1,
    pub note: Option<String>,
    /// Set on the deleted one of two records merged as one person: the one kept. Reports
    /// count an attendance that arrives later for the merged record as the kept one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub merged_into: Option<CitizenId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SessionV1 {
    pub id: SessionId,
    pub team_id: TeamId,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM`, local time.
    pub time: Option<String>,
    pub place: String,
    pub village: Option<String>,
    pub commune_code: String,
    pub volunteers: Vec<VolunteerId>,
    pub skills: Vec<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SkillOutcomeV1 {
    pub skill: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AttendanceV1 {
    pub session_id: SessionId,
    pub citizen_id: CitizenId,
    pub present: bool,
    pub outcomes: Vec<SkillOutcomeV1>,
}

/// A skill's outcome for one person, and for one reached after the session (the person
/// activated VNeID at home the next day), who confirmed it and on which day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SkillOutcomeV2 {
    pub skill: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_on: Option<String>,
}

/// Version 2 of an attendance: outcomes may say who confirmed them and when. Version 1 records
/// decode into it with no confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AttendanceV2 {
    pub session_id: SessionId,
    pub citizen_id: CitizenId,
    pub present: bool,
    pub outcomes: Vec<SkillOutcomeV2>,
}

impl From<AttendanceV1> for AttendanceV2 {
    fn from(v1: AttendanceV1) -> Self {
        Self {
            session_id: v1.session_id,
            citizen_id: v1.citizen_id,
            present: v1.present,
            outcomes: v1
                .outcomes
                .into_iter()
                .map(|o| SkillOutcomeV2 {
                    skill: o.skill,
                    outcome: o.outcome,
                    confirmed_by: None,
                    confirmed_on: None,
                })
                .collect(),
        }
    }
}

/// A decoded payload of any entity at its current version.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Team(TeamV1),
    Volunteer(VolunteerV1),
    Citizen(CitizenV1),
    Session(SessionV1),
    Attendance(AttendanceV2),
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("{entity:?} payload version {version} is not known to this build")]
    UnknownVersion { entity: Entity, version: u16 },
    #[error("{entity:?} payload does not match version {version}: {source}")]
    Malformed {
        entity: Entity,
        version: u16,
        source: serde_json::Error,
    },
}

impl Payload {
    pub fn entity(&self) -> Entity {
        match self {
            Payload::Team(_) => Entity::Team,
            Payload::Volunteer(_) => Entity::Volunteer,
            Payload::Citizen(_) => Entity::Citizen,
            Payload::Session(_) => Entity::Session,
            Payload::Attendance(_) => Entity::Attendance,
        }
    }

    /// The ID the record is about, as stored in [`OutboxRecord::entity_id`].
    pub fn entity_id(&self) -> String {
        match self {
            Payload::Team(t) => t.id.to_string(),
            Payload::Volunteer(v) => v.id.to_string(),
            Payload::Citizen(c) => c.id.to_string(),
            Payload::Session(s) => s.id.to_string(),
            Payload::Attendance(a) => format!("{}/{}", a.session_id, a.citizen_id),
        }
    }

    /// The version this build writes.
    pub fn version(&self) -> u16 {
        Self::current_version(self.entity())
    }

    /// The version this build writes for `entity`; it reads every earlier one too.
    pub fn current_version(entity: Entity) -> u16 {
        match entity {
            Entity::Attendance => 2,
            _ => 1,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Payload::Team(p) => serde_json::to_value(p),
            Payload::Volunteer(p) => serde_json::to_value(p),
            Payload::Citizen(p) => serde_json::to_value(p),
            Payload::Session(p) => serde_json::to_value(p),
            Payload::Attendance(p) => serde_json::to_value(p),
        };
        value.expect("payload structs serialise infallibly")
    }

    /// Decodes a payload without taking (or copying) the JSON: what a check that keeps the
    /// record as it came uses.
    pub fn decode_ref(
        entity: Entity,
        version: u16,
        value: &serde_json::Value,
    ) -> Result<Self, PayloadError> {
        Self::decode_from(entity, version, value)
    }

    /// Decodes a payload straight from its JSON text, without building a tree of values: what
    /// the server does with a batch's full upserts. The text must also read back whole as
    /// values, fields of no struct included: a number out of range or a lone surrogate in a
    /// field nobody decodes would otherwise be stored, and fail every later read of it.
    pub fn decode_text(entity: Entity, version: u16, text: &str) -> Result<Self, PayloadError> {
        let payload = Self::decode_from(entity, version, text)?;
        serde_json::from_str::<ReadsAsValues>(text).map_err(|source| PayloadError::Malformed {
            entity,
            version,
            source,
        })?;
        Ok(payload)
    }

    fn decode_from(
        entity: Entity,
        version: u16,
        json: impl PayloadSource,
    ) -> Result<Self, PayloadError> {
        if version == 0 || version > Self::current_version(entity) {
            return Err(PayloadError::UnknownVersion { entity, version });
        }
        let malformed = |source| PayloadError::Malformed {
            entity,
            version,
            source,
        };
        Ok(match entity {
            Entity::Team => Payload::Team(json.read().map_err(malformed)?),
            Entity::Volunteer => Payload::Volunteer(json.read().map_err(malformed)?),
            Entity::Citizen => Payload::Citizen(json.read().map_err(malformed)?),
            Entity::Session => Payload::Session(json.read().map_err(malformed)?),
            Entity::Attendance if version == 1 => {
                Payload::Attendance(json.read::<AttendanceV1>().map_err(malformed)?.into())
            }
            Entity::Attendance => Payload::Attendance(json.read().map_err(malformed)?),
        })
    }

    pub fn decode(
        entity: Entity,
        version: u16,
        value: serde_json::Value,
    ) -> Result<Self, PayloadError> {
        Self::decode_ref(entity, version, &value)
    }
}

/// Where a payload is decoded from: a tree of values, or its text.
trait PayloadSource {
    fn read<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T>;
}

impl PayloadSource for &serde_json::Value {
    fn read<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        T::deserialize(*self)
    }
}

impl PayloadSource for &str {
    fn read<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self)
    }
}

/// Reads every value of a JSON text as [`serde_json::Value`] would (numbers parsed, strings
/// unescaped), keeping none of them. serde's `IgnoredAny` is not enough: serde_json skips what
/// it ignores by its syntax alone, so `1e400` and a lone `\ud800` would pass.
struct ReadsAsValues;

impl<'de> serde::Deserialize<'de> for ReadsAsValues {
    fn deserialize<D: serde::Deserializer<'de>>(json: D) -> Result<Self, D::Error> {
        json.deserialize_any(ReadsAsValues)
    }
}

impl<'de> serde::de::Visitor<'de> for ReadsAsValues {
    type Value = ReadsAsValues;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<Self, A::Error> {
        while items.next_element::<ReadsAsValues>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut fields: A) -> Result<Self, A::Error> {
        while fields
            .next_entry::<ReadsAsValues, ReadsAsValues>()?
            .is_some()
        {}
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_unknown_versions_are_refused() {
        let p = Payload::Attendance(AttendanceV2 {
            session_id: SessionId::new(),
            citizen_id: CitizenId::new(),
            present: true,
            outcomes: vec![SkillOutcomeV2 {
                skill: "S1".into(),
                outcome: Outcome::Achieved,
                confirmed_by: Some("Lê Thị Hoa".into()),
                confirmed_on: Some("2026-11-21".into()),
            }],
        });
        let json = p.to_json();
        assert_eq!(p.version(), 2);
        assert_eq!(
            Payload::decode(Entity::Attendance, 2, json.clone()).unwrap(),
            p
        );
        // A version 1 attendance (an older laptop's) reads as version 2 without confirmation.
        let Payload::Attendance(v2) = &p else {
            unreachable!()
        };
        let v1 = serde_json::json!({"session_id": v2.session_id, "citizen_id": v2.citizen_id,
            "present": true, "outcomes": [{"skill": "S1", "outcome": "taught"}]});
        let Payload::Attendance(read) = Payload::decode(Entity::Attendance, 1, v1).unwrap() else {
            unreachable!()
        };
        assert_eq!(read.outcomes[0].outcome, Outcome::Taught);
        assert_eq!(read.outcomes[0].confirmed_by, None);
        assert!(matches!(
            Payload::decode(Entity::Attendance, 3, json.clone()),
            Err(PayloadError::UnknownVersion { .. })
        ));
        assert!(matches!(
            Payload::decode(Entity::Citizen, 1, json),
            Err(PayloadError::Malformed { .. })
        ));
    }

    #[test]
    fn a_payload_decodes_from_its_text_as_from_its_values_and_only_if_every_value_reads() {
        let session = SessionId::new();
        let text = format!(
            r#"{{"session_id":"{session}","citizen_id":"{}","present":true,"outcomes":[{{"skill":"S1","outcome":"achieved"}}],"a_later_field":[1,"x"]}}"#,
            CitizenId::new()
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            Payload::decode_text(Entity::Attendance, 2, &text).unwrap(),
            Payload::decode_ref(Entity::Attendance, 2, &value).unwrap()
        );
        // Fields no struct decodes are read all the same: text that could not be read back as
        // values is refused, not stored.
        for unreadable in [r#""a_later_field":1e400"#, r#""a_later_field":"\ud800""#] {
            let text = text.replace(r#""a_later_field":[1,"x"]"#, unreadable);
            assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
            assert!(
                matches!(
                    Payload::decode_text(Entity::Attendance, 2, &text),
                    Err(PayloadError::Malformed { .. })
                ),
                "{unreadable}"
            );
        }
        assert!(matches!(
            Payload::decode_text(Entity::Attendance, 3, &text),
            Err(PayloadError::UnknownVersion { .. })
        ));
    }
}
