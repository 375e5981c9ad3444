//! The `videos` table: the library's rows, its search, and storage accounting.

use super::sql::Statement;

use super::{Db, DbError, Flag};
use crate::model::{Sort, Video, VideoQuery};
use crate::media::MediaInfo;

const COLUMNS: &str = "id, title, description, storage, local_path, s3_key, content_hash, size_bytes, duration_sec, \
     width, height, fps, codec_video, codec_audio, bitrate, container, thumbnail, status, error, created_at";

/// A video ready to be recorded: the file is already in place.
pub struct NewVideo<'a> {
    pub uploader_id: i64,
    pub title: &'a str,
    pub local_path: &'a str,
    pub content_hash: &'a str,
    pub size_bytes: i64,
    pub thumbnail: Option<&'a str>,
    pub info: &'a MediaInfo,
}

/// Statuses of a stream that still needs its video.
/// A profile's (`$1`) stored videos and the reservations of its imports in progress, but job `$2`'s.
const STORAGE_USED: &str = "SELECT CAST(COALESCE((SELECT SUM(size_bytes) FROM videos WHERE uploader_id = $1), 0) \
     + COALESCE((SELECT SUM(reserved_bytes) FROM jobs WHERE reserved_for = $1 AND reserved_bytes IS NOT NULL \
       AND status IN ('queued', 'running') AND id != $2), 0) AS BIGINT)";

/// Whether a stream that has not ended uses video `$1`: directly, or as an item (or the insert,
/// or the slate) of a playlist a broadcast plays. An SQL expression (true/false).
pub(super) const IN_USE_BY_A_BROADCAST: &str = "EXISTS (SELECT 1 FROM streams s WHERE s.status IN ('scheduled', 'queued', 'starting', 'live', 'reconnecting', 'stopping') \
     AND (s.video_id = $1 OR s.playlist_id IN (SELECT playlist_id FROM playlist_items WHERE video_id = $1) \
     OR s.playlist_id IN (SELECT id FROM playlists WHERE insert_video_id = $1 OR slate_video_id = $1)))";

impl Db {
    /// Records an imported video; `Ok(None)` when this profile already has the same content.
    pub async fn insert_video(&self, v: &NewVideo<'_>) -> Result<Option<i64>, DbError> {
        let result = sqlx::query_scalar(
            "INSERT INTO videos (uploader_id, title, storage, local_path, content_hash, size_bytes, duration_sec, \
             width, height, fps, codec_video, codec_audio, bitrate, container, thumbnail, status) \
             VALUES ($1, $2, 'local', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'ready') RETURNING id",
        )
        .bind(v.uploader_id)
        .bind(v.title)
        .bind(v.local_path)
        .bind(v.content_hash)
        .bind(v.size_bytes)
        .bind(v.info.duration_sec)
        .bind(v.info.width)
        .bind(v.info.height)
        .bind(v.info.fps)
        .bind(&v.info.codec_video)
        .bind(&v.info.codec_audio)
        .bind(v.info.bitrate)
        .bind(v.info.container)
        .bind(v.thumbnail)
        .fetch_one(self.pool())
        .await;
        super::unless_duplicate(result)
    }

    pub async fn video(&self, uploader_id: i64, id: i64) -> Result<Option<Video>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM videos WHERE uploader_id = $1 AND id = $2"))
            .bind(uploader_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn video_by_hash(&self, uploader_id: i64, content_hash: &str) -> Result<Option<Video>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM videos WHERE uploader_id = $1 AND content_hash = $2"))
            .bind(uploader_id)
            .bind(content_hash)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Bytes of video this profile stores (the plan's storage quota counts these).
    pub async fn storage_used(&self, uploader_id: i64) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar("SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM videos WHERE uploader_id = $1")
            .bind(uploader_id)
            .fetch_one(self.pool())
            .await?)
    }

