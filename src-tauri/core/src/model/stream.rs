//! Broadcasts as every surface sees them: a destination's state and its one transition table,
//! the quality a video is prepared and streamed at, a destination's row and live status.
//!
//! A destination's lifecycle, written down once (DESIGN.md §3):
//!
//! ```text
//! scheduled → queued → starting → live ⇄ reconnecting → stopping → ended
//!                 └──────┴──────────┴─────────┴──────────────→ failed | cancelled
//! ```
//!
//! On a fleet (`broadcast::fleet`) a destination no node holds yet — a new one, or one whose node
//! died or handed it over — is `pending`: stored as `queued` without an owner, shown as `pending`
//! with the reason it waits; the node that claims it makes it `queued` again and publishes it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum StreamState {
    Scheduled,
    /// Waiting for a node of the fleet to publish it (see the module's note).
    Pending,
    Queued,
    Starting,
    Live,
    Reconnecting,
    Stopping,
    Ended,
    Failed,
    Cancelled,
}

use StreamState::*;

/// Every allowed move. Anything not listed is a bug the supervisor refuses.
const TRANSITIONS: &[(StreamState, &[StreamState])] = &[
    (Scheduled, &[Queued, Cancelled, Failed]),
    (Pending, &[Queued, Ended, Cancelled]),
    (Queued, &[Starting, Pending, Cancelled, Failed]),
    (Starting, &[Live, Reconnecting, Stopping, Pending, Failed, Cancelled]),
    (Live, &[Reconnecting, Stopping, Pending, Ended, Failed]),
    (Reconnecting, &[Live, Stopping, Pending, Failed]),
    (Stopping, &[Ended, Failed]),
    (Ended, &[]),
    (Failed, &[]),
    (Cancelled, &[]),
];

impl StreamState {
    pub fn can_become(self, next: StreamState) -> bool {
        TRANSITIONS.iter().any(|(from, to)| *from == self && to.contains(&next))
    }

    /// The states that may move to `next`: the guard of every status write.
    pub fn sources(next: StreamState) -> Vec<StreamState> {
        TRANSITIONS.iter().filter(|(_, to)| to.contains(&next)).map(|(from, _)| *from).collect()
    }

    /// `'a', 'b'` for an SQL `IN (…)` (the names are fixed words, never user input).
    pub(crate) fn sql_list(states: &[StreamState]) -> String {
        states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
    }

    pub fn is_final(self) -> bool {
        matches!(self, Ended | Failed | Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheduled => "scheduled",
            Pending => "pending",
            Queued => "queued",
            Starting => "starting",
            Live => "live",
            Reconnecting => "reconnecting",
            Stopping => "stopping",
            Ended => "ended",
            Failed => "failed",
            Cancelled => "cancelled",
        }
    }
}

/// A stream some process runs (and holds a lease on).
pub(crate) const ACTIVE: [StreamState; 5] = [Queued, Starting, Live, Reconnecting, Stopping];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_a_quality_twitch_takes_and_the_default_is_1080p30() {
        for p in QUALITY_PRESETS {
            assert_eq!(p.quality.validate(), Ok(()), "{}", p.name);
            assert_eq!(p.name, format!("{}p{}", p.quality.height, p.quality.fps));
        }
        assert_eq!(Quality::default(), QUALITY_PRESETS.iter().find(|p| p.name == "1080p30").unwrap().quality);
        let asked = Quality::with(Some(60), None, None, Some("1280x720")).unwrap();
        assert_eq!((asked.fps, asked.width, asked.height, asked.video_bitrate_k), (60, 1280, 720, Quality::default().video_bitrate_k));
        assert!(Quality::with(None, Some(9000), None, None).is_err(), "over Twitch's maximum");
    }

    const ALL: [StreamState; 10] = [Scheduled, Pending, Queued, Starting, Live, Reconnecting, Stopping, Ended, Failed, Cancelled];

    #[test]
    fn the_happy_path_and_reconnects_are_allowed() {
        for (a, b) in [(Scheduled, Queued), (Queued, Starting), (Starting, Live), (Live, Reconnecting), (Reconnecting, Live), (Live, Stopping), (Stopping, Ended)] {
            assert!(a.can_become(b), "{a:?} → {b:?}");
        }
    }

    #[test]
    fn final_states_never_change_and_nothing_goes_backwards() {
        for state in ALL.into_iter().filter(|s| s.is_final()) {
            assert!(ALL.iter().all(|next| !state.can_become(*next)), "{state:?}");
        }
        assert!(!Live.can_become(Starting));
        assert!(!Live.can_become(Queued));
        assert!(!Stopping.can_become(Live));
        assert!(!Scheduled.can_become(Live));
    }

    #[test]
    fn every_state_is_in_the_table_once() {
        for state in ALL {
            assert_eq!(TRANSITIONS.iter().filter(|(from, _)| *from == state).count(), 1, "{state:?}");
        }
    }
}

