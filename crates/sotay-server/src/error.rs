//! The server's error type. Each variant maps to an HTTP status and a stable `kind`; the body is
//! `{"error": {"kind", "message"}}`. Causes are logged without personal data; the body never
//! carries database internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sotay_protocol::sync::{ErrorBody, ErrorDetail};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("phiên bản giao thức {got:?} không được hỗ trợ; máy chủ dùng phiên bản {supported}")]
    ProtocolVersion { got: Option<String>, supported: u32 },
    #[error("thiếu hoặc sai mã thiết bị (token)")]
    Unauthorized,
    #[error("thiết bị đã bị thu hồi quyền đồng bộ")]
    Revoked,
    #[error("{0}")]
    Forbidden(String),
    #[error("mã đăng ký không hợp lệ, đã dùng hoặc đã hết hạn")]
    BadEnrolmentCode,
    #[error("thứ tự bản ghi bị hở: máy chủ chờ số {expected}")]
    SequenceGap { expected: u64 },
    #[error("bản ghi số {seq} của máy này đã có trên máy chủ với nội dung khác: máy được khôi phục từ bản sao cũ; hãy cập nhật Sổ Tay để đồng bộ lại an toàn")]
    SequenceReused { seq: u64 },
    #[error("yêu cầu không hợp lệ: {0}")]
    BadRequest(String),
    #[error("yêu cầu quá lớn: {0}")]
    TooLarge(String),
    #[error("không tìm thấy {0}")]
    NotFound(String),
    #[error("lỗi cơ sở dữ liệu")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("lỗi máy chủ: {0}")]
    Internal(String),
    #[error("máy chủ đang bận; thử lại sau ít phút")]
    Busy,
    #[error("quá nhiều lần đăng ký từ địa chỉ này; thử lại sau một giờ")]
    TooManyAttempts,
}

pub type ServerResult<T> = Result<T, ServerError>;

impl ServerError {
    pub fn kind(&self) -> &'static str {
        match self {
            ServerError::ProtocolVersion { .. } => "protocol_version",
            ServerError::Unauthorized => "unauthorized",
            ServerError::Revoked => "revoked",
            ServerError::Forbidden(_) => "forbidden",
            ServerError::BadEnrolmentCode => "bad_enrolment_code",
            ServerError::SequenceGap { .. } => "sequence_gap",
            ServerError::SequenceReused { .. } => "sequence_reused",
            ServerError::BadRequest(_) => "bad_request",
            ServerError::TooLarge(_) => "too_large",
            ServerError::NotFound(_) => "not_found",
            ServerError::Database(_) => "database",
            ServerError::Internal(_) => "internal",
            ServerError::Busy => "busy",
            ServerError::TooManyAttempts => "too_many_attempts",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ServerError::ProtocolVersion { .. } | ServerError::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            ServerError::Unauthorized | ServerError::Revoked => StatusCode::UNAUTHORIZED,
            ServerError::Forbidden(_) | ServerError::BadEnrolmentCode => StatusCode::FORBIDDEN,
            ServerError::SequenceGap { .. } | ServerError::SequenceReused { .. } => {
                StatusCode::CONFLICT
            }
            ServerError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::NotFound(_) => StatusCode::NOT_FOUND,
            ServerError::Database(_) | ServerError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ServerError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ServerError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub(crate) fn already_enrolled(device: sotay_protocol::DeviceId) -> Self {
        ServerError::Forbidden(format!(
            "thiết bị {device} đã đăng ký; thu hồi nó trước khi đăng ký lại"
        ))
    }

    pub(crate) fn other_team(device: sotay_protocol::DeviceId) -> Self {
        ServerError::Forbidden(format!(
            "thiết bị {device} thuộc một đội khác: mã đăng ký này không dùng được cho nó"
        ))
    }

    pub(crate) fn db(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ServerError::Database(Box::new(e))
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The cause may quote SQL but never record contents: payloads are bound parameters.
            tracing::error!(kind = self.kind(), cause = ?self, "request failed");
        } else {
            tracing::info!(kind = self.kind(), "request refused");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind().to_owned(),
                message: self.to_string(),
                expected_seq: match self {
                    ServerError::SequenceGap { expected } => Some(expected),
                    _ => None,
                },
            },
        };
        (status, axum::Json(body)).into_response()
    }
}
