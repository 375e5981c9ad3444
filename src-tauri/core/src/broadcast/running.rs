//! The broadcasts running in this process, so any surface (window, tray, HTTP) can stop them.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
pub struct Running {
    /// broadcast id → (the whole broadcast, each destination by stream id). A std lock: never
    /// held across an await.
    inner: Arc<std::sync::Mutex<HashMap<String, (CancellationToken, HashMap<i64, CancellationToken>)>>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("broadcasts", &self.inner.lock().map(|m| m.len()).unwrap_or(0)).finish()
    }
}

impl Running {
    pub(super) fn insert(&self, id: &str, all: CancellationToken, each: HashMap<i64, CancellationToken>) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), (all, each));
    }

    pub(super) fn remove(&self, id: &str) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// The ids of the broadcasts running here.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.inner.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Stops one broadcast; false if it is not running here.
    pub fn stop_broadcast(&self, broadcast_id: &str) -> bool {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).get(broadcast_id).map(|(all, _)| all.cancel()).is_some()
    }

    /// Stops one destination; false if it is not running here.
    pub fn stop_stream(&self, stream_id: i64) -> bool {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.values().find_map(|(_, each)| each.get(&stream_id)).map(|t| t.cancel()).is_some()
    }

    /// Stops everything; returns how many broadcasts were told to.
    pub fn stop_all(&self) -> usize {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.values().for_each(|(all, _)| all.cancel());
        map.len()
    }

    pub fn count(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }
}
