use tauri::State;
use twitcher_core::accounts::{self, Account, AccountInput};
use twitcher_core::ingest::{self, IngestList};
use twitcher_core::twitch;

use super::{AppState, CommandResult};

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn list_accounts(state: State<'_, AppState>) -> CommandResult<Vec<Account>> {
    let (app, actor) = state.actor().await?;
    Ok(accounts::list(app, &actor).await?)
}

/// The key travels to Rust once, here; what comes back is masked.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn add_account(state: State<'_, AppState>, input: AccountInput, stream_key: String) -> CommandResult<Account> {
    let (app, actor) = state.actor().await?;
    let stream_key = zeroize::Zeroizing::new(stream_key);
    Ok(twitcher_core::twitch::add_by_hand(app, &actor, &input, &stream_key).await?)
}

/// Saves the edit dialog: the fields, and a new key when one was typed.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn update_account(
    state: State<'_, AppState>,
    id: i64,
    input: AccountInput,
    stream_key: Option<String>,
) -> CommandResult<Account> {
    let (app, actor) = state.actor().await?;
    let account = twitcher_core::twitch::update_by_hand(app, &actor, id, &input).await?;
    match stream_key.map(zeroize::Zeroizing::new).filter(|k| !k.trim().is_empty()) {
        Some(key) => Ok(accounts::set_key(app, &actor, id, &key).await?),
        None => Ok(account),
    }
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn remove_account(state: State<'_, AppState>, id: i64) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    Ok(twitch::unlink(app, &actor, id).await?)
}

/// Twitch's ingest servers for the dropdown (fetched, cached, or the built-in default).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn ingest_options(state: State<'_, AppState>) -> CommandResult<IngestList> {
    let app = state.core()?;
    Ok(ingest::servers(app).await?)
}

/// Re-seals every stored secret under a new key; returns how many.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn rotate_vault(state: State<'_, AppState>) -> CommandResult<u32> {
    let (app, actor) = state.actor().await?;
    Ok(app.rotate_vault(&actor).await?.resealed as u32)
}

/// Checks an account's stream key with Twitch's bandwidth test (nothing goes live).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn test_stream_key(state: State<'_, AppState>, id: i64) -> CommandResult<twitcher_core::broadcast::KeyCheck> {
    let (app, actor) = state.actor().await?;
    Ok(twitcher_core::broadcast::check_key(app, &actor, id).await?)
}
