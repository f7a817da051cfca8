//! The laptop's data at rest, through the real `sotay` binary: no plaintext in the database, its
//! WAL or a backup; a wrong passphrase refused with nothing changed; the passphrase asked for
//! when none is given; a change of passphrase; and a plain database from before encryption
//! encrypted in place, with a kill at any moment leaving a usable file.

mod common;

use common::PASSPHRASE;
use sotay_core::sample::SampleTeam;
use sotay_core::{CitizenInput, DatabaseFile, Passphrase};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

fn sotay(db: &Path, passphrase: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sotay"));
    cmd.arg("--db")
        .arg(db)
        .env_remove("SOTAY_DB")
        .env_remove("SOTAY_PASSPHRASE")
        .env_remove("SOTAY_NEW_PASSPHRASE")
        .stdin(Stdio::null());
    if let Some(passphrase) = passphrase {
        cmd.env("SOTAY_PASSPHRASE", passphrase);
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn init(db: &Path) {
    let out = run(sotay(db, Some(PASSPHRASE)).args([
        "init",
        "--team",
        "Đội TNTN Hàm Rồng",
        "--org",
        "youth",
        "--province",
        "38",
        "--commune",
        common::COMMUNE,
        "--volunteer",
        "Lê Thị Hoa",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn no_name_phone_or_cccd_in_clear_in_the_file_its_wal_or_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("laptop.sqlite");
    init(&db);
    // The store kept open, as the app keeps it: the change sits in the WAL.
    let store = sotay_core::Store::open(&db, &Passphrase::new(PASSPHRASE)).unwrap();
    let app = sotay_core::SharedStore::new(store);
    app.with(|s| {
        s.add_citizen(CitizenInput {
            full_name: "Vi Thị Mẩy".into(),
            gender: "nữ".into(),
            birth: "03/04/1961".into(),
            village: "Bản Khằm".into(),
            phone: Some("0912345678".into()),
            cccd: Some("038161001234".into()),
            consent: true,
            ..CitizenInput::default()
        })
    })
    .unwrap();
    let wal = std::fs::read(format!("{}-wal", db.display())).unwrap_or_default();
    assert!(!wal.is_empty(), "the change is in the WAL");
    let backup = dir.path().join("usb/sao-luu.sqlite");
    app.with(|s| s.backup_to(&backup)).unwrap();
    for (what, bytes) in [
        ("database", std::fs::read(&db).unwrap()),
        ("wal", wal),
        ("backup", std::fs::read(&backup).unwrap()),
    ] {
        for secret in ["Vi Thị Mẩy", "0912345678", "038161001234", "Lê Thị Hoa"] {
            assert!(!holds(&bytes, secret), "{secret} in clear in the {what}");
        }
    }
    // The backup reads back, with the passphrase, through the CLI.
    let out = run(sotay(&backup, Some(PASSPHRASE)).args(["citizen", "search", "vi thi may"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Vi Thị Mẩy"));
}

#[test]
fn a_wrong_or_missing_passphrase_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("laptop.sqlite");
    init(&db);
    let before = std::fs::read(&db).unwrap();

    let out = run(sotay(&db, Some("hoa sen đỏ")).args(["outbox", "status"]));
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("mật khẩu không đúng"), "{said}");
    assert_eq!(std::fs::read(&db).unwrap(), before);

    // No passphrase and no terminal to ask on: say how to give one.
    let out = run(sotay(&db, None).args(["outbox", "status"]));
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("SOTAY_PASSPHRASE"), "{said}");
    assert_eq!(std::fs::read(&db).unwrap(), before);

    // After three wrong tries even the right passphrase waits.
    for _ in 0..2 {
        run(sotay(&db, Some("hoa sen đỏ")).args(["outbox", "status"]));
    }
    let out = run(sotay(&db, Some(PASSPHRASE)).args(["outbox", "status"]));
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("thử lại sau"), "{said}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn changing_the_passphrase_re_encrypts_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("laptop.sqlite");
    init(&db);
    let weak = run(sotay(&db, Some(PASSPHRASE))
        .args(["passphrase", "change"])
        .env("SOTAY_NEW_PASSPHRASE", "ngắn"));
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("ít nhất 8 ký tự"));
    let out = run(sotay(&db, Some(PASSPHRASE))
        .args(["passphrase", "change"])
        .env("SOTAY_NEW_PASSPHRASE", "trăng rằm tháng tám"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let old = run(sotay(&db, Some(PASSPHRASE)).args(["outbox", "status"]));
    assert!(!old.status.success());
    let new = run(sotay(&db, Some("trăng rằm tháng tám")).args(["outbox", "status"]));
    assert!(
        new.status.success(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
}

/// A copy of `encrypted` without encryption, as a build before encryption wrote it.
fn decrypted_copy(encrypted: &Path, plain: &Path) {
    let conn =
        sotay_core::protect::open_connection(encrypted, &Passphrase::new(PASSPHRASE)).unwrap();
    conn.execute(
        "ATTACH DATABASE ?1 AS plain KEY ''",
        [plain.to_str().unwrap()],
    )
    .unwrap();
    conn.query_row("SELECT sqlcipher_export('plain')", [], |_| Ok(()))
        .unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    conn.pragma_update(Some("plain"), "user_version", version)
        .unwrap();
    conn.execute_batch("DETACH DATABASE plain").unwrap();
}

fn citizens_in(db: &Path) -> i64 {
    let conn = match sotay_core::protect::database_file(db) {
        DatabaseFile::Plain => rusqlite::Connection::open(db).unwrap(),
        _ => sotay_core::protect::open_connection(db, &Passphrase::new(PASSPHRASE)).unwrap(),
    };
    conn.query_row("SELECT count(*) FROM citizen", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_plain_database_is_encrypted_in_place_and_a_kill_at_any_moment_leaves_it_usable() {
    let dir = tempfile::tempdir().unwrap();
    let citizens = 3_000;
    let sample = SampleTeam {
        citizens,
        sessions: 20,
        per_session: 20,
    };
    drop(sample.build(dir.path()).unwrap());
    let plain = dir.path().join("plain.sqlite");
    decrypted_copy(&dir.path().join("laptop.sqlite"), &plain);
    assert_eq!(
        sotay_core::protect::database_file(&plain),
        DatabaseFile::Plain
    );
    let original = std::fs::read(&plain).unwrap();

    // How long an undisturbed encryption takes, to spread the kills over it.
    let db = dir.path().join("work.sqlite");
    std::fs::write(&db, &original).unwrap();
    let started = Instant::now();
    let out = run(sotay(&db, Some(PASSPHRASE)).args(["outbox", "status"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = started.elapsed();
    assert_eq!(
        sotay_core::protect::database_file(&db),
        DatabaseFile::Locked
    );
    assert_eq!(citizens_in(&db), citizens as i64);

    let mut seen = std::collections::BTreeSet::new();
    for step in 0..=12u32 {
        let _ = std::fs::remove_file(format!("{}-wal", db.display()));
        let _ = std::fs::remove_file(format!("{}-shm", db.display()));
        std::fs::write(&db, &original).unwrap();
        let mut child = sotay(&db, Some(PASSPHRASE))
            .args(["outbox", "status"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took * step / 10);
        let _ = child.kill();
        let _ = child.wait();
        // Whatever instant the kill hit, one whole copy is under the database's name.
        let state = sotay_core::protect::database_file(&db);
        assert_ne!(state, DatabaseFile::New);
        seen.insert(format!("{state:?}"));
        assert_eq!(
            citizens_in(&db),
            citizens as i64,
            "after a kill at step {step}"
        );
        // And the next start finishes the job.
        let out = run(sotay(&db, Some(PASSPHRASE)).args(["citizen", "search", "so1"]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            sotay_core::protect::database_file(&db),
            DatabaseFile::Locked
        );
        assert_eq!(citizens_in(&db), citizens as i64);
    }
    eprintln!("states seen right after a kill: {seen:?} (encryption took {took:?})");
}
