//! Where Sổ Tay keeps its data and writes its files, the same for the CLI and the app:
//! `sotay.sqlite` in the platform data directory (`~/.local/share/sotay/` on Linux,
//! `%APPDATA%\Binh dan hoc vu so\sotay\data\` on Windows), or in the folder the volunteer moved
//! it to (remembered in the platform config directory), and printed sheets and reports in
//! `Documents/So Tay`, unless the user names other places.

use std::path::{Path, PathBuf};

/// The database's file name in whatever folder holds it.
pub const DATABASE_FILE: &str = "sotay.sqlite";

#[derive(Debug, Clone)]
pub struct DataPaths {
    pub database: PathBuf,
    /// Where printed sheets, reports and backups go when no file is named.
    pub output_dir: PathBuf,
    /// The file that remembers the folder the data was moved to; None when the database was
    /// named (`--db`, `SOTAY_DB`), which then always wins and cannot be moved from the app.
    pub location_file: Option<PathBuf>,
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("vn", "Binh dan hoc vu so", "sotay")
}

impl DataPaths {
    /// The platform defaults, overridden by what the user named (`--db`, `SOTAY_DB`, `--out-dir`)
    /// or, for the database, by the folder it was moved to.
    pub fn resolve(database: Option<PathBuf>, output_dir: Option<PathBuf>) -> Self {
        let location_file = project_dirs().map(|d| d.config_dir().join("thu-muc-du-lieu.txt"));
        match database {
            Some(database) => Self::named(database, output_dir),
            None => Self::remembered(location_file, output_dir),
        }
    }

    /// A database the user named: it stays where it is.
    pub fn named(database: PathBuf, output_dir: Option<PathBuf>) -> Self {
        Self {
            database,
            output_dir: output_dir.unwrap_or_else(default_output_dir),
            location_file: None,
        }
    }

    /// The database in the folder `location_file` remembers, or in the platform data directory.
    pub fn remembered(location_file: Option<PathBuf>, output_dir: Option<PathBuf>) -> Self {
        let moved = location_file
            .as_deref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|folder| folder.trim().to_owned())
            .filter(|folder| !folder.is_empty())
            .map(|folder| Path::new(&folder).join(DATABASE_FILE));
        let database = moved
            .or_else(|| project_dirs().map(|d| d.data_dir().join(DATABASE_FILE)))
            .unwrap_or_else(|| PathBuf::from(DATABASE_FILE));
        Self {
            database,
            output_dir: output_dir.unwrap_or_else(default_output_dir),
            location_file,
        }
    }
}

fn default_output_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| u.document_dir().map(|d| d.join("So Tay")))
        .or_else(|| project_dirs().map(|d| d.data_dir().join("out")))
        .unwrap_or_else(|| PathBuf::from("."))
}
