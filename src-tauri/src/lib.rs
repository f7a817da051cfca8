//! Sổ Tay's desktop shell (Tauri 2): opens the application layer on the local store, registers
//! the commands, and runs a background sync whenever the server becomes reachable. All logic lives
//! below, in `sotay-application`; this crate only adapts it to the web view.

#![forbid(unsafe_code)]

pub mod commands;
pub mod error;
pub mod unopened;

use sotay_application::{App, DataPaths};
use sotay_sync::{SyncConfig, SyncProgress};
use std::path::PathBuf;
use std::time::Duration;
use tauri::Emitter;

/// `--db PATH` (or `SOTAY_DB`) and `--out-dir PATH` from the command line; tests pass them as
/// arguments because a WebDriver session does not pass its environment to the app.
fn arg(name: &str) -> Option<PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
}

/// Every 30 s: when records wait and the server answers, sync and tell the page. The store is
/// taken only between requests, so the screens stay responsive meanwhile.
fn background_sync(handle: tauri::AppHandle, app: App) {
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            if !app.should_sync_in_background().await {
                continue;
            }
            let mut progress = |p: SyncProgress| {
                let _ = handle.emit("sync-progress", p);
            };
            let _ = match app.sync(&SyncConfig::default(), &mut progress).await {
                Ok(summary) => handle.emit("sync-finished", summary),
                Err(e) => handle.emit("sync-failed", error::CommandError::from(e)),
            };
        }
    });
}

pub fn run() {
    let paths = DataPaths::resolve(
        arg("--db").or_else(|| std::env::var_os("SOTAY_DB").map(PathBuf::from)),
        arg("--out-dir"),
    );
    let database = paths.database.clone();
    let app = match App::open(paths) {
        Ok(app) => app,
        Err(e) => {
            // Not a silent exit: the window explains and offers a restore; the file stays as is.
            let unopened = unopened::Unopened {
                error: e.into(),
                database,
            };
            tauri::Builder::default()
                .manage(unopened)
                .invoke_handler(unopened::handler())
                .run(tauri::generate_context!())
                .expect("Sổ Tay could not start its window");
            return;
        }
    };
    let background = app.clone();
    tauri::Builder::default()
        .manage(app)
        .setup(move |tauri_app| {
            background_sync(tauri_app.handle().clone(), background);
            Ok(())
        })
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .expect("Sổ Tay could not start its window");
}
