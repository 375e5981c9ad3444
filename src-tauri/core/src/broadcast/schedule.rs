//! Scheduled broadcasts: rows in the database (status `scheduled`, `scheduled_at` and everything
//! needed to start them), so a schedule survives restarts; whichever Twitcher runs the scheduler
//! then starts them.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::supervisor::{insert_rows, launch, validate, BroadcastHandle, StartRequest};
use super::{BroadcastError, Quality, StreamState};
use crate::profiles::Profile;
use crate::Twitcher;

/// Records a broadcast to start at `at` (RFC 3339, UTC). It is kept in the database, so it
/// survives restarts; whichever Twitcher is running then (the app, or `twitcher stream start
/// --at`) starts it. Returns the broadcast id.
pub async fn schedule(app: &Twitcher, actor: &Profile, request: &StartRequest, at: &str) -> Result<String, BroadcastError> {
    let (video, _) = validate(app, actor, request).await?;
    let (broadcast_id, ids) = insert_rows(app, actor, request, &video, Some(at)).await?;
    for id in ids {
        app.db.add_stream_event(id, "info", &format!("scheduled for {at}")).await?;
    }
    tracing::info!(broadcast = %broadcast_id, %at, "broadcast scheduled");
    Ok(broadcast_id)
}

/// Starts a scheduled broadcast now (its time has come, or the user said "start now").
pub async fn start_scheduled(app: &Twitcher, broadcast_id: &str) -> Result<BroadcastHandle, BroadcastError> {
    let rows = app.db.scheduled_broadcast(broadcast_id).await?;
    let Some(first) = rows.first() else {
        return Err(BroadcastError::NoBroadcast { id: broadcast_id.to_string() });
    };
    let actor = app.db.user_by_id(first.creator_id).await?.ok_or(BroadcastError::NoBroadcast { id: broadcast_id.to_string() })?;
    let (width, height) = Quality::parse_resolution(&first.resolution)?;
    let request = StartRequest {
        video_id: first.video_id.ok_or(BroadcastError::NoVideo { id: 0 })?,
        account_ids: rows.iter().filter_map(|r| r.account_id).collect(),
        title: first.title.clone(),
        category: first.category.clone(),
        tags: serde_json::from_str(&first.tags).unwrap_or_default(),
        quality: Quality { fps: first.fps as u32, video_bitrate_k: first.video_bitrate_k as u32, audio_bitrate_k: first.audio_bitrate_k as u32, width, height },
        looped: first.looped,
        // The scheduler starts on time rather than waiting for a preparation.
        live_encode: true,
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    for id in &ids {
        app.db.set_stream_state(*id, StreamState::Queued, None).await?;
        app.db.claim_stream(*id).await?;
    }
    let checked = validate(app, &actor, &request).await;
    let (video, accounts_) = match checked {
        Ok(v) => v,
        Err(e) => {
            for id in &ids {
                let _ = app.db.set_stream_state(*id, StreamState::Failed, Some(&e.to_string())).await;
            }
            return Err(e);
        }
    };
    app.events.emit(crate::events::Event::ScheduledStarted { broadcast_id: broadcast_id.to_string(), title: request.title.clone(), destinations: ids.len() as u32 });
    launch(app, &actor, &request, broadcast_id.to_string(), ids, video, accounts_).await
}

/// Starts scheduled broadcasts when their time comes, until `shutdown` fires. The schedule lives
/// in the database: a broadcast scheduled before a restart starts after it.
pub async fn run_scheduler(app: Twitcher, shutdown: CancellationToken) {
    loop {
        match app.db.due_broadcasts().await {
            Ok(due) => {
                for broadcast_id in due {
                    tracing::info!(broadcast = %broadcast_id, "starting a scheduled broadcast");
                    match start_scheduled(&app, &broadcast_id).await {
                        Ok(handle) => {
                            tokio::spawn(handle.wait());
                        }
                        Err(e) => tracing::warn!(broadcast = %broadcast_id, error = %e, "a scheduled broadcast could not start"),
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "scheduler"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
