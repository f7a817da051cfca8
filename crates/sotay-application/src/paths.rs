//! Where Sổ Tay keeps its data and writes its files, the same for the CLI and the app:
//! `sotay.sqlite` in the platform data directory (`~/.local/share/sotay/` on Linux,
//! `%APPDATA%\Binh dan hoc vu so\sotay\data\` on Windows) and printed sheets and reports in
//! `Documents/So Tay`, unless the user names other places.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct DataPaths {
    pub database: PathBuf,
    /// Where printed sheets, reports and backups go when no file is named.
    pub output_dir: PathBuf,
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("vn", "Binh dan hoc vu so", "sotay")
}

impl DataPaths {
    /// The platform defaults, overridden by what the user named (`--db`, `SOTAY_DB`, `--out-dir`).
    pub fn resolve(database: Option<PathBuf>, output_dir: Option<PathBuf>) -> Self {
        let database = database
            .or_else(|| project_dirs().map(|d| d.data_dir().join("sotay.sqlite")))
            .unwrap_or_else(|| PathBuf::from("sotay.sqlite"));
        let output_dir = output_dir
            .or_else(|| {
                directories::UserDirs::new()
                    .and_then(|u| u.document_dir().map(|d| d.join("So Tay")))
            })
            .or_else(|| project_dirs().map(|d| d.data_dir().join("out")))
            .unwrap_or_else(|| PathBuf::from("."));
        Self {
            database,
            output_dir,
        }
    }
}
