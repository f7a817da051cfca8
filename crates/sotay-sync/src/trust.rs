//! Which servers a laptop talks to, and how it knows it is the same one. A commune office has no
//! public certificate, so the laptop pins the server's certificate at enrolment (the fingerprint
//! `sotay server enroll` prints, or, when none is given, the one the server shows then) and from
//! then on refuses any other. Plain `http://` carries the device token and citizens' data in
//! clear, so it is refused except to this machine itself (tests, a server on the same laptop).

use crate::error::SyncError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sotay_protocol::wire::certificate_fingerprint;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// How the laptop trusts an `https://` server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTrust {
    /// Enrolment: the fingerprint the administrator gave, if any; without one, the certificate
    /// the server shows now is the one pinned.
    Enrolling(Option<String>),
    /// After enrolment: only this certificate (None: the server is `http://` on loopback).
    Pinned(Option<String>),
}

/// Refuses an address that would send the token in clear to another machine.
pub(crate) fn check_scheme(url: &reqwest::Url, base: &str) -> Result<(), SyncError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(SyncError::PlainHttp(base.to_owned())),
        _ => Err(SyncError::BadServerAddress(base.to_owned())),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Accepts the server's certificate only if its fingerprint is the expected one (or, while
/// enrolling without one, any), and remembers what it saw so the caller can pin it or say what
/// changed. The handshake's signatures are still checked, so the server must hold the key.
#[derive(Debug)]
pub(crate) struct PinnedCertificate {
    pub expected: Option<String>,
    pub seen: Arc<Mutex<Option<String>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedCertificate {
    pub fn new(expected: Option<String>) -> Self {
        Self {
            expected,
            seen: Arc::default(),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = certificate_fingerprint(end_entity.as_ref());
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(got.clone());
        match &self.expected {
            Some(expected) if *expected != got => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS configuration that trusts only `verifier`'s certificate.
pub(crate) fn tls_config(
    verifier: Arc<PinnedCertificate>,
) -> Result<rustls::ClientConfig, SyncError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SyncError::BadServerAddress(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_only_for_this_machine() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
            "https://10.0.0.5:8443",
            "https://sotay.thanhhoa.gov.vn",
        ] {
            assert!(check_scheme(&ok.parse().unwrap(), ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://10.0.0.5:8080",
            "http://192.168.1.10",
            "http://sotay.example.vn",
            "http://127.0.0.1.example.vn",
        ] {
            assert!(
                matches!(
                    check_scheme(&refused.parse().unwrap(), refused),
                    Err(SyncError::PlainHttp(_))
                ),
                "{refused}"
            );
        }
    }
}
