//! Import of commune citizen lists (CSV or XLSX). Reading turns a file into rows of raw text keyed
//! by known columns; every row is validated; then, in one transaction, new citizens are stored,
//! rows of people already registered (same CCCD, or same name and phone) are skipped, and rows
//! that may be someone registered are listed for the volunteer to decide (see `find_matches`). By default the file is all-or-nothing: one bad row
//! and nothing is stored, with every bad row listed. Row numbers are those a spreadsheet shows
//! (the header is row 1).

use crate::citizens::{
    find_matches, insert_citizen, validate_citizen, CitizenInput, DuplicateMatch, DuplicateReason,
};
use crate::error::{CoreError, CoreResult};
use crate::store::{today_vn, Store};
use crate::text;
use serde::Serialize;
use sotay_protocol::ConsentV1;
use std::collections::HashSet;
use std::path::Path;

/// Recorded as who collected consent for rows whose consent is in the list's own column.
pub const IMPORT_CONSENT_BY: &str =
    "Cột “Đồng ý” của danh sách do xã thu thập (the list's consent column)";

/// Who collected the consent of everyone on a list, and when: what a volunteer says when the
/// list itself has no consent column (the paper forms are kept by whoever is named here).
#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
pub struct ImportConsent {
    pub collected_by: String,
    /// `dd/mm/yyyy` or `YYYY-MM-DD`.
    pub date: String,
}

impl ImportConsent {
    /// The consent to record, or what is wrong with what was said.
    fn checked(&self) -> CoreResult<ConsentV1> {
        let by = crate::validate::required(&self.collected_by, crate::validate::Field::Consent)
            .map_err(|_| {
                CoreError::invalid(
                    crate::validate::Field::Consent,
                    "cần ghi tên người đã lấy sự đồng ý của người dân trong danh sách",
                    "name who collected the consent of the people on the list",
                )
            })?;
        let raw = self.date.trim();
        let date = match crate::validate::birth(raw, today_vn()) {
            Ok(crate::validate::Birth {
                date: Some(date), ..
            }) => date,
            _ => crate::validate::iso_date(raw, crate::validate::Field::Consent).map_err(|_| {
                CoreError::invalid(
                    crate::validate::Field::Consent,
                    format!(
                        "ngày lấy sự đồng ý “{raw}” không hợp lệ (dd/mm/yyyy, không sau hôm nay)"
                    ),
                    format!("the consent date “{raw}” is not valid (dd/mm/yyyy, not after today)"),
                )
            })?,
        };
        if date > today_vn() {
            return Err(CoreError::invalid(
                crate::validate::Field::Consent,
                format!("ngày lấy sự đồng ý “{raw}” ở tương lai"),
                format!("the consent date “{raw}” is in the future"),
            ));
        }
        Ok(ConsentV1 {
            given: true,
            date: date.to_string(),
            recorded_by: by,
        })
    }
}

