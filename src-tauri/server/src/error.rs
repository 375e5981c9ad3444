//! Every failure of the API is `{"error":{"code","message"}}` with a 4xx status when the request
//! is at fault — never a 5xx for bad input, never a panic. Codes are the core's (README).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use twitcher_core::{Error, ErrorBody};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds, for 429s.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, body: ErrorBody { code: code.into(), message: message.into() }, retry_after: None }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign in first: send Authorization: Bearer <token from /api/auth/login>")
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no {what} with that id"))
    }

    pub fn with_code(mut self, code: &str) -> Self {
        self.body.code = code.into();
        self
    }

    pub fn too_many(retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "login_throttled", format!("too many sign-in attempts: wait {retry_after} s"));
        e.retry_after = Some(retry_after);
        e
    }
}

/// The HTTP status of a core error code.
fn status_of(code: &str) -> StatusCode {
    match code {
        "invalid_input" | "invalid_ingest" | "malformed_uuid" | "invalid_name" | "import_rejected" | "no_stream_key" => StatusCode::BAD_REQUEST,
        "unknown_profile" => StatusCode::UNAUTHORIZED,
        "not_admin" | "plan_limit" => StatusCode::FORBIDDEN,
        c if c.ends_with("_not_found") => StatusCode::NOT_FOUND,
        "duplicate_channel" | "video_in_use" | "already_started" | "broadcast_cancelled" => StatusCode::CONFLICT,
        "login_throttled" | "twitch_rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "twitch_unreachable" | "twitch_error" | "s3_error" => StatusCode::BAD_GATEWAY,
        c if c.starts_with("twitch_") => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let retry_after = match &e {
            Error::Profile(twitcher_core::profiles::ProfileError::Throttled { retry_after_secs }) => Some(*retry_after_secs),
            _ => None,
        };
        let body = e.body();
        let status = status_of(&body.code);
        if status.is_server_error() {
            tracing::error!(code = %body.code, message = %body.message, "request failed");
        }
        Self { status, body, retry_after }
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
    twitcher_core::profiles::ProfileError,
    twitcher_core::twitch::TwitchError,
    twitcher_core::vault::VaultError,
    twitcher_core::DbError
);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = if r.status() == StatusCode::PAYLOAD_TOO_LARGE { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
        Self::new(status, "invalid_input", r.body_text())
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
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(serde_json::json!({ "error": self.body }))).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
