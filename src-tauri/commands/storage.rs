use tauri::State;
use twitcher_core::storage::{self, S3Settings, S3Status};

use super::{AppState, CommandResult};

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn s3_status(state: State<'_, AppState>) -> CommandResult<S3Status> {
    Ok(storage::status(state.core()?).await?)
}

/// Saves S3 settings; a null or empty secret key keeps the saved one. The key is never sent back.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn save_s3_settings(state: State<'_, AppState>, settings: S3Settings, secret_key: Option<String>) -> CommandResult<S3Status> {
    let secret_key = secret_key.map(zeroize::Zeroizing::new);
    let (app, actor) = state.actor().await?;
    Ok(storage::save_settings(app, &actor, &settings, secret_key.as_deref().map(String::as_str)).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn test_s3(state: State<'_, AppState>) -> CommandResult<()> {
    Ok(storage::test_connection(state.core()?).await?)
}
