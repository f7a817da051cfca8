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
    /// The same, for the English interface.
    pub reason_en: String,
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
    File {
        path: String,
        reason: String,
        reason_en: String,
    },

    #[error("{}", .0.rejection_summary())]
    ImportRejected(Box<ImportReport>),

    #[error("máy này chưa đăng ký với máy chủ đồng bộ: chạy `sotay sync enroll` trước")]
    NotEnrolled,

    #[error("máy này đã đăng ký với máy chủ {server}")]
    AlreadyEnrolled { server: String },

    #[error("mã đăng ký này thuộc đội “{code_team}”, không phải đội “{local_team}” của máy này")]
    OtherTeam {
        code_team: String,
        local_team: String,
    },

    #[error("kho dữ liệu đang bị lỗi sau một sự cố trước đó; hãy mở lại Sổ Tay")]
    StoreUnavailable,

    #[error("tệp {path} không đọc được: không phải dữ liệu Sổ Tay, hoặc đã bị hỏng")]
    Unreadable { path: String },

    #[error("không sao lưu được vào {path}: {reason}")]
    Backup { path: String, reason: String },

    #[error("mật khẩu cần ít nhất {min} ký tự (nên là một câu dễ nhớ, khó đoán)")]
    WeakPassphrase { min: usize },

    #[error("mật khẩu không đúng (hoặc tệp {path} không phải dữ liệu Sổ Tay)")]
    WrongPassphrase { path: String },

    #[error("đã nhập sai mật khẩu nhiều lần: hãy thử lại sau {wait_seconds} giây")]
    TooManyAttempts { wait_seconds: i64 },

    #[error("không mã hóa được {path}: {reason}; tệp cũ vẫn còn nguyên")]
    Encrypting { path: String, reason: String },

    #[error("không tính được khóa của kho dữ liệu: {reason}")]
    Unlocking { reason: String },

    #[error("thông tin cá nhân của người dân “{id}” đã được xóa theo yêu cầu; không sửa được")]
    Erased { id: String },

    #[error("không dùng lại được giá trị này: {reason}")]
    ValueRefused { reason: String, reason_en: String },
}

/// What a `NotFound` is about, in English.
fn what_en(what: &str) -> &str {
    match what {
        "người dân" => "citizen",
        "buổi hướng dẫn" | "buổi" => "session",
        "đội" => "team",
        "xung đột" => "conflict",
        other => other,
    }
}

fn join_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl CoreError {
    pub fn invalid(field: Field, reason: impl Into<String>, reason_en: impl Into<String>) -> Self {
        CoreError::Invalid(vec![FieldError {
            field,
            reason: reason.into(),
            reason_en: reason_en.into(),
        }])
    }

    /// The message for the English interface (the `Display` text is Vietnamese).
    pub fn message_en(&self) -> String {
        match self {
            CoreError::Database(e) => format!("database error: {e}"),
            CoreError::SchemaTooNew { found, supported } => format!(
                "the database has schema version {found}, newer than this version of Sổ Tay \
                 supports ({supported}): update Sổ Tay"
            ),
            CoreError::NotInitialised => "this laptop has no team yet: set one up first".into(),
            CoreError::AlreadyInitialised { team } => {
                format!("this laptop is already set up for the team “{team}”")
            }
            CoreError::Invalid(fields) => fields
                .iter()
                .map(|f| format!("{}: {}", f.field.label_en(), f.reason_en))
                .collect::<Vec<_>>()
                .join("; "),
            CoreError::NotFound { what, id } => format!("{} “{id}” not found", what_en(what)),
            CoreError::File {
                path, reason_en, ..
            } => format!("could not read the file {path}: {reason_en}"),
            CoreError::ImportRejected(report) => report.rejection_summary_en(),
            CoreError::NotEnrolled => {
                "this laptop is not enrolled with a sync server yet: enrol it first".into()
            }
            CoreError::AlreadyEnrolled { server } => {
                format!("this laptop is already enrolled with the server {server}")
            }
            CoreError::OtherTeam {
                code_team,
                local_team,
            } => format!(
                "this enrolment code is for the team “{code_team}”, not this laptop's team “{local_team}”"
            ),
            CoreError::StoreUnavailable => {
                "the data store failed after an earlier error: restart Sổ Tay".into()
            }
            CoreError::Unreadable { path } => {
                format!("the file {path} cannot be read: it is not Sổ Tay data, or it is damaged")
            }
            CoreError::Backup { path, reason } => {
                format!("could not back up to {path}: {reason}")
            }
            CoreError::WeakPassphrase { min } => format!(
                "the passphrase needs at least {min} characters (a sentence easy to remember, hard to guess)"
            ),
            CoreError::WrongPassphrase { path } => {
                format!("wrong passphrase (or {path} is not Sổ Tay data)")
            }
            CoreError::TooManyAttempts { wait_seconds } => format!(
                "too many wrong passphrases: try again in {wait_seconds} seconds"
            ),
            CoreError::Encrypting { path, reason } => {
                format!("could not encrypt {path}: {reason}; the old file is intact")
            }
            CoreError::Unlocking { reason } => format!("could not compute the store's key: {reason}"),
            CoreError::ValueRefused { reason_en, .. } => {
                format!("this value cannot be used again: {reason_en}")
            }
            CoreError::Erased { id } => format!(
                "the personal data of citizen “{id}” was erased at their request; it cannot be edited"
            ),
        }
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
            CoreError::OtherTeam { .. } => "other_team",
            CoreError::StoreUnavailable => "store_unavailable",
            CoreError::Unreadable { .. } => "unreadable",
            CoreError::Backup { .. } => "backup",
            CoreError::WeakPassphrase { .. } => "weak_passphrase",
            CoreError::WrongPassphrase { .. } => "wrong_passphrase",
            CoreError::TooManyAttempts { .. } => "too_many_attempts",
            CoreError::Encrypting { .. } => "encrypting",
            CoreError::Unlocking { .. } => "unlocking",
            CoreError::Erased { .. } => "erased",
            CoreError::ValueRefused { .. } => "value_refused",
        }
    }
}

impl From<FieldError> for CoreError {
    fn from(e: FieldError) -> Self {
        CoreError::Invalid(vec![e])
    }
}

pub type CoreResult<T> = Result<T, CoreError>;
