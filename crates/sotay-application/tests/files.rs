//! Files the app saves: readable names, the folder the volunteer chooses, and which paths the
//! desktop may be asked to open.

use sotay_application::{App, DataPaths, ReportFormat, ReportRequest};
use sotay_core::sheet::SheetOptions;
use sotay_core::{AttendeeInput, CitizenInput, NewTeam, Passphrase, SessionInput};
use sotay_protocol::Organisation;

fn app(dir: &std::path::Path) -> App {
    app_at(DataPaths::resolve(
        Some(dir.join("sotay.sqlite")),
        Some(dir.join("Tài liệu").join("So Tay")),
    ))
}

/// The app on `paths`, with a team set up.
fn app_at(paths: DataPaths) -> App {
    let app = App::open(paths, &Passphrase::new("hoa sen trắng")).unwrap();
    app.init_team(NewTeam {
        name: "Đội thanh niên tình nguyện Hàm Rồng".into(),
        organisation: Organisation::YouthUnion,
        province_code: "38".into(),
        commune_code: "14758".into(),
        volunteer: "Lê Thị Hoa".into(),
    })
    .unwrap();
    app
}

fn session(app: &App) -> sotay_protocol::SessionId {
    let person = app
        .add_citizen(CitizenInput {
            full_name: "Mai Văn Bình".into(),
            gender: "nam".into(),
            birth: "1950".into(),
            village: "Thôn Đông".into(),
            consent: true,
            ..Default::default()
        })
        .unwrap()
        .citizen;
    app.record_session(SessionInput {
        date: "2026-12-05".into(),
        time: Some("08:30".into()),
        place: "Nhà văn hóa thôn Đông".into(),
        skills: vec!["VNEID1".into()],
        attendees: vec![AttendeeInput {
            citizen_id: person.id,
            achieved: vec![],
        }],
        ..Default::default()
    })
    .unwrap()
    .session
    .id
}

#[test]
fn sheets_and_reports_get_names_with_their_date_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let id = session(&app);
    let sheet = app.print_sheet(id, &SheetOptions::default(), None).unwrap();
    let name = std::path::Path::new(&sheet.path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let id = id.to_string();
    assert_eq!(
        name,
        format!(
            "diem-danh-2026-12-05-0830-nha-van-hoa-thon-dong-{}.pdf",
            &id[id.len() - 6..]
        )
    );
    let report = app
        .write_report(
            &ReportRequest {
                from: Some("2026-12-01".into()),
                to: Some("2026-12-31".into()),
                format: ReportFormat::Xlsx,
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert!(
        report
            .path
            .ends_with("bao-cao-phuong-ham-rong-2026-12-01-den-2026-12-31.xlsx"),
        "{}",
        report.path
    );
}

#[test]
fn the_chosen_folder_takes_the_files_and_only_saved_files_may_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let id = session(&app);
    let chosen = dir.path().join("USB").join("Điểm danh");
    let refused = app.set_output_folder("USB/Điểm danh").unwrap_err();
    assert_eq!(refused.kind(), "folder");
    assert!(
        refused.to_string().contains("đường dẫn đầy đủ"),
        "{refused}"
    );
    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, b"").unwrap();
    let refused = app
        .set_output_folder(&blocked.join("sub").display().to_string())
        .unwrap_err();
    assert!(refused.to_string().contains("không ghi được"), "{refused}");

    app.set_output_folder(&chosen.display().to_string())
        .unwrap();
    assert_eq!(app.output_folder().unwrap(), chosen);
    let sheet = app.print_sheet(id, &SheetOptions::default(), None).unwrap();
    assert!(std::path::Path::new(&sheet.path).starts_with(&chosen));
    // Kept across restarts: it is a setting of this laptop's store.
    drop(app);
    let again = App::open(
        DataPaths::resolve(Some(dir.path().join("sotay.sqlite")), None),
        &Passphrase::new("hoa sen trắng"),
    )
    .unwrap();
    assert_eq!(again.output_folder().unwrap(), chosen);

    assert!(again.written_path(&sheet.path).is_ok());
    assert!(again.written_path(&chosen.display().to_string()).is_ok());
    for outside in [
        dir.path().join("sotay.sqlite").display().to_string(),
        format!("{}/../../sotay.sqlite", chosen.display()),
        "/etc/passwd".to_owned(),
        "/no/such/file.pdf".to_owned(),
    ] {
        let err = again.written_path(&outside).unwrap_err();
        assert_eq!(err.kind(), "not_output", "{outside}");
    }
    // Not a kind of file Sổ Tay saves, even inside the folder: a program is never opened.
    let program = chosen.join("chay-toi.exe");
    std::fs::write(&program, b"MZ").unwrap();
    assert_eq!(
        again
            .written_path(&program.display().to_string())
            .unwrap_err()
            .kind(),
        "not_output"
    );
    // A chosen folder that cannot be made any more (a backup restored elsewhere, a stick not
    // plugged in): files go to the default folder meanwhile.
    again
        .set_output_folder(&chosen.display().to_string())
        .unwrap();
    std::fs::remove_dir_all(&chosen).unwrap();
    std::fs::write(&chosen, b"not a folder").unwrap();
    assert_ne!(again.output_folder().unwrap(), chosen);
    std::fs::remove_file(&chosen).unwrap();
    // Empty: back to the default.
    again.set_output_folder("").unwrap();
    assert_ne!(again.output_folder().unwrap(), chosen);
}

#[test]
fn the_data_moves_to_a_chosen_folder_and_is_found_there_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("config").join("thu-muc-du-lieu.txt");
    let paths = DataPaths {
        database: dir.path().join("data").join("sotay.sqlite"),
        output_dir: dir.path().join("out"),
        location_file: Some(location.clone()),
    };
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let passphrase = Passphrase::new("hoa sen trắng");
    let app = app_at(paths.clone());
    let id = session(&app);
    assert!(app.local_settings().unwrap().database_movable);

    assert_eq!(app.move_data("D/So Tay").unwrap_err().kind(), "folder");
    let folder = dir.path().join("D").join("Dữ liệu Sổ Tay");
    let new = app.move_data(&folder.display().to_string()).unwrap();
    assert_eq!(new, folder.join("sotay.sqlite"));
    assert!(!paths.database.exists(), "nothing left where it was");
    assert_eq!(
        std::fs::read_to_string(&location).unwrap(),
        folder.display().to_string()
    );
    assert_eq!(
        app.local_settings().unwrap().database,
        new.display().to_string()
    );
    // The running app goes on with the moved file.
    app.add_citizen(CitizenInput {
        full_name: "Lò Thị Dung".into(),
        gender: "nu".into(),
        birth: "1962".into(),
        village: "Bản Phố".into(),
        consent: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        app.move_data(&folder.display().to_string())
            .unwrap_err()
            .kind(),
        "folder"
    );
    drop(app);

    // The next start (app or CLI, without --db) finds it there.
    let next = DataPaths::remembered(Some(location), None);
    assert_eq!(next.database, new);
    let again = App::open(next, &passphrase).unwrap();
    assert_eq!(again.session(id).unwrap().attendees.len(), 1);
    assert_eq!(again.search_page("lo thi dung", 0, 10).unwrap().total, 1);

    // A database named at start stays where it was named.
    let named = App::open(
        DataPaths::named(dir.path().join("named.sqlite"), None),
        &passphrase,
    )
    .unwrap();
    assert!(!named.local_settings().unwrap().database_movable);
    let refused = named
        .move_data(&dir.path().join("E").display().to_string())
        .unwrap_err();
    assert_eq!(refused.kind(), "data_named");
}