/// What a consent cell says: yes, no, or nothing.
fn consent_cell(value: &str) -> bool {
    matches!(
        text::fold(value).as_str(),
        "co" | "x" | "yes" | "y" | "1" | "dong y" | "true" | "da dong y"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
enum Column {
    FullName,
    Gender,
    Birth,
    Village,
    Phone,
    Cccd,
    Consent,
}

impl Column {
    const ALL: [Column; 7] = [
        Column::FullName,
        Column::Gender,
        Column::Birth,
        Column::Village,
        Column::Phone,
        Column::Cccd,
        Column::Consent,
    ];

    fn label_vi(self) -> &'static str {
        match self {
            Column::FullName => "Họ và tên",
            Column::Gender => "Giới tính",
            Column::Birth => "Năm sinh",
            Column::Village => "Thôn/Xóm",
            Column::Phone => "Số điện thoại",
            Column::Cccd => "Số CCCD",
            Column::Consent => "Đồng ý",
        }
    }

    fn required(self) -> bool {
        !matches!(self, Column::Phone | Column::Cccd | Column::Consent)
    }

    /// Recognises a header in Vietnamese or English, with or without diacritics.
    fn from_header(header: &str) -> Option<Self> {
        Some(match text::fold(header).as_str() {
            "ho va ten" | "ho ten" | "full name" | "name" | "ten" => Column::FullName,
            "gioi tinh" | "gender" | "sex" => Column::Gender,
            "nam sinh"
            | "ngay sinh"
            | "ngay thang nam sinh"
            | "birth year"
            | "birth"
            | "date of birth" => Column::Birth,
            "thon xom" | "thon" | "xom" | "thon ban" | "village" => Column::Village,
            "so dien thoai" | "dien thoai" | "sdt" | "phone" => Column::Phone,
            "so cccd" | "cccd" | "so dinh danh" | "so dinh danh ca nhan" => Column::Cccd,
            "dong y" | "consent" | "dong y ghi thong tin" | "dong y cho ghi thong tin" => {
                Column::Consent
            }
            _ => return None,
        })
    }
}

/// One bad cell (or a bad row when `column` is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub reason: String,
    /// The same, for the English interface.
    pub reason_en: String,
}

/// A row of the file and the registered people it is, or may be.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct MatchedRow {
    pub row: usize,
    pub full_name: String,
    pub birth_year: i32,
    pub birth_date: Option<String>,
    pub village: String,
    pub matches: Vec<DuplicateMatch>,
    /// Stored as a new person (for a possible duplicate: the volunteer said so).
    pub added: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Store the good rows even when some rows are bad.
    pub skip_invalid: bool,
    /// Validate and report only; store nothing (the UI's preview).
    pub dry_run: bool,
    /// Rows the volunteer decided are new people although they look like someone registered
    /// (listed in the preview as possible duplicates); every other possible duplicate is left out.
    pub add_anyway: Vec<usize>,
    /// Who collected everyone's consent, and when, for a list without a consent column. Without
    /// either, no row is stored: nobody is marked consented who was not.
    pub consent: Option<ImportConsent>,
}

impl ImportOptions {
    /// Options for a list whose people's consent `collected_by` collected on `date`.
    pub fn consented_by(collected_by: &str, date: &str) -> Self {
        Self {
            consent: Some(ImportConsent {
                collected_by: collected_by.to_owned(),
                date: date.to_owned(),
            }),
            ..Self::default()
        }
    }
}

/// What an import did (or, for a rejected file or a dry run, would do).
#[derive(Debug, Clone, Default, Serialize, ts_rs::TS)]
pub struct ImportReport {
    pub rows: usize,
    /// Rows that are (or would be) stored as new citizens.
    pub added: usize,
    pub committed: bool,
    /// Rows of people already in the register, or earlier in the same file: the same CCCD, or
    /// the same name and phone. Not stored again.
    pub already_registered: Vec<MatchedRow>,
    /// Rows that may be someone registered (the same name, birth year and village, nothing that
    /// tells them apart): left out unless the volunteer adds them (`add_anyway`), and listed
    /// either way so that nobody is dropped unseen.
    pub possible_duplicates: Vec<MatchedRow>,
    /// Rows stored as new people who share a phone with someone registered (a family's phone).
    pub shared_phone: Vec<MatchedRow>,
    pub invalid: Vec<RowError>,
}

impl ImportReport {
    pub(crate) fn rejection_summary(&self) -> String {
        let rows: HashSet<usize> = self.invalid.iter().map(|e| e.row).collect();
        let mut lines = vec![format!(
            "không nhập danh sách: {} dòng không hợp lệ, chưa lưu ai (dùng --skip-invalid để nhập các dòng hợp lệ)",
            rows.len()
        )];
        lines.extend(self.invalid.iter().map(|e| {
            if e.column.is_empty() {
                format!("  dòng {}: {}", e.row, e.reason)
            } else {
                format!("  dòng {}, cột {}: {}", e.row, e.column, e.reason)
            }
        }));
        lines.join("\n")
    }

