//! Files the use cases write for the user: a named path, or a readable name in the output folder.

use crate::error::{AppError, AppResult};
use crate::App;
use serde::Serialize;
use sotay_core::CoreError;
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// This laptop's places, for the Settings screen.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LocalSettings {
    /// The encrypted database file.
    pub database: String,
    /// Whether the app may move it (not when it was named at start with `--db`).
    pub database_movable: bool,
    /// Where printed sheets, reports and backups go.
    pub output_folder: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct WrittenFile {
    pub path: String,
    pub bytes: u64,
}

impl App {
    /// `out` when the user named a file; otherwise `default_name` in the output folder, which is
    /// created on first use.
    pub(crate) fn output_path(
        &self,
        out: Option<PathBuf>,
        default_name: &str,
    ) -> AppResult<PathBuf> {
        if let Some(path) = out {
            return Ok(path);
        }
        let dir = self.output_folder()?;
        std::fs::create_dir_all(&dir).map_err(|e| AppError::file(&dir, e))?;
        Ok(dir.join(default_name))
    }

    pub fn local_settings(&self) -> AppResult<LocalSettings> {
        let database = self.store.with(|s| Ok(s.path()))?;
        Ok(LocalSettings {
            database: database
                .unwrap_or_else(|| self.paths.database.clone())
                .display()
                .to_string(),
            database_movable: self.paths.location_file.is_some(),
            output_folder: self.output_folder()?.display().to_string(),
        })
    }

    /// Where printed sheets, reports and backups go: the folder the volunteer chose in the app,
    /// else the one given at start (`--out-dir`), else `Documents/So Tay`.
    pub fn output_folder(&self) -> AppResult<PathBuf> {
        let chosen = self.store.with(|s| s.output_folder())?;
        // A folder chosen on another laptop (the setting travels in a backup) or on a USB stick
        // not plugged in: the default until one is chosen again.
        Ok(match chosen.map(PathBuf::from) {
            Some(dir) if std::fs::create_dir_all(&dir).is_ok() => dir,
            _ => self.paths.output_dir.clone(),
        })
    }

    /// Chooses the folder for printed sheets, reports and backups (empty: back to the default).
    /// It must be a full path; it is created if missing and must accept a file.
    pub fn set_output_folder(&self, folder: &str) -> AppResult<PathBuf> {
        let folder = folder.trim();
        if folder.is_empty() {
            self.store.with(|s| s.set_output_folder(None))?;
            return self.output_folder();
        }
        let path = usable_folder(folder)?;
        let stored = path.display().to_string();
        self.store.with(|s| s.set_output_folder(Some(&stored)))?;
        Ok(path)
    }

    /// A file Sổ Tay wrote, or its folder, for the desktop to open: only a folder, or a file of
    /// a kind Sổ Tay saves (PDF, XLSX, CSV, JSON, a backup), inside the output folder is given
    /// back, so a page cannot have a program run or any other file opened, even after pointing
    /// the output folder elsewhere.
    pub fn written_path(&self, path: &str) -> AppResult<PathBuf> {
        let refused = || AppError::Refused {
            kind: "not_output",
            message: format!("“{path}” không phải tệp Sổ Tay đã lưu"),
            message_en: format!("“{path}” is not a file Sổ Tay saved"),
        };
        // dunce: the same checks as std's canonicalize, without the `\\?\` prefix that
        // Windows Explorer cannot open (already in the tree through the opener plugin).
        let folder = dunce::canonicalize(self.output_folder()?).map_err(|_| refused())?;
        let path = dunce::canonicalize(path).map_err(|_| refused())?;
        let saved_kind = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| SAVED_KINDS.contains(&e.to_ascii_lowercase().as_str()));
        if path.starts_with(&folder) && (path.is_dir() || saved_kind) {
            Ok(path)
        } else {
            Err(refused())
        }
    }
}

impl App {
    /// Moves the database into `folder` (a full path, created if missing) and remembers the
    /// folder for the next start, of the app and the CLI alike; the running app goes on with
    /// the moved file at once. Refused when the database was named at start (`--db`), or when
    /// the folder already holds a Sổ Tay database. Returns the new file.
    pub fn move_data(&self, folder: &str) -> AppResult<PathBuf> {
        let Some(location_file) = &self.paths.location_file else {
            return Err(AppError::Refused {
                kind: "data_named",
                message: "Sổ Tay đang mở tệp dữ liệu được chỉ định khi khởi động (--db): \
                          hãy chuyển tệp đó bằng tay"
                    .into(),
                message_en: "Sổ Tay was started on a named data file (--db): move that file \
                             by hand"
                    .into(),
            });
        };
        let folder = usable_folder(folder)?;
        let new = folder.join(crate::paths::DATABASE_FILE);
        if new.exists() {
            return Err(AppError::Refused {
                kind: "folder",
                message: format!("thư mục “{}” đã có dữ liệu Sổ Tay", folder.display()),
                message_en: format!(
                    "the folder “{}” already holds Sổ Tay data",
                    folder.display()
                ),
            });
        }
        // The new folder is written down (whole, by a rename) once the copy is checked and
        // before the old file goes, so that a start after any failure opens the data where it
        // then is.
        let pending = location_file.with_extension("moi");
        let written = location_file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&pending, folder.display().to_string()));
        written.map_err(|e| AppError::file(&pending, e))?;
        let remember = || {
            std::fs::rename(&pending, location_file).map_err(|e| CoreError::Backup {
                path: location_file.display().to_string(),
                reason: e.to_string(),
            })
        };
        let moved = self.store.with(|s| s.move_to(&new, remember));
        let _ = std::fs::remove_file(&pending);
        moved?;
        Ok(new)
    }
}

/// A folder given as a full path that exists (it is created) and accepts a file.
fn usable_folder(folder: &str) -> AppResult<PathBuf> {
    let folder = folder.trim();
    let path = PathBuf::from(folder);
    if !path.is_absolute() {
        return Err(AppError::Refused {
            kind: "folder",
            message: format!("“{folder}” không phải đường dẫn đầy đủ tới một thư mục"),
            message_en: format!("“{folder}” is not the full path of a folder"),
        });
    }
    let writable = std::fs::create_dir_all(&path).and_then(|()| {
        let probe = path.join(".sotay-thu-ghi");
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)
    });
    match writable {
        Ok(()) => Ok(path),
        Err(e) => Err(AppError::Refused {
            kind: "folder",
            message: format!("không ghi được vào thư mục “{folder}”: {e}"),
            message_en: format!("cannot write into the folder “{folder}”: {e}"),
        }),
    }
}

/// The kinds of file Sổ Tay saves, the only ones it opens.
const SAVED_KINDS: [&str; 5] = ["pdf", "xlsx", "csv", "json", "sqlite"];

/// A readable file name part: no diacritics (đ→d), lower case, words joined by `-`; file names
/// survive any USB stick, zip tool and Windows code page.
pub(crate) fn slug(text: &str) -> String {
    let folded = sotay_core::text::fold(text);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut slug = words.join("-");
    slug.truncate(60);
    slug.trim_end_matches('-').to_owned()
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> AppResult<WrittenFile> {
    std::fs::write(path, bytes).map_err(|e| AppError::file(path, e))?;
    Ok(WrittenFile {
        path: path.display().to_string(),
        bytes: bytes.len() as u64,
    })
}
