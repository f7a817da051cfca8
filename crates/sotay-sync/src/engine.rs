//! The sync loop. Between requests it takes the store for one short local step at a time (read a
//! batch, mark it acknowledged, apply a pulled page), so the app stays usable while a request
//! waits on a slow link; it never holds the store across an `.await`.

use crate::api_client::{ApiClient, EncodedPush, Failure, Travelled};
use crate::decide::{after_failure, compression_for, jitter, next_batch, AfterFailure, SyncConfig};
use crate::error::{SyncError, SyncResult};
use crate::trust::ServerTrust;
use serde::Serialize;
use sotay_core::validate::{self, Field};
use sotay_core::{CoreResult, SharedStore, TeamInfo};
use sotay_protocol::sync::{EnrollRequest, EnrollResponse, PushResponse, MAX_BATCHES_IN_FLIGHT};
use sotay_protocol::wire::{parse_fingerprint, Compression};
use sotay_protocol::DeviceId;
use std::sync::{Arc, Mutex};
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
    let client = ApiClient::new(
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
        Ok(client) => {
            let result = push_then_pull(store, &client, config, progress, &mut summary).await;
            summary.requests = client.requests();
            summary.bytes_sent = client.bytes_sent();
            summary.bytes_received = client.bytes_received();
            result
        }
        Err(e) => Err(e),
    };
    let message = result.as_ref().err().map(ToString::to_string);
    summary.pending = store.with(|s| {
        s.note_sync_result(message.as_deref())?;
        s.pending_count()
    })?;
    result.map(|()| summary)
}

async fn push_then_pull(
    store: &SharedStore,
    client: &ApiClient,
    config: &SyncConfig,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
    summary: &mut SyncSummary,
) -> SyncResult<()> {
    let mut retry = Retry {
        config,
        failures: 0,
    };
    let device = store.with(|s| Ok(s.device_id()))?;
    let gauge = Arc::new(Gauge::default());
    // The server nearly always holds what this laptop last heard it acknowledge: the first batch
    // after that is read and encoded while the status request travels, and goes as soon as the
    // answer confirms where to start (on loopback the two took ~7 and ~12 ms one after the other).
    let acked_before = store.with(|s| s.last_acked_seq())?;
    let first = NextBatch::start(
        store,
        device,
        Vec::new(),
        acked_before,
        config.initial_batch,
        &gauge,
    );
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
    // Already recovered: the server's last record of this laptop is one it set aside, which the
    // laptop could not get back and numbers its new records after.
    let recovered_behind_a_set_aside = mine.is_none() && status.acked_seq == agreed;
    // Read where the server's answer says to start, from the outbox as it still is.
    let mut first = (status.acked_seq == acked_before).then_some(first);
    if status.acked_record_id.is_some()
        && mine != status.acked_record_id
        && !recovered_behind_a_set_aside
    {
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
            set_aside.extend(page.set_aside.into_iter().map(|q| (q.seq, q.record_id)));
            after = page.next_after;
            if !page.more {
                break;
            }
        }
        // The outbox is renumbered: the batch read before is of records numbered the old way.
        first = None;
        store.with(|s| s.recover_from_old_copy(agreed, status.acked_seq, &held, &set_aside))?;
        let told = store.with(|s| s.sync_status())?;
        summary.notice = told.notice;
        summary.notice_en = told.notice_en;
    } else {
        if status.acked_seq < agreed {
            // The server holds less of this laptop than it acknowledged (put back from a
            // backup): what it lacks goes again.
            store.with(|s| s.resend_after(status.acked_seq))?;
        }
        store.with(|s| s.clear_notice())?;
    }
    let total = store.with(|s| {
        s.mark_acked(status.acked_seq)?;
        s.pending_count()
    })?;
    // What teammates recorded comes down while this laptop's batches go up: the pull needs
    // nothing the pushes change (the server leaves this device's own records out of it, and
    // positions promise that a record committed later is not skipped), and waiting for the
    // last answer before asking cost a round trip at the end of every sync.
    let mut pulled = SyncSummary::default();
    let (pushing, pulling) = tokio::join!(
        push_pending(
            store,
            client,
            config,
            progress,
            summary,
            &mut retry,
            Start {
                device,
                acked: status.acked_seq,
                total,
                first,
                gauge,
            },
        ),
        pull_all(store, client, config, &mut pulled),
    );
    summary.pulled += pulled.pulled;
    summary.quarantined += pulled.quarantined;
    summary.retries += pulled.retries;
    pushing.and(pulling)
}

