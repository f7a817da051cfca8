//! Opening the local SQLite file: connection settings (set here and nowhere else) and the schema
//! migrations. Migrations are compiled in, forward-only, applied in one exclusive transaction and
//! tracked by `PRAGMA user_version`; a file written by a newer build is refused rather than
//! misread. A landed migration is never edited: add a new one at the end of `MIGRATIONS`.
//! The file is always encrypted under the volunteer's passphrase (see `protect.rs`). SQLite's
//! compile-time options, for every binary of the workspace, are in `.cargo/config.toml`.

use crate::error::{CoreError, CoreResult};
use crate::protect::{self, DatabaseFile, Passphrase};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_sync.sql"),
    include_str!("migrations/0003_targets.sql"),
    include_str!("migrations/0004_quarantine.sql"),
    include_str!("migrations/0005_outcome_confirmation.sql"),
    include_str!("migrations/0006_no_name_index.sql"),
    include_str!("migrations/0007_pending_by_entity.sql"),
    include_str!("migrations/0008_attendance_outcomes.sql"),
    include_str!("migrations/0009_acked_upto.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens the store at `path` with `passphrase`: a new file is created encrypted, a plain one is
/// encrypted in place first (both take a passphrase the volunteer chooses, so it is checked), an
/// encrypted one is unlocked.
pub fn open(path: &Path, passphrase: &Passphrase) -> CoreResult<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| crate::report::file_error(dir, e))?;
    }
    // A file that is not SQLite, or is damaged, says so in words, not in SQLite's.
    let unreadable = |e: CoreError| match e {
        CoreError::Database(rusqlite::Error::SqliteFailure(f, _))
            if matches!(
                f.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
        {
            CoreError::Unreadable {
                path: path.display().to_string(),
            }
        }
        e => e,
    };
    protect::discard_partial(path);
    let mut conn = match protect::database_file(path) {
        DatabaseFile::New => {
            passphrase.check_choosable()?;
            protect::open_keyed(path, passphrase)?
        }
        DatabaseFile::Plain => {
            passphrase.check_choosable()?;
            protect::encrypt_in_place(path, passphrase).map_err(unreadable)?;
            protect::unlock(path, passphrase)?
        }
        DatabaseFile::Locked => protect::unlock(path, passphrase)?,
    };
    configure(&conn).map_err(unreadable)?;
    migrate(&mut conn).map_err(unreadable)?;
    Ok(conn)
}

/// An in-memory store, for tests and benchmarks.
pub fn open_in_memory() -> CoreResult<Connection> {
    let mut conn = Connection::open_in_memory()?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> CoreResult<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // The app uses one connection behind a mutex (`SharedStore`), so WAL is not about readers
    // running beside a writer here: it keeps a crash from leaving a half-applied page, and makes
    // each small commit cheap. FULL syncs the WAL on every commit: what the volunteer saw saved
    // survives a power cut (a laptop in a village runs on a tired battery), which NORMAL does not
    // promise.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Freed bytes are zeroed, so a forgotten citizen's old values do not survive in free space.
    conn.pragma_update(None, "secure_delete", true)?;
    Ok(())
}

pub(crate) fn migrate(conn: &mut Connection) -> CoreResult<()> {
    migrate_sqlite(conn, MIGRATIONS)
}