    pub(crate) fn rejection_summary_en(&self) -> String {
        let rows: HashSet<usize> = self.invalid.iter().map(|e| e.row).collect();
        let mut lines = vec![format!(
            "list not imported: {} invalid rows, nobody stored (import the valid rows with \
             --skip-invalid, or from the app's preview)",
            rows.len()
        )];
        lines.extend(self.invalid.iter().map(|e| {
            if e.column.is_empty() {
                format!("  row {}: {}", e.row, e.reason_en)
            } else {
                format!("  row {}, column {}: {}", e.row, e.column, e.reason_en)
            }
        }));
        lines.join("\n")
    }
}

/// A data row: its spreadsheet row number and its known columns' text.
struct RawRow {
    row: usize,
    cells: Vec<(Column, String)>,
}

impl RawRow {
    fn get(&self, column: Column) -> Option<&str> {
        self.cells
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, v)| v.as_str())
    }
}

fn file_error(path: &Path, reason: impl Into<String>, reason_en: impl Into<String>) -> CoreError {
    CoreError::File {
        path: path.display().to_string(),
        reason: reason.into(),
        reason_en: reason_en.into(),
    }
}

/// Maps header cells to columns and checks the required ones are there.
fn map_headers(path: &Path, headers: &[String]) -> CoreResult<Vec<Option<Column>>> {
    let mapped: Vec<Option<Column>> = headers.iter().map(|h| Column::from_header(h)).collect();
    let missing: Vec<&str> = Column::ALL
        .iter()
        .filter(|c| c.required() && !mapped.contains(&Some(**c)))
        .map(|c| c.label_vi())
        .collect();
    if !missing.is_empty() {
        return Err(file_error(
            path,
            format!(
                "thiếu cột {} ở dòng tiêu đề (các cột cần có: Họ và tên, Giới tính, Năm sinh, Thôn/Xóm; \
                 tùy chọn: Số điện thoại, Số CCCD)",
                missing.join(", ")
            ),
            format!(
                "the header row has no column {} (needed: Họ và tên, Giới tính, Năm sinh, \
                 Thôn/Xóm; optional: Số điện thoại, Số CCCD)",
                missing.join(", ")
            ),
        ));
    }
    Ok(mapped)
}

fn rows_from_records(
    mapping: &[Option<Column>],
    records: impl Iterator<Item = (usize, Vec<String>)>,
) -> Vec<RawRow> {
    records
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
        .map(|(row, cells)| RawRow {
            row,
            cells: mapping
                .iter()
                .zip(cells)
                .filter_map(|(column, value)| column.map(|c| (c, value)))
                .collect(),
        })
        .collect()
}

fn read_csv(path: &Path, bytes: &[u8]) -> CoreResult<Vec<RawRow>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        file_error(
            path,
            format!(
                "không phải văn bản UTF-8 (byte {} không hợp lệ); hãy lưu lại tệp dạng “CSV UTF-8”",
                e.valid_up_to()
            ),
            format!(
                "not UTF-8 text (byte {} is invalid); save the file again as “CSV UTF-8”",
                e.valid_up_to()
            ),
        )
    })?;
    let header_line = text.lines().next().unwrap_or("");
    // Excel in a Vietnamese locale writes semicolons; elsewhere commas.
    let delimiter = if header_line.matches(';').count() > header_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| file_error(path, e.to_string(), e.to_string()))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mapping = map_headers(path, &headers)?;
    let mut records = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            file_error(
                path,
                format!("dòng {}: {e}", i + 2),
                format!("row {}: {e}", i + 2),
            )
        })?;
        // Spreadsheet rows count records, not text lines (a quoted cell may span lines).
        records.push((i + 2, record.iter().map(str::to_owned).collect()));
    }
    Ok(rows_from_records(&mapping, records.into_iter()))
}

