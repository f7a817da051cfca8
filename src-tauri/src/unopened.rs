//! When the database cannot be opened (damaged, written by a newer Sổ Tay, not a Sổ Tay file),
//! the app still starts: its page shows what happened and offers to put back a backup. The file
//! that could not be opened is never changed: a restore moves it aside under a dated name first.

use crate::error::{CommandError, CommandResult};
use sotay_application::{AppError, DataPaths, ErrorPayload};
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

/// Puts a backup (a file the volunteer picked) in place of the database that did not open, after
/// checking that it opens as a Sổ Tay store. Returns where the old file was moved.
#[tauri::command(async)]
fn restore_backup(unopened: State<'_, Unopened>, bytes: Vec<u8>) -> CommandResult<String> {
    let database = &unopened.database;
    let dir = database.parent().map(PathBuf::from).unwrap_or_default();
    let candidate = dir.join(".sao-luu-dang-kiem-tra.sqlite");
    let fail = |e: AppError| CommandError::from(e);
    std::fs::write(&candidate, &bytes).map_err(|e| {
        CommandError(ErrorPayload::new(
            "file",
            format!("không ghi được {}: {e}", candidate.display()),
            format!("could not write {}: {e}", candidate.display()),
        ))
    })?;
    // The backup must open, and be a team's store, before anything else moves.
    let checked = sotay_application::App::open(DataPaths {
        database: candidate.clone(),
        output_dir: dir.clone(),
    })
    .and_then(|app| app.team());
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&candidate);
        return Err(fail(e));
    }
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let aside = dir.join(format!(
        "{}.khong-mo-duoc-{stamp}",
        database
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("sotay.sqlite")
    ));
    let moved = |e: std::io::Error| {
        CommandError(ErrorPayload::new(
            "file",
            format!("không chuyển được tệp cũ sang {}: {e}", aside.display()),
            format!("could not move the old file to {}: {e}", aside.display()),
        ))
    };
    if database.exists() {
        std::fs::rename(database, &aside).map_err(moved)?;
    }
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", database.display()));
        if side.exists() {
            let _ = std::fs::rename(&side, PathBuf::from(format!("{}{suffix}", aside.display())));
        }
    }
    std::fs::rename(&candidate, database).map_err(moved)?;
    Ok(aside.display().to_string())
}
