//! A team's worth of made-up records, built through the store's own use cases (import, sessions)
//! so they are exactly what a laptop would send: for benchmarks of sync and the server, measured
//! against the same data everywhere. No real person's data: names are numbered.

use crate::{AttendeeInput, CoreError, CoreResult, ImportOptions, NewTeam, SessionInput, Store};
use sotay_protocol::Organisation;
use std::path::Path;

/// How big a sample team is. The default is the benchmark of the issues: 20,000 citizens,
/// 800 sessions of 25 (20,000 attendances): with the team and volunteer, 40,802 records.
#[derive(Debug, Clone, Copy)]
pub struct SampleTeam {
    pub citizens: usize,
    pub sessions: usize,
    pub per_session: usize,
}

impl Default for SampleTeam {
    fn default() -> Self {
        Self {
            citizens: 20_000,
            sessions: 800,
            per_session: 25,
        }
    }
}

/// The passphrase the sample laptop is encrypted with.
pub const PASSPHRASE: &str = "hoa sen trắng";

impl SampleTeam {
    /// Creates a laptop database at `dir/laptop.sqlite` holding the sample team, all unsynced.
    pub fn build(&self, dir: &Path) -> CoreResult<Store> {
        let mut store = Store::open(
            &dir.join("laptop.sqlite"),
            &crate::Passphrase::new(PASSPHRASE),
        )?;
        store.init_team(NewTeam {
            name: "Đội bench".into(),
            organisation: Organisation::YouthUnion,
            province_code: "38".into(),
            commune_code: "14758".into(),
            volunteer: "Lê Thị Hoa".into(),
        })?;
        self.add_to(&mut store, dir)?;
        Ok(store)
    }

    /// Adds the citizens and sessions to `store` (its team already set up), as `build` does;
    /// `dir` holds the import's CSV for a moment.
    pub fn add_to(&self, store: &mut Store, dir: &Path) -> CoreResult<()> {
        let mut csv = String::from("Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại\n");
        for i in 0..self.citizens {
            csv += &format!(
                "Nguyễn Văn Người{i},{},{},Thôn {},09{:08}\n",
                if i.is_multiple_of(2) { "Nam" } else { "Nữ" },
                1930 + i % 90,
                i / 90,
                i
            );
        }
        let list = dir.join("list.csv");
        let file_error = |e: std::io::Error| CoreError::File {
            path: list.display().to_string(),
            reason: e.to_string(),
            reason_en: e.to_string(),
        };
        std::fs::write(&list, csv).map_err(file_error)?;
        store.import_citizens(
            &list,
            ImportOptions::consented_by("Cán bộ xã", "01/11/2025"),
        )?;
        std::fs::remove_file(&list).map_err(file_error)?;
        let ids: Vec<_> = store
            .list_citizens(Default::default())?
            .into_iter()
            .map(|c| c.id)
            .collect();
        for s in 0..self.sessions {
            let attendees = (0..self.per_session)
                .map(|k| AttendeeInput {
                    citizen_id: ids[(s * self.per_session + k) % ids.len()],
                    achieved: if k.is_multiple_of(3) {
                        vec!["VNEID1".into()]
                    } else {
                        vec![]
                    },
                })
                .collect();
            store.add_session(SessionInput {
                date: format!("2026-{:02}-{:02}", 1 + s % 12, 1 + s % 28),
                place: "Nhà văn hóa".into(),
                skills: vec!["0.1".into(), "4.1".into(), "VNEID1".into()],
                attendees,
                ..Default::default()
            })?;
        }
        Ok(())
    }
}
