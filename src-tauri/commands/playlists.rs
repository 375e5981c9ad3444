//! The Playlists tab: a profile's playlists, their items and how they play.

use tauri::State;
use twitcher_core::playlists::{self, ItemMeta, Playlist, PlaylistOptions};

use super::{AppState, CommandResult};

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn list_playlists(state: State<'_, AppState>) -> CommandResult<Vec<Playlist>> {
    let (app, actor) = state.actor().await?;
    Ok(playlists::list(app, &actor).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn create_playlist(state: State<'_, AppState>, name: String) -> CommandResult<Playlist> {
    let (app, actor) = state.actor().await?;
    Ok(playlists::create(app, &actor, &name).await?)
}

/// Adds a library video at `position` (1-based; none: at the end).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn add_to_playlist(state: State<'_, AppState>, id: i64, video_id: i64, position: Option<u32>, meta: ItemMeta) -> CommandResult<Playlist> {
    let (app, actor) = state.actor().await?;
    Ok(playlists::add(app, &actor, id, video_id, position, &meta).await?)
}

/// Moves an item to `position` (1-based): what a drop in the list does.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn move_playlist_item(state: State<'_, AppState>, id: i64, item_id: i64, position: u32) -> CommandResult<Playlist> {
    let (app, actor) = state.actor().await?;
    Ok(playlists::move_item(app, &actor, id, item_id, position).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn remove_playlist_item(state: State<'_, AppState>, id: i64, item_id: i64) -> CommandResult<Playlist> {
    let (app, actor) = state.actor().await?;
    Ok(playlists::remove_item(app, &actor, id, item_id).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn set_playlist_options(state: State<'_, AppState>, id: i64, options: PlaylistOptions) -> CommandResult<Playlist> {
    let (app, actor) = state.actor().await?;
    Ok(playlists::set_options(app, &actor, id, &options).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn delete_playlist(state: State<'_, AppState>, id: i64) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    Ok(playlists::delete(app, &actor, id).await?)
}
