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

    #[error("địa chỉ máy chủ “{0}” không hợp lệ (ví dụ đúng: https://192.168.1.10:8443)")]
    BadServerAddress(String),

    #[error("không gửi dữ liệu qua “{0}”: http:// không mã hóa, ai trên mạng cũng đọc được. Hãy dùng địa chỉ https:// của máy chủ")]
    PlainHttp(String),

    #[error("chứng chỉ của máy chủ {server} đã khác lúc đăng ký (lúc đó {expected}, nay {got}): có thể là máy giả mạo. Chưa gửi gì; hỏi cán bộ quản lý máy chủ trước khi đăng ký lại")]
    CertificateChanged {
        server: String,
        expected: String,
        got: String,
    },

    #[error("dấu vân tay chứng chỉ “{0}” không hợp lệ: cần 64 chữ số hex (như `sotay server enroll` in ra)")]
    BadFingerprint(String),
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
                "“{address}” is not a server address (for example: https://192.168.1.10:8443)"
            ),
            SyncError::PlainHttp(address) => format!(
                "nothing is sent to “{address}”: http:// is not encrypted and anyone on the \
                 network can read it. Use the server's https:// address"
            ),
            SyncError::CertificateChanged {
                server,
                expected,
                got,
            } => format!(
                "the certificate of the server {server} is not the one seen at enrolment (then \
                 {expected}, now {got}): it may be an impostor. Nothing was sent; ask the \
                 server's administrator before enrolling again"
            ),
            SyncError::BadFingerprint(typed) => format!(
                "the certificate fingerprint “{typed}” is not valid: it takes 64 hex digits (as \
                 `sotay server enroll` prints it)"
            ),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::Core(e) => e.kind(),
            SyncError::Server { .. } => "server",
            SyncError::Network { .. } => "network",
            SyncError::BadServerAddress(_) | SyncError::BadFingerprint(_) => "invalid",
            SyncError::PlainHttp(_) => "insecure",
            SyncError::CertificateChanged { .. } => "certificate_changed",
        }
    }
}

pub type SyncResult<T> = Result<T, SyncError>;
