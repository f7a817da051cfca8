//! Messages of the sync protocol (HTTP, JSON bodies compressed with zstd). The protocol version
//! travels in the `X-Sotay-Protocol` header of every request and response; see docs/sync.md.

use crate::{DeviceId, OutboxRecord, RecordId, TeamV1, VolunteerV1};
use serde::{Deserialize, Serialize};

/// Header carrying [`crate::PROTOCOL_VERSION`] on every request and response.
pub const PROTOCOL_HEADER: &str = "x-sotay-protocol";

/// On a push sent while the device's earlier batches are still on their way: the last sequence
/// they carry. The server holds such a batch until it stores them, instead of refusing it as a
/// gap; a push without it is checked at once.
pub const FOLLOWS_HEADER: &str = "x-sotay-follows";

/// The most batches a device keeps on their way at once; the server holds as many of one device
/// waiting for their turn.
pub const MAX_BATCHES_IN_FLIGHT: usize = 4;

/// On a push's answer: how long the server spent on it after reading its body (waiting for
/// its turn, storing), in the W3C Server Timing form `app;dur=<milliseconds>`. What is left of
/// the round trip is the link's: the laptop learns from it how fast its link carries bytes
/// (and so how hard to compress). A server that leaves it out is simply not measured.
pub const SERVER_TIMING_HEADER: &str = "server-timing";

/// The [`SERVER_TIMING_HEADER`] value for `spent`.
pub fn server_timing(spent: std::time::Duration) -> String {
    format!("app;dur={:.1}", spent.as_secs_f64() * 1000.0)
}

/// The time a [`SERVER_TIMING_HEADER`] value gives for the `app` metric; None when it holds
/// none, or one that is not a duration an answer could take (negative, not a number, a day
/// or more).
pub fn read_server_timing(value: &str) -> Option<std::time::Duration> {
    value.split(',').find_map(|metric| {
        let mut parts = metric.split(';').map(str::trim);
        if parts.next()? != "app" {
            return None;
        }
        let millis: f64 = parts
            .find_map(|p| p.strip_prefix("dur="))?
            .trim_matches('"')
            .parse()
            .ok()?;
        (millis.is_finite() && (0.0..86_400_000.0).contains(&millis))
            .then(|| std::time::Duration::from_secs_f64(millis / 1000.0))
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub code: String,
    pub device_id: DeviceId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// Secret for `Authorization: Bearer …`; the server keeps only its hash.
    pub device_token: String,
    pub team: TeamV1,
}

/// What the server holds of this device's log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub device_id: DeviceId,
    pub team: TeamV1,
    /// Highest sequence of this device the server has stored; everything up to it is stored.
    pub acked_seq: u64,
    /// The record the server holds at `acked_seq`: a laptop restored from an old copy holds
    /// another record (or none) there, and so learns that it must recover before pushing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_record_id: Option<crate::RecordId>,
    /// The server's clock (Unix milliseconds): laptops judge their own clock by it.
    #[serde(default)]
    pub server_time_ms: u64,
}

/// A page of this device's own records as the server holds them (`GET /v1/own`), for a laptop
/// recovering from an old copy of its database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnRecords {
    pub records: Vec<OutboxRecord>,
    /// Sequences the server set aside (quarantine): held, but not passed back.
    pub set_aside: Vec<QuarantinedRecord>,
    /// Ask again with `after` = the last sequence covered.
    pub next_after: u64,
    pub more: bool,
}

/// A batch of one device's records. The server decodes it with the payloads as values; a
/// laptop sends [`OutgoingRecord`](crate::OutgoingRecord)s, payloads as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRequest<Payload = serde_json::Value> {
    pub device_id: DeviceId,
    /// Consecutive sequence numbers, oldest first.
    pub records: Vec<OutboxRecord<Payload>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PushResponse {
    /// Highest sequence of this device now stored: the client marks everything up to it sent.
    pub acked_seq: u64,
    /// Records stored by this request.
    pub applied: u64,
    /// Records of this request the server already had.
    pub duplicates: u64,
    /// Records of this request set aside because they break the rules: acknowledged (so the
    /// device goes on) but never merged or passed to teammates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<QuarantinedRecord>,
}

/// A record set aside, and why (in Vietnamese and English).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantinedRecord {
    pub seq: u64,
    pub record_id: RecordId,
    pub reason: String,
    pub reason_en: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullResponse {
    /// Records of the team's other devices, in server order.
    pub records: Vec<OutboxRecord>,
    /// Pass back as `cursor` to continue.
    pub next_cursor: u64,
    pub more: bool,
    /// The team as the server knows it, and its roster.
    pub team: TeamV1,
    pub volunteers: Vec<VolunteerV1>,
    /// The server's skill catalogue (JSON, as in `assets/skills.json`) when the client asked
    /// with another version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<serde_json::Value>,
}

/// Body of every refusal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine name: `protocol_version`, `unauthorized`, `revoked`, `forbidden`,
    /// `sequence_gap`, `bad_request`, `too_large`, `internal`, …
    pub kind: String,
    pub message: String,
    /// For `sequence_gap`: the sequence the server expects next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_server_timing_reads_back_and_nonsense_is_no_timing() {
        let spent = Duration::from_micros(57_340);
        let read = read_server_timing(&server_timing(spent)).unwrap();
        assert!(
            read.abs_diff(spent) < Duration::from_micros(100),
            "{read:?}"
        );
        assert_eq!(
            read_server_timing("db;dur=3, app;desc=\"x\";dur=12.5"),
            Some(Duration::from_micros(12_500))
        );
        for nonsense in [
            "",
            "db;dur=3",
            "app",
            "app;dur=",
            "app;dur=-1",
            "app;dur=NaN",
            "app;dur=inf",
            "app;dur=1e12",
        ] {
            assert_eq!(read_server_timing(nonsense), None, "{nonsense}");
        }
    }
}
