//! What a playlist broadcast adds to a broadcast: its source (every entry prepared at the
//! broadcast's quality, the first before going live and the rest behind the playhead, with a
//! slate for an entry that cannot play) and what each join tells the channels (the item's title,
//! category and tags, and a stream marker).

use std::collections::HashMap;
use std::sync::Arc;

use rand::SeedableRng;
use tokio::sync::{mpsc, watch};

use super::{prepare, source, BroadcastError, Quality, StartRequest};
use crate::profiles::Profile;
use crate::{accounts, library, Twitcher};

/// The source of a playlist broadcast: every item prepared at the broadcast's quality (each
/// video once, however often it appears), played in the playlist's order.
pub(super) async fn playlist_input(
    app: &Twitcher,
    actor: &Profile,
    request: &StartRequest,
    playlist: &crate::playlists::Playlist,
    videos: &[library::Video],
    slate_video: Option<&library::Video>,
    (now_playing, skipped): (watch::Sender<Option<(usize, Option<usize>)>>, mpsc::UnboundedSender<(usize, String)>),
    title: &str,
) -> Result<(super::flv::Headers, source::Input), BroadcastError> {
    let options = crate::playlists::PlaylistOptions { looped: playlist.options.looped || request.looped, ..playlist.options };
    let items_len = playlist.items.len();
    let order = crate::playlists::PlayOrder::new(items_len, options, rand::rngs::StdRng::from_entropy()).map(move |entry| match entry {
        crate::playlists::Entry::Item(i) => i,
        // The insert's video follows the items (validate put it there).
        crate::playlists::Entry::Insert => items_len,
    });
    let mut order: std::iter::Peekable<Box<dyn Iterator<Item = usize> + Send>> = (Box::new(order) as Box<dyn Iterator<Item = usize> + Send>).peekable();
    let first = *order.peek().expect("a playlist that goes live has items");

    // What is prepared already goes in at once; the rest is queued together (the worker runs
    // the preparations in turn). The broadcast waits only for the first entry, and the others
    // fill in behind the playhead. An entry reached before its preparation is done is skipped,
    // with the slate in its place.
    let items: source::Items = std::sync::Arc::new(std::sync::RwLock::new(vec![None; videos.len()]));
    let mut pending: Vec<library::Video> = Vec::new();
    for video in videos {
        if pending.iter().any(|p| p.id == video.id) || items.read().expect("not poisoned").iter().zip(videos).any(|(slot, v)| v.id == video.id && slot.is_some()) {
            continue;
        }
        match prepare::ready(app, video.id, &request.quality).await? {
            Some(_) => match prepared_item(app, actor, video, &request.quality).await {
                Ok(item) => fill(&items, videos, video.id, &item),
                Err(e) => tracing::warn!(video_id = video.id, error = %e, "a prepared playlist item cannot be read; it will be skipped"),
            },
            None => {
                prepare::enqueue(app, actor, video, &request.quality).await?;
                pending.push(video.clone());
            }
        }
    }
    let ready_first = items.read().expect("not poisoned")[first].clone();
    let first_item = match ready_first {
        Some(item) => item,
        None => prepared_item(app, actor, &videos[first], &request.quality).await?,
    };
    let headers = first_item.headers.clone();
    fill(&items, videos, videos[first].id, &first_item);
    pending.retain(|v| v.id != videos[first].id);
    let (app_, actor_, quality, slots, all) = (app.clone(), actor.clone(), request.quality, items.clone(), videos.to_vec());
    let filling = tokio::spawn(async move {
        for video in pending {
            match prepared_item(&app_, &actor_, &video, &quality).await {
                Ok(item) => fill(&slots, &all, video.id, &item),
                Err(e) => tracing::warn!(video_id = video.id, error = %e, "a playlist item could not be prepared; it will be skipped"),
            }
        }
    });
    // Made before going live, so it is there the moment an item fails: the playlist's own
    // video (prepared like an item), else the built-in card; without either (FFmpeg could not
    // make it) a failing item ends the broadcast.
    let chosen = match slate_video {
        Some(video) => match prepared_item(app, actor, video, &request.quality).await {
            Ok(item) => Some(item),
            Err(e) => {
                tracing::warn!(video_id = video.id, error = %e, "the playlist's slate video cannot play; the built-in card stands in");
                None
            }
        },
        None => None,
    };
    let slate = match chosen {
        Some(item) => Some(item),
        None => match super::slate::ensure(app, &request.quality, title).await {
            Ok(path) => match source::read_headers(&path).await {
                Ok(headers) => Some(source::PlayItem { path, headers }),
                Err(e) => {
                    tracing::warn!(error = %e, "the slate cannot be read");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "no slate for this broadcast");
                None
            }
        },
    };
    Ok((headers, source::Input::Playlist(source::Playhead { items, order, now_playing, slate, skipped, filling: filling.abort_handle() })))
}

