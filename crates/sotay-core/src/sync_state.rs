//! The laptop's half of sync, without the network: which server and token it uses, how far it
//! has pulled, the status the user sees, acknowledgements, applying a pulled page, the local half
//! of enrolment (joining or adopting the server's team) and USB bundles. The sync engine
//! (`sotay-sync`) calls these between requests, each one a short transaction, so the store is
//! never held across network I/O.

use crate::changes::{apply_remote, apply_roster, record_local};
use crate::error::{CoreError, CoreResult};
use crate::outbox::{self, now_rfc3339};
use crate::rules;
use crate::store::{Store, TeamInfo};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sotay_protocol::bundle::{self, BundleContent};
use sotay_protocol::merge::EntityState;
use sotay_protocol::sync::QuarantinedRecord;
use sotay_protocol::sync::{EnrollResponse, PullResponse};
use sotay_protocol::{
    DeviceId, Operation, OutboxRecord, Payload, TeamV1, VolunteerId, VolunteerV1, PROTOCOL_VERSION,
};
use sotay_protocol::{Entity, Hlc, RecordId, MAX_CLOCK_AHEAD_MS};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use ts_rs::TS;

/// What a pulled attendance may refer to: this laptop's rows, and records earlier in the page.
struct PageRefs<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    citizens: HashSet<String>,
    sessions: HashSet<String>,
}

impl PageRefs<'_> {
    fn stored(&self, table: &str, id: &str) -> bool {
        self.tx
            .query_row(
                &format!("SELECT 1 FROM {table} WHERE id = ?1 AND deleted = 0"),
                [id],
                |_| Ok(()),
            )
            .optional()
            .ok()
            .flatten()
            .is_some()
    }
}

impl PageRefs<'_> {
    /// A person merged into another: what a teammate recorded for them before hearing of the
    /// merge counts as the kept person's.
    fn merged(&self, citizen: &str) -> bool {
        self.tx
            .query_row(
                "SELECT 1 FROM entity_state WHERE entity = 'citizen' AND entity_id = ?1
                   AND json_extract(state, '$.fields.merged_into') IS NOT NULL",
                [citizen],
                |_| Ok(()),
            )
            .optional()
            .ok()
            .flatten()
            .is_some()
    }
}

impl rules::AttendanceRefs for PageRefs<'_> {
    fn citizen_known(&mut self, id: &str) -> bool {
        self.citizens.contains(id) || self.stored("citizen", id) || self.merged(id)
    }

    fn session_known(&mut self, id: &str) -> bool {
        self.sessions.contains(id) || self.stored("session", id)
    }
}

fn set_aside(
    tx: &rusqlite::Transaction<'_>,
    origin: &str,
    record_id: &str,
    entity: &str,
    entity_id: &str,
    reason: &str,
    reason_en: &str,
) -> CoreResult<()> {
    // A reason may quote a value; a forgotten person's is not kept even there.
    let (reason, reason_en) = if entity == "citizen" && crate::changes::is_forgotten(tx, entity_id)?
    {
        (
            sotay_protocol::erasure::ERASED_REASON,
            sotay_protocol::erasure::ERASED_REASON_EN,
        )
    } else {
        (reason, reason_en)
    };
    tx.execute(
        "INSERT INTO quarantine (origin, record_id, entity, entity_id, reason, reason_en, noted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (origin, record_id) DO NOTHING",
        params![
            origin,
            record_id,
            entity,
            entity_id.chars().take(200).collect::<String>(),
            reason,
            reason_en,
            now_rfc3339()
        ],
    )?;
    Ok(())
}

const META_SERVER: &str = "sync.server";
const META_TOKEN: &str = "sync.token";
/// The fingerprint of the server's certificate, pinned at enrolment (none for http://).
const META_CERTIFICATE: &str = "sync.server_certificate";
/// The team position pulled up to. (Before team positions, `sync.pull_cursor` held a
/// server-wide sequence; a laptop upgraded from then starts again from 0 and merges each record
/// it already has without effect.)
const META_CURSOR: &str = "sync.pull_position";
const META_LAST_SUCCESS: &str = "sync.last_success";
const META_LAST_ERROR: &str = "sync.last_error";
const META_LAST_ATTEMPT: &str = "sync.last_attempt";
/// What the last sync had to tell the volunteer (a recovery from an old copy), both languages.
const META_NOTICE: &str = "sync.notice";
const META_NOTICE_EN: &str = "sync.notice_en";
/// Whether this laptop's clock was found wrong at the last sync, both languages.
const META_CLOCK: &str = "sync.clock_warning";
const META_CLOCK_EN: &str = "sync.clock_warning_en";
/// The server's time when this laptop last restamped records its clock stamped too far ahead.
const META_RESTAMPED_AT: &str = "sync.restamped_at_server_ms";

