//! The `Store`: one local SQLite file and every write to it. Each public write method is one
//! transaction that changes the tables and appends the matching outbox records together, so a
//! failed write leaves neither.

use crate::changes::record_local;
use crate::error::{CoreError, CoreResult};
use crate::outbox::{self, OutboxStatus};
use crate::protect::Passphrase;
use crate::refdata::admin_units;
use crate::refdata::SkillCatalogue;
use crate::validate::{self, Field};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sotay_protocol::{
    DeviceId, Operation, Organisation, OutboxRecord, OutgoingRecord, Payload, TeamId, TeamV1,
    VolunteerId, VolunteerV1,
};
use std::borrow::Cow;
use std::path::Path;

pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) device: DeviceId,
    /// Views kept until the data changes (see `views.rs`).
    pub(crate) views: std::cell::RefCell<crate::views::ViewCache>,
    /// What the file is encrypted with, for backups (encrypted the same way) and for checking
    /// the current passphrase before a change. None in memory.
    pub(crate) passphrase: Option<Passphrase>,
}

/// `meta` key of [`Store::erasures`].
pub(crate) const META_ERASURES: &str = "outbox.erasures";

/// What `sotay init` asks for.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct NewTeam {
    pub name: String,
    pub organisation: Organisation,
    pub province_code: String,
    pub commune_code: String,
    /// The volunteer using this laptop.
    pub volunteer: String,
}

/// The team this laptop belongs to, with the names of its place for display.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct TeamInfo {
    #[serde(flatten)]
    pub team: TeamV1,
    pub province_name: String,
    pub commune_name: String,
    pub volunteers: Vec<VolunteerV1>,
    /// The volunteer using this laptop.
    pub current_volunteer: Option<VolunteerId>,
}

impl Store {
    /// Opens the store at `path`, encrypted with `passphrase` (see [`crate::protect`]).
    pub fn open(path: &Path, passphrase: &Passphrase) -> CoreResult<Self> {
        Self::with_connection(crate::db::open(path, passphrase)?, Some(passphrase.clone()))
    }

    pub fn open_in_memory() -> CoreResult<Self> {
        Self::with_connection(crate::db::open_in_memory()?, None)
    }

    /// Re-encrypts the file under `new` once `current` is shown to be the passphrase in use.
    pub fn change_passphrase(&mut self, current: &Passphrase, new: &str) -> CoreResult<()> {
        let new = Passphrase::choose(new)?;
        if self.passphrase.as_ref() != Some(current) {
            return Err(CoreError::WrongPassphrase {
                path: self.conn.path().unwrap_or_default().to_string(),
            });
        }
        crate::protect::rekey(&self.conn, &new)?;
        self.passphrase = Some(new);
        Ok(())
    }

