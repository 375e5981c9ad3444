//! Reading streams back, for every surface alike: one limit policy for lists, and one stream or
//! its log looked up within the profile in SQL (an id of another profile is simply not found).

use super::{BroadcastError, StreamRow};
use crate::profiles::Profile;
use crate::Twitcher;

/// How many streams a list gives when the caller does not say.
pub const LIST_DEFAULT: u32 = 200;
/// The most one page of a list gives.
pub const LIST_MAX: u32 = 1000;

/// A page of the profile's streams, newest first: `limit` of them (default [`LIST_DEFAULT`], at
/// most [`LIST_MAX`]) after skipping `offset`.
pub async fn list(app: &Twitcher, actor: &Profile, limit: Option<u32>, offset: u32) -> Result<Vec<StreamRow>, BroadcastError> {
    let limit = limit.unwrap_or(LIST_DEFAULT).clamp(1, LIST_MAX);
    Ok(app.db.streams(actor.id, limit as i64, offset as i64).await?)
}

/// A page of the profile's streams, newest first (the API's list): those older than the cursor
/// (the last id of the page before).
pub async fn list_page(app: &Twitcher, actor: &Profile, page: crate::model::PageRequest) -> Result<Vec<StreamRow>, BroadcastError> {
    Ok(app.db.streams_before(actor.id, page.cursor, page.limit).await?)
}

/// One of the profile's streams.
pub async fn stream(app: &Twitcher, actor: &Profile, id: i64) -> Result<StreamRow, BroadcastError> {
    app.db.stream(actor.id, id).await?.ok_or(BroadcastError::NoStream { id })
}

/// A broadcast's title (its first destination's), for the tray's menu.
pub async fn title(app: &Twitcher, broadcast_id: &str) -> Result<Option<String>, BroadcastError> {
    Ok(app.db.broadcast_title(broadcast_id).await?)
}

/// The scheduled broadcast that starts first, of any profile on the data dir: (broadcast id,
/// title, scheduled_at) — for the tray's "Start next scheduled".
pub async fn next_scheduled(app: &Twitcher) -> Result<Option<(String, String, String)>, BroadcastError> {
    Ok(app.db.next_scheduled().await?)
}

/// The redacted log of one of the profile's streams: (at, level, message), oldest first.
pub async fn logs(app: &Twitcher, actor: &Profile, id: i64) -> Result<Vec<(String, String, String)>, BroadcastError> {
    app.db.stream_events(actor.id, id).await?.ok_or(BroadcastError::NoStream { id })
}
