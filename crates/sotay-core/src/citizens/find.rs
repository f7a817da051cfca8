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

/// Existing citizens that match `draft` on CCCD, on folded name + birth year + village, or on
/// phone.
pub(crate) fn find_matches(
    conn: &Connection,
    draft: &CitizenDraft,
) -> CoreResult<Vec<DuplicateMatch>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, full_name, birth_year, village,
                COALESCE(cccd = ?1, 0),
                COALESCE(name_key = ?2 AND birth_year = ?3 AND village_key = ?4, 0)
         FROM citizen
         WHERE deleted = 0
           AND (cccd = ?1 OR (name_key = ?2 AND birth_year = ?3 AND village_key = ?4)
                OR phone = ?5)",
    )?;
    let rows = stmt.query_map(
        params![
            draft.cccd,
            draft.name_key(),
            draft.birth_year,
            draft.village_key(),
            draft.phone
        ],
        |r| {
            let reason = if r.get::<_, bool>(4)? {
                DuplicateReason::SameCccd
            } else if r.get::<_, bool>(5)? {
                DuplicateReason::SameNameBirthVillage
            } else {
                DuplicateReason::SamePhone
            };
            Ok(DuplicateMatch {
                reason,
                citizen_id: parse_col(r, 0)?,
                full_name: r.get(1)?,
                birth_year: r.get(2)?,
                village: r.get(3)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
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
        // (rank, name, birth year, row) of every candidate; ranked here, read in full only
        // for the page shown.
        let mut ranked: Vec<(u8, String, i32, i64)> = Vec::new();
        if folded.is_empty() {
            let mut stmt = self.conn.prepare_cached(
                "SELECT full_name, birth_year, num FROM citizen WHERE deleted = 0",
            )?;
            let rows = stmt.query_map([], |r| Ok((0, r.get(0)?, r.get(1)?, r.get(2)?)))?;
            ranked = rows.collect::<Result<_, _>>()?;
        } else if folded.chars().all(|c| c.is_ascii_digit() || c == ' ') {
            let digits: String = folded.chars().filter(|c| !c.is_whitespace()).collect();
            let mut stmt = self.conn.prepare_cached(
                "SELECT full_name, birth_year, num, (phone = ?1 OR cccd = ?1) FROM citizen
                 WHERE deleted = 0 AND (instr(phone, ?1) > 0 OR instr(cccd, ?1) > 0)",
            )?;
            let rows = stmt.query_map([&digits], |r| {
                let exact: Option<bool> = r.get(3)?;
                Ok((
                    u8::from(!exact.unwrap_or(false)),
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                ))
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
                "SELECT c.full_name, c.birth_year, c.num FROM citizen_search s
                 JOIN citizen c ON c.num = s.rowid
                 WHERE citizen_search MATCH ?1 AND c.deleted = 0",
            )?;
            let mut rows = stmt.query([fts_query])?;
            while let Some(r) = rows.next()? {
                let name: String = r.get(0)?;
                if let Some(rank) = text::match_name(query, &name) {
                    ranked.push((rank as u8, name, r.get(1)?, r.get(2)?));
                }
            }
        }
        ranked.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| text::compare_names(&a.1, &b.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
        let total = ranked.len() as u64;
        let page: Vec<i64> = ranked
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|r| r.3)
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
