//! After a crash: streams whose process is gone are not left "live". Per the `streams.after_crash`
//! setting they fail with a reason (the default), or their broadcast is started again: copied
//! into a new broadcast scheduled for now, which the running scheduler (the window, `serve`)
//! starts at once. The interrupted rows stay, failed, pointing at their replacement.
//! It also drops stream log lines past the logs' retention (30 days).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{BroadcastError, StreamState};
use crate::Twitcher;

const SETTING: &str = "streams.after_crash";

/// What happens to broadcasts a crash interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum AfterCrash {
    /// Marked failed ("interrupted"); the user starts them again.
    #[default]
    Fail,
    /// Started again from the beginning of the video (a loop simply goes on).
    Restart,
}

pub async fn after_crash(app: &Twitcher) -> Result<AfterCrash, BroadcastError> {
    Ok(match app.db.setting(SETTING).await?.as_deref() {
        Some("restart") => AfterCrash::Restart,
        _ => AfterCrash::Fail,
    })
}

pub async fn set_after_crash(app: &Twitcher, value: AfterCrash) -> Result<(), BroadcastError> {
    let text = match value {
        AfterCrash::Fail => "fail",
        AfterCrash::Restart => "restart",
    };
    Ok(app.db.set_setting(SETTING, text).await?)
}

/// Closes streams a crash left unfinished: their process is gone, or has not renewed its claim
/// for a minute. Returns how many were closed.
pub async fn recover(app: &Twitcher) -> Result<usize, BroadcastError> {
    let policy = after_crash(app).await?;
    // broadcast id → its interrupted streams that were on air (a stream being stopped is not
    // restarted: the user was ending it).
    let mut interrupted: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut closed = 0;
    for (id, broadcast_id, status, owner, silent_sec) in app.db.unfinished_streams().await? {
        let alive = owner.is_some_and(process_alive) && silent_sec.unwrap_or(f64::MAX) < 60.0;
        if alive {
            continue;
        }
        closed += 1;
        if policy == AfterCrash::Restart && status != StreamState::Stopping {
            interrupted.entry(broadcast_id).or_default().push(id);
        } else {
            let message = "interrupted: Twitcher stopped while this stream was running (start it again)";
            app.db.set_stream_state(id, StreamState::Failed, Some(message)).await?;
            app.db.add_stream_event(id, "error", message).await?;
        }
    }
    for (broadcast_id, ids) in interrupted {
        let replacement = uuid::Uuid::new_v4().simple().to_string();
        let new_ids = app.db.requeue_streams(&ids, &replacement).await?;
        for (old, new) in ids.iter().zip(&new_ids) {
            let message = format!("interrupted: Twitcher stopped while this stream was running; restarted as stream {new}");
            app.db.set_stream_state(*old, StreamState::Failed, Some(&message)).await?;
            app.db.add_stream_event(*old, "error", &message).await?;
            app.db.add_stream_event(*new, "info", &format!("restarted after a crash interrupted stream {old}")).await?;
        }
        tracing::warn!(broadcast = %broadcast_id, replacement = %replacement, "restarting a broadcast a crash interrupted");
    }
    if closed > 0 {
        tracing::warn!(closed, ?policy, "closed streams a crash left unfinished");
    }
    // Stream logs are kept as long as the log files.
    let pruned = app.db.prune_stream_events(crate::logging::KEEP_DAYS).await?;
    if pruned > 0 {
        tracing::info!(pruned, "removed stream log lines older than {} days", crate::logging::KEEP_DAYS);
    }
    Ok(closed)
}

fn process_alive(pid: i64) -> bool {
    if pid as u32 == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        // Signal 0 checks existence only. EPERM also means it exists (another user's process).
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}
