//! The desktop app's commands driven as the web view drives them: a JSON request through
//! Tauri's IPC (on its mock runtime, no window), answered by the real application layer over a
//! real store file.

use serde_json::json;
use sotay_application::{App, DataPaths};
use sotay_core::{CitizenInput, NewTeam, Passphrase};
use sotay_protocol::{CitizenV1, Group, Organisation};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};

fn invoke(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    args: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    request(
        webview,
        cmd,
        tauri::ipc::InvokeBody::Json(args),
        Default::default(),
    )
}

/// One IPC request from the page, answered as JSON.
fn request(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    body: tauri::ipc::InvokeBody,
    headers: tauri::http::HeaderMap,
) -> Result<serde_json::Value, serde_json::Value> {
    get_ipc_response(
        webview,
        tauri::webview::InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            // The origin the embedded UI has on Linux.
            url: "tauri://localhost".parse().unwrap(),
            body,
            headers,
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<serde_json::Value>().unwrap())
}

/// `import_citizens` as the page calls it: the file as the raw body, the rest in a header.
fn import(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    bytes: &[u8],
    arguments: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    with_file(
        webview,
        "import_citizens",
        sotay_app_lib::commands::IMPORT_ARGUMENTS_HEADER,
        bytes,
        arguments,
    )
}

/// `restore_backup` as the page calls it: the backup as the raw body, its passphrase in a header.
fn restore(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    bytes: &[u8],
    passphrase: &str,
) -> Result<serde_json::Value, serde_json::Value> {
    with_file(
        webview,
        "restore_backup",
        sotay_app_lib::gate::RESTORE_ARGUMENTS_HEADER,
        bytes,
        json!({ "passphrase": passphrase }),
    )
}

/// A command that takes a file, called as the page calls it.
fn with_file(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    header: &'static str,
    bytes: &[u8],
    arguments: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    with_body(
        webview,
        cmd,
        header,
        tauri::ipc::InvokeBody::Raw(bytes.to_vec()),
        arguments,
    )
}

/// A file as Tauri's `postMessage` fallback carries it: a JSON array of numbers.
fn as_numbers(bytes: &[u8]) -> tauri::ipc::InvokeBody {
    tauri::ipc::InvokeBody::Json(bytes.iter().map(|b| json!(b)).collect())
}

/// A command that takes a file, its body as given.
fn with_body(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    header: &'static str,
    body: tauri::ipc::InvokeBody,
    arguments: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    let mut headers = tauri::http::HeaderMap::new();
    // The page escapes non-ASCII characters (`asciiJson`), as a header must be ASCII.
    let ascii: String = arguments
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                c.encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect()
            }
        })
        .collect();
    headers.insert(header, ascii.parse().unwrap());
    request(webview, cmd, body, headers)
}

const PASSPHRASE: &str = "hoa sen trắng";

fn app_with_a_team(dir: &std::path::Path) -> App {
    app_at(DataPaths {
        database: dir.join("sotay.sqlite"),
        output_dir: dir.join("out"),
        location_file: None,
    })
}

/// The app on `paths`, with a team set up.
fn app_at(paths: DataPaths) -> App {
    let app = App::open(paths, &Passphrase::new(PASSPHRASE)).unwrap();
    app.init_team(NewTeam {
        name: "Đội TNTN Hàm Rồng".into(),
        organisation: Organisation::YouthUnion,
        province_code: "38".into(),
        commune_code: "14758".into(),
        volunteer: "Lê Thị Hoa".into(),
    })
    .unwrap();
    app
}

fn window(app: App) -> tauri::WebviewWindow<tauri::test::MockRuntime> {
    window_with(app)
}