/// Puts a prepared video into every entry that plays it.
fn fill(items: &source::Items, videos: &[library::Video], video_id: i64, item: &source::PlayItem) {
    let mut slots = items.write().expect("not poisoned");
    for (slot, video) in slots.iter_mut().zip(videos) {
        if video.id == video_id {
            *slot = Some(item.clone());
        }
    }
}

/// A prepared item with its sequence headers (waiting for the preparation when needed).
async fn prepared_item(app: &Twitcher, actor: &Profile, video: &library::Video, quality: &Quality) -> Result<source::PlayItem, BroadcastError> {
    let path = prepare::ensure_prepared(app, actor, video, quality).await?;
    let headers = source::read_headers(&path).await.map_err(|e| BroadcastError::Source(format!("{}: {e}", video.title)))?;
    Ok(source::PlayItem { path, headers })
}

/// What a playlist join tells the channels.
pub(super) struct Joins {
    pub actor: Profile,
    /// The accounts that went live.
    pub accounts: Vec<accounts::Account>,
    /// Per entry (as `labels`).
    pub starts: Vec<crate::twitch::channel::ItemStart>,
    /// Account id → stream id.
    pub streams: HashMap<i64, i64>,
}

/// Per playlist entry: the marker's name and, when the item sets any, the channel settings —
/// the item's title, category and tags, each falling back to the broadcast's. The insert (a
/// bumper) changes nothing but gets a marker.
pub(super) fn item_starts_of(playlist: &crate::playlists::Playlist, labels: &[String], title: &str, request: &StartRequest) -> Vec<crate::twitch::channel::ItemStart> {
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let meta = playlist.items.get(i).map(|item| &item.meta);
            let settings = meta.filter(|m| m.title.is_some() || m.category.is_some() || m.tags.is_some()).map(|m| {
                (
                    m.title.clone().unwrap_or_else(|| title.to_string()),
                    m.category.clone().or_else(|| request.category.clone()),
                    m.tags.clone().unwrap_or_else(|| request.tags.clone()),
                )
            });
            crate::twitch::channel::ItemStart { label: label.clone(), settings }
        })
        .collect()
}

/// Tells the channels about a playlist join; what Twitch refused becomes that destination's event.
pub(super) async fn announce_join(app: Twitcher, joins: Arc<Joins>, live: Vec<accounts::Account>, start: crate::twitch::channel::ItemStart, marker: bool) {
    // Accounts added by hand were told at go-live that Twitcher cannot reach their channel.
    let live: Vec<accounts::Account> = live.into_iter().filter(|a| a.connected).collect();
    let notices = crate::twitch::channel::at_join(&app, &joins.actor, &live, &start, marker).await;
    for account in &live {
        let Some(stream_id) = joins.streams.get(&account.id) else { continue };
        match notices.get(&account.id) {
            Some(notice) => {
                let _ = app.db.add_stream_event(*stream_id, if account.connected { "warn" } else { "info" }, &format!("at “{}”: {notice}", start.label)).await;
            }
            None if marker => {
                let _ = app.db.add_stream_event(*stream_id, "info", &format!("stream marker “{}” set", start.label)).await;
            }
            None => {}
        }
    }
}
