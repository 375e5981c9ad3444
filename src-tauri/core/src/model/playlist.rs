//! Playlists as every surface sees them: ordered items, options, per-item titles.

use serde::{Deserialize, Serialize};

/// What the channels get when an item starts; `None` keeps the broadcast's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemMeta {
    pub title: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaylistItem {
    pub id: i64,
    /// 1-based.
    pub position: u32,
    pub video_id: i64,
    pub video_title: String,
    pub duration_sec: Option<f64>,
    #[serde(flatten)]
    pub meta: ItemMeta,
}

/// How a playlist plays (each field omitted: off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaylistOptions {
    /// Starts over after the last item, until stopped.
    #[serde(rename = "loop")]
    pub looped: bool,
    /// Each round in a new random order.
    pub shuffle: bool,
    /// Plays `insert_video_id` after every this many items (with it; 1 or more).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub insert_every: Option<u32>,
    pub insert_video_id: Option<i64>,
    /// What plays in place of an item that cannot (its file gone, not prepared in time): this
    /// video, or (none) a built-in card with the channel's title and "back soon".
    #[serde(default)]
    pub slate_video_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Playlist {
    pub id: i64,
    pub name: String,
    #[serde(flatten)]
    pub options: PlaylistOptions,
    pub items: Vec<PlaylistItem>,
    /// One round, without inserts; `null` when an item's duration is unknown.
    pub duration_sec: Option<f64>,
    pub created_at: String,
}
