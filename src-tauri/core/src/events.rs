//! One typed stream of what happens in the core (job progress, library changes), which the
//! desktop shell forwards to the window and the CLI prints. Subscribers that fall behind miss
//! events rather than slowing the work down.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::model::{JobStatus, StreamStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A background job moved: progress (0..=1), a new status, or its end.
    Job(JobEvent),
    /// A video was added, changed or removed: lists showing it should refresh.
    VideosChanged { profile_id: i64 },
    /// A destination of a broadcast: on every change of state and about once a second.
    Stream(StreamStatus),
    /// A scheduled broadcast's time came and it is starting.
    ScheduledStarted { broadcast_id: String, title: String, destinations: u32 },
    // Also sent when another process changed the next scheduled broadcast (the runtime watches
    // it), so the tray needs no poll of its own.
    /// A broadcast was scheduled or a scheduled one cancelled (by this process): what shows the
    /// next one (the tray) should look again.
    ScheduleChanged { broadcast_id: String },
    /// A playlist item could not play; the slate filled its place.
    ItemSkipped { broadcast_id: String, title: String, item: String, reason: String },
    /// A destination has published for a while, yet Twitch shows its channel offline; it is
    /// reconnected once.
    ChannelOfflineWhilePublishing { broadcast_id: String, stream_id: i64, account: String, title: String, minutes: u32 },
    /// A supervised background task panicked, or failed several turns in a row (see `tasks`).
    TaskFailing { task: String, error: String },
    /// It completed a turn again.
    TaskRecovered { task: String },
    /// The data dir's disk has less than `disk::LOW_DISK_BYTES` free (said once until it has room
    /// again).
    DiskLow { free_bytes: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct JobEvent {
    pub job_id: i64,
    pub kind: String,
    pub profile_id: Option<i64>,
    /// What the job works on, for people: a file name.
    pub label: String,
    pub status: JobStatus,
    pub progress: f64,
    /// Seconds left, when it can be estimated.
    pub eta_sec: Option<f64>,
    pub error: Option<String>,
    pub video_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Self { tx: broadcast::channel(1024).0 }
    }
}

impl Events {
    pub fn emit(&self, event: Event) {
        // No subscriber is fine: nobody is watching.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// How many subscribers listen now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}