fn read_xlsx(path: &Path, bytes: Vec<u8>) -> CoreResult<Vec<RawRow>> {
    use calamine::{Data, Reader, Xlsx};
    let mut workbook: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| {
        file_error(
            path,
            format!("không đọc được tệp Excel: {e}"),
            format!("not a readable Excel file: {e}"),
        )
    })?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| {
            file_error(
                path,
                "tệp Excel không có trang tính nào",
                "the Excel file has no sheet",
            )
        })?
        .map_err(|e| {
            file_error(
                path,
                format!("không đọc được trang tính đầu: {e}"),
                format!("the first sheet cannot be read: {e}"),
            )
        })?;
    let start_row = range.start().map_or(0, |(r, _)| r as usize);
    let mut rows = range.rows();
    let headers: Vec<String> = rows
        .next()
        .ok_or_else(|| file_error(path, "trang tính đầu trống", "the first sheet is empty"))?
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mapping = map_headers(path, &headers)?;
    let records = rows.enumerate().map(|(i, cells)| {
        let values = cells
            .iter()
            .zip(mapping.iter())
            .map(|(cell, column)| match (cell, column) {
                (Data::DateTime(dt), _) if dt.is_datetime() => {
                    let (year, month, day, ..) = dt.to_ymd_hms_milli();
                    format!("{day:02}/{month:02}/{year:04}")
                }
                // Excel stores numbers without their leading zero: 0912… becomes 912…, and a CCCD
                // from a province coded 001–096 loses its first zeros.
                (Data::Float(_) | Data::Int(_), Some(Column::Phone)) => {
                    let digits = number_text(cell);
                    if digits.len() == 9 {
                        format!("0{digits}")
                    } else {
                        digits
                    }
                }
                (Data::Float(_) | Data::Int(_), Some(Column::Cccd)) => {
                    format!("{:0>12}", number_text(cell))
                }
                (Data::Float(_) | Data::Int(_), _) => number_text(cell),
                _ => cell.to_string(),
            })
            .collect();
        // +1: rows are 1-based, +1 again: the header row.
        (start_row + i + 2, values)
    });
    Ok(rows_from_records(&mapping, records))
}

