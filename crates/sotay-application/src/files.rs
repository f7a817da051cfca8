//! Files the use cases write for the user: a named path, or a readable name in the output folder.

use crate::error::{AppError, AppResult};
use crate::App;
use serde::Serialize;
use std::path::{Path, PathBuf};
use ts_rs::TS;

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
        let dir = &self.paths.output_dir;
        std::fs::create_dir_all(dir).map_err(|e| AppError::file(dir, e))?;
        Ok(dir.join(default_name))
    }
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> AppResult<WrittenFile> {
    std::fs::write(path, bytes).map_err(|e| AppError::file(path, e))?;
    Ok(WrittenFile {
        path: path.display().to_string(),
        bytes: bytes.len() as u64,
    })
}
