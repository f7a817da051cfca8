//! Field rules for citizen data: Vietnamese mobile numbers, the 12-digit CCCD and its consistency
//! with gender and birth year, birth dates, gender words. Every failure names the field and says
//! why in Vietnamese, because these messages go straight to a volunteer.

use crate::error::FieldError;
use chrono::{Datelike, NaiveDate, NaiveTime};
use sotay_protocol::Gender;

/// The field a validation error is about; displayed with the Vietnamese column name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    FullName,
    Gender,
    BirthYear,
    Village,
    Phone,
    Cccd,
    Consent,
    Date,
    Time,
    Place,
    Skills,
    Attendee,
    Team,
    Organisation,
    Province,
    Commune,
    Volunteer,
}

impl Field {
    /// The column header a commune list uses for this field.
    pub fn label_vi(self) -> &'static str {
        match self {
            Field::FullName => "Họ và tên",
            Field::Gender => "Giới tính",
            Field::BirthYear => "Năm sinh",
            Field::Village => "Thôn/Xóm",
            Field::Phone => "Số điện thoại",
            Field::Cccd => "Số CCCD",
            Field::Consent => "Đồng ý",
            Field::Date => "Ngày",
            Field::Time => "Giờ",
            Field::Place => "Địa điểm",
            Field::Skills => "Kỹ năng",
            Field::Attendee => "Người tham dự",
            Field::Team => "Tên đội",
            Field::Organisation => "Tổ chức",
            Field::Province => "Tỉnh/Thành phố",
            Field::Commune => "Xã/Phường",
            Field::Volunteer => "Tình nguyện viên",
        }
    }
}

impl Field {
    /// The field's name in the English interface.
    pub fn label_en(self) -> &'static str {
        match self {
            Field::FullName => "Full name",
            Field::Gender => "Gender",
            Field::BirthYear => "Birth year",
            Field::Village => "Village",
            Field::Phone => "Phone",
            Field::Cccd => "CCCD number",
            Field::Consent => "Consent",
            Field::Date => "Date",
            Field::Time => "Time",
            Field::Place => "Place",
            Field::Skills => "Skills",
            Field::Attendee => "Attendee",
            Field::Team => "Team name",
            Field::Organisation => "Organisation",
            Field::Province => "Province",
            Field::Commune => "Commune",
            Field::Volunteer => "Volunteer",
        }
    }
}

fn err(field: Field, reason: impl Into<String>, reason_en: impl Into<String>) -> FieldError {
    FieldError {
        field,
        reason: reason.into(),
        reason_en: reason_en.into(),
    }
}

/// Normalises a Vietnamese mobile number to its 10-digit national form (`0912345678`).
/// Accepts spaces, dots and dashes, and the `+84` / `84` country prefix.
pub fn phone(raw: &str) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    let digits: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let national = if let Some(rest) = digits.strip_prefix("+84") {
        format!("0{rest}")
    } else if digits.len() == 11 && digits.starts_with("84") {
        format!("0{}", &digits[2..])
    } else {
        digits
    };
    if !national.chars().all(|c| c.is_ascii_digit()) {
        return Err(err(
            Field::Phone,
            format!("“{trimmed}” có ký tự không phải chữ số"),
            format!("“{trimmed}” has characters that are not digits"),
        ));
    }
    if national.len() != 10 {
        return Err(err(
            Field::Phone,
            format!("“{trimmed}” phải có 10 chữ số (đang có {})", national.len()),
            format!(
                "“{trimmed}” must have 10 digits (it has {})",
                national.len()
            ),
        ));
    }
    if !matches!(&national[..2], "03" | "05" | "07" | "08" | "09") {
        return Err(err(
            Field::Phone,
            format!("“{trimmed}” không phải số di động (phải bắt đầu bằng 03, 05, 07, 08 hoặc 09)"),
            format!("“{trimmed}” is not a mobile number (it must start with 03, 05, 07, 08 or 09)"),
        ));
    }
    Ok(national)
}

