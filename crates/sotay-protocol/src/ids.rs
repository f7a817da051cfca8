//! Typed identifiers. Every ID is a UUIDv7 so that IDs minted offline on different laptops never
//! collide and still sort roughly by creation time.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! new_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS)]
        #[serde(transparent)]
        #[ts(type = "string")]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered ID.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self)
            }
        }
    };
}

new_id!(
    /// A citizen in the register.
    CitizenId
);
new_id!(
    /// A teaching session.
    SessionId
);
new_id!(
    /// One laptop (or other client install); owner of one outbox sequence.
    DeviceId
);
new_id!(
    /// A volunteer team.
    TeamId
);
new_id!(
    /// A volunteer, member of a team.
    VolunteerId
);
new_id!(
    /// One change record in an outbox; unique across all devices.
    RecordId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let id = CitizenId::new();
        let back: CitizenId = id.to_string().parse().unwrap();
        assert_eq!(id, back);
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = SessionId::new();
        let b = SessionId::new();
        assert!(a < b);
    }
}
