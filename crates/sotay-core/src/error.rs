//! The one error type of the core. Messages are Vietnamese, since they reach volunteers as they
//! are; `kind()` gives a stable machine name for the UI and the CLI's `--json` output.

use crate::import::ImportReport;
use crate::validate::Field;
use std::fmt;

/// One field of one input that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct FieldError {
    pub field: Field,
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field.label_vi(), self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("lỗi cơ sở dữ liệu: {0}")]
    Database(#[from] rusqlite::Error),

    #[error(
        "cơ sở dữ liệu có phiên bản lược đồ {found}, mới hơn bản này hỗ trợ ({supported}); \
         hãy cập nhật Sổ Tay"
    )]
    SchemaTooNew { found: i64, supported: i64 },

    #[error("chưa khởi tạo đội trên máy này: chạy `sotay init` trước")]
    NotInitialised,

    #[error("máy này đã được khởi tạo cho đội “{team}”")]
    AlreadyInitialised { team: String },

    #[error("{}", join_fields(.0))]
    Invalid(Vec<FieldError>),

    #[error("không tìm thấy {what} “{id}”")]
    NotFound { what: &'static str, id: String },

    #[error("không đọc được tệp {path}: {reason}")]
    File { path: String, reason: String },

    #[error("{}", .0.rejection_summary())]
    ImportRejected(Box<ImportReport>),

    #[error("máy này chưa đăng ký với máy chủ đồng bộ: chạy `sotay sync enroll` trước")]
    NotEnrolled,

    #[error("máy này đã đăng ký với máy chủ {server}")]
    AlreadyEnrolled { server: String },

    #[error("kho dữ liệu đang bị lỗi sau một sự cố trước đó; hãy mở lại Sổ Tay")]
    StoreUnavailable,

    #[error("không sao lưu được vào {path}: {reason}")]
    Backup { path: String, reason: String },
}

fn join_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl CoreError {
    pub fn invalid(field: Field, reason: impl Into<String>) -> Self {
        CoreError::Invalid(vec![FieldError {
            field,
            reason: reason.into(),
        }])
    }

    /// Stable name of the error's kind, for programs (UI, `--json`).
    pub fn kind(&self) -> &'static str {
        match self {
            CoreError::Database(_) => "database",
            CoreError::SchemaTooNew { .. } => "schema_too_new",
            CoreError::NotInitialised => "not_initialised",
            CoreError::AlreadyInitialised { .. } => "already_initialised",
            CoreError::Invalid(_) => "invalid",
            CoreError::NotFound { .. } => "not_found",
            CoreError::File { .. } => "file",
            CoreError::ImportRejected(_) => "import_rejected",
            CoreError::NotEnrolled => "not_enrolled",
            CoreError::AlreadyEnrolled { .. } => "already_enrolled",
            CoreError::StoreUnavailable => "store_unavailable",
            CoreError::Backup { .. } => "backup",
        }
    }
}

impl From<FieldError> for CoreError {
    fn from(e: FieldError) -> Self {
        CoreError::Invalid(vec![e])
    }
}

pub type CoreResult<T> = Result<T, CoreError>;
