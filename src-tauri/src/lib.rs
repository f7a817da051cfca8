//! Sổ Tay's desktop shell (Tauri 2): registers the commands, opens the application layer on the
//! local store once the volunteer unlocks it (`gate`), and then runs a background sync whenever
//! the server becomes reachable. All logic lives
//! below, in `sotay-application`; this crate only adapts it to the web view.

#![forbid(unsafe_code)]

pub mod commands;
pub mod error;
pub mod gate;
pub mod webview;

use sotay_application::{App, DataPaths};
use sotay_sync::{SyncConfig, SyncProgress};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tauri::{Emitter, Manager};

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
pub(crate) fn background_sync<R: tauri::Runtime>(handle: tauri::AppHandle<R>, app: App) {
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

/// One window per database: a second launch on the same file hands over to the first, which
/// comes to the front, and exits. (On Linux without a D-Bus session the check is skipped.)
fn one_window_per_database<R: tauri::Runtime>(database: &Path) -> tauri::plugin::TauriPlugin<R> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    std::fs::canonicalize(database)
        .unwrap_or_else(|_| database.to_path_buf())
        .hash(&mut hasher);
    tauri_plugin_single_instance::Builder::new()
        .dbus_id(format!(
            "vn.binhdanhocvuso.sotay.db{:016x}",
            hasher.finish()
        ))
        .callback(|app, _args, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        })
        .build()
}

pub fn run() {
    let paths = DataPaths::resolve(
        arg("--db").or_else(|| std::env::var_os("SOTAY_DB").map(PathBuf::from)),
        arg("--out-dir"),
    );
    // The window opens on the database's lock; `gate::unlock` opens the application.
    tauri::Builder::default()
        .plugin(one_window_per_database(&paths.database))
        .manage(gate::Gate::new(paths))
        .invoke_handler(commands::handler())
        .setup(|app| {
            webview::lighten(app);
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("Sổ Tay could not start its window");
}
