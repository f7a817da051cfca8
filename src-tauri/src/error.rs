//! The one error type crossing into the web view: `{kind, message}`, where `kind` is stable for
//! the UI to react to and `message` is the core's Vietnamese text, shown as is.

use serde::Serialize;
use sotay_core::CoreError;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub kind: String,
    pub message: String,
    /// Per-field problems of a form, for showing beside each field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<sotay_core::FieldError>,
    /// A refused import's report (every bad row), for the preview.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<sotay_core::ImportReport>>,
}

impl CommandError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            fields: Vec::new(),
            report: None,
        }
    }
}

impl From<CoreError> for CommandError {
    fn from(e: CoreError) -> Self {
        let mut error = CommandError::new(e.kind(), e.to_string());
        match e {
            CoreError::Invalid(fields) => error.fields = fields,
            CoreError::ImportRejected(report) => error.report = Some(report),
            _ => {}
        }
        error
    }
}

impl From<sotay_sheets::SheetError> for CommandError {
    fn from(e: sotay_sheets::SheetError) -> Self {
        CommandError::new("sheet", e.to_string())
    }
}

pub type CommandResult<T> = Result<T, CommandError>;
