//! Finding people in the register: search on the folded name (word prefixes, diacritic-blind)
//! or on phone/CCCD digits, the `vi`-sorted list, and groups of likely duplicates.

use super::{
    citizen_at, citizen_from_row, sort_by_given_name, CitizenDraft, CitizenSort, DuplicateGroup,
    DuplicateMatch, DuplicateReason, CITIZEN_COLUMNS,
};
use serde::Serialize;
use ts_rs::TS;

/// One page of a search and how many people match in all, so a screen can say "325 người" and
/// show the rest on request.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CitizenPage {
    pub total: u64,
    pub offset: u64,
    pub citizens: Vec<CitizenV1>,
}
use crate::error::CoreResult;
use crate::store::{parse_col, Store};
use crate::text;
use crate::views::SearchIndex;
use rusqlite::{params, Connection};
use sotay_protocol::CitizenV1;

/// Existing citizens who are, or may be, the person in `draft`, each with why:
/// - the same CCCD is the same person; two different CCCDs are two people;
/// - a full birth date on both sides that differs makes two people, whatever else matches;
/// - the same name and phone is the same person;
/// - the same name, birth year and village, or only the same phone, may be the same person.
pub(crate) fn find_matches(
    conn: &Connection,
    draft: &CitizenDraft,
) -> CoreResult<Vec<DuplicateMatch>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, full_name, birth_year, village, birth_date, cccd, phone, name_key, village_key
         FROM citizen
         WHERE deleted = 0
           AND (cccd = ?1 OR (name_key = ?2 AND birth_year = ?3) OR phone = ?4)",
    )?;
    let name_key = draft.name_key();
    let village_key = draft.village_key();
    let mut rows = stmt.query(params![draft.cccd, name_key, draft.birth_year, draft.phone])?;
    let mut matches = Vec::new();
    while let Some(r) = rows.next()? {
        let birth_date: Option<String> = r.get(4)?;
        let cccd: Option<String> = r.get(5)?;
        let phone: Option<String> = r.get(6)?;
        let same_name = r.get::<_, String>(7)? == name_key;
        let same_village = r.get::<_, String>(8)? == village_key;
        let both = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        };
        let reason = match (
            both(&draft.cccd, &cccd),
            both(&draft.birth_date, &birth_date),
        ) {
            (Some(true), _) => DuplicateReason::SameCccd,
            (Some(false), _) | (None, Some(false)) => continue,
            (None, _) if same_name && both(&draft.phone, &phone) == Some(true) => {
                DuplicateReason::SameNamePhone
            }
            (None, _) if same_name && r.get::<_, i32>(2)? == draft.birth_year && same_village => {
                DuplicateReason::SameNameBirthVillage
            }
            (None, _) if both(&draft.phone, &phone) == Some(true) => DuplicateReason::SamePhone,
            (None, _) => continue,
        };
        matches.push(DuplicateMatch {
            reason,
            citizen_id: parse_col(r, 0)?,
            full_name: r.get(1)?,
            birth_year: r.get(2)?,
            birth_date,
            village: r.get(3)?,
        });
    }
    matches.sort_by_key(|m| !m.reason.is_certain());
    Ok(matches)
}

/// What a search looks for: digits in phone and CCCD numbers, or a name.
enum Sought {
    Digits(String),
    Name(text::NameQuery),
}

/// The people of `range` (places in the index) a search finds: how many, and the first `wanted`
/// of each rank, in class-list order.
fn matches_in(
    index: &SearchIndex,
    range: std::ops::Range<usize>,
    sought: &Sought,
    wanted: usize,
) -> (u64, [Vec<usize>; 4]) {
    let mut ranked: [Vec<usize>; 4] = Default::default();
    let mut total = 0u64;
    let mut found = |rank: usize, person: usize| {
        total += 1;
        if ranked[rank].len() < wanted {
            ranked[rank].push(person);
        }
    };
    match sought {
        Sought::Digits(digits) => for_each_number_match(index, range, digits, |person, whole| {
            found(usize::from(!whole), person)
        }),
        Sought::Name(search) => {
            for person in range {
                if let Some(rank) = search.rank(index.name_at(person)) {
                    found(rank as usize, person);
                }
            }
        }
    }
    (total, ranked)
}

