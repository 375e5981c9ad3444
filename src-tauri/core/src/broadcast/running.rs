//! The broadcasts running in this process, so any surface (window, tray, HTTP) can stop them.
//! On a fleet a node may run several parts of one broadcast (destinations it claimed at
//! different times, each part with its own source): they are kept side by side.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

/// One part of a broadcast run here: its id, the whole part, each destination by stream id.
type Part = (u64, CancellationToken, HashMap<i64, CancellationToken>);

#[derive(Clone, Default)]
pub struct Running {
    /// broadcast id → its parts running here. A std lock: never held across an await.
    inner: Arc<std::sync::Mutex<HashMap<String, Vec<Part>>>>,
    next_part: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("broadcasts", &self.inner.lock().map(|m| m.len()).unwrap_or(0)).finish()
    }
}

impl Running {
    /// Records a part of broadcast `id`; returns the part's id for [`Running::remove`].
    pub(super) fn insert(&self, id: &str, all: CancellationToken, each: HashMap<i64, CancellationToken>) -> u64 {
        let part = self.next_part.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).entry(id.to_string()).or_default().push((part, all, each));
        part
    }

    pub(super) fn remove(&self, id: &str, part: u64) {
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

    /// Stops one destination; false if it is not running here.
    pub fn stop_stream(&self, stream_id: i64) -> bool {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.values().flatten().find_map(|(_, _, each)| each.get(&stream_id)).map(|t| t.cancel()).is_some()
    }

    /// Stops everything; returns how many broadcasts were told to.
    pub fn stop_all(&self) -> usize {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.values().flatten().for_each(|(_, all, _)| all.cancel());
        map.len()
    }

    pub fn count(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }
}
