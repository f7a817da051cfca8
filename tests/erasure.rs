//! Erasure at a citizen's request, end to end on SQLite and PostgreSQL: after `forget` on one
//! laptop and a sync round, no copy of the person's name, phone, CCCD, birth date or note is
//! left on either laptop (rows, outbox, merged state, conflict log, search) or in the server's
//! database (record log, state, conflicts), even from an edit a teammate made offline before
//! hearing of the forget; the reports still count the person.

mod common;

use common::*;
use sotay_core::{AttendeeInput, CitizenInput, CitizenPatch, SessionInput};
use sotay_protocol::CitizenId;

const TEAM: &str = "Đội TNTN phường Hàm Rồng";
const NAME: &str = "Lò Thị Xuyến";
const SECRETS: [&str; 7] = [
    NAME,
    "0912345678",
    "0987654321",
    "0977111222",
    "038161001234",
    "1961-04-03",
    "Nhà gần suối Khằm",
];

/// Every text and blob value in every table of a laptop's (decrypted) database.
fn laptop_values(laptop: &Laptop) -> Vec<(String, String)> {
    let conn = raw_laptop(&laptop.path);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut values = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let text = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                    _ => continue,
                };
                values.push((table.clone(), text));
            }
        }
    }
    values
}

fn assert_no_secret(place: &str, values: &[(String, String)]) {
    for secret in SECRETS {
        if let Some((table, value)) = values.iter().find(|(_, v)| v.contains(secret)) {
            panic!("{secret} is still in {place}, table {table}: {value}");
        }
    }
}

fn server_values(server: &TestServer) -> Vec<(String, String)> {
    let rows = server.db.sql(
        "SELECT 'records', payload FROM records
         UNION ALL SELECT 'entities', state FROM entities WHERE state IS NOT NULL
         UNION ALL SELECT 'conflicts', lost_value FROM conflicts
         UNION ALL SELECT 'quarantine', reason FROM quarantine",
        "SELECT 'records', payload::text FROM records
         UNION ALL SELECT 'entities', state::text FROM entities WHERE state IS NOT NULL
         UNION ALL SELECT 'conflicts', lost_value::text FROM conflicts
         UNION ALL SELECT 'quarantine', reason FROM quarantine",
        &[],
    );
    rows.into_iter()
        .map(|mut r| {
            let value = r.pop().unwrap();
            (r.pop().unwrap(), value)
        })
        .collect()
}

fn phone(number: &str) -> CitizenPatch {
    CitizenPatch {
        phone: Some(number.into()),
        ..Default::default()
    }
}

#[test]
fn a_forgotten_citizen_leaves_no_copy_on_any_laptop_or_the_server() {
    each_backend(|backend| {
        let server = TestServer::start(backend.clone());
        let mut a = Laptop::enrolled(&server, TEAM, "Lê Thị Hoa");
        let mut b = Laptop::enrolled(&server, TEAM, "Trần Văn Nam");
        let id: CitizenId = a
            .store()
            .add_citizen(CitizenInput {
                full_name: NAME.into(),
                gender: "nữ".into(),
                birth: "03/04/1961".into(),
                village: "Bản Khằm".into(),
                phone: Some("0912345678".into()),
                cccd: Some("038161001234".into()),
                note: Some("Nhà gần suối Khằm".into()),
                consent: true,
                ..Default::default()
            })
            .unwrap()
            .citizen
            .id;
        a.store()
            .add_session(SessionInput {
                date: "2026-11-20".into(),
                place: "Nhà văn hóa bản Khằm".into(),
                skills: vec!["VNEID1".into()],
                attendees: vec![AttendeeInput {
                    citizen_id: id,
                    achieved: vec!["VNEID1".into()],
                }],
                ..Default::default()
            })
            .unwrap();
        a.sync().unwrap();
        b.sync().unwrap();

        // Both change the phone: one value loses and is logged as a conflict everywhere.
        a.store().update_citizen(id, phone("0987654321")).unwrap();
        a.sync().unwrap();
        b.store().update_citizen(id, phone("0977111222")).unwrap();
        b.sync().unwrap();
        a.sync().unwrap();
        // B, offline, edits the note again: it has not heard of the forget yet.
        b.store()
            .update_citizen(
                id,
                CitizenPatch {
                    note: Some("Nhà gần suối Khằm, hỏi con gái".into()),
                    ..Default::default()
                },
            )
            .unwrap();

        let forgotten = a.store().forget_citizen(id).unwrap();
        assert_eq!(forgotten.full_name, sotay_protocol::erasure::ERASED_NAME);
        assert_eq!(
            (forgotten.phone, forgotten.cccd, forgotten.birth_date),
            (None, None, None)
        );
        assert_no_secret("laptop A right after forget", &laptop_values(&a));
        a.sync().unwrap();
        b.sync().unwrap();
        a.sync().unwrap();

        for (name, laptop) in [("laptop A", &a), ("laptop B", &b)] {
            assert_no_secret(name, &laptop_values(laptop));
            let store = laptop.store();
            assert!(store.search_citizens("xuyen", 10).unwrap().is_empty());
            assert!(store.search_citizens("0912345678", 10).unwrap().is_empty());
            let kept = store.citizen(id).unwrap();
            assert_eq!(kept.birth_year, 1961, "what reports count stays");
            assert_eq!(kept.village, "Bản Khằm");
        }
        let err = b
            .store()
            .update_citizen(id, phone("0912345678"))
            .unwrap_err();
        assert_eq!(err.kind(), "erased");
        assert_no_secret("the server's database", &server_values(&server));

        // The server's SQLite file and its WAL hold no old value either.
        if let Backend::Sqlite(path) = &backend {
            for file in [path.clone(), format!("{}-wal", path.display()).into()] {
                let bytes = std::fs::read(&file).unwrap_or_default();
                for secret in SECRETS {
                    assert!(
                        !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                        "{secret} in {file:?}"
                    );
                }
            }
        }

        // Reports count the person still: one citizen, reached, VNeID achieved.
        let stats = server.stats(TEAM);
        assert_eq!((stats.citizens, stats.attendances), (1, 1));
        let (a_report, b_report) = (a.store().headline().unwrap(), b.store().headline().unwrap());
        assert_eq!(a_report.people_reached, 1);
        assert_eq!(b_report.people_reached, 1);
    });
}