/// Province-of-birth codes a CCCD can start with: the 63 provinces before the 2025 merger, which
/// is what every card issued so far carries.
const CCCD_PROVINCE_CODES: [&str; 63] = [
    "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020",
    "022", "024", "025", "026", "027", "030", "031", "033", "034", "035", "036", "037", "038",
    "040", "042", "044", "045", "046", "048", "049", "051", "052", "054", "056", "058", "060",
    "062", "064", "066", "067", "068", "070", "072", "074", "075", "077", "079", "080", "082",
    "083", "084", "086", "087", "089", "091", "092", "093", "094", "095", "096",
];

/// Checks a CCCD (12 digits: province of birth, century/sex digit, 2 digits of birth year, 6
/// digits) and that it agrees with the gender and birth year given beside it.
pub fn cccd(raw: &str, gender: Gender, birth_year: i32) -> Result<String, FieldError> {
    let number: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if number.len() != 12 || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(err(
            Field::Cccd,
            format!("“{}” phải gồm đúng 12 chữ số", raw.trim()),
            format!("“{}” must be exactly 12 digits", raw.trim()),
        ));
    }
    if !CCCD_PROVINCE_CODES.contains(&&number[..3]) {
        return Err(err(
            Field::Cccd,
            format!(
                "“{number}”: mã tỉnh nơi đăng ký khai sinh {} không tồn tại",
                &number[..3]
            ),
            format!(
                "“{number}”: there is no province of birth registration {}",
                &number[..3]
            ),
        ));
    }
    let century_sex = number.as_bytes()[3] - b'0';
    let (century, card_gender) = match century_sex {
        0 => (1900, Gender::Male),
        1 => (1900, Gender::Female),
        2 => (2000, Gender::Male),
        3 => (2000, Gender::Female),
        _ => {
            return Err(err(
                Field::Cccd,
                format!("“{number}”: chữ số thứ 4 (thế kỷ và giới tính) phải là 0–3"),
                format!("“{number}”: the 4th digit (century and sex) must be 0–3"),
            ))
        }
    };
    let year = century + number[4..6].parse::<i32>().expect("checked digits");
    if year != birth_year {
        return Err(err(
            Field::Cccd,
            format!("“{number}” ứng với năm sinh {year}, không khớp năm sinh {birth_year}"),
            format!("“{number}” is for birth year {year}, not {birth_year}"),
        ));
    }
    if gender != Gender::Other && gender != card_gender {
        return Err(err(
            Field::Cccd,
            format!(
                "“{number}” ứng với giới tính {}, không khớp giới tính {}",
                gender_vi(card_gender),
                gender_vi(gender)
            ),
            format!(
                "“{number}” is for the sex {:?}, not {:?}",
                card_gender, gender
            ),
        ));
    }
    Ok(number)
}

pub fn gender_vi(gender: Gender) -> &'static str {
    match gender {
        Gender::Male => "Nam",
        Gender::Female => "Nữ",
        Gender::Other => "Khác",
    }
}

/// The plain word that [`gender`] reads back as `gender`: how a stored value goes back into a
/// form's input.
pub fn gender_word(gender: Gender) -> &'static str {
    match gender {
        Gender::Male => "nam",
        Gender::Female => "nu",
        Gender::Other => "khac",
    }
}

/// Reads Nam/Nữ/Khác (any case, with or without diacritics) or their English names.
pub fn gender(raw: &str) -> Result<Gender, FieldError> {
    match crate::text::fold(raw).as_str() {
        "nam" | "male" | "m" => Ok(Gender::Male),
        "nu" | "female" | "f" => Ok(Gender::Female),
        "khac" | "other" => Ok(Gender::Other),
        "" => Err(err(Field::Gender, "bị bỏ trống", "is empty")),
        _ => Err(err(
            Field::Gender,
            format!("“{}” không hợp lệ (Nam, Nữ hoặc Khác)", raw.trim()),
            format!("“{}” is not valid (Nam, Nữ or Khác)", raw.trim()),
        )),
    }
}

/// A birth given as a year (`1957`) or a full date (`dd/mm/yyyy`, also with `-` or `.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Birth {
    pub year: i32,
    pub date: Option<NaiveDate>,
}

