//! Reports and targets: build the progress report over this laptop's records and write it as
//! XLSX, CSV or JSON; set and list the commune's targets. [`write_report_file`] is also how the
//! CLI writes the server's report, so both reports come out of one writer.

use crate::error::AppResult;
use crate::files::slug;
use crate::App;
use serde::{Deserialize, Serialize};
use sotay_core::report::{self, Breakdown, CommuneTarget, Report, ReportOptions};
use std::path::{Path, PathBuf};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ReportFormat {
    #[default]
    Xlsx,
    Csv,
    Json,
}

impl ReportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Xlsx => "xlsx",
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
        }
    }
}

/// What report to write: the period (`YYYY-MM-DD`, inclusive), the breakdowns (all when empty)
/// and the format.
#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    pub from: Option<String>,
    pub to: Option<String>,
    pub by: Vec<Breakdown>,
    pub format: ReportFormat,
}

impl ReportRequest {
    pub fn options(&self) -> ReportOptions {
        let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        ReportOptions {
            from: non_empty(&self.from),
            to: non_empty(&self.to),
            by: self.by.clone(),
        }
    }
}

/// The written file and the headline numbers, for the message beside the button.
#[derive(Debug, Clone, Serialize, TS)]
pub struct WrittenReport {
    pub path: String,
    pub sessions: u64,
    pub people: u64,
    pub people_confirmed: u64,
    pub attendances: u64,
}

/// Writes a built report in `format` to `path`.
pub fn write_report_file(
    report: &Report,
    format: ReportFormat,
    path: &Path,
) -> AppResult<WrittenReport> {
    match format {
        ReportFormat::Xlsx => report::write_xlsx(report, path)?,
        ReportFormat::Csv => report::write_csv(report, path)?,
        ReportFormat::Json => report::write_json(report, path)?,
    }
    Ok(WrittenReport {
        path: path.display().to_string(),
        sessions: report.sessions,
        people: report.totals.people,
        people_confirmed: report.people_confirmed,
        attendances: report.totals.attendances,
    })
}

impl App {
    pub fn report(&self, request: &ReportRequest) -> AppResult<Report> {
        Ok(self.store.with(|s| s.report(&request.options()))?)
    }

    /// Builds the report and writes it to `out`, or into the output folder under a name with
    /// the period.
    pub fn write_report(
        &self,
        request: &ReportRequest,
        out: Option<PathBuf>,
    ) -> AppResult<WrittenReport> {
        let report = self.report(request)?;
        let period = match (&report.from, &report.to) {
            (None, None) => "tat-ca".to_owned(),
            (from, to) => format!(
                "{}-den-{}",
                from.as_deref().unwrap_or("dau"),
                to.as_deref().unwrap_or("nay")
            ),
        };
        let commune = self.store.with(|s| s.team())?.commune_name;
        let name = format!(
            "bao-cao-{}-{period}.{}",
            slug(&commune),
            request.format.extension()
        );
        let path = self.output_path(out, &name)?;
        write_report_file(&report, request.format, &path)
    }

    pub fn set_target(&self, target: &CommuneTarget) -> AppResult<()> {
        Ok(self.store.with(|s| s.set_target(target))?)
    }

    pub fn targets(&self) -> AppResult<Vec<CommuneTarget>> {
        Ok(self.store.with(|s| s.targets())?)
    }
}
