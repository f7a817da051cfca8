//! Views of the store that screens ask for again and again — the register in class-list order,
//! the register prepared for search, the all-time report behind the home screen — kept until the
//! data changes, so that typing a search or opening the home screen at 10,000 citizens does not
//! sort, fold or decode everything each time.
//!
//! "The data changed" is read cheaply: this device's last outbox sequence (every local write),
//! the pull cursor (every applied page) and SQLite's `data_version` (a commit by another
//! connection, such as the CLI on the same file).

use crate::error::CoreResult;
use crate::report::Report;
use crate::store::Store;
use crate::text;
use std::collections::HashMap;
use std::sync::Arc;

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
}

/// The register prepared for search-as-you-type, in class-list order: each person's name words
/// lower-cased and folded, and their phone and CCCD, side by side in two texts so a search over
/// 200,000 people reads no row, allocates nothing per person and walks memory in order (an FTS
/// query and ranking each match took 60-110 ms for a broad prefix or a digit search). Built on
/// the first search after the data changed.
#[derive(Debug, Default)]
pub(crate) struct SearchIndex {
    /// `citizen.num` of each person, in class-list order.
    pub nums: Vec<i64>,
    /// Each person's [`text::NameView::prefixes`].
    prefixes: Vec<u128>,
    /// Each person's lower-case then folded name, one after the other.
    names: String,
    /// Where each person's name parts end in `names`: lower-case, folded.
    name_ends: Vec<(u32, u32)>,
    /// Each person's phone and CCCD, each followed by a line break (no number holds one, so a
    /// match never spans two numbers).
    pub numbers: String,
    /// Where each person's numbers end in `numbers`.
    pub number_ends: Vec<u32>,
}

impl SearchIndex {
    pub(crate) fn push(&mut self, num: i64, name: &str, numbers: [Option<String>; 2]) {
        let prepared = text::PreparedName::new(name);
        let view = prepared.view();
        self.nums.push(num);
        self.prefixes.push(view.prefixes);
        self.names.push_str(view.lower);
        let lower_end = self.names.len() as u32;
        self.names.push_str(view.folded);
        self.name_ends.push((lower_end, self.names.len() as u32));
        for number in numbers.into_iter().flatten() {
            self.numbers.push_str(&number);
            self.numbers.push('\n');
        }
        self.number_ends.push(self.numbers.len() as u32);
    }

    /// The `i`-th person's name as a search ranks it.
    pub fn name_at(&self, i: usize) -> text::NameView<'_> {
        let start = i.checked_sub(1).map_or(0, |j| self.name_ends[j].1) as usize;
        let (lower_end, end) = self.name_ends[i];
        text::NameView {
            lower: &self.names[start..lower_end as usize],
            folded: &self.names[lower_end as usize..end as usize],
            prefixes: self.prefixes[i],
        }
    }

    /// Kept until the next change: no room left from growing (about 85 bytes a person).
    fn shrink_to_fit(&mut self) {
        self.nums.shrink_to_fit();
        self.prefixes.shrink_to_fit();
        self.names.shrink_to_fit();
        self.name_ends.shrink_to_fit();
        self.numbers.shrink_to_fit();
        self.number_ends.shrink_to_fit();
    }

    /// The `i`-th person's numbers, each followed by a line break.
    pub fn numbers_of(&self, i: usize) -> &str {
        let start = i.checked_sub(1).map_or(0, |j| self.number_ends[j]);
        &self.numbers[start as usize..self.number_ends[i] as usize]
    }
}

/// The home screen's numbers, defined as the report defines them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headline {
    pub people_reached: u64,
    pub people_confirmed: u64,
}

#[derive(Default)]
pub(crate) struct ViewCache {
    order: Option<(DataVersion, Arc<RegisterOrder>)>,
    search: Option<(DataVersion, Arc<SearchIndex>)>,
    all_time: Option<(DataVersion, Arc<Report>)>,
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

    /// The view kept in `slot` while the data has not changed since it was built, else `build`'s,
    /// kept from now on.
    fn kept<T>(
        &self,
        slot: impl Fn(&mut ViewCache) -> &mut Option<(DataVersion, Arc<T>)>,
        build: impl FnOnce() -> CoreResult<T>,
    ) -> CoreResult<Arc<T>> {
        let version = self.data_version()?;
        if let Some((v, view)) = slot(&mut self.views.borrow_mut()) {
            if *v == version {
                return Ok(view.clone());
            }
        }
        let view = Arc::new(build()?);
        *slot(&mut self.views.borrow_mut()) = Some((version, view.clone()));
        Ok(view)
    }

    /// The register in class-list order (given name, middle, family; then birth year).
    pub(crate) fn register_order(&self) -> CoreResult<Arc<RegisterOrder>> {
        self.kept(|views| &mut views.order, || self.sorted_register())
    }

    fn sorted_register(&self) -> CoreResult<RegisterOrder> {
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
        Ok(RegisterOrder { sorted })
    }

    /// Everyone on the register prepared for search, in class-list order.
    pub(crate) fn search_index(&self) -> CoreResult<Arc<SearchIndex>> {
        self.kept(|views| &mut views.search, || self.prepared_register())
    }

    fn prepared_register(&self) -> CoreResult<SearchIndex> {
        let order = self.register_order()?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT num, full_name, phone, cccd FROM citizen WHERE deleted = 0")?;
        type Row = (String, [Option<String>; 2]);
        let mut rows: HashMap<i64, Row> = stmt
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, [r.get(2)?, r.get(3)?]))))?
            .collect::<Result<_, _>>()?;
        let mut index = SearchIndex::default();
        for num in &order.sorted {
            if let Some((name, numbers)) = rows.remove(num) {
                index.push(*num, &name, numbers);
            }
        }
        index.shrink_to_fit();
        Ok(index)
    }

    /// Drops every kept view, after a change the data version does not see.
    pub(crate) fn forget_views(&self) {
        *self.views.borrow_mut() = ViewCache::default();
    }

    /// The report over all records with every breakdown and target, rebuilt only when the data
    /// changed: the home screen's numbers, progress and month chart all come from it.
    pub fn all_time_report(&self) -> CoreResult<Arc<Report>> {
        self.kept(
            |views| &mut views.all_time,
            || self.report(&Default::default()),
        )
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
    use crate::{AttendeeInput, SessionInput, Store};

    #[test]
    fn kept_views_follow_every_change_local_or_by_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sotay.sqlite");
        let mut store =
            crate::store::store_with_team(&path, &crate::Passphrase::new("hoa sen trắng"));
        let add = |store: &mut Store, name: &str| {
            store
                .add_citizen(crate::store::villager(name))
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
