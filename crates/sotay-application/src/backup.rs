//! Backups of the store to a file the volunteer keeps (a USB stick).

use crate::error::AppResult;
use crate::files::WrittenFile;
use crate::App;
use std::path::PathBuf;

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
