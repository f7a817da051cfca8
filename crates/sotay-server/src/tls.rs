//! HTTPS for `sotay serve --tls-cert FILE --tls-key FILE`: rustls (ring) behind axum. A commune
//! office has no public certificate, so a self-signed one does: laptops pin its fingerprint at
//! enrolment ([`certificate_fingerprint`], printed by `sotay server enroll`). Handshakes run in
//! their own tasks, so one slow or hostile client never holds up the others.

use crate::error::{ServerError, ServerResult};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sotay_protocol::wire::certificate_fingerprint;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Handshakes in progress at once; more connections wait in the kernel's queue, so idle
/// connections cannot exhaust the server's file descriptors.
const HANDSHAKES_AT_ONCE: usize = 256;

/// The server's certificate and key, ready to serve.
#[derive(Clone)]
pub struct TlsIdentity {
    pub config: Arc<rustls::ServerConfig>,
    /// The fingerprint laptops pin (see [`certificate_fingerprint`]).
    pub fingerprint: String,
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> ServerError {
    ServerError::BadRequest(format!("không đọc được {}: {e}", path.display()))
}

fn certificates(path: &Path) -> ServerResult<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(path, e))?;
    if chain.is_empty() {
        return Err(unreadable(path, "không có chứng chỉ (PEM) nào"));
    }
    Ok(chain)
}

/// The fingerprint of the certificate in a PEM file (its first, the server's own).
pub fn fingerprint_of(cert: &Path) -> ServerResult<String> {
    Ok(certificate_fingerprint(certificates(cert)?[0].as_ref()))
}

impl TlsIdentity {
    /// Reads a PEM certificate chain and its private key.
    pub fn load(cert: &Path, key: &Path) -> ServerResult<Self> {
        let chain = certificates(cert)?;
        let fingerprint = certificate_fingerprint(chain[0].as_ref());
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| unreadable(key, e))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Internal(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServerError::BadRequest(format!("chứng chỉ và khóa không khớp: {e}")))?;
        Ok(Self {
            config: Arc::new(config),
            fingerprint,
        })
    }
}

/// The address of a client that connected over TLS (for the per-address enrolment limit).
#[derive(Debug, Clone, Copy)]
pub struct TlsPeer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for TlsPeer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        TlsPeer(*stream.remote_addr())
    }
}

/// Accepts TCP connections and hands axum those whose TLS handshake completed.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(listener: TcpListener, identity: &TlsIdentity) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(identity.config.clone());
        let (done, ready) = mpsc::channel(64);
        let slots = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_AT_ONCE));
        tokio::spawn(async move {
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    // axum stopped serving: stop accepting.
                    () = done.closed() => return,
                };
                let Ok((stream, peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (acceptor, done) = (acceptor.clone(), done.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = done.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake refused"),
                        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The acceptor only stops once axum has dropped this listener.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
