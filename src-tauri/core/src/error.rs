//! The aggregate error every surface maps from, and the stable `{code, message}` body it shows.
//! Each area has its own enum; `code` names are a contract with scripts and the UI.

use serde::{Deserialize, Serialize};

pub use crate::model::ErrorCode;

use crate::accounts::AccountError;
use crate::alerts::AlertError;
use crate::broadcast::BroadcastError;
use crate::config::ConfigError;
use crate::library::LibraryError;
use crate::db::DbError;
use crate::disk::DiskError;
use crate::doctor::DoctorError;
use crate::logging::LoggingError;
use crate::media::MediaError;
use crate::playlists::PlaylistError;
use crate::profiles::ProfileError;
use crate::schedules::ScheduleError;
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
    #[error(transparent)]
    Playlist(#[from] PlaylistError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Doctor(#[from] DoctorError),
    #[error(transparent)]
    Disk(#[from] DiskError),
}

/// A plan name that did not parse is a profile error, wherever it was typed.
impl From<crate::model::UnknownPlan> for Error {
    fn from(e: crate::model::UnknownPlan) -> Self {
        Error::Profile(e.into())
    }
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Config(_) => ErrorCode::Config,
            Error::Alert(AlertError::NotAdmin(_)) => ErrorCode::NotAdmin,
            Error::Doctor(DoctorError::Vault(e)) => vault_code(e),
            Error::Doctor(DoctorError::Db(_)) => ErrorCode::Database,
            Error::Disk(DiskError::Io(_)) => ErrorCode::Io,
            Error::Disk(DiskError::BudgetTooSmall) => ErrorCode::InvalidInput,
            Error::Disk(DiskError::NotAdmin(_)) => ErrorCode::NotAdmin,
            Error::Disk(DiskError::Db(_)) => ErrorCode::Database,
            Error::Alert(AlertError::InvalidWebhook) => ErrorCode::InvalidInput,
            Error::Alert(AlertError::Db(_)) => ErrorCode::Database,
            Error::Schedule(ScheduleError::Invalid(_)) => ErrorCode::InvalidInput,
            Error::Schedule(ScheduleError::NotFound { .. }) => ErrorCode::ScheduleNotFound,
            Error::Schedule(ScheduleError::PlanLimit { .. }) => ErrorCode::PlanLimit,
            Error::Schedule(ScheduleError::Db(_)) => ErrorCode::Database,
            Error::Schedule(ScheduleError::Broadcast(e)) => broadcast_code(e),
            Error::Playlist(e) => match e {
                PlaylistError::NotFound { .. } => ErrorCode::PlaylistNotFound,
                PlaylistError::InvalidName(_) => ErrorCode::InvalidName,
                PlaylistError::PlanLimit { .. } => ErrorCode::PlanLimit,
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
                ProfileError::InvalidName(_) => ErrorCode::InvalidName,
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
                LibraryError::InvalidTitle(_) | LibraryError::InvalidDescription | LibraryError::InvalidFormat(_) => {
                    ErrorCode::InvalidInput
                }
                LibraryError::NotAdmin(_) => ErrorCode::NotAdmin,
                LibraryError::Storage(e) => storage_code(e),
                LibraryError::Db(_) => unreachable!("matched above"),
            },
            Error::Storage(e) => storage_code(e),
            Error::Twitch(TwitchError::Account(e)) => account_code(e),
            Error::Twitch(TwitchError::Vault(e)) => vault_code(e),
            Error::Twitch(TwitchError::Db(_)) => ErrorCode::Database,
            Error::Twitch(e) => twitch_code(e),
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
        BroadcastError::InvalidQuality(_) | BroadcastError::InvalidTime(_) | BroadcastError::Text(_) => ErrorCode::InvalidInput,
        BroadcastError::AlreadyStarted { .. } => ErrorCode::AlreadyStarted,
        BroadcastError::Cancelled { .. } => ErrorCode::BroadcastCancelled,
        BroadcastError::NotRetryable { .. } => ErrorCode::NotRetryable,
        BroadcastError::NoVideo { .. } => ErrorCode::VideoNotFound,
        BroadcastError::NoPlaylist { .. } => ErrorCode::PlaylistNotFound,
        BroadcastError::InvalidProgram(_) => ErrorCode::InvalidInput,
        BroadcastError::PlanLimit { .. } | BroadcastError::LiveEncodeLimit { .. } | BroadcastError::ScheduledLimit { .. } => ErrorCode::PlanLimit,
        BroadcastError::NoAccount { .. } => ErrorCode::AccountNotFound,
        BroadcastError::NoStream { .. } | BroadcastError::NoBroadcast { .. } => ErrorCode::StreamNotFound,
        BroadcastError::NoDestination => ErrorCode::InvalidInput,
        BroadcastError::DestinationsFailed { .. } => ErrorCode::StreamFailed,
        BroadcastError::KeyRefused(_) => ErrorCode::KeyRefused,
        BroadcastError::Prepare(_) => ErrorCode::PrepareFailed,
        BroadcastError::Source(_) => ErrorCode::SourceUnreadable,
        BroadcastError::Account(_) => ErrorCode::AccountError,
        BroadcastError::Storage(e) => storage_code(e),
        BroadcastError::NotAdmin(_) => ErrorCode::NotAdmin,
        BroadcastError::Db(_) => ErrorCode::Database,
    }
}