/// Where this laptop syncs to.
#[derive(Debug, Clone)]
pub struct SyncEndpoint {
    pub server: String,
    pub token: String,
    pub device: DeviceId,
    /// The pinned certificate fingerprint (`https://` servers).
    pub certificate: Option<String>,
}

/// What the next pull asks for.
#[derive(Debug, Clone)]
pub struct PullPosition {
    pub cursor: u64,
    pub catalogue_version: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct SyncStatus {
    /// This laptop's ID on the server: what the admin revokes when it is lost.
    pub device_id: DeviceId,
    pub server: Option<String>,
    /// The server certificate's fingerprint pinned at enrolment, to compare with the one the
    /// administrator has.
    pub certificate: Option<String>,
    pub enrolled: bool,
    pub pending: u64,
    pub last_success: Option<String>,
    pub last_attempt: Option<String>,
    pub last_error: Option<String>,
    /// Records set aside: this laptop's that the server refused, and pulled ones that could not
    /// be applied.
    pub quarantined: u64,
    /// What the last sync had to tell the volunteer, if anything (Vietnamese, English).
    pub notice: Option<String>,
    pub notice_en: Option<String>,
    /// Set while this laptop's clock is (or was, for records it stamped) wrong.
    pub clock_warning: Option<String>,
    pub clock_warning_en: Option<String>,
}

/// What a recovery from an old copy did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recovery {
    /// This device's records made after the copy, brought back from the server.
    pub recovered: u64,
    /// Records made since the restore, renumbered after the server's and sent.
    pub renumbered: u64,
}

/// A value that lost a merge (or that another laptop's change replaced), with what it is about
/// in words, so a volunteer can judge it and put it back.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ConflictEntry {
    /// What `use_lost_value` takes.
    #[ts(type = "number")]
    pub id: i64,
    pub entity: String,
    pub entity_id: String,
    /// Who or what it is about: the citizen's name, or the session's date and place.
    pub subject: String,
    pub field: String,
    pub lost_value: serde_json::Value,
    /// The value that won, as it stands now.
    pub current_value: serde_json::Value,
    /// When the lost value was entered (RFC 3339, from its clock), and whether on this laptop.
    pub lost_at: String,
    pub lost_here: bool,
    pub winner_at: String,
    pub lost_hlc: String,
    pub winner_hlc: String,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct BundleSummary {
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub bytes: u64,
}

impl Store {
    /// The server and token to sync with; `NotEnrolled` before enrolment.
    pub fn sync_endpoint(&self) -> CoreResult<SyncEndpoint> {
        Ok(SyncEndpoint {
            server: self.meta(META_SERVER)?.ok_or(CoreError::NotEnrolled)?,
            token: self.meta(META_TOKEN)?.ok_or(CoreError::NotEnrolled)?,
            device: self.device,
            certificate: self.meta(META_CERTIFICATE)?,
        })
    }

    /// Refuses a second enrolment before any network traffic.
    pub fn ensure_not_enrolled(&self) -> CoreResult<()> {
        match self.meta(META_SERVER)? {
            Some(server) => Err(CoreError::AlreadyEnrolled { server }),
            None => Ok(()),
        }
    }

    pub fn note_sync_attempt(&self) -> CoreResult<()> {
        self.set_meta(META_LAST_ATTEMPT, Some(&now_rfc3339()))
    }

    /// Records how a sync ended, for the status the user sees.
    pub fn note_sync_result(&self, error: Option<&str>) -> CoreResult<()> {
        let tx = self.conn.unchecked_transaction()?;
        if error.is_none() {
            self.set_meta(META_LAST_SUCCESS, Some(&now_rfc3339()))?;
        }
        self.set_meta(META_LAST_ERROR, error)?;
        tx.commit()?;
        Ok(())
    }

    /// Marks every record up to `seq` as held by the server.
    pub fn mark_acked(&self, seq: u64) -> CoreResult<()> {
        outbox::mark_acked(&self.conn, seq)?;
        Ok(())
    }

    pub fn pull_position(&self) -> CoreResult<PullPosition> {
        Ok(PullPosition {
            cursor: self
                .meta(META_CURSOR)?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
            catalogue_version: self.catalogue()?.version.clone(),
        })
    }

