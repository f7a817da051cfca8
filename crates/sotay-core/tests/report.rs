//! Reports and exports read back: the numbers, the XLSX cells (calamine), CSV, and formula
//! injection.

use calamine::{open_workbook, Data, Reader, Xlsx};
use sotay_core::report::{self, Breakdown, CommuneTarget, ReportOptions};
use sotay_core::{AttendeeInput, CitizenInput, NewTeam, SessionInput, Store};
use sotay_protocol::{CitizenId, Organisation};

fn citizen(store: &mut Store, name: &str, gender: &str, birth: &str, village: &str) -> CitizenId {
    store
        .add_citizen(CitizenInput {
            full_name: name.into(),
            gender: gender.into(),
            birth: birth.into(),
            village: village.into(),
            phone: None,
            consent: true,
            ..Default::default()
        })
        .unwrap()
        .citizen
        .id
}

fn session(store: &mut Store, date: &str, skills: &[&str], attendees: &[(CitizenId, &[&str])]) {
    store
        .add_session(SessionInput {
            date: date.into(),
            place: "Nhà văn hóa".into(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            attendees: attendees
                .iter()
                .map(|(id, achieved)| AttendeeInput {
                    citizen_id: *id,
                    achieved: achieved.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            ..Default::default()
        })
        .unwrap();
}

/// Four people, two sessions, one commune target; the numbers below are counted by hand.
fn sample(dir: &std::path::Path) -> Store {
    let mut store = Store::open(
        &dir.join("r.sqlite"),
        &sotay_core::Passphrase::new("hoa sen trắng"),
    )
    .unwrap();
    store
        .init_team(NewTeam {
            name: "Đội Hàm Rồng".into(),
            organisation: Organisation::YouthUnion,
            province_code: "38".into(),
            commune_code: "14758".into(),
            volunteer: "Hoa".into(),
        })
        .unwrap();
    let a = citizen(&mut store, "Lê Thị An", "nữ", "1950", "Thôn Đông");
    let b = citizen(&mut store, "Trần Văn Bình", "nam", "1990", "Thôn Đông");
    let c = citizen(&mut store, "Ngô Thị Cúc", "nữ", "2010", "Thôn Tây");
    let d = citizen(&mut store, "Đỗ Văn Dũng", "nam", "2000", "Thôn Tây");
    session(
        &mut store,
        "2026-10-05",
        &["0.1", "VNEID1"],
        &[(a, &["VNEID1"]), (b, &[])],
    );
    session(
        &mut store,
        "2026-11-10",
        &["4.1"],
        &[(a, &[]), (c, &[]), (d, &["4.1"])],
    );
    store
        .set_target(&CommuneTarget {
            commune_code: "14758".into(),
            adult_population: 10,
            basic_pct: 100,
            confirmed_pct: 80,
        })
        .unwrap();
    store
}

fn row<'a>(r: &'a report::Report, b: Breakdown, group: &str) -> &'a report::Counts {
    &r.breakdowns
        .iter()
        .find(|t| t.breakdown == b)
        .unwrap()
        .rows
        .iter()
        .find(|x| x.group == group)
        .unwrap_or_else(|| panic!("no {group} in {b:?}"))
        .counts
}

#[test]
fn counts_people_attendances_outcomes_and_targets() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample(dir.path());
    let r = store.report(&ReportOptions::default()).unwrap();
    assert_eq!(r.sessions, 2);
    assert_eq!(
        (
            r.totals.people,
            r.totals.attendances,
            r.totals.taught,
            r.totals.achieved
        ),
        (4, 5, 5, 2)
    );
    assert_eq!(r.people_confirmed, 2);
    let nu = row(&r, Breakdown::Gender, "Nữ");
    assert_eq!((nu.people, nu.attendances), (2, 3));
    assert_eq!(row(&r, Breakdown::Age, "60 trở lên").attendances, 2);
    assert_eq!(row(&r, Breakdown::Age, "36–59").people, 1);
    assert_eq!(row(&r, Breakdown::Age, "Dưới 18").people, 1);
    assert_eq!(row(&r, Breakdown::Age, "18–35").people, 1);
    let vneid = row(
        &r,
        Breakdown::Skill,
        "VNEID1 Kích hoạt tài khoản định danh điện tử mức 1 (VNeID)",
    );
    assert_eq!((vneid.people, vneid.taught, vneid.achieved), (2, 1, 1));
    assert_eq!(row(&r, Breakdown::Month, "2026-11").people, 3);
    assert_eq!(row(&r, Breakdown::Village, "Thôn Tây").people, 2);
    assert_eq!(row(&r, Breakdown::Commune, "Phường Hàm Rồng").people, 4);
    assert_eq!(
        row(&r, Breakdown::Province, "Tỉnh Thanh Hóa").attendances,
        5
    );
    assert_eq!(row(&r, Breakdown::Team, "Đội Hàm Rồng").people, 4);
    let t = &r.targets[0];
    assert_eq!((t.reached, t.confirmed), (4, 2));
    assert_eq!((t.reached_pct, t.confirmed_pct), (40.0, 20.0));
    assert!(!t.basic_met && !t.confirmed_met);

    let november = store
        .report(&ReportOptions {
            from: Some("2026-11-01".into()),
            by: vec![Breakdown::Gender],
            ..Default::default()
        })
        .unwrap();
    assert_eq!((november.sessions, november.totals.people), (1, 3));
    assert_eq!(november.breakdowns.len(), 1);
}