/// A window of the app's commands with `state` managed (the application, or the lock before it).
fn window_with<T: Send + Sync + 'static>(
    state: T,
) -> tauri::WebviewWindow<tauri::test::MockRuntime> {
    let tauri_app = mock_builder()
        .manage(state)
        .invoke_handler(sotay_app_lib::commands::handler())
        // The app's own context: its capabilities decide what the window may call, as in the
        // real app.
        .build(tauri::generate_context!())
        .unwrap();
    tauri::WebviewWindowBuilder::new(&tauri_app, "main", Default::default())
        .build()
        .unwrap()
}

#[test]
fn editing_a_citizen_in_the_app_keeps_groups_and_note() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_team(dir.path());
    let added = app
        .add_citizen(CitizenInput {
            full_name: "Hà Thị Mai".into(),
            gender: "nữ".into(),
            birth: "12/03/1950".into(),
            village: "Bản Lầu".into(),
            phone: Some("0912345678".into()),
            groups: vec![Group::Elderly, Group::EthnicMinority],
            note: Some("Nghe kém, cần nói to".into()),
            consent: true,
            ..Default::default()
        })
        .unwrap()
        .citizen;
    let webview = window(app.clone());

    // What the citizens screen sends after the name and village were corrected: the form has no
    // groups or note fields.
    let edited = invoke(
        &webview,
        "update_citizen",
        json!({
            "id": added.id,
            "patch": {"full_name": "Hà Thị Mây", "village": "Bản Lầu Trên", "phone": "0912345678"}
        }),
    )
    .unwrap();
    let edited: CitizenV1 = serde_json::from_value(edited).unwrap();
    assert_eq!(edited.full_name, "Hà Thị Mây");
    assert_eq!(edited.village, "Bản Lầu Trên");
    assert_eq!(edited.groups, vec![Group::Elderly, Group::EthnicMinority]);
    assert_eq!(edited.note.as_deref(), Some("Nghe kém, cần nói to"));
    assert_eq!(edited.birth_date.as_deref(), Some("1950-03-12"));

    let stored = app.citizen(added.id).unwrap();
    assert_eq!(stored.groups, edited.groups);
    assert_eq!(stored.note, edited.note);
}

#[test]
fn a_refused_form_answers_kind_message_and_each_field() {
    let dir = tempfile::tempdir().unwrap();
    let webview = window(app_with_a_team(dir.path()));
    let err = invoke(
        &webview,
        "add_citizen",
        json!({"citizen": {
            "full_name": "", "gender": "nữ", "birth": "31/02/1960", "village": "Thôn Đông",
            "phone": "0212", "consent": true
        }}),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "invalid");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("Họ và tên: bị bỏ trống"));
    let english = err["message_en"].as_str().unwrap();
    assert!(english.starts_with("Full name: is empty"), "{english}");
    assert!(
        english.contains("Phone: “0212” must have 10 digits"),
        "{english}"
    );
    assert_eq!(
        err["fields"][2]["reason_en"],
        "“0212” must have 10 digits (it has 4)"
    );
    let fields: Vec<&str> = err["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["full_name", "birth_year", "phone"]);
}

