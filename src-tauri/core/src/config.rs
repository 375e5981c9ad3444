//! Where Twitcher keeps its data, and the environment variables that override defaults.
//!
//! Precedence for the data dir: an explicit value (the CLI's `--data-dir`), then
//! `TWITCHER_DATA_DIR`, then the platform's data dir (`~/.local/share/twitcher` on Linux), so the
//! desktop app and the CLI share one data dir unless told otherwise.

use std::path::PathBuf;

pub const ENV_DATA_DIR: &str = "TWITCHER_DATA_DIR";
pub const ENV_PROFILE: &str = "TWITCHER_PROFILE";
pub const ENV_FFMPEG: &str = "TWITCHER_FFMPEG";
pub const ENV_FFPROBE: &str = "TWITCHER_FFPROBE";
pub const ENV_KEYRING: &str = "TWITCHER_KEYRING";
/// A server's data key, from a file (64 hex characters, mode 0600): no keyring is used.
pub const ENV_VAULT_KEY_FILE: &str = "TWITCHER_VAULT_KEY_FILE";
/// A PostgreSQL URL (`postgres://user:password@host:port/database`): the database of a fleet.
pub const ENV_DATABASE_URL: &str = "TWITCHER_DATABASE_URL";
pub const ENV_LOG: &str = "TWITCHER_LOG";
pub const ENV_INGEST_URL: &str = "TWITCHER_TWITCH_INGEST_URL";

/// The data dir's folders, named once (the disk's usage reads them all).
pub mod folders {
    /// Imported videos, by profile.
    pub const LIBRARY: &str = "library";
    pub const THUMBNAILS: &str = "thumbnails";
    /// Twitch-ready copies of videos (a bounded cache: `broadcast::prepare`).
    pub const PREPARED: &str = "prepared";
    /// Videos and prepared copies fetched from S3 (a bounded cache: `storage`).
    pub const CACHE: &str = "cache";
    /// Uploads to `serve` while they arrive, before they are imported.
    pub const UPLOADS: &str = "uploads";
    pub const LOGS: &str = "logs";
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no data dir: set TWITCHER_DATA_DIR or pass --data-dir (this platform has no home folder)")]
    NoDataDir,
    #[error("cannot listen on {address}: {reason} (is another Twitcher serving there? pick another --listen)")]
    Listen { address: String, reason: String },
}

/// Resolves the data dir. An empty value counts as unset.
pub fn data_dir(explicit: Option<PathBuf>) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = explicit.filter(|d| !d.as_os_str().is_empty()) {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os(ENV_DATA_DIR).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("tv", "Twitcher", "twitcher")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or(ConfigError::NoDataDir)
}

/// An environment variable that is set and not empty.
pub fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
