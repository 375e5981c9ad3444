use serde::Serialize;
use tauri::State;
use twitcher_core::broadcast::{self, StartRequest, StreamRow};

use super::{AppState, CommandResult};

#[derive(Debug, Serialize, specta::Type)]
pub struct StartedBroadcast {
    pub broadcast_id: String,
    pub stream_ids: Vec<i64>,
}

/// Checks the request and records the broadcast, then answers: the preparation (progress as job
/// events) and going live happen in the background, status as stream events — Go live never
/// holds the window.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn start_broadcast(state: State<'_, AppState>, request: StartRequest) -> CommandResult<StartedBroadcast> {
    let (app, actor) = state.actor().await?;
    let (broadcast_id, destinations) = broadcast::start_in_background(app, &actor, &request).await?;
    Ok(StartedBroadcast { broadcast_id, stream_ids: destinations.iter().map(|d| d.0).collect() })
}

/// What the Go live dialog offers and starts with, as the core decides it: the qualities
/// (Twitch's recommended settings), the one a start without a choice gets, and whether an
/// unprepared video goes live at once on a real-time encode.
#[tauri::command]
#[specta::specta]
pub async fn start_defaults() -> CommandResult<StartDefaults> {
    Ok(StartDefaults {
        presets: broadcast::QUALITY_PRESETS.to_vec(),
        quality: broadcast::Quality::default(),
        live_encode: StartRequest::LIVE_ENCODE_BY_DEFAULT,
    })
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct StartDefaults {
    pub presets: Vec<broadcast::QualityPreset>,
    pub quality: broadcast::Quality,
    pub live_encode: bool,
}

/// This profile's streams, newest first (running ones included).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn list_streams(state: State<'_, AppState>) -> CommandResult<Vec<StreamRow>> {
    let (app, actor) = state.actor().await?;
    Ok(broadcast::list(app, &actor, None, 0).await?)
}

/// Stops one destination, whichever process runs it (a stop order on its row).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn stop_stream(state: State<'_, AppState>, stream_id: i64) -> CommandResult<bool> {
    let (app, actor) = state.actor().await?;
    Ok(broadcast::stop(app, &actor, broadcast::StopTarget::Stream(stream_id)).await? > 0)
}

/// Starts a failed destination of a broadcast still on air again, alone: it joins the broadcast
/// where it plays now; the other destinations are not touched.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn retry_stream(state: State<'_, AppState>, stream_id: i64) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    Ok(broadcast::retry(app, &actor, stream_id).await?)
}

/// Stops a broadcast, whichever process runs it.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn stop_broadcast(state: State<'_, AppState>, broadcast_id: String) -> CommandResult<bool> {
    let (app, actor) = state.actor().await?;
    Ok(broadcast::stop(app, &actor, broadcast::StopTarget::Broadcast { broadcast_id, account_id: None }).await? > 0)
}

/// Stops every running broadcast of the signed-in profile; returns how many destinations.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn stop_all_broadcasts(state: State<'_, AppState>) -> CommandResult<u32> {
    let (app, actor) = state.actor().await?;
    Ok(broadcast::stop(app, &actor, broadcast::StopTarget::All).await? as u32)
}

/// Schedules a broadcast for `at` (RFC 3339); the app starts it then, even after a restart.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn schedule_broadcast(state: State<'_, AppState>, request: StartRequest, at: String) -> CommandResult<String> {
    let (app, actor) = state.actor().await?;
    Ok(broadcast::schedule(app, &actor, &request, &at).await?)
}

/// Cancels a scheduled broadcast; returns how many destinations it had.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn cancel_scheduled(state: State<'_, AppState>, broadcast_id: String) -> CommandResult<u32> {
    let (app, actor) = state.actor().await?;
    Ok(broadcast::cancel(app, &actor, &broadcast_id).await? as u32)
}

/// What happens at the next launch to broadcasts a crash interrupted.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn after_crash(state: State<'_, AppState>) -> CommandResult<broadcast::AfterCrash> {
    Ok(broadcast::after_crash(state.core()?).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn set_after_crash(state: State<'_, AppState>, policy: broadcast::AfterCrash) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    Ok(broadcast::set_after_crash(app, &actor, policy).await?)
}

/// Whether closing the window while streams are live hides it to the tray (else it quits).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn close_to_tray(state: State<'_, AppState>) -> CommandResult<bool> {
    Ok(state.close_to_tray.load(std::sync::atomic::Ordering::Relaxed))
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn set_close_to_tray(state: State<'_, AppState>, on: bool) -> CommandResult<()> {
    state.core()?.set_setting(super::CLOSE_TO_TRAY_SETTING, if on { "on" } else { "off" }).await?;
    state.close_to_tray.store(on, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// The loudness (LUFS) videos are normalised to when prepared.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn loudness_target(state: State<'_, AppState>) -> CommandResult<f64> {
    Ok(broadcast::loudness::target(state.core()?).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn set_loudness_target(state: State<'_, AppState>, lufs: f64) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    Ok(broadcast::loudness::set_target(app, &actor, lufs).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn list_schedules(state: State<'_, AppState>) -> CommandResult<Vec<twitcher_core::schedules::Schedule>> {
    let (app, actor) = state.actor().await?;
    Ok(twitcher_core::schedules::list(app, &actor).await?)
}

/// A recurring start from the Go live dialog.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn create_schedule(state: State<'_, AppState>, input: twitcher_core::schedules::ScheduleInput) -> CommandResult<twitcher_core::schedules::Schedule> {
    let (app, actor) = state.actor().await?;
    Ok(twitcher_core::schedules::create(app, &actor, &input).await?)
}

/// Changes a schedule in place (the Edit of its card): what it starts, when, and for how long.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn update_schedule(state: State<'_, AppState>, id: i64, input: twitcher_core::schedules::ScheduleInput) -> CommandResult<twitcher_core::schedules::Schedule> {
    let (app, actor) = state.actor().await?;
    Ok(twitcher_core::schedules::update(app, &actor, id, &input).await?)
}

/// Stops a schedule from starting anything until it is resumed.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn pause_schedule(state: State<'_, AppState>, id: i64) -> CommandResult<twitcher_core::schedules::Schedule> {
    let (app, actor) = state.actor().await?;
    Ok(twitcher_core::schedules::pause(app, &actor, id).await?)
}

/// Resumes a paused schedule from its next time.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn resume_schedule(state: State<'_, AppState>, id: i64) -> CommandResult<twitcher_core::schedules::Schedule> {
    let (app, actor) = state.actor().await?;
    Ok(twitcher_core::schedules::resume(app, &actor, id).await?)
}

#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub async fn delete_schedule(state: State<'_, AppState>, id: i64) -> CommandResult<()> {
    let (app, actor) = state.actor().await?;
    Ok(twitcher_core::schedules::delete(app, &actor, id).await?)
}
