//! The sync loop. Between requests it takes the store for one short local step at a time (read a
//! batch, mark it acknowledged, apply a pulled page), so the app stays usable while a request
//! waits on a slow link; it never holds the store across an `.await`.

use crate::api_client::{ApiClient, EncodedPush, Failure};
use crate::decide::{after_failure, jitter, next_batch, AfterFailure, SyncConfig};
use crate::error::{SyncError, SyncResult};
use crate::trust::ServerTrust;
use serde::Serialize;
use sotay_core::validate::{self, Field};
use sotay_core::{CoreError, CoreResult, SharedStore, TeamInfo};
use sotay_protocol::sync::{EnrollRequest, EnrollResponse, PushResponse};
use sotay_protocol::wire::parse_fingerprint;
use std::time::{Duration, Instant};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, Default, Serialize, TS)]
pub struct SyncProgress {
    /// Records acknowledged so far in this sync.
    pub sent: u64,
    /// Records that were pending when the sync started.
    pub total: u64,
    pub bytes_sent: u64,
}

#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct SyncSummary {
    pub pushed: u64,
    /// Records the server already had (sent before an interrupted acknowledgement).
    pub duplicates: u64,
    pub pulled: u64,
    pub requests: u64,
    pub retries: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Still pending after this sync (0 on success, unless records were added meanwhile).
    pub pending: u64,
    /// Records set aside in this sync: this laptop's that the server refused, and pulled ones
    /// that could not be applied (see `sotay sync status`).
    pub quarantined: u64,
    /// What the volunteer should be told about this sync (a recovery from an old copy), in
    /// Vietnamese and English.
    pub notice: Option<String>,
    pub notice_en: Option<String>,
}

/// Counts failures in a row and waits before the next attempt, or gives up.
struct Retry<'a> {
    config: &'a SyncConfig,
    failures: u32,
}

impl Retry<'_> {
    async fn after(&mut self, failure: Failure, summary: &mut SyncSummary) -> SyncResult<()> {
        let error = match failure {
            Failure::Final(e) => return Err(e),
            Failure::Transient(e) => e,
        };
        self.failures += 1;
        match after_failure(self.config, self.failures, jitter()) {
            AfterFailure::GiveUp => Err(error),
            AfterFailure::RetryAfter(delay) => {
                summary.retries += 1;
                tokio::time::sleep(delay).await;
                Ok(())
            }
        }
    }

    fn succeeded(&mut self) {
        self.failures = 0;
    }
}

/// Trades a one-time enrolment code for a device token; the laptop joins the code's team.
pub async fn enroll(
    store: &SharedStore,
    server: &str,
    code: &str,
    volunteer: Option<&str>,
    fingerprint: Option<&str>,
) -> SyncResult<TeamInfo> {
    // Everything that can be refused locally is refused before the code is spent.
    let volunteer = volunteer.filter(|v| !v.trim().is_empty());
    if let Some(name) = volunteer {
        validate::required(name, Field::Volunteer).map_err(sotay_core::CoreError::from)?;
    }
    store.with(|s| s.ensure_not_enrolled())?;
    let (response, certificate) = trade_code(store, server, code, fingerprint).await?;
    Ok(store.with(|s| {
        s.complete_enrolment(server.trim(), &response, volunteer, certificate.as_deref())
    })?)
}

/// Enrols again with a new code from the admin, at the same or a new address: after the admin
/// revoked this laptop, or when the team's server moved. The laptop keeps its team and its
/// records, and sends and pulls everything again at the next sync (see
/// `Store::complete_reenrolment`).
pub async fn reenroll(
    store: &SharedStore,
    server: &str,
    code: &str,
    fingerprint: Option<&str>,
) -> SyncResult<TeamInfo> {
    // Without a fingerprint from the admin, the server must show the certificate pinned
    // already: a page or a wrong address cannot swap the server the laptop trusts.
    let pinned = store.with(|s| s.sync_endpoint())?.certificate;
    let typed = fingerprint.map(str::trim).filter(|f| !f.is_empty());
    let expected = typed.or(pinned.as_deref());
    let (response, certificate) = trade_code(store, server, code, expected).await?;
    Ok(store.with(|s| s.complete_reenrolment(server.trim(), &response, certificate.as_deref()))?)
}

