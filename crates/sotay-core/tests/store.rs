//! Integration tests of the store on a real SQLite file: import, search, sort, sessions and the
//! outbox guarantee (one record per change, in the same transaction).

use rusqlite::Connection;
use sotay_core::citizens::CitizenSort;
use sotay_core::{
    AttendeeInput, CitizenInput, CitizenPatch, CoreError, ImportOptions, NewTeam, Passphrase,
    SessionInput, Store,
};
use sotay_protocol::{Entity, Gender, Operation, Organisation, Outcome, Payload};
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

const COMMUNE: &str = "14758"; // Phường Hàm Rồng, Thanh Hóa

const PASSPHRASE: &str = "hoa sen trắng";

/// The file itself, decrypted, to look at or tamper with beside the store.
fn raw(path: &Path) -> Connection {
    sotay_core::protect::open_connection(path, &Passphrase::new(PASSPHRASE)).unwrap()
}

fn new_store(dir: &Path) -> (Store, PathBuf) {
    let path = dir.join("sotay.sqlite");
    let mut store = Store::open(&path, &Passphrase::new(PASSPHRASE)).unwrap();
    store
        .init_team(NewTeam {
            name: "Đội thanh niên tình nguyện Hàm Rồng".into(),
            organisation: Organisation::YouthUnion,
            province_code: "38".into(),
            commune_code: COMMUNE.into(),
            volunteer: "Lê Thị Hoa".into(),
        })
        .unwrap();
    (store, path)
}

fn citizen(name: &str, gender: &str, birth: &str, village: &str) -> CitizenInput {
    CitizenInput {
        full_name: name.into(),
        gender: gender.into(),
        birth: birth.into(),
        village: village.into(),
        consent: true,
        ..CitizenInput::default()
    }
}

/// Import options for a list whose consent a commune officer collected on paper.
fn consented() -> ImportOptions {
    ImportOptions::consented_by("Cán bộ văn hóa xã Hàm Rồng", "15/11/2025")
}

fn count(path: &Path, table: &str) -> i64 {
    let conn = raw(path);
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// A commune list as Excel in a Vietnamese locale writes it: BOM, CRLF, semicolons, NFD names
/// from a copy-paste, dd/mm/yyyy births, an unknown `STT` column, one bad CCCD and one bad phone.
fn commune_csv(dir: &Path) -> PathBuf {
    let nfd = |s: &str| s.nfd().collect::<String>();
    let rows = [
        "STT;Họ và tên;Giới tính;Năm sinh;Thôn/Xóm;Số điện thoại;Số CCCD".to_owned(),
        format!(
            "1;{};Nam;1957;Thôn Đông;0912 345 678;038057000123",
            nfd("Nguyễn Văn Đường")
        ),
        format!("2;{};Nữ;05/03/1962;Thôn Đông;;", nfd("Trần Thị Ánh")),
        "3;Lê Văn Ân;Nam;1970;Thôn Tây;+84 388 123 456;".to_owned(),
        // Bad CCCD: the sex digit says male, the row says female.
        "4;Phạm Thị Ưng;Nữ;1980;Thôn Tây;;038080000999".to_owned(),
        // Bad phone: a landline.
        "5;Hoàng Văn Đạt;Nam;12/12/1990;Thôn Nam;0237 385 1234;".to_owned(),
        "6;Đỗ Thị Uyên;Nữ;2001;Thôn Nam;0987654321;038301000777".to_owned(),
    ];
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(rows.join("\r\n").as_bytes());
    bytes.extend(b"\r\n");
    let path = dir.join("danh-sach.csv");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn import_is_all_or_nothing_then_skip_invalid_then_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    let csv = commune_csv(dir.path());
    let outbox_before = count(&db, "outbox");

    let err = store.import_citizens(&csv, consented()).unwrap_err();
    let CoreError::ImportRejected(report) = &err else {
        panic!("expected a rejection, got {err}");
    };
    let bad: Vec<(usize, &str)> = report
        .invalid
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert_eq!(bad, [(5, "Số CCCD"), (6, "Số điện thoại")]);
    assert!(err.to_string().contains("dòng 5, cột Số CCCD"));
    assert_eq!(count(&db, "citizen"), 0, "a rejected file stores nobody");
    assert_eq!(count(&db, "outbox"), outbox_before);

    let report = store
        .import_citizens(
            &csv,
            ImportOptions {
                skip_invalid: true,
                ..consented()
            },
        )
        .unwrap();
    assert!(report.committed);
    assert_eq!((report.rows, report.added, report.invalid.len()), (6, 4, 2));
    assert_eq!(count(&db, "citizen"), 4);
    assert_eq!(count(&db, "outbox"), outbox_before + 4);

    let names: Vec<String> = store
        .list_citizens(CitizenSort::GivenName)
        .unwrap()
        .into_iter()
        .map(|c| c.full_name)
        .collect();
    // Stored NFC, listed by given name: Ánh (A) < Ân (Â) < Đường (Đ) < Uyên.
    assert_eq!(
        names,
        [
            "Trần Thị Ánh",
            "Lê Văn Ân",
            "Nguyễn Văn Đường",
            "Đỗ Thị Uyên"
        ]
    );
    for n in &names {
        assert_eq!(*n, n.nfc().collect::<String>());
    }
    let anh = store.search_citizens("anh", 10).unwrap();
    assert_eq!(anh[0].birth_date.as_deref(), Some("1962-03-05"));
    assert_eq!(
        store.search_citizens("lê văn ân", 10).unwrap()[0]
            .phone
            .as_deref(),
        Some("0388123456"),
        "+84 is normalised"
    );

    let again = store
        .import_citizens(
            &csv,
            ImportOptions {
                skip_invalid: true,
                ..consented()
            },
        )
        .unwrap();
    assert_eq!(again.added, 0);
    // Same CCCD, or same name and phone: the same people. Trần Thị Ánh has neither, so she is
    // only possibly the same person: listed, and left out unless the volunteer adds her.
    let rows = |list: &[sotay_core::import::MatchedRow]| -> Vec<usize> {
        list.iter().map(|r| r.row).collect()
    };
    assert_eq!(rows(&again.already_registered), [2, 4, 7]);
    assert_eq!(rows(&again.possible_duplicates), [3]);
    assert!(!again.possible_duplicates[0].added);
    assert_eq!(
        again.possible_duplicates[0].matches[0].full_name,
        "Trần Thị Ánh"
    );
    assert_eq!(count(&db, "citizen"), 4, "re-import adds nobody");
    assert_eq!(count(&db, "outbox"), outbox_before + 4);
}

#[test]
fn imported_citizens_record_who_collected_their_consent_and_when() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    let csv = dir.path().join("list.csv");
    std::fs::write(
        &csv,
        "full_name,gender,birth_year,village\nBùi Thị Lan,female,1949,Xóm Chợ\n",
    )
    .unwrap();

    // A list that says nothing of consent stores nobody, and says how to fix it.
    let err = store
        .import_citizens(&csv, ImportOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("thêm cột “Đồng ý”"), "{err}");
    assert_eq!(
        count(&db, "citizen"),
        0,
        "nobody is marked consented who was not"
    );

    store.import_citizens(&csv, consented()).unwrap();
    let c = &store.list_citizens(CitizenSort::Newest).unwrap()[0];
    assert!(c.consent.given);
    assert_eq!(c.consent.recorded_by, "Cán bộ văn hóa xã Hàm Rồng");
    assert_eq!(c.consent.date, "2025-11-15");
    assert_eq!(c.commune_code, COMMUNE);
    assert_eq!(c.gender, Gender::Female);

    let future = ImportOptions {
        consent: Some(sotay_core::ImportConsent {
            collected_by: "Cán bộ xã".into(),
            date: "01/01/2099".into(),
        }),
        ..Default::default()
    };
    assert!(store.import_citizens(&csv, future).is_err());
}

