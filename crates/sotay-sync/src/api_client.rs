//! The HTTP transport of sync: one method per endpoint of the protocol, over reqwest (rustls, on
//! tokio). It knows nothing of the store; each call either returns the decoded answer or says
//! whether the failure is worth a retry.

use crate::decide::retryable_status;
use crate::error::{NetworkFailure, SyncError};
use crate::trust::{check_scheme, tls_config, PinnedCertificate, ServerTrust};
use serde::de::DeserializeOwned;
use sotay_protocol::sync::{
    read_server_timing, DeviceStatus, EnrollRequest, EnrollResponse, ErrorBody, OwnRecords,
    PullResponse, PushRequest, PushResponse, FOLLOWS_HEADER, PROTOCOL_HEADER, SERVER_TIMING_HEADER,
};
use sotay_protocol::wire::{compress_json, compress_json_as, Compression};
use sotay_protocol::{DeviceId, OutgoingRecord, PROTOCOL_VERSION};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A response larger than this is refused: a pull page is a few MB at most.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// A push request ready for the wire: its records' JSON compressed, and what the sync loop needs
/// to know of them. Built apart from sending, so the sync loop can build the next one while the
/// last one travels.
pub(crate) struct EncodedPush {
    body: Vec<u8>,
    last_seq: Option<u64>,
    len: usize,
    compression: Compression,
    /// How long encoding and compressing took.
    took: Duration,
}

impl EncodedPush {
    pub(crate) fn new(
        device: DeviceId,
        records: Vec<OutgoingRecord>,
        compression: Compression,
    ) -> Self {
        let (last_seq, len) = (records.last().map(|r| r.seq), records.len());
        let request = PushRequest {
            device_id: device,
            records,
        };
        let started = Instant::now();
        let body = compress_json_as(&request, compression);
        Self {
            took: started.elapsed(),
            body,
            last_seq,
            len,
            compression,
        }
    }

    /// Compressed bytes per second of encoding, when compressed thoroughly: what the link is
    /// compared with ([`crate::decide::compression_for`]).
    pub(crate) fn thorough_rate(&self) -> Option<f64> {
        (self.compression == Compression::Thorough)
            .then(|| bytes_per_second(self.body.len(), self.took))
    }

    /// The sequence number of its last record (None when it carries none).
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// `bytes` over `time`, the time no shorter than a tenth of a millisecond (a clock's step on
/// loopback).
fn bytes_per_second(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / time.max(Duration::from_micros(100)).as_secs_f64()
}

/// How a push travelled: the bytes per second its body moved at over the part of the round trip
/// the server did not spend (None when the server did not say). A round trip's latency and a
/// new connection's handshakes count as the link's, so a far or new link looks slower than its
/// line: the mistake that costs CPU, not bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Travelled {
    pub(crate) link_rate: Option<f64>,
}

pub(crate) enum Failure {
    /// Worth retrying: network error, timeout, 5xx.
    Transient(SyncError),
    Final(SyncError),
}

impl Failure {
    pub(crate) fn into_error(self) -> SyncError {
        match self {
            Failure::Transient(e) | Failure::Final(e) => e,
        }
    }
}

/// A handle on the server. Clones share their connections and their counts, so several pushes
/// can travel at once, each on its own connection.
#[derive(Clone)]
pub(crate) struct ApiClient {
    http: reqwest::Client,
    base: String,
    /// For `https://`: the certificate check, which remembers what the server showed.
    certificate: Option<Arc<PinnedCertificate>>,
    token: Option<String>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
}

