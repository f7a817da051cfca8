//! The citizen register: the types a caller sees, reading citizens back from rows, adding
//! (with likely duplicates flagged), editing by patch, deleting. Input validation lives in
//! `input.rs`; search, the sorted list and duplicate detection in `find.rs`; merging two records
//! of one person in `merge.rs`.

mod find;
mod input;
mod merge;

pub(crate) use find::find_matches;
pub use find::CitizenPage;
pub use input::{validate_citizen, CitizenDraft, CitizenInput, CitizenPatch};

use crate::error::{CoreError, CoreResult};
use crate::store::{enum_col, json_col, parse_col, today_vn, Store};
use crate::text;
use crate::validate::Field;
use rusqlite::Transaction;
use serde::Serialize;
use sotay_protocol::{CitizenId, CitizenV1, ConsentV1, Operation, Payload, TeamId};
use ts_rs::TS;

/// Why two records may be the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    /// The same CCCD: the same person.
    SameCccd,
    /// The same name and the same phone: the same person.
    SameNamePhone,
    /// The same name, birth year and village, nothing that tells them apart: perhaps the same
    /// person, for a volunteer to decide.
    SameNameBirthVillage,
    /// Only the phone is shared (a family's phone): perhaps the same person under another name.
    SamePhone,
}

impl DuplicateReason {
    pub fn label_vi(self) -> &'static str {
        match self {
            DuplicateReason::SameCccd => "trùng số CCCD",
            DuplicateReason::SameNamePhone => "trùng họ tên và số điện thoại",
            DuplicateReason::SameNameBirthVillage => "trùng họ tên, năm sinh và thôn/xóm",
            DuplicateReason::SamePhone => "trùng số điện thoại",
        }
    }

    /// Whether the reason alone makes two records one person.
    pub fn is_certain(self) -> bool {
        matches!(
            self,
            DuplicateReason::SameCccd | DuplicateReason::SameNamePhone
        )
    }
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct DuplicateMatch {
    pub reason: DuplicateReason,
    pub citizen_id: CitizenId,
    pub full_name: String,
    pub birth_year: i32,
    /// `YYYY-MM-DD` when known: what tells two people of one name and year apart.
    pub birth_date: Option<String>,
    pub village: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct AddedCitizen {
    pub citizen: CitizenV1,
    /// Existing citizens that may be the same person; the new one is stored all the same, for a
    /// volunteer to review.
    pub likely_duplicates: Vec<DuplicateMatch>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct DuplicateGroup {
    pub reason: DuplicateReason,
    pub citizens: Vec<CitizenV1>,
}

/// How `list_citizens` orders the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
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
        merged_into: None,
    })
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
        merged_into: None,
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
                    format!("there is no commune with the code “{code}”"),
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

    /// Edits a citizen. Fields the patch leaves out keep their value; only the fields that
    /// changed are recorded as changed, so that two laptops editing different fields of one
    /// person offline both keep their edit.
    pub fn update_citizen(&mut self, id: CitizenId, patch: CitizenPatch) -> CoreResult<CitizenV1> {
        let current = self.citizen(id)?;
        if crate::changes::is_forgotten(&self.conn, &id.to_string())? {
            return Err(CoreError::Erased { id: id.to_string() });
        }
        let input = patch.apply_to(&current);
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
        let changed = crate::changes::changed_fields(&before, &after);
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

    /// Erases a person's personal data at their request (Law 91/2025/QH15): name, birth date,
    /// phone, CCCD and note, here and, through sync, on the server and every teammate's laptop.
    /// What reports count stays, anonymous: gender, birth year, village, groups, attendance and
    /// outcomes. Forgetting someone already forgotten changes nothing.
    pub fn forget_citizen(&mut self, id: CitizenId) -> CoreResult<CitizenV1> {
        let current = self.citizen(id)?;
        if crate::changes::is_forgotten(&self.conn, &id.to_string())? {
            return Ok(current);
        }
        let tx = self.conn.transaction()?;
        crate::changes::record_forget(&tx, self.device, &current)?;
        tx.commit()?;
        // The WAL still holds the pages as they were: fold it in and empty it.
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
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
}