/// Pulls and applies every page of the team's records from where this laptop stopped, retrying
/// on its own count of failures.
async fn pull_all(
    store: &SharedStore,
    client: &ApiClient,
    config: &SyncConfig,
    summary: &mut SyncSummary,
) -> SyncResult<()> {
    let mut retry = Retry {
        config,
        failures: 0,
    };
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

/// Where this device's pushing starts: after what the server holds (`acked`), with `total`
/// records pending, perhaps the first batch already being read (`first`, while the status
/// request travelled), and what this sync has measured so far.
struct Start {
    device: DeviceId,
    acked: u64,
    total: u64,
    first: Option<NextBatch>,
    gauge: Arc<Gauge>,
}

/// Sends every pending record after `start.acked`, keeping up to `config.in_flight` batches on
/// their way (the server stores them in order). Each batch is read and encoded on a blocking
/// thread, after the answers so far are written, while those already sent travel, and the next
/// one while the oldest travels (even one at a time): on a fast link these local steps took a
/// third of a whole sync when done in turn (docs/benchmarks.md). A batch read ahead goes only as
/// read: from where the next must start, nobody forgotten since, no larger than the link now
/// allows. Each batch is compressed as hard as the link measured so far is worth ([`Gauge`]).
async fn push_pending(
    store: &SharedStore,
    client: &ApiClient,
    config: &SyncConfig,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
    summary: &mut SyncSummary,
    retry: &mut Retry<'_>,
    start: Start,
) -> SyncResult<()> {
    let Start {
        device,
        mut acked,
        total,
        first,
        gauge,
    } = start;
    let started_at = acked;
    let mut window = config.in_flight.clamp(1, MAX_BATCHES_IN_FLIGHT);
    let mut batch = config.initial_batch;
    // An answer came slower than `config.target_request_time`: batches stop growing.
    let mut slow_link = false;
    // The last sequence sent: the next batch starts after it.
    let mut sent_through = acked;
    let mut travelling = Travelling::default();
    // Answers received whose acknowledgement is not yet written to the outbox.
    let mut unwritten: Vec<PushResponse> = Vec::new();
    progress(SyncProgress {
        sent: 0,
        total,
        bytes_sent: client.bytes_sent(),
    });
    // The batch most likely to be sent next, read while the oldest batch travels.
    let mut ahead: Option<NextBatch> = first;
    loop {
        while travelling.0.len() < window {
            let read_ahead = match ahead.take() {
                Some(next) => Some((next.after, next.read().await?)),
                None => None,
            };
            let (erasures, push) = match read_ahead {
                // It goes as read if it starts where the next batch must, is no larger than the
                // link now allows, and is not empty (more may have been recorded since).
                Some((after, (erasures, push)))
                    if after == sent_through && push.len() <= batch && push.len() > 0 =>
                {
                    (erasures, push)
                }
                _ => {
                    let answers = std::mem::take(&mut unwritten);
                    NextBatch::start(store, device, answers, sent_through, batch, &gauge)
                        .read()
                        .await?
                }
            };
            // Someone forgotten since the read: their records are scrubbed now; read again.
            if store.with(|s| s.erasures())? != erasures {
                continue;
            }
            let Some(last) = push.last_seq() else {
                break;
            };
            let (sender, gauge) = (client.clone(), gauge.clone());
            // Behind batches still on their way, the server is told to wait for them; the
            // first batch of a window is checked at once, so a real gap is still refused.
            let follows = (!travelling.0.is_empty()).then_some(sent_through);
            travelling.0.push_back(InFlight {
                last,
                len: push.len(),
                answer: tokio::spawn(async move {
                    let started = Instant::now();
                    let outcome = sender.push(push, follows).await.map(|(answer, travelled)| {
                        gauge.note_link(travelled);
                        answer
                    });
                    (outcome, started.elapsed())
                }),
            });
            sent_through = last;
            if !slow_link {
                // Sent before an answer says how the link copes: the size the next answer would
                // most likely allow.
                batch = next_batch(config, batch, true, Duration::ZERO);
            }
        }
        let Some(front) = travelling.0.pop_front() else {
            break;
        };
        if ahead.is_none() {
            let answers = std::mem::take(&mut unwritten);
            ahead = Some(NextBatch::start(
                store,
                device,
                answers,
                sent_through,
                batch,
                &gauge,
            ));
        }
        let (outcome, took) = front
            .answer
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        match outcome {
            Ok(response) => {
                retry.succeeded();
                acked = acked.max(response.acked_seq);
                sent_through = sent_through.max(acked);
                if took >= config.target_request_time {
                    // A slow request keeps the batch as it was, for the rest of this sync.
                    slow_link = true;
                    batch = batch.min(front.len);
                }
                let holds_less = response.acked_seq < front.last;
                note_answer(summary, &response);
                unwritten.push(response);
                if holds_less {
                    // What follows would wait on a gap: read again from what the server holds.
                    acked = travelling.settle(summary, &mut unwritten, acked).await;
                    sent_through = acked;
                }
            }
            Err(failure) => {
                // Batches after this one wait on it at the server; those already answered were
                // stored (in order, so this one was too), the rest are dropped and sent again.
                acked = travelling.settle(summary, &mut unwritten, acked).await;
                sent_through = acked;
                let server_refuses_early_batches = matches!(
                    &failure,
                    Failure::Final(SyncError::Server { kind, .. }) if kind == "sequence_gap"
                ) && window > 1;
                // After a failure, one batch at a time, as the link or server is having trouble.
                window = 1;
                if server_refuses_early_batches {
                    continue;
                }
                for answer in unwritten.drain(..) {
                    write_acknowledgement(store, &answer)?;
                }
                retry.after(failure, summary).await?;
                batch = next_batch(config, front.len, false, Duration::ZERO);
            }
        }
        progress(SyncProgress {
            sent: (acked - started_at).min(total),
            total,
            bytes_sent: client.bytes_sent(),
        });
    }
    for answer in &unwritten {
        write_acknowledgement(store, answer)?;
    }
    Ok(())
}

/// What this sync measured, in bytes per second: how fast the link carried the last answered
/// push, and how fast this laptop compressed thoroughly. Shared by the batches on their way
/// (each notes how it travelled, as its answer comes) and the reader of the next batch, which
/// compresses by it ([`compression_for`]); the latest of each counts, as a link can change.
#[derive(Default)]
struct Gauge(Mutex<Measured>);

#[derive(Default, Clone, Copy)]
struct Measured {
    link: Option<f64>,
    thorough: Option<f64>,
}

impl Gauge {
    fn measured(&self) -> std::sync::MutexGuard<'_, Measured> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn compression(&self) -> Compression {
        let measured = *self.measured();
        compression_for(measured.link, measured.thorough)
    }

    fn note_link(&self, travelled: Travelled) {
        if let Some(rate) = travelled.link_rate {
            self.measured().link = Some(rate);
        }
    }

    fn note_encoded(&self, push: &EncodedPush) {
        if let Some(rate) = push.thorough_rate() {
            self.measured().thorough = Some(rate);
        }
    }
}