impl ApiClient {
    /// A client for `base`, refused before any connection when it would send in clear to
    /// another machine.
    pub fn new(
        base: &str,
        token: Option<String>,
        timeout: Duration,
        trust: &ServerTrust,
    ) -> Result<Self, SyncError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        let parsed =
            reqwest::Url::parse(&base).map_err(|_| SyncError::BadServerAddress(base.clone()))?;
        if parsed.host_str().is_none() {
            return Err(SyncError::BadServerAddress(base));
        }
        check_scheme(&parsed, &base)?;
        // reqwest is built without a default crypto provider (its default, aws-lc, needs cmake
        // and does not cross-build for Windows here); ring is the one rustls uses in this build.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The protocol never redirects: following one could carry the token elsewhere, or to
        // plain http://.
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(15)))
            .redirect(reqwest::redirect::Policy::none());
        if parsed.scheme() == "http" {
            // Plain http:// is for this machine only; a proxy would carry it off in clear. It
            // speaks no TLS, so it trusts no certificate: left to itself reqwest would read the
            // system's whole certificate store (~150 files on Debian, tens of milliseconds of
            // every sync) for a verifier never used, and fail where there is none.
            builder = builder.no_proxy().tls_certs_only(std::iter::empty());
        }
        let mut certificate = None;
        if parsed.scheme() == "https" {
            if matches!(trust, ServerTrust::Pinned(None)) {
                // Enrolled over http:// (loopback); an https:// address now has nothing pinned.
                return Err(SyncError::PlainHttp(base));
            }
            let expected = match trust {
                ServerTrust::Enrolling(expected) | ServerTrust::Pinned(expected) => expected,
            };
            let verifier = Arc::new(PinnedCertificate::new(expected.clone()));
            builder = builder.tls_backend_preconfigured(tls_config(verifier.clone())?);
            certificate = Some(verifier);
        }
        let http = builder.build().map_err(|e| network(&base, e))?;
        Ok(Self {
            http,
            base,
            certificate,
            token,
            counts: Arc::default(),
        })
    }

    pub fn requests(&self) -> u64 {
        self.counts.requests.load(Ordering::Relaxed)
    }

    pub fn bytes_sent(&self) -> u64 {
        self.counts.bytes_sent.load(Ordering::Relaxed)
    }

    pub fn bytes_received(&self) -> u64 {
        self.counts.bytes_received.load(Ordering::Relaxed)
    }

    /// The fingerprint of the certificate the server showed (https only).
    pub fn seen_certificate(&self) -> Option<String> {
        let verifier = self.certificate.as_ref()?;
        verifier
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn certificate_changed(&self) -> Option<SyncError> {
        let expected = self.certificate.as_ref()?.expected.clone()?;
        let got = self.seen_certificate()?;
        (got != expected).then(|| SyncError::CertificateChanged {
            server: self.base.clone(),
            expected,
            got,
        })
    }

    pub async fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse, Failure> {
        self.post("/v1/enroll", request).await
    }

    pub async fn status(&self) -> Result<DeviceStatus, Failure> {
        self.get("/v1/status").await
    }

    /// Sends a batch; `follows`: the last sequence of earlier batches still on their way.
    pub(crate) async fn push(
        &self,
        push: EncodedPush,
        follows: Option<u64>,
    ) -> Result<(PushResponse, Travelled), Failure> {
        let bytes = push.body.len();
        let mut request = self.post_request("/v1/push", push.body);
        if let Some(seq) = follows {
            request = request.header(FOLLOWS_HEADER, seq.to_string());
        }
        let started = Instant::now();
        let (response, server_spent) = self.send_timed(request).await?;
        let link_time = server_spent.map(|spent| started.elapsed().saturating_sub(spent));
        Ok((
            response,
            Travelled {
                link_rate: link_time.map(|time| bytes_per_second(bytes, time)),
            },
        ))
    }

    pub async fn own(&self, after: u64, limit: usize) -> Result<OwnRecords, Failure> {
        self.get(&format!("/v1/own?after={after}&limit={limit}"))
            .await
    }

    pub async fn pull(
        &self,
        cursor: u64,
        limit: usize,
        catalogue: &str,
    ) -> Result<PullResponse, Failure> {
        let path = format!("/v1/pull?position={cursor}&limit={limit}&catalogue={catalogue}");
        self.get(&path).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, Failure> {
        self.send(self.post_request(path, compress_json(body)))
            .await
    }

    fn post_request(&self, path: &str, compressed: Vec<u8>) -> reqwest::RequestBuilder {
        self.counts
            .bytes_sent
            .fetch_add(compressed.len() as u64, Ordering::Relaxed);
        self.http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("content-encoding", "zstd")
            .body(compressed)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        Ok(self.send_timed(request).await?.0)
    }

    /// [`Self::send`], with the time the server says it spent on the request, if it says.
    async fn send_timed<T: DeserializeOwned>(
        &self,
        mut request: reqwest::RequestBuilder,
    ) -> Result<(T, Option<Duration>), Failure> {
        request = request.header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        let transient = |e: reqwest::Error, base: &str| Failure::Transient(network(base, e));
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Err(match self.certificate_changed() {
                    Some(changed) => Failure::Final(changed),
                    None => transient(e, &self.base),
                })
            }
        };
        let status = response.status().as_u16();
        let server_spent = response
            .headers()
            .get(SERVER_TIMING_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(read_server_timing);
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transient(e, &self.base))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_RESPONSE_BYTES {
                return Err(Failure::Final(SyncError::Network {
                    server: self.base.clone(),
                    failure: NetworkFailure::TooLarge,
                }));
            }
        }
        self.counts
            .bytes_received
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes)
                .map(|answer| (answer, server_spent))
                .map_err(|e| {
                    Failure::Transient(SyncError::Network {
                        server: self.base.clone(),
                        failure: NetworkFailure::BadAnswer(e.to_string()),
                    })
                });
        }
        let (kind, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(b) => (b.error.kind, b.error.message),
            Err(_) => (
                "http".to_owned(),
                String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            ),
        };
        let error = SyncError::Server {
            status,
            kind,
            message,
        };
        if retryable_status(status) {
            Err(Failure::Transient(error))
        } else {
            Err(Failure::Final(error))
        }
    }
}

/// A transport failure in words a volunteer can act on.
fn network(server: &str, e: reqwest::Error) -> SyncError {
    let failure = if e.is_timeout() {
        NetworkFailure::Timeout
    } else if e.is_connect() {
        NetworkFailure::Connect
    } else {
        NetworkFailure::Interrupted(e.to_string())
    };
    SyncError::Network {
        server: server.to_owned(),
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotay_core::sample::SampleTeam;

    /// The body's compression settings (`sotay_protocol::wire`) were chosen on the bench's
    /// records; a full batch as this laptop sends it (5,000 records of a commune's register)
    /// must still go at least 5 % smaller with them than at plain zstd level 8 (about 10 % here),
    /// and read back as the same JSON.
    #[test]
    fn a_batch_goes_smaller_than_at_plain_level_8_and_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = SampleTeam {
            citizens: 5_000,
            sessions: 40,
            per_session: 25,
        }
        .build(dir.path())
        .unwrap();
        let records = store.pending_to_send(0, 5_000).unwrap();
        assert_eq!(records.len(), 5_000);
        let device = records[0].device_id;
        let json = serde_json::to_vec(&PushRequest {
            device_id: device,
            records: records.clone(),
        })
        .unwrap();
        let plain_level_8 = zstd::encode_all(json.as_slice(), 8).unwrap();

        let push = EncodedPush::new(device, records, Compression::Thorough);
        assert_eq!(
            sotay_protocol::wire::decompress_body(&push.body, 1 << 30).unwrap(),
            json
        );
        assert!(
            push.body.len() * 100 < plain_level_8.len() * 95,
            "{} bytes, plain level 8 {}",
            push.body.len(),
            plain_level_8.len()
        );
    }
}