    /// Keeps what the server said of records it set aside, for the volunteer to see.
    pub fn note_refused(&mut self, refused: &[QuarantinedRecord]) -> CoreResult<()> {
        let tx = self.conn.transaction()?;
        for q in refused {
            let (entity, entity_id): (String, String) = tx
                .query_row(
                    "SELECT entity, entity_id FROM outbox WHERE record_id = ?1",
                    [q.record_id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .unwrap_or_default();
            set_aside(
                &tx,
                "server",
                &q.record_id.to_string(),
                &entity,
                &entity_id,
                &q.reason,
                &q.reason_en,
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Applies one pulled page in one transaction: the records, the roster, the cursor and a
    /// newer skill catalogue commit together, so an interrupted pull resumes where it stopped.
    /// A record that breaks the rules, or refers to what this laptop does not have, is set aside
    /// (quarantine) and the rest applies; returns how many were set aside.
    pub fn apply_pulled_page(&mut self, page: &PullResponse) -> CoreResult<u64> {
        let catalogue = self.catalogue()?.version.clone();
        let tx = self.conn.transaction()?;
        // Records of one page may refer to each other in any order (an attendance before
        // its session arrives later in the same page); checked at commit.
        tx.pragma_update(None, "defer_foreign_keys", true)?;
        let mut set_aside_count = 0;
        let mut in_page = PageRefs {
            tx: &tx,
            citizens: HashSet::new(),
            sessions: HashSet::new(),
        };
        for record in &page.records {
            let checked = rules::check_record(record).and_then(|payload| {
                if record.op == Operation::Delete {
                    return Ok(());
                }
                rules::check_references(&payload, &mut in_page)
            });
            if let Err(problem) = checked {
                set_aside(
                    &tx,
                    "pulled",
                    &record.record_id.to_string(),
                    record.entity.as_str(),
                    &record.entity_id,
                    &problem.reason,
                    &problem.reason_en,
                )?;
                set_aside_count += 1;
                continue;
            }
            match record.entity {
                Entity::Citizen => in_page.citizens.insert(record.entity_id.clone()),
                Entity::Session => in_page.sessions.insert(record.entity_id.clone()),
                _ => false,
            };
            apply_remote(&tx, record)?;
        }
        apply_roster(&tx, &page.team, &page.volunteers)?;
        crate::store::set_meta_in(&tx, META_CURSOR, Some(&page.next_cursor.to_string()))?;
        // A newer catalogue from the server replaces ours; an older one (a server not yet
        // upgraded) is ignored.
        if let Some(value) = &page.catalogue {
            if let Ok(pulled) =
                serde_json::from_value::<crate::refdata::SkillCatalogue>(value.clone())
            {
                if pulled.is_newer_than(&catalogue) {
                    crate::store::set_meta_in(&tx, "catalogue", Some(&value.to_string()))?;
                }
            }
        }
        tx.commit()?;
        Ok(set_aside_count)
    }

    /// The local half of enrolment, after the server accepted the code: the laptop joins the
    /// server's team; a laptop set up offline with `init_team` keeps all its records, moved to
    /// that team.
    pub fn complete_enrolment(
        &mut self,
        server: &str,
        response: &EnrollResponse,
        volunteer: Option<&str>,
        certificate: Option<&str>,
    ) -> CoreResult<TeamInfo> {
        self.ensure_not_enrolled()?;
        let team = &response.team;
        let local_team = self.team().ok().map(|t| t.team);
        let tx = self.conn.transaction()?;
        match local_team {
            Some(local) if local.id != team.id => adopt_team(&tx, &local, team)?,
            Some(_) => {}
            None => apply_roster(&tx, team, &[])?,
        }
        if let Some(name) = volunteer {
            let name = crate::validate::required(name, crate::validate::Field::Volunteer)?;
            let v = VolunteerV1 {
                id: VolunteerId::new(),
                team_id: team.id,
                name,
            };
            record_local(
                &tx,
                self.device,
                Operation::Upsert,
                &Payload::Volunteer(v.clone()),
                &[],
            )?;
            crate::store::set_meta_in(&tx, "current_volunteer", Some(&v.id.to_string()))?;
        }
        crate::store::set_meta_in(&tx, META_SERVER, Some(server))?;
        crate::store::set_meta_in(&tx, META_TOKEN, Some(&response.device_token))?;
        crate::store::set_meta_in(&tx, META_CERTIFICATE, certificate)?;
        tx.commit()?;
        self.team()
    }

    /// Enrolled again with a new code: after the admin revoked this laptop, or to the team's
    /// server at a new address. Only the same team: a laptop's records never change team.
    /// Everything is sent again, as the server may hold less than this laptop believes; it skips
    /// what it holds, so nothing is lost or counted twice. Pulling goes on from where it was (a
    /// pull from the start would list every older value as a conflict).
    pub fn complete_reenrolment(
        &mut self,
        server: &str,
        response: &EnrollResponse,
        certificate: Option<&str>,
    ) -> CoreResult<TeamInfo> {
        let local = self.team()?.team;
        if local.id != response.team.id {
            return Err(CoreError::OtherTeam {
                code_team: response.team.name.clone(),
                local_team: local.name,
            });
        }
        let tx = self.conn.transaction()?;
        crate::store::set_meta_in(&tx, META_SERVER, Some(server))?;
        crate::store::set_meta_in(&tx, META_TOKEN, Some(&response.device_token))?;
        crate::store::set_meta_in(&tx, META_CERTIFICATE, certificate)?;
        crate::store::set_meta_in(&tx, META_LAST_ERROR, None)?;
        outbox::forget_acks(&tx)?;
        tx.commit()?;
        self.team()
    }

    pub fn sync_status(&self) -> CoreResult<SyncStatus> {
        Ok(SyncStatus {
            device_id: self.device,
            server: self.meta(META_SERVER)?,
            certificate: self.meta(META_CERTIFICATE)?,
            enrolled: self.meta(META_TOKEN)?.is_some(),
            pending: self.pending_count()?,
            last_success: self.meta(META_LAST_SUCCESS)?,
            last_attempt: self.meta(META_LAST_ATTEMPT)?,
            last_error: self.meta(META_LAST_ERROR)?,
            quarantined: self
                .conn
                .query_row("SELECT COUNT(*) FROM quarantine", [], |r| {
                    r.get::<_, i64>(0)
                })? as u64,
            notice: self.meta(META_NOTICE)?,
            notice_en: self.meta(META_NOTICE_EN)?,
            clock_warning: self.meta(META_CLOCK)?,
            clock_warning_en: self.meta(META_CLOCK_EN)?,
        })
    }

    /// Puts right what a wrong clock stamped: this laptop's pending records stamped further
    /// ahead of the server's clock than [`MAX_CLOCK_AHEAD_MS`] are restamped to the server's
    /// time (in their order), in the outbox and in the merged state, so they neither win every
    /// later edit nor drag teammates' clocks; the records themselves are kept. Also notes, for
    /// the volunteer, whether this laptop's clock is wrong now. Returns how many were restamped.
    pub fn correct_clock(&mut self, server_now_ms: u64) -> CoreResult<u64> {
        let local_now = outbox::now_millis();
        let limit = server_now_ms.saturating_add(MAX_CLOCK_AHEAD_MS);
        let tx = self.conn.transaction()?;
        // A device stamps its records in sequence order, so those stamped too far ahead are the
        // last ones: read back from the newest until one is not (reading every pending row
        // decrypted the whole backlog before a sync could start). A restamp breaks that order
        // (what it restamped, and what came after, is stamped below the records before it,
        // up to an hour ahead of the server then), so if the server's clock has since gone
        // back before that restamp, every pending row is read.
        let restamped_at: Option<u64> =
            crate::store::meta_in(&tx, META_RESTAMPED_AT)?.and_then(|v| v.parse().ok());
        let read_all = restamped_at.is_some_and(|at| server_now_ms < at);
        let mut future: Vec<(i64, String, String, String)> = Vec::new();
        {
            let mut newest_first = tx.prepare(
                "SELECT seq, hlc, entity, entity_id FROM outbox
                 WHERE seq > (SELECT upto_seq FROM outbox_acked) ORDER BY seq DESC",
            )?;
            let mut rows = newest_first.query([])?;
            while let Some(row) = rows.next()? {
                let hlc: String = row.get(1)?;
                match hlc.parse::<Hlc>() {
                    Ok(h) if h.millis > limit => {
                        future.push((row.get(0)?, hlc, row.get(2)?, row.get(3)?))
                    }
                    Ok(_) if !read_all => break,
                    _ => continue,
                }
            }
        }
        future.reverse();
        if !future.is_empty() {
            let at = restamped_at.map_or(server_now_ms, |at| at.max(server_now_ms));
            crate::store::set_meta_in(&tx, META_RESTAMPED_AT, Some(&at.to_string()))?;
        }
        let mut stamp = Hlc::zero(self.device).tick(server_now_ms);
        for (seq, old, entity, entity_id) in &future {
            stamp = stamp.tick(server_now_ms);
            tx.execute(
                "UPDATE outbox SET hlc = ?2 WHERE seq = ?1",
                params![seq, stamp.to_string()],
            )?;
            crate::changes::restamp_state(&tx, entity, entity_id, old, &stamp.to_string())?;
        }
        // This device's own clock, if it ran ahead, comes back to the last stamp given.
        let own: Option<Hlc> = tx
            .query_row("SELECT value FROM meta WHERE key = 'hlc'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|s| s.parse().ok());
        if own.is_some_and(|h| h.millis > limit) {
            crate::store::set_meta_in(&tx, "hlc", Some(&stamp.to_string()))?;
        }
        let skew_ms = local_now.abs_diff(server_now_ms);
        let wrong_now = skew_ms > MAX_CLOCK_AHEAD_MS;
        let (vi, en) = if wrong_now || !future.is_empty() {
            let days = skew_ms / 86_400_000;
            let hours = skew_ms / 3_600_000;
            let how_far_vi = if days > 0 {
                format!("{days} ngày")
            } else {
                format!("{hours} giờ")
            };
            let how_far_en = if days > 0 {
                format!("{days} days")
            } else {
                format!("{hours} hours")
            };
            if wrong_now {
                (
                    Some(format!(
                        "Đồng hồ máy này lệch khoảng {how_far_vi} so với máy chủ: hãy chỉnh lại ngày \
                         giờ của máy (Cài đặt → Thời gian). Dữ liệu vẫn được giữ và đồng bộ."
                    )),
                    Some(format!(
                        "This laptop's clock is about {how_far_en} off the server's: set the date \
                         and time right (Settings → Time). The data is kept and synced."
                    )),
                )
            } else {
                (
                    Some(format!(
                        "{} bản ghi trên máy này mang giờ của một đồng hồ sai; đã sửa theo giờ máy \
                         chủ. Hãy kiểm tra pin và ngày giờ của máy.",
                        future.len()
                    )),
                    Some(format!(
                        "{} records on this laptop carried a wrong clock's time; they now carry \
                         the server's. Check the laptop's battery and date.",
                        future.len()
                    )),
                )
            }
        } else {
            (None, None)
        };
        crate::store::set_meta_in(&tx, META_CLOCK, vi.as_deref())?;
        crate::store::set_meta_in(&tx, META_CLOCK_EN, en.as_deref())?;
        tx.commit()?;
        Ok(future.len() as u64)
    }

    /// The record this laptop holds at `seq` of its outbox, if any.
    pub fn outbox_record_at(&self, seq: u64) -> CoreResult<Option<RecordId>> {
        let id: Option<String> = self
            .conn
            .query_row(
                "SELECT record_id FROM outbox WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(id.and_then(|s| s.parse().ok()))
    }

    /// The highest sequence this laptop knows the server acknowledged.
    pub fn last_acked_seq(&self) -> CoreResult<u64> {
        outbox::acked_upto(&self.conn)
    }

    /// Repairs a laptop put back from an old copy of its file, which numbered new records with
    /// sequences the server already holds for records made after the copy. `held` and
    /// `set_aside` are what the server holds of this device after `agreed` (the last sequence
    /// both sides know as sent). In one transaction: the server's records this laptop lacks are
    /// merged and kept as sent; this laptop's records after `agreed` that the server does not
    /// have are renumbered after `server_acked`, to be pushed. Nothing is lost on either side.
    /// `set_aside` holds each record's sequence and ID.
    pub fn recover_from_old_copy(
        &mut self,
        agreed: u64,
        server_acked: u64,
        held: &[OutboxRecord],
        set_aside: &[(u64, RecordId)],
    ) -> CoreResult<Recovery> {
        // Where the server holds each record, by ID.
        let on_server: HashMap<String, u64> = held
            .iter()
            .map(|r| (r.record_id.to_string(), r.seq))
            .chain(set_aside.iter().map(|(seq, id)| (id.to_string(), *seq)))
            .collect();
        // What the server says it holds, as far as it showed it: a server that claims more (a
        // fault) must not move where this laptop numbers its records.
        let server_acked = on_server
            .values()
            .copied()
            .fold(agreed, u64::max)
            .min(server_acked);
        let tx = self.conn.transaction()?;
        let local: Vec<(i64, String)> = tx
            .prepare("SELECT seq, record_id FROM outbox WHERE seq > ?1 ORDER BY seq")?
            .query_map([agreed as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let stale: Vec<i64> = local
            .iter()
            .filter(|(_, id)| !on_server.contains_key(id.as_str()))
            .map(|(seq, _)| *seq)
            .collect();
        // Records the server does not have go after its last. A record it holds under another
        // sequence (numbered again by an earlier recovery, then put back from a copy older than
        // that) takes the server's sequence.
        let moves: Vec<(i64, i64)> = stale
            .iter()
            .zip(server_acked as i64 + 1..)
            .map(|(seq, to)| (*seq, to))
            .chain(local.iter().filter_map(|(seq, id)| {
                let theirs = *on_server.get(id.as_str())? as i64;
                (theirs != *seq).then_some((*seq, theirs))
            }))
            .collect();
        move_records(&tx, &moves)?;
        let mine: HashSet<&str> = local.iter().map(|(_, id)| id.as_str()).collect();
        let mut recovered = 0;
        for record in held {
            if mine.contains(record.record_id.to_string().as_str()) {
                continue;
            }
            outbox::insert_sent(&tx, record)?;
            apply_remote(&tx, record)?;
            recovered += 1;
        }
        // The renumbered records come after the server's last; they are to send even should the
        // laptop have believed more sent than the server now holds.
        outbox::set_acked(&tx, server_acked)?;
        let recovery = Recovery {
            recovered,
            renumbered: stale.len() as u64,
        };
        crate::store::set_meta_in(
            &tx,
            META_NOTICE,
            Some(&format!(
                "Máy này được khôi phục từ một bản sao cũ. Không mất dữ liệu: đã lấy lại {} bản \
                 ghi làm sau bản sao từ máy chủ và gửi {} bản ghi mới.",
                recovery.recovered, recovery.renumbered
            )),
        )?;
        crate::store::set_meta_in(
            &tx,
            META_NOTICE_EN,
            Some(&format!(
                "This laptop was put back from an old copy. Nothing was lost: {} records made \
                 after the copy came back from the server and {} new records were sent.",
                recovery.recovered, recovery.renumbered
            )),
        )?;
        tx.commit()?;
        Ok(recovery)
    }

    /// The server holds less of this laptop than it acknowledged (restored from an older backup):
    /// every record after `server_acked` is to send again, numbered on from it without a gap. A
    /// sequence the laptop skipped for a record the server had set aside would now be a gap the
    /// server refuses. In one transaction.
    pub fn resend_after(&mut self, server_acked: u64) -> CoreResult<()> {
        let tx = self.conn.transaction()?;
        let after: Vec<i64> = tx
            .prepare("SELECT seq FROM outbox WHERE seq > ?1 ORDER BY seq")?
            .query_map([server_acked as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let moves: Vec<(i64, i64)> = after
            .into_iter()
            .zip(server_acked as i64 + 1..)
            .filter(|(seq, to)| seq != to)
            .collect();
        move_records(&tx, &moves)?;
        outbox::set_acked(&tx, server_acked)?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets the last notice once a later sync had nothing to tell.
    pub fn clear_notice(&self) -> CoreResult<()> {
        self.set_meta(META_NOTICE, None)?;
        self.set_meta(META_NOTICE_EN, None)
    }

    /// Values that lost a merge, newest first.
    pub fn conflicts(&self) -> CoreResult<Vec<ConflictEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, c.entity, c.entity_id, c.field, c.lost_value, c.lost_hlc, c.winner_hlc,
                    c.recorded_at, s.state,
                    COALESCE(z.full_name, se.date || ' — ' || se.place, c.entity_id)
             FROM conflict c
             LEFT JOIN entity_state s ON s.entity = c.entity AND s.entity_id = c.entity_id
             LEFT JOIN citizen z ON c.entity = 'citizen' AND z.id = c.entity_id
             LEFT JOIN session se ON c.entity = 'session' AND se.id = c.entity_id
             ORDER BY c.id DESC",
        )?;
        let when = |hlc: &str| {
            hlc.parse::<Hlc>()
                .ok()
                .and_then(|h| chrono::DateTime::from_timestamp_millis(h.millis as i64))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default()
        };
        let rows = stmt.query_map([], |r| {
            let field: String = r.get(3)?;
            let lost_hlc: String = r.get(5)?;
            let winner_hlc: String = r.get(6)?;
            let current_value = r
                .get::<_, Option<String>>(8)?
                .and_then(|s| serde_json::from_str::<EntityState>(&s).ok())
                .and_then(|s| s.fields.get(&field).cloned())
                .unwrap_or(serde_json::Value::Null);
            Ok(ConflictEntry {
                id: r.get(0)?,
                entity: r.get(1)?,
                entity_id: r.get(2)?,
                subject: r.get(9)?,
                lost_value: serde_json::from_str(&r.get::<_, String>(4)?)
                    .unwrap_or(serde_json::Value::Null),
                current_value,
                lost_at: when(&lost_hlc),
                lost_here: lost_hlc
                    .parse::<Hlc>()
                    .is_ok_and(|h| h.device == self.device),
                winner_at: when(&winner_hlc),
                field,
                lost_hlc,
                winner_hlc,
                recorded_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Puts a value that lost a merge back: a new change of that one field, checked with the
    /// same rules as any record, which syncs and wins everywhere as the latest edit. The
    /// conflict is then settled and leaves the list. A value already in place only leaves it.
    pub fn use_lost_value(&mut self, conflict: i64) -> CoreResult<()> {
        let row: Option<(String, String, String, String)> = self
            .conn
            .query_row(
                "SELECT entity, entity_id, field, lost_value FROM conflict WHERE id = ?1",
                [conflict],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let not_found = || CoreError::NotFound {
            what: "xung đột",
            id: conflict.to_string(),
        };
        let (entity, entity_id, field, lost) = row.ok_or_else(not_found)?;
        let lost: serde_json::Value = serde_json::from_str(&lost).map_err(|_| not_found())?;
        let entity = Entity::parse(&entity).ok_or_else(not_found)?;
        // A delete (or a revival) is not one field of the payload: a one-field edit cannot
        // carry it back, and would settle the conflict having changed nothing.
        if field.starts_with('_') {
            return Err(CoreError::ValueRefused {
                reason: "đây là việc xóa hay khôi phục cả bản ghi, không phải một thông tin; hãy \
                         sửa trực tiếp"
                    .into(),
                reason_en: "this is a whole record deleted or brought back, not one detail; \
                            change it directly"
                    .into(),
            });
        }
        if entity == Entity::Citizen && crate::changes::is_forgotten(&self.conn, &entity_id)? {
            return Err(CoreError::Erased { id: entity_id });
        }
        let state =
            crate::changes::stored_state(&self.conn, entity, &entity_id)?.ok_or_else(not_found)?;
        let tx = self.conn.transaction()?;
        if state.fields.get(&field) != Some(&lost) {
            let mut json = state.payload();
            json[field.as_str()] = lost;
            let probe = OutboxRecord {
                record_id: sotay_protocol::RecordId::new(),
                device_id: self.device,
                seq: 0,
                hlc: Hlc::zero(self.device),
                entity,
                entity_id: entity_id.clone(),
                op: Operation::Upsert,
                fields: vec![field.clone()],
                payload_version: sotay_protocol::Payload::current_version(entity),
                payload: json,
            };
            let payload =
                rules::check_record(&probe).map_err(|problem| CoreError::ValueRefused {
                    reason: problem.reason,
                    reason_en: problem.reason_en,
                })?;
            crate::changes::record_local(&tx, self.device, Operation::Upsert, &payload, &[&field])?;
        }
        tx.execute("DELETE FROM conflict WHERE id = ?1", [conflict])?;
        tx.commit()?;
        Ok(())
    }

    /// Writes every pending record to a signed, compressed file for a USB stick. The records
    /// stay pending until the server acknowledges them (on the next contact after the import).
    pub fn export_bundle(&self, out: &Path) -> CoreResult<BundleSummary> {
        let token = self.meta(META_TOKEN)?.ok_or(CoreError::NotEnrolled)?;
        let records = self.pending_records(0, usize::MAX >> 1)?;
        let content = BundleContent {
            protocol_version: PROTOCOL_VERSION,
            device_id: self.device,
            created_at: now_rfc3339(),
            records,
        };
        let file = bundle::seal(&token, &content);
        std::fs::write(out, &file).map_err(|e| crate::report::file_error(out, e))?;
        Ok(BundleSummary {
            records: content.records.len() as u64,
            first_seq: content.records.first().map_or(0, |r| r.seq),
            last_seq: content.records.last().map_or(0, |r| r.seq),
            bytes: file.len() as u64,
        })
    }
}

/// Moves a laptop's offline team onto the server's team: rows, merged state and the records
/// still waiting in the outbox (none was ever sent, so rewriting them loses nothing).
fn adopt_team(tx: &rusqlite::Transaction<'_>, local: &TeamV1, server: &TeamV1) -> CoreResult<()> {
    let (old, new) = (local.id.to_string(), server.id.to_string());
    let already_sent: i64 = tx.query_row(
        "SELECT COUNT(*) FROM outbox WHERE seq <= (SELECT upto_seq FROM outbox_acked)",
        [],
        |r| r.get(0),
    )?;
    if already_sent > 0 {
        return Err(CoreError::AlreadyEnrolled {
            server: "(máy chủ trước)".into(),
        });
    }
    let server_json =
        serde_json::to_string(&Payload::Team(server.clone()).to_json()).expect("team serialises");
    // ON UPDATE CASCADE moves volunteers, citizens and sessions with the team row.
    tx.execute(
        "UPDATE team SET id = ?2, name = ?3, organisation = ?4, province_code = ?5,
             commune_code = ?6 WHERE id = ?1",
        params![
            old,
            new,
            server.name,
            crate::store::enum_str(&server.organisation),
            server.province_code,
            server.commune_code
        ],
    )?;
    tx.execute(
        "UPDATE outbox SET payload = json_set(payload, '$.team_id', ?1)
         WHERE entity IN ('volunteer', 'citizen', 'session') AND json_extract(payload, '$.team_id') = ?2",
        params![new, old],
    )?;
    tx.execute(
        "UPDATE outbox SET entity_id = ?1, payload = ?2 WHERE entity = 'team' AND entity_id = ?3",
        params![new, server_json, old],
    )?;
    tx.execute(
        "UPDATE entity_state SET state = json_set(state, '$.fields.team_id', ?1)
         WHERE entity IN ('volunteer', 'citizen', 'session')
           AND json_extract(state, '$.fields.team_id') = ?2",
        params![new, old],
    )?;
    let team_state: Option<String> = tx
        .query_row(
            "SELECT state FROM entity_state WHERE entity = 'team' AND entity_id = ?1",
            [&old],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(state) = team_state {
        let mut state: sotay_protocol::merge::EntityState =
            serde_json::from_str(&state).unwrap_or_default();
        if let serde_json::Value::Object(fields) = Payload::Team(server.clone()).to_json() {
            state.fields.extend(fields);
        }
        tx.execute(
            "UPDATE entity_state SET entity_id = ?1, state = ?2 WHERE entity = 'team' AND entity_id = ?3",
            params![new, serde_json::to_string(&state).expect("state serialises"), old],
        )?;
    }
    Ok(())
}

/// Moves each outbox record `(from, to)` to its new sequence.
fn move_records(tx: &rusqlite::Transaction<'_>, moves: &[(i64, i64)]) -> CoreResult<()> {
    // Out of the way first (sequences are unique, and one record may move to where another
    // was), then in place.
    for (from, _) in moves {
        tx.execute("UPDATE outbox SET seq = -seq WHERE seq = ?1", [from])?;
    }
    for (from, to) in moves {
        tx.execute(
            "UPDATE outbox SET seq = ?2 WHERE seq = ?1",
            params![-from, to],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::store::villager;
    use crate::Passphrase;

    /// A server that says it holds far more of this laptop than it shows (a fault) does not move
    /// where the laptop numbers its records; one that shows a record it set aside does.
    #[test]
    fn recovery_numbers_after_what_the_server_showed_not_what_it_claimed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::store::store_with_team(
            &dir.path().join("sotay.sqlite"),
            &Passphrase::new("hoa sen trắng"),
        );
        store.add_citizen(villager("Đặng Thị Lan")).unwrap();
        let last = store.outbox_status().unwrap().last_seq;
        store.mark_acked(last).unwrap();

        store
            .recover_from_old_copy(last, u64::MAX, &[], &[])
            .unwrap();
        assert_eq!(store.last_acked_seq().unwrap(), last);
        let next = store.add_citizen(villager("Lò Văn Tám")).unwrap();
        assert_eq!(
            store.outbox_status().unwrap().last_seq,
            last + 1,
            "{next:?}"
        );

        let set_aside = (last + 3, sotay_protocol::RecordId::new());
        store
            .recover_from_old_copy(last, last + 3, &[], &[set_aside])
            .unwrap();
        assert_eq!(store.last_acked_seq().unwrap(), last + 3);
        assert_eq!(
            store.outbox_status().unwrap().pending,
            1,
            "renumbered, to send"
        );
        store.add_citizen(villager("Hà Văn Mới")).unwrap();
        assert_eq!(store.outbox_status().unwrap().last_seq, last + 5);
    }
}