#[test]
fn xlsx_reads_back_with_vietnamese_headers_and_numbers_as_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample(dir.path());
    let r = store.report(&ReportOptions::default()).unwrap();
    let path = dir.path().join("bao-cao.xlsx");
    report::write_xlsx(&r, &path).unwrap();
    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    let names = book.sheet_names();
    for expected in [
        "Tổng quan",
        "Theo kỹ năng",
        "Theo giới tính",
        "Theo độ tuổi",
        "Chỉ tiêu",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let overview = book.worksheet_range("Tổng quan").unwrap();
    assert_eq!(
        overview.get_value((3, 0)),
        Some(&Data::String("Số buổi".into()))
    );
    assert_eq!(overview.get_value((3, 1)), Some(&Data::Float(2.0)));
    assert_eq!(overview.get_value((4, 1)), Some(&Data::Float(4.0)));
    let gender = book.worksheet_range("Theo giới tính").unwrap();
    assert_eq!(
        gender.get_value((0, 1)),
        Some(&Data::String("Số người".into()))
    );
    let nu = gender
        .rows()
        .find(|r| r[0] == Data::String("Nữ".into()))
        .unwrap();
    assert_eq!(
        &nu[1..],
        &[
            Data::Float(2.0),
            Data::Float(3.0),
            Data::Float(3.0),
            Data::Float(1.0)
        ]
    );
    let targets = book.worksheet_range("Chỉ tiêu").unwrap();
    assert_eq!(targets.get_value((1, 2)), Some(&Data::Float(4.0)));
    assert_eq!(targets.get_value((1, 3)), Some(&Data::Float(40.0)));
    assert_eq!(
        targets.get_value((1, 5)),
        Some(&Data::String("Chưa đạt".into()))
    );
}

#[test]
fn csv_and_json_carry_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample(dir.path());
    let r = store.report(&ReportOptions::default()).unwrap();
    let csv_path = dir.path().join("r.csv");
    report::write_csv(&r, &csv_path).unwrap();
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert!(rows.contains(&vec![
        "Tổng".into(),
        "Tất cả".into(),
        "Số người".into(),
        "4".into()
    ]));
    assert!(rows.contains(&vec![
        "Theo giới tính".into(),
        "Nữ".into(),
        "Lượt tham dự".into(),
        "3".into()
    ]));
    assert!(rows.contains(&vec![
        "Chỉ tiêu".into(),
        "Phường Hàm Rồng".into(),
        "Tỷ lệ tiếp cận (%)".into(),
        "40".into()
    ]));
    let json_path = dir.path().join("r.json");
    report::write_json(&r, &json_path).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(json["totals"]["people"], 4);
    assert_eq!(json["targets"][0]["reached_pct"], 40.0);
}

