//! What the app found on this machine: `twitcher doctor` and the desktop's Settings screen.

use serde::{Deserialize, Serialize};

use crate::media::{self, Tool, ToolInfo};
use crate::vault::{self, KeyringBackend};

use crate::vault::VaultError;
use crate::Twitcher;

/// Keys are a contract with scripts (CLI.md): `ffmpeg`, `ffprobe`, `keyring`, `data_dir`,
/// `schema_version`, `database`. A missing tool is `null` plus a line in `problems`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DoctorReport {
    pub ffmpeg: Option<ToolInfo>,
    pub ffprobe: Option<ToolInfo>,
    pub keyring: KeyringBackend,
    pub data_dir: String,
    /// Inside the data dir, wherever the platform puts that (`directories`: `~/.local/share/twitcher`
    /// on Linux, `~/Library/Application Support/tv.Twitcher.twitcher` on macOS,
    /// `%APPDATA%\Twitcher\twitcher\data` on Windows).
    pub logs_dir: String,
    /// S3 downloads, bounded (`storage cache-limit`).
    pub cache_dir: String,
    pub schema_version: i64,
    /// Which database holds the data: `sqlite` (in the data dir) or `postgres` (a fleet's).
    pub database: String,
    /// What to fix, in words a person can act on; empty when all is well.
    pub problems: Vec<String>,
    /// The supervised background tasks of every process on the data dir (the window, `serve`),
    /// as each last reported them; empty when none runs.
    pub tasks: Vec<crate::model::TaskHealth>,
}

/// What went wrong while looking (the report itself lists what is missing on this machine).
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

pub async fn run(app: &Twitcher) -> Result<DoctorReport, DoctorError> {
    let mut problems = Vec::new();
    let mut tool = |result: Result<ToolInfo, media::MediaError>| match result {
        Ok(info) => Some(info),
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    let ffmpeg = tool(media::inspect(Tool::Ffmpeg).await);
    let ffprobe = tool(media::inspect(Tool::Ffprobe).await);
    let keyring = vault::backend_in_use(&app.db, app.options().keyring).await?;
    let processes = crate::health::all(app).await?;
    for process in &processes {
        let short = &process.instance_id[..process.instance_id.len().min(8)];
        problems.extend(process.problems.iter().map(|p| format!("process {short}: {p}")));
    }
    let tasks = processes.into_iter().flat_map(|p| p.tasks).collect();
    Ok(DoctorReport {
        ffmpeg,
        ffprobe,
        keyring,
        data_dir: app.data_dir().display().to_string(),
        logs_dir: app.data_dir().join(crate::logging::LOG_DIR).display().to_string(),
        cache_dir: app.data_dir().join(crate::storage::CACHE_DIR).display().to_string(),
        schema_version: app.db.schema_version().await?,
        database: app.db.backend().name().to_string(),
        problems,
        tasks,
    })
}
