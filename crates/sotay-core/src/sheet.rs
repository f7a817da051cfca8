//! What goes on a printed attendance sheet, decided here and laid out by `sotay-sheets`: the
//! official header lines, the session's date, place and skills, the rows in Vietnamese class-list
//! order with phones masked unless asked otherwise, numbered blank rows for walk-ins, and the
//! closing place-and-date line and signature blocks. Everything is plain text: the layout engine
//! receives it as data, never as markup.

use crate::error::CoreResult;
use crate::refdata::{admin_units, SkillCatalogue};
use crate::store::Store;
use crate::validate::gender_vi;
use chrono::Datelike;
use serde::Serialize;
use sotay_protocol::{Organisation, Outcome, SessionId};

#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct SheetOptions {
    /// Numbered empty rows after the list, for walk-ins.
    pub blank_rows: usize,
    /// The pre-session variant: invited citizens, blank result column.
    pub invite: bool,
    /// Print full phone numbers (default: only the last 3 digits).
    pub show_phone: bool,
    pub landscape: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SheetRow {
    pub stt: usize,
    pub full_name: String,
    pub birth_year: String,
    pub gender: String,
    pub village: String,
    pub phone: String,
    pub result: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SheetData {
    pub landscape: bool,
    pub org_line: String,
    pub team_line: String,
    pub commune_line: String,
    pub title: String,
    pub subtitle: String,
    pub date_line: String,
    pub place_line: String,
    pub skills_line: String,
    pub volunteers_line: String,
    pub rows: Vec<SheetRow>,
    /// STT numbers of the blank rows.
    pub blank_rows: Vec<usize>,
    pub place_date_line: String,
    pub left_signature: String,
    pub right_signature: String,
}

/// `0912345678` → `*******678`.
pub fn mask_phone(phone: &str) -> String {
    let keep = phone.chars().count().saturating_sub(3);
    phone
        .chars()
        .enumerate()
        .map(|(i, c)| if i < keep { '*' } else { c })
        .collect()
}

fn organisation_line(org: Organisation) -> &'static str {
    match org {
        Organisation::YouthUnion | Organisation::University => "ĐOÀN TNCS HỒ CHÍ MINH",
        Organisation::WomensUnion => "HỘI LIÊN HIỆP PHỤ NỮ VIỆT NAM",
        Organisation::Other => "BÌNH DÂN HỌC VỤ SỐ",
    }
}

/// "Phường Hàm Rồng" → "Hàm Rồng": the place name as a date line writes it.
fn place_name(full: &str) -> &str {
    ["Thành phố ", "Phường ", "Xã ", "Đặc khu ", "Tỉnh "]
        .iter()
        .find_map(|p| full.strip_prefix(p))
        .unwrap_or(full)
}

fn short_skill(catalogue: &SkillCatalogue, code: &str) -> String {
    catalogue
        .skill(code)
        .map_or_else(|| code.to_owned(), |s| s.short_vi.clone())
}

impl Store {
    pub fn sheet(&self, id: SessionId, options: &SheetOptions) -> CoreResult<SheetData> {
        let detail = self.session(id)?;
        let catalogue = self.catalogue()?;
        let team = self.team()?;
        let session = &detail.session;
        let commune = admin_units()
            .commune(&session.commune_code)
            .map(|(_, c)| c.name.clone())
            .unwrap_or_else(|| team.commune_name.clone());
        let date = crate::validate::iso_date(&session.date, crate::validate::Field::Date)?;
        let (d, m, y) = (date.day(), date.month(), date.year());
        let rows = detail
            .attendees
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let c = &a.citizen;
                let result = if options.invite {
                    String::new()
                } else {
                    let achieved: Vec<String> = a
                        .outcomes
                        .iter()
                        .filter(|o| o.outcome == Outcome::Achieved)
                        .map(|o| short_skill(&catalogue, &o.skill))
                        .collect();
                    // The skills taught are in the sheet's header; a row says what this person
                    // achieved, which is what the commune counts.
                    if achieved.is_empty() {
                        "Đã hướng dẫn".to_owned()
                    } else {
                        format!("Đạt: {}", achieved.join("; "))
                    }
                };
                SheetRow {
                    stt: i + 1,
                    full_name: c.full_name.clone(),
                    birth_year: c.birth_year.to_string(),
                    gender: gender_vi(c.gender).to_owned(),
                    village: c.village.clone(),
                    phone: match &c.phone {
                        Some(p) if options.show_phone => p.clone(),
                        Some(p) => mask_phone(p),
                        None => String::new(),
                    },
                    result,
                }
            })
            .collect::<Vec<_>>();
        let first_blank = rows.len() + 1;
        Ok(SheetData {
            landscape: options.landscape,
            org_line: organisation_line(team.team.organisation).to_owned(),
            team_line: team.team.name.to_uppercase(),
            commune_line: commune.to_uppercase(),
            title: "DANH SÁCH ĐIỂM DANH".into(),
            subtitle: if options.invite {
                "Người dân được mời tham dự — ký khi đến".into()
            } else {
                "Người dân tham dự buổi hướng dẫn kỹ năng số — Bình dân học vụ số".into()
            },
            date_line: match &session.time {
                Some(t) => format!("Thời gian: {t}, ngày {d:02}/{m:02}/{y}"),
                None => format!("Thời gian: ngày {d:02}/{m:02}/{y}"),
            },
            place_line: match &session.village {
                Some(v) => format!("Địa điểm: {}, {v}, {commune}", session.place),
                None => format!("Địa điểm: {}, {commune}", session.place),
            },
            skills_line: format!(
                "Nội dung hướng dẫn: {}",
                detail
                    .skills
                    .iter()
                    .map(|s| s.name_vi.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            volunteers_line: format!("Tình nguyện viên: {}", detail.volunteer_names.join(", ")),
            rows,
            blank_rows: (first_blank..first_blank + options.blank_rows).collect(),
            place_date_line: format!("{}, ngày {d:02} tháng {m:02} năm {y}", place_name(&commune)),
            left_signature: "XÁC NHẬN CỦA UBND XÃ, PHƯỜNG".into(),
            right_signature: "ĐỘI TRƯỞNG".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_show_only_their_last_three_digits() {
        assert_eq!(mask_phone("0912345678"), "*******678");
        assert_eq!(mask_phone("12"), "12");
    }

    #[test]
    fn place_names_lose_their_type() {
        assert_eq!(place_name("Phường Hàm Rồng"), "Hàm Rồng");
        assert_eq!(place_name("Xã Hồi Xuân"), "Hồi Xuân");
    }
}
