//! Benchmark: rendering the attendance sheet of a 500-attendee session to PDF, repeated in one
//! process and as the first render of a fresh process (the bench runs itself as the child: a
//! volunteer's first "print" after starting the app lays out every page and loads the fonts).

use criterion::Criterion;
use sotay_core::sheet::SheetOptions;
use sotay_core::{AttendeeInput, ImportOptions, NewTeam, SessionInput, Store};
use sotay_protocol::Organisation;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

const PASSPHRASE: &str = "hoa sen trắng";
/// Set in the child: the store file and session whose sheet it renders once.
const CHILD: &str = "SOTAY_SHEET_BENCH_CHILD";

/// A store at `path` holding one session of 500 attendees.
fn session_500(path: &std::path::Path) -> (Store, sotay_protocol::SessionId) {
    let dir = path.parent().unwrap();
    let mut store = Store::open(path, &sotay_core::Passphrase::new(PASSPHRASE)).unwrap();
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
    let list = dir.join("l.csv");
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
    (store, session.session.id)
}

fn options() -> SheetOptions {
    SheetOptions {
        blank_rows: 10,
        ..Default::default()
    }
}

/// Reads the sheet and renders it once, timed; the store is already open, as in the app.
fn render_once(store: &Store, session: sotay_protocol::SessionId) -> Duration {
    let start = Instant::now();
    let data = store.sheet(session, &options()).unwrap();
    black_box(sotay_sheets::render_pdf(&data).unwrap());
    start.elapsed()
}

fn sheet_500(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.sqlite");
    let (store, session) = session_500(&path);
    let mut group = c.benchmark_group("sheet");
    group.sample_size(10);
    group.bench_function("sheet_500_attendees_pdf", |b| {
        b.iter(|| render_once(&store, session))
    });
    // Each sample a new process that opens the store (untimed) and renders the sheet once.
    group.bench_function("sheet_500_attendees_pdf_first_in_a_fresh_process", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let out = Command::new(std::env::current_exe().unwrap())
                        .env(CHILD, format!("{}|{session}", path.display()))
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{out:?}");
                    let nanos: u64 = String::from_utf8(out.stdout)
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    Duration::from_nanos(nanos)
                })
                .sum()
        })
    });
    group.finish();
}

fn main() {
    if let Ok(child) = std::env::var(CHILD) {
        let (path, session) = child.split_once('|').unwrap();
        let store = Store::open(
            std::path::Path::new(path),
            &sotay_core::Passphrase::new(PASSPHRASE),
        )
        .unwrap();
        let took = render_once(&store, session.parse().unwrap());
        println!("{}", took.as_nanos());
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    sheet_500(&mut c);
    c.final_summary();
}