/// Brings an SQLite file's schema to `migrations.len()` under `PRAGMA user_version`, in one
/// exclusive transaction; refuses a file from a newer build. The laptop's store and the server's
/// SQLite engine both migrate through this.
pub fn migrate_sqlite(conn: &mut Connection, migrations: &[&str]) -> CoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = migrations.len() as i64;
    if found > supported {
        return Err(CoreError::SchemaTooNew { found, supported });
    }
    for sql in &migrations[found as usize..] {
        tx.execute_batch(sql)?;
    }
    if found < supported {
        tx.pragma_update(None, "user_version", supported)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passphrase() -> Passphrase {
        Passphrase::new("hoa sen trắng")
    }

    #[test]
    fn migrates_an_empty_file_to_the_current_version() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("a/b/sotay.sqlite"), &passphrase()).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // Opening again applies nothing twice.
        drop(conn);
        open(&dir.path().join("a/b/sotay.sqlite"), &passphrase()).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_store_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let garbage = b"not a database ".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        // Without SQLite's header it may be encrypted: only the passphrase can tell.
        let err = open(&path, &passphrase()).unwrap_err();
        assert!(matches!(err, CoreError::WrongPassphrase { .. }), "{err:?}");
        assert!(err.to_string().contains("không phải dữ liệu Sổ Tay"));
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn a_damaged_plain_file_is_called_unreadable_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let mut damaged = b"SQLite format 3\0".to_vec();
        damaged.extend(b"not a database ".repeat(100));
        std::fs::write(&path, &damaged).unwrap();
        let err = open(&path, &passphrase()).unwrap_err();
        assert!(matches!(err, CoreError::Unreadable { .. }), "{err:?}");
        assert!(err.to_string().contains("không đọc được"));
        assert_eq!(std::fs::read(&path).unwrap(), damaged);
    }

    #[test]
    fn the_file_holds_no_plaintext_and_opens_only_with_its_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let conn = open(&path, &passphrase()).unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('probe', 'Nguyễn Thị Lành 0912345678')",
            [],
        )
        .unwrap();
        drop(conn);
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(10).any(|w| w == b"0912345678"));
        assert!(!bytes.starts_with(b"SQLite format 3"));
        let err = open(&path, &Passphrase::new("hoa sen đỏ")).unwrap_err();
        assert_eq!(err.kind(), "wrong_passphrase");
        let conn = open(&path, &passphrase()).unwrap();
        let probe: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'probe'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(probe, "Nguyễn Thị Lành 0912345678");
    }

    #[test]
    fn a_new_file_needs_a_passphrase_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let err = open(&path, &Passphrase::new("123")).unwrap_err();
        assert_eq!(err.kind(), "weak_passphrase");
        assert!(!path.exists() || std::fs::metadata(&path).unwrap().len() == 0);
    }

    #[test]
    fn a_plain_file_is_encrypted_in_place_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        {
            let mut plain = Connection::open(&path).unwrap();
            plain.pragma_update(None, "journal_mode", "WAL").unwrap();
            migrate(&mut plain).unwrap();
            plain
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('probe', 'Lê Văn Tám 038095001234')",
                    [],
                )
                .unwrap();
        }
        assert_eq!(protect::database_file(&path), DatabaseFile::Plain);
        // A copy half-made by an earlier crash is discarded, not used.
        std::fs::write(protect::sidecar(&path, ".ma-hoa.partial"), b"half").unwrap();
        let conn = open(&path, &passphrase()).unwrap();
        let probe: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'probe'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(probe, "Lê Văn Tám 038095001234");
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        drop(conn);
        assert_eq!(protect::database_file(&path), DatabaseFile::Locked);
        assert!(!protect::sidecar(&path, ".ma-hoa.partial").exists());
        for file in [path.clone(), protect::sidecar(&path, "-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(!bytes.windows(12).any(|w| w == b"038095001234"), "{file:?}");
        }
    }

    #[test]
    fn a_plain_file_another_program_is_reading_is_not_swapped_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        {
            let mut plain = Connection::open(&path).unwrap();
            plain.pragma_update(None, "journal_mode", "WAL").unwrap();
            migrate(&mut plain).unwrap();
        }
        let other = Connection::open(&path).unwrap();
        other
            .execute_batch("BEGIN; SELECT count(*) FROM meta;")
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = open(&path, &passphrase()).unwrap_err();
        assert_eq!(err.kind(), "encrypting", "{err:?}");
        assert!(err.to_string().contains("chương trình khác"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(protect::database_file(&path), DatabaseFile::Plain);
        other.execute_batch("COMMIT").unwrap();
        drop(other);
        open(&path, &passphrase()).unwrap();
        assert_eq!(protect::database_file(&path), DatabaseFile::Locked);
    }

    #[test]
    fn refuses_a_database_from_a_newer_build() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        drop(open(&path, &passphrase()).unwrap());
        let conn = protect::open_keyed(&path, &passphrase()).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = open(&path, &passphrase()).unwrap_err();
        assert!(
            matches!(err, CoreError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1)
        );
        assert!(err.to_string().contains("cập nhật Sổ Tay"));
    }

    #[test]
    fn upgrades_a_version_1_file_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        migrate_sqlite(&mut conn, &MIGRATIONS[..1]).unwrap();
        conn.execute(
            "INSERT INTO outbox (seq, record_id, device_id, hlc, entity, entity_id, op,
                 payload_version, payload, created_at)
             VALUES (1, 'r', 'd', 'h', 'team', 't', 'upsert', 1, '{}', 'now')",
            [],
        )
        .unwrap();
        drop(conn);
        let conn = open(&path, &passphrase()).unwrap();
        let fields: String = conn
            .query_row("SELECT fields FROM outbox WHERE seq = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fields, "[]");
    }

    #[test]
    fn schema_8_gives_each_attendance_its_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v7.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        migrate_sqlite(&mut conn, &MIGRATIONS[..7]).unwrap();
        // Rows of attendance alone: their sessions and people do not matter here.
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        conn.execute_batch(
            "INSERT INTO attendance (session_id, citizen_id, present, updated_hlc)
                 VALUES ('s1', 'c1', 1, 'h'), ('s1', 'c2', 1, 'h'), ('s2', 'c1', 0, 'h');
             INSERT INTO outcome (session_id, citizen_id, skill_code, outcome)
                 VALUES ('s1', 'c1', 'VNEID1', 'achieved'), ('s1', 'c1', 'Thanh toán QR', 'taught'),
                        ('s2', 'c1', '0.1', 'taught');",
        )
        .unwrap();
        drop(conn);
        let conn = open(&path, &passphrase()).unwrap();
        let outcomes = |session: &str, citizen: &str| {
            let column: String = conn
                .query_row(
                    "SELECT outcomes FROM attendance WHERE session_id = ?1 AND citizen_id = ?2",
                    [session, citizen],
                    |r| r.get(0),
                )
                .unwrap();
            let mut read: Vec<(String, sotay_protocol::Outcome)> =
                crate::report::outcomes_from_column(&column)
                    .unwrap()
                    .into_iter()
                    .map(|o| (o.skill, o.outcome))
                    .collect();
            read.sort_by(|a, b| a.0.cmp(&b.0));
            read
        };
        use sotay_protocol::Outcome::{Achieved, Taught};
        assert_eq!(
            outcomes("s1", "c1"),
            [
                ("Thanh toán QR".into(), Taught),
                ("VNEID1".into(), Achieved)
            ]
        );
        assert_eq!(outcomes("s1", "c2"), []);
        assert_eq!(outcomes("s2", "c1"), [("0.1".into(), Taught)]);
    }

    #[test]
    fn schema_9_keeps_what_was_acknowledged_and_what_was_not() {
        // (acknowledged rows, then the file's outbox): what the server held up to the first
        // record it did not; an odd file's later acknowledged rows are sent again, never lost.
        for (acked, upto) in [
            (&[] as &[i64], 0),
            (&[1, 2], 2),
            (&[1, 2, 3, 4], 4),
            (&[1, 3], 1),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("v8.sqlite");
            let mut conn = Connection::open(&path).unwrap();
            migrate_sqlite(&mut conn, &MIGRATIONS[..8]).unwrap();
            for seq in 1..=4 {
                conn.execute(
                    "INSERT INTO outbox (seq, record_id, device_id, hlc, entity, entity_id, op,
                         payload_version, payload, created_at, acked_at)
                     VALUES (?1, ?1, 'd', 'h', 'citizen', 'c', 'upsert', 1, '{}', 'now', ?2)",
                    rusqlite::params![seq, acked.contains(&seq).then_some("then")],
                )
                .unwrap();
            }
            drop(conn);
            let conn = open(&path, &passphrase()).unwrap();
            assert_eq!(crate::outbox::acked_upto(&conn).unwrap(), upto, "{acked:?}");
            let status = crate::outbox::status(&conn, sotay_protocol::DeviceId::new()).unwrap();
            assert_eq!(
                (status.pending, status.acknowledged),
                (4 - upto, upto),
                "{acked:?}"
            );
        }
        let mut empty = Connection::open_in_memory().unwrap();
        migrate(&mut empty).unwrap();
        assert_eq!(crate::outbox::acked_upto(&empty).unwrap(), 0);
    }

    #[test]
    fn a_failing_migration_leaves_the_file_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        let bad = [
            "CREATE TABLE a (x INTEGER);",
            "CREATE TABLE b (x INTEGER); SELECT nope;",
        ];
        assert!(migrate_sqlite(&mut conn, &bad).is_err());
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 0);
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0);
    }
}
