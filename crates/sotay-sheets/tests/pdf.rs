//! Attendance sheets read back from the PDF with poppler's pdftotext and pdfinfo: diacritics
//! intact, Vietnamese class-list order, the header on every page, "Trang x/y" right, masking.

use sotay_core::sheet::SheetOptions;
use sotay_core::{AttendeeInput, CitizenInput, NewTeam, SessionInput, Store};
use sotay_protocol::{Organisation, SessionId};
use std::path::Path;
use std::process::Command;

const GIVEN: [&str; 9] = ["Anh", "Ánh", "Ân", "Ấn", "Dung", "Đạt", "Ơn", "Uyên", "Ưng"];
const FAMILY: [&str; 5] = ["Nguyễn", "Trần", "Đặng", "Bùi", "Hồ"];

fn store_with_session(dir: &Path, attendees: usize) -> (Store, SessionId) {
    let mut store = Store::open(
        &dir.join("s.sqlite"),
        &sotay_core::Passphrase::new("hoa sen trắng"),
    )
    .unwrap();
    store
        .init_team(NewTeam {
            name: "Đội TNTN phường Hàm Rồng".into(),
            organisation: Organisation::YouthUnion,
            province_code: "38".into(),
            commune_code: "14758".into(),
            volunteer: "Lê Thị Hoa".into(),
        })
        .unwrap();
    let ids: Vec<_> = (0..attendees)
        .map(|i| {
            let name = if i == 0 {
                "Tôn Nữ Thị Phương Thảo Nguyên Khánh Linh Đỗ".to_owned()
            } else {
                format!(
                    "{} Thị {}",
                    FAMILY[i % FAMILY.len()],
                    GIVEN[i % GIVEN.len()]
                )
            };
            store
                .add_citizen(CitizenInput {
                    full_name: name,
                    gender: "nữ".into(),
                    birth: format!("{}", 1940 + i % 60),
                    village: "Thôn Đông".into(),
                    phone: Some(format!("09{:08}", 12345000 + i)),
                    consent: true,
                    ..Default::default()
                })
                .unwrap()
                .citizen
                .id
        })
        .collect();
    let session = store
        .add_session(SessionInput {
            date: "2026-11-20".into(),
            time: Some("08:00".into()),
            place: "Nhà văn hóa thôn Đông".into(),
            skills: vec!["0.1".into(), "VNEID1".into()],
            attendees: ids
                .iter()
                .enumerate()
                .map(|(i, &citizen_id)| AttendeeInput {
                    citizen_id,
                    achieved: if i % 4 == 0 {
                        vec!["VNEID1".into()]
                    } else {
                        vec![]
                    },
                })
                .collect(),
            ..Default::default()
        })
        .unwrap();
    (store, session.session.id)
}

fn render(
    store: &Store,
    id: SessionId,
    options: &SheetOptions,
    dir: &Path,
) -> (String, usize, String) {
    let data = store.sheet(id, options).unwrap();
    let pdf = sotay_sheets::render_pdf(&data).unwrap();
    let path = dir.join("sheet.pdf");
    std::fs::write(&path, pdf).unwrap();
    let text = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed by make test");
    let info = Command::new("pdfinfo").arg(&path).output().unwrap();
    let info = String::from_utf8(info.stdout).unwrap();
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (String::from_utf8(text.stdout).unwrap(), pages, info)
}

