//! Views of the store that screens ask for again and again — the register in class-list order,
//! the all-time report behind the home screen — kept until the data changes, so that clearing a search or
//! opening the home screen at 10,000 citizens does not sort or decode everything each time.
//!
//! "The data changed" is read cheaply: this device's last outbox sequence (every local write),
//! the pull cursor (every applied page) and SQLite's `data_version` (a commit by another
//! connection, such as the CLI on the same file).

use crate::error::CoreResult;
use crate::report::Report;
use crate::store::Store;
use crate::text;
use std::collections::HashMap;

/// Identifies one state of the store's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DataVersion {
    last_seq: i64,
    cursor: i64,
    data_version: i64,
}

/// Every registered person's place in class-list order.
#[derive(Debug, Default)]
pub(crate) struct RegisterOrder {
    /// Row numbers (`citizen.num`) in class-list order.
    pub sorted: Vec<i64>,
    /// A row number's place in `sorted`.
    pub position: HashMap<i64, u32>,
}

/// The home screen's numbers, defined as the report defines them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headline {
    pub people_reached: u64,
    pub people_confirmed: u64,
}

#[derive(Default)]
pub(crate) struct ViewCache {
    order: Option<(DataVersion, std::sync::Arc<RegisterOrder>)>,
    all_time: Option<(DataVersion, std::sync::Arc<Report>)>,
}

impl Store {
    fn data_version(&self) -> CoreResult<DataVersion> {
        Ok(self.conn.query_row(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM outbox),
                    COALESCE((SELECT CAST(value AS INTEGER) FROM meta
                              WHERE key = 'sync.pull_position'), 0),
                    (SELECT data_version FROM pragma_data_version)",
            [],
            |r| {
                Ok(DataVersion {
                    last_seq: r.get(0)?,
                    cursor: r.get(1)?,
                    data_version: r.get(2)?,
                })
            },
        )?)
    }

    /// The register in class-list order (given name, middle, family; then birth year).
    pub(crate) fn register_order(&self) -> CoreResult<std::sync::Arc<RegisterOrder>> {
        let version = self.data_version()?;
        if let Some((v, order)) = &self.views.borrow().order {
            if *v == version {
                return Ok(order.clone());
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT num, full_name, birth_year FROM citizen WHERE deleted = 0")?;
        let mut people: Vec<(i64, String, i32)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        people.sort_by(|a, b| {
            text::compare_names(&a.1, &b.1)
                .then(a.2.cmp(&b.2))
                .then(a.0.cmp(&b.0))
        });
        let sorted: Vec<i64> = people.into_iter().map(|p| p.0).collect();
        let position = sorted
            .iter()
            .enumerate()
            .map(|(i, num)| (*num, i as u32))
            .collect();
        let order = std::sync::Arc::new(RegisterOrder { sorted, position });
        self.views.borrow_mut().order = Some((version, order.clone()));
        Ok(order)
    }

    /// Drops every kept view, after a change the data version does not see.
    pub(crate) fn forget_views(&self) {
        *self.views.borrow_mut() = ViewCache::default();
    }

    /// The report over all records with every breakdown and target, rebuilt only when the data
    /// changed: the home screen's numbers, progress and month chart all come from it.
    pub fn all_time_report(&self) -> CoreResult<std::sync::Arc<Report>> {
        let version = self.data_version()?;
        if let Some((v, report)) = &self.views.borrow().all_time {
            if *v == version {
                return Ok(report.clone());
            }
        }
        let report = std::sync::Arc::new(self.report(&Default::default())?);
        self.views.borrow_mut().all_time = Some((version, report.clone()));
        Ok(report)
    }

    /// People reached and people with a result achieved, over all records: the report's own
    /// totals.
    pub fn headline(&self) -> CoreResult<Headline> {
        let report = self.all_time_report()?;
        Ok(Headline {
            people_reached: report.totals.people,
            people_confirmed: report.people_confirmed,
        })
    }

    pub fn count_citizens(&self) -> CoreResult<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM citizen WHERE deleted = 0", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    pub fn count_sessions(&self) -> CoreResult<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM session WHERE deleted = 0", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }
}

#[cfg(test)]
mod tests {
    use crate::{AttendeeInput, CitizenInput, SessionInput, Store};

    #[test]
    fn kept_views_follow_every_change_local_or_by_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let mut store =
            crate::store::store_with_team(&path, &crate::Passphrase::new("hoa sen trắng"));
        let add = |store: &mut Store, name: &str| {
            store
                .add_citizen(CitizenInput {
                    full_name: name.into(),
                    gender: "nữ".into(),
                    birth: "1960".into(),
                    village: "Thôn Đông".into(),
                    consent: true,
                    ..Default::default()
                })
                .unwrap()
                .citizen
                .id
        };
        let lan = add(&mut store, "Đặng Thị Lan");
        assert_eq!(store.headline().unwrap().people_reached, 0);
        assert_eq!(store.search_page("", 0, 10).unwrap().total, 1);
        store
            .add_session(SessionInput {
                date: "2026-11-20".into(),
                place: "Nhà văn hóa".into(),
                skills: vec!["VNEID1".into()],
                attendees: vec![AttendeeInput {
                    citizen_id: lan,
                    achieved: vec!["VNEID1".into()],
                }],
                ..Default::default()
            })
            .unwrap();
        let headline = store.headline().unwrap();
        assert_eq!((headline.people_reached, headline.people_confirmed), (1, 1));

        // A commune target is this laptop's own, with no outbox record: still seen at once.
        store
            .set_target(&crate::report::CommuneTarget {
                commune_code: "14758".into(),
                adult_population: 4,
                basic_pct: 100,
                confirmed_pct: 80,
            })
            .unwrap();
        let targets = store.all_time_report().unwrap().targets.clone();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].reached_pct, 25.0);

        // Another process (the CLI) writes to the same file.
        let mut other = Store::open(&path, &crate::Passphrase::new("hoa sen trắng")).unwrap();
        add(&mut other, "An Văn Bình");
        let names: Vec<String> = store
            .search_page("", 0, 10)
            .unwrap()
            .citizens
            .into_iter()
            .map(|c| c.full_name)
            .collect();
        assert_eq!(names, ["An Văn Bình", "Đặng Thị Lan"]);
    }
}
