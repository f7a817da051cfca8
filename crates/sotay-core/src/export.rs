//! The citizen register exported as CSV or XLSX for officials, with personal numbers masked unless
//! asked for. Kept apart from reports: it lists people, where reports only count them.

use crate::error::CoreResult;
use crate::report::{commune_name, csv_safe, file_error};
use crate::validate::gender_vi;
use std::path::Path;

impl crate::Store {
    /// The citizen register as CSV or XLSX, in class-list order, with phone and CCCD masked to
    /// their last 3 digits unless `show_personal` is set.
    pub fn export_citizens(
        &self,
        out: &Path,
        xlsx: bool,
        show_personal: bool,
    ) -> CoreResult<usize> {
        let citizens = self.list_citizens(crate::citizens::CitizenSort::GivenName)?;
        let mask = |v: &Option<String>| match v {
            Some(v) if show_personal => v.clone(),
            Some(v) => crate::sheet::mask_phone(v),
            None => String::new(),
        };
        let headers = [
            "STT",
            "Họ và tên",
            "Giới tính",
            "Năm sinh",
            "Ngày sinh",
            "Thôn/Xóm",
            "Xã/Phường",
            "Số điện thoại",
            "Số CCCD",
            "Ghi chú",
        ];
        let rows: Vec<[String; 10]> = citizens
            .iter()
            .enumerate()
            .map(|(i, c)| {
                [
                    (i + 1).to_string(),
                    c.full_name.clone(),
                    gender_vi(c.gender).to_owned(),
                    c.birth_year.to_string(),
                    c.birth_date.clone().unwrap_or_default(),
                    c.village.clone(),
                    commune_name(&c.commune_code),
                    mask(&c.phone),
                    mask(&c.cccd),
                    c.note.clone().unwrap_or_default(),
                ]
            })
            .collect();
        if xlsx {
            use rust_xlsxwriter::{Format, Workbook};
            let xerr = |e: rust_xlsxwriter::XlsxError| file_error(out, e);
            let mut book = Workbook::new();
            let sheet = book.add_worksheet().set_name("Người dân").map_err(xerr)?;
            let bold = Format::new().set_bold();
            for (c, h) in headers.iter().enumerate() {
                sheet
                    .write_string_with_format(0, c as u16, *h, &bold)
                    .map_err(xerr)?;
            }
            for (r, row) in rows.iter().enumerate() {
                let r = 1 + r as u32;
                for (c, v) in row.iter().enumerate() {
                    if c == 0 || c == 3 {
                        sheet
                            .write_number(r, c as u16, v.parse::<f64>().unwrap_or(0.0))
                            .map_err(xerr)?;
                    } else {
                        sheet.write_string(r, c as u16, v).map_err(xerr)?;
                    }
                }
            }
            sheet.set_column_width(1, 28).map_err(xerr)?;
            book.save(out).map_err(xerr)?;
        } else {
            let mut w = csv::Writer::from_path(out).map_err(|e| file_error(out, e))?;
            w.write_record(headers).map_err(|e| file_error(out, e))?;
            for row in &rows {
                w.write_record(row.iter().map(|v| csv_safe(v)))
                    .map_err(|e| file_error(out, e))?;
            }
            w.flush().map_err(|e| file_error(out, e))?;
        }
        Ok(rows.len())
    }
}
