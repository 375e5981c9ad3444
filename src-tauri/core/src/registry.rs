//! What one process holds in memory, and only for itself: the broadcasts and jobs it runs, the
//! Twitch rate-limit bucket it last saw, and the switches of the loops it started. Everything
//! another process must know is a row in the database (DESIGN.md §9); this is a cache of what
//! this process holds a lease on, so losing it with the process loses nothing.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::model::StreamState;
use crate::outbound::OutboundPolicy;
use crate::tasks::Tasks;

/// Everything this process keeps in memory. Cheap to clone: every part is shared.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Broadcasts running in this process.
    pub broadcasts: Running,
    /// Jobs this process runs now, by id: cancelling one fires its token.
    pub(crate) running_jobs: RunningJobs,
    /// Wakes the job worker when a job is queued.
    pub(crate) jobs_changed: Arc<Notify>,
    /// Helix's rate-limit bucket as last seen by this process.
    pub(crate) twitch_limit: RateLimit,
    /// Whether this process's lease renewal runs (`lease`).
    pub(crate) lease_keeper: Arc<AtomicBool>,
    /// Whether this process runs the job worker (then waiting for a job never runs it inline).
    pub(crate) worker_running: Arc<AtomicBool>,
    /// Whether this process is a node of a fleet (`serve`): its broadcasts' destinations are
    /// claimed by the nodes (`broadcast::fleet`) instead of published where they are started.
    pub(crate) node: Arc<AtomicBool>,
    /// Wakes this node's claim loop when destinations start waiting.
    pub(crate) fleet_wake: Arc<Notify>,
    /// Where this process may connect out to (`serve` restricts it; see `outbound`).
    pub(crate) outbound: Arc<RwLock<OutboundPolicy>>,
    /// How each supervised background task is doing (see `tasks`).
    pub tasks: Tasks,
}

/// The jobs this process runs, by id. A std lock: never held across an await.
pub(crate) type RunningJobs = Arc<Mutex<HashMap<i64, CancellationToken>>>;

/// Helix's bucket as last seen, shared by every call of the process (the Twitch client reads
/// the headers; this only remembers them).
#[derive(Debug, Clone, Default)]
pub struct RateLimit(Arc<Mutex<Option<Bucket>>>);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    remaining: u64,
    reset_unix: u64,
}

impl RateLimit {
    /// How long to wait at `now_unix` before the next request may go (zero when the bucket has
    /// points).
    pub(crate) fn wait_needed(&self, now_unix: u64) -> Duration {
        let bucket = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        match bucket {
            Some(b) if b.remaining == 0 => {
                // +1: Twitch refills at the start of the reset second, not before it.
                Duration::from_secs((b.reset_unix + 1).saturating_sub(now_unix))
            }
            _ => Duration::ZERO,
        }
    }

    /// Records what Twitch said is left, and when the bucket refills.
    pub(crate) fn observe(&self, remaining: u64, reset_unix: u64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Bucket { remaining, reset_unix });
    }
}

// The broadcasts running in this process, so any surface (window, tray, HTTP) can stop them.
// On a fleet a node may run several parts of one broadcast (destinations it claimed at
// different times, each part with its own source): they are kept side by side.

/// One part of a broadcast run here: its id, the whole part, each destination by stream id.
type Part = (u64, CancellationToken, HashMap<i64, CancellationToken>);

#[derive(Clone, Default)]
pub struct Running {
    /// broadcast id → its parts running here. A std lock: never held across an await.
    inner: Arc<std::sync::Mutex<HashMap<String, Vec<Part>>>>,
    next_part: Arc<std::sync::atomic::AtomicU64>,
    /// The supervisors no surface waits for (started from the window, `serve`, the tray, the
    /// scheduler): held here so shutdown can join them, not dropped on the floor.
    detached: Arc<std::sync::Mutex<Vec<JoinHandle<HashMap<i64, StreamState>>>>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("broadcasts", &self.inner.lock().map(|m| m.len()).unwrap_or(0)).finish()
    }
}

impl Running {
    /// Records a part of broadcast `id`; returns the part's id for [`Running::remove`].
    pub(crate) fn insert(&self, id: &str, all: CancellationToken, each: HashMap<i64, CancellationToken>) -> u64 {
        let part = self.next_part.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).entry(id.to_string()).or_default().push((part, all, each));
        part
    }

    pub(crate) fn remove(&self, id: &str, part: u64) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(parts) = map.get_mut(id) {
            parts.retain(|(p, _, _)| *p != part);
            if parts.is_empty() {
                map.remove(id);
            }
        }
    }

    /// The ids of the broadcasts running here.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.inner.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Stops one broadcast; false if it is not running here.
    pub fn stop_broadcast(&self, broadcast_id: &str) -> bool {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).get(broadcast_id).map(|parts| parts.iter().for_each(|(_, all, _)| all.cancel())).is_some()
    }

    /// Stops one destination; false if it is not running here. Every part that has it is told: a
    /// destination retried after it failed runs in a part of its own, and the part it failed in
    /// still lists it.
    pub fn stop_stream(&self, stream_id: i64) -> bool {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let tokens: Vec<&CancellationToken> = map.values().flatten().filter_map(|(_, _, each)| each.get(&stream_id)).collect();
        tokens.iter().for_each(|t| t.cancel());
        !tokens.is_empty()
    }

    /// Stops everything; returns how many broadcasts were told to.
    pub fn stop_all(&self) -> usize {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.values().flatten().for_each(|(_, all, _)| all.cancel());
        map.len()
    }

    /// Keeps a supervisor's join handle (see `BroadcastHandle::detach`); ended ones are let go.
    pub(crate) fn adopt(&self, done: JoinHandle<HashMap<i64, StreamState>>) {
        let mut detached = self.detached.lock().unwrap_or_else(|e| e.into_inner());
        detached.retain(|h| !h.is_finished());
        detached.push(done);
    }

    /// The supervisors adopted and not yet ended, for shutdown to join.
    pub(crate) fn take_detached(&self) -> Vec<JoinHandle<HashMap<i64, StreamState>>> {
        std::mem::take(&mut *self.detached.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn count(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Supervisors' join handles kept (ended ones included until the next adoption): a long
    /// run's test checks they do not pile up.
    #[cfg(feature = "testing")]
    pub(crate) fn adopted(&self) -> usize {
        self.detached.lock().map(|d| d.len()).unwrap_or(0)
    }
}
