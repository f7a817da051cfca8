//! The one error type of the sync engine. Messages are Vietnamese and say what to do, since they
//! reach volunteers as they are; `kind()` gives a stable machine name.

use sotay_core::CoreError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Core(#[from] CoreError),

    #[error("máy chủ từ chối ({kind}, HTTP {status}): {message}")]
    Server {
        status: u16,
        kind: String,
        message: String,
    },

    #[error("không kết nối được máy chủ {server}: {reason}. Kiểm tra mạng rồi thử lại; dữ liệu vẫn an toàn trên máy này")]
    Network { server: String, reason: String },

    #[error("địa chỉ máy chủ “{0}” không hợp lệ (ví dụ đúng: http://192.168.1.10:8080)")]
    BadServerAddress(String),
}

impl SyncError {
    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::Core(e) => e.kind(),
            SyncError::Server { .. } => "server",
            SyncError::Network { .. } => "network",
            SyncError::BadServerAddress(_) => "invalid",
        }
    }
}

pub type SyncResult<T> = Result<T, SyncError>;