#[test]
fn a_consent_column_decides_row_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    let csv = dir.path().join("list.csv");
    std::fs::write(
        &csv,
        "Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Đồng ý\n\
         Bùi Thị Lan,Nữ,1949,Xóm Chợ,x\n\
         Hà Văn Tùng,Nam,1951,Xóm Chợ,\n\
         Lò Thị Mai,Nữ,1960,Bản Lầu,Có\n",
    )
    .unwrap();
    let report = store
        .import_citizens(
            &csv,
            ImportOptions {
                skip_invalid: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(report.added, 2);
    let refused: Vec<(usize, &str)> = report
        .invalid
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert_eq!(
        refused,
        [(3, "Đồng ý")],
        "the row without consent is listed, not stored"
    );
    assert_eq!(count(&db, "citizen"), 2);
}

#[test]
fn dry_run_reports_everything_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    let csv = commune_csv(dir.path());
    let report = store
        .import_citizens(
            &csv,
            ImportOptions {
                dry_run: true,
                ..consented()
            },
        )
        .unwrap();
    assert!(!report.committed);
    assert_eq!((report.added, report.invalid.len()), (4, 2));
    assert_eq!(count(&db, "citizen"), 0);
}

#[test]
fn a_file_without_the_required_columns_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = new_store(dir.path());
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "Họ và tên,Giới tính\nAn,Nam\n").unwrap();
    let err = store
        .import_citizens(&csv, consented())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Năm sinh") && err.contains("Thôn/Xóm"),
        "{err}"
    );
}

#[test]
fn xlsx_lists_import_with_numbers_and_dates_as_excel_stores_them() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = new_store(dir.path());
    let path = dir.path().join("list.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let headers = [
        "STT",
        "Họ và tên",
        "Giới tính",
        "Năm sinh",
        "Thôn/Xóm",
        "Số điện thoại",
        "Số CCCD",
    ];
    for (col, h) in headers.iter().enumerate() {
        sheet.write_string(0, col as u16, *h).unwrap();
    }
    sheet.write_number(1, 0, 1).unwrap();
    sheet.write_string(1, 1, "Ngô Thị Mai").unwrap();
    sheet.write_string(1, 2, "Nữ").unwrap();
    sheet.write_number(1, 3, 1965).unwrap();
    sheet.write_string(1, 4, "Thôn Bắc").unwrap();
    // Excel drops the leading zero of a phone typed as a number, and of a CCCD from province 001.
    sheet.write_number(1, 5, 912345679).unwrap();
    sheet.write_number(1, 6, 1165000123_f64).unwrap();
    sheet.write_number(2, 0, 2).unwrap();
    sheet.write_string(2, 1, "Vũ Văn Hùng").unwrap();
    sheet.write_string(2, 2, "Nam").unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(1958, 7, 9).unwrap();
    let format = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    sheet
        .write_datetime_with_format(2, 3, &date, &format)
        .unwrap();
    sheet.write_string(2, 4, "Thôn Bắc").unwrap();
    book.save(&path).unwrap();

    let report = store.import_citizens(&path, consented()).unwrap();
    assert_eq!(report.added, 2, "{report:?}");
    let mai = &store.search_citizens("mai", 5).unwrap()[0];
    assert_eq!(mai.phone.as_deref(), Some("0912345679"));
    assert_eq!(mai.cccd.as_deref(), Some("001165000123"));
    let hung = &store.search_citizens("hung", 5).unwrap()[0];
    assert_eq!(hung.birth_date.as_deref(), Some("1958-07-09"));
}

