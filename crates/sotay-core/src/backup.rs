//! Copies of the store: SQLite's online backup, page by page, so a copy taken while the app runs
//! is a consistent snapshot and never a half-written file. A copy is encrypted with the same
//! passphrase as the store it came from.

use crate::error::{CoreError, CoreResult};
use crate::store::Store;
use std::path::Path;
use std::time::Duration;

impl Store {
    /// Writes a complete copy of the store to `out` (replacing it), through a temporary file in
    /// the same folder so that `out` is either the old file or the whole new copy.
    pub fn backup_to(&self, out: &Path) -> CoreResult<u64> {
        let fail = |reason: String| CoreError::Backup {
            path: out.display().to_string(),
            reason,
        };
        let dir = out
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        let partial = dir.join(format!(
            ".{}.partial",
            out.file_name().and_then(|n| n.to_str()).unwrap_or("sotay")
        ));
        let _ = std::fs::remove_file(&partial);
        {
            let mut copy = match &self.passphrase {
                Some(passphrase) => crate::protect::open_keyed(&partial, passphrase)?,
                None => rusqlite::Connection::open(&partial)?,
            };
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut copy)?;
            backup.run_to_completion(256, Duration::ZERO, None)?;
        }
        std::fs::rename(&partial, out).map_err(|e| fail(e.to_string()))?;
        Ok(std::fs::metadata(out).map(|m| m.len()).unwrap_or(0))
    }
}

impl Store {
    /// The database file, None in memory.
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
    }

    /// Moves the store to `new` (a file that must not exist yet): a complete copy is made and
    /// opened with the same passphrase, and checked to be this laptop's store with every outbox
    /// record; then `remember` records where the store now is (if it fails, the copy is removed
    /// and nothing else changes); only then is this store switched over to the copy and the old
    /// file (with its WAL and its count of wrong passphrases) deleted. A crash at any point
    /// leaves the store where the next start looks for it. Returns the old file's path.
    pub fn move_to(
        &mut self,
        new: &Path,
        remember: impl FnOnce() -> CoreResult<()>,
    ) -> CoreResult<std::path::PathBuf> {
        let fail = |reason: String| CoreError::Backup {
            path: new.display().to_string(),
            reason,
        };
        if new.exists() {
            return Err(fail("đã có tệp ở đó".into()));
        }
        let old = self
            .path()
            .ok_or_else(|| fail("kho dữ liệu trong bộ nhớ".into()))?;
        let passphrase = self
            .passphrase
            .clone()
            .ok_or_else(|| fail("kho dữ liệu chưa mã hóa".into()))?;
        self.backup_to(new)?;
        let records = |s: &Store| -> CoreResult<i64> {
            Ok(s.conn
                .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?)
        };
        let checked = Store::open(new, &passphrase).and_then(|copy| {
            if copy.device_id() == self.device_id() && records(&copy)? == records(self)? {
                Ok(copy)
            } else {
                Err(fail("bản sao không khớp với dữ liệu gốc".into()))
            }
        });
        let copy = match checked.and_then(|copy| remember().map(|()| copy)) {
            Ok(copy) => copy,
            Err(e) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(crate::protect::sidecar(new, suffix));
                }
                return Err(e);
            }
        };
        let previous = std::mem::replace(self, copy);
        drop(previous);
        for suffix in ["", "-wal", "-shm", ".attempts"] {
            let _ = std::fs::remove_file(crate::protect::sidecar(&old, suffix));
        }
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::store_with_team;
    use crate::{Passphrase, Store};

    #[test]
    fn a_backup_is_encrypted_and_opens_as_a_store_with_the_same_team() {
        let dir = tempfile::tempdir().unwrap();
        let passphrase = Passphrase::new("hoa sen trắng");
        let store = store_with_team(&dir.path().join("live.sqlite"), &passphrase);
        let copy = dir.path().join("usb/sao-luu.sqlite");
        assert!(store.backup_to(&copy).unwrap() > 0);
        let bytes = std::fs::read(&copy).unwrap();
        assert!(!bytes.windows(8).any(|w| w == "Lê Thị H".as_bytes()));
        let err = Store::open(&copy, &Passphrase::new("hoa sen đỏ"))
            .err()
            .unwrap();
        assert_eq!(err.kind(), "wrong_passphrase");
        let restored = Store::open(&copy, &passphrase).unwrap();
        assert_eq!(restored.team().unwrap().team.name, "Đội TNTN Hàm Rồng");
        assert_eq!(restored.device_id(), store.device_id());
    }

    #[test]
    fn a_store_moved_to_another_folder_keeps_working_there_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let passphrase = Passphrase::new("hoa sen trắng");
        let old = dir.path().join("sotay.sqlite");
        let mut store = store_with_team(&old, &passphrase);
        let person = |name: &str| crate::CitizenInput {
            full_name: name.into(),
            gender: "nu".into(),
            birth: "1950".into(),
            village: "Thôn Đông".into(),
            consent: true,
            ..Default::default()
        };
        store.add_citizen(person("Mai Thị Cúc")).unwrap();
        let device = store.device_id();

        // Onto a file that is already there: refused, and nothing changes.
        let taken = dir.path().join("taken.sqlite");
        std::fs::write(&taken, b"someone else's").unwrap();
        assert!(store.move_to(&taken, || Ok(())).is_err());
        assert_eq!(std::fs::read(&taken).unwrap(), b"someone else's");
        assert_eq!(store.path().unwrap(), old);

        let new = dir.path().join("D").join("So Tay").join("sotay.sqlite");
        // Where the store is cannot be written down: nothing moves.
        let refused = store.move_to(&new, || {
            Err(crate::CoreError::Backup {
                path: "thu-muc-du-lieu.txt".into(),
                reason: "chỉ đọc".into(),
            })
        });
        assert!(refused.is_err());
        assert!(!new.exists());
        assert_eq!(store.path().unwrap(), old);
        assert_eq!(store.move_to(&new, || Ok(())).unwrap(), old);
        assert_eq!(store.path().unwrap(), new);
        for suffix in ["", "-wal", "-shm"] {
            assert!(!crate::protect::sidecar(&old, suffix).exists(), "{suffix}");
        }
        // The same handle now writes into the new file.
        store.add_citizen(person("Lò Thị Dung")).unwrap();
        drop(store);
        let reopened = Store::open(&new, &passphrase).unwrap();
        assert_eq!(reopened.device_id(), device);
        assert_eq!(reopened.count_citizens().unwrap(), 2);
    }
}
