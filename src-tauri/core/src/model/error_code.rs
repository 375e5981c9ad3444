//! The stable codes every surface shows: `{"code": "video_not_found", ...}`. A contract with
//! scripts and the UI, so it sits at the bottom where every area can name one.

use serde::{Deserialize, Serialize};

/// Defines [`ErrorCode`] and its string table together, so the two cannot drift apart.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// Every code a surface can show, serialised as the snake_case strings scripts match on
        /// (README's list). One enum so a new failure has to pick a code here, and the HTTP status
        /// of each is decided once, in [`ErrorCode::http_status`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order above (docs/cli.md's list and the tests walk it).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The string scripts see (`"video_not_found"`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    // The request itself.
    InvalidInput = "invalid_input",
    InvalidName = "invalid_name",
    InvalidIngest = "invalid_ingest",
    MalformedUuid = "malformed_uuid",
    UnknownPlan = "unknown_plan",
    NoStreamKey = "no_stream_key",
    ImportRejected = "import_rejected",
    ImportFailed = "import_failed",
    // Who is asking.
    Unauthorized = "unauthorized",
    UnknownProfile = "unknown_profile",
    NoActiveProfile = "no_active_profile",
    NotAdmin = "not_admin",
    PlanLimit = "plan_limit",
    RegistrationClosed = "registration_closed",
    LoginThrottled = "login_throttled",
    /// Too many at once from one client or profile (registrations, uploads, event streams):
    /// wait `Retry-After` seconds, or end one first.
    RateLimited = "rate_limited",
    /// A request body that stalled or came slower than the server's minimum rate.
    RequestTimeout = "request_timeout",
    /// The request named a host this server does not answer to (`serve --public-host`).
    WrongHost = "wrong_host",
    // What it names.
    NotFound = "not_found",
    MethodNotAllowed = "method_not_allowed",
    AccountNotFound = "account_not_found",
    VideoNotFound = "video_not_found",
    StreamNotFound = "stream_not_found",
    PlaylistNotFound = "playlist_not_found",
    ScheduleNotFound = "schedule_not_found",
    // The state it meets.
    DuplicateChannel = "duplicate_channel",
    VideoInUse = "video_in_use",
    DuplicatePlaylist = "duplicate_playlist",
    PlaylistInUse = "playlist_in_use",
    AlreadyStarted = "already_started",
    BroadcastCancelled = "broadcast_cancelled",
    NotRetryable = "not_retryable",
    Cancelled = "cancelled",
    TooLarge = "too_large",
    // Streaming.
    StreamFailed = "stream_failed",
    KeyRefused = "key_refused",
    PrepareFailed = "prepare_failed",
    SourceUnreadable = "source_unreadable",
    AccountError = "account_error",
    // Storage.
    S3NotConfigured = "s3_not_configured",
    S3Error = "s3_error",
    NotInS3 = "not_in_s3",
    FileMissing = "file_missing",
    DiskFull = "disk_full",
    Io = "io",
    // The vault.
    KeyMissing = "key_missing",
    KeyMismatch = "key_mismatch",
    KeyringUnavailable = "keyring_unavailable",
    KeyStore = "key_store",
    SecretTampered = "secret_tampered",
    // Twitch.
    TwitchNoClientId = "twitch_no_client_id",
    TwitchUnreachable = "twitch_unreachable",
    TwitchError = "twitch_error",
    TwitchMissingScope = "twitch_missing_scope",
    TwitchRateLimited = "twitch_rate_limited",
    TwitchDenied = "twitch_denied",
    TwitchCodeExpired = "twitch_code_expired",
    TwitchReconnectNeeded = "twitch_reconnect_needed",
    TwitchNotConnected = "twitch_not_connected",
    // This machine.
    Database = "database",
    Config = "config",
    Logging = "logging",
    FfmpegMissing = "ffmpeg_missing",
    /// A bug: something panicked (the log has where; the answer names a request id).
    Internal = "internal",
}

impl ErrorCode {
    /// The HTTP status `serve` answers with: 4xx whenever the request (or its sender) is at
    /// fault, 502 when Twitch or S3 failed us, 5xx only for this machine's own trouble.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidInput | InvalidName | InvalidIngest | MalformedUuid | UnknownPlan | NoStreamKey | ImportRejected
            | ImportFailed | KeyRefused => 400,
            Unauthorized | UnknownProfile | NoActiveProfile => 401,
            NotAdmin | PlanLimit | RegistrationClosed => 403,
            NotFound | AccountNotFound | VideoNotFound | StreamNotFound | PlaylistNotFound | ScheduleNotFound => 404,
            MethodNotAllowed => 405,
            DuplicateChannel | DuplicatePlaylist | PlaylistInUse | VideoInUse | AlreadyStarted | BroadcastCancelled | NotRetryable | Cancelled | S3NotConfigured | NotInS3 => 409,
            TwitchMissingScope | TwitchDenied | TwitchCodeExpired | TwitchReconnectNeeded | TwitchNotConnected
            | TwitchNoClientId => 409,
            TooLarge => 413,
            RequestTimeout => 408,
            WrongHost => 421,
            LoginThrottled | RateLimited | TwitchRateLimited => 429,
            TwitchUnreachable | TwitchError | S3Error => 502,
            DiskFull => 507,
            StreamFailed | PrepareFailed | SourceUnreadable | AccountError | FileMissing
            | Io | KeyMissing | KeyMismatch | KeyringUnavailable | KeyStore | SecretTampered | Database | Config
            | Logging | FfmpegMissing | Internal => 500,
        }
    }
}

/// Tests and scripts speak in the strings: `assert_eq!(body.code, "video_not_found")`.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_serialises_as_its_documented_string() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::Value::String(code.as_str().into()));
            assert_eq!(serde_json::from_value::<ErrorCode>(code.as_str().into()).unwrap(), *code);
        }
    }

    #[test]
    fn the_readme_lists_every_code_scripts_can_see() {
        // The README's reference page for scripts (the README links to it).
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md")).unwrap();
        let missing: Vec<_> = ErrorCode::ALL.iter().filter(|c| !readme.contains(&format!("`{}`", c.as_str()))).collect();
        assert!(missing.is_empty(), "README's list of error codes lacks {missing:?}");
    }

    #[test]
    fn only_this_machines_own_trouble_is_a_server_error() {
        for code in [ErrorCode::InvalidInput, ErrorCode::UnknownPlan, ErrorCode::NoActiveProfile, ErrorCode::S3NotConfigured] {
            assert!(code.http_status() < 500, "{code} is the request's doing");
        }
        assert_eq!(ErrorCode::TwitchUnreachable.http_status(), 502);
        assert_eq!(ErrorCode::Database.http_status(), 500);
    }
}
