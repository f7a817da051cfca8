//! Report writers: JSON, CSV (long format: breakdown, group, metric, value) and XLSX (one sheet
//! per breakdown, numbers as numbers), all safe against spreadsheet formula injection.

use super::{Counts, Report};
use crate::error::{CoreError, CoreResult};
use std::path::Path;

/// A cell that a spreadsheet would read as a formula gets a leading apostrophe.
pub fn csv_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// A file that could not be written; the system's own words serve both languages.
pub(crate) fn file_error(path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
        reason_en: e.to_string(),
    }
}

const METRICS: [&str; 4] = [
    "Số người",
    "Lượt tham dự",
    "Lượt kỹ năng đã hướng dẫn, chưa đạt",
    "Lượt kỹ năng đạt",
];

fn metric_values(c: &Counts) -> [u64; 4] {
    [c.people, c.attendances, c.taught, c.achieved]
}

pub fn write_json(report: &Report, out: &Path) -> CoreResult<()> {
    let json = serde_json::to_vec_pretty(report).expect("reports serialise");
    std::fs::write(out, json).map_err(|e| file_error(out, e))
}

/// Long format, one value a row, so one file holds every breakdown and the targets.
pub fn write_csv(report: &Report, out: &Path) -> CoreResult<()> {
    let mut w = csv::Writer::from_path(out).map_err(|e| file_error(out, e))?;
    let mut row = |a: &str, b: &str, c: &str, v: String| {
        w.write_record([csv_safe(a), csv_safe(b), csv_safe(c), v])
            .map_err(|e| file_error(out, e))
    };
    row("Phân tích", "Nhóm", "Chỉ số", "Giá trị".into())?;
    for (m, v) in METRICS.iter().zip(metric_values(&report.totals)) {
        row("Tổng", "Tất cả", m, v.to_string())?;
    }
    row(
        "Tổng",
        "Tất cả",
        "Số người có kết quả đạt",
        report.people_confirmed.to_string(),
    )?;
    row("Tổng", "Tất cả", "Số buổi", report.sessions.to_string())?;
    for t in &report.breakdowns {
        for r in &t.rows {
            for (m, v) in METRICS.iter().zip(metric_values(&r.counts)) {
                row(&t.title, &r.group, m, v.to_string())?;
            }
        }
    }
    for t in &report.targets {
        let g = &t.commune_name;
        row(
            "Chỉ tiêu",
            g,
            "Dân số trưởng thành",
            t.adult_population.to_string(),
        )?;
        row("Chỉ tiêu", g, "Đã tiếp cận", t.reached.to_string())?;
        row(
            "Chỉ tiêu",
            g,
            "Tỷ lệ tiếp cận (%)",
            t.reached_pct.to_string(),
        )?;
        row(
            "Chỉ tiêu",
            g,
            "Chỉ tiêu kỹ năng cơ bản (%)",
            t.basic_target_pct.to_string(),
        )?;
        row("Chỉ tiêu", g, "Đã xác nhận", t.confirmed.to_string())?;
        row(
            "Chỉ tiêu",
            g,
            "Tỷ lệ xác nhận (%)",
            t.confirmed_pct.to_string(),
        )?;
        row(
            "Chỉ tiêu",
            g,
            "Chỉ tiêu xác nhận (%)",
            t.confirmed_target_pct.to_string(),
        )?;
    }
    w.flush().map_err(|e| file_error(out, e))
}

