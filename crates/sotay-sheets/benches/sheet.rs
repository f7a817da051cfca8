//! Benchmark: rendering the attendance sheet of a 500-attendee session to PDF.

use criterion::{criterion_group, criterion_main, Criterion};
use sotay_core::sheet::SheetOptions;
use sotay_core::{AttendeeInput, ImportOptions, NewTeam, SessionInput, Store};
use sotay_protocol::Organisation;
use std::hint::black_box;

fn sheet_500(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(
        &dir.path().join("b.sqlite"),
        &sotay_core::Passphrase::new("hoa sen trắng"),
    )
    .unwrap();
    store
        .init_team(NewTeam {
            name: "Đội bench".into(),
            organisation: Organisation::YouthUnion,
            province_code: "38".into(),
            commune_code: "14758".into(),
            volunteer: "Hoa".into(),
        })
        .unwrap();
    let mut csv = String::from("Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại\n");
    for i in 0..500 {
        csv += &format!(
            "Nguyễn Thị Người{i},Nữ,{},Thôn Đông,09{:08}\n",
            1940 + i % 60,
            i
        );
    }
    let list = dir.path().join("l.csv");
    std::fs::write(&list, csv).unwrap();
    store
        .import_citizens(
            &list,
            ImportOptions::consented_by("Cán bộ xã", "01/11/2025"),
        )
        .unwrap();
    let attendees = store
        .list_citizens(Default::default())
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, c)| AttendeeInput {
            citizen_id: c.id,
            achieved: if i.is_multiple_of(3) {
                vec!["VNEID1".into()]
            } else {
                vec![]
            },
        })
        .collect();
    let session = store
        .add_session(SessionInput {
            date: "2026-11-20".into(),
            place: "Nhà văn hóa".into(),
            skills: vec!["0.1".into(), "VNEID1".into()],
            attendees,
            ..Default::default()
        })
        .unwrap();
    let options = SheetOptions {
        blank_rows: 10,
        ..Default::default()
    };
    let mut group = c.benchmark_group("sheet");
    group.sample_size(10);
    group.bench_function("sheet_500_attendees_pdf", |b| {
        b.iter(|| {
            let data = store.sheet(session.session.id, &options).unwrap();
            black_box(sotay_sheets::render_pdf(&data).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, sheet_500);
criterion_main!(benches);
