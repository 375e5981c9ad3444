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
use crate::profiles::ProfileError;
use crate::storage::StorageError;
use crate::twitch::TwitchError;
use crate::vault::VaultError;

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
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Alert(AlertError::InvalidWebhook) => "invalid_input",
            Error::Alert(AlertError::Db(_)) => "database",
            Error::Db(_)
            | Error::Profile(ProfileError::Db(_))
            | Error::Vault(VaultError::Db(_))
            | Error::Library(LibraryError::Db(_))
            | Error::Storage(StorageError::Db(_)) => "database",
            Error::Logging(_) => "logging",
            Error::Media(_) => "ffmpeg_missing",
            Error::Profile(e) => match e {
                ProfileError::MalformedUuid => "malformed_uuid",
                ProfileError::UnknownProfile => "unknown_profile",
                ProfileError::Throttled { .. } => "login_throttled",
                ProfileError::NotAdmin { .. } => "not_admin",
                ProfileError::NoActiveProfile => "no_active_profile",
                ProfileError::InvalidName => "invalid_name",
                ProfileError::UnknownPlan(_) => "unknown_plan",
                ProfileError::Db(_) => unreachable!("matched above"),
            },
            Error::Vault(e) => vault_code(e),
            Error::Account(e) => account_code(e),
            Error::Library(e) => match e {
                LibraryError::ImportFailed { .. } => "import_failed",
                LibraryError::NotFound { .. } => "video_not_found",
                LibraryError::InUse { .. } => "video_in_use",
                LibraryError::InvalidTitle | LibraryError::InvalidDescription | LibraryError::InvalidFormat(_) => {
                    "invalid_input"
                }
                LibraryError::Storage(e) => storage_code(e),
                LibraryError::Db(_) => unreachable!("matched above"),
            },
            Error::Storage(e) => storage_code(e),
            Error::Twitch(TwitchError::Account(e)) => account_code(e),
            Error::Twitch(TwitchError::Vault(e)) => vault_code(e),
            Error::Twitch(TwitchError::Db(_)) => "database",
            Error::Twitch(e) => e.code(),
            Error::Broadcast(e) => match e {
                BroadcastError::InvalidQuality(_) | BroadcastError::InvalidTime(_) => "invalid_input",
                BroadcastError::AlreadyStarted { .. } => "already_started",
                BroadcastError::Cancelled { .. } => "broadcast_cancelled",
                BroadcastError::NoVideo { .. } => "video_not_found",
                BroadcastError::NoAccount { .. } => "account_not_found",
                BroadcastError::NoStream { .. } | BroadcastError::NoBroadcast { .. } => "stream_not_found",
                BroadcastError::NoDestination => "invalid_input",
                BroadcastError::DestinationsFailed { .. } => "stream_failed",
                BroadcastError::KeyRefused(_) => "key_refused",
                BroadcastError::Prepare(_) => "prepare_failed",
                BroadcastError::Source(_) => "source_unreadable",
                BroadcastError::Account(_) => "account_error",
                BroadcastError::Storage(e) => storage_code(e),
                BroadcastError::Db(_) => "database",
            },
        }
    }

    pub fn body(&self) -> ErrorBody {
        // Messages may quote outside text (paths, SQLite): pass them through the redaction rules.
        ErrorBody { code: self.code().to_string(), message: crate::redact::redact(&self.to_string()).into_owned() }
    }
}

/// What a UI or a script sees of an error: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Any area's error becomes the body directly, so surfaces can use `?` on core calls.
impl<E: Into<Error>> From<E> for ErrorBody {
    fn from(e: E) -> Self {
        e.into().body()
    }
}

fn account_code(e: &AccountError) -> &'static str {
    match e {
        AccountError::InvalidName
        | AccountError::InvalidChannelId
        | AccountError::InvalidLogin
        | AccountError::InvalidStreamKey
        | AccountError::MissingStreamKey => "invalid_input",
        AccountError::InvalidIngest(_) => "invalid_ingest",
        AccountError::DuplicateChannel { .. } => "duplicate_channel",
        AccountError::PlanLimit { .. } => "plan_limit",
        AccountError::NotFound { .. } => "account_not_found",
        AccountError::NoStreamKey { .. } => "no_stream_key",
        AccountError::Vault(e) => vault_code(e),
        AccountError::Db(_) => "database",
    }
}

fn storage_code(e: &StorageError) -> &'static str {
    match e {
        StorageError::NotConfigured => "s3_not_configured",
        StorageError::Invalid(_) => "invalid_input",
        StorageError::S3(_) => "s3_error",
        StorageError::NotInS3 { .. } => "not_in_s3",
        StorageError::LocalMissing { .. } => "file_missing",
        StorageError::Io(_) => "io",
        StorageError::Vault(e) => vault_code(e),
        StorageError::Db(_) => "database",
    }
}

fn vault_code(e: &VaultError) -> &'static str {
    match e {
        VaultError::KeyMissing { .. } => "key_missing",
        VaultError::KeyMismatch { .. } => "key_mismatch",
        VaultError::KeyringUnavailable { .. } => "keyring_unavailable",
        VaultError::Store(_) => "key_store",
        VaultError::Tampered { .. } => "secret_tampered",
        VaultError::Db(_) => "database",
    }
}
