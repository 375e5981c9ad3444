//! The data dir's disk, bounded: what each part holds and what is free (`twitcher storage usage`,
//! Settings), the budget of prepared copies an ADMIN sets (evictions, also per profile against
//! its plan's storage: `broadcast::prepare::evict`), the
//! warning before the disk fills, and the sweep of uploads a crash left half-received.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::folders;
use crate::db::DbError;
use crate::model::{NotAdmin, Profile};
use crate::Twitcher;

const BUDGET_KEY: &str = "storage.prepared_budget_bytes";
/// What prepared copies may take by default (all profiles together).
pub const DEFAULT_PREPARED_BUDGET: u64 = 20 * 1024 * 1024 * 1024;
/// Below this much free space on the data dir's disk an alert is raised, before anything fails.
pub const LOW_DISK_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// An upload whose folder has not changed for this long was left by a process that died.
const STALE_UPLOAD: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("cannot measure the data dir: {0}")]
    Io(#[from] std::io::Error),
    #[error("the prepared copies' budget must be at least 1 GB")]
    BudgetTooSmall,
    #[error(transparent)]
    NotAdmin(#[from] NotAdmin),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What the data dir holds, by part, and what its disk has free. Keys are a contract (CLI.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Usage {
    /// Imported videos and their thumbnails.
    pub library_bytes: u64,
    /// Twitch-ready copies (bounded by `budget_bytes`).
    pub prepared_bytes: u64,
    /// Downloads from S3 (bounded by the cache limit).
    pub cache_bytes: u64,
    pub logs_bytes: u64,
    /// Uploads still arriving.
    pub uploads_bytes: u64,
    /// Free space on the data dir's disk, for this user.
    pub free_bytes: u64,
    /// The prepared copies' budget.
    pub budget_bytes: u64,
}

/// Measures the data dir (walks its folders: a second or so for a big library).
pub async fn usage(app: &Twitcher) -> Result<Usage, DiskError> {
    let dir = app.data_dir().to_path_buf();
    let budget_bytes = prepared_budget(app).await?;
    tokio::task::spawn_blocking(move || {
        let size = |names: &[&str]| names.iter().map(|n| folder_bytes(&dir.join(n))).sum::<u64>();
        Ok(Usage {
            library_bytes: size(&[folders::LIBRARY, folders::THUMBNAILS]),
            prepared_bytes: size(&[folders::PREPARED]),
            cache_bytes: size(&[folders::CACHE]),
            logs_bytes: size(&[folders::LOGS]),
            uploads_bytes: size(&[folders::UPLOADS]),
            free_bytes: free_bytes(&dir)?,
            budget_bytes,
        })
    })
    .await
    .map_err(|e| DiskError::Io(std::io::Error::other(e)))?
}

/// The prepared copies' budget.
pub async fn prepared_budget(app: &Twitcher) -> Result<u64, DbError> {
    Ok(app.db.setting(BUDGET_KEY).await?.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_PREPARED_BUDGET))
}

/// Sets the prepared copies' budget (an ADMIN's setting: it is the whole data dir's).
pub async fn set_prepared_budget(app: &Twitcher, actor: &Profile, bytes: u64) -> Result<(), DiskError> {
    actor.require_admin()?;
    if bytes < 1024 * 1024 * 1024 {
        return Err(DiskError::BudgetTooSmall);
    }
    app.db.set_setting(BUDGET_KEY, &bytes.to_string()).await?;
    Ok(())
}

/// Says once when the data dir's disk has less than [`LOW_DISK_BYTES`] free ([`Event::DiskLow`]:
/// an alert), and again only after it had room (twice the threshold) in between. `warned`: the
/// state between turns.
pub async fn watch_free_space(app: &Twitcher, warned: &std::sync::atomic::AtomicBool) -> Result<(), DiskError> {
    use std::sync::atomic::Ordering;
    let dir = app.data_dir().to_path_buf();
    let free = tokio::task::spawn_blocking(move || free_bytes(&dir)).await.map_err(|e| DiskError::Io(std::io::Error::other(e)))??;
    if free < low_disk_bytes() {
        if !warned.swap(true, Ordering::SeqCst) {
            tracing::warn!(free_bytes = free, "the data dir's disk is almost full");
            app.events.emit(crate::events::Event::DiskLow { free_bytes: free });
        }
    } else if free > low_disk_bytes().saturating_mul(2) {
        warned.store(false, Ordering::SeqCst);
    }
    Ok(())
}

/// [`LOW_DISK_BYTES`]; in builds made with tests, `TWITCHER_TEST_LOW_DISK_BYTES` replaces it (a
/// test cannot fill this machine's disk; the chaos test uses a small tmpfs instead).
fn low_disk_bytes() -> u64 {
    #[cfg(feature = "testing")]
    if let Some(bytes) = std::env::var("TWITCHER_TEST_LOW_DISK_BYTES").ok().and_then(|v| v.parse().ok()) {
        return bytes;
    }
    LOW_DISK_BYTES
}

/// Free bytes on the disk holding `path`, for an unprivileged user.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    fs4::available_space(path)
}

/// Removes uploads a process that died left half-received (`uploads/<id>/`, untouched for an
/// hour: one still arriving is written to all the time). Returns how many.
pub(crate) fn sweep_stale_uploads(data_dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(data_dir.join(folders::UPLOADS)) else { return 0 };
    let now = SystemTime::now();
    let mut swept = 0;
    for entry in entries.flatten() {
        let newest = newest_change(&entry.path());
        if newest.is_some_and(|t| now.duration_since(t).unwrap_or_default() > STALE_UPLOAD) && std::fs::remove_dir_all(entry.path()).or_else(|_| std::fs::remove_file(entry.path())).is_ok() {
            swept += 1;
        }
    }
    if swept > 0 {
        tracing::info!(swept, "removed uploads a stopped process left half-received");
    }
    swept
}

/// The newest modification time of `path` and what is directly in it.
fn newest_change(path: &Path) -> Option<SystemTime> {
    let own = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let inner = std::fs::read_dir(path).ok().into_iter().flatten().flatten().filter_map(|e| e.metadata().and_then(|m| m.modified()).ok()).max();
    own.max(inner)
}

/// The bytes of the files below `dir` (0 when it does not exist).
fn folder_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => folder_bytes(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_left_for_an_hour_is_swept_and_one_arriving_stays() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = dir.path().join(folders::UPLOADS);
        let (stale, fresh) = (uploads.join("stale"), uploads.join("fresh"));
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::create_dir_all(&fresh).unwrap();
        std::fs::write(stale.join("movie.mp4"), b"half").unwrap();
        std::fs::write(fresh.join("movie.mp4"), b"arriving").unwrap();
        let old = SystemTime::now() - Duration::from_secs(2 * 3600);
        for path in [stale.join("movie.mp4"), stale.clone()] {
            std::fs::File::options().write(true).open(&path).or_else(|_| std::fs::File::open(&path)).unwrap().set_modified(old).unwrap();
        }
        assert_eq!(sweep_stale_uploads(dir.path()), 1);
        assert!(!stale.exists() && fresh.join("movie.mp4").exists());
    }

    #[test]
    fn folder_sizes_add_up_what_is_below() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/one"), [0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("a/b/two"), [0u8; 24]).unwrap();
        assert_eq!(folder_bytes(&dir.path().join("a")), 1024);
        assert_eq!(folder_bytes(&dir.path().join("missing")), 0);
        assert!(free_bytes(dir.path()).unwrap() > 0);
    }
}
