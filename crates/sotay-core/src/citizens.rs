//! The citizen register: validation of a citizen as typed or imported, adding, search on the
//! folded name (word prefixes, diacritic-blind), the `vi`-sorted list, and likely duplicates.

use crate::error::{CoreError, CoreResult, FieldError};
use crate::store::{enum_col, json_col, parse_col, today_vn, Store};
use crate::text;
use crate::validate::{self, Field};
use rusqlite::{params, Connection, Transaction};
use serde::Serialize;
use sotay_protocol::{CitizenId, CitizenV1, ConsentV1, Gender, Group, Operation, Payload, TeamId};

/// A citizen as typed into a form or read from a list: raw text, validated by the core.
#[derive(Debug, Clone, Default)]
pub struct CitizenInput {
    pub full_name: String,
    pub gender: String,
    /// `1957` or `dd/mm/yyyy`.
    pub birth: String,
    pub village: String,
    pub phone: Option<String>,
    pub cccd: Option<String>,
    pub groups: Vec<Group>,
    pub note: Option<String>,
    /// Defaults to the team's commune.
    pub commune_code: Option<String>,
    /// The citizen (or the commune, for imported lists) agreed to be recorded.
    pub consent: bool,
}

/// A validated citizen not yet stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CitizenDraft {
    pub full_name: String,
    pub gender: Gender,
    pub birth_year: i32,
    pub birth_date: Option<String>,
    pub village: String,
    pub phone: Option<String>,
    pub cccd: Option<String>,
    pub groups: Vec<Group>,
    pub note: Option<String>,
    pub commune_code: Option<String>,
}

impl CitizenDraft {
    pub(crate) fn name_key(&self) -> String {
        text::fold(&self.full_name)
    }
    pub(crate) fn village_key(&self) -> String {
        text::fold(&self.village)
    }
}

/// Validates every field and returns all failures at once, so a form or an import row can show
/// them together.
pub fn validate_citizen(input: &CitizenInput) -> Result<CitizenDraft, Vec<FieldError>> {
    let mut errors = Vec::new();
    fn keep<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| errors.push(e)).ok()
    }
    let full_name = keep(
        &mut errors,
        validate::required(&input.full_name, Field::FullName),
    );
    let gender = keep(&mut errors, validate::gender(&input.gender));
    let birth = keep(&mut errors, validate::birth(&input.birth, today_vn()));
    let village = keep(
        &mut errors,
        validate::required(&input.village, Field::Village),
    );
    let phone = match input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Some(p) => keep(&mut errors, validate::phone(p)).map(Some),
        None => Some(None),
    };
    let cccd_raw = input
        .cccd
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let cccd = match (cccd_raw, gender, birth) {
        (None, ..) => Some(None),
        (Some(c), Some(g), Some(b)) => keep(&mut errors, validate::cccd(c, g, b.year)).map(Some),
        // Without a valid gender and birth year the CCCD cannot be cross-checked; the other
        // field's error already explains the row.
        (Some(_), ..) => None,
    };
    if !input.consent {
        errors.push(FieldError {
            field: Field::Consent,
            reason: "chưa ghi nhận sự đồng ý của người dân; không được lưu thông tin cá nhân"
                .into(),
        });
    }
    match (full_name, gender, birth, village, phone, cccd) {
        (Some(full_name), Some(gender), Some(birth), Some(village), Some(phone), Some(cccd))
            if errors.is_empty() =>
        {
            let mut groups = input.groups.clone();
            groups.sort();
            groups.dedup();
            Ok(CitizenDraft {
                full_name,
                gender,
                birth_year: birth.year,
                birth_date: birth.date_iso(),
                village,
                phone,
                cccd,
                groups,
                note: input
                    .note
                    .as_deref()
                    .map(text::normalize)
                    .filter(|n| !n.is_empty()),
                commune_code: input.commune_code.clone(),
            })
        }
        _ => Err(errors),
    }
}

/// Why two records may be the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    SameCccd,
    SameNameBirthVillage,
    SamePhone,
}