/// Everyone a search finds, split into `parts` walked at once, one per core: how many, and the
/// first `wanted` of each rank (places in the index), best rank first, each in class-list order.
fn find_in(index: &SearchIndex, sought: &Sought, wanted: usize, parts: usize) -> (u64, Vec<usize>) {
    let people = index.nums.len();
    let ranges = (0..parts).map(|p| people * p / parts..people * (p + 1) / parts);
    let found: Vec<(u64, [Vec<usize>; 4])> = if parts <= 1 {
        vec![matches_in(index, 0..people, sought, wanted)]
    } else {
        std::thread::scope(|scope| {
            let parts: Vec<_> = ranges
                .map(|range| scope.spawn(|| matches_in(index, range, sought, wanted)))
                .collect();
            parts
                .into_iter()
                .map(|part| part.join().expect("a search does not panic"))
                .collect()
        })
    };
    let total = found.iter().map(|(n, _)| n).sum();
    let ranked = (0..4)
        .flat_map(|rank| found.iter().flat_map(move |(_, ranked)| &ranked[rank]))
        .copied()
        .collect();
    (total, ranked)
}

/// Calls `found(person, whole)` for each person of `range` (by place in the index, in order)
/// whose phone or CCCD holds `digits`; `whole` when one of them is exactly `digits`. One scan of
/// their numbers side by side: a match moves on to the next person's numbers.
fn for_each_number_match(
    index: &SearchIndex,
    range: std::ops::Range<usize>,
    digits: &str,
    mut found: impl FnMut(usize, bool),
) {
    if digits.is_empty() || range.is_empty() {
        return;
    }
    let finder = memchr::memmem::Finder::new(digits.as_bytes());
    let text = &index.numbers.as_bytes()[..index.number_ends[range.end - 1] as usize];
    let mut person = range.start;
    let mut from = person
        .checked_sub(1)
        .map_or(0, |before| index.number_ends[before] as usize);
    while let Some(at) = finder.find(&text[from..]).map(|at| from + at) {
        while index.number_ends[person] as usize <= at {
            person += 1;
        }
        let whole = index
            .numbers_of(person)
            .lines()
            .any(|number| number == digits);
        found(person, whole);
        from = index.number_ends[person] as usize;
    }
}

/// From this many people on, a search is split between the cores.
const PARALLEL_FROM: usize = 20_000;