pub fn write_xlsx(report: &Report, out: &Path) -> CoreResult<()> {
    use rust_xlsxwriter::{Chart, Format, Workbook};
    let xerr = |e: rust_xlsxwriter::XlsxError| file_error(out, e);
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0");
    let mut book = Workbook::new();

    let sheet = book.add_worksheet().set_name("Tổng quan").map_err(xerr)?;
    sheet
        .write_string_with_format(0, 0, "BÁO CÁO BÌNH DÂN HỌC VỤ SỐ", &bold)
        .map_err(xerr)?;
    let period = format!(
        "Từ {} đến {}",
        report.from.as_deref().unwrap_or("đầu"),
        report.to.as_deref().unwrap_or("nay")
    );
    sheet.write_string(1, 0, &period).map_err(xerr)?;
    let totals = [
        report.sessions,
        report.totals.people,
        report.people_confirmed,
        report.totals.attendances,
        report.totals.taught,
        report.totals.achieved,
    ];
    // Each number with the one definition the app uses everywhere, so nobody misreads it.
    for (i, ((label, definition), v)) in super::DEFINITIONS.iter().zip(totals).enumerate() {
        sheet.write_string(3 + i as u32, 0, *label).map_err(xerr)?;
        sheet
            .write_number(3 + i as u32, 1, v as f64)
            .map_err(xerr)?;
        sheet
            .write_string(3 + i as u32, 2, *definition)
            .map_err(xerr)?;
    }
    sheet.set_column_width(0, 36).map_err(xerr)?;
    sheet.set_column_width(2, 100).map_err(xerr)?;

    for t in &report.breakdowns {
        // Sheet names are at most 31 characters; the titles are shorter.
        let sheet = book.add_worksheet().set_name(&t.title).map_err(xerr)?;
        sheet
            .write_string_with_format(0, 0, t.breakdown.group_header_vi(), &bold)
            .map_err(xerr)?;
        for (c, m) in METRICS.iter().enumerate() {
            sheet
                .write_string_with_format(0, 1 + c as u16, *m, &bold)
                .map_err(xerr)?;
        }
        for (r, row) in t.rows.iter().enumerate() {
            let r = 1 + r as u32;
            // write_string stores text, never a formula, whatever the text starts with.
            sheet.write_string(r, 0, &row.group).map_err(xerr)?;
            for (c, v) in metric_values(&row.counts).iter().enumerate() {
                sheet
                    .write_number(r, 1 + c as u16, *v as f64)
                    .map_err(xerr)?;
            }
        }
        sheet.set_column_width(0, 40).map_err(xerr)?;
        sheet.set_column_range_width(1, 4, 16).map_err(xerr)?;
        if !t.rows.is_empty() {
            // A native Excel chart over the table's own cells, so it follows any correction an
            // official makes in the sheet: people reached and skills achieved per group.
            let last = t.rows.len() as u32;
            let mut chart = Chart::new_column();
            chart.title().set_name(t.title.as_str());
            for col in [1u16, 4] {
                chart
                    .add_series()
                    .set_name((t.title.as_str(), 0, col))
                    .set_categories((t.title.as_str(), 1, 0, last, 0))
                    .set_values((t.title.as_str(), 1, col, last, col));
            }
            chart.set_width(720).set_height(360);
            sheet.insert_chart(1, 6, &chart).map_err(xerr)?;
        }
    }

    if !report.targets.is_empty() {
        let sheet = book.add_worksheet().set_name("Chỉ tiêu").map_err(xerr)?;
        let headers = [
            "Xã/Phường",
            "Dân số trưởng thành",
            "Đã tiếp cận",
            "Tỷ lệ tiếp cận (%)",
            "Chỉ tiêu kỹ năng cơ bản (%)",
            "Đạt chỉ tiêu",
            "Đã xác nhận",
            "Tỷ lệ xác nhận (%)",
            "Chỉ tiêu xác nhận (%)",
            "Đạt chỉ tiêu",
        ];
        for (c, h) in headers.iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, *h, &bold)
                .map_err(xerr)?;
        }
        let yes_no = |b: bool| if b { "Đạt" } else { "Chưa đạt" };
        for (r, t) in report.targets.iter().enumerate() {
            let r = 1 + r as u32;
            sheet.write_string(r, 0, &t.commune_name).map_err(xerr)?;
            sheet
                .write_number(r, 1, t.adult_population as f64)
                .map_err(xerr)?;
            sheet.write_number(r, 2, t.reached as f64).map_err(xerr)?;
            sheet
                .write_number_with_format(r, 3, t.reached_pct, &percent)
                .map_err(xerr)?;
            sheet
                .write_number(r, 4, f64::from(t.basic_target_pct))
                .map_err(xerr)?;
            sheet
                .write_string(r, 5, yes_no(t.basic_met))
                .map_err(xerr)?;
            sheet.write_number(r, 6, t.confirmed as f64).map_err(xerr)?;
            sheet
                .write_number_with_format(r, 7, t.confirmed_pct, &percent)
                .map_err(xerr)?;
            sheet
                .write_number(r, 8, f64::from(t.confirmed_target_pct))
                .map_err(xerr)?;
            sheet
                .write_string(r, 9, yes_no(t.confirmed_met))
                .map_err(xerr)?;
        }
        sheet.set_column_width(0, 30).map_err(xerr)?;
        sheet.set_column_range_width(1, 9, 18).map_err(xerr)?;
    }
    book.save(out).map_err(xerr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_cells_are_neutralised() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("+84"), "'+84");
        assert_eq!(csv_safe("-1"), "'-1");
        assert_eq!(csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_safe("Nguyễn"), "Nguyễn");
    }
}