#[test]
fn import_previews_then_commits_and_a_session_prints_to_the_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    let webview = window(app_with_a_team(dir.path()));
    let csv = "Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại\n\
               Lê Văn An,Nam,1950,Thôn Đông,0912345678\n\
               Trần Thị Bình,Nữ,1960,Thôn Tây,0212\n";
    // The list has no consent column: the volunteer says who collected it, and when.
    let consent = json!({"collected_by": "Cán bộ văn hóa xã", "date": "10/11/2025"});
    let refused = import(
        &webview,
        csv.as_bytes(),
        json!({"name": "danh sách.csv", "commit": false}),
    )
    .unwrap();
    assert_eq!(refused["added"], 0, "nobody without consent");
    let preview = import(
        &webview,
        csv.as_bytes(),
        json!({"name": "danh sách.csv", "commit": false, "consent": consent}),
    )
    .unwrap();
    assert_eq!(
        (preview["added"].as_u64(), preview["committed"].as_bool()),
        (Some(1), Some(false))
    );
    let register = invoke(&webview, "search_citizens", json!({"query": ""})).unwrap();
    assert_eq!(register["total"], 0, "a preview stores nobody");
    // The file must come as the raw body, with its arguments.
    for malformed in [
        invoke(
            &webview,
            "import_citizens",
            json!({"name": "ds.csv", "bytes": csv.as_bytes(), "commit": true}),
        ),
        import(&webview, csv.as_bytes(), json!({"commit": true})),
    ] {
        assert_eq!(malformed.unwrap_err()["kind"], "bad_request");
    }
    let register = invoke(&webview, "search_citizens", json!({"query": ""})).unwrap();
    assert_eq!(register["total"], 0);
    import(
        &webview,
        csv.as_bytes(),
        json!({"name": "danh sách.csv", "commit": true, "consent": consent}),
    )
    .unwrap();
    let found = invoke(&webview, "search_citizens", json!({"query": "le van an"})).unwrap();
    assert_eq!(found["total"], 1);
    let an = found["citizens"][0]["id"].clone();
    let detail = invoke(
        &webview,
        "add_session",
        json!({"session": {
            "date": "2026-11-20", "place": "Nhà văn hóa", "skills": ["VNEID1"],
            "attendees": [{"citizen_id": an, "achieved": ["VNEID1"]}]
        }}),
    )
    .unwrap();
    let overview = invoke(&webview, "app_state", json!({})).unwrap();
    assert_eq!(
        (
            &overview["citizens"],
            &overview["sessions"],
            &overview["people_confirmed"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    let printed = invoke(
        &webview,
        "print_sheet",
        json!({"id": detail["session"]["id"], "options": {"blank_rows": 2}}),
    )
    .unwrap();
    let path = std::path::PathBuf::from(printed["path"].as_str().unwrap());
    assert!(path.starts_with(dir.path().join("out")), "{path:?}");
    assert!(path.to_string_lossy().contains("2026-11-20"), "{path:?}");
    assert!(std::fs::read(&path).unwrap().starts_with(b"%PDF"));
    let report = invoke(&webview, "export_report", json!({"from": "", "to": null})).unwrap();
    assert!(std::fs::read(report["path"].as_str().unwrap())
        .unwrap()
        .starts_with(b"PK"));
    let backup = invoke(&webview, "backup", json!({})).unwrap();
    assert!(backup["bytes"].as_u64().unwrap() > 0);
}

/// Where a webview refuses Tauri's IPC protocol, Tauri falls back to `postMessage`, which carries
/// a file as a JSON array of numbers: the import works there too, and anything else is refused.
#[test]
fn a_file_sent_through_the_post_message_fallback_imports_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let webview = window(app_with_a_team(dir.path()));
    let csv = "Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại\n\
               Lê Văn An,Nam,1950,Thôn Đông,0912345678\n";
    let arguments = json!({
        "name": "danh sách.csv",
        "commit": true,
        "consent": {"collected_by": "Cán bộ văn hóa xã", "date": "10/11/2025"},
    });
    let header = sotay_app_lib::commands::IMPORT_ARGUMENTS_HEADER;
    for not_bytes in [json!([76, 256]), json!([76, -1]), json!([76, "a"])] {
        let refused = with_body(
            &webview,
            "import_citizens",
            header,
            tauri::ipc::InvokeBody::Json(not_bytes),
            arguments.clone(),
        );
        assert_eq!(refused.unwrap_err()["kind"], "bad_request");
    }
    let imported = with_body(
        &webview,
        "import_citizens",
        header,
        as_numbers(csv.as_bytes()),
        arguments,
    )
    .unwrap();
    assert_eq!(imported["added"], 1);
    let found = invoke(&webview, "search_citizens", json!({"query": "le van an"})).unwrap();
    assert_eq!(found["total"], 1);
}

/// The window as the real app starts it: on the database's lock, no application yet.
fn locked_window(paths: DataPaths) -> tauri::WebviewWindow<tauri::test::MockRuntime> {
    window_with(sotay_app_lib::gate::Gate::new(paths))
}

#[test]
fn the_first_run_chooses_a_passphrase_and_the_next_one_unlocks_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let paths = DataPaths {
        database: dir.path().join("sotay.sqlite"),
        output_dir: dir.path().join("out"),
        location_file: None,
    };
    let webview = locked_window(paths.clone());
    let told = invoke(&webview, "app_state", json!({})).unwrap_err();
    assert_eq!(told["kind"], "choose_passphrase");
    // Nothing else answers before the store is open.
    assert!(invoke(&webview, "sessions", json!({})).is_err());
    let weak = invoke(&webview, "unlock", json!({"passphrase": "1234"})).unwrap_err();
    assert_eq!(weak["kind"], "weak_passphrase");
    assert!(weak["message"]
        .as_str()
        .unwrap()
        .contains("ít nhất 8 ký tự"));
    let overview = invoke(&webview, "unlock", json!({"passphrase": PASSPHRASE})).unwrap();
    assert!(overview["team"].is_null());
    invoke(
        &webview,
        "init_team",
        json!({"team": {"name": "Đội TNTN Hàm Rồng", "organisation": "youth_union",
                 "province_code": "38", "commune_code": "14758", "volunteer": "Lê Thị Hoa"}}),
    )
    .unwrap();
    invoke(&webview, "app_state", json!({})).unwrap();
    let changed = invoke(
        &webview,
        "change_passphrase",
        json!({"current": "không phải", "new": "trăng rằm tháng tám"}),
    )
    .unwrap_err();
    assert_eq!(changed["kind"], "wrong_passphrase");
    invoke(
        &webview,
        "change_passphrase",
        json!({"current": PASSPHRASE, "new": "trăng rằm tháng tám"}),
    )
    .unwrap();

    // The next start: locked, the old passphrase refused, the new one opens the same team.
    let webview = locked_window(paths);
    let told = invoke(&webview, "app_state", json!({})).unwrap_err();
    assert_eq!(told["kind"], "locked");
    let wrong = invoke(&webview, "unlock", json!({"passphrase": PASSPHRASE})).unwrap_err();
    assert_eq!(wrong["kind"], "wrong_passphrase");
    let overview = invoke(
        &webview,
        "unlock",
        json!({"passphrase": "trăng rằm tháng tám"}),
    )
    .unwrap();
    assert_eq!(overview["team"]["name"], "Đội TNTN Hàm Rồng");
}

