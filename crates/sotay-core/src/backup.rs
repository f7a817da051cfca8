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
            let mut copy = rusqlite::Connection::open(&partial)?;
            if let Some(passphrase) = &self.passphrase {
                crate::protect::apply_key(&copy, passphrase)?;
            }
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut copy)?;
            backup.run_to_completion(256, Duration::ZERO, None)?;
        }
        std::fs::rename(&partial, out).map_err(|e| fail(e.to_string()))?;
        Ok(std::fs::metadata(out).map(|m| m.len()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use crate::{NewTeam, Passphrase, Store};

    #[test]
    fn a_backup_is_encrypted_and_opens_as_a_store_with_the_same_team() {
        let dir = tempfile::tempdir().unwrap();
        let passphrase = Passphrase::new("hoa sen trắng");
        let mut store = Store::open(&dir.path().join("live.sqlite"), &passphrase).unwrap();
        store
            .init_team(NewTeam {
                name: "Đội TNTN Hàm Rồng".into(),
                organisation: sotay_protocol::Organisation::YouthUnion,
                province_code: "38".into(),
                commune_code: "14758".into(),
                volunteer: "Lê Thị Hoa".into(),
            })
            .unwrap();
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
}
