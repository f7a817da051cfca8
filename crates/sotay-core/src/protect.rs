//! The laptop's database at rest: SQLCipher encryption under the volunteer's passphrase. Owns the
//! passphrase type, telling a new, a plain and an encrypted file apart, encrypting a plain file in
//! place (crash-safe: at every instant one complete copy exists under the database's name), the
//! slow-down after wrong passphrases, and re-keying.
//!
//! The page key is Argon2id of the passphrase (RFC 9106; 19 MiB, 2 passes, 1 lane: OWASP's first
//! recommended setting) with the random salt SQLCipher keeps in the file's first 16 bytes, handed
//! to SQLCipher as a raw key. Memory-hard, it costs a guesser's GPUs more per try than SQLCipher's
//! own PBKDF2-HMAC-SHA512 (256,000 rounds), and unlocks in a fifth of the time. A store keyed the
//! old way (by an earlier build) still opens with its passphrase and is re-keyed on the spot.
//! A plain file is told apart by SQLite's own header.

use crate::error::{CoreError, CoreResult};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

/// The shortest passphrase a volunteer may choose. Only choosing is checked: unlocking takes
/// whatever is typed, so a rule changed later never locks anyone out.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Wrong passphrases allowed before each further try must wait.
const FREE_ATTEMPTS: u32 = 3;
/// The first wait; each further failure doubles it, up to `MAX_WAIT_SECONDS`.
const FIRST_WAIT_SECONDS: i64 = 30;
const MAX_WAIT_SECONDS: i64 = 15 * 60;

/// What unlocks the database. Kept NFC so that the same words typed through any Vietnamese input
/// method (composed or combining accents) give the same key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(String);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(…)")
    }
}

impl Passphrase {
    /// A passphrase as typed, to unlock with.
    pub fn new(typed: &str) -> Self {
        Self(typed.nfc().collect())
    }

    /// A passphrase the volunteer chooses (first run, or a change): long enough to resist
    /// guessing by someone who took the laptop.
    pub fn choose(typed: &str) -> CoreResult<Self> {
        let passphrase = Self::new(typed);
        passphrase.check_choosable()?;
        Ok(passphrase)
    }

    /// Refuses a passphrase too short to be chosen (one is chosen for a new or plain file).
    pub(crate) fn check_choosable(&self) -> CoreResult<()> {
        if self.0.trim().chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(CoreError::WeakPassphrase {
                min: MIN_PASSPHRASE_CHARS,
            });
        }
        Ok(())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is at the database's path before it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseFile {
    /// Nothing yet: the first run chooses a passphrase.
    New,
    /// A file from a build before encryption (or an unprotected copy): choosing a passphrase
    /// encrypts it in place.
    Plain,
    /// Encrypted (or not SQLite at all, which only the passphrase can tell): unlock it.
    Locked,
}

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Argon2id's memory (KiB), passes and lanes for the page key.
const KDF_MEMORY_KIB: u32 = 19 * 1024;
const KDF_PASSES: u32 = 2;
const KDF_LANES: u32 = 1;

/// The salt SQLCipher keeps, unencrypted, as an encrypted file's first bytes.
type Salt = [u8; 16];

/// What `PRAGMA key` (or `ATTACH … KEY`) is given: a passphrase for SQLCipher to derive from, or
/// a raw key `x'…'` it takes as is. Never printed.
struct KeySpec(String);

impl KeySpec {
    /// The page key of `passphrase` under `salt`, naming the salt too when `with_salt` (a new
    /// file takes it; an existing one already has it).
    fn derived(passphrase: &Passphrase, salt: &Salt, with_salt: bool) -> CoreResult<Self> {
        use std::fmt::Write;
        let params = argon2::Params::new(KDF_MEMORY_KIB, KDF_PASSES, KDF_LANES, Some(32))
            .expect("valid Argon2 parameters");
        let mut key = [0u8; 32];
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(passphrase.as_str().as_bytes(), salt, &mut key)
            .map_err(|e| CoreError::Unlocking {
                reason: format!("Argon2: {e}"),
            })?;
        let mut text = String::with_capacity(3 + 2 * (key.len() + salt.len()));
        text.push_str("x'");
        let named_salt: &[u8] = if with_salt { salt } else { &[] };
        for byte in key.iter().chain(named_salt) {
            let _ = write!(text, "{byte:02x}");
        }
        text.push('\'');
        key.fill(0);
        Ok(Self(text))
    }