#[test]
fn search_ignores_diacritics_case_and_word_order_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = new_store(dir.path());
    store
        .add_citizen(citizen("Nguyễn Văn Đường", "nam", "1957", "Thôn Đông"))
        .unwrap();
    store
        .add_citizen(citizen("nguyen van duong", "nam", "1990", "Thôn Tây"))
        .unwrap();
    store
        .add_citizen(citizen("Nguyễn Thị Dung", "nữ", "1960", "Thôn Tây"))
        .unwrap();
    let years = |q: &str| {
        let mut y: Vec<i32> = store
            .search_citizens(q, 10)
            .unwrap()
            .iter()
            .map(|c| c.birth_year)
            .collect();
        y.sort();
        y
    };
    assert_eq!(years("nguyen van duong"), [1957, 1990]);
    assert_eq!(years("Nguyễn Văn Đường"), [1957, 1990]);
    assert_eq!(years("NGUYỄN VĂN ĐƯỜNG"), [1957, 1990]);
    assert_eq!(years("đường"), [1957, 1990], "đ folds to d");
    assert_eq!(years("duong nguyen"), [1957, 1990]);
    assert_eq!(years("ng v d"), [1957, 1990], "word prefixes");
    assert_eq!(years("du"), [1957, 1960, 1990]);
    assert_eq!(years("dung"), [1960]);
    assert!(years("xyz").is_empty());
    assert!(years("  ").is_empty());
    assert!(years("\"* OR").is_empty(), "FTS syntax in a query is inert");
}

#[test]
fn phone_and_cccd_digits_are_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = new_store(dir.path());
    let mut input = citizen("Đinh Văn Quý", "nam", "1957", "Thôn Đông");
    input.phone = Some("0912345678".into());
    input.cccd = Some("038057000123".into());
    store.add_citizen(input).unwrap();
    assert_eq!(store.search_citizens("345678", 5).unwrap().len(), 1);
    assert_eq!(store.search_citizens("038057", 5).unwrap().len(), 1);
    assert!(store.search_citizens("111111", 5).unwrap().is_empty());
    assert!(
        store.search_citizens("5678038", 5).unwrap().is_empty(),
        "a match never runs from the phone into the CCCD"
    );
}

#[test]
fn a_search_sees_every_change_to_the_register_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, path) = new_store(dir.path());
    store
        .add_citizen(citizen("Đinh Văn Quý", "nam", "1957", "Thôn Đông"))
        .unwrap();
    let names = |store: &Store, q: &str| -> Vec<String> {
        let page = store.search_page(q, 0, 10).unwrap();
        assert_eq!(page.total as usize, page.citizens.len());
        page.citizens.into_iter().map(|c| c.full_name).collect()
    };
    assert_eq!(names(&store, "quy"), ["Đinh Văn Quý"]);
    assert!(names(&store, "0912").is_empty());

    let added = store
        .add_citizen(citizen("Lò Thị Quyên", "nữ", "1961", "Thôn Đông"))
        .unwrap();
    assert_eq!(names(&store, "quy"), ["Đinh Văn Quý", "Lò Thị Quyên"]);
    let patch = CitizenPatch {
        full_name: Some("Lò Thị Xuyến".into()),
        phone: Some("0912345678".into()),
        ..CitizenPatch::default()
    };
    store.update_citizen(added.citizen.id, patch).unwrap();
    assert_eq!(names(&store, "quy"), ["Đinh Văn Quý"]);
    assert_eq!(names(&store, "xuyen"), ["Lò Thị Xuyến"]);
    assert_eq!(names(&store, "0912"), ["Lò Thị Xuyến"]);
    store.delete_citizen(added.citizen.id).unwrap();
    assert!(names(&store, "xuyen").is_empty());
    assert!(names(&store, "0912").is_empty());

    // A person added through another connection to the same file (the CLI beside the app).
    let mut other = Store::open(&path, &Passphrase::new(PASSPHRASE)).unwrap();
    other
        .add_citizen(citizen("Hà Văn Quyết", "nam", "1970", "Thôn Tây"))
        .unwrap();
    assert_eq!(names(&store, "quy"), ["Đinh Văn Quý", "Hà Văn Quyết"]);
}

#[test]
fn citizens_without_consent_are_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    let mut input = citizen("Lý Văn Tâm", "nam", "1957", "Thôn Đông");
    input.consent = false;
    let err = store.add_citizen(input).unwrap_err();
    assert_eq!(err.kind(), "invalid");
    assert!(err.to_string().contains("đồng ý"));
    assert_eq!(count(&db, "citizen"), 0);
}

#[test]
fn every_change_appends_exactly_one_outbox_record_with_its_payload() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    assert_eq!(count(&db, "outbox"), 2, "team and volunteer");
    let added = store
        .add_citizen(citizen("Mai Văn Bình", "nam", "1950", "Thôn Đông"))
        .unwrap();
    assert_eq!(count(&db, "outbox"), 3);
    let records = store.pending_records(0, 100).unwrap();
    let last = records.last().unwrap();
    assert_eq!(last.entity, Entity::Citizen);
    assert_eq!(last.entity_id, added.citizen.id.to_string());
    assert_eq!(
        Payload::decode(last.entity, last.payload_version, last.payload.clone()).unwrap(),
        Payload::Citizen(added.citizen.clone())
    );

    let second = store
        .add_citizen(citizen("Mai Thị Cúc", "nữ", "1952", "Thôn Đông"))
        .unwrap();
    let session = store
        .add_session(SessionInput {
            date: "2026-11-20".into(),
            place: "Nhà văn hóa thôn Đông".into(),
            skills: vec!["0.1".into(), "VNEID1".into()],
            attendees: vec![
                AttendeeInput {
                    citizen_id: added.citizen.id,
                    achieved: vec!["VNEID1".into()],
                },
                AttendeeInput {
                    citizen_id: second.citizen.id,
                    achieved: vec![],
                },
            ],
            ..Default::default()
        })
        .unwrap();
    // One session record plus one per attendee.
    assert_eq!(count(&db, "outbox"), 4 + 1 + 2);
    let records = store.pending_records(0, 100).unwrap();
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>(), "gap-free sequence");
    assert!(records.windows(2).all(|w| w[0].hlc < w[1].hlc));
    assert!(records.iter().all(|r| r.device_id == store.device_id()));
    let binh = session
        .attendees
        .iter()
        .find(|a| a.citizen.id == added.citizen.id)
        .unwrap();
    assert_eq!(
        binh.outcomes
            .iter()
            .map(|o| (o.skill.as_str(), o.outcome))
            .collect::<Vec<_>>(),
        [("0.1", Outcome::Taught), ("VNEID1", Outcome::Achieved)]
    );
    let status = store.outbox_status().unwrap();
    assert_eq!((status.pending, status.last_seq), (7, 7));
}