fn account_code(e: &AccountError) -> ErrorCode {
    match e {
        AccountError::InvalidName(_)
        | AccountError::InvalidChannelId
        | AccountError::InvalidLogin
        | AccountError::UnknownLogin { .. }
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
        StorageError::NoVideo { .. } => ErrorCode::VideoNotFound,
        StorageError::NotInS3 { .. } => ErrorCode::NotInS3,
        StorageError::LocalMissing { .. } => ErrorCode::FileMissing,
        StorageError::Io(_) => ErrorCode::Io,
        StorageError::Vault(e) => vault_code(e),
        StorageError::NotAdmin(_) => ErrorCode::NotAdmin,
        StorageError::Db(_) => ErrorCode::Database,
    }
}

impl TwitchError {
    /// The stable code scripts and the UI see (decided here, with every other area's).
    pub fn code(&self) -> ErrorCode {
        twitch_code(self)
    }
}

/// Twitch's failures as the codes scripts and the UI see.
fn twitch_code(e: &TwitchError) -> ErrorCode {
    match e {
        TwitchError::NoClientId => ErrorCode::TwitchNoClientId,
        TwitchError::InvalidClientId => ErrorCode::InvalidInput,
        TwitchError::Unreachable(_) => ErrorCode::TwitchUnreachable,
        TwitchError::Api { .. } | TwitchError::Unexpected(_) => ErrorCode::TwitchError,
        TwitchError::MissingScope(_) => ErrorCode::TwitchMissingScope,
        TwitchError::RateLimited { .. } => ErrorCode::TwitchRateLimited,
        TwitchError::Denied => ErrorCode::TwitchDenied,
        TwitchError::Expired => ErrorCode::TwitchCodeExpired,
        TwitchError::Cancelled => ErrorCode::Cancelled,
        TwitchError::ReconnectNeeded { .. } => ErrorCode::TwitchReconnectNeeded,
        TwitchError::NotConnected { .. } => ErrorCode::TwitchNotConnected,
        TwitchError::InsecureUrl { .. } => ErrorCode::Config,
        TwitchError::NotAdmin(_) => ErrorCode::NotAdmin,
        TwitchError::Account(_) | TwitchError::Vault(_) | TwitchError::Db(_) => ErrorCode::TwitchError,
    }
}

fn vault_code(e: &VaultError) -> ErrorCode {
    match e {
        VaultError::KeyMissing { .. } => ErrorCode::KeyMissing,
        VaultError::KeyMismatch { .. } => ErrorCode::KeyMismatch,
        VaultError::KeyringUnavailable { .. } => ErrorCode::KeyringUnavailable,
        VaultError::Store(_) | VaultError::KeyFile(_) => ErrorCode::KeyStore,
        VaultError::Tampered { .. } => ErrorCode::SecretTampered,
        VaultError::NotAdmin(_) => ErrorCode::NotAdmin,
        VaultError::Db(_) => ErrorCode::Database,
    }
}