    /// How stores were keyed before Argon2: the passphrase itself, for SQLCipher's PBKDF2.
    fn legacy(passphrase: &Passphrase) -> Self {
        Self(passphrase.as_str().to_owned())
    }
}

/// The salt of an encrypted file at `path`; None for a missing, empty or plain one.
fn file_salt(path: &Path) -> Option<Salt> {
    use std::io::Read;
    let mut salt = Salt::default();
    std::fs::File::open(path).ok()?.read_exact(&mut salt).ok()?;
    (&salt != SQLITE_HEADER).then_some(salt)
}

fn new_salt() -> CoreResult<Salt> {
    let mut salt = Salt::default();
    getrandom::fill(&mut salt).map_err(|e| CoreError::Unlocking {
        reason: format!("getrandom: {e}"),
    })?;
    Ok(salt)
}

pub fn database_file(path: &Path) -> DatabaseFile {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else {
        return DatabaseFile::New;
    };
    let mut header = [0u8; 16];
    match file.read(&mut header) {
        Ok(0) => DatabaseFile::New,
        Ok(16) if &header == SQLITE_HEADER => DatabaseFile::Plain,
        _ => DatabaseFile::Locked,
    }
}

/// Opens `path` and sets the key before anything reads the file.
///
/// SQLCipher has, about once in a few hundred CI runs, refused a first `PRAGMA key` on a fresh
/// connection with its catch-all "An error occurred with PRAGMA key or rekey" while other
/// threads opened their own stores (never reproduced locally: 40 loaded reruns, 2 400 keyings
/// on 8 threads). A failed key leaves that connection read-only, so the retry opens a new one;
/// the second try turns SQLCipher's error log on, so a failure that persists says why.
///
/// An existing encrypted file is keyed with its own salt; any other gets a new random one.
pub(crate) fn open_keyed(path: &Path, passphrase: &Passphrase) -> CoreResult<Connection> {
    let key = match file_salt(path) {
        Some(salt) => KeySpec::derived(passphrase, &salt, false)?,
        None => KeySpec::derived(passphrase, &new_salt()?, true)?,
    };
    open_with(path, &key)
}

fn open_with(path: &Path, key: &KeySpec) -> CoreResult<Connection> {
    const TRIES: u32 = 3;
    let mut attempt = 1;
    loop {
        let conn = Connection::open(path)?;
        match apply_key(&conn, key, attempt > 1) {
            Ok(()) => return Ok(conn),
            Err(CoreError::Database(rusqlite::Error::SqliteFailure(f, _)))
                if attempt < TRIES && f.code == rusqlite::ErrorCode::Unknown =>
            {
                drop(conn);
                std::thread::sleep(std::time::Duration::from_millis(20 * u64::from(attempt)));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sets the key on a fresh connection, before anything reads the file. SQLCipher's own log is
/// silenced (it writes a line to stderr for every wrong key, and our error says it better)
/// unless `diagnose`: then its errors go to stderr while this key is set.
fn apply_key(conn: &Connection, key: &KeySpec, diagnose: bool) -> CoreResult<()> {
    warm_up_cipher();
    if diagnose {
        let _ = conn.pragma_update(None, "cipher_log", "stderr");
        let _ = conn.pragma_update(None, "cipher_log_level", "ERROR");
    } else {
        let _ = conn.pragma_update(None, "cipher_log_level", "NONE");
    }
    let keyed = conn.pragma_update(None, "key", &key.0);
    if diagnose {
        let _ = conn.pragma_update(None, "cipher_log_level", "NONE");
    }
    Ok(keyed?)
}

/// Keys one throwaway in-memory database before any real one, on one thread at a time, so that
/// SQLCipher's first key (which sets up its crypto provider) never races another.
fn warm_up_cipher() {
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        if let Ok(conn) = Connection::open_in_memory() {
            let _ = conn.pragma_update(None, "cipher_log_level", "NONE");
            let _ = conn.pragma_update(None, "key", "warm-up");
            let _ = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            });
        }
    });
}