#[test]
fn records_read_to_send_go_on_the_wire_exactly_as_decoded_records_would() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _db) = new_store(dir.path());
    let added = store
        .add_citizen(citizen("Trịnh Thị Ánh", "nữ", "12/03/1961", "Thôn Đông"))
        .unwrap();
    store
        .update_citizen(
            added.citizen.id,
            CitizenPatch {
                phone: Some("0912 345 678".into()),
                note: Some("Cần \"kính\" to\\chữ lớn".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let other = store
        .add_citizen(citizen("Đỗ Văn Ất", "nam", "1948", "Thôn Tây"))
        .unwrap();
    store.delete_citizen(other.citizen.id).unwrap();

    let decoded = store.pending_records(0, 100).unwrap();
    let to_send = store.pending_to_send(0, 100).unwrap();
    assert!(decoded.iter().any(|r| !r.fields.is_empty()), "an edit");
    assert!(decoded.iter().any(|r| r.op == Operation::Delete));
    assert_eq!(
        serde_json::to_string(&to_send).unwrap(),
        serde_json::to_string(&decoded).unwrap()
    );
    // What the server decodes from them is the records themselves.
    let received: Vec<sotay_protocol::OutboxRecord> =
        serde_json::from_str(&serde_json::to_string(&to_send).unwrap()).unwrap();
    assert_eq!(received, decoded);
    assert_eq!(store.pending_to_send(3, 2).unwrap().len(), 2);
}

#[test]
fn records_stamped_by_a_clock_that_ran_ahead_are_restamped_in_order_and_no_others() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    store
        .add_citizen(citizen("Hà Văn Một", "nam", "1950", "Thôn Đông"))
        .unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // The clock jumps to 2035 (a flat CMOS battery): what is recorded next is stamped then.
    let year_2035 = sotay_protocol::Hlc {
        millis: 2_051_222_400_000,
        counter: 0,
        device: store.device_id(),
    };
    raw(&db)
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'hlc'",
            [year_2035.to_string()],
        )
        .unwrap();
    for name in ["Hà Thị Hai", "Hà Văn Ba", "Hà Thị Bốn"] {
        store
            .add_citizen(citizen(name, "nữ", "1960", "Thôn Đông"))
            .unwrap();
    }
    let before = store.pending_records(0, 100).unwrap();
    assert_eq!(before.len(), 6, "team, volunteer, four people");
    assert_eq!(
        before
            .iter()
            .filter(|r| r.hlc.millis >= year_2035.millis)
            .count(),
        3
    );

    assert_eq!(store.correct_clock(now_ms).unwrap(), 3);
    let after = store.pending_records(0, 100).unwrap();
    assert_eq!(after[..3], before[..3], "the others untouched");
    assert!(after.iter().all(|r| r.hlc.millis < now_ms + 86_400_000));
    assert!(
        after.windows(2).all(|w| w[0].hlc < w[1].hlc),
        "still in sequence order"
    );
    assert_eq!(
        store.correct_clock(now_ms).unwrap(),
        0,
        "nothing left ahead"
    );
}

#[test]
fn a_server_clock_gone_back_after_a_restamp_still_finds_every_record_stamped_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let device = store.device_id();
    let stamp_next_at = |millis: u64| {
        let hlc = sotay_protocol::Hlc {
            millis,
            counter: 0,
            device,
        };
        raw(&db)
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'hlc'",
                [hlc.to_string()],
            )
            .unwrap();
    };
    // Half an hour ahead: within what a sync leaves alone. Then a year ahead: restamped.
    stamp_next_at(now_ms + 30 * 60 * 1000);
    store
        .add_citizen(citizen("Lò Văn Năm", "nam", "1955", "Bản Lót"))
        .unwrap();
    stamp_next_at(now_ms + 365 * 86_400_000);
    store
        .add_citizen(citizen("Lò Thị Sáu", "nữ", "1958", "Bản Lót"))
        .unwrap();
    assert_eq!(store.correct_clock(now_ms).unwrap(), 1);
    // Recorded after the restamp: stamped from it, below the half-hour-ahead record.
    store
        .add_citizen(citizen("Lò Văn Bảy", "nam", "1961", "Bản Lót"))
        .unwrap();
    let before = store.pending_records(0, 100).unwrap();

    // The server's clock is put back 45 minutes: the half-hour-ahead record is now too far
    // ahead, though the two records after it are not.
    let server_now = now_ms - 45 * 60 * 1000;
    assert_eq!(store.correct_clock(server_now).unwrap(), 1);
    let after = store.pending_records(0, 100).unwrap();
    let changed: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b.hlc != a.hlc)
        .map(|(b, _)| b.payload["full_name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(changed, ["Lò Văn Năm"]);
    assert!(after
        .iter()
        .all(|r| r.hlc.millis <= server_now + 60 * 60 * 1000));
}

#[test]
fn a_failed_write_leaves_neither_the_change_nor_its_outbox_record() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    // Make the citizen insert fail after its outbox record was appended in the same transaction.
    raw(&db)
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON citizen WHEN new.full_name = 'Hỏng Văn Lỗi'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let outbox_before = count(&db, "outbox");
    assert!(store
        .add_citizen(citizen("Hỏng Văn Lỗi", "nam", "1957", "Thôn Đông"))
        .is_err());
    assert_eq!(count(&db, "citizen"), 0);
    assert_eq!(count(&db, "outbox"), outbox_before);

    // The same holds for a whole import: a failure on its third row stores none of the first two.
    let csv = dir.path().join("list.csv");
    std::fs::write(
        &csv,
        "Họ và tên,Giới tính,Năm sinh,Thôn/Xóm\nAn Văn Một,Nam,1950,Đông\n\
         An Văn Hai,Nam,1951,Đông\nHỏng Văn Lỗi,Nam,1952,Đông\n",
    )
    .unwrap();
    assert!(store.import_citizens(&csv, consented()).is_err());
    assert_eq!(count(&db, "citizen"), 0);
    assert_eq!(count(&db, "outbox"), outbox_before);
    // And the sequence stays gap-free afterwards.
    store
        .add_citizen(citizen("Đúng Văn Lành", "nam", "1957", "Thôn Đông"))
        .unwrap();
    let seqs: Vec<u64> = store
        .pending_records(0, 100)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, (1..=outbox_before as u64 + 1).collect::<Vec<_>>());
}