impl Birth {
    pub fn date_iso(&self) -> Option<String> {
        self.date
            .map(|d| format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
    }
}

pub fn birth(raw: &str, today: NaiveDate) -> Result<Birth, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(err(Field::BirthYear, "bị bỏ trống", "is empty"));
    }
    let parts: Vec<&str> = raw.split(['/', '-', '.']).map(str::trim).collect();
    let parsed = match parts.as_slice() {
        [year] => year
            .parse::<i32>()
            .ok()
            .map(|year| Birth { year, date: None }),
        [day, month, year] => (|| {
            let (day, month, year) = (
                day.parse::<u8>().ok()?,
                month.parse::<u8>().ok()?,
                year.parse::<i32>().ok()?,
            );
            // A longer year is a typo, so it reads as "not a date", not as "in the future".
            if year > 9999 {
                return None;
            }
            let date = NaiveDate::from_ymd_opt(year, month.into(), day.into())?;
            Some(Birth {
                year,
                date: Some(date),
            })
        })(),
        _ => None,
    };
    let Some(birth) = parsed else {
        return Err(err(
            Field::BirthYear,
            format!("“{raw}” không phải năm (1957) hay ngày (dd/mm/yyyy) hợp lệ"),
            format!("“{raw}” is not a valid year (1957) or date (dd/mm/yyyy)"),
        ));
    };
    if birth.year < 1900 || birth.date.map_or(birth.year > today.year(), |d| d > today) {
        return Err(err(
            Field::BirthYear,
            format!("“{raw}” nằm ngoài khoảng 1900 đến nay"),
            format!("“{raw}” is not between 1900 and today"),
        ));
    }
    Ok(birth)
}

/// `YYYY-MM-DD`, every field at its full width; the year may carry an ISO 8601 sign.
pub fn iso_date(raw: &str, field: Field) -> Result<NaiveDate, FieldError> {
    let raw = raw.trim();
    let (sign, unsigned) = match raw.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, raw.strip_prefix('+').unwrap_or(raw)),
    };
    digit_fields(unsigned, '-', [4, 2, 2])
        .and_then(|[y, m, d]| NaiveDate::from_ymd_opt(sign * y as i32, m, d))
        .ok_or_else(|| {
            err(
                field,
                format!("“{raw}” không phải ngày dạng YYYY-MM-DD"),
                format!("“{raw}” is not a date of the form YYYY-MM-DD"),
            )
        })
}

/// `HH:MM`, on the 24-hour clock.
pub fn clock_time(raw: &str) -> Result<String, FieldError> {
    let raw = raw.trim();
    digit_fields(raw, ':', [2, 2])
        .and_then(|[h, m]| NaiveTime::from_hms_opt(h, m, 0))
        .map(|_| raw.to_owned())
        .ok_or_else(|| {
            err(
                Field::Time,
                format!("“{raw}” không phải giờ dạng HH:MM"),
                format!("“{raw}” is not a time of the form HH:MM"),
            )
        })
}

/// Fields of ASCII digits of exactly the given widths, separated by `sep`. Fixed widths, as the
/// messages promise: a clock time is stored as typed and sorted as text, so `7:30` must not pass,
/// and chrono's `%H:%M` and `%Y-%m-%d` would take `7:30` and `2026-1-5`.
fn digit_fields<const N: usize>(raw: &str, sep: char, widths: [usize; N]) -> Option<[u32; N]> {
    let mut parts = raw.split(sep);
    let mut fields = [0; N];
    for (field, width) in fields.iter_mut().zip(widths) {
        let part = parts.next()?;
        if part.len() != width || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *field = part.parse().ok()?;
    }
    parts.next().is_none().then_some(fields)
}