#[test]
fn a_long_sheet_keeps_diacritics_order_headers_and_page_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (store, id) = store_with_session(dir.path(), 120);
    let options = SheetOptions {
        blank_rows: 10,
        ..Default::default()
    };
    let (text, pages, info) = render(&store, id, &options, dir.path());
    assert!(info.contains("595.276 x 841.89"), "A4 portrait: {info}");
    assert!(pages > 1);

    // Phrases may wrap: compare with white space collapsed.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "ĐOÀN TNCS HỒ CHÍ MINH",
        "ĐỘI TNTN PHƯỜNG HÀM RỒNG",
        "DANH SÁCH ĐIỂM DANH",
        "Nhà văn hóa thôn Đông",
        "Kích hoạt tài khoản định danh điện tử mức 1 (VNeID)",
        "Hàm Rồng, ngày 20 tháng 11 năm 2026",
        "XÁC NHẬN CỦA UBND XÃ, PHƯỜNG",
        "ĐỘI TRƯỞNG",
        "Đạt: VNeID mức 1",
    ] {
        assert!(flat.contains(expected), "missing {expected:?}");
    }
    // The header row and the page counter on every page, and the counter's total is right.
    assert_eq!(text.matches("Họ và tên").count(), pages);
    for page in 1..=pages {
        assert!(
            text.contains(&format!("Trang {page} / {pages}")),
            "page {page}"
        );
    }
    assert!(!text.contains(&format!("Trang {} / ", pages + 1)));

    // Every numbered row, listed and blank, exactly once; blank rows continue the numbering.
    let numbers: Vec<usize> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .filter(|n: &usize| *n <= 130)
        .collect();
    assert_eq!(numbers, (1..=130).collect::<Vec<_>>());

    // Names in Vietnamese class-list order: the order of first appearance follows GIVEN.
    let positions: Vec<usize> = GIVEN
        .iter()
        .map(|g| text.find(&format!("Thị {g} ")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

    // Masked by default: last 3 digits only.
    assert!(text.contains("*******001"));
    assert!(!text.contains("0912345001"));
}

#[test]
fn phones_show_in_full_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (store, id) = store_with_session(dir.path(), 5);
    let options = SheetOptions {
        show_phone: true,
        ..Default::default()
    };
    let (text, _, _) = render(&store, id, &options, dir.path());
    assert!(text.contains("0912345001"));
    assert!(!text.contains("*******"));
}

#[test]
fn landscape_and_invite_variants() {
    let dir = tempfile::tempdir().unwrap();
    let (store, id) = store_with_session(dir.path(), 8);
    let options = SheetOptions {
        landscape: true,
        invite: true,
        blank_rows: 3,
        ..Default::default()
    };
    let (text, _, info) = render(&store, id, &options, dir.path());
    assert!(info.contains("841.89 x 595.276"), "A4 landscape: {info}");
    assert!(text.contains("ký khi đến"));
    assert!(
        !text.contains("Đạt:") && !text.contains("Đã hướng dẫn"),
        "blank results"
    );
    // A long name wraps inside its cell; each of its lines is intact.
    assert!(text.contains("Tôn Nữ Thị"), "{text}");
    assert!(text.contains("Khánh"), "{text}");
}

#[test]
fn user_text_is_never_evaluated_as_markup() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(
        &dir.path().join("s.sqlite"),
        &sotay_core::Passphrase::new("hoa sen trắng"),
    )
    .unwrap();
    store
        .init_team(NewTeam {
            name: "Đội #set text(red) [x]".into(),
            organisation: Organisation::WomensUnion,
            province_code: "38".into(),
            commune_code: "14758".into(),
            volunteer: "*Hoa* _x_".into(),
        })
        .unwrap();
    let c = store
        .add_citizen(CitizenInput {
            full_name: "Lê #panic(\"x\") Văn $x^2$".into(),
            gender: "nam".into(),
            birth: "1960".into(),
            village: "Thôn = 1+1".into(),
            consent: true,
            ..Default::default()
        })
        .unwrap();
    let s = store
        .add_session(SessionInput {
            date: "2026-11-20".into(),
            place: "#read(\"/etc/passwd\")".into(),
            skills: vec!["0.1".into()],
            attendees: vec![AttendeeInput {
                citizen_id: c.citizen.id,
                achieved: vec![],
            }],
            ..Default::default()
        })
        .unwrap();
    let (text, _, _) = render(&store, s.session.id, &SheetOptions::default(), dir.path());
    assert!(text.contains("#panic(\"x\")"), "{text}");
    assert!(text.contains("#read(\"/etc/passwd\")"));
    assert!(text.contains("HỘI LIÊN HIỆP PHỤ NỮ VIỆT NAM"));
    assert!(text.contains("*Hoa* _x_"));
}
