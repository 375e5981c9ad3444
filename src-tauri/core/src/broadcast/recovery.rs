//! After a crash: streams whose process is gone are closed with a reason, not left "live".

use super::{BroadcastError, StreamState};
use crate::Twitcher;

/// Closes streams a crash left unfinished: their process is gone, or has not renewed its claim for
/// a minute. They fail with a reason the user can read (restarting them automatically is not done
/// yet). Returns how many.
pub async fn recover(app: &Twitcher) -> Result<usize, BroadcastError> {
    let mut closed = 0;
    for (id, owner, silent_sec) in app.db.unfinished_streams().await? {
        let alive = owner.is_some_and(process_alive) && silent_sec.unwrap_or(f64::MAX) < 60.0;
        if alive {
            continue;
        }
        let message = "interrupted: Twitcher stopped while this stream was running (start it again)";
        app.db.set_stream_state(id, StreamState::Failed, Some(message)).await?;
        app.db.add_stream_event(id, "error", message).await?;
        closed += 1;
    }
    if closed > 0 {
        tracing::warn!(closed, "closed streams a crash left unfinished");
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
