//! TypeScript types for the web front end, generated from the Rust types that cross the Tauri
//! boundary, so the UI cannot drift from the core (a hand-copied form type once lost a citizen's
//! groups). `ui/src/lib/bindings.ts` is this output; a test fails when it is stale, and
//! `SOTAY_UPDATE_BINDINGS=1 cargo test -p sotay-application --test bindings` rewrites it.

use ts_rs::{Config, TS};

macro_rules! declarations {
    ($cfg:expr; $($ty:ty),* $(,)?) => {
        vec![$(format!("export {}", <$ty as TS>::decl($cfg))),*]
    };
}

/// The whole `bindings.ts` file.
pub fn typescript() -> String {
    use sotay_core::*;
    use sotay_protocol::*;
    let cfg = &Config::default();
    let declarations = declarations![cfg;
        CitizenId, SessionId, TeamId, VolunteerId, DeviceId,
        Gender, Group, Organisation, Outcome,
        ConsentV1, CitizenV1, SessionV1, SkillOutcomeV2, TeamV1, VolunteerV1,
        CitizenInput, CitizenPatch, CitizenPage, AddedCitizen, citizens::DuplicateMatch, DuplicateReason,
        DuplicateGroup,
        ImportReport, ImportConsent, import::RowError, import::MatchedRow,
        SessionInput, AttendeeInput, SessionDetail, sessions::Attendee, sessions::SkillRef,
        SessionSummary, sheet::SheetOptions, CitizenHistory, AttendedSession, OutcomeDetail,
        NewTeam, TeamInfo, outbox::OutboxStatus, outbox::EntityCount,
        refdata::SkillCatalogue, refdata::SkillGroup, refdata::Skill, refdata::SkillKind,
        refdata::Province, refdata::Commune,
        SyncStatus, ConflictEntry, BundleSummary, sotay_sync::SyncProgress, sotay_sync::SyncSummary,
        FieldError, validate::Field,
        report::Report, report::Counts, report::BreakdownRow, report::BreakdownTable,
        report::Breakdown, report::TargetProgress,
        crate::Overview, crate::Drive, crate::ErrorPayload, crate::WrittenFile, crate::LocalSettings, crate::WrittenReport,
        crate::PrintedSheet, crate::ReportFormat, serde_json::Value,
    ];
    let mut out = String::from(
        "// Generated from the Rust types by sotay-application (src/bindings.rs); do not edit.\n\
         // Regenerate: SOTAY_UPDATE_BINDINGS=1 cargo test -p sotay-application --test bindings\n\n",
    );
    for declaration in declarations {
        // ts-rs writes 64-bit integers as `bigint`; over Tauri's JSON IPC they arrive as plain
        // numbers (every count and size here stays far below 2^53).
        out.push_str(&declaration.replace("bigint", "number"));
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