/// True when `passphrase` opens the file: SQLCipher only checks the key on the first read.
fn key_opens(conn: &Connection) -> CoreResult<bool> {
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(true),
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::NotADatabase =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// A bare connection to an encrypted store, for looking inside it (tests, support): no
/// migration, no settings, and wrong-passphrase attempts count as they do for [`crate::Store`].
pub fn open_connection(path: &Path, passphrase: &Passphrase) -> CoreResult<Connection> {
    unlock(path, passphrase)
}

/// Opens an encrypted file with `passphrase`, counting failures in a file beside it so that
/// guessing slows down across restarts: after three wrong passphrases each try waits, doubling.
pub(crate) fn unlock(path: &Path, passphrase: &Passphrase) -> CoreResult<Connection> {
    unlock_at(path, passphrase, chrono::Utc::now().timestamp())
}

fn unlock_at(path: &Path, passphrase: &Passphrase, now: i64) -> CoreResult<Connection> {
    let attempts = Attempts::load(path);
    if let Some(wait_seconds) = attempts.wait(now) {
        return Err(CoreError::TooManyAttempts { wait_seconds });
    }
    let conn = open_keyed(path, passphrase)?;
    if key_opens(&conn)? {
        Attempts::clear(path);
        return Ok(conn);
    }
    drop(conn);
    // A failed key leaves its connection unusable: the old way gets a new one.
    let legacy = open_with(path, &KeySpec::legacy(passphrase))?;
    if key_opens(&legacy)? {
        rekey(&legacy, passphrase)?;
        Attempts::clear(path);
        Ok(legacy)
    } else {
        attempts.failed(path, now);
        Err(CoreError::WrongPassphrase {
            path: path.display().to_string(),
        })
    }
}

/// Wrong passphrases so far and when the last one was typed, in `<database>.attempts`. It holds
/// no secret; deleting it only removes the wait, not the need for the passphrase.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Attempts {
    failures: u32,
    last_failure: i64,
}

impl Attempts {
    fn file(database: &Path) -> PathBuf {
        sidecar(database, ".attempts")
    }

    fn load(database: &Path) -> Self {
        let text = std::fs::read_to_string(Self::file(database)).unwrap_or_default();
        let mut parts = text.split_whitespace().map(|p| p.parse::<i64>().ok());
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(failures), Some(last_failure)) => Self {
                failures: failures.clamp(0, 1000) as u32,
                last_failure,
            },
            _ => Self::default(),
        }
    }

    /// Seconds still to wait before another try, if any.
    fn wait(&self, now: i64) -> Option<i64> {
        if self.failures < FREE_ATTEMPTS {
            return None;
        }
        let doublings = (self.failures - FREE_ATTEMPTS).min(20);
        let wait = (FIRST_WAIT_SECONDS << doublings).min(MAX_WAIT_SECONDS);
        let left = self.last_failure + wait - now;
        // A clock set back must not lock the volunteer out for longer than the longest wait.
        (left > 0).then_some(left.min(MAX_WAIT_SECONDS))
    }

    fn failed(self, database: &Path, now: i64) {
        let next = Self {
            failures: self.failures.saturating_add(1),
            last_failure: now,
        };
        let _ = std::fs::write(
            Self::file(database),
            format!("{} {}\n", next.failures, next.last_failure),
        );
    }

    fn clear(database: &Path) {
        let _ = std::fs::remove_file(Self::file(database));
    }
}

pub(crate) fn sidecar(database: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", database.display()))
}

