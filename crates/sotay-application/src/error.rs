//! The one error type of the use cases, and the shape in which front ends pass it on:
//! `{kind, message}` (plus the fields of a refused form, or the report of a refused import), with
//! `kind` stable for programs and `message` in Vietnamese for people.

use serde::Serialize;
use sotay_core::{CoreError, FieldError, ImportReport};
use sotay_sync::SyncError;
use ts_rs::TS;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("không in được danh sách: {0}")]
    Sheet(#[from] sotay_sheets::SheetError),
    #[error("không ghi được tệp {path}: {reason}")]
    File { path: String, reason: String },
    /// A request the application refuses, with why in both languages.
    #[error("{message}")]
    Refused {
        kind: &'static str,
        message: String,
        message_en: String,
    },
}

impl AppError {
    pub(crate) fn file(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        AppError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// The message for the English interface (the `Display` text is Vietnamese).
    pub fn message_en(&self) -> String {
        match self {
            AppError::Core(e) => e.message_en(),
            AppError::Sync(e) => e.message_en(),
            AppError::Sheet(e) => format!("could not print the sheet: {e}"),
            AppError::File { path, reason } => format!("could not write the file {path}: {reason}"),
            AppError::Refused { message_en, .. } => message_en.clone(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            AppError::Core(e) => e.kind(),
            AppError::Sync(e) => e.kind(),
            AppError::Sheet(_) => "sheet",
            AppError::File { .. } => "file",
            AppError::Refused { kind, .. } => kind,
        }
    }
}

/// An error as a front end hands it on (the desktop app's `{kind, message}`, the CLI's `--json`).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ErrorPayload {
    pub kind: String,
    pub message: String,
    /// The same, for the English interface.
    pub message_en: String,
    /// Per-field problems of a form, for showing beside each field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<FieldError>>", optional)]
    pub fields: Vec<FieldError>,
    /// A refused import's report (every bad row), for the preview.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub report: Option<Box<ImportReport>>,
}

impl ErrorPayload {
    pub fn new(kind: &str, message: impl Into<String>, message_en: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            message_en: message_en.into(),
            fields: Vec::new(),
            report: None,
        }
    }
}

impl From<AppError> for ErrorPayload {
    fn from(e: AppError) -> Self {
        let mut payload = ErrorPayload::new(e.kind(), e.to_string(), e.message_en());
        match e {
            AppError::Core(CoreError::Invalid(fields))
            | AppError::Sync(SyncError::Core(CoreError::Invalid(fields))) => {
                payload.fields = fields
            }
            AppError::Core(CoreError::ImportRejected(report)) => payload.report = Some(report),
            _ => {}
        }
        payload
    }
}

pub type AppResult<T> = Result<T, AppError>;
