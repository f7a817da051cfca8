//! Backups of the store to a file the volunteer keeps (a USB stick), and putting one back.

use crate::error::{AppError, AppResult};
use crate::files::WrittenFile;
use crate::{App, DataPaths};
use sotay_core::Passphrase;
use std::path::{Path, PathBuf};

/// A USB stick (or another drive) a backup can go to straight from the app.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct Drive {
    /// What the volunteer sees: the stick's label, or its drive letter.
    pub name: String,
    pub path: String,
}

/// The drives plugged in now: on Linux what the desktop mounted under `/media/USER/` or
/// `/run/media/USER/`; on Windows every drive letter but `C:`. Nothing else is offered.
pub fn drives() -> Vec<Drive> {
    #[cfg(windows)]
    {
        ('D'..='Z')
            .map(|letter| format!("{letter}:\\"))
            .filter(|root| std::fs::metadata(root).is_ok())
            .map(|root| Drive {
                name: root.trim_end_matches('\\').to_owned(),
                path: root,
            })
            .collect()
    }
    #[cfg(not(windows))]
    {
        drives_under(&[PathBuf::from("/media"), PathBuf::from("/run/media")])
    }
}

/// The volumes mounted under `roots` (one folder per user, one per volume), by name. Windows
/// has drive letters instead; the tests use this on every system.
#[cfg_attr(windows, allow(dead_code))]
fn drives_under(roots: &[PathBuf]) -> Vec<Drive> {
    let folders = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut found: Vec<Drive> = roots
        .iter()
        .flat_map(|root| folders(root))
        .flat_map(|user| folders(&user))
        .map(|volume| Drive {
            name: volume
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: volume.display().to_string(),
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

impl App {
    /// The USB sticks and drives a backup can be saved to now.
    pub fn drives(&self) -> Vec<Drive> {
        drives()
    }

    /// A backup written straight to a drive the app found (see [`drives`]); any other path is
    /// refused, so the page cannot make the app write where it likes.
    pub fn backup_to_drive(&self, drive: &str) -> AppResult<WrittenFile> {
        let found = drives()
            .into_iter()
            .find(|d| d.path == drive)
            .ok_or_else(|| {
                AppError::Core(sotay_core::CoreError::NotFound {
                    what: "ổ USB",
                    id: drive.to_owned(),
                })
            })?;
        self.backup(Some(PathBuf::from(found.path).join(backup_name())))
    }

    /// A consistent copy of the whole store, taken while the app runs.
    pub fn backup(&self, out: Option<PathBuf>) -> AppResult<WrittenFile> {
        let path = self.output_path(out, &backup_name())?;
        let bytes = self.store.with(|s| s.backup_to(&path))?;
        Ok(WrittenFile {
            path: path.display().to_string(),
            bytes,
        })
    }
}

fn backup_name() -> String {
    format!(
        "sao-luu-so-tay-{}.sqlite",
        chrono::Local::now().format("%Y-%m-%d-%H%M")
    )
}

/// Puts a backup in place of the database at `paths.database`, whether that one opens or not:
/// the backup must first open, with the passphrase it was made under, as a team's store (after
/// the restore that passphrase unlocks the laptop); the current file (and its WAL) is then moved
/// aside under a dated name, never deleted. Returns where it went (None when there was none).
/// A restored laptop that syncs gets back from the server what it made after the backup.
pub fn restore_backup(
    paths: &DataPaths,
    backup: &[u8],
    passphrase: &Passphrase,
) -> AppResult<Option<PathBuf>> {
    let database = &paths.database;
    let dir = database
        .parent()
        .map(PathBuf::from)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let candidate = dir.join(".sao-luu-dang-kiem-tra.sqlite");
    std::fs::write(&candidate, backup).map_err(|e| AppError::file(&candidate, e))?;
    // The backup must open, and be a team's store, before anything else moves.
    let checked = App::open(
        DataPaths {
            database: candidate.clone(),
            output_dir: dir.clone(),
            location_file: None,
        },
        passphrase,
    )
    .and_then(|app| app.team().map(|_| ()));
    let side = |path: &Path, suffix: &str| PathBuf::from(format!("{}{suffix}", path.display()));
    // The check's own traces go; a wrong passphrase here is not a failed unlock of the laptop.
    for suffix in ["-wal", "-shm", ".attempts"] {
        let _ = std::fs::remove_file(side(&candidate, suffix));
    }
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&candidate);
        return Err(e);
    }
    let mut aside = None;
    if database.exists() {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let name = database
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("sotay.sqlite");
        let moved = dir.join(format!("{name}.truoc-khi-khoi-phuc-{stamp}"));
        std::fs::rename(database, &moved).map_err(|e| AppError::file(&moved, e))?;
        for suffix in ["-wal", "-shm"] {
            if side(database, suffix).exists() {
                let _ = std::fs::rename(side(database, suffix), side(&moved, suffix));
            }
        }
        aside = Some(moved);
    }
    std::fs::rename(&candidate, database).map_err(|e| AppError::file(database, e))?;
    // The wait after wrong passphrases was the old file's: the backup opens with its own.
    let _ = std::fs::remove_file(side(database, ".attempts"));
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drives_are_the_volumes_mounted_for_each_user() {
        let root = tempfile::tempdir().unwrap();
        let media = root.path().join("media");
        for volume in ["hoa/USB-HOA", "hoa/KINGSTON", "nam/SANDISK"] {
            std::fs::create_dir_all(media.join(volume)).unwrap();
        }
        std::fs::write(media.join("hoa/not-a-volume.txt"), b"x").unwrap();
        let found = drives_under(&[media.clone(), root.path().join("run-media-missing")]);
        let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["KINGSTON", "SANDISK", "USB-HOA"]);
        assert!(found[0].path.ends_with("hoa/KINGSTON"));
    }
}