/// Encrypts a plain database in place. The encrypted copy is written beside it, synced to disk,
/// and only then renamed over the plain file (an atomic step), so a crash at any instant leaves
/// either the whole plain file or the whole encrypted one under the database's name; a half-made
/// copy left by a crash is discarded and made again on the next open.
pub(crate) fn encrypt_in_place(path: &Path, passphrase: &Passphrase) -> CoreResult<()> {
    warm_up_cipher();
    let partial = sidecar(path, ".ma-hoa.partial");
    let _ = std::fs::remove_file(&partial);
    let fail = |reason: String| CoreError::Encrypting {
        path: path.display().to_string(),
        reason,
    };
    {
        let plain = Connection::open(path)?;
        // Held alone from here to the swap: another program with the file open (an older
        // Sổ Tay, the CLI) would go on writing to a file about to be replaced.
        plain.busy_timeout(std::time::Duration::from_secs(2))?;
        plain.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        let in_use = || {
            fail(
                "tệp đang được một chương trình khác mở; hãy đóng Sổ Tay ở nơi khác rồi thử lại"
                    .into(),
            )
        };
        plain
            .execute_batch("BEGIN EXCLUSIVE; COMMIT;")
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if matches!(
                        f.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) =>
                {
                    in_use()
                }
                // A damaged file says so (the caller words it), not "in use".
                e => e.into(),
            })?;
        // Everything in the plain file's WAL goes into the file first, so the copy has it all.
        let busy: i64 = plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(in_use());
        }
        let version: i64 = plain.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let target = partial
            .to_str()
            .ok_or_else(|| fail("đường dẫn không hợp lệ".into()))?;
        let key = KeySpec::derived(passphrase, &new_salt()?, true)?;
        plain.execute(
            "ATTACH DATABASE ?1 AS encrypted KEY ?2",
            rusqlite::params![target, key.0],
        )?;
        plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
        // sqlcipher_export copies tables, not the schema version.
        plain.pragma_update(Some("encrypted"), "user_version", version)?;
        plain.execute_batch("DETACH DATABASE encrypted")?;
        plain.close().map_err(|(_, e)| CoreError::from(e))?;
    }
    // Another process still holding the plain file would leave a WAL that does not belong to
    // the encrypted copy: stop before the swap rather than pair them.
    let wal = sidecar(path, "-wal");
    if std::fs::metadata(&wal)
        .map(|m| m.len() > 0)
        .unwrap_or(false)
    {
        let _ = std::fs::remove_file(&partial);
        return Err(fail(
            "tệp đang được một chương trình khác mở; hãy đóng Sổ Tay ở nơi khác rồi thử lại".into(),
        ));
    }
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| fail(e.to_string()))?;
    let _ = std::fs::remove_file(&wal);
    let _ = std::fs::remove_file(sidecar(path, "-shm"));
    std::fs::rename(&partial, path).map_err(|e| fail(e.to_string()))?;
    sync_parent(path);
    Ok(())
}

/// Makes a rename durable: on Unix the folder's entry is synced too.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Re-encrypts an open database under the key of `new` (its salt kept). SQLCipher rewrites every
/// page inside one transaction, so a crash leaves the old key working, never half of each.
pub(crate) fn rekey(conn: &Connection, new: &Passphrase) -> CoreResult<()> {
    let hex: String = conn.pragma_query_value(None, "cipher_salt", |r| r.get(0))?;
    let mut salt = Salt::default();
    let parsed = hex.len() == 2 * salt.len()
        && salt.iter_mut().enumerate().all(|(i, byte)| {
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map(|b| *byte = b)
                .is_ok()
        });
    if !parsed {
        return Err(CoreError::Unlocking {
            reason: format!("SQLCipher salt unreadable: {hex:?}"),
        });
    }
    let key = KeySpec::derived(new, &salt, false)?;
    conn.pragma_update(None, "rekey", &key.0)?;
    Ok(())
}

