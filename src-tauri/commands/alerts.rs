//! Alert settings: desktop notifications on or off, and the webhook URL.

use std::sync::atomic::Ordering;

use tauri::State;
use twitcher_core::alerts;

use super::{AppState, CommandResult};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct AlertSettings {
    /// System notifications when a destination drops, fails or recovers, and when a broadcast
    /// starts on schedule or ends.
    pub desktop: bool,
    /// The same alerts POSTed as JSON; empty for none.
    pub webhook_url: String,
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn alert_settings(state: State<'_, AppState>) -> CommandResult<AlertSettings> {
    let app = state.core()?;
    Ok(AlertSettings { desktop: state.notify_desktop.load(Ordering::Relaxed), webhook_url: alerts::webhook_url(app).await?.unwrap_or_default() })
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn save_alert_settings(state: State<'_, AppState>, settings: AlertSettings) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    // The webhook is the data dir's (every broadcast's alerts go there): an ADMIN's to change.
    // Desktop notifications are this window's.
    let current = alerts::webhook_url(app).await?.unwrap_or_default();
    if settings.webhook_url.trim() != current {
        alerts::set_webhook_url(app, &actor, &settings.webhook_url).await?;
    }
    app.set_setting(super::NOTIFY_DESKTOP_SETTING, if settings.desktop { "on" } else { "off" }).await?;
    state.notify_desktop.store(settings.desktop, Ordering::Relaxed);
    Ok(())
}
