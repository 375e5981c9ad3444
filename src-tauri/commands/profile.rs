use serde::Serialize;
use tauri::State;
use twitcher_core::profiles::{self, Profile};

use super::{AppState, CommandResult};

/// A profile just created: the only payload that ever carries its full UUID.
#[derive(Debug, Serialize, specta::Type)]
pub struct CreatedProfile {
    pub uuid: String,
    pub profile: Profile,
}

/// The profile signed in on this data dir, if any.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn session(state: State<'_, AppState>) -> CommandResult<Option<Profile>> {
    Ok(profiles::active(state.core()?).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn create_profile(state: State<'_, AppState>, name: Option<String>) -> CommandResult<CreatedProfile> {
    let db = state.core()?;
    let created = profiles::register(db, name.as_deref()).await?;
    profiles::set_active(db, &created.profile).await?;
    Ok(CreatedProfile { uuid: created.uuid.to_string(), profile: created.profile })
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn sign_in(state: State<'_, AppState>, uuid: String) -> CommandResult<Profile> {
    let db = state.core()?;
    let profile = profiles::login(db, &uuid).await?;
    profiles::set_active(db, &profile).await?;
    Ok(profile)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn sign_out(state: State<'_, AppState>) -> CommandResult<()> {
    Ok(profiles::sign_out(state.core()?).await?)
}