/// Removes a half-made encrypted copy a crash left behind (the database itself is whole).
pub(crate) fn discard_partial(path: &Path) {
    let _ = std::fs::remove_file(sidecar(path, ".ma-hoa.partial"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_words_typed_composed_or_decomposed_are_one_passphrase() {
        let composed = Passphrase::new("Mật khẩu đội Hàm Rồng");
        let decomposed = Passphrase::new(&"Mật khẩu đội Hàm Rồng".nfd().collect::<String>());
        assert_eq!(composed, decomposed);
        assert_eq!(format!("{composed:?}"), "Passphrase(…)");
    }

    #[test]
    fn a_key_set_while_diagnosing_opens_the_file_like_any_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let passphrase = Passphrase::new("hoa sen trắng");
        let conn = Connection::open(&path).unwrap();
        let key = KeySpec::derived(&passphrase, &new_salt().unwrap(), true).unwrap();
        apply_key(&conn, &key, true).unwrap();
        conn.execute("CREATE TABLE t (x)", []).unwrap();
        drop(conn);
        let again = open_keyed(&path, &passphrase).unwrap();
        assert!(key_opens(&again).unwrap());
        let wrong = open_keyed(&path, &Passphrase::new("sai mật khẩu")).unwrap();
        assert!(!key_opens(&wrong).unwrap());
    }

    #[test]
    fn the_page_key_is_argon2id_of_the_passphrase_under_the_salt() {
        // From the reference implementation (libargon2 through Python's argon2-cffi:
        // hash_secret_raw(…, time_cost=2, memory_cost=19456, parallelism=1, hash_len=32,
        // type=ID)), so a change of parameters, which would lock every store out, fails here.
        let salt: Salt = std::array::from_fn(|i| i as u8);
        let key = KeySpec::derived(&Passphrase::new("hoa sen trắng"), &salt, true).unwrap();
        assert_eq!(
            key.0,
            "x'846e91aae8fa909f6440ac58a154e644dd002ba99783d0215924ecd1215006c2\
             000102030405060708090a0b0c0d0e0f'"
        );
        let without_salt = KeySpec::derived(&Passphrase::new("hoa sen trắng"), &salt, false);
        assert_eq!(without_salt.unwrap().0, format!("{}'", &key.0[..66]));
    }

    /// True when `key` opens the file at `path`.
    fn opens_with(path: &Path, key: &KeySpec) -> bool {
        key_opens(&open_with(path, key).unwrap()).unwrap()
    }

    #[test]
    fn a_new_store_is_keyed_by_argon2id_under_the_salt_in_its_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let passphrase = Passphrase::new("hoa sen trắng");
        open_keyed(&path, &passphrase)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let salt = file_salt(&path).unwrap();
        assert!(opens_with(
            &path,
            &KeySpec::derived(&passphrase, &salt, false).unwrap()
        ));
        assert!(!opens_with(&path, &KeySpec::legacy(&passphrase)));
        // Another store gets its own salt.
        let other = dir.path().join("khac.sqlite");
        open_keyed(&other, &passphrase)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert_ne!(file_salt(&other).unwrap(), salt);
    }

    #[test]
    fn a_store_keyed_the_old_way_opens_with_its_passphrase_and_is_rekeyed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let right = Passphrase::new("hoa sen trắng");
        {
            let conn = open_with(&path, &KeySpec::legacy(&right)).unwrap();
            conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES ('Nguyễn Thị Mai')")
                .unwrap();
        }
        let err = unlock_at(&path, &Passphrase::new("hoa sen đỏ"), 1_000).unwrap_err();
        assert_eq!(err.kind(), "wrong_passphrase");
        assert!(
            opens_with(&path, &KeySpec::legacy(&right)),
            "a wrong try changes nothing"
        );
        let conn = unlock_at(&path, &right, 1_001).unwrap();
        let name: String = conn.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(name, "Nguyễn Thị Mai");
        drop(conn);
        assert_eq!(Attempts::load(&path), Attempts::default());
        assert!(!opens_with(&path, &KeySpec::legacy(&right)));
        let salt = file_salt(&path).unwrap();
        assert!(opens_with(
            &path,
            &KeySpec::derived(&right, &salt, false).unwrap()
        ));
        unlock_at(&path, &right, 1_002).unwrap();
    }

    #[test]
    fn an_old_store_left_with_its_wal_by_a_crash_is_rekeyed_with_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let (path, crashed) = (
            dir.path().join("sotay.sqlite"),
            dir.path().join("crashed.sqlite"),
        );
        let right = Passphrase::new("hoa sen trắng");
        let writer = open_with(&path, &KeySpec::legacy(&right)).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x);",
            )
            .unwrap();
        for i in 0..200 {
            writer
                .execute("INSERT INTO t VALUES (?1)", [format!("Người dân {i}")])
                .unwrap();
        }
        // The files as a crash leaves them: rows in the WAL, not yet in the database.
        std::fs::copy(&path, &crashed).unwrap();
        std::fs::copy(sidecar(&path, "-wal"), sidecar(&crashed, "-wal")).unwrap();
        drop(writer);
        let conn = unlock_at(&crashed, &right, 1_000).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 200);
        drop(conn);
        assert!(!opens_with(&crashed, &KeySpec::legacy(&right)));
        let conn = unlock_at(&crashed, &right, 1_001).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 200);
    }

    #[test]
    fn a_new_passphrase_rekeys_the_store_under_its_salt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let (old, new) = (
            Passphrase::new("hoa sen trắng"),
            Passphrase::new("trống đồng Đông Sơn"),
        );
        let conn = open_keyed(&path, &old).unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
        let salt = file_salt(&path).unwrap();
        rekey(&conn, &new).unwrap();
        drop(conn);
        assert_eq!(file_salt(&path).unwrap(), salt);
        assert!(opens_with(
            &path,
            &KeySpec::derived(&new, &salt, false).unwrap()
        ));
        assert!(!opens_with(
            &path,
            &KeySpec::derived(&old, &salt, false).unwrap()
        ));
        unlock_at(&path, &new, 1_000).unwrap();
        assert_eq!(
            unlock_at(&path, &old, 1_001).unwrap_err().kind(),
            "wrong_passphrase"
        );
    }

    #[test]
    fn a_short_passphrase_cannot_be_chosen() {
        let err = Passphrase::choose("  1234  ").unwrap_err();
        assert_eq!(err.kind(), "weak_passphrase");
        assert!(err.to_string().contains("ít nhất 8 ký tự"), "{err}");
        assert!(Passphrase::choose("hoa sen trắng").is_ok());
    }

    #[test]
    fn waits_start_after_three_failures_and_double() {
        let at = |failures| Attempts {
            failures,
            last_failure: 1_000,
        };
        assert_eq!(at(2).wait(1_000), None);
        assert_eq!(at(3).wait(1_000), Some(30));
        assert_eq!(at(3).wait(1_029), Some(1));
        assert_eq!(at(3).wait(1_030), None);
        assert_eq!(at(4).wait(1_000), Some(60));
        assert_eq!(at(40).wait(1_000), Some(MAX_WAIT_SECONDS));
        // A clock set back does not make the wait longer than the longest.
        assert_eq!(at(3).wait(-1_000_000), Some(MAX_WAIT_SECONDS));
    }

    #[test]
    fn a_wrong_passphrase_is_counted_and_then_must_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let right = Passphrase::new("hoa sen trắng");
        {
            let conn = open_keyed(&path, &right).unwrap();
            conn.execute_batch("CREATE TABLE t (x)").unwrap();
        }
        assert_eq!(database_file(&path), DatabaseFile::Locked);
        let wrong = Passphrase::new("hoa sen đỏ");
        for _ in 0..FREE_ATTEMPTS {
            let err = unlock_at(&path, &wrong, 5_000).unwrap_err();
            assert_eq!(err.kind(), "wrong_passphrase");
        }
        // Even the right passphrase waits now, so guessing cannot go faster by luck.
        let err = unlock_at(&path, &right, 5_010).unwrap_err();
        assert!(
            matches!(err, CoreError::TooManyAttempts { wait_seconds: 20 }),
            "{err:?}"
        );
        assert!(err.to_string().contains("20 giây"), "{err}");
        unlock_at(&path, &right, 5_030).unwrap();
        // Success forgets the failures.
        assert_eq!(Attempts::load(&path), Attempts::default());
    }
}
