//! The streaming engine: one source, many destinations (DESIGN.md §4).
//!
//! ```text
//! prepared FLV ──▶ source (paced, looped) ──▶ fan-out ──▶ publisher(account A) ──RTMP──▶ ingest
//!                                                 └────▶ publisher(account B) ──RTMP──▶ ingest
//! ```
//! - [`prepare`]: the Twitch-ready FLV, made once per (video, quality) by ffmpeg.
//! - [`source`]: reads its tags and paces them to the wall clock; a loop continues the timestamps.
//! - [`fanout`]: one bounded queue per destination; a slow one skips to the next keyframe and never
//!   holds the others back.
//! - [`publisher`]: an RTMP client in this process (rml_rtmp over tokio). The stream key never
//!   leaves it. Lost connections come back with capped exponential backoff and jitter.
//! - [`supervisor`]: the broadcast as a whole: rows, state transitions ([`state`]), events, stop;
//!   [`orders`] carries a stop from any process (written on the rows, read by the supervisor);
//!   [`running`] holds the broadcasts this process runs; [`schedule`] starts one later;
//!   [`recovery`] closes what a crash left; [`keycheck`] tests a key without going live.

pub mod archive;
pub mod fanout;
pub mod fleet;
pub mod flv;
pub mod keycheck;
pub mod loudness;
pub mod listing;
pub mod orders;
mod playlist;
pub mod prepare;
pub mod publisher;
pub mod recovery;
pub mod schedule;
pub mod slate;
pub mod source;
pub mod supervisor;

mod tls;



pub use crate::options::EngineOptions;
pub use crate::model::{InvalidQuality, Quality, QualityPreset, StreamRow, StreamState, StreamStatus, QUALITY_PRESETS};
pub use keycheck::{check_key, KeyCheck};
pub use listing::{list, list_page, logs, next_scheduled, stream, title, LIST_DEFAULT, LIST_MAX};
pub use orders::{cancel, stop, stop_here, StopTarget};
pub use recovery::{after_crash, prune_logs, recover, set_after_crash, AfterCrash};
pub use crate::registry::Running;
pub use fleet::retry;
pub use schedule::{parse_start_time, schedule, start_due, start_scheduled, start_when_due};
pub use supervisor::{start, start_in_background, BroadcastHandle};

use serde::{Deserialize, Serialize};

use crate::db::DbError;
use crate::model::NotAdmin;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartRequest {
    /// What to play: a library video, or (instead) a playlist.
    #[serde(default)]
    pub video_id: Option<i64>,
    #[serde(default)]
    pub playlist_id: Option<i64>,
    pub account_ids: Vec<i64>,
    pub title: String,
    /// Twitch category (game) name; applied to the channel at go-live by the Twitch integration.
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub quality: Quality,
    #[serde(rename = "loop")]
    pub looped: bool,
    /// When the video is not prepared for this quality yet: go live at once with a real-time
    /// encode (and prepare in the background for next time) instead of waiting. (A playlist's
    /// items are always prepared first: they join without an encoder.)
    #[serde(default)]
    pub live_encode: bool,
}

impl StartRequest {
    /// What a start asked by a person (the window, the API) does when the video is not prepared
    /// at its quality yet: go live at once on a real-time encode, and prepare meanwhile. A person
    /// pressed Go live and expects to be live; the command line asks with `--live-encode` (a
    /// script there waits for the preparation by default).
    pub const LIVE_ENCODE_BY_DEFAULT: bool = true;
}

/// Whether a part's destinations start now or continue a publish another node began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Fresh,
    /// A node of a fleet took them over: the channels already have their title, and nothing goes
    /// out before `sent_ms` (the newest RTMP timestamp their node recorded sending) plus what it
    /// may have sent since its last record.
    TakenOver { sent_ms: Option<u64> },
}

#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    #[error("invalid quality: {0}")]
    InvalidQuality(String),
    #[error("no video {id} in this profile's library")]
    NoVideo { id: i64 },
    #[error("no playlist {id} in this profile")]
    NoPlaylist { id: i64 },
    #[error("the {plan} plan runs {limit} broadcast(s) at once: stop one first, or ask an ADMIN for another plan")]
    PlanLimit { plan: crate::profiles::Plan, limit: u32 },
    #[error("the {plan} plan keeps {limit} broadcasts scheduled ahead: cancel one first, or ask an ADMIN for another plan")]
    ScheduledLimit { plan: crate::profiles::Plan, limit: u32 },
    #[error("the {plan} plan encodes {limit} video(s) live at once, and this one is not prepared at this quality yet: prepare it first (`twitcher video prepare`, or start without a live encode to go live once it is), stop a live-encoded broadcast, or ask an ADMIN for another plan")]
    LiveEncodeLimit { plan: crate::profiles::Plan, limit: u32 },
    #[error("{0}")]
    InvalidProgram(String),
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
    #[error("no Twitch account {id} on this profile")]
    NoAccount { id: i64 },
    #[error("the stream key check failed: {0}")]
    KeyRefused(String),
    #[error("no broadcast {id} to act on in this profile (see `twitcher stream list`)")]
    NoBroadcast { id: String },
    #[error("{0}")]
    InvalidTime(String),
    #[error("broadcast {id} was already started, by this or another Twitcher on this data dir (the window, `serve` or another `twitcher`)")]
    AlreadyStarted { id: String },
    #[error("broadcast {id} was cancelled before its time")]
    Cancelled { id: String },
    #[error("no stream {id} on this profile")]
    NoStream { id: i64 },
    #[error("destination {id} cannot be retried: only a failed destination of a broadcast still on air can be (start the broadcast again instead)")]
    NotRetryable { id: i64 },
    #[error("{failed} of {total} destinations did not end normally: see `twitcher stream logs ID`")]
    DestinationsFailed { failed: usize, total: usize },
    #[error("choose at least one account to stream to")]
    NoDestination,
    #[error("the video could not be prepared: {0}")]
    Prepare(String),
    #[error("the prepared file cannot be read: {0}")]
    Source(String),
    #[error(transparent)]
    Account(#[from] crate::accounts::AccountError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    NotAdmin(#[from] NotAdmin),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<InvalidQuality> for BroadcastError {
    fn from(e: InvalidQuality) -> Self {
        BroadcastError::InvalidQuality(e.0)
    }
}


