//! When the database cannot be opened (damaged, written by a newer Sổ Tay, not a Sổ Tay file),
//! the app still starts: its page shows what happened and offers to put back a backup. The file
//! that could not be opened is never changed: a restore moves it aside under a dated name first.

use crate::error::{CommandError, CommandResult};
use sotay_application::{DataPaths, ErrorPayload};
use std::path::PathBuf;
use tauri::State;

/// Why the database did not open, and where it is.
pub struct Unopened {
    pub error: ErrorPayload,
    pub database: PathBuf,
}

pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![app_state, restore_backup]
}

/// The page's first question; here the answer is always why the store is unavailable.
#[tauri::command(async)]
fn app_state(unopened: State<'_, Unopened>) -> CommandResult<()> {
    let mut error = unopened.error.clone();
    error.kind = format!("unopened_{}", error.kind);
    Err(CommandError(error))
}

/// Puts a backup (a file the volunteer picked) in place of the database that did not open.
/// Returns where the old file was moved.
#[tauri::command(async)]
fn restore_backup(unopened: State<'_, Unopened>, bytes: Vec<u8>) -> CommandResult<String> {
    let paths = DataPaths {
        database: unopened.database.clone(),
        output_dir: unopened
            .database
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default(),
    };
    let aside = sotay_application::restore_backup(&paths, &bytes)?;
    Ok(aside.map(|p| p.display().to_string()).unwrap_or_default())
}