fn number_text(cell: &calamine::Data) -> String {
    match cell {
        calamine::Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

fn read_rows(path: &Path, bytes: Vec<u8>) -> CoreResult<Vec<RawRow>> {
    let is_zip = bytes.starts_with(b"PK\x03\x04");
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("xlsx") | Some("xlsm") => read_xlsx(path, bytes),
        Some("csv") | Some("txt") => read_csv(path, &bytes),
        _ if is_zip => read_xlsx(path, bytes),
        Some("xls") => Err(file_error(
            path,
            "định dạng .xls cũ chưa được hỗ trợ; hãy lưu lại thành .xlsx hoặc CSV UTF-8",
            "the old .xls format is not supported; save the file as .xlsx or CSV UTF-8",
        )),
        _ => read_csv(path, &bytes),
    }
}

impl Store {
    /// Imports a commune list. See the module docs for the rules.
    pub fn import_citizens(
        &mut self,
        path: &Path,
        options: ImportOptions,
    ) -> CoreResult<ImportReport> {
        let bytes =
            std::fs::read(path).map_err(|e| file_error(path, e.to_string(), e.to_string()))?;
        self.import_citizens_from(&path.display().to_string(), bytes, options)
    }

    /// Imports a commune list already read into memory (the desktop app's file picker);
    /// `name` is the file's name, for its extension and for messages.
    pub fn import_citizens_from(
        &mut self,
        name: &str,
        bytes: Vec<u8>,
        options: ImportOptions,
    ) -> CoreResult<ImportReport> {
        let team = self.team()?;
        let said = options
            .consent
            .as_ref()
            .map(ImportConsent::checked)
            .transpose()?;
        let rows = read_rows(Path::new(name), bytes)?;
        let mut report = ImportReport {
            rows: rows.len(),
            ..ImportReport::default()
        };
        let mut drafts = Vec::new();
        for raw in &rows {
            let input = CitizenInput {
                full_name: raw.get(Column::FullName).unwrap_or_default().to_owned(),
                gender: raw.get(Column::Gender).unwrap_or_default().to_owned(),
                birth: raw.get(Column::Birth).unwrap_or_default().to_owned(),
                village: raw.get(Column::Village).unwrap_or_default().to_owned(),
                phone: raw.get(Column::Phone).map(str::to_owned),
                cccd: raw.get(Column::Cccd).map(str::to_owned),
                // The list's own column decides where there is one; else what the volunteer said
                // of the whole list; else nobody has consented.
                consent: match raw.get(Column::Consent) {
                    Some(cell) => consent_cell(cell),
                    None => said.is_some(),
                },
                ..CitizenInput::default()
            };
            let consent = match raw.get(Column::Consent) {
                Some(_) => ConsentV1 {
                    given: true,
                    date: today_vn().to_string(),
                    recorded_by: IMPORT_CONSENT_BY.to_owned(),
                },
                None => said.clone().unwrap_or_else(|| ConsentV1 {
                    given: false,
                    date: String::new(),
                    recorded_by: String::new(),
                }),
            };
            let no_consent_info = raw.get(Column::Consent).is_none() && said.is_none();
            match validate_citizen(&input) {
                Ok(draft) => drafts.push((raw.row, draft, consent)),
                Err(errors) => report.invalid.extend(errors.into_iter().map(|e| {
                    let (reason, reason_en) =
                        if e.field == crate::validate::Field::Consent && no_consent_info {
                            (
                            "danh sách không cho biết người này đã đồng ý: thêm cột “Đồng ý”, \
                             hoặc cho biết ai đã lấy sự đồng ý và ngày nào"
                                .to_owned(),
                            "the list does not say this person consented: add a “Đồng ý” column, \
                             or say who collected the consent and when"
                                .to_owned(),
                        )
                        } else {
                            (e.reason, e.reason_en)
                        };
                    RowError {
                        row: raw.row,
                        column: e.field.label_vi().to_owned(),
                        reason,
                        reason_en,
                    }
                })),
            }
        }
        let reject = !report.invalid.is_empty() && !options.skip_invalid;
        let tx = self.conn.transaction()?;
        // Earlier rows of the file are stored in this transaction, so a row repeated later in
        // the file is judged against them like anyone registered.
        for (row, draft, consent) in drafts {
            let matches = find_matches(&tx, &draft)?;
            let mut matched = MatchedRow {
                row,
                full_name: draft.full_name.clone(),
                birth_year: draft.birth_year,
                birth_date: draft.birth_date.clone(),
                village: draft.village.clone(),
                added: false,
                matches,
            };
            let certain = matched.matches.iter().any(|m| m.reason.is_certain());
            let possible = matched
                .matches
                .iter()
                .any(|m| m.reason == DuplicateReason::SameNameBirthVillage);
            if certain {
                report.already_registered.push(matched);
                continue;
            }
            if possible && !options.add_anyway.contains(&row) {
                report.possible_duplicates.push(matched);
                continue;
            }
            insert_citizen(
                &tx,
                self.device,
                team.team.id,
                &team.team.commune_code,
                draft,
                consent,
            )?;
            report.added += 1;
            matched.added = true;
            if possible {
                report.possible_duplicates.push(matched);
            } else if !matched.matches.is_empty() {
                report.shared_phone.push(matched);
            }
        }
        // Dropping the transaction rolls back: a preview or a rejected file stores nothing.
        if options.dry_run {
            return Ok(report);
        }
        if reject {
            return Err(CoreError::ImportRejected(Box::new(report)));
        }
        tx.commit()?;
        report.committed = true;
        Ok(report)
    }
}