#[test]
fn a_database_that_does_not_open_is_explained_kept_and_can_be_restored() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("sotay.sqlite");
    let garbage = b"not a database, a damaged file".repeat(200);
    std::fs::write(&database, &garbage).unwrap();
    let backup = {
        let source = tempfile::tempdir().unwrap();
        let app = app_with_a_team(source.path());
        let copy = dir.path().join("usb.sqlite");
        app.backup(Some(copy.clone())).unwrap();
        std::fs::read(copy).unwrap()
    };
    let paths = DataPaths {
        database: database.clone(),
        output_dir: dir.path().join("out"),
        location_file: None,
    };
    let webview = locked_window(paths.clone());
    // Without SQLite's header the file may be encrypted: the page asks for the passphrase, and
    // only the passphrase can tell that it is not Sổ Tay data.
    let told = invoke(&webview, "app_state", json!({})).unwrap_err();
    assert_eq!(told["kind"], "locked");
    let refused = invoke(&webview, "unlock", json!({"passphrase": PASSPHRASE})).unwrap_err();
    assert_eq!(refused["kind"], "wrong_passphrase");
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("không phải dữ liệu Sổ Tay"));
    assert_eq!(std::fs::read(&database).unwrap(), garbage, "untouched");

    // Something that is not a Sổ Tay backup is refused, and nothing moves; so is a backup with
    // the wrong passphrase.
    let refused = restore(&webview, b"nope", PASSPHRASE);
    assert!(refused.is_err());
    let refused = restore(&webview, &backup, "không phải mật khẩu").unwrap_err();
    assert_eq!(refused["kind"], "wrong_passphrase");
    assert_eq!(std::fs::read(&database).unwrap(), garbage);

    // The file must come as the raw body, with its passphrase beside it.
    for malformed in [
        invoke(
            &webview,
            "restore_backup",
            json!({"bytes": backup, "passphrase": PASSPHRASE}),
        ),
        with_file(
            &webview,
            "restore_backup",
            sotay_app_lib::gate::RESTORE_ARGUMENTS_HEADER,
            &backup,
            json!({}),
        ),
    ] {
        assert_eq!(malformed.unwrap_err()["kind"], "bad_request");
    }
    assert_eq!(std::fs::read(&database).unwrap(), garbage);
    // Sent as a webview that refuses the IPC protocol sends it, through Tauri's fallback.
    let aside = with_body(
        &webview,
        "restore_backup",
        sotay_app_lib::gate::RESTORE_ARGUMENTS_HEADER,
        as_numbers(&backup),
        json!({ "passphrase": PASSPHRASE }),
    )
    .unwrap();
    let aside = std::path::PathBuf::from(aside.as_str().unwrap());
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        garbage,
        "the old file is kept, as it was"
    );
    let overview = invoke(&webview, "unlock", json!({"passphrase": PASSPHRASE})).unwrap();
    assert_eq!(overview["team"]["name"], "Đội TNTN Hàm Rồng");
    // Once open, a restore under the running app is refused.
    let refused = restore(&webview, &backup, PASSPHRASE).unwrap_err();
    assert_eq!(refused["kind"], "already_open");
}

