//! Types and rules shared by the Sổ Tay client (laptop) and the central server: typed IDs, the
//! hybrid logical clock, the domain enums, the change record that a device appends to its outbox
//! and later syncs, the sync messages, the wire codec (compressed, checksummed bodies; token
//! hashes) and the USB bundle format. Nothing here does I/O, so both sides agree on the bytes by
//! construction.
//!
//! Compatibility rule: a payload struct that has been released is frozen. A change of shape gets a
//! new `*V2` struct and a new `payload_version`; decoders keep accepting every older version.

#![forbid(unsafe_code)]

pub mod bundle;
pub mod erasure;
mod hlc;
mod ids;
pub mod merge;
mod record;
pub mod sync;
pub mod wire;

pub use hlc::{Hlc, HlcParseError, MAX_CLOCK_AHEAD_MS};
pub use ids::{CitizenId, DeviceId, RecordId, SessionId, TeamId, VolunteerId};
pub use record::{
    AttendanceV1, AttendanceV2, CitizenV1, ConsentV1, Entity, Gender, Group, Operation,
    Organisation, OutboxRecord, Outcome, OutgoingRecord, Payload, PayloadError, SessionV1,
    SkillOutcomeV1, SkillOutcomeV2, TeamV1, VolunteerV1,
};

/// Version of the sync protocol spoken by this build. Every request carries it, and a server
/// refuses any other, so a laptop and a server of different builds stop with "update Sổ Tay"
/// and keep their records pending, instead of setting aside what the other cannot read.
/// 2: attendance payloads version 2 (confirmed outcomes) and forgets (`erasure`).
/// 3: a delete may name `merged_into` (a person merged into another), which it then sets.
pub const PROTOCOL_VERSION: u32 = 3;
