//! A citizen as it comes in — typed into a form, read from a list, or an edit — and the rules
//! that turn it into a validated draft, every failure at once and naming its field.

use crate::error::FieldError;
use crate::store::today_vn;
use crate::text;
use crate::validate::{self, Field};
use serde::Deserialize;
use sotay_protocol::{CitizenV1, Gender, Group};
use ts_rs::TS;

/// A citizen as typed into a form or read from a list: raw text, validated by the core.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
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

/// An edit of a citizen: every field left out (None) keeps its current value, so a form that does
/// not show a field can never erase it. For the optional fields (phone, CCCD, note) an empty
/// string clears the value.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct CitizenPatch {
    pub full_name: Option<String>,
    pub gender: Option<String>,
    /// `1957` or `dd/mm/yyyy`.
    pub birth: Option<String>,
    pub village: Option<String>,
    pub phone: Option<String>,
    pub cccd: Option<String>,
    pub groups: Option<Vec<Group>>,
    pub note: Option<String>,
    pub commune_code: Option<String>,
}

impl CitizenPatch {
    /// The input that results from applying this patch to `current`.
    pub(crate) fn apply_to(self, current: &CitizenV1) -> CitizenInput {
        let birth = match &current.birth_date {
            Some(iso) => {
                let mut parts = iso.splitn(3, '-');
                let (y, m, d) = (parts.next(), parts.next(), parts.next());
                match (y, m, d) {
                    (Some(y), Some(m), Some(d)) => format!("{d}/{m}/{y}"),
                    _ => current.birth_year.to_string(),
                }
            }
            None => current.birth_year.to_string(),
        };
        CitizenInput {
            full_name: self.full_name.unwrap_or_else(|| current.full_name.clone()),
            gender: self
                .gender
                .unwrap_or_else(|| validate::gender_word(current.gender).to_owned()),
            birth: self.birth.unwrap_or(birth),
            village: self.village.unwrap_or_else(|| current.village.clone()),
            phone: self.phone.or_else(|| current.phone.clone()),
            cccd: self.cccd.or_else(|| current.cccd.clone()),
            groups: self.groups.unwrap_or_else(|| current.groups.clone()),
            note: self.note.or_else(|| current.note.clone()),
            commune_code: Some(
                self.commune_code
                    .unwrap_or_else(|| current.commune_code.clone()),
            ),
            consent: current.consent.given,
        }
    }
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
            reason_en: "the citizen's consent is not recorded; personal data may not be stored"
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