/// The next batch, read from the outbox and encoded on a blocking thread, after the answers
/// handed to it are written.
struct NextBatch {
    /// The sequence it was read after.
    after: u64,
    read: tokio::task::JoinHandle<CoreResult<(u64, EncodedPush)>>,
}

impl NextBatch {
    fn start(
        store: &SharedStore,
        device: DeviceId,
        answers: Vec<PushResponse>,
        after: u64,
        size: usize,
        gauge: &Arc<Gauge>,
    ) -> Self {
        let (store, gauge) = (store.clone(), gauge.clone());
        let read = tokio::task::spawn_blocking(move || {
            for answer in &answers {
                write_acknowledgement(&store, answer)?;
            }
            let (erasures, records) =
                store.with(|s| Ok((s.erasures()?, s.pending_to_send(after, size)?)))?;
            // Decided now, not when the batch was asked for: an answer may have come since.
            let push = EncodedPush::new(device, records, gauge.compression());
            gauge.note_encoded(&push);
            Ok((erasures, push))
        });
        Self { after, read }
    }

    /// The outbox's erasure count when it was read, and the batch.
    async fn read(self) -> CoreResult<(u64, EncodedPush)> {
        self.read
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

/// A batch on its way; its answer comes with how long the request took.
struct InFlight {
    last: u64,
    len: usize,
    answer: tokio::task::JoinHandle<(Result<PushResponse, Failure>, Duration)>,
}

/// The batches on their way, oldest first. Those left when the sync stops are cancelled.
#[derive(Default)]
struct Travelling(std::collections::VecDeque<InFlight>);

impl Travelling {
    /// Keeps the answers already in and cancels the rest; returns the highest sequence the
    /// server is known to hold.
    async fn settle(
        &mut self,
        summary: &mut SyncSummary,
        unwritten: &mut Vec<PushResponse>,
        mut acked: u64,
    ) -> u64 {
        for batch in self.0.drain(..) {
            if !batch.answer.is_finished() {
                batch.answer.abort();
                continue;
            }
            if let Ok((Ok(response), _)) = batch.answer.await {
                acked = acked.max(response.acked_seq);
                note_answer(summary, &response);
                unwritten.push(response);
            }
        }
        acked
    }
}

impl Drop for Travelling {
    fn drop(&mut self) {
        for batch in &self.0 {
            batch.answer.abort();
        }
    }
}

fn note_answer(summary: &mut SyncSummary, response: &PushResponse) {
    summary.quarantined += response.quarantined.len() as u64;
    summary.pushed += response.applied;
    summary.duplicates += response.duplicates;
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