#[test]
fn formula_injection_is_neutralised_in_csv_and_never_a_formula_in_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = sample(dir.path());
    let evil = "=HYPERLINK(\"http://example.invalid\",\"bấm\")";
    let id = citizen(&mut store, evil, "nam", "1970", "@SUM(A1)");
    session(&mut store, "2026-11-12", &["0.1"], &[(id, &[])]);

    let csv_path = dir.path().join("nguoi-dan.csv");
    store.export_citizens(&csv_path, false, false).unwrap();
    let text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(text.contains("'@SUM(A1)"));
    assert!(!text
        .lines()
        .any(|l| l.split(',').any(|cell| cell.starts_with('='))));

    let report_csv = dir.path().join("r.csv");
    report::write_csv(
        &store.report(&ReportOptions::default()).unwrap(),
        &report_csv,
    )
    .unwrap();
    assert!(std::fs::read_to_string(&report_csv)
        .unwrap()
        .contains("'@SUM(A1)"));

    let xlsx_path = dir.path().join("nguoi-dan.xlsx");
    store.export_citizens(&xlsx_path, true, false).unwrap();
    let mut book: Xlsx<_> = open_workbook(&xlsx_path).unwrap();
    let formulas = book.worksheet_formula("Người dân").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no formulas"
    );
    let cells = book.worksheet_range("Người dân").unwrap();
    assert!(cells
        .used_cells()
        .any(|(_, _, v)| *v == Data::String(evil.into())));
}

#[test]
fn exports_mask_phone_and_cccd_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = sample(dir.path());
    store
        .add_citizen(CitizenInput {
            full_name: "Phan Văn Quý".into(),
            gender: "nam".into(),
            birth: "1957".into(),
            village: "Thôn Đông".into(),
            phone: Some("0912345678".into()),
            cccd: Some("038057000123".into()),
            consent: true,
            ..Default::default()
        })
        .unwrap();
    let masked = dir.path().join("m.csv");
    store.export_citizens(&masked, false, false).unwrap();
    let text = std::fs::read_to_string(&masked).unwrap();
    assert!(text.contains("*******678") && text.contains("*********123"));
    assert!(!text.contains("0912345678") && !text.contains("038057000123"));
    let full = dir.path().join("f.csv");
    store.export_citizens(&full, false, true).unwrap();
    let text = std::fs::read_to_string(&full).unwrap();
    assert!(text.contains("0912345678") && text.contains("038057000123"));
    // Class-list order: An, Bình, Cúc, Dũng, Quý.
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Lê Thị An",
            "Trần Văn Bình",
            "Ngô Thị Cúc",
            "Đỗ Văn Dũng",
            "Phan Văn Quý"
        ]
    );
}

#[test]
fn xlsx_carries_native_charts_over_its_own_tables() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let store = sample(dir.path());
    let r = store.report(&ReportOptions::default()).unwrap();
    let path = dir.path().join("bao-cao.xlsx");
    report::write_xlsx(&r, &path).unwrap();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let charts: Vec<String> = (0..zip.len())
        .filter_map(|i| {
            let mut file = zip.by_index(i).unwrap();
            if !file.name().unwrap().starts_with("xl/charts/chart") {
                return None;
            }
            let mut xml = String::new();
            file.read_to_string(&mut xml).unwrap();
            Some(xml)
        })
        .collect();
    let tables = r.breakdowns.iter().filter(|t| !t.rows.is_empty()).count();
    assert!(tables >= 3, "{tables}");
    assert_eq!(charts.len(), tables, "one chart per breakdown table");
    for title in ["Theo thôn, xóm", "Theo kỹ năng", "Theo tháng"] {
        let table = r.breakdowns.iter().find(|t| t.title == title).unwrap();
        let last = table.rows.len() + 1;
        let chart = charts
            .iter()
            .find(|xml| xml.contains(&format!("<a:t>{title}</a:t>")))
            .unwrap_or_else(|| panic!("a chart titled {title}"));
        assert!(chart.contains("<c:barChart>"), "a column chart");
        for range in [
            format!("$A$2:$A${last}"),
            format!("$B$2:$B${last}"),
            format!("$E$2:$E${last}"),
        ] {
            assert!(
                chart.contains(&format!("'{title}'!{range}")),
                "{title}: {range} in {chart}"
            );
        }
    }
}
