//! End-to-end tests of the `sotay` binary: the admin's path from a fresh laptop to a recorded
//! session, run as a user would run it, against a real SQLite file.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What the test laptops are encrypted with, given to every command as SOTAY_PASSPHRASE.
const PASSPHRASE: &str = "hoa sen trắng";

struct Cli {
    db: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            db: dir.path().join("laptop.sqlite"),
            _dir: dir,
        }
    }

    fn dir(&self) -> &Path {
        self._dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sotay"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("SOTAY_DB")
            .env("SOTAY_PASSPHRASE", PASSPHRASE)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sotay {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        serde_json::from_str(&self.ok(&with_json)).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "sotay {args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }

    fn init(&self) {
        self.ok(INIT);
    }
}

/// `sotay init` for the team every test sets up.
const INIT: &[&str] = &[
    "init",
    "--team",
    "Đội TNTN phường Hàm Rồng",
    "--org",
    "youth",
    "--province",
    "38",
    "--commune",
    "14758",
    "--volunteer",
    "Lê Thị Hoa",
];

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

const LIST: &str = "\u{feff}STT;Họ và tên;Giới tính;Năm sinh;Thôn/Xóm;Số điện thoại;Số CCCD\r\n\
1;Nguyễn Văn Đường;Nam;1957;Thôn Đông;0912345678;038057000123\r\n\
2;Trần Thị Ánh;Nữ;05/03/1962;Thôn Đông;;\r\n\
3;Phạm Thị Ưng;Nữ;1980;Thôn Tây;;038080000999\r\n\
4;Hoàng Văn Đạt;Nam;1990;Thôn Nam;02373851234;\r\n";

#[test]
fn admin_sets_up_imports_searches_and_records_a_session() {
    let cli = Cli::new();
    assert!(cli.ok(INIT).contains("Phường Hàm Rồng, Tỉnh Thanh Hóa"));

    let list = cli.dir().join("ds.csv");
    std::fs::write(&list, LIST).unwrap();
    let list = list.to_str().unwrap();

    // Without a consent column, the volunteer says who collected everyone's consent, and when.
    let nobody = cli.fails(&["citizen", "import", list]);
    assert!(nobody.contains("thêm cột “Đồng ý”"), "{nobody}");
    let consent = [
        "--consent-by",
        "Cán bộ văn hóa phường",
        "--consent-date",
        "10/11/2025",
    ];
    let import = |extra: &[&str]| -> Vec<String> {
        ["citizen", "import", list]
            .iter()
            .chain(extra)
            .chain(&consent)
            .map(|s| s.to_string())
            .collect()
    };
    let err = cli.fails(&strs(&import(&[])));
    assert!(err.contains("2 dòng không hợp lệ"), "{err}");
    assert!(err.contains("dòng 4, cột Số CCCD"), "{err}");
    assert!(err.contains("dòng 5, cột Số điện thoại"), "{err}");
    assert_eq!(cli.json(&["citizen", "list"]).as_array().unwrap().len(), 0);

    let report = cli.json(&strs(&import(&["--skip-invalid"])));
    assert_eq!(report["added"], 2);
    let report = cli.json(&strs(&import(&["--skip-invalid"])));
    assert_eq!(report["added"], 0);
    // Row 2 has a CCCD: the same person. Row 3 (no phone, no CCCD) may be: listed, not added.
    assert_eq!(report["already_registered"][0]["row"], 2);
    assert_eq!(report["possible_duplicates"][0]["row"], 3);
    assert_eq!(report["possible_duplicates"][0]["added"], false);
    let human = cli.ok(&strs(&import(&["--skip-invalid", "--dry-run"])));
    assert!(
        human.contains("Dòng 3 (Trần Thị Ánh): có thể trùng với Trần Thị Ánh"),
        "{human}"
    );
    let report = cli.json(&strs(&import(&[
        "--skip-invalid",
        "--add-anyway",
        "3",
        "--dry-run",
    ])));
    assert_eq!(
        report["added"], 1,
        "the volunteer says row 3 is another person"
    );
    assert_eq!(report["committed"], false);

    let added = cli.json(&[
        "citizen",
        "add",
        "--name",
        "Lê Văn Ân",
        "--gender",
        "nam",
        "--birth",
        "12/12/1948",
        "--village",
        "Thôn Tây",
        "--phone",
        "+84912345678",
        "--group",
        "elderly",
        "--consent",
    ]);
    assert_eq!(added["citizen"]["phone"], "0912345678");
    assert_eq!(added["likely_duplicates"][0]["reason"], "same_phone");

    let found = cli.json(&["citizen", "search", "nguyen van duong"]);
    assert_eq!(found[0]["full_name"], "Nguyễn Văn Đường");
    assert!(cli
        .ok(&["citizen", "search", "Đường"])
        .contains("Nguyễn Văn Đường"));

    let names: Vec<String> = cli
        .json(&["citizen", "list", "--sort", "given-name"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["full_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Trần Thị Ánh", "Lê Văn Ân", "Nguyễn Văn Đường"]);

    let dups = cli.json(&["citizen", "duplicates"]);
    assert_eq!(dups.as_array().unwrap().len(), 1);
    assert!(cli
        .ok(&["citizen", "duplicates"])
        .contains("trùng số điện thoại"));

    let skills = cli.ok(&["skill", "list"]);
    assert!(
        skills.contains("VNEID1") && skills.contains("Kích hoạt tài khoản định danh điện tử mức 1")
    );

    let ids: Vec<String> = cli
        .json(&["citizen", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let achieved = format!("{}:VNEID1", ids[0]);
    let mut args = vec![
        "session",
        "add",
        "--date",
        "2026-11-20",
        "--time",
        "08:00",
        "--place",
        "Nhà văn hóa thôn Đông",
        "--skills",
        "0.1,VNEID1",
        "--achieved",
        &achieved,
    ];
    for id in &ids {
        args.extend(["--attendee", id.as_str()]);
    }
    let session = cli.json(&args);
    let session_id = session["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(session["attendees"].as_array().unwrap().len(), 3);

    let shown = cli.ok(&["session", "show", &session_id]);
    assert!(
        shown.contains("Trần Thị Ánh (1962) — đạt: VNEID1"),
        "{shown}"
    );
    assert!(shown.contains("Tình nguyện viên: Lê Thị Hoa"));
    let list = cli.json(&["session", "list"]);
    assert_eq!(list[0]["attendees"], 3);
    assert_eq!(list[0]["achieved"], 1);

    // team + volunteer + 3 citizens + 1 session + 3 attendances, all pending.
    let status = cli.json(&["outbox", "status"]);
    assert_eq!(status["pending"], 9);
    assert_eq!(status["last_seq"], 9);
}

#[test]
fn errors_exit_non_zero_with_a_one_line_reason() {
    let cli = Cli::new();
    let err = cli.fails(&[
        "citizen",
        "add",
        "--name",
        "An",
        "--gender",
        "nam",
        "--birth",
        "1957",
        "--village",
        "Đông",
        "--consent",
    ]);
    assert!(err.starts_with("Lỗi: chưa khởi tạo đội"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1);
    cli.init();
    let err = cli.fails(&[
        "citizen",
        "add",
        "--name",
        "An",
        "--gender",
        "nam",
        "--birth",
        "1957",
        "--village",
        "Đông",
        "--cccd",
        "038157000123",
        "--consent",
    ]);
    assert!(
        err.contains("Số CCCD") && err.contains("giới tính"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1);
    let err = cli.fails(&[
        "citizen",
        "add",
        "--name",
        "An",
        "--gender",
        "nam",
        "--birth",
        "1957",
        "--village",
        "Đông",
    ]);
    assert!(err.contains("đồng ý"), "{err}");
    let out = cli.run(&[
        "session",
        "show",
        "01a22017-a961-7243-98b7-71e16f649984",
        "--json",
    ]);
    let body: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(body["error"]["kind"], "not_found");
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let cli = Cli::new();
    cli.init();
    sotay_core::protect::open_connection(&cli.db, &sotay_core::Passphrase::new(PASSPHRASE))
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let err = cli.fails(&["outbox", "status"]);
    assert!(err.contains("mới hơn") && err.contains("999"), "{err}");
}

#[test]
fn officials_print_sheets_set_targets_and_export_reports() {
    let cli = Cli::new();
    cli.init();
    let list = cli.dir().join("ds.csv");
    std::fs::write(&list, LIST).unwrap();
    cli.ok(&[
        "citizen",
        "import",
        list.to_str().unwrap(),
        "--skip-invalid",
        "--consent-by",
        "Cán bộ văn hóa phường",
        "--consent-date",
        "10/11/2025",
    ]);
    let ids: Vec<String> = cli
        .json(&["citizen", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let achieved = format!("{}:VNEID1", ids[0]);
    let session = cli.json(&[
        "session",
        "add",
        "--date",
        "2026-11-20",
        "--place",
        "Nhà văn hóa",
        "--skills",
        "0.1,VNEID1",
        "--attendee",
        &ids[0],
        "--attendee",
        &ids[1],
        "--achieved",
        &achieved,
    ]);
    let session_id = session["session"]["id"].as_str().unwrap();

    let pdf = cli.dir().join("diem-danh.pdf");
    let out = cli.ok(&[
        "sheet",
        session_id,
        "--out",
        pdf.to_str().unwrap(),
        "--blank-rows",
        "5",
    ]);
    assert!(out.contains("2 người (+5 dòng trống)"), "{out}");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));

    cli.ok(&["target", "set", "--commune", "14758", "--adults", "4"]);
    let targets = cli.json(&["target", "list"]);
    assert_eq!(targets[0]["confirmed_pct"], 80, "default confirmed target");
    let err = cli.fails(&["target", "set", "--commune", "99999", "--adults", "4"]);
    assert!(err.contains("99999"), "{err}");

    let json = cli.dir().join("bao-cao.json");
    let out = cli.ok(&[
        "report",
        "--format",
        "json",
        "--out",
        json.to_str().unwrap(),
    ]);
    assert!(out.contains("2 người được tiếp cận"), "{out}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["totals"]["attendances"], 2);
    assert_eq!(report["people_confirmed"], 1);
    assert_eq!(report["targets"][0]["reached_pct"], 50.0);

    let xlsx = cli.dir().join("bao-cao.xlsx");
    cli.ok(&[
        "report",
        "--by",
        "gender",
        "--by",
        "skill",
        "--from",
        "2026-11-01",
        "--format",
        "xlsx",
        "--out",
        xlsx.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"));

    let export = cli.dir().join("nguoi-dan.csv");
    cli.ok(&[
        "citizen",
        "export",
        "--format",
        "csv",
        "--out",
        export.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(text.starts_with("STT,Họ và tên"));
    assert!(text.contains("*******678") && !text.contains("0912345678"));
}

#[test]
fn editing_a_citizen_changes_only_the_fields_given() {
    let cli = Cli::new();
    cli.init();
    let added = cli.json(&[
        "citizen",
        "add",
        "--name",
        "Lò Thị Xuân",
        "--gender",
        "nu",
        "--birth",
        "12/03/1950",
        "--village",
        "Bản Lầu",
        "--phone",
        "0912345678",
        "--group",
        "elderly",
        "--group",
        "ethnic-minority",
        "--note",
        "Nghe kém",
        "--consent",
    ]);
    let id = added["citizen"]["id"].as_str().unwrap().to_owned();
    let edited = cli.json(&[
        "citizen",
        "edit",
        &id,
        "--village",
        "Bản Lầu Trên",
        "--phone",
        "",
    ]);
    assert_eq!(edited["village"], "Bản Lầu Trên");
    assert_eq!(edited["phone"], Value::Null);
    assert_eq!(
        edited["groups"],
        serde_json::json!(["elderly", "ethnic_minority"])
    );
    assert_eq!(edited["note"], "Nghe kém");
    assert_eq!(edited["birth_date"], "1950-03-12");
    let shown = cli.ok(&["citizen", "show", &id]);
    assert!(
        shown.contains("Bản Lầu Trên") && shown.contains("Ghi chú: Nghe kém"),
        "{shown}"
    );
    let regrouped = cli.json(&["citizen", "edit", &id, "--no-groups"]);
    assert_eq!(regrouped["groups"], serde_json::json!([]));
    assert_eq!(regrouped["note"], "Nghe kém");
}

#[test]
fn a_backup_is_a_working_copy_of_the_database() {
    let cli = Cli::new();
    cli.init();
    cli.ok(&[
        "citizen",
        "add",
        "--name",
        "Đinh Văn Lộc",
        "--gender",
        "nam",
        "--birth",
        "1961",
        "--village",
        "Thôn Đông",
        "--consent",
    ]);
    let copy = cli.dir().join("usb").join("sao-luu.sqlite");
    let written = cli.json(&["backup", "--out", copy.to_str().unwrap()]);
    assert!(written["bytes"].as_u64().unwrap() > 0);
    let restored = Command::new(env!("CARGO_BIN_EXE_sotay"))
        .arg("--db")
        .arg(&copy)
        .args(["citizen", "search", "dinh van loc"])
        .env("SOTAY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&restored.stdout).contains("Đinh Văn Lộc"));
}

#[test]
fn restore_puts_a_backup_back_and_keeps_what_was_there() {
    let cli = Cli::new();
    cli.init();
    let add = |name: &str| {
        cli.ok(&[
            "citizen",
            "add",
            "--name",
            name,
            "--gender",
            "nu",
            "--birth",
            "1958",
            "--village",
            "Thôn Tây",
            "--consent",
        ]);
    };
    add("Hà Thị Nguyệt");
    let copy = cli.dir().join("usb").join("sao-luu.sqlite");
    cli.ok(&["backup", "--out", copy.to_str().unwrap()]);
    add("Lục Văn Sáng");

    let said = cli.ok(&["restore", copy.to_str().unwrap()]);
    assert!(said.contains("Đã khôi phục"), "{said}");
    let found = cli.ok(&["citizen", "search", "thi nguyet"]);
    assert!(found.contains("Hà Thị Nguyệt"), "{found}");
    let after = cli.ok(&["citizen", "search", "luc van sang"]);
    assert!(!after.contains("Lục Văn Sáng"), "{after}");
    // What was there before the restore is kept aside, whole.
    let aside = std::fs::read_dir(cli.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("truoc-khi-khoi-phuc"))
        .expect("the previous database kept");
    let kept = Command::new(env!("CARGO_BIN_EXE_sotay"))
        .arg("--db")
        .arg(&aside)
        .args(["citizen", "search", "luc van sang"])
        .env("SOTAY_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&kept.stdout).contains("Lục Văn Sáng"));

    // A file that is not a backup changes nothing.
    let junk = cli.dir().join("junk.sqlite");
    std::fs::write(&junk, b"not a database").unwrap();
    cli.fails(&["restore", junk.to_str().unwrap()]);
    let still = cli.ok(&["citizen", "search", "thi nguyet"]);
    assert!(still.contains("Hà Thị Nguyệt"), "{still}");
}

#[test]
fn a_citizen_s_history_shows_sessions_and_an_outcome_reached_later() {
    let cli = Cli::new();
    cli.init();
    let added = cli.json(&[
        "citizen",
        "add",
        "--name",
        "Mùa Thị Dế",
        "--gender",
        "nu",
        "--birth",
        "1960",
        "--village",
        "Bản Phố",
        "--consent",
    ]);
    let id = added["citizen"]["id"].as_str().unwrap().to_owned();
    let session = cli.json(&[
        "session",
        "add",
        "--date",
        "2026-11-20",
        "--time",
        "08:00",
        "--place",
        "Nhà văn hóa bản Phố",
        "--skills",
        "0.1,VNEID1",
        "--attendee",
        &id,
    ]);
    let session_id = session["session"]["id"].as_str().unwrap().to_owned();
    let shown = cli.ok(&["citizen", "show", &id]);
    assert!(
        shown.contains("Buổi 2026-11-20 08:00 — Nhà văn hóa bản Phố")
            && shown.contains("[VNEID1]: đã được hướng dẫn"),
        "{shown}"
    );

    // The next day she activates VNeID at home; the volunteer marks it.
    let refused = cli.fails(&[
        "outcome",
        "add",
        "--citizen",
        &id,
        "--session",
        &session_id,
        "--skill",
        "QR1",
    ]);
    assert!(refused.contains("không được dạy ở buổi này"), "{refused}");
    let before = cli.json(&["outbox", "status"])["pending"].as_u64().unwrap();
    cli.ok(&[
        "outcome",
        "add",
        "--citizen",
        &id,
        "--session",
        &session_id,
        "--skill",
        "VNEID1",
        "--on",
        "2026-11-21",
    ]);
    let shown = cli.ok(&["citizen", "show", &id]);
    assert!(
        shown.contains("[VNEID1]: đã đạt (xác nhận bởi Lê Thị Hoa ngày 2026-11-21)"),
        "{shown}"
    );
    let history = cli.json(&["citizen", "show", &id]);
    assert_eq!(history["sessions"][0]["outcomes"][1]["outcome"], "achieved");
    // One change, queued to sync.
    let after = cli.json(&["outbox", "status"])["pending"].as_u64().unwrap();
    assert_eq!(after, before + 1);
}

#[test]
fn a_past_session_is_corrected_from_the_command_line() {
    let cli = Cli::new();
    cli.init();
    let add = |name: &str| {
        cli.json(&[
            "citizen",
            "add",
            "--name",
            name,
            "--gender",
            "nu",
            "--birth",
            "1960",
            "--village",
            "Bản Phố",
            "--consent",
        ])["citizen"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let de = add("Mùa Thị Dế");
    let say = add("Sùng Thị Say");
    let session = cli.json(&[
        "session",
        "add",
        "--date",
        "2026-11-20",
        "--place",
        "Nhà văn hóa bản Phố",
        "--skills",
        "0.1,VNEID1",
        "--attendee",
        &de,
    ]);
    let id = session["session"]["id"].as_str().unwrap().to_owned();
    let shown = cli.ok(&[
        "session",
        "edit",
        &id,
        "--place",
        "Nhà văn hóa bản Phố Mới",
        "--add",
        &say,
        "--achieved",
        &format!("{say}:VNEID1"),
    ]);
    assert!(
        shown.contains("Địa điểm: Nhà văn hóa bản Phố Mới"),
        "{shown}"
    );
    assert!(
        shown.contains("Sùng Thị Say (1960) — đạt: VNEID1"),
        "{shown}"
    );
    assert!(
        shown.contains("Mùa Thị Dế (1960) — đã hướng dẫn"),
        "{shown}"
    );
    let shown = cli.ok(&["session", "edit", &id, "--remove", &de]);
    assert!(!shown.contains("Mùa Thị Dế"), "{shown}");
    assert!(shown.contains("Người tham dự (1):"), "{shown}");
    let refused = cli.fails(&[
        "session",
        "edit",
        &id,
        "--achieved",
        &format!("{de}:VNEID1"),
    ]);
    assert!(refused.contains("không có trong buổi"), "{refused}");
    let refused = cli.fails(&["session", "edit", &id, "--skills", "9.9"]);
    assert!(refused.contains("9.9"), "{refused}");
    let shown = cli.ok(&["session", "show", &id]);
    assert!(
        shown.contains("Sùng Thị Say (1960) — đạt: VNEID1"),
        "{shown}"
    );
}

#[test]
fn the_data_moves_to_another_folder_and_the_next_command_finds_it() {
    let home = tempfile::tempdir().unwrap();
    // A laptop on its defaults (no --db): data and config under this test's own home.
    let sotay = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sotay"))
            .args(args)
            .env_remove("SOTAY_DB")
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("SOTAY_PASSPHRASE", PASSPHRASE)
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = sotay(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(INIT);
    ok(&[
        "citizen",
        "add",
        "--name",
        "Mùa Thị Dế",
        "--gender",
        "nu",
        "--birth",
        "1960",
        "--village",
        "Bản Phố",
        "--consent",
    ]);
    let before: Value = serde_json::from_str(&ok(&["data", "show", "--json"])).unwrap();
    let old = PathBuf::from(before["database"].as_str().unwrap());
    assert!(old.starts_with(home.path().join("data")), "{old:?}");
    assert_eq!(before["database_movable"], true);

    let folder = home.path().join("D").join("Sổ Tay");
    let moved = ok(&["data", "move", folder.to_str().unwrap()]);
    assert!(moved.contains("Đã chuyển dữ liệu sang"), "{moved}");
    assert!(!old.exists());
    let after: Value = serde_json::from_str(&ok(&["data", "show", "--json"])).unwrap();
    assert_eq!(
        after["database"],
        folder.join("sotay.sqlite").display().to_string()
    );
    let found: Value =
        serde_json::from_str(&ok(&["citizen", "search", "mua thi de", "--json"])).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);

    // A file named with --db stays where it was named.
    let cli = Cli::new();
    cli.init();
    let refused = cli.fails(&["data", "move", home.path().join("E").to_str().unwrap()]);
    assert!(refused.contains("--db"), "{refused}");
}