impl DuplicateReason {
    pub fn label_vi(self) -> &'static str {
        match self {
            DuplicateReason::SameCccd => "trùng số CCCD",
            DuplicateReason::SameNameBirthVillage => "trùng họ tên, năm sinh và thôn/xóm",
            DuplicateReason::SamePhone => "trùng số điện thoại",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DuplicateMatch {
    pub reason: DuplicateReason,
    pub citizen_id: CitizenId,
    pub full_name: String,
    pub birth_year: i32,
    pub village: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddedCitizen {
    pub citizen: CitizenV1,
    /// Existing citizens that may be the same person; the new one is stored all the same, for a
    /// volunteer to review.
    pub likely_duplicates: Vec<DuplicateMatch>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DuplicateGroup {
    pub reason: DuplicateReason,
    pub citizens: Vec<CitizenV1>,
}

/// How `list_citizens` orders the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CitizenSort {
    /// Vietnamese class-list order: given name, middle, family.
    #[default]
    GivenName,
    /// Most recently added first.
    Newest,
}

pub(crate) const CITIZEN_COLUMNS: &str = "c.id, c.team_id, c.full_name, c.gender, c.birth_year, \
     c.birth_date, c.village, c.commune_code, c.phone, c.cccd, c.groups, c.consent_given, \
     c.consent_date, c.consent_by, c.note";

pub(crate) fn citizen_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CitizenV1> {
    citizen_at(r, 0)
}

/// Reads the `CITIZEN_COLUMNS` that start at column `at` of a row.
pub(crate) fn citizen_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<CitizenV1> {
    Ok(CitizenV1 {
        id: parse_col(r, at)?,
        team_id: parse_col(r, at + 1)?,
        full_name: r.get(at + 2)?,
        gender: enum_col(r, at + 3)?,
        birth_year: r.get(at + 4)?,
        birth_date: r.get(at + 5)?,
        village: r.get(at + 6)?,
        commune_code: r.get(at + 7)?,
        phone: r.get(at + 8)?,
        cccd: r.get(at + 9)?,
        groups: json_col(r, at + 10)?,
        consent: ConsentV1 {
            given: r.get(at + 11)?,
            date: r.get(at + 12)?,
            recorded_by: r.get(at + 13)?,
        },
        note: r.get(at + 14)?,
    })
}

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

/// Stores a validated citizen and its outbox record inside the caller's transaction.
pub(crate) fn insert_citizen(
    tx: &Transaction<'_>,
    store_device: sotay_protocol::DeviceId,
    team_id: TeamId,
    default_commune: &str,
    draft: CitizenDraft,
    consent: ConsentV1,
) -> CoreResult<CitizenV1> {
    let citizen = CitizenV1 {
        id: CitizenId::new(),
        team_id,
        commune_code: draft
            .commune_code
            .clone()
            .unwrap_or_else(|| default_commune.to_owned()),
        full_name: draft.full_name.clone(),
        gender: draft.gender,
        birth_year: draft.birth_year,
        birth_date: draft.birth_date.clone(),
        village: draft.village.clone(),
        phone: draft.phone.clone(),
        cccd: draft.cccd.clone(),
        groups: draft.groups.clone(),
        consent,
        note: draft.note.clone(),
    };
    crate::changes::record_local(
        tx,
        store_device,
        Operation::Upsert,
        &Payload::Citizen(citizen.clone()),
        &[],
    )?;
    Ok(citizen)
}

/// Sorts citizens in Vietnamese class-list order, ties broken by birth year then ID so the order
/// is the same on every run.
pub fn sort_by_given_name(citizens: &mut [CitizenV1]) {
    citizens.sort_by(|a, b| {
        text::compare_names(&a.full_name, &b.full_name)
            .then(a.birth_year.cmp(&b.birth_year))
            .then(a.id.cmp(&b.id))
    });
}

impl Store {
    /// Adds one citizen typed in by a volunteer, who recorded the citizen's consent.
    pub fn add_citizen(&mut self, input: CitizenInput) -> CoreResult<AddedCitizen> {
        let team = self.team()?;
        let draft = validate_citizen(&input).map_err(CoreError::Invalid)?;
        if let Some(code) = &draft.commune_code {
            if crate::refdata::admin_units().commune(code).is_none() {
                return Err(CoreError::invalid(
                    Field::Commune,
                    format!("mã xã “{code}” không có trong danh mục"),
                ));
            }
        }
        let recorded_by = team
            .current_volunteer
            .and_then(|id| team.volunteers.iter().find(|v| v.id == id))
            .map_or_else(|| team.team.name.clone(), |v| v.name.clone());
        let consent = ConsentV1 {
            given: true,
            date: today_vn().to_string(),
            recorded_by,
        };
        let tx = self.conn.transaction()?;
        let likely_duplicates = find_matches(&tx, &draft)?;
        let citizen = insert_citizen(
            &tx,
            self.device,
            team.team.id,
            &team.team.commune_code,
            draft,
            consent,
        )?;
        tx.commit()?;
        Ok(AddedCitizen {
            citizen,
            likely_duplicates,
        })
    }

    /// Edits a citizen. Only the fields that changed are recorded as changed, so that two
    /// laptops editing different fields of one person offline both keep their edit.
    pub fn update_citizen(&mut self, id: CitizenId, input: CitizenInput) -> CoreResult<CitizenV1> {
        let current = self.citizen(id)?;
        let draft = validate_citizen(&input).map_err(CoreError::Invalid)?;
        let updated = CitizenV1 {
            full_name: draft.full_name,
            gender: draft.gender,
            birth_year: draft.birth_year,
            birth_date: draft.birth_date,
            village: draft.village,
            phone: draft.phone,
            cccd: draft.cccd,
            groups: draft.groups,
            note: draft.note,
            commune_code: draft
                .commune_code
                .unwrap_or_else(|| current.commune_code.clone()),
            ..current.clone()
        };
        let before = Payload::Citizen(current).to_json();
        let after = Payload::Citizen(updated.clone()).to_json();
        let changed: Vec<&str> = after
            .as_object()
            .expect("a citizen serialises to an object")
            .iter()
            .filter(|(k, v)| before.get(k.as_str()) != Some(*v))
            .map(|(k, _)| k.as_str())
            .collect();
        if changed.is_empty() {
            return Ok(updated);
        }
        let tx = self.conn.transaction()?;
        crate::changes::record_local(
            &tx,
            self.device,
            Operation::Upsert,
            &Payload::Citizen(updated.clone()),
            &changed,
        )?;
        tx.commit()?;
        self.citizen(id)
    }

    /// Deletes a citizen: a tombstone that syncs like any change.
    pub fn delete_citizen(&mut self, id: CitizenId) -> CoreResult<()> {
        let current = self.citizen(id)?;
        let tx = self.conn.transaction()?;
        crate::changes::record_local(
            &tx,
            self.device,
            Operation::Delete,
            &Payload::Citizen(current),
            &[],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn citizen(&self, id: CitizenId) -> CoreResult<CitizenV1> {
        let sql =
            format!("SELECT {CITIZEN_COLUMNS} FROM citizen c WHERE c.id = ?1 AND c.deleted = 0");
        self.conn
            .query_row(&sql, [id.to_string()], citizen_from_row)
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => CoreError::NotFound {
                    what: "người dân",
                    id: id.to_string(),
                },
                e => e.into(),
            })
    }

    /// Finds citizens by name regardless of diacritics and case; every word of the query must
    /// start a word of the name ("ng v duong" finds "Nguyễn Văn Đường"). A query of digits
    /// searches phone and CCCD numbers instead. Results come in class-list order.
    pub fn search_citizens(&self, query: &str, limit: usize) -> CoreResult<Vec<CitizenV1>> {
        let folded = text::fold(query);
        if folded.is_empty() {
            return Ok(Vec::new());
        }
        let mut citizens = if folded.chars().all(|c| c.is_ascii_digit() || c == ' ') {
            let digits: String = folded.chars().filter(|c| !c.is_whitespace()).collect();
            let sql = format!(
                "SELECT {CITIZEN_COLUMNS} FROM citizen c
                 WHERE c.deleted = 0 AND (instr(c.phone, ?1) > 0 OR instr(c.cccd, ?1) > 0)
                 LIMIT ?2"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![digits, limit as i64], citizen_from_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        } else {
            // Each folded word becomes a quoted prefix term; folding leaves only letters and
            // digits, so nothing in a query can change the FTS syntax.
            let fts_query = folded
                .split(' ')
                .map(|word| format!("\"{word}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            let sql = format!(
                "SELECT {CITIZEN_COLUMNS} FROM citizen_search s
                 JOIN citizen c ON c.num = s.rowid
                 WHERE citizen_search MATCH ?1 AND c.deleted = 0
                 ORDER BY s.rank
                 LIMIT ?2"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![fts_query, limit as i64], citizen_from_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        sort_by_given_name(&mut citizens);
        Ok(citizens)
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