#[test]
fn sessions_validate_skills_attendees_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    let a = store
        .add_citizen(citizen("Mai Văn Bình", "nam", "1950", "Thôn Đông"))
        .unwrap();
    let err = store
        .add_session(SessionInput {
            date: "20/11/2026".into(),
            place: "".into(),
            skills: vec!["NOPE".into()],
            attendees: vec![AttendeeInput {
                citizen_id: a.citizen.id,
                achieved: vec!["4.1".into()],
            }],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    for expected in ["Ngày", "Địa điểm", "NOPE", "4.1"] {
        assert!(err.contains(expected), "{expected} missing from {err}");
    }
    assert_eq!(count(&db, "session"), 0);
    let before = count(&db, "outbox");
    let err = store
        .add_session(SessionInput {
            date: "2026-11-20".into(),
            place: "Nhà văn hóa".into(),
            skills: vec!["0.1".into()],
            attendees: vec![AttendeeInput {
                citizen_id: sotay_protocol::CitizenId::new(),
                achieved: vec![],
            }],
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("không có người dân"));
    assert_eq!(count(&db, "outbox"), before);
}

#[test]
fn empty_optional_session_fields_from_a_form_mean_absent() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _db) = new_store(dir.path());
    let detail = store
        .add_session(SessionInput {
            date: "2026-11-20".into(),
            time: Some("  ".into()),
            place: "Nhà văn hóa".into(),
            village: Some("".into()),
            note: Some("".into()),
            skills: vec!["0.1".into()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (
            detail.session.time,
            detail.session.village,
            detail.session.note
        ),
        (None, None, None)
    );
}

#[test]
fn sessions_list_newest_first_with_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = new_store(dir.path());
    let a = store
        .add_citizen(citizen("Mai Văn Bình", "nam", "1950", "Thôn Đông"))
        .unwrap();
    for date in ["2026-11-01", "2026-11-15"] {
        store
            .add_session(SessionInput {
                date: date.into(),
                place: "Nhà văn hóa".into(),
                skills: vec!["4.1".into(), "VNEID1".into()],
                attendees: vec![AttendeeInput {
                    citizen_id: a.citizen.id,
                    achieved: vec!["VNEID1".into()],
                }],
                ..Default::default()
            })
            .unwrap();
    }
    let list = store.sessions().unwrap();
    assert_eq!(list[0].date, "2026-11-15");
    assert_eq!((list[0].attendees, list[0].achieved), (1, 1));
    assert_eq!(list[1].skills, ["4.1", "VNEID1"]);
}

#[test]
fn a_store_is_refused_before_its_team_is_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(
        &dir.path().join("x.sqlite"),
        &sotay_core::Passphrase::new("hoa sen trắng"),
    )
    .unwrap();
    let err = store
        .add_citizen(citizen("Mai Văn Bình", "nam", "1950", "Thôn Đông"))
        .unwrap_err();
    assert_eq!(err.kind(), "not_initialised");
}

#[test]
fn team_setup_checks_province_and_commune_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(
        &dir.path().join("x.sqlite"),
        &sotay_core::Passphrase::new("hoa sen trắng"),
    )
    .unwrap();
    let mut team = NewTeam {
        name: "Đội A".into(),
        organisation: Organisation::WomensUnion,
        province_code: "38".into(),
        // A Hà Nội ward.
        commune_code: "00004".into(),
        volunteer: "Hoa".into(),
    };
    let err = store.init_team(team.clone()).unwrap_err().to_string();
    assert!(err.contains("Thành phố Hà Nội"), "{err}");
    team.province_code = "99".into();
    assert!(store.init_team(team.clone()).is_err());
    team.province_code = "38".into();
    team.commune_code = COMMUNE.into();
    let info = store.init_team(team.clone()).unwrap();
    assert_eq!(info.province_name, "Tỉnh Thanh Hóa");
    assert_eq!(info.commune_name, "Phường Hàm Rồng");
    assert_eq!(
        store.init_team(team).unwrap_err().kind(),
        "already_initialised"
    );
}

#[test]
fn the_person_typed_comes_first_and_every_match_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _db) = new_store(dir.path());
    for name in [
        "Đặng Hồng Lan",
        "Hồ Hồng Lan",
        "Hà Ngọc Ánh",
        "Hà Ngọc Ân",
        "Lê Thị Lanh",
    ] {
        store
            .add_citizen(citizen(name, "nữ", "1960", "Thôn Đông"))
            .unwrap();
    }
    let first = |q: &str| store.search_citizens(q, 10).unwrap()[0].full_name.clone();
    assert_eq!(first("Hồ Hồng Lan"), "Hồ Hồng Lan");
    assert_eq!(first("ho hong lan"), "Hồ Hồng Lan");
    assert_eq!(first("Hà Ngọc Ân"), "Hà Ngọc Ân");
    assert_eq!(first("ha ngoc an"), "Hà Ngọc Ân");
    assert_eq!(
        first("lan"),
        "Đặng Hồng Lan",
        "the given names Lan before Lanh"
    );
    let names = |q: &str| -> Vec<String> {
        store
            .search_citizens(q, 10)
            .unwrap()
            .into_iter()
            .map(|c| c.full_name)
            .collect()
    };
    assert_eq!(
        names("Hà Ngọc Ân"),
        ["Hà Ngọc Ân"],
        "typed diacritics count"
    );
    assert_eq!(
        names("lan"),
        ["Đặng Hồng Lan", "Hồ Hồng Lan", "Lê Thị Lanh"]
    );

    for i in 0..120 {
        store
            .add_citizen(citizen(
                &format!("Nguyễn Văn Số{i:03}"),
                "nam",
                "1950",
                "Thôn Tây",
            ))
            .unwrap();
    }
    let page = store.search_page("nguyen", 0, 50).unwrap();
    assert_eq!((page.total, page.citizens.len()), (120, 50));
    let last = store.search_page("nguyen", 100, 50).unwrap();
    assert_eq!(
        (last.total, last.offset, last.citizens.len()),
        (120, 100, 20)
    );
    let all = store.search_page("", 0, 1000).unwrap();
    assert_eq!(all.total, 125);
    let seen: std::collections::HashSet<_> = (0..3)
        .flat_map(|p| store.search_page("nguyen", p * 50, 50).unwrap().citizens)
        .map(|c| c.id)
        .collect();
    assert_eq!(seen.len(), 120, "pages neither repeat nor skip anyone");
}

