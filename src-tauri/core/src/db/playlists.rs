//! The `playlists` and `playlist_items` tables. Items keep contiguous positions from 0; every
//! change that moves them runs in one transaction, scoped to the owner in SQL.

use sqlx::Row;

use super::{Db, DbError, Flag};
use crate::model::{ItemMeta, PlaylistItem, PlaylistOptions};

const PLAYLIST_COLUMNS: &str = "id, name, loop, shuffle, insert_every, insert_video_id, slate_video_id, created_at";

const ITEM_SELECT: &str = "SELECT i.playlist_id, i.id, i.position, i.video_id, v.title AS video_title, v.duration_sec, i.title, i.category, i.tags \
     FROM playlist_items i JOIN videos v ON v.id = i.video_id";

fn item(r: &sqlx::any::AnyRow) -> PlaylistItem {
    PlaylistItem {
        id: r.get("id"),
        position: r.get::<i64, _>("position") as u32 + 1,
        video_id: r.get("video_id"),
        video_title: r.get("video_title"),
        duration_sec: r.get("duration_sec"),
        meta: ItemMeta {
            title: r.get("title"),
            category: r.get("category"),
            tags: r.get::<Option<String>, _>("tags").and_then(|t| serde_json::from_str(&t).ok()),
        },
    }
}

impl Db {
    /// Creates an empty playlist; `Ok(None)` when the owner already has one of that name.
    /// Inserts a playlist unless the owner already has one by that name or has `max` already,
    /// under the write lock so two inserts at once cannot both pass the count.
    pub async fn insert_playlist(&self, owner_id: i64, name: &str, max: Option<u32>) -> Result<Result<i64, super::Refused>, DbError> {
        let mut tx = self.begin_write().await?;
        if let Some(max) = max {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM playlists WHERE owner_id = $1").bind(owner_id).fetch_one(&mut *tx).await?;
            if count >= i64::from(max) {
                return Ok(Err(super::Refused::OverLimit));
            }
        }
        let result = sqlx::query_scalar("INSERT INTO playlists (owner_id, name) VALUES ($1, $2) RETURNING id")
            .bind(owner_id)
            .bind(name)
            .fetch_one(&mut *tx)
            .await;
        let Some(id) = super::unless_duplicate(result)? else { return Ok(Err(super::Refused::Duplicate)) };
        tx.commit().await?;
        Ok(Ok(id))
    }

    pub async fn playlist(&self, owner_id: i64, id: i64) -> Result<Option<PlaylistRow>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {PLAYLIST_COLUMNS} FROM playlists WHERE owner_id = $1 AND id = $2"))
            .bind(owner_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn playlists(&self, owner_id: i64) -> Result<Vec<PlaylistRow>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {PLAYLIST_COLUMNS} FROM playlists WHERE owner_id = $1 ORDER BY lower(name), id"))
            .bind(owner_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// A playlist's items in order, with their videos' titles and durations.
    pub async fn playlist_items(&self, playlist_id: i64) -> Result<Vec<PlaylistItem>, DbError> {
        let rows = sqlx::query(&format!("{ITEM_SELECT} WHERE i.playlist_id = $1 ORDER BY i.position")).bind(playlist_id).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(item).collect())
    }

    /// A page of the owner's playlists by id: those after `after`, at most `limit`.
    pub async fn playlists_page(&self, owner_id: i64, after: i64, limit: u32) -> Result<Vec<PlaylistRow>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {PLAYLIST_COLUMNS} FROM playlists WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
            .bind(owner_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?)
    }

