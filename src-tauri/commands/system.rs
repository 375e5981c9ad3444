use tauri::State;
use twitcher_core::doctor::{self, DoctorReport};

use super::{AppState, CommandResult};

/// What the app found: ffmpeg, ffprobe, keyring backend, data dir, schema version.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn doctor(state: State<'_, AppState>) -> CommandResult<DoctorReport> {
    Ok(doctor::run(state.core()?).await?)
}