impl Store {
    /// Finds citizens by name regardless of case, and of diacritics where none are typed; every
    /// word of the query must start a word of the name ("ng v duong" finds "Nguyễn Văn Đường").
    /// A query of digits searches phone and CCCD numbers instead. The best matches come first —
    /// the whole name as typed, then the given name, then whole words, then prefixes — each in
    /// class-list order, so Enter on the first result picks the person typed.
    /// A blank query finds nobody here (the register is `list_citizens`).
    pub fn search_citizens(&self, query: &str, limit: usize) -> CoreResult<Vec<CitizenV1>> {
        if text::fold(query).is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.search_page(query, 0, limit)?.citizens)
    }

    /// One page of a search, with how many match in all. An empty query pages through the whole
    /// register in class-list order.
    pub fn search_page(&self, query: &str, offset: usize, limit: usize) -> CoreResult<CitizenPage> {
        let folded = text::fold(query);
        let (total, page): (u64, Vec<i64>) = if folded.is_empty() {
            let order = self.register_order()?;
            let page = order.sorted.iter().skip(offset).take(limit).copied();
            (order.sorted.len() as u64, page.collect())
        } else {
            // The register is walked once in class-list order, each match dropped into its
            // rank's list: the page is the lists in rank order, each kept only as long as a page
            // could reach into it.
            let index = self.search_index()?;
            let wanted = offset.saturating_add(limit);
            let sought = if folded.chars().all(|c| c.is_ascii_digit() || c == ' ') {
                Sought::Digits(folded.chars().filter(|c| !c.is_whitespace()).collect())
            } else {
                Sought::Name(text::NameQuery::new(query))
            };
            let people = index.nums.len();
            let parts = if people < PARALLEL_FROM {
                1
            } else {
                std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
            };
            let (total, ranked) = find_in(&index, &sought, wanted, parts);
            let page = ranked
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(|person| index.nums[person]);
            (total, page.collect())
        };
        let sql = format!("SELECT {CITIZEN_COLUMNS} FROM citizen c WHERE c.num = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let citizens = page
            .iter()
            .map(|num| stmt.query_row([num], citizen_from_row))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CitizenPage {
            total,
            offset: offset as u64,
            citizens,
        })
    }

    pub fn list_citizens(&self, sort: CitizenSort) -> CoreResult<Vec<CitizenV1>> {
        let sql = format!(
            "SELECT {CITIZEN_COLUMNS} FROM citizen c WHERE c.deleted = 0 ORDER BY c.num DESC"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut citizens = stmt
            .query_map([], citizen_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        if sort == CitizenSort::GivenName {
            sort_by_given_name(&mut citizens);
        }
        Ok(citizens)
    }

    /// Groups of citizens that may be one person, strongest reason first.
    pub fn duplicates(&self) -> CoreResult<Vec<DuplicateGroup>> {
        let keys = [
            (DuplicateReason::SameCccd, "c.cccd"),
            (
                DuplicateReason::SameNameBirthVillage,
                "c.name_key || '|' || c.birth_year || '|' || c.village_key",
            ),
            (DuplicateReason::SamePhone, "c.phone"),
        ];
        let mut groups = Vec::new();
        for (reason, key) in keys {
            let sql = format!(
                "SELECT {key}, {CITIZEN_COLUMNS} FROM citizen c
                 WHERE c.deleted = 0 AND {key} IN (
                     SELECT {key} FROM citizen c WHERE c.deleted = 0 AND {key} IS NOT NULL
                     GROUP BY {key} HAVING COUNT(*) > 1)
                 ORDER BY {key}, c.num"
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            let mut current: Option<(String, DuplicateGroup)> = None;
            while let Some(row) = rows.next()? {
                let key: String = row.get(0)?;
                let citizen = citizen_at(row, 1)?;
                match &mut current {
                    Some((k, group)) if *k == key => group.citizens.push(citizen),
                    _ => {
                        if let Some((_, group)) = current.take() {
                            groups.push(group);
                        }
                        current = Some((
                            key,
                            DuplicateGroup {
                                reason,
                                citizens: vec![citizen],
                            },
                        ));
                    }
                }
            }
            groups.extend(current.map(|(_, g)| g));
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_person_holding_the_digits_is_found_once_whole_numbers_told_apart() {
        let mut index = SearchIndex::default();
        let number = |n: &str| Some(n.to_owned());
        index.push(10, "Đinh Văn Quý", [number("0912345678"), None]);
        index.push(
            11,
            "Lò Thị Mai",
            [number("0391234567"), number("012345678901")],
        );
        index.push(12, "Hà Văn An", [None, None]);
        index.push(13, "Vi Thị Mẩy", [number("0123"), None]);
        let found = |digits: &str| {
            let mut found = Vec::new();
            for_each_number_match(&index, 0..4, digits, |person, whole| {
                found.push((person, whole))
            });
            found
        };
        assert_eq!(found("0123"), [(1, false), (3, true)]);
        assert_eq!(found("34567"), [(0, false), (1, false)]);
        assert_eq!(found("0912345678"), [(0, true)]);
        assert!(
            found("56780391").is_empty(),
            "a match never spans two numbers"
        );
        assert!(found("999").is_empty());
        assert!(found("").is_empty());
        let mut part = Vec::new();
        for_each_number_match(&index, 1..3, "0123", |person, whole| {
            part.push((person, whole))
        });
        assert_eq!(part, [(1, false)], "only the people of the part asked for");
    }

    #[test]
    fn a_search_split_between_cores_finds_what_one_walk_finds() {
        let mut index = SearchIndex::default();
        let words = [
            "Nguyễn",
            "Thị",
            "Văn",
            "Hà",
            "Hạnh",
            "An",
            "Ân",
            "Lan",
            "Lanh",
            "Đường",
        ];
        for i in 0..3_000usize {
            let name = format!(
                "{} {} {}",
                words[i % 7],
                words[(i / 7) % 10],
                words[(i / 70) % 10]
            );
            let phone = format!("09{:08}", i * 7);
            index.push(i as i64, &name, [Some(phone), None]);
        }
        for query in [
            "ha",
            "Hà",
            "thi h",
            "lan",
            "an",
            "nguyen thi an",
            "0000",
            "09",
            "7",
        ] {
            let sought = if query.chars().all(|c| c.is_ascii_digit()) {
                Sought::Digits(query.into())
            } else {
                Sought::Name(text::NameQuery::new(query))
            };
            for wanted in [1, 50, 10_000] {
                let whole = find_in(&index, &sought, wanted, 1);
                assert!(whole.0 > 0, "{query}");
                for parts in [2, 3, 4] {
                    let split = find_in(&index, &sought, wanted, parts);
                    assert_eq!(split.0, whole.0, "{query}: {parts} parts count alike");
                    let first = whole.1.len().min(wanted);
                    assert_eq!(split.1[..first], whole.1[..first], "{query}, {parts} parts");
                }
            }
        }
    }
}
