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
        let order = self.register_order()?;
        // (rank, row) of every candidate, ranked here; read in full only for the page shown.
        let mut ranked: Vec<(u8, i64)> = Vec::new();
        if folded.is_empty() {
            ranked = order.sorted.iter().map(|num| (0, *num)).collect();
        } else if folded.chars().all(|c| c.is_ascii_digit() || c == ' ') {
            let digits: String = folded.chars().filter(|c| !c.is_whitespace()).collect();
            let mut stmt = self.conn.prepare_cached(
                "SELECT num, (phone = ?1 OR cccd = ?1) FROM citizen
                 WHERE deleted = 0 AND (instr(phone, ?1) > 0 OR instr(cccd, ?1) > 0)",
            )?;
            let rows = stmt.query_map([&digits], |r| {
                let exact: Option<bool> = r.get(1)?;
                Ok((u8::from(!exact.unwrap_or(false)), r.get(0)?))
            })?;
            ranked = rows.collect::<Result<_, _>>()?;
        } else {
            // Each folded word becomes a quoted prefix term; folding leaves only letters and
            // digits, so nothing in a query can change the FTS syntax.
            let fts_query = folded
                .split(' ')
                .map(|word| format!("\"{word}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            let mut stmt = self.conn.prepare_cached(
                "SELECT c.full_name, c.num FROM citizen_search s
                 JOIN citizen c ON c.num = s.rowid
                 WHERE citizen_search MATCH ?1 AND c.deleted = 0",
            )?;
            let mut rows = stmt.query([fts_query])?;
            while let Some(r) = rows.next()? {
                let name: String = r.get(0)?;
                if let Some(rank) = text::match_name(query, &name) {
                    ranked.push((rank as u8, r.get(1)?));
                }
            }
        }
        // Within a rank, class-list order: each person's place in the register, kept sorted.
        let place = |num: &i64| order.position.get(num).copied().unwrap_or(u32::MAX);
        ranked.sort_by_key(|(rank, num)| (*rank, place(num), *num));
        let total = ranked.len() as u64;
        let page: Vec<i64> = ranked
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|r| r.1)
            .collect();
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
