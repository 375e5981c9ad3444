//! The aggregate error every surface maps from, and the stable `{code, message}` body it shows.
//! Each area has its own enum; `code` names are a contract with scripts and the UI.

use serde::{Deserialize, Serialize};

use crate::accounts::AccountError;
use crate::alerts::AlertError;
use crate::broadcast::BroadcastError;
use crate::config::ConfigError;
use crate::library::LibraryError;
use crate::db::DbError;
use crate::logging::LoggingError;
use crate::media::MediaError;
use crate::playlists::PlaylistError;
use crate::profiles::ProfileError;
use crate::schedules::ScheduleError;
use crate::storage::StorageError;
use crate::twitch::TwitchError;
use crate::vault::VaultError;

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
            /// Every code, in the order above (the README's list and the tests walk it).
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
            DuplicateChannel | DuplicatePlaylist | PlaylistInUse | VideoInUse | AlreadyStarted | BroadcastCancelled | Cancelled | S3NotConfigured | NotInS3 => 409,
            TwitchMissingScope | TwitchDenied | TwitchCodeExpired | TwitchReconnectNeeded | TwitchNotConnected
            | TwitchNoClientId => 409,
            TooLarge => 413,
            LoginThrottled | TwitchRateLimited => 429,
            TwitchUnreachable | TwitchError | S3Error => 502,
            DiskFull => 507,
            StreamFailed | PrepareFailed | SourceUnreadable | AccountError | FileMissing
            | Io | KeyMissing | KeyMismatch | KeyringUnavailable | KeyStore | SecretTampered | Database | Config
            | Logging | FfmpegMissing => 500,
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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Logging(#[from] LoggingError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Library(#[from] LibraryError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Broadcast(#[from] BroadcastError),
    #[error(transparent)]
    Twitch(#[from] TwitchError),
    #[error(transparent)]
    Alert(#[from] AlertError),
    #[error(transparent)]
    Playlist(#[from] PlaylistError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Config(_) => ErrorCode::Config,
            Error::Alert(AlertError::InvalidWebhook) => ErrorCode::InvalidInput,
            Error::Alert(AlertError::Db(_)) => ErrorCode::Database,
            Error::Schedule(ScheduleError::Invalid(_)) => ErrorCode::InvalidInput,
            Error::Schedule(ScheduleError::NotFound { .. }) => ErrorCode::ScheduleNotFound,
            Error::Schedule(ScheduleError::Db(_)) => ErrorCode::Database,
            Error::Schedule(ScheduleError::Broadcast(e)) => broadcast_code(e),
            Error::Playlist(e) => match e {
                PlaylistError::NotFound { .. } => ErrorCode::PlaylistNotFound,
                PlaylistError::InvalidName => ErrorCode::InvalidName,
                PlaylistError::Duplicate { .. } => ErrorCode::DuplicatePlaylist,
                PlaylistError::NoVideo { .. } => ErrorCode::VideoNotFound,
                PlaylistError::NoItem { .. } => ErrorCode::NotFound,
                PlaylistError::Invalid(_) => ErrorCode::InvalidInput,
                PlaylistError::InUse { .. } => ErrorCode::PlaylistInUse,
                PlaylistError::Db(_) => ErrorCode::Database,
            },
            Error::Db(_)
            | Error::Profile(ProfileError::Db(_))
            | Error::Vault(VaultError::Db(_))
            | Error::Library(LibraryError::Db(_))
            | Error::Storage(StorageError::Db(_)) => ErrorCode::Database,
            Error::Logging(_) => ErrorCode::Logging,
            Error::Media(_) => ErrorCode::FfmpegMissing,
            Error::Profile(e) => match e {
                ProfileError::MalformedUuid => ErrorCode::MalformedUuid,
                ProfileError::UnknownProfile => ErrorCode::UnknownProfile,
                ProfileError::Throttled { .. } => ErrorCode::LoginThrottled,
                ProfileError::NotAdmin { .. } => ErrorCode::NotAdmin,
                ProfileError::NoActiveProfile => ErrorCode::NoActiveProfile,
                ProfileError::InvalidName => ErrorCode::InvalidName,
                ProfileError::UnknownPlan(_) => ErrorCode::UnknownPlan,
                ProfileError::RegistrationClosed(_) => ErrorCode::RegistrationClosed,
                ProfileError::Db(_) => unreachable!("matched above"),
            },
            Error::Vault(e) => vault_code(e),
            Error::Account(e) => account_code(e),
            Error::Library(e) => match e {
                LibraryError::ImportFailed { .. } => ErrorCode::ImportFailed,
                LibraryError::NotFound { .. } => ErrorCode::VideoNotFound,
                LibraryError::InUse { .. } => ErrorCode::VideoInUse,
                LibraryError::InvalidTitle | LibraryError::InvalidDescription | LibraryError::InvalidFormat(_) => {
                    ErrorCode::InvalidInput
                }
                LibraryError::Storage(e) => storage_code(e),
                LibraryError::Db(_) => unreachable!("matched above"),
            },
            Error::Storage(e) => storage_code(e),
            Error::Twitch(TwitchError::Account(e)) => account_code(e),
            Error::Twitch(TwitchError::Vault(e)) => vault_code(e),
            Error::Twitch(TwitchError::Db(_)) => ErrorCode::Database,
            Error::Twitch(e) => e.code(),
            Error::Broadcast(e) => broadcast_code(e),
        }
    }

    pub fn body(&self) -> ErrorBody {
        // Messages may quote outside text (paths, SQLite): pass them through the redaction rules.
        ErrorBody { code: self.code(), message: crate::redact::redact(&self.to_string()).into_owned() }
    }
}

/// What a UI or a script sees of an error: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// Any area's error becomes the body directly, so surfaces can use `?` on core calls.
impl<E: Into<Error>> From<E> for ErrorBody {
    fn from(e: E) -> Self {
        e.into().body()
    }
}

fn broadcast_code(e: &BroadcastError) -> ErrorCode {
    match e {
        BroadcastError::InvalidQuality(_) | BroadcastError::InvalidTime(_) => ErrorCode::InvalidInput,
        BroadcastError::AlreadyStarted { .. } => ErrorCode::AlreadyStarted,
        BroadcastError::Cancelled { .. } => ErrorCode::BroadcastCancelled,
        BroadcastError::NoVideo { .. } => ErrorCode::VideoNotFound,
        BroadcastError::NoPlaylist { .. } => ErrorCode::PlaylistNotFound,
        BroadcastError::InvalidProgram(_) => ErrorCode::InvalidInput,
        BroadcastError::PlanLimit { .. } | BroadcastError::LiveEncodeLimit { .. } => ErrorCode::PlanLimit,
        BroadcastError::NoAccount { .. } => ErrorCode::AccountNotFound,
        BroadcastError::NoStream { .. } | BroadcastError::NoBroadcast { .. } => ErrorCode::StreamNotFound,
        BroadcastError::NoDestination => ErrorCode::InvalidInput,
        BroadcastError::DestinationsFailed { .. } => ErrorCode::StreamFailed,
        BroadcastError::KeyRefused(_) => ErrorCode::KeyRefused,
        BroadcastError::Prepare(_) => ErrorCode::PrepareFailed,
        BroadcastError::Source(_) => ErrorCode::SourceUnreadable,
        BroadcastError::Account(_) => ErrorCode::AccountError,
        BroadcastError::Storage(e) => storage_code(e),
        BroadcastError::Db(_) => ErrorCode::Database,
    }
}

fn account_code(e: &AccountError) -> ErrorCode {
    match e {
        AccountError::InvalidName
        | AccountError::InvalidChannelId
        | AccountError::InvalidLogin
        | AccountError::InvalidStreamKey
        | AccountError::MissingStreamKey => ErrorCode::InvalidInput,
        AccountError::InvalidIngest(_) | AccountError::Outbound(_) => ErrorCode::InvalidIngest,
        AccountError::DuplicateChannel { .. } => ErrorCode::DuplicateChannel,
        AccountError::PlanLimit { .. } => ErrorCode::PlanLimit,
        AccountError::NotFound { .. } => ErrorCode::AccountNotFound,
        AccountError::NoStreamKey { .. } => ErrorCode::NoStreamKey,
        AccountError::Vault(e) => vault_code(e),
        AccountError::Db(_) => ErrorCode::Database,
    }
}

fn storage_code(e: &StorageError) -> ErrorCode {
    match e {
        StorageError::NotConfigured => ErrorCode::S3NotConfigured,
        StorageError::Invalid(_) => ErrorCode::InvalidInput,
        StorageError::S3(_) => ErrorCode::S3Error,
        StorageError::NotInS3 { .. } => ErrorCode::NotInS3,
        StorageError::LocalMissing { .. } => ErrorCode::FileMissing,
        StorageError::Io(_) => ErrorCode::Io,
        StorageError::Vault(e) => vault_code(e),
        StorageError::Db(_) => ErrorCode::Database,
    }
}

fn vault_code(e: &VaultError) -> ErrorCode {
    match e {
        VaultError::KeyMissing { .. } => ErrorCode::KeyMissing,
        VaultError::KeyMismatch { .. } => ErrorCode::KeyMismatch,
        VaultError::KeyringUnavailable { .. } => ErrorCode::KeyringUnavailable,
        VaultError::Store(_) | VaultError::KeyFile(_) => ErrorCode::KeyStore,
        VaultError::Tampered { .. } => ErrorCode::SecretTampered,
        VaultError::Db(_) => ErrorCode::Database,
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
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
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
