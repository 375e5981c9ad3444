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
pub mod lease;
pub mod loudness;
pub mod listing;
pub mod orders;
mod playlist;
pub mod prepare;
pub mod publisher;
pub mod recovery;
pub mod running;
pub mod schedule;
pub mod slate;
pub mod source;
pub mod state;
pub mod supervisor;

mod tls;

use serde::{Deserialize, Serialize};

pub use state::StreamState;
pub use keycheck::{check_key, KeyCheck};
pub use listing::{list, logs, next_scheduled, stream, title, LIST_DEFAULT, LIST_MAX};
pub use orders::{cancel, stop, stop_here, StopTarget};
pub use recovery::{after_crash, prune_logs, recover, set_after_crash, AfterCrash};
pub use running::Running;
pub use schedule::{parse_start_time, run_scheduler, schedule, start_scheduled, start_when_due};
pub use supervisor::{start, BroadcastHandle, StartRequest};

use crate::db::DbError;

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
    #[error("the {plan} plan encodes {limit} video(s) live at once, and this one is not prepared at this quality yet: prepare it first (`twitcher video prepare`, or start without a live encode to go live once it is), stop a live-encoded broadcast, or ask an ADMIN for another plan")]
    LiveEncodeLimit { plan: crate::profiles::Plan, limit: u32 },
    #[error("{0}")]
    InvalidProgram(String),
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
    Db(#[from] DbError),
}

/// Settings of the streaming engine that only tests change, passed in [`crate::Options`] — no
/// environment variable reaches them, so a release build never trusts an extra CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// One more CA trusted for RTMPS (a local test ingest's self-signed CA), besides the web's
    /// root certificates.
    pub extra_ca: Option<std::path::PathBuf>,
    /// How long one publish lasts before the planned reconnect (Twitch ends a broadcast at 48 h).
    pub planned_reconnect: std::time::Duration,
    /// How long before `planned_reconnect` a pass's start (a playlist join, a loop) is taken
    /// for it instead: a cut between two items is one nobody notices.
    pub join_window: std::time::Duration,
    /// How long a destination publishes before the watchdog asks Twitch whether its channel is
    /// live (Helix lags a stream's start by a minute or so), and how often it asks.
    pub offline_after: std::time::Duration,
    pub offline_check_every: std::time::Duration,
    /// How often a running broadcast's log is written to S3 (when S3 is set up).
    pub log_archive_every: std::time::Duration,
    /// The RTMP timestamp of a stream's first tag (a test starts near 0xFFFFFF ms to cover, in
    /// seconds, the extended timestamps that take 4.66 h to reach).
    pub first_timestamp_ms: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            extra_ca: None,
            planned_reconnect: publisher::PLANNED_RECONNECT,
            join_window: publisher::JOIN_WINDOW,
            offline_after: std::time::Duration::from_secs(120),
            offline_check_every: std::time::Duration::from_secs(60),
            log_archive_every: std::time::Duration::from_secs(3600),
            first_timestamp_ms: 0,
        }
    }
}

/// The quality a video is prepared and streamed at (Twitch's guidance: 6000 kbps at most).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quality {
    // The ranges `validate` enforces, stated for the API's document.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60))]
    pub fps: u32,
    #[cfg_attr(feature = "openapi", schema(minimum = 300, maximum = 6000))]
    pub video_bitrate_k: u32,
    #[cfg_attr(feature = "openapi", schema(minimum = 64, maximum = 320))]
    pub audio_bitrate_k: u32,
    /// Even.
    #[cfg_attr(feature = "openapi", schema(minimum = 160, maximum = 3840, multiple_of = 2))]
    pub width: u32,
    /// Even.
    #[cfg_attr(feature = "openapi", schema(minimum = 90, maximum = 2160, multiple_of = 2))]
    pub height: u32,
}

impl Default for Quality {
    fn default() -> Self {
        Self { fps: 30, video_bitrate_k: 2500, audio_bitrate_k: 160, width: 1920, height: 1080 }
    }
}