#[test]
fn import_drops_nobody_unseen_and_tells_namesakes_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = new_store(dir.path());
    store
        .add_citizen(CitizenInput {
            phone: Some("0794165393".into()),
            ..citizen("Nguyễn Ngọc Hạnh", "nữ", "08/03/1970", "Thôn Đông")
        })
        .unwrap();
    store
        .add_citizen(citizen("Lò Văn Páo", "nam", "1955", "Bản Lầu"))
        .unwrap();
    let csv = dir.path().join("list.csv");
    std::fs::write(
        &csv,
        "Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại\n\
         Nguyễn Ngọc Hạnh,Nữ,18/06/1970,Thôn Đông,0359349499\n\
         Nguyễn Ngọc Hạnh,Nữ,1970,Thôn Đông,0794165393\n\
         Lò Văn Páo,Nam,1955,Bản Lầu,\n\
         Lò Thị Mỷ,Nữ,1958,Bản Lầu,0794165393\n",
    )
    .unwrap();
    let preview = store
        .import_citizens(
            &csv,
            ImportOptions {
                dry_run: true,
                ..consented()
            },
        )
        .unwrap();
    // Row 2: another birth date, another person. Row 3: same name and phone, the same person.
    // Row 4: a namesake with nothing to tell them apart, for the volunteer. Row 5: a new person
    // on a family's phone.
    assert_eq!(preview.added, 2);
    let rows = |list: &[sotay_core::import::MatchedRow]| -> Vec<(usize, bool)> {
        list.iter().map(|r| (r.row, r.added)).collect()
    };
    assert_eq!(rows(&preview.already_registered), [(3, false)]);
    assert_eq!(rows(&preview.possible_duplicates), [(4, false)]);
    assert_eq!(rows(&preview.shared_phone), [(5, true)]);
    let done = store
        .import_citizens(
            &csv,
            ImportOptions {
                add_anyway: vec![4],
                ..consented()
            },
        )
        .unwrap();
    assert_eq!(done.added, 3);
    assert_eq!(rows(&done.possible_duplicates), [(4, true)]);
    assert_eq!(store.search_citizens("lo van pao", 10).unwrap().len(), 2);
    assert_eq!(
        store.search_citizens("nguyen ngoc hanh", 10).unwrap().len(),
        2
    );
}

#[test]
fn a_lost_delete_is_not_put_back_as_if_it_were_one_detail() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, db) = new_store(dir.path());
    let added = store
        .add_citizen(citizen("Hà Văn Tám", "nam", "1950", "Thôn Đông"))
        .unwrap();
    let id = added.citizen.id.to_string();
    raw(&db)
        .execute(
            "INSERT INTO conflict (entity, entity_id, field, lost_value, lost_hlc, winner_hlc,
                                   recorded_at)
             VALUES ('citizen', ?1, '_deleted', 'true', '', '', '')",
            [&id],
        )
        .unwrap();
    let conflict = store.conflicts().unwrap()[0].id;
    let err = store.use_lost_value(conflict).unwrap_err();
    assert_eq!(err.kind(), "value_refused");
    assert_eq!(store.conflicts().unwrap().len(), 1, "still listed");
    assert!(store.citizen(added.citizen.id).is_ok());
}

