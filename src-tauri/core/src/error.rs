//! The aggregate error every surface maps from, and the stable `{code, message}` body it shows.
//! Each area has its own enum; `code` names are a contract with scripts and the UI.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::db::DbError;
use crate::logging::LoggingError;
use crate::media::MediaError;
use crate::profiles::ProfileError;

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
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Db(_) | Error::Profile(ProfileError::Db(_)) => "database",
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
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl From<Error> for ErrorBody {
    fn from(e: Error) -> Self {
        e.body()
    }
}
