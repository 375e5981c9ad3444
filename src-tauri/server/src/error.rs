//! Every failure of the API is `{"error":{"code","message"}}` with a 4xx status when the request
//! is at fault — never a 5xx for bad input, never a panic. Codes are the core's (README). A 5xx
//! is the server's own trouble: its message (which may name files, keys' stores, database
//! errors) goes to the log under a request id, and the client gets only the code and that id.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use twitcher_core::error::ErrorCode;
use twitcher_core::{Error, ErrorBody};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds, for 429s.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error of the API layer itself; its status is the code's ([`ErrorCode::http_status`]).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status: status_of(code), body: ErrorBody { code, message: message.into() }, retry_after: None }
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "sign in first: send Authorization: Bearer <token from /api/auth/login>")
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no {what} with that id"))
    }

    pub fn too_many(retry_after: u64) -> Self {
        let mut e = Self::new(ErrorCode::LoginThrottled, format!("too many sign-in attempts: wait {retry_after} s"));
        e.retry_after = Some(retry_after);
        e
    }

    /// 429 `rate_limited`, with Retry-After.
    pub fn rate_limited(what: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(ErrorCode::RateLimited, what);
        e.retry_after = Some(retry_after);
        e
    }

    /// A failed read or write of the server's own files: 507 when the disk is full.
    pub fn io(context: &str, e: &std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(28) => Self::new(ErrorCode::DiskFull, format!("{context}: the server's disk is full")),
            _ => Self::new(ErrorCode::Io, format!("{context}: {}", e.kind())),
        }
    }
}

fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let retry_after = match &e {
            Error::Profile(twitcher_core::profiles::ProfileError::Throttled { retry_after_secs }) => Some(*retry_after_secs),
            _ => None,
        };
        let body = e.body();
        Self { status: status_of(body.code), body, retry_after }
    }
}

macro_rules! from_core {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                Error::from(e).into()
            }
        }
    )*};
}
from_core!(
    twitcher_core::accounts::AccountError,
    twitcher_core::library::LibraryError,
    twitcher_core::broadcast::BroadcastError,
    twitcher_core::playlists::PlaylistError,
    twitcher_core::schedules::ScheduleError,
    twitcher_core::profiles::ProfileError,
    twitcher_core::twitch::TwitchError,
    twitcher_core::vault::VaultError,
    twitcher_core::DbError
);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let code = if r.status() == StatusCode::PAYLOAD_TOO_LARGE { ErrorCode::TooLarge } else { ErrorCode::InvalidInput };
        Self::new(code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::invalid(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::invalid(r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        if self.status.is_server_error() {
            let request_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
            tracing::error!(request_id = %request_id, code = %self.body.code, message = %self.body.message, "request failed");
            self.body.message = format!("internal error: the server's log has the details (request id {request_id})");
        }
        let mut response = (self.status, axum::Json(serde_json::json!({ "error": self.body }))).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `{"error": {"code", "message"}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}
