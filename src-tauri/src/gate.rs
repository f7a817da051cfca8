//! Before the store is open: the window starts on the database's lock. A new database (or one
//! from before encryption) asks the volunteer to choose a passphrase, an encrypted one to type
//! it; only then is the application opened and given to the other commands. A database that
//! cannot be opened (damaged, from a newer Sổ Tay) is explained and can be replaced by a backup;
//! the file that did not open is never changed: a restore moves it aside under a dated name.

use crate::error::{CommandError, CommandResult};
use sotay_application::{App, DataPaths, ErrorPayload, Overview};
use sotay_core::{DatabaseFile, Passphrase};
use std::sync::Mutex;
use tauri::{AppHandle, Manager, Runtime, State};

/// Where the database is, and a lock so that two unlocks at once do not both open it.
pub struct Gate {
    paths: DataPaths,
    opening: Mutex<()>,
}

impl Gate {
    pub fn new(paths: DataPaths) -> Self {
        Self {
            paths,
            opening: Mutex::new(()),
        }
    }

    /// Why the application is not open yet, for the page to show the right screen.
    fn closed(&self) -> CommandError {
        let (kind, message, message_en) = match App::database_file(&self.paths) {
            DatabaseFile::New => (
                "choose_passphrase",
                "Hãy chọn mật khẩu để bảo vệ dữ liệu của người dân trên máy này.",
                "Choose a passphrase to protect citizens' data on this laptop.",
            ),
            DatabaseFile::Plain => (
                "encrypt_existing",
                "Dữ liệu trên máy chưa được mã hóa: hãy chọn mật khẩu để mã hóa.",
                "The data on this laptop is not encrypted yet: choose a passphrase to encrypt it.",
            ),
            DatabaseFile::Locked => (
                "locked",
                "Nhập mật khẩu để mở Sổ Tay.",
                "Type the passphrase to open Sổ Tay.",
            ),
        };
        CommandError(ErrorPayload::new(kind, message, message_en))
    }
}

/// The page's first question: the overview once the store is open, else why it is not.
#[tauri::command(async)]
pub(crate) fn app_state<R: Runtime>(handle: AppHandle<R>) -> CommandResult<Overview> {
    if let Some(app) = handle.try_state::<App>() {
        return Ok(app.overview()?);
    }
    match handle.try_state::<Gate>() {
        Some(gate) => Err(gate.closed()),
        None => Err(CommandError(ErrorPayload::new(
            "store_unavailable",
            "Sổ Tay chưa mở được dữ liệu.",
            "Sổ Tay has not opened its data.",
        ))),
    }
}

/// Opens the store with `passphrase` (typed, or chosen for a new or plain database, which is
/// then encrypted with it), hands the application to every other command and starts the
/// background sync.
#[tauri::command(async)]
pub(crate) fn unlock<R: Runtime>(
    handle: AppHandle<R>,
    gate: State<'_, Gate>,
    passphrase: String,
) -> CommandResult<Overview> {
    let _one_at_a_time = gate.opening.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(app) = handle.try_state::<App>() {
        return Ok(app.overview()?);
    }
    let app = App::open(gate.paths.clone(), &Passphrase::new(&passphrase))?;
    let overview = app.overview()?;
    handle.manage(app.clone());
    crate::background_sync(handle.clone(), app);
    Ok(overview)
}

/// The header carrying `restore_backup`'s passphrase (the file is the request's raw body).
pub const RESTORE_ARGUMENTS_HEADER: &str = "sotay-restore";

#[derive(serde::Deserialize)]
struct RestoreArguments {
    passphrase: String,
}

/// Puts a backup (a file the volunteer picked, with the passphrase it was made under) in place
/// of the database, before it is open: a locked database whose passphrase is lost, or one that
/// does not open. Returns where the old file was moved. The backup is the request's raw body
/// (as a JSON array of numbers a register's backup was four times its size in the page), its
/// passphrase in [`RESTORE_ARGUMENTS_HEADER`]: both stay inside the app's own IPC.
#[tauri::command(async)]
pub(crate) fn restore_backup<R: Runtime>(
    handle: AppHandle<R>,
    gate: State<'_, Gate>,
    request: tauri::ipc::Request<'_>,
) -> CommandResult<String> {
    let (bytes, arguments): (_, RestoreArguments) =
        crate::commands::file_and_arguments(&request, RESTORE_ARGUMENTS_HEADER)?;
    let _one_at_a_time = gate.opening.lock().unwrap_or_else(|e| e.into_inner());
    if handle.try_state::<App>().is_some() {
        return Err(CommandError(ErrorPayload::new(
            "already_open",
            "Dữ liệu đang mở: hãy đóng Sổ Tay rồi khôi phục bằng lệnh `sotay restore`.",
            "The data is open: close Sổ Tay and restore with `sotay restore`.",
        )));
    }
    let aside = sotay_application::restore_backup(
        &gate.paths,
        &bytes,
        &Passphrase::new(&arguments.passphrase),
    )?;
    Ok(aside.map(|p| p.display().to_string()).unwrap_or_default())
}
