//! The wire: a laptop talks to its server over HTTPS with the certificate pinned at enrolment, and
//! refuses plain http:// to any other machine before connecting. Real server on 127.0.0.1,
//! real self-signed certificates, real laptop stores.

mod common;

use common::*;
use sotay_sync::SyncError;
use std::net::{TcpListener, UdpSocket};

const TEAM: &str = "Đội TNTN phường Hàm Rồng";

struct Certificate {
    identity: sotay_server::TlsIdentity,
    fingerprint: String,
    _dir: tempfile::TempDir,
}

/// A fresh self-signed certificate, written to PEM files as an administrator would make one.
fn self_signed() -> Certificate {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    Certificate {
        identity: sotay_server::TlsIdentity::load(&cert, &key).unwrap(),
        fingerprint: sotay_server::tls::fingerprint_of(&cert).unwrap(),
        _dir: dir,
    }
}

fn sqlite() -> (tempfile::TempDir, Backend) {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("central.sqlite"));
    (dir, backend)
}

#[test]
fn a_pinned_self_signed_certificate_syncs_and_a_swapped_one_is_refused() {
    let (_dir, backend) = sqlite();
    let real = self_signed();
    let server = TestServer::start_tls(backend, real.identity.clone(), "127.0.0.1:0");
    assert!(server.url().starts_with("https://"));

    // The volunteer types the fingerprint the administrator printed with the code.
    let mut laptop = Laptop::new();
    laptop
        .try_enroll(
            &server.url(),
            &server.code(TEAM),
            "Hoa",
            Some(&real.fingerprint),
        )
        .unwrap();
    assert_eq!(
        laptop.store().sync_status().unwrap().certificate,
        Some(real.fingerprint.clone())
    );
    laptop.add_citizens("Lê", 3);
    laptop.sync().unwrap();
    assert_eq!(server.stats(TEAM).citizens, 3);

    // Someone on the network answers at the server's address with another certificate.
    let (_other_dir, other_backend) = sqlite();
    let impostor = TestServer::start_tls(other_backend, self_signed().identity, "127.0.0.1:0");
    laptop.set_meta("sync.server", &impostor.url());
    laptop.add_citizens("Trần", 2);
    let err = laptop.sync().unwrap_err();
    assert!(
        matches!(&err, SyncError::CertificateChanged { expected, .. } if *expected == real.fingerprint),
        "{err:?}"
    );
    assert!(err.to_string().contains("chứng chỉ"), "{err}");
    assert!(
        err.message_en().contains("certificate"),
        "{}",
        err.message_en()
    );
    assert_eq!(laptop.pending(), 2, "nothing was sent");
    assert!(impostor.db.stats().iter().all(|t| t.records == 0));

    // Back at the real server, the same laptop goes on as before.
    laptop.set_meta("sync.server", &server.url());
    laptop.sync().unwrap();
    assert_eq!(server.stats(TEAM).citizens, 5);
}

#[test]
fn without_a_fingerprint_the_certificate_seen_at_enrolment_is_pinned() {
    let (_dir, backend) = sqlite();
    let real = self_signed();
    let server = TestServer::start_tls(backend, real.identity.clone(), "127.0.0.1:0");
    let laptop = Laptop::enrolled(&server, TEAM, "Hoa");
    assert_eq!(
        laptop.store().sync_status().unwrap().certificate,
        Some(real.fingerprint)
    );
}

#[test]
fn a_wrong_fingerprint_at_enrolment_is_refused_and_the_code_stays_usable() {
    let (_dir, backend) = sqlite();
    let real = self_signed();
    let server = TestServer::start_tls(backend, real.identity.clone(), "127.0.0.1:0");
    let code = server.code(TEAM);
    let mut laptop = Laptop::new();
    let other = self_signed().fingerprint;
    let err = laptop
        .try_enroll(&server.url(), &code, "Hoa", Some(&other))
        .unwrap_err();
    assert!(
        matches!(err, SyncError::CertificateChanged { .. }),
        "{err:?}"
    );
    let err = laptop
        .try_enroll(&server.url(), &code, "Hoa", Some("12:34"))
        .unwrap_err();
    assert!(matches!(err, SyncError::BadFingerprint(_)), "{err:?}");
    // The code was never sent: it still works, with the right fingerprint typed any way.
    let typed = real.fingerprint.replace(':', "").to_lowercase();
    laptop
        .try_enroll(&server.url(), &code, "Hoa", Some(&typed))
        .unwrap();
}

/// An address of this machine that is not loopback, if it has one.
fn outward_address() -> Option<std::net::IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks the route.
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn plain_http_to_another_machine_is_refused_before_any_connection() {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let host = outward_address().map_or("192.0.2.1".to_owned(), |ip| ip.to_string());
    let mut laptop = Laptop::new();
    let err = laptop
        .try_enroll(&format!("http://{host}:{port}"), "ABCDEFGHJK", "Hoa", None)
        .unwrap_err();
    assert!(matches!(err, SyncError::PlainHttp(_)), "{err:?}");
    assert!(err.to_string().contains("https://"), "{err}");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection reached {host}:{port}"
    );
    // An enrolled laptop whose address was changed to plain http:// refuses the same way.
    let (_dir, backend) = sqlite();
    let server = TestServer::start(backend);
    let mut enrolled = Laptop::enrolled(&server, TEAM, "Hoa");
    enrolled.set_meta("sync.server", &format!("http://{host}:{port}"));
    let err = enrolled.sync().unwrap_err();
    assert!(matches!(err, SyncError::PlainHttp(_)), "{err:?}");
    assert!(matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));
}

#[test]
fn enrolling_again_keeps_the_pinned_certificate_unless_the_admin_gives_a_new_one() {
    let (_dir, backend) = sqlite();
    let real = self_signed();
    let server = TestServer::start_tls(backend, real.identity.clone(), "127.0.0.1:0");
    let mut laptop = Laptop::enrolled(&server, TEAM, "Hoa");
    laptop.add_citizens("Lê", 2);
    laptop.sync().unwrap();
    server.db.revoke(laptop.store().device_id());

    // A server with another certificate, typed without a fingerprint: refused before the code
    // is spent, and the laptop keeps its server and pin.
    let (_other_dir, other_backend) = sqlite();
    let impostor = TestServer::start_tls(other_backend, self_signed().identity, "127.0.0.1:0");
    let code = impostor.code(TEAM);
    let err = laptop.reenroll(&impostor.url(), &code).unwrap_err();
    assert!(
        matches!(err, SyncError::CertificateChanged { .. }),
        "{err:?}"
    );
    let status = laptop.store().sync_status().unwrap();
    assert_eq!(status.server.as_deref(), Some(server.url().as_str()));
    assert_eq!(status.certificate, Some(real.fingerprint.clone()));

    // The team's own server, with its pinned certificate: enrolled again, nothing counted twice.
    laptop.reenroll(&server.url(), &server.code(TEAM)).unwrap();
    laptop.sync().unwrap();
    assert_eq!(server.stats(TEAM).citizens, 2);
}