impl Quality {
    pub fn validate(&self) -> Result<(), BroadcastError> {
        let bad = |m: &str| Err(BroadcastError::InvalidQuality(m.to_string()));
        if !(1..=60).contains(&self.fps) {
            return bad("the frame rate must be 1 to 60 fps");
        }
        if !(300..=6000).contains(&self.video_bitrate_k) {
            return bad("the video bitrate must be 300 to 6000 kbps (Twitch's maximum)");
        }
        if !(64..=320).contains(&self.audio_bitrate_k) {
            return bad("the audio bitrate must be 64 to 320 kbps");
        }
        if !(160..=3840).contains(&self.width) || !(90..=2160).contains(&self.height) || self.width % 2 == 1 || self.height % 2 == 1 {
            return bad("the resolution must be even, from 160x90 to 3840x2160");
        }
        Ok(())
    }

    /// `1920x1080`.
    pub fn resolution(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }

    /// Parses `WxH`.
    pub fn parse_resolution(text: &str) -> Result<(u32, u32), BroadcastError> {
        let (w, h) = text.trim().split_once(['x', 'X']).ok_or_else(|| BroadcastError::InvalidQuality(format!("'{text}' is not WIDTHxHEIGHT")))?;
        match (w.parse(), h.parse()) {
            (Ok(w), Ok(h)) => Ok((w, h)),
            _ => Err(BroadcastError::InvalidQuality(format!("'{text}' is not WIDTHxHEIGHT"))),
        }
    }

    /// The cache key of a prepared file: every setting that changes its bytes.
    pub fn key(&self) -> String {
        format!("v1-{}x{}-{}fps-{}k-{}k", self.width, self.height, self.fps, self.video_bitrate_k, self.audio_bitrate_k)
    }

    pub fn label(&self) -> String {
        format!("{}p{} {} kbps", self.height, self.fps, self.video_bitrate_k)
    }
}

/// A destination of a broadcast as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamRow {
    pub id: i64,
    pub broadcast_id: String,
    pub account_id: Option<i64>,
    pub account_name: Option<String>,
    pub video_id: Option<i64>,
    pub video_title: Option<String>,
    /// The playlist it plays (then `video_id` is the playlist's first item).
    pub playlist_id: Option<i64>,
    pub playlist_name: Option<String>,
    pub title: String,
    pub status: StreamState,
    pub scheduled_at: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub error: Option<String>,
    pub channel_notice: Option<String>,
    /// A playlist broadcast's item playing now and the one after it (while it runs).
    pub now_playing: Option<String>,
    pub up_next: Option<String>,
    /// The node (`serve` process, see `nodes`) publishing it while it runs: its lease's instance.
    pub node: Option<String>,
    /// The bitrate asked for (video + audio, kbps): the line health graphs are read against.
    pub target_kbps: i64,
    pub reconnects: i64,
    pub bytes_sent: i64,
    pub created_at: String,
}

/// A destination's live status: sent on every change and about once a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamStatus {
    pub stream_id: i64,
    pub broadcast_id: String,
    pub account_id: i64,
    pub state: StreamState,
    /// Over the last second.
    pub bitrate_kbps: f64,
    /// Over the last ten seconds.
    pub bitrate_10s_kbps: f64,
    pub bytes_sent: f64,
    pub reconnects: u32,
    pub uptime_sec: f64,
    pub error: Option<String>,
    /// Why the channel's title, category or tags were not set on Twitch (the stream still runs).
    pub channel_notice: Option<String>,
    /// Media time minus wall time at the source, in ms (positive: ahead).
    pub drift_ms: f64,
    /// The playlist item playing (its title), for a playlist broadcast…
    pub now_playing: Option<String>,
    /// …and the one after it (none at the end of a playlist that does not loop).
    pub up_next: Option<String>,
}

/// A row of a scheduled broadcast, with what it takes to start it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduledRow {
    pub id: i64,
    pub creator_id: i64,
    pub account_id: Option<i64>,
    pub video_id: Option<i64>,
    pub playlist_id: Option<i64>,
    pub title: String,
    pub category: Option<String>,
    pub tags: String,
    pub fps: i64,
    pub video_bitrate_k: i64,
    pub audio_bitrate_k: i64,
    pub resolution: String,
    #[sqlx(rename = "loop", try_from = "crate::db::Flag")]
    pub looped: bool,
}