pub fn required(raw: &str, field: Field) -> Result<String, FieldError> {
    let value = crate::text::normalize(raw);
    if value.is_empty() {
        Err(err(field, "bị bỏ trống", "is empty"))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_ten_digits() {
        assert_eq!(phone("0912 345 678").unwrap(), "0912345678");
        assert_eq!(phone("+84 912.345.678").unwrap(), "0912345678");
        assert_eq!(phone("84912345678").unwrap(), "0912345678");
        assert_eq!(phone("0312-345-678").unwrap(), "0312345678");
    }

    #[test]
    fn bad_phones_say_why() {
        assert!(phone("091234567").unwrap_err().reason.contains("10 chữ số"));
        assert!(phone("0212345678").unwrap_err().reason.contains("di động"));
        assert!(phone("09123abc78").unwrap_err().reason.contains("chữ số"));
        assert_eq!(phone("123").unwrap_err().field, Field::Phone);
    }

    #[test]
    fn cccd_must_agree_with_gender_and_birth_year() {
        // 038 Thanh Hóa, 1 = female 1900s, 57 = 1957.
        assert_eq!(
            cccd("038 157 000123", Gender::Female, 1957).unwrap(),
            "038157000123"
        );
        assert!(cccd("038157000123", Gender::Male, 1957)
            .unwrap_err()
            .reason
            .contains("giới tính"));
        assert!(cccd("038157000123", Gender::Female, 1958)
            .unwrap_err()
            .reason
            .contains("năm sinh"));
        assert!(cccd("038203000123", Gender::Male, 2003).is_ok());
        assert!(cccd("03815700012", Gender::Female, 1957).is_err());
        assert!(cccd("003157000123", Gender::Female, 1957)
            .unwrap_err()
            .reason
            .contains("mã tỉnh"));
        assert!(cccd("038757000123", Gender::Female, 1957).is_err());
        // "Other" cannot be checked against the sex digit, but the year still is.
        assert!(cccd("038057000123", Gender::Other, 1957).is_ok());
    }

    #[test]
    fn genders_in_both_languages() {
        assert_eq!(gender("Nữ").unwrap(), Gender::Female);
        assert_eq!(gender("NAM").unwrap(), Gender::Male);
        assert_eq!(gender("khac").unwrap(), Gender::Other);
        assert!(gender("x").is_err());
    }

    #[test]
    fn births_as_year_or_date() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(birth("1957", today).unwrap().year, 1957);
        let b = birth("05/03/1962", today).unwrap();
        assert_eq!((b.year, b.date_iso().unwrap()), (1962, "1962-03-05".into()));
        assert!(birth("31/02/1962", today).is_err());
        assert!(birth("1800", today).is_err());
        assert!(birth("2030", today).is_err());
        assert!(birth("abc", today).is_err());
    }

    #[test]
    fn birth_errors_tell_a_bad_date_from_one_out_of_range() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let b = birth("1/2/1990", today).unwrap();
        assert_eq!(b.date_iso().unwrap(), "1990-02-01");
        assert!(birth("28/11/2026", today).is_ok());
        for bad in ["01/13/1990", "01/01/12345", "1/2/3/4", "01/01/"] {
            assert!(
                birth(bad, today)
                    .unwrap_err()
                    .reason
                    .contains("không phải năm"),
                "{bad}"
            );
        }
        assert!(birth("29/11/2026", today)
            .unwrap_err()
            .reason
            .contains("nằm ngoài khoảng"));
    }

    #[test]
    fn dates_and_clock_times_are_fixed_width() {
        let date = |raw: &str| iso_date(raw, Field::Date).map(|d| d.to_string());
        assert_eq!(date(" 2026-11-15 ").unwrap(), "2026-11-15");
        assert_eq!(date("+2026-11-15").unwrap(), "2026-11-15");
        assert_eq!(date("2024-02-29").unwrap(), "2024-02-29");
        for bad in [
            "2026-1-15",
            "2026-11-5",
            "26-11-15",
            "12026-11-15",
            "2026-02-29",
            "2026-11-15x",
            "2026/11/15",
            "20261115",
            "2026-11-15T07:00",
            "",
        ] {
            let e = iso_date(bad, Field::Date).unwrap_err();
            assert_eq!(e.field, Field::Date);
            assert_eq!(e.reason, format!("“{bad}” không phải ngày dạng YYYY-MM-DD"));
        }
        assert_eq!(clock_time(" 07:30 ").unwrap(), "07:30");
        assert_eq!(clock_time("00:00").unwrap(), "00:00");
        assert_eq!(clock_time("23:59").unwrap(), "23:59");
        for bad in [
            "7:30", "07:3", "24:00", "07:60", "07:30:00", "0730", "07.30", "",
        ] {
            let e = clock_time(bad).unwrap_err();
            assert_eq!(e.field, Field::Time);
            assert_eq!(e.reason, format!("“{bad}” không phải giờ dạng HH:MM"));
        }
    }
}