/// A quality outside what Twitch takes, with what is wrong (`BroadcastError::InvalidQuality`
/// carries it to the surfaces).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidQuality(pub String);

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

/// A named quality, as the window's picker shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct QualityPreset {
    pub name: &'static str,
    pub quality: Quality,
}

const fn preset(name: &'static str, width: u32, height: u32, fps: u32, video_bitrate_k: u32, audio_bitrate_k: u32) -> QualityPreset {
    QualityPreset { name, quality: Quality { fps, video_bitrate_k, audio_bitrate_k, width, height } }
}

/// Twitch's recommended settings per resolution and frame rate (its broadcasting guidelines),
/// decided here once for every surface: the window's picker lists them, and a start that names
/// no quality (the CLI's flags, the API's fields left out) gets [`Quality::default`], 1080p30.
pub const QUALITY_PRESETS: [QualityPreset; 5] = [
    preset("1080p60", 1920, 1080, 60, 6000, 160),
    preset("1080p30", 1920, 1080, 30, 4500, 160),
    preset("720p60", 1280, 720, 60, 4500, 160),
    preset("720p30", 1280, 720, 30, 3000, 160),
    preset("480p30", 854, 480, 30, 1500, 128),
];

impl Default for Quality {
    /// 1080p30 at Twitch's recommended bitrate.
    fn default() -> Self {
        QUALITY_PRESETS[1].quality
    }
}

impl Quality {
    /// What a request gave, with [`Quality::default`]'s value for each part it left out;
    /// checked. What every surface calls, so none has defaults of its own.
    pub fn with(fps: Option<u32>, video_bitrate_k: Option<u32>, audio_bitrate_k: Option<u32>, resolution: Option<&str>) -> Result<Quality, InvalidQuality> {
        let default = Quality::default();
        let (width, height) = match resolution {
            Some(text) => Quality::parse_resolution(text)?,
            None => (default.width, default.height),
        };
        let quality = Quality {
            fps: fps.unwrap_or(default.fps),
            video_bitrate_k: video_bitrate_k.unwrap_or(default.video_bitrate_k),
            audio_bitrate_k: audio_bitrate_k.unwrap_or(default.audio_bitrate_k),
            width,
            height,
        };
        quality.validate()?;
        Ok(quality)
    }

    pub fn validate(&self) -> Result<(), InvalidQuality> {
        let bad = |m: &str| Err(InvalidQuality(m.to_string()));
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
    pub fn parse_resolution(text: &str) -> Result<(u32, u32), InvalidQuality> {
        let (w, h) = text.trim().split_once(['x', 'X']).ok_or_else(|| InvalidQuality(format!("'{text}' is not WIDTHxHEIGHT")))?;
        match (w.parse(), h.parse()) {
            (Ok(w), Ok(h)) => Ok((w, h)),
            _ => Err(InvalidQuality(format!("'{text}' is not WIDTHxHEIGHT"))),
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