#[test]
fn the_page_can_open_only_files_the_app_saved() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_a_team(dir.path());
    let webview = window(app.clone());
    let folder = dir.path().join("Tài liệu");
    let chosen = invoke(
        &webview,
        "set_output_folder",
        json!({"folder": folder.display().to_string()}),
    )
    .unwrap();
    assert_eq!(chosen, json!(folder.display().to_string()));
    let settings = invoke(&webview, "local_settings", json!({})).unwrap();
    assert_eq!(
        settings["output_folder"],
        json!(folder.display().to_string())
    );
    // Anything outside the chosen folder is refused before the desktop is asked to open it.
    for path in [
        dir.path().join("sotay.sqlite").display().to_string(),
        format!("{}/../sotay.sqlite", folder.display()),
        "/etc/passwd".to_owned(),
    ] {
        let err = invoke(
            &webview,
            "open_saved",
            json!({"path": path, "folder": false}),
        )
        .unwrap_err();
        assert_eq!(err["kind"], "not_output", "{path}: {err}");
        assert!(err["message"]
            .as_str()
            .unwrap()
            .contains("không phải tệp Sổ Tay đã lưu"));
    }
}

#[test]
fn the_data_file_moves_from_the_settings_screen() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("config").join("thu-muc-du-lieu.txt");
    let app = app_at(DataPaths {
        database: dir.path().join("sotay.sqlite"),
        output_dir: dir.path().join("out"),
        location_file: Some(location.clone()),
    });
    let webview = window(app.clone());
    let folder = dir.path().join("Dữ liệu");
    let settings = invoke(
        &webview,
        "move_data",
        json!({"folder": folder.display().to_string()}),
    )
    .unwrap();
    assert_eq!(
        settings["database"],
        json!(folder.join("sotay.sqlite").display().to_string())
    );
    assert!(!dir.path().join("sotay.sqlite").exists());
    assert!(location.exists());
    let err = invoke(&webview, "move_data", json!({"folder": "tuong-doi"})).unwrap_err();
    assert_eq!(err["kind"], "folder");
}
