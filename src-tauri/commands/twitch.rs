//! "Connect with Twitch" in the window, account stats, and the client id setting.
//!
//! The device flow is two calls: `twitch_connect_begin` gets the code to show (and opens the
//! verification page in the browser), `twitch_connect_finish` waits for the approval. The device
//! code itself stays in Rust: it could be exchanged for tokens.

use tauri::State;
use tauri_plugin_opener::OpenerExt;
use twitcher_core::twitch::{self, AccountStats, Connected, DevicePrompt};

use super::{AppState, CommandResult};

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn twitch_connect_begin(app_handle: tauri::AppHandle, state: State<'_, AppState>) -> CommandResult<DevicePrompt> {
    let (app, _) = state.actor().await?;
    let login = twitch::begin_connect(app).await?;
    let prompt = login.prompt.clone();
    let mut pending = state.pending_connect.lock().await;
    if let Some((_, cancel)) = pending.take() {
        cancel.cancel();
    }
    *pending = Some((login, Default::default()));
    // No browser is not an error: the window shows the URL and the code. Only https is opened.
    if !twitch::opens_in_browser(&prompt.verification_uri) {
        tracing::warn!("Twitch's verification address is not https: not opening it in the browser");
    } else if let Err(e) = app_handle.opener().open_url(&prompt.verification_uri, None::<&str>) {
        tracing::warn!(error = %e, "could not open the browser");
    }
    Ok(prompt)
}

/// Waits until the code is approved on Twitch (or expires, or is cancelled).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn twitch_connect_finish(state: State<'_, AppState>) -> CommandResult<Connected> {
    let (app, actor) = state.actor().await?;
    let Some((login, cancel)) = state.pending_connect.lock().await.take() else {
        return Err(twitch::TwitchError::Cancelled.into());
    };
    *state.connect_cancel.lock().await = Some(cancel.clone());
    Ok(twitch::finish_connect(app, &actor, login, &cancel).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn twitch_connect_cancel(state: State<'_, AppState>) -> CommandResult<()> {
    if let Some((_, cancel)) = state.pending_connect.lock().await.take() {
        cancel.cancel();
    }
    if let Some(cancel) = state.connect_cancel.lock().await.take() {
        cancel.cancel();
    }
    Ok(())
}

/// Followers, live status and viewers per account (cached for a minute unless `refresh`).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn twitch_stats(state: State<'_, AppState>, refresh: bool) -> CommandResult<Vec<AccountStats>> {
    let (app, actor) = state.actor().await?;
    Ok(twitch::stats(app, &actor, None, refresh).await?)
}

/// The client id Settings shows: `from_env` when TWITCHER_TWITCH_CLIENT_ID overrides the field.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct TwitchClientId {
    pub client_id: Option<String>,
    pub from_env: bool,
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn twitch_client_id(state: State<'_, AppState>) -> CommandResult<TwitchClientId> {
    let app = state.core()?;
    let from_env = app.options().twitch.client_id.is_some();
    let client_id = twitch::client_id(app).await.ok();
    Ok(TwitchClientId { client_id, from_env })
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn set_twitch_client_id(state: State<'_, AppState>, client_id: String) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    Ok(twitch::set_client_id(app, &actor, &client_id).await?)
}