    /// The items of the owner's playlists with ids `first..=last` (a page), in one query:
    /// (playlist id, item), by playlist and position.
    pub async fn playlist_items_between(&self, owner_id: i64, first: i64, last: i64) -> Result<Vec<(i64, PlaylistItem)>, DbError> {
        let rows = sqlx::query(&format!(
            "{ITEM_SELECT} JOIN playlists p ON p.id = i.playlist_id \
             WHERE p.owner_id = $1 AND i.playlist_id BETWEEN $2 AND $3 ORDER BY i.playlist_id, i.position"
        ))
        .bind(owner_id)
        .bind(first)
        .bind(last)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|r| (r.get("playlist_id"), item(r))).collect())
    }

    /// Inserts an item at `index` (0-based, clamped to the end), shifting the ones after it.
    /// The write lock from the start: the count it reads decides the new position, and on SQLite
    /// a read turned write fails at once ("database is locked") when another writer went first.
    pub async fn insert_playlist_item(&self, playlist_id: i64, index: Option<u32>, video_id: i64, meta: &ItemMeta) -> Result<(), DbError> {
        let mut tx = self.begin_write().await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM playlist_items WHERE playlist_id = $1").bind(playlist_id).fetch_one(&mut *tx).await?;
        let at = index.map(|i| (i as i64).min(count)).unwrap_or(count);
        sqlx::query("UPDATE playlist_items SET position = position + 1 WHERE playlist_id = $1 AND position >= $2")
            .bind(playlist_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO playlist_items (playlist_id, position, video_id, title, category, tags) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(playlist_id)
            .bind(at)
            .bind(video_id)
            .bind(&meta.title)
            .bind(&meta.category)
            .bind(meta.tags.as_ref().map(|t| serde_json::to_string(t).unwrap_or_default()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves the item at `from` to `to` (0-based); false when `from` is not an item.
    pub async fn move_playlist_item(&self, playlist_id: i64, from: u32, to: u32) -> Result<bool, DbError> {
        // Reads the count, then writes: the write lock from the start, as insert_playlist_item.
        let mut tx = self.begin_write().await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM playlist_items WHERE playlist_id = $1").bind(playlist_id).fetch_one(&mut *tx).await?;
        let (from, to) = (from as i64, (to as i64).min(count - 1));
        if from >= count {
            return Ok(false);
        }
        // Park the moving item at -1, close the gap, open the new one, put it there.
        sqlx::query("UPDATE playlist_items SET position = -1 WHERE playlist_id = $1 AND position = $2").bind(playlist_id).bind(from).execute(&mut *tx).await?;
        sqlx::query("UPDATE playlist_items SET position = position - 1 WHERE playlist_id = $1 AND position > $2").bind(playlist_id).bind(from).execute(&mut *tx).await?;
        sqlx::query("UPDATE playlist_items SET position = position + 1 WHERE playlist_id = $1 AND position >= $2").bind(playlist_id).bind(to).execute(&mut *tx).await?;
        sqlx::query("UPDATE playlist_items SET position = $1 WHERE playlist_id = $2 AND position = -1").bind(to).bind(playlist_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes the item at `index` (0-based); false when there is none.
    pub async fn remove_playlist_item(&self, playlist_id: i64, index: u32) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        let gone = sqlx::query("DELETE FROM playlist_items WHERE playlist_id = $1 AND position = $2").bind(playlist_id).bind(index as i64).execute(&mut *tx).await?;
        if gone.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE playlist_items SET position = position - 1 WHERE playlist_id = $1 AND position > $2")
            .bind(playlist_id)
            .bind(index as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn set_playlist_options(&self, owner_id: i64, id: i64, o: &PlaylistOptions) -> Result<bool, DbError> {
        let done = sqlx::query("UPDATE playlists SET loop = $1, shuffle = $2, insert_every = $3, insert_video_id = $4, slate_video_id = $5 WHERE owner_id = $6 AND id = $7")
            .bind(o.looped)
            .bind(o.shuffle)
            .bind(o.insert_every.map(i64::from))
            .bind(o.insert_video_id)
            .bind(o.slate_video_id)
            .bind(owner_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_playlist(&self, owner_id: i64, id: i64) -> Result<bool, DbError> {
        let done = sqlx::query("DELETE FROM playlists WHERE owner_id = $1 AND id = $2").bind(owner_id).bind(id).execute(self.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether a broadcast that has not ended plays this playlist.
    pub async fn playlist_in_use(&self, id: i64) -> Result<bool, DbError> {
        let used: Flag = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM streams WHERE playlist_id = $1 \
             AND status IN ('scheduled', 'queued', 'starting', 'live', 'reconnecting', 'stopping'))",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok(used.0)
    }
}

/// A `playlists` row, before its items are attached.
#[derive(Debug, sqlx::FromRow)]
pub struct PlaylistRow {
    pub id: i64,
    pub name: String,
    #[sqlx(rename = "loop", try_from = "crate::db::Flag")]
    pub looped: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    pub shuffle: bool,
    pub insert_every: Option<i64>,
    pub insert_video_id: Option<i64>,
    pub slate_video_id: Option<i64>,
    pub created_at: String,
}
