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

/// The background tasks of this window and of every other process on the data dir (a `serve`),
/// for Settings' health table: the same as `twitcher doctor` shows.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn health(state: State<'_, AppState>) -> CommandResult<Vec<twitcher_core::health::ProcessHealth>> {
    Ok(twitcher_core::health::all(state.core()?).await?)
}

/// What the data dir holds by part and what its disk has free (Settings → Health).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn disk_usage(state: State<'_, AppState>) -> CommandResult<twitcher_core::disk::Usage> {
    Ok(twitcher_core::disk::usage(state.core()?).await?)
}

/// Versions for the About panel.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct About {
    pub app_version: String,
    /// WebKitGTK's version on Linux.
    pub webview_version: Option<String>,
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn about() -> CommandResult<About> {
    Ok(About { app_version: env!("CARGO_PKG_VERSION").to_string(), webview_version: tauri::webview_version().ok() })
}
