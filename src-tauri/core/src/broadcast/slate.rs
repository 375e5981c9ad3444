//! The slate: what a playlist broadcast shows while an item cannot play (its file is gone or
//! unreadable) — a card with the channel's title and "back soon" over silence, encoded at the
//! broadcast's quality like every item, so the destinations stay connected and Twitch sees one
//! unbroken broadcast. Two seconds long (one keyframe interval): the source plays it as often as
//! needed, then goes on with the next item.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{prepare, BroadcastError, Quality};
use crate::media::runner::{Ffmpeg, Output};
use crate::Twitcher;

/// Seconds of one slate pass.
const LENGTH_S: u32 = 2;

/// The slate for `title` at `quality`, made once and kept with the prepared files.
pub async fn ensure(app: &Twitcher, quality: &Quality, title: &str) -> Result<PathBuf, BroadcastError> {
    let dir = app.data_dir().join("prepared");
    tokio::fs::create_dir_all(&dir).await.map_err(|e| BroadcastError::Prepare(format!("the slate: {e}")))?;
    let tag = hex::encode(&Sha256::digest(title.as_bytes())[..6]);
    let path = dir.join(format!("slate-{}-{tag}.flv", quality.key()));
    if path.is_file() {
        return Ok(path);
    }
    let text = dir.join(format!(".slate-{tag}.txt"));
    // drawtext reads the text from a file: no escaping of what a user typed into a filter.
    tokio::fs::write(&text, format!("{}\nback soon", title.chars().take(60).collect::<String>()))
        .await
        .map_err(|e| BroadcastError::Prepare(format!("the slate: {e}")))?;
    let part = dir.join(format!(".slate-{tag}.part"));
    let card = format!(
        "drawtext=textfile='{}':fontcolor=white:fontsize={}:line_spacing=12:x=(w-text_w)/2:y=(h-text_h)/2",
        text.display(),
        (quality.height / 14).max(12)
    );
    // Without a font (a minimal system), a plain card still keeps the destinations connected.
    let made = make(&part, quality, &card).await;
    let made = match made {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "the slate's text could not be drawn; a plain card instead");
            make(&part, quality, "null").await
        }
    };
    let _ = tokio::fs::remove_file(&text).await;
    made.map_err(|e| BroadcastError::Prepare(format!("the slate could not be made: {e}")))?;
    tokio::fs::rename(&part, &path).await.map_err(|e| BroadcastError::Prepare(format!("the slate: {e}")))?;
    Ok(path)
}

async fn make(out: &Path, q: &Quality, filter: &str) -> Result<(), String> {
    let color = format!("color=c=0x18181b:s={}x{}:r={}:d={LENGTH_S}", q.width, q.height, q.fps);
    let args = ["-y", "-f", "lavfi", "-i", &color, "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", &LENGTH_S.to_string(), "-map", "0:v:0", "-map", "1:a:0"]
        .map(String::from)
        .into_iter()
        .chain(prepare::video_encode(q, &format!("{filter},format=yuv420p")))
        .chain(prepare::audio_encode(q, None))
        .chain(["-f".to_string(), "flv".into(), out.display().to_string()]);
    let result = Ffmpeg::start(args, Output::File, crate::media::limits::ENCODE_MEMORY).map_err(|e| e.to_string())?.finish().await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(out).await;
    }
    result
}
