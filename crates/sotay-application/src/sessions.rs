//! Sessions: record one with its attendance and outcomes, correct it later, list and read them,
//! print the attendance sheet to a PDF file.

use crate::error::AppResult;
use crate::files::{slug, write_file};
use crate::App;
use serde::Serialize;
use sotay_core::sheet::SheetOptions;
use sotay_core::{SessionDetail, SessionInput, SessionSummary};
use sotay_protocol::{SessionId, SessionV1};
use std::path::PathBuf;
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, TS)]
pub struct PrintedSheet {
    pub path: String,
    pub rows: u64,
    pub blank_rows: u64,
}

impl App {
    pub fn record_session(&self, input: SessionInput) -> AppResult<SessionDetail> {
        Ok(self.store.with(|s| s.add_session(input))?)
    }

    /// Corrects a past session; see `Store::edit_session`.
    pub fn edit_session(&self, id: SessionId, input: SessionInput) -> AppResult<SessionDetail> {
        Ok(self.store.with(|s| s.edit_session(id, input))?)
    }

    pub fn sessions(&self) -> AppResult<Vec<SessionSummary>> {
        Ok(self.store.with(|s| s.sessions())?)
    }

    pub fn session(&self, id: SessionId) -> AppResult<SessionDetail> {
        Ok(self.store.with(|s| s.session(id))?)
    }

    /// Lays out the session's attendance sheet and writes the PDF to `out`, or into the output
    /// folder under a name with the session's date. The store is free again while typst renders.
    pub fn print_sheet(
        &self,
        id: SessionId,
        options: &SheetOptions,
        out: Option<PathBuf>,
    ) -> AppResult<PrintedSheet> {
        let (data, session) = self
            .store
            .with(|s| Ok((s.sheet(id, options)?, s.session(id)?.session)))?;
        let pdf = sotay_sheets::render_pdf(&data)?;
        let path = self.output_path(out, &sheet_name(&session))?;
        let file = write_file(&path, &pdf)?;
        Ok(PrintedSheet {
            path: file.path,
            rows: data.rows.len() as u64,
            blank_rows: data.blank_rows.len() as u64,
        })
    }
}

/// "diem-danh-2026-12-05-0830-nha-van-hoa-thon-dong-3f9a2c.pdf": what the volunteer looks for
/// in the folder is the day and the place; the end of the session's ID keeps two sessions of
/// one day and place apart, and a reprint replaces the earlier print of the same session.
fn sheet_name(session: &SessionV1) -> String {
    let time = session
        .time
        .as_deref()
        .map(|t| format!("-{}", t.replace(':', "")))
        .unwrap_or_default();
    let id = session.id.to_string();
    let tail = &id[id.len() - 6..];
    format!(
        "diem-danh-{}{time}-{}-{tail}.pdf",
        session.date,
        slug(&session.place)
    )
}
