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

    #[error("không kết nối được máy chủ {server}: {}. Kiểm tra mạng rồi thử lại; dữ liệu vẫn an toàn trên máy này", .failure.vi())]
    Network {
        server: String,
        failure: NetworkFailure,
    },

    #[error("địa chỉ máy chủ “{0}” không hợp lệ (ví dụ đúng: http://192.168.1.10:8080)")]
    BadServerAddress(String),
}

/// What went wrong on the way to the server, in words a volunteer can act on.
#[derive(Debug, Clone)]
pub enum NetworkFailure {
    Timeout,
    Connect,
    Interrupted(String),
    TooLarge,
    BadAnswer(String),
}

impl NetworkFailure {
    fn vi(&self) -> String {
        match self {
            NetworkFailure::Timeout => "máy chủ không trả lời kịp (hết thời gian chờ)".into(),
            NetworkFailure::Connect => {
                "không mở được kết nối (máy chủ tắt, sai địa chỉ, hoặc chưa có mạng)".into()
            }
            NetworkFailure::Interrupted(e) => format!("kết nối bị ngắt giữa chừng ({e})"),
            NetworkFailure::TooLarge => "câu trả lời quá lớn".into(),
            NetworkFailure::BadAnswer(e) => format!("câu trả lời hỏng: {e}"),
        }
    }

    fn en(&self) -> String {
        match self {
            NetworkFailure::Timeout => "the server did not answer in time".into(),
            NetworkFailure::Connect => {
                "no connection could be opened (server off, wrong address, or no network)".into()
            }
            NetworkFailure::Interrupted(e) => format!("the connection broke off ({e})"),
            NetworkFailure::TooLarge => "the answer is too large".into(),
            NetworkFailure::BadAnswer(e) => format!("the answer is damaged: {e}"),
        }
    }
}

impl SyncError {
    /// The message for the English interface (the `Display` text is Vietnamese).
    pub fn message_en(&self) -> String {
        match self {
            SyncError::Core(e) => e.message_en(),
            SyncError::Server {
                status,
                kind,
                message,
            } => format!("the server refused ({kind}, HTTP {status}): {message}"),
            SyncError::Network { server, failure } => format!(
                "could not reach the server {server}: {}. Check the connection and try again; \
                 the data is safe on this laptop",
                failure.en()
            ),
            SyncError::BadServerAddress(address) => format!(
                "“{address}” is not a server address (for example: http://192.168.1.10:8080)"
            ),
        }
    }

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
