// Declares the app's own commands so that capabilities can grant them one by one.
fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "app_state",
            "unlock",
            "change_passphrase",
            "admin_units",
            "set_target",
            "init_team",
            "enroll",
            "search_citizens",
            "add_citizen",
            "update_citizen",
            "forget_citizen",
            "citizen_history",
            "mark_achieved",
            "import_citizens",
            "skills",
            "add_session",
            "sessions",
            "session_detail",
            "edit_session",
            "duplicates",
            "merge_citizens",
            "sync_now",
            "conflicts",
            "use_lost_value",
            "print_sheet",
            "export_report",
            "backup",
            "drives",
            "backup_to_drive",
            "restore_backup",
        ]),
    ))
    .expect("tauri-build failed");
}
