//! Backups of the store to a file the volunteer keeps (a USB stick), and putting one back.

use crate::error::{AppError, AppResult};
use crate::files::WrittenFile;
use crate::{App, DataPaths};
use sotay_core::Passphrase;
use std::path::{Path, PathBuf};

impl App {
    /// A consistent copy of the whole store, taken while the app runs.
    pub fn backup(&self, out: Option<PathBuf>) -> AppResult<WrittenFile> {
        let name = format!(
            "sao-luu-so-tay-{}.sqlite",
            chrono::Local::now().format("%Y-%m-%d-%H%M")
        );
        let path = self.output_path(out, &name)?;
        let bytes = self.store.with(|s| s.backup_to(&path))?;
        Ok(WrittenFile {
            path: path.display().to_string(),
            bytes,
        })
    }
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
