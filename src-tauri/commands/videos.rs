use std::path::PathBuf;

use base64::Engine;
use serde::Serialize;
use tauri::State;
use twitcher_core::library::{self, Video, VideoPage, VideoQuery};
use twitcher_core::{jobs, storage};

use super::{AppState, CommandResult};

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn list_videos(state: State<'_, AppState>, query: VideoQuery) -> CommandResult<VideoPage> {
    let (app, actor) = state.actor().await?;
    Ok(library::list(app, &actor, &query).await?)
}

/// Files queued for import, and those refused at once.
#[derive(Debug, Serialize, specta::Type)]
pub struct ImportQueued {
    pub job_ids: Vec<i64>,
    pub refused: Vec<ImportRefusedView>,
}

#[derive(Debug, Serialize, specta::Type)]
pub struct ImportRefusedView {
    pub file: String,
    pub message: String,
}

/// What a drop on the window and the file dialog both call. Progress arrives as events.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn import_videos(state: State<'_, AppState>, paths: Vec<String>) -> CommandResult<ImportQueued> {
    let (app, actor) = state.actor().await?;
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let (job_ids, refused) = library::import(app, &actor, &paths).await?;
    let refused = refused.into_iter().map(|r| ImportRefusedView { file: r.file, message: r.message }).collect();
    Ok(ImportQueued { job_ids, refused })
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn cancel_job(state: State<'_, AppState>, job_id: i64) -> CommandResult<bool> {
    let (app, actor) = state.actor().await?;
    Ok(jobs::cancel_for(app, &actor, job_id).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn update_video(state: State<'_, AppState>, id: i64, title: String, description: String) -> CommandResult<Video> {
    let (app, actor) = state.actor().await?;
    Ok(library::update(app, &actor, id, &title, &description).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn remove_video(state: State<'_, AppState>, id: i64) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    Ok(library::remove(app, &actor, id).await?)
}

/// The video's thumbnail as a `data:` URL (a JPEG of ~20 KB), or null when it has none.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn video_thumbnail(state: State<'_, AppState>, id: i64) -> CommandResult<Option<String>> {
    let (app, actor) = state.actor().await?;
    let jpeg = library::thumbnail(app, &actor, id).await?;
    Ok(jpeg.map(|bytes| format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))))
}

/// Queues the move of a video to S3; progress arrives as events.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn upload_video(state: State<'_, AppState>, id: i64) -> CommandResult<i64> {
    let (app, actor) = state.actor().await?;
    Ok(storage::upload(app, &actor, id).await?)
}

/// Downloads an S3 video into the local cache (if needed); returns the local path.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn fetch_video(state: State<'_, AppState>, id: i64) -> CommandResult<String> {
    let (app, actor) = state.actor().await?;
    let video = library::get(app, &actor, id).await?;
    Ok(storage::ensure_local(app, &video).await?.display().to_string())
}

/// The largest file an import accepts, in bytes (a setting; 500 MB by default).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn max_import_bytes(state: State<'_, AppState>) -> CommandResult<u64> {
    Ok(library::max_file_bytes(state.core()?).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn set_max_import_bytes(state: State<'_, AppState>, bytes: u64) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    Ok(library::set_max_file_bytes(app, &actor, bytes).await?)
}