#[test]
fn a_past_session_is_corrected_with_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = new_store(dir.path());
    let binh = store
        .add_citizen(citizen("Mai Văn Bình", "nam", "1950", "Thôn Đông"))
        .unwrap()
        .citizen;
    let cuc = store
        .add_citizen(citizen("Mai Thị Cúc", "nữ", "1952", "Thôn Đông"))
        .unwrap()
        .citizen;
    let dao = store
        .add_citizen(citizen("Lê Thị Đào", "nữ", "1960", "Thôn Tây"))
        .unwrap()
        .citizen;
    let form = |place: &str, attendees: Vec<AttendeeInput>| SessionInput {
        date: "2026-11-20".into(),
        place: place.into(),
        skills: vec!["0.1".into(), "VNEID1".into()],
        attendees,
        ..Default::default()
    };
    let came = |id, achieved: &[&str]| AttendeeInput {
        citizen_id: id,
        achieved: achieved.iter().map(|s| s.to_string()).collect(),
    };
    let session = store
        .add_session(form(
            "Nhà văn hóa thôn Đông",
            vec![came(binh.id, &["VNEID1"]), came(cuc.id, &[])],
        ))
        .unwrap()
        .session;
    store
        .mark_achieved(cuc.id, session.id, "0.1", "Lê Thị Hoa", "2026-11-21")
        .unwrap();
    let before = store.pending_records(0, 1000).unwrap().len();

    // Cúc was written down by mistake (she came the week after), Đào came and activated her
    // VNeID, Bình did not after all, and the place was the commune hall.
    let edited = store
        .edit_session(
            session.id,
            form(
                "Hội trường UBND xã",
                vec![came(binh.id, &[]), came(dao.id, &["VNEID1"])],
            ),
        )
        .unwrap();
    assert_eq!(edited.session.place, "Hội trường UBND xã");
    assert_eq!(edited.session.volunteers, session.volunteers, "kept");
    let names: Vec<&str> = edited
        .attendees
        .iter()
        .map(|a| a.citizen.full_name.as_str())
        .collect();
    assert_eq!(names, ["Mai Văn Bình", "Lê Thị Đào"]);
    let achieved = |a: &sotay_core::sessions::Attendee| -> Vec<String> {
        a.outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Achieved)
            .map(|o| o.skill.clone())
            .collect()
    };
    assert!(achieved(&edited.attendees[0]).is_empty());
    assert_eq!(achieved(&edited.attendees[1]), ["VNEID1"]);
    assert!(store.citizen_history(cuc.id).unwrap().sessions.is_empty());

    let records = store.pending_records(0, 1000).unwrap();
    let new: Vec<_> = records[before..]
        .iter()
        .map(|r| (r.entity, r.op, r.fields.clone()))
        .collect();
    use sotay_protocol::Operation;
    assert_eq!(
        new,
        [
            (Entity::Session, Operation::Upsert, vec!["place".to_owned()]),
            (
                Entity::Attendance,
                Operation::Upsert,
                vec!["outcomes".to_owned()]
            ),
            (Entity::Attendance, Operation::Upsert, vec![]),
            (Entity::Attendance, Operation::Delete, vec![]),
        ]
    );

    // Saving the same form again records nothing; a confirmed outcome left achieved keeps who
    // confirmed it.
    let again = form(
        "Hội trường UBND xã",
        vec![
            came(binh.id, &[]),
            came(dao.id, &["VNEID1"]),
            came(cuc.id, &["0.1"]),
        ],
    );
    store.edit_session(session.id, again.clone()).unwrap();
    let count = store.pending_records(0, 1000).unwrap().len();
    let cuc_back = store.edit_session(session.id, again).unwrap();
    assert_eq!(store.pending_records(0, 1000).unwrap().len(), count);
    assert!(cuc_back.attendees.iter().any(|a| a.citizen.id == cuc.id));

    let err = store
        .edit_session(session.id, form("", vec![came(binh.id, &["9.9"])]))
        .unwrap_err();
    assert_eq!(err.kind(), "invalid");
    assert_eq!(
        store.session(session.id).unwrap().session.place,
        "Hội trường UBND xã"
    );
}

#[test]
fn an_outcome_left_achieved_keeps_who_confirmed_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = new_store(dir.path());
    let binh = store
        .add_citizen(citizen("Mai Văn Bình", "nam", "1950", "Thôn Đông"))
        .unwrap()
        .citizen;
    let form = |place: &str| SessionInput {
        date: "2026-11-20".into(),
        place: place.into(),
        skills: vec!["VNEID1".into()],
        attendees: vec![AttendeeInput {
            citizen_id: binh.id,
            achieved: vec!["VNEID1".into()],
        }],
        ..Default::default()
    };
    let session = store
        .add_session(SessionInput {
            attendees: vec![AttendeeInput {
                citizen_id: binh.id,
                achieved: vec![],
            }],
            ..form("Nhà văn hóa")
        })
        .unwrap()
        .session;
    store
        .mark_achieved(binh.id, session.id, "VNEID1", "Lê Thị Hoa", "2026-11-21")
        .unwrap();
    let edited = store
        .edit_session(session.id, form("Nhà văn hóa thôn Đông"))
        .unwrap();
    let vneid = &edited.attendees[0].outcomes[0];
    assert_eq!(vneid.outcome, Outcome::Achieved);
    assert_eq!(vneid.confirmed_by.as_deref(), Some("Lê Thị Hoa"));
    assert_eq!(vneid.confirmed_on.as_deref(), Some("2026-11-21"));
}

#[test]
fn two_records_of_one_person_merge_into_one_with_both_histories() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = new_store(dir.path());
    let mut first = citizen("Mai Văn Bình", "nam", "1950", "Thôn Đông");
    first.phone = Some("0912345678".into());
    let keep = store.add_citizen(first).unwrap().citizen;
    let mut second = citizen("Mai Văn Bình", "nam", "12/03/1950", "Thôn Đông");
    second.cccd = Some("038050001234".into());
    second.note = Some("Nghe kém".into());
    let other = store.add_citizen(second).unwrap().citizen;
    let groups = store.duplicates().unwrap();
    assert!(groups.iter().any(|g| g.citizens.len() == 2), "{groups:?}");
    let session = session_on;
    let came = |id, achieved: &[&str]| AttendeeInput {
        citizen_id: id,
        achieved: achieved.iter().map(|s| s.to_string()).collect(),
    };
    // Both records at one session (taught under one, achieved under the other), and the
    // second record alone at another.
    let both = session(
        &mut store,
        "2026-11-01",
        vec![came(keep.id, &[]), came(other.id, &["VNEID1"])],
    );
    let alone = session(&mut store, "2026-11-15", vec![came(other.id, &["0.1"])]);
    let before = store.report(&Default::default()).unwrap();
    assert_eq!(before.totals.people, 2);

    let kept = store.merge_citizens(keep.id, other.id).unwrap();
    assert_eq!(kept.phone.as_deref(), Some("0912345678"));
    assert_eq!(kept.cccd.as_deref(), Some("038050001234"));
    assert_eq!(kept.birth_date.as_deref(), Some("1950-03-12"));
    assert_eq!(kept.note.as_deref(), Some("Nghe kém"));
    assert_eq!(store.citizen(other.id).unwrap_err().kind(), "not_found");
    let history = store.citizen_history(keep.id).unwrap();
    let dates: Vec<&str> = history.sessions.iter().map(|s| s.date.as_str()).collect();
    assert_eq!(dates, ["2026-11-15", "2026-11-01"]);
    let achieved = |s: &sotay_core::sessions::AttendedSession| -> Vec<String> {
        s.outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Achieved)
            .map(|o| o.skill.code.clone())
            .collect()
    };
    assert_eq!(achieved(&history.sessions[0]), ["0.1"]);
    assert_eq!(achieved(&history.sessions[1]), ["VNEID1"]);
    assert_eq!(store.session(both).unwrap().attendees.len(), 1);
    assert_eq!(
        store.session(alone).unwrap().attendees[0].citizen.id,
        keep.id
    );
    let after = store.report(&Default::default()).unwrap();
    assert_eq!(
        (
            after.totals.people,
            after.totals.attendances,
            after.people_confirmed
        ),
        (1, 2, 1)
    );
    assert!(store.duplicates().unwrap().is_empty());

    assert_eq!(
        store.merge_citizens(keep.id, keep.id).unwrap_err().kind(),
        "invalid"
    );
    assert_eq!(
        store.merge_citizens(keep.id, other.id).unwrap_err().kind(),
        "not_found"
    );
}

