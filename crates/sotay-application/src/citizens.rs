//! The citizen register's use cases: add, edit (a patch), find, list, duplicates and merge,
//! import a commune list, export.

use crate::error::AppResult;
use crate::files::WrittenFile;
use crate::App;
use sotay_core::{
    AddedCitizen, CitizenInput, CitizenPage, CitizenPatch, CitizenSort, DuplicateGroup,
    ImportOptions, ImportReport,
};
use sotay_protocol::{CitizenId, CitizenV1};
use std::path::{Path, PathBuf};

/// How `citizen export` writes the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl App {
    pub fn add_citizen(&self, input: CitizenInput) -> AppResult<AddedCitizen> {
        Ok(self.store.with(|s| s.add_citizen(input))?)
    }

    /// Changes only the fields the patch names; groups, note and every field left out stay.
    pub fn update_citizen(&self, id: CitizenId, patch: CitizenPatch) -> AppResult<CitizenV1> {
        Ok(self.store.with(|s| s.update_citizen(id, patch))?)
    }

    /// Erases the person's personal data at their request; sync carries it to the server and
    /// every teammate (see `sotay_core::Store::forget_citizen`).
    pub fn forget_citizen(&self, id: CitizenId) -> AppResult<CitizenV1> {
        Ok(self.store.with(|s| s.forget_citizen(id))?)
    }

    /// The person with every session they attended, skills taught and outcomes.
    pub fn citizen_history(&self, id: CitizenId) -> AppResult<sotay_core::CitizenHistory> {
        Ok(self.store.with(|s| s.citizen_history(id))?)
    }

    /// Marks a skill achieved after its session, confirmed by `confirmed_by` on `confirmed_on`
    /// (`YYYY-MM-DD`; today when None).
    pub fn mark_achieved(
        &self,
        citizen: CitizenId,
        session: sotay_protocol::SessionId,
        skill: &str,
        confirmed_by: &str,
        confirmed_on: Option<&str>,
    ) -> AppResult<sotay_core::CitizenHistory> {
        let today = chrono::Local::now().date_naive().to_string();
        let on = confirmed_on.unwrap_or(&today);
        Ok(self
            .store
            .with(|s| s.mark_achieved(citizen, session, skill, confirmed_by, on))?)
    }

    pub fn citizen(&self, id: CitizenId) -> AppResult<CitizenV1> {
        Ok(self.store.with(|s| s.citizen(id))?)
    }

    pub fn search_citizens(&self, query: &str, limit: usize) -> AppResult<Vec<CitizenV1>> {
        Ok(self.store.with(|s| s.search_citizens(query, limit))?)
    }

    /// One page of matches (best first) and how many match in all; an empty query pages
    /// through the register.
    pub fn search_page(&self, query: &str, offset: usize, limit: usize) -> AppResult<CitizenPage> {
        Ok(self.store.with(|s| s.search_page(query, offset, limit))?)
    }

    pub fn list_citizens(&self, sort: CitizenSort) -> AppResult<Vec<CitizenV1>> {
        Ok(self.store.with(|s| s.list_citizens(sort))?)
    }

    pub fn duplicates(&self) -> AppResult<Vec<DuplicateGroup>> {
        Ok(self.store.with(|s| s.duplicates())?)
    }

    /// Merges two records of one person; see `Store::merge_citizens`.
    pub fn merge_citizens(&self, keep: CitizenId, other: CitizenId) -> AppResult<CitizenV1> {
        Ok(self.store.with(|s| s.merge_citizens(keep, other))?)
    }

    pub fn import_citizens_file(
        &self,
        path: &Path,
        options: ImportOptions,
    ) -> AppResult<ImportReport> {
        Ok(self.store.with(|s| s.import_citizens(path, options))?)
    }

    /// A list the app's file picker read into memory; `name` gives its format. With
    /// `options.dry_run`, a preview: every row checked, nothing stored.
    pub fn import_citizens_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        options: ImportOptions,
    ) -> AppResult<ImportReport> {
        Ok(self
            .store
            .with(|s| s.import_citizens_from(name, bytes, options))?)
    }

    /// Writes the register (phone and CCCD masked unless `show_personal`); returns the file and
    /// how many people it lists.
    pub fn export_citizens(
        &self,
        format: ExportFormat,
        out: Option<PathBuf>,
        show_personal: bool,
    ) -> AppResult<(WrittenFile, usize)> {
        let name = match format {
            ExportFormat::Csv => "nguoi-dan.csv",
            ExportFormat::Xlsx => "nguoi-dan.xlsx",
        };
        let path = self.output_path(out, name)?;
        let count = self
            .store
            .with(|s| s.export_citizens(&path, format == ExportFormat::Xlsx, show_personal))?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok((
            WrittenFile {
                path: path.display().to_string(),
                bytes,
            },
            count,
        ))
    }
}