    fn with_connection(mut conn: Connection, passphrase: Option<Passphrase>) -> CoreResult<Self> {
        let tx = conn.transaction()?;
        let existing: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let device = match existing.and_then(|s| s.parse().ok()) {
            Some(device) => device,
            None => {
                let device = DeviceId::new();
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('device_id', ?1)",
                    [device.to_string()],
                )?;
                device
            }
        };
        tx.commit()?;
        Ok(Self {
            conn,
            device,
            views: Default::default(),
            passphrase,
        })
    }

    pub fn device_id(&self) -> DeviceId {
        self.device
    }

    /// How many times people were forgotten on this laptop (here or by a pulled record), each
    /// scrubbing their records in the outbox. Outbox records read before the count moved may
    /// hold what was since erased: read them again before sending them.
    pub fn erasures(&self) -> CoreResult<u64> {
        Ok(self
            .meta(META_ERASURES)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    pub(crate) fn meta(&self, key: &str) -> CoreResult<Option<String>> {
        meta_in(&self.conn, key)
    }

    pub(crate) fn set_meta(&self, key: &str, value: Option<&str>) -> CoreResult<()> {
        set_meta_in(&self.conn, key, value)
    }

    /// The folder the volunteer chose for printed sheets, reports and backups on this laptop
    /// (a local setting: it never syncs).
    pub fn output_folder(&self) -> CoreResult<Option<String>> {
        self.meta("output_folder")
    }

    /// Chooses the folder for printed sheets, reports and backups; None goes back to the default.
    pub fn set_output_folder(&self, folder: Option<&str>) -> CoreResult<()> {
        self.set_meta("output_folder", folder)
    }

    /// Sets up the team on a fresh laptop.
    pub fn init_team(&mut self, new: NewTeam) -> CoreResult<TeamInfo> {
        if let Ok(team) = self.team() {
            return Err(CoreError::AlreadyInitialised {
                team: team.team.name,
            });
        }
        let mut errors = Vec::new();
        let name = validate::required(&new.name, Field::Team).map_err(|e| errors.push(e));
        let volunteer =
            validate::required(&new.volunteer, Field::Volunteer).map_err(|e| errors.push(e));
        let units = admin_units();
        if units.province(&new.province_code).is_none() {
            errors.push(crate::error::FieldError {
                field: Field::Province,
                reason: format!(
                    "mã tỉnh “{}” không có trong danh mục 34 tỉnh, thành phố",
                    new.province_code
                ),
                reason_en: format!(
                    "“{}” is not one of the 34 provinces' codes",
                    new.province_code
                ),
            });
        } else {
            match units.commune(&new.commune_code) {
                Some((p, _)) if p.code == new.province_code => {}
                Some((p, c)) => errors.push(crate::error::FieldError {
                    field: Field::Commune,
                    reason: format!(
                        "“{}” ({}) thuộc {}, không thuộc tỉnh đã chọn",
                        c.name, c.code, p.name
                    ),
                    reason_en: format!(
                        "“{}” ({}) is in {}, not in the province chosen",
                        c.name, c.code, p.name
                    ),
                }),
                None => errors.push(crate::error::FieldError {
                    field: Field::Commune,
                    reason: format!("mã xã “{}” không có trong danh mục", new.commune_code),
                    reason_en: format!("there is no commune with the code “{}”", new.commune_code),
                }),
            }
        }
        let (Ok(name), Ok(volunteer_name)) = (name, volunteer) else {
            return Err(CoreError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(CoreError::Invalid(errors));
        }
        let team = TeamV1 {
            id: TeamId::new(),
            name,
            organisation: new.organisation,
            province_code: new.province_code,
            commune_code: new.commune_code,
        };
        let volunteer = VolunteerV1 {
            id: VolunteerId::new(),
            team_id: team.id,
            name: volunteer_name,
        };
        let tx = self.conn.transaction()?;
        let team_payload = Payload::Team(team);
        record_local(&tx, self.device, Operation::Upsert, &team_payload, &[])?;
        let volunteer_payload = Payload::Volunteer(volunteer.clone());
        record_local(&tx, self.device, Operation::Upsert, &volunteer_payload, &[])?;
        set_meta_in(&tx, "current_volunteer", Some(&volunteer.id.to_string()))?;
        tx.commit()?;
        self.team()
    }

    /// The team of this laptop; `NotInitialised` before `init_team`.
    pub fn team(&self) -> CoreResult<TeamInfo> {
        let team = self
            .conn
            .query_row(
                "SELECT id, name, organisation, province_code, commune_code FROM team LIMIT 1",
                [],
                |r| {
                    Ok(TeamV1 {
                        id: parse_col(r, 0)?,
                        name: r.get(1)?,
                        organisation: enum_col(r, 2)?,
                        province_code: r.get(3)?,
                        commune_code: r.get(4)?,
                    })
                },
            )
            .optional()?
            .ok_or(CoreError::NotInitialised)?;
        let units = admin_units();
        let province_name = units
            .province(&team.province_code)
            .map_or_else(|| team.province_code.clone(), |p| p.name.clone());
        let commune_name = units
            .commune(&team.commune_code)
            .map_or_else(|| team.commune_code.clone(), |(_, c)| c.name.clone());
        let mut stmt = self
            .conn
            .prepare("SELECT id, team_id, name FROM volunteer ORDER BY name")?;
        let volunteers = stmt
            .query_map([], |r| {
                Ok(VolunteerV1 {
                    id: parse_col(r, 0)?,
                    team_id: parse_col(r, 1)?,
                    name: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let current_volunteer = self.meta("current_volunteer")?.and_then(|s| s.parse().ok());
        Ok(TeamInfo {
            team,
            province_name,
            commune_name,
            volunteers,
            current_volunteer,
        })
    }

    /// The skill catalogue in force: the newest one pulled from the server, else the one
    /// compiled into this build.
    pub fn catalogue(&self) -> CoreResult<Cow<'static, SkillCatalogue>> {
        let compiled = crate::refdata::skills();
        Ok(match self.meta("catalogue")? {
            Some(json) => match serde_json::from_str::<SkillCatalogue>(&json) {
                Ok(pulled) if pulled.is_newer_than(&compiled.version) => Cow::Owned(pulled),
                _ => Cow::Borrowed(compiled),
            },
            None => Cow::Borrowed(compiled),
        })
    }

    pub fn outbox_status(&self) -> CoreResult<OutboxStatus> {
        outbox::status(&self.conn, self.device)
    }

    /// How many outbox records the server does not hold yet (the status's `pending`, cheaper).
    pub fn pending_count(&self) -> CoreResult<u64> {
        outbox::pending_count(&self.conn)
    }

    /// Pending outbox records after `after_seq`, oldest first, at most `limit`.
    pub fn pending_records(&self, after_seq: u64, limit: usize) -> CoreResult<Vec<OutboxRecord>> {
        outbox::pending(&self.conn, after_seq, limit, |text| {
            serde_json::from_str(&text)
        })
    }

    /// The same records as [`Self::pending_records`], ready to send: each payload the JSON text
    /// stored, checked to be JSON but not decoded.
    pub fn pending_to_send(&self, after_seq: u64, limit: usize) -> CoreResult<Vec<OutgoingRecord>> {
        outbox::pending(
            &self.conn,
            after_seq,
            limit,
            serde_json::value::RawValue::from_string,
        )
    }
}

/// One `meta` entry, on a connection or inside a transaction.
pub(crate) fn meta_in(conn: &Connection, key: &str) -> CoreResult<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Writes (or with None, removes) one `meta` entry on a connection or inside a transaction.
pub(crate) fn set_meta_in(conn: &Connection, key: &str, value: Option<&str>) -> CoreResult<()> {
    match value {
        Some(v) => conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(rusqlite::params![key, v])?,
        None => conn
            .prepare_cached("DELETE FROM meta WHERE key = ?1")?
            .execute([key])?,
    };
    Ok(())
}

/// A serde enum's snake_case name, as stored in the tables.
pub(crate) fn enum_str<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("only unit enum variants are stored as text"),
    }
}

fn conversion_error(i: usize, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.to_string().into())
}

/// Reads a text column back into a serde enum stored with `enum_str`.
pub(crate) fn enum_col<T: serde::de::DeserializeOwned>(
    r: &rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    serde_json::from_value(serde_json::Value::String(s)).map_err(|e| conversion_error(i, e))
}

/// Reads a text column through `FromStr` (IDs, clocks).
pub(crate) fn parse_col<T>(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let s: String = r.get(i)?;
    s.parse().map_err(|e| conversion_error(i, e))
}

/// Reads a JSON text column.
pub(crate) fn json_col<T: serde::de::DeserializeOwned>(
    r: &rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    serde_json::from_str(&s).map_err(|e| conversion_error(i, e))
}

/// Today's date in Vietnam (UTC+7, no daylight saving), whatever zone the laptop is set to.
pub(crate) fn today_vn() -> chrono::NaiveDate {
    let vietnam = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset");
    chrono::Utc::now().with_timezone(&vietnam).date_naive()
}

/// A consenting villager of that name, for unit tests.
#[cfg(test)]
pub(crate) fn villager(name: &str) -> crate::CitizenInput {
    crate::CitizenInput {
        full_name: name.into(),
        gender: "nữ".into(),
        birth: "1960".into(),
        village: "Thôn Đông".into(),
        consent: true,
        ..Default::default()
    }
}

/// A store file at `path` with a team set up, for unit tests.
#[cfg(test)]
pub(crate) fn store_with_team(path: &Path, passphrase: &Passphrase) -> Store {
    let mut store = Store::open(path, passphrase).unwrap();
    store
        .init_team(NewTeam {
            name: "Đội TNTN Hàm Rồng".into(),
            organisation: sotay_protocol::Organisation::YouthUnion,
            province_code: "38".into(),
            commune_code: "14758".into(),
            volunteer: "Lê Thị Hoa".into(),
        })
        .unwrap();
    store
}