    /// One page of a profile's videos and how many match in all.
    pub async fn search_videos(&self, uploader_id: i64, q: &VideoQuery) -> Result<(Vec<Video>, i64), DbError> {
        let filter = |b: &mut Statement<'_>| {
            b.push(" FROM videos WHERE uploader_id = ").push_bind(uploader_id);
            if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                // Case-insensitive on both databases (SQLite's LIKE is, PostgreSQL's is not).
                let text = text.to_lowercase();
                let pattern = format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                b.push(" AND (lower(title) LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\' OR lower(description) LIKE ");
                b.push_bind(pattern).push(" ESCAPE '\\')");
            }
            if let Some(format) = q.format {
                b.push(" AND container = ").push_bind(format);
            }
            if let Some(min) = q.min_duration_sec {
                b.push(" AND duration_sec >= ").push_bind(min);
            }
            if let Some(max) = q.max_duration_sec {
                b.push(" AND duration_sec <= ").push_bind(max);
            }
            if let Some(min) = q.min_height {
                b.push(" AND height >= ").push_bind(min);
            }
            if let Some(max) = q.max_height {
                b.push(" AND height <= ").push_bind(max);
            }
            if let Some(storage) = q.storage {
                b.push(" AND storage = ").push_bind(storage);
            }
            if let Some(status) = q.status {
                b.push(" AND status = ").push_bind(status);
            }
        };
        let mut count = Statement::new("SELECT COUNT(*)");
        filter(&mut count);
        let total: i64 = sqlx::query_scalar_with(&count.sql, count.args).fetch_one(self.pool()).await?;

        let mut page = Statement::new(format!("SELECT {COLUMNS}"));
        filter(&mut page);
        let order = match q.sort {
            Sort::Date => "created_at",
            Sort::Title => "lower(title)",
            Sort::Duration => "duration_sec",
            Sort::Size => "size_bytes",
        };
        let direction = if q.descending { "DESC" } else { "ASC" };
        page.push(&format!(" ORDER BY {order} {direction}, id {direction} LIMIT "));
        page.push_bind(q.limit.clamp(1, VideoQuery::MAX_LIMIT) as i64).push(" OFFSET ").push_bind(q.offset.max(0));
        let items = sqlx::query_as_with(&page.sql, page.args).fetch_all(self.pool()).await?;
        Ok((items, total))
    }

    pub async fn update_video_text(&self, uploader_id: i64, id: i64, title: &str, description: &str) -> Result<bool, DbError> {
        let r = sqlx::query("UPDATE videos SET title = $1, description = $2 WHERE uploader_id = $3 AND id = $4")
            .bind(title)
            .bind(description)
            .bind(uploader_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Whether a stream that has not ended uses the video.
    pub async fn video_in_use(&self, id: i64) -> Result<bool, DbError> {
        let used: Flag = sqlx::query_scalar(&format!("SELECT {IN_USE_BY_A_BROADCAST}"))
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok(used.0)
    }

    /// Whether another row still points at this file or thumbnail (the same content imported by
    /// another profile).
    pub async fn file_shared(&self, path: &str, except_id: i64) -> Result<bool, DbError> {
        let shared: Flag = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM videos WHERE (local_path = $1 OR thumbnail = $1) AND id != $2)")
            .bind(path)
            .bind(except_id)
            .fetch_one(self.pool())
            .await?;
        Ok(shared.0)
    }

    pub async fn delete_video(&self, uploader_id: i64, id: i64) -> Result<bool, DbError> {
        let r = sqlx::query("DELETE FROM videos WHERE uploader_id = $1 AND id = $2")
            .bind(uploader_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}


/// The outcome of [`Db::reserve_storage`].
pub enum Reservation {
    Reserved,
    /// Over the quota: the bytes already used and held by other imports.
    Refused { used: i64 },
}

impl Db {
    /// Holds `bytes` of `quota` for the import job `job_id` of profile `user_id`, if the library
    /// plus what other open imports hold leaves room — checked and recorded under the write lock,
    /// so two imports (in any processes) cannot both take the last free bytes.
    pub async fn reserve_storage(&self, job_id: i64, user_id: i64, bytes: i64, quota: i64) -> Result<Reservation, DbError> {
        let mut tx = self.begin_write().await?;
        let used: i64 = sqlx::query_scalar(STORAGE_USED).bind(user_id).bind(job_id).fetch_one(&mut *tx).await?;
        if used + bytes > quota {
            return Ok(Reservation::Refused { used });
        }
        sqlx::query("UPDATE jobs SET reserved_bytes = $1, reserved_for = $2 WHERE id = $3")
            .bind(bytes)
            .bind(user_id)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Reservation::Reserved)
    }

    /// What a profile's library holds with the imports in progress, in bytes.
    pub async fn storage_committed(&self, user_id: i64) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(STORAGE_USED).bind(user_id).bind(0i64).fetch_one(self.pool()).await?)
    }

    /// Lets go of what the import job `job_id` held (its video row counts the bytes now, or it
    /// failed).
    pub async fn release_storage(&self, job_id: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET reserved_bytes = NULL WHERE id = $1").bind(job_id).execute(self.pool()).await?;
        Ok(())
    }
}
