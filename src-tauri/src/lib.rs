//! Sổ Tay's desktop shell (Tauri 2): opens the local store, registers the commands, and runs a
//! background sync whenever the server becomes reachable. All logic lives in `sotay-core`; this
//! crate only adapts it to the web view.

#![forbid(unsafe_code)]

mod commands;
pub mod error;
pub mod state;

use state::AppState;
use std::path::PathBuf;
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

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("vn", "Binh dan hoc vu so", "sotay")
}

fn database_path() -> PathBuf {
    arg("--db")
        .or_else(|| std::env::var_os("SOTAY_DB").map(PathBuf::from))
        .or_else(|| project_dirs().map(|d| d.data_dir().join("sotay.sqlite")))
        .unwrap_or_else(|| PathBuf::from("sotay.sqlite"))
}

fn output_dir() -> PathBuf {
    arg("--out-dir")
        .or_else(|| {
            directories::UserDirs::new().and_then(|u| u.document_dir().map(|d| d.join("So Tay")))
        })
        .or_else(|| project_dirs().map(|d| d.data_dir().join("out")))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Every 30 s: when records wait and the server answers, sync and tell the page.
fn background_sync(app: tauri::AppHandle) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(30));
        let state = app.state::<AppState>();
        if !state.should_sync_in_background() {
            continue;
        }
        let result = state.sync_now(&mut |p| {
            let _ = app.emit("sync-progress", p);
        });
        let _ = match result {
            Ok(summary) => app.emit("sync-finished", summary),
            Err(e) => app.emit("sync-failed", e),
        };
    });
}

pub fn run() {
    let state = match AppState::open(&database_path(), output_dir()) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("Sổ Tay: {}", e.message);
            std::process::exit(1);
        }
    };
    tauri::Builder::default()
        .manage(state)
        .setup(|app| {
            background_sync(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_state,
            commands::admin_units,
            commands::init_team,
            commands::enroll,
            commands::search_citizens,
            commands::list_citizens,
            commands::add_citizen,
            commands::update_citizen,
            commands::import_citizens,
            commands::skills,
            commands::add_session,
            commands::sessions,
            commands::session_detail,
            commands::sync_now,
            commands::print_sheet,
            commands::export_report,
        ])
        .run(tauri::generate_context!())
        .expect("Sổ Tay could not start its window");
}