#[test]
fn whichever_record_is_chosen_the_older_one_remains_and_the_other_keeps_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, path) = new_store(dir.path());
    let mut first = citizen("Hà Thị Lan", "nu", "1958", "Thôn Tây");
    first.phone = Some("0911000001".into());
    let older = store.add_citizen(first).unwrap().citizen;
    let mut second = citizen("Hà Thị Lan", "nu", "1958", "Thôn Tây");
    second.phone = Some("0922000002".into());
    second.cccd = Some("038158001234".into());
    let newer = store.add_citizen(second).unwrap().citizen;
    assert!(older.id < newer.id);

    // The volunteer keeps the newer record's values: the older record remains, with them.
    let kept = store.merge_citizens(newer.id, older.id).unwrap();
    assert_eq!(kept.id, older.id);
    assert_eq!(kept.phone.as_deref(), Some("0922000002"));
    assert_eq!(kept.cccd.as_deref(), Some("038158001234"));
    assert_eq!(store.citizen(newer.id).unwrap_err().kind(), "not_found");

    // The merged record's state and every record of it hold no personal data any more.
    let conn = raw(&path);
    let state: String = conn
        .query_row(
            "SELECT state FROM entity_state WHERE entity = 'citizen' AND entity_id = ?1",
            [newer.id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["fields"]["phone"], serde_json::Value::Null);
    assert_eq!(state["fields"]["cccd"], serde_json::Value::Null);
    assert_eq!(state["fields"]["merged_into"], older.id.to_string());
    let leaks: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE entity_id = ?1 AND payload LIKE '%0922000002%'",
            [newer.id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaks, 0);
}

#[test]
fn the_report_read_from_the_stores_tables_is_the_one_its_merged_states_give() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, path) = new_store(dir.path());
    let people = [
        ("Mai Văn Bình", "nam", "1950", "Thôn Đông"),
        ("Lê Thị Hoa", "nữ", "1988", "Thôn Tây"),
        ("Trần Văn An", "nam", "2009", "Thôn Đông"),
        ("Nguyễn Thị Lan", "nữ", "1972", "Thôn Tây"),
        ("Mai Văn Bình", "nam", "12/03/1950", "Thôn Đông"),
    ];
    let ids: Vec<_> = people
        .iter()
        .map(|(name, gender, birth, village)| {
            let person = citizen(name, gender, birth, village);
            store.add_citizen(person).unwrap().citizen.id
        })
        .collect();
    let came = |i: usize, achieved: &[&str]| AttendeeInput {
        citizen_id: ids[i],
        achieved: achieved.iter().map(|s| s.to_string()).collect(),
    };
    for (date, who) in [
        (
            "2026-10-03",
            vec![came(0, &[]), came(1, &["VNEID1"]), came(2, &["0.1"])],
        ),
        (
            "2026-11-01",
            vec![
                came(1, &[]),
                came(3, &["VNEID1", "0.1"]),
                came(4, &["VNEID1"]),
            ],
        ),
        ("2026-11-20", vec![came(4, &["0.1"]), came(2, &[])]),
    ] {
        session_on(&mut store, date, who);
    }
    store.merge_citizens(ids[0], ids[4]).unwrap();

    let from_tables = store.report(&Default::default()).unwrap();
    let conn = raw(&path);
    let mut stmt = conn
        .prepare(
            "SELECT entity, state FROM entity_state
             WHERE entity IN ('citizen', 'session', 'attendance', 'team')",
        )
        .unwrap();
    let states: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut input = sotay_core::report::input_from_states(
        states.iter().map(|(e, s)| (e.as_str(), s.as_str())),
        Default::default(),
        store.targets().unwrap(),
    );
    input.catalogue = Some(store.catalogue().unwrap().into_owned());
    let from_states = sotay_core::report::build(&input, &Default::default());
    assert_eq!(
        serde_json::to_value(&from_tables).unwrap(),
        serde_json::to_value(&from_states).unwrap()
    );
    assert_eq!(
        from_tables.totals.people, 4,
        "the merged pair is one person"
    );
    assert_eq!(from_tables.totals.attendances, 8);
}

/// Records a session at the cultural house teaching 0.1 and VNEID1; its ID.
fn session_on(
    store: &mut Store,
    date: &str,
    attendees: Vec<AttendeeInput>,
) -> sotay_protocol::SessionId {
    store
        .add_session(SessionInput {
            date: date.into(),
            place: "Nhà văn hóa".into(),
            skills: vec!["0.1".into(), "VNEID1".into()],
            attendees,
            ..Default::default()
        })
        .unwrap()
        .session
        .id
}

#[test]
fn each_person_forgotten_counts_one_erasure() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, path) = new_store(dir.path());
    let a = store
        .add_citizen(citizen("Trần Thị Quên", "nữ", "1950", "Thôn Đông"))
        .unwrap()
        .citizen
        .id;
    let b = store
        .add_citizen(citizen("Lê Văn Nhớ", "nam", "1951", "Thôn Tây"))
        .unwrap()
        .citizen
        .id;
    assert_eq!(store.erasures().unwrap(), 0);
    store.forget_citizen(a).unwrap();
    assert_eq!(store.erasures().unwrap(), 1);
    store.forget_citizen(b).unwrap();
    assert_eq!(store.erasures().unwrap(), 2);
    drop(store);
    // Kept with the data: a sync in another process sees the same count.
    let reopened = Store::open(&path, &Passphrase::new(PASSPHRASE)).unwrap();
    assert_eq!(reopened.erasures().unwrap(), 2);
}
