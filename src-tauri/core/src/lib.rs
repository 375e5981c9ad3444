//! # twitcher-core
//!
//! Every domain rule of Twitcher lives here, free of any GUI dependency, so the desktop shell
//! (`twitcher-desktop`), the command line (`twitcher`) and later the HTTP server are thin layers
//! over the same code.
//!
//! # Layout
//! | module      | owns |
//! |-------------|------|
//! | [`config`]   | where the data dir is, environment overrides |
//! | [`db`]       | the SQLite pool (WAL, foreign keys), migrations, and every SQL statement |
//! | [`profiles`] | UUID profiles: register, login (throttled), roles, plans and their limits |
//! | [`vault`]    | which keyring backend protects secrets (the sealing itself comes with the vault) |
//! | [`media`]    | locating ffmpeg/ffprobe: bundled sidecar, then environment, then PATH |
//! | [`logging`]  | tracing to a rotating file, every line through one redaction layer |
//! | [`redact`]   | the redaction rules: UUIDs, stream keys, registered secrets |
//! | [`doctor`]   | the report of what the app found on this machine |
//! | [`error`]    | the aggregate error with a stable `{code, message}` for every surface |
//!
//! The [`Twitcher`] handle opens a data dir once and is cheap to clone.

pub mod config;
pub mod db;
pub mod doctor;
pub mod error;
pub mod logging;
pub mod media;
pub mod profiles;
pub mod redact;
pub mod vault;

pub use error::{Error, ErrorBody};

use std::path::{Path, PathBuf};

/// An opened data dir: the database (migrated) and where it lives. Clone it freely: the pool
/// inside is an `Arc`.
#[derive(Clone, Debug)]
pub struct Twitcher {
    pub db: db::Db,
    data_dir: PathBuf,
}

impl Twitcher {
    /// Creates the data dir if needed, opens the database and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, Error> {
        let db = db::Db::open(data_dir).await?;
        Ok(Self { db, data_dir: data_dir.to_path_buf() })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}
