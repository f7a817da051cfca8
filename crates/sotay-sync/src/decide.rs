//! The engine's decisions as pure functions of what happened, so each is table-tested without a
//! network: how long to wait before a retry, how big the next batch is, how hard to compress it,
//! and whether a failure is worth retrying at all.

use sotay_protocol::wire::Compression;
use std::time::Duration;

/// How hard sync tries. The defaults suit a slow village link.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Timeout of one whole request.
    pub request_timeout: Duration,
    /// Failed attempts in a row before giving up.
    pub max_attempts: u32,
    pub initial_batch: usize,
    /// Batches travelling at once, each on its own connection (at most
    /// [`sotay_protocol::sync::MAX_BATCHES_IN_FLIGHT`]). The server stores them in order; side
    /// by side they keep a lossy link busy while one connection recovers a lost packet, and the
    /// server stores one batch while the next arrives.
    pub in_flight: usize,
    pub min_batch: usize,
    pub max_batch: usize,
    /// First retry delay; doubles per failure, with ±50 % jitter, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A batch answered faster than this may grow; slower, it shrinks.
    pub target_request_time: Duration,
    pub pull_page: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(60),
            max_attempts: 6,
            // ~28 KB compressed, a quarter of a second at 1 Mbit/s: small enough for a first
            // try on any link, and a backlog reaches the largest batch two requests sooner than
            // from 200.
            initial_batch: 1_000,
            // One connection on a link with 1 % loss and a 300 ms round trip carries under half
            // the line (docs/benchmarks.md); three fill it.
            in_flight: 3,
            min_batch: 10,
            // The server's own limit (`sotay_server::Settings`): on a village link each request
            // costs a round trip or more, so a long backlog goes in as few as the server takes.
            max_batch: 5_000,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            target_request_time: Duration::from_secs(5),
            pull_page: 500,
        }
    }
}

/// Retry delay for the `attempt`-th failure in a row: exponential, capped, ±50 % jitter so that
/// many laptops coming online together do not retry in step.
pub fn backoff(config: &SyncConfig, attempt: u32, jitter_unit: f64) -> Duration {
    let exp = config
        .base_backoff
        .saturating_mul(1u32 << attempt.min(16))
        .min(config.max_backoff);
    exp.mul_f64(0.5 + jitter_unit.clamp(0.0, 1.0))
}

/// The next batch size after a request: grow on fast success, halve on failure or slowness.
pub fn next_batch(config: &SyncConfig, current: usize, ok: bool, took: Duration) -> usize {
    if ok && took < config.target_request_time {
        (current * 2).min(config.max_batch)
    } else if ok {
        current
    } else {
        (current / 2).max(config.min_batch)
    }
}

/// How hard to compress the next batch, from what this sync measured (bytes per second): how
/// fast the link carried the last answered push (`link`: its compressed bytes over the part of
/// the round trip the server did not spend), and how fast [`Compression::Thorough`] turned out
/// bytes on this laptop (`thorough`). Thorough while the link is the slower of the two: the
/// compressing then happens while earlier batches travel and costs nothing, and fewer bytes
/// reach the server sooner (a village link, a phone's data). Fast once the link carries bytes
/// faster than the thorough compressor makes them (the same machine, a LAN): the batch would
/// wait for the laptop's CPU, not the line. Unmeasured (the first batches, a server that does
/// not say what it spent) is thorough.
pub fn compression_for(link: Option<f64>, thorough: Option<f64>) -> Compression {
    match (link, thorough) {
        (Some(link), Some(thorough)) if link > thorough => Compression::Fast,
        _ => Compression::Thorough,
    }
}

/// Whether an HTTP status is worth another try: the server or a proxy on the way was busy or
/// broken for a moment. Anything else (refused, unauthorised, a gap) will answer the same again.
pub fn retryable_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAfter(Duration),
    GiveUp,
}

/// After the `failures`-th transient failure in a row: wait and retry, or stop.
pub fn after_failure(config: &SyncConfig, failures: u32, jitter_unit: f64) -> AfterFailure {
    if failures >= config.max_attempts {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryAfter(backoff(config, failures.saturating_sub(1), jitter_unit))
    }
}

pub(crate) fn jitter() -> f64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    f64::from(u16::from_le_bytes([bytes[0], bytes[1]])) / f64::from(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let c = SyncConfig::default();
        let cases = [
            (0, 0.5, c.base_backoff),
            (3, 0.5, c.base_backoff * 8),
            (30, 0.5, c.max_backoff),
            (1, 0.0, c.base_backoff),
            (1, 1.0, c.base_backoff * 3),
            (1, 7.0, c.base_backoff * 3),
        ];
        for (attempt, jitter, expected) in cases {
            assert_eq!(backoff(&c, attempt, jitter), expected, "attempt {attempt}");
        }
    }

    #[test]
    fn batch_size_adapts_to_the_link() {
        let c = SyncConfig::default();
        let fast = Duration::from_millis(100);
        let slow = c.target_request_time * 2;
        let cases = [
            (200, true, fast, 400),
            (3_000, true, fast, c.max_batch),
            (200, true, slow, 200),
            (200, false, fast, 100),
            (12, false, fast, c.min_batch),
        ];
        for (current, ok, took, expected) in cases {
            assert_eq!(
                next_batch(&c, current, ok, took),
                expected,
                "{current} {ok}"
            );
        }
    }

    #[test]
    fn compression_is_thorough_unless_the_link_outruns_the_compressor() {
        let (village, hotspot, lan, loopback) = (125e3, 2.5e6, 60e6, 900e6);
        // The bench machine's thorough compressor makes ~9 MB/s of output; a slow laptop's less.
        let (bench_machine, old_laptop) = (9e6, 1.5e6);
        let cases = [
            (None, None, Compression::Thorough),
            (None, Some(bench_machine), Compression::Thorough),
            (Some(loopback), None, Compression::Thorough),
            (Some(village), Some(bench_machine), Compression::Thorough),
            (Some(village), Some(old_laptop), Compression::Thorough),
            (Some(hotspot), Some(bench_machine), Compression::Thorough),
            (Some(hotspot), Some(old_laptop), Compression::Fast),
            (Some(lan), Some(bench_machine), Compression::Fast),
            (Some(loopback), Some(bench_machine), Compression::Fast),
        ];
        for (link, thorough, expected) in cases {
            assert_eq!(
                compression_for(link, thorough),
                expected,
                "{link:?} {thorough:?}"
            );
        }
    }

    #[test]
    fn only_passing_trouble_is_retried() {
        let cases = [
            (500, true),
            (502, true),
            (503, true),
            (408, true),
            (429, true),
            (400, false),
            (401, false),
            (403, false),
            (409, false),
            (413, false),
        ];
        for (status, retry) in cases {
            assert_eq!(retryable_status(status), retry, "HTTP {status}");
        }
    }

    #[test]
    fn gives_up_after_the_configured_attempts() {
        let c = SyncConfig {
            max_attempts: 3,
            ..Default::default()
        };
        assert_eq!(
            after_failure(&c, 1, 0.5),
            AfterFailure::RetryAfter(c.base_backoff)
        );
        assert_eq!(
            after_failure(&c, 2, 0.5),
            AfterFailure::RetryAfter(c.base_backoff * 2)
        );
        assert_eq!(after_failure(&c, 3, 0.5), AfterFailure::GiveUp);
    }
}