/// The enrolment request: the code for a device token, with the server's certificate seen (and
/// checked against the fingerprint the admin gave, if any).
async fn trade_code(
    store: &SharedStore,
    server: &str,
    code: &str,
    fingerprint: Option<&str>,
) -> SyncResult<(EnrollResponse, Option<String>)> {
    let device = store.with(|s| Ok(s.device_id()))?;
    let expected = match fingerprint.map(str::trim).filter(|f| !f.is_empty()) {
        Some(typed) => Some(
            parse_fingerprint(typed).ok_or_else(|| SyncError::BadFingerprint(typed.to_owned()))?,
        ),
        None => None,
    };
    let mut client = ApiClient::new(
        server,
        None,
        SyncConfig::default().request_timeout,
        &ServerTrust::Enrolling(expected),
    )?;
    let response = client
        .enroll(&EnrollRequest {
            code: code.trim().to_owned(),
            device_id: device,
        })
        .await
        .map_err(Failure::into_error)?;
    // From now on this certificate, and only this one, is the server's.
    Ok((response, client.seen_certificate()))
}

/// Pushes every pending record, then pulls what the team's other devices recorded. The outcome
/// is kept for the status screen.
pub async fn sync(
    store: &SharedStore,
    config: &SyncConfig,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> SyncResult<SyncSummary> {
    let endpoint = store.with(|s| {
        s.note_sync_attempt()?;
        s.sync_endpoint()
    })?;
    let mut summary = SyncSummary::default();
    let result = match ApiClient::new(
        &endpoint.server,
        Some(endpoint.token),
        config.request_timeout,
        &ServerTrust::Pinned(endpoint.certificate),
    ) {
        Ok(mut client) => {
            let result = push_then_pull(store, &mut client, config, progress, &mut summary).await;
            summary.requests = client.requests;
            summary.bytes_sent = client.bytes_sent;
            summary.bytes_received = client.bytes_received;
            result
        }
        Err(e) => Err(e),
    };
    let message = result.as_ref().err().map(ToString::to_string);
    summary.pending = store.with(|s| {
        s.note_sync_result(message.as_deref())?;
        Ok(s.outbox_status()?.pending)
    })?;
    result.map(|()| summary)
}

async fn push_then_pull(
    store: &SharedStore,
    client: &mut ApiClient,
    config: &SyncConfig,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
    summary: &mut SyncSummary,
) -> SyncResult<()> {
    let mut retry = Retry {
        config,
        failures: 0,
    };
    // What the server already holds: records acknowledged by a response we never received, or
    // applied from a USB bundle, are marked sent here.
    let status = loop {
        match client.status().await {
            Ok(status) => break status,
            Err(failure) => retry.after(failure, summary).await?,
        }
    };
    retry.succeeded();
    if status.server_time_ms > 0 {
        store.with(|s| s.correct_clock(status.server_time_ms))?;
    }
    // The server holds another record (or one this laptop never made) where this laptop's log
    // ends: the file was put back from an old copy. Recover before pushing anything.
    let (agreed, mine) =
        store.with(|s| Ok((s.last_acked_seq()?, s.outbox_record_at(status.acked_seq)?)))?;
    if status.acked_record_id.is_some() && mine != status.acked_record_id {
        let (mut held, mut set_aside, mut after) = (Vec::new(), Vec::new(), agreed);
        loop {
            let page = match client.own(after, config.pull_page).await {
                Ok(page) => page,
                Err(failure) => {
                    retry.after(failure, summary).await?;
                    continue;
                }
            };
            retry.succeeded();
            held.extend(page.records);
            set_aside.extend(page.set_aside.into_iter().map(|q| q.record_id));
            after = page.next_after;
            if !page.more {
                break;
            }
        }
        store.with(|s| s.recover_from_old_copy(agreed, status.acked_seq, &held, &set_aside))?;
        let told = store.with(|s| s.sync_status())?;
        summary.notice = told.notice;
        summary.notice_en = told.notice_en;
    } else {
        store.with(|s| s.clear_notice())?;
    }
    let total = store.with(|s| {
        s.mark_acked(status.acked_seq)?;
        Ok(s.outbox_status()?.pending)
    })?;
    let device = store.with(|s| Ok(s.device_id()))?;
    let mut acked = status.acked_seq;
    let mut batch = config.initial_batch;
    let mut sent = 0;
    progress(SyncProgress {
        sent,
        total,
        bytes_sent: client.bytes_sent,
    });
    // The server's last answer, until its acknowledgement is written to the outbox.
    let mut unwritten: Option<PushResponse> = None;
    let mut push = EncodedPush::new(device, store.with(|s| s.pending_records(acked, batch))?);
    while let Some(last) = push.last_seq() {
        let likely_next = next_batch(config, batch, true, Duration::ZERO);
        // While this batch travels and the server stores it, the laptop writes the last answer's
        // acknowledgement, then reads and encodes the batch most likely to come next. Done in
        // turn, these local steps took a third of a whole sync on a fast link
        // (docs/benchmarks.md).
        let local = {
            let store = store.clone();
            let answer = unwritten.take();
            tokio::task::spawn_blocking(move || {
                if let Some(answer) = answer {
                    write_acknowledgement(&store, &answer)?;
                }
                let (erasures, next) =
                    store.with(|s| Ok((s.erasures()?, s.pending_records(last, likely_next)?)))?;
                Ok::<_, CoreError>(ReadAhead {
                    erasures,
                    push: EncodedPush::new(device, next),
                })
            })
        };
        let started = Instant::now();
        let outcome = client.push(push).await;
        let took = started.elapsed();
        let read_ahead = local
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let response = match outcome {
            Ok(response) => response,
            Err(failure) => {
                read_ahead?;
                retry.after(failure, summary).await?;
                batch = next_batch(config, batch, false, Duration::ZERO);
                // Read again rather than resend what is in memory: someone may have been
                // forgotten while the retry waited.
                push = EncodedPush::new(device, store.with(|s| s.pending_records(acked, batch))?);
                continue;
            }
        };
        retry.succeeded();
        summary.quarantined += response.quarantined.len() as u64;
        sent += response.acked_seq.saturating_sub(acked);
        acked = response.acked_seq;
        summary.pushed += response.applied;
        summary.duplicates += response.duplicates;
        batch = next_batch(config, batch, true, took);
        let read_ahead = match read_ahead {
            Ok(read_ahead) => read_ahead,
            Err(e) => {
                // The answer is kept before the failure is told: what the server set aside
                // and why is in it alone.
                write_acknowledgement(store, &response)?;
                return Err(e.into());
            }
        };
        // What was read ahead goes only as read: it starts after what the server now holds,
        // nobody was forgotten since (their records were scrubbed in the outbox meanwhile), and
        // it is not empty (the volunteer may have recorded more while the last batch travelled).
        let read_ahead_holds = acked == last
            && !read_ahead.push.is_empty()
            && store.with(|s| s.erasures()).ok() == Some(read_ahead.erasures);
        push = if !read_ahead_holds {
            write_acknowledgement(store, &response)?;
            EncodedPush::new(device, store.with(|s| s.pending_records(acked, batch))?)
        } else if read_ahead.push.len() > batch {
            // A slow request keeps the batch as it was.
            unwritten = Some(response);
            let mut records = read_ahead.push.into_records();
            records.truncate(batch);
            EncodedPush::new(device, records)
        } else {
            unwritten = Some(response);
            read_ahead.push
        };
        progress(SyncProgress {
            sent: sent.min(total),
            total,
            bytes_sent: client.bytes_sent,
        });
    }
    if let Some(answer) = unwritten {
        write_acknowledgement(store, &answer)?;
    }
    loop {
        let position = store.with(|s| s.pull_position())?;
        let page = match client
            .pull(
                position.cursor,
                config.pull_page,
                &position.catalogue_version,
            )
            .await
        {
            Ok(page) => page,
            Err(failure) => {
                retry.after(failure, summary).await?;
                continue;
            }
        };
        retry.succeeded();
        summary.quarantined += store.with(|s| s.apply_pulled_page(&page))?;
        summary.pulled += page.records.len() as u64;
        if !page.more {
            return Ok(());
        }
    }
}

/// The batch read and encoded while the last one travelled, with the outbox's erasure count
/// when it was read.
struct ReadAhead {
    erasures: u64,
    push: EncodedPush,
}

/// Marks what the server acknowledged as sent, and keeps what it set aside.
fn write_acknowledgement(store: &SharedStore, answer: &PushResponse) -> CoreResult<()> {
    store.with(|s| {
        s.note_refused(&answer.quarantined)?;
        s.mark_acked(answer.acked_seq)
    })
}

/// Whether the server answers on its port within two seconds: the background sync's cue to try.
pub async fn server_reachable(server: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(server.trim()) else {
        return false;
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect((host.as_str(), port))
        )
        .await,
        Ok(Ok(_))
    )
}
