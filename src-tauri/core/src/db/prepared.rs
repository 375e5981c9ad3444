//! The `prepared_media` rows as a cache (see `broadcast::prepare`): sizes, last use, and what
//! may be evicted. A prepared file is named by content and quality, so two videos with the same
//! content (two profiles) share one file: a file goes only with its last row.

use super::{Db, DbError};

/// A ready prepared copy: (video id, its key — quality and loudness —, path, bytes, last used).
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedEntry {
    pub video_id: i64,
    /// The profile whose video it is (its plan's storage counts the copy).
    pub owner_id: i64,
    pub key: String,
    pub path: String,
    pub size_bytes: i64,
    /// When a broadcast last used it (or when it was made), RFC 3339.
    pub last_used_at: String,
    /// Whether a running broadcast plays its video (directly or in a playlist): never evicted.
    pub in_use: bool,
}

type EntryRow = (i64, i64, String, String, i64, String, i64);

impl Db {
    /// Records that a broadcast uses this copy now (it goes last among the evictions).
    pub async fn touch_prepared(&self, video_id: i64, key: &str) -> Result<(), DbError> {
        sqlx::query(&self.sql("UPDATE prepared_media SET last_used_at = @now WHERE video_id = $1 AND profile_hash = $2"))
            .bind(video_id)
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_prepared_size(&self, video_id: i64, key: &str, bytes: u64) -> Result<(), DbError> {
        sqlx::query(&self.sql("UPDATE prepared_media SET size_bytes = $1, last_used_at = @now WHERE video_id = $2 AND profile_hash = $3"))
            .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
            .bind(video_id)
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every ready copy, least recently used first.
    pub async fn prepared_entries(&self) -> Result<Vec<PreparedEntry>, DbError> {
        let used = super::videos::IN_USE_BY_A_BROADCAST.replace("$1", "p.video_id");
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "SELECT p.video_id, v.uploader_id, p.profile_hash, p.path, COALESCE(p.size_bytes, 0), COALESCE(p.last_used_at, p.created_at), \
             CAST(CASE WHEN {used} THEN 1 ELSE 0 END AS BIGINT) \
             FROM prepared_media p JOIN videos v ON v.id = p.video_id WHERE p.status = 'ready' AND p.path IS NOT NULL ORDER BY 6, p.id"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(video_id, owner_id, key, path, size_bytes, last_used_at, in_use)| PreparedEntry { video_id, owner_id, key, path, size_bytes, last_used_at, in_use: in_use != 0 })
            .collect())
    }

    /// The paths of every prepared copy of a video (before it is removed).
    pub async fn prepared_paths_of(&self, video_id: i64) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar("SELECT path FROM prepared_media WHERE video_id = $1 AND path IS NOT NULL").bind(video_id).fetch_all(self.pool()).await?)
    }

    /// Forgets one copy; returns whether another row still points at its file.
    pub async fn delete_prepared(&self, video_id: i64, key: &str, path: &str) -> Result<bool, DbError> {
        sqlx::query("DELETE FROM prepared_media WHERE video_id = $1 AND profile_hash = $2").bind(video_id).bind(key).execute(self.pool()).await?;
        self.prepared_file_shared(path).await
    }

    /// Whether a row still points at this prepared file.
    pub async fn prepared_file_shared(&self, path: &str) -> Result<bool, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prepared_media WHERE path = $1").bind(path).fetch_one(self.pool()).await?;
        Ok(n > 0)
    }
}
