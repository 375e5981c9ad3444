//! The `prepared_media`, `streams` and `stream_events` tables.

use super::{Backend, Db, DbError, Flag};
use crate::model::{Quality, StreamRow, StreamState, ACTIVE};

/// The columns of a [`StreamRow`], with the account's and the video's names.
const STREAM_ROW: &str = "SELECT s.id, s.broadcast_id, s.twitch_account_id AS account_id, a.display_name AS account_name, s.video_id, \
     v.title AS video_title, s.playlist_id, p.name AS playlist_name, s.title, CASE WHEN s.status = 'queued' AND s.owner_instance IS NULL THEN 'pending' ELSE s.status END AS status, s.scheduled_at, s.started_at, s.ended_at, s.error, s.channel_notice, \
     CASE WHEN s.status NOT IN ('ended', 'failed', 'cancelled') THEN s.now_playing END AS now_playing, \
     CASE WHEN s.status NOT IN ('ended', 'failed', 'cancelled') THEN s.up_next END AS up_next, \
     CASE WHEN s.status NOT IN ('scheduled', 'ended', 'failed', 'cancelled') THEN s.owner_instance END AS node, \
     s.video_bitrate_k + s.audio_bitrate_k AS target_kbps, s.reconnects, s.bytes_sent, s.created_at \
     FROM streams s LEFT JOIN twitch_accounts a ON a.id = s.twitch_account_id LEFT JOIN videos v ON v.id = s.video_id \
     LEFT JOIN playlists p ON p.id = s.playlist_id";

/// The rows of a new broadcast: one per account, owned by `instance` (none: waiting for a node
/// of the fleet to claim them).
/// Which of a plan's counts a new broadcast would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    Running,
    Scheduled,
}

pub struct NewStreams<'a> {
    pub instance: Option<&'a str>,
    pub creator_id: i64,
    pub broadcast_id: &'a str,
    pub video_id: i64,
    pub playlist_id: Option<i64>,
    pub account_ids: &'a [i64],
    pub title: &'a str,
    pub category: Option<&'a str>,
    pub tags: &'a [String],
    pub quality: &'a Quality,
    pub looped: bool,
    pub scheduled_at: Option<&'a str>,
    /// The recurring schedule this is an occurrence of, and when it ends.
    pub schedule_id: Option<i64>,
    pub ends_at: Option<&'a str>,
    /// Broadcasts of the creator that may run at once (checked with the insert, so two starts
    /// at the same moment cannot both pass the last free place).
    pub max_running: Option<u32>,
    /// At most this many of the creator's broadcasts waiting for their time (`None`: any).
    pub max_scheduled: Option<u32>,
}

/// Where a prepared copy (`prepared_media`) is: being made, ready to stream, or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreparedStatus {
    Running,
    Ready,
    Failed,
}

impl PreparedStatus {
    fn as_str(self) -> &'static str {
        match self {
            PreparedStatus::Running => "running",
            PreparedStatus::Ready => "ready",
            PreparedStatus::Failed => "failed",
        }
    }
}

impl Db {
    /// The ready prepared file of a video at a quality, if any.
    pub async fn prepared_path(&self, video_id: i64, profile_hash: &str) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT path FROM prepared_media WHERE video_id = $1 AND profile_hash = $2 AND status = $3",
        )
        .bind(video_id)
        .bind(profile_hash)
        .bind(PreparedStatus::Ready.as_str())
        .fetch_optional(self.pool())
        .await?
        .flatten())
    }

    pub async fn set_prepared(&self, video_id: i64, profile_hash: &str, status: PreparedStatus, path: Option<&str>, error: Option<&str>) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO prepared_media (video_id, profile_hash, status, path, error, progress) VALUES ($1, $2, $3, $4, $5, 0) \
             ON CONFLICT (video_id, profile_hash) DO UPDATE SET status = $3, path = COALESCE($4, prepared_media.path), error = $5",
        )
        .bind(video_id)
        .bind(profile_hash)
        .bind(status.as_str())
        .bind(path)
        .bind(error)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One row per destination of a new broadcast, all `queued` (or `scheduled`), leased to
    /// `instance`.
    /// Records a broadcast's rows; `Ok(None)` when the creator already runs `max_running`.
    /// Marks broadcast `broadcast_id` as going live on a real-time encode, if its creator runs
    /// fewer than `max` other such broadcasts (`None`: no limit). Under the write lock, so two
    /// starts at once in two processes cannot both pass; a broadcast claiming again (a part on
    /// another node) counts once.
    pub async fn claim_live_encode(&self, broadcast_id: &str, creator_id: i64, max: Option<u32>) -> Result<bool, DbError> {
        let mut tx = self.begin_write().await?;
        if let Some(max) = max {
            let running: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(DISTINCT broadcast_id) FROM streams WHERE creator_id = $1 AND live_encode = $2 AND broadcast_id <> $3 AND status IN ({})",
                StreamState::sql_list(&ACTIVE)
            ))
            .bind(creator_id)
            .bind(true)
            .bind(broadcast_id)
            .fetch_one(&mut *tx)
            .await?;
            if running >= i64::from(max) {
                return Ok(false);
            }
        }
        sqlx::query("UPDATE streams SET live_encode = $1 WHERE broadcast_id = $2").bind(true).bind(broadcast_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn insert_streams(&self, n: &NewStreams<'_>) -> Result<Result<Vec<i64>, OverLimit>, DbError> {
        let mut tx = self.begin_write().await?;
        if let Some(max) = n.max_scheduled {
            let waiting: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT broadcast_id) FROM streams WHERE creator_id = $1 AND status = $2")
                .bind(n.creator_id)
                .bind(StreamState::Scheduled)
                .fetch_one(&mut *tx)
                .await?;
            if waiting >= i64::from(max) {
                return Ok(Err(OverLimit::Scheduled));
            }
        }
        if let Some(max) = n.max_running {
            let running: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(DISTINCT broadcast_id) FROM streams WHERE creator_id = $1 AND status IN ({})",
                StreamState::sql_list(&ACTIVE)
            ))
            .bind(n.creator_id)
            .fetch_one(&mut *tx)
            .await?;
            if running >= max as i64 {
                return Ok(Err(OverLimit::Running));
            }
        }
        let mut ids = Vec::with_capacity(n.account_ids.len());
        let status = if n.scheduled_at.is_some() { StreamState::Scheduled } else { StreamState::Queued };
        let pid = i64::from(std::process::id());
        for account in n.account_ids {
            let id: i64 = sqlx::query_scalar(
                &self.sql("INSERT INTO streams (creator_id, twitch_account_id, video_id, playlist_id, broadcast_id, title, category, tags, fps, \
                 video_bitrate_k, audio_bitrate_k, resolution, loop, status, scheduled_at, owner_pid, owner_instance, heartbeat_at, \
                 schedule_id, ends_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, @now, $18, $19) RETURNING id"),
            )
            .bind(n.creator_id)
            .bind(account)
            .bind(n.video_id)
            .bind(n.playlist_id)
            .bind(n.broadcast_id)
            .bind(n.title)
            .bind(n.category)
            .bind(serde_json::to_string(n.tags).expect("strings serialize"))
            .bind(i64::from(n.quality.fps))
            .bind(i64::from(n.quality.video_bitrate_k))
            .bind(i64::from(n.quality.audio_bitrate_k))
            .bind(n.quality.resolution())
            .bind(n.looped)
            .bind(status)
            .bind(n.scheduled_at)
            .bind(pid)
            .bind(n.instance)
            .bind(n.schedule_id)
            .bind(n.ends_at)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(Ok(ids))
    }

    /// Moves a stream to `state`, stamping start and end — only if `instance` holds its lease and
    /// the transition table allows the move from its current state (one guarded UPDATE, so no
    /// write can skip the table or overwrite another process's stream). Returns whether it moved.
    pub async fn set_stream_state(&self, id: i64, state: StreamState, error: Option<&str>, instance: &str) -> Result<bool, DbError> {
        let sql = format!(
            "UPDATE streams SET status = $1, error = COALESCE($2, error), \
             started_at = CASE WHEN $1 = 'live' AND started_at IS NULL THEN @now ELSE started_at END, \
             ended_at = CASE WHEN $1 IN ('ended', 'failed', 'cancelled') THEN @now ELSE ended_at END \
             WHERE id = $3 AND owner_instance = $4 AND status IN ({})",
            StreamState::sql_list(&StreamState::sources(state))
        );
        let moved = sqlx::query(&self.sql(&sql)).bind(state).bind(error).bind(id).bind(instance).execute(self.pool()).await?.rows_affected();
        Ok(moved == 1)
    }

    /// Renews every lease `instance` holds (one statement for all its streams).
    pub async fn renew_leases(&self, instance: &str) -> Result<u64, DbError> {
        let sql = format!(
            "UPDATE streams SET heartbeat_at = @now WHERE owner_instance = $1 AND status IN ({})",
            StreamState::sql_list(&ACTIVE)
        );
        Ok(sqlx::query(&self.sql(&sql)).bind(instance).execute(self.pool()).await?.rows_affected())
    }

    /// Takes over, for `instance`, every running stream whose lease is older than `expired_secs`
    /// (not one waiting for a node of a fleet: nobody holds its lease), in one statement (two
    /// processes recovering at once never take the same row). Returns (id, broadcast id, status)
    /// of each.
    ///
    /// A destination of a dead node while another node is alive is never taken: the fleet carries
    /// it on ([`Db::release_from_silent_nodes`]). The rule is in this statement, not in the order
    /// of the two calls, since a lease can expire between them. Nor is one of `instance` itself:
    /// a process that was paused (SIGSTOP, a suspended laptop) longer than a lease is alive and
    /// still publishing; its renewal catches up on its next turn (the hour-long soak with
    /// `--chaos` found its own live streams failed as "interrupted" after a 15 s stop).
    pub async fn take_over_expired(&self, instance: &str, expired_secs: f64) -> Result<Vec<(i64, String, StreamState)>, DbError> {
        let sql = format!(
            "UPDATE streams SET owner_instance = $1, owner_pid = $2, heartbeat_at = @now \
             WHERE status IN ({}) AND owner_instance IS NOT NULL AND owner_instance <> $1 AND (heartbeat_at IS NULL OR heartbeat_at < @now-$3) \
             AND NOT (owner_instance IN (SELECT id FROM nodes) AND stop_requested_at IS NULL AND status != 'stopping' \
                      AND EXISTS (SELECT 1 FROM nodes n WHERE n.id != streams.owner_instance AND n.heartbeat_at >= @now-$3)) \
             RETURNING id, broadcast_id, status",
            StreamState::sql_list(&ACTIVE)
        );
        Ok(sqlx::query_as(&self.sql(&sql)).bind(instance).bind(i64::from(std::process::id())).bind(expired_secs).fetch_all(self.pool()).await?)
    }

    /// Records (stream id, reconnects, bytes sent) of the streams `instance` holds. On SQLite in
    /// one transaction: a broadcast to 50 channels commits once a second, not 50 times. On
    /// PostgreSQL one row per statement: a transaction holding one row's lock while it waits for
    /// the next is half of a deadlock with any statement that locks the same rows in another order
    /// (it met the stop order at a scheduled end, `order_stop_ended`, in `tests/month.rs`).
    /// `sent_ms`: the newest RTMP timestamp sent to them (see `broadcast::fleet`).
    pub async fn set_stream_counters(&self, counters: &[(i64, i64, i64)], sent_ms: Option<u32>, instance: &str) -> Result<(), DbError> {
        if counters.is_empty() {
            return Ok(());
        }
        let update = |(id, reconnects, bytes_sent): &(i64, i64, i64)| {
            sqlx::query("UPDATE streams SET reconnects = $1, bytes_sent = $2, sent_ms = COALESCE($5, sent_ms) WHERE id = $3 AND owner_instance = $4")
                .bind(*reconnects)
                .bind(*bytes_sent)
                .bind(*id)
                .bind(instance.to_string())
                .bind(sent_ms.map(i64::from))
        };
        match self.backend {
            Backend::Sqlite => {
                let mut tx = self.pool().begin().await?;
                for row in counters {
                    update(row).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Backend::Postgres => {
                for row in counters {
                    update(row).execute(self.pool()).await?;
                }
            }
        }
        Ok(())
    }

    /// The title of a broadcast (its first row's).
    pub async fn broadcast_title(&self, broadcast_id: &str) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar("SELECT title FROM streams WHERE broadcast_id = $1 ORDER BY id LIMIT 1")
            .bind(broadcast_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The scheduled broadcast that starts first: (broadcast id, title, scheduled_at).
    pub async fn next_scheduled(&self) -> Result<Option<(String, String, String)>, DbError> {
        Ok(sqlx::query_as(
            &self.sql("SELECT broadcast_id, title, scheduled_at FROM streams WHERE status = 'scheduled' \
             ORDER BY @time(scheduled_at), id LIMIT 1"),
        )
        .fetch_optional(self.pool())
        .await?)
    }

    /// The account's display name and the stream's title, for alerts.
    pub async fn stream_names(&self, id: i64) -> Result<Option<(String, String)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT COALESCE(a.display_name, 'a removed account'), s.title FROM streams s \
             LEFT JOIN twitch_accounts a ON a.id = s.twitch_account_id WHERE s.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Deletes stream log lines older than `days` (the logs' own retention); returns how many.
    pub async fn prune_stream_events(&self, days: u32) -> Result<u64, DbError> {
        Ok(sqlx::query(&self.sql("DELETE FROM stream_events WHERE at < @now-$1"))
            .bind(f64::from(days) * 86_400.0)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    pub async fn add_stream_event(&self, stream_id: i64, level: &str, message: &str) -> Result<(), DbError> {
        sqlx::query("INSERT INTO stream_events (stream_id, level, message) VALUES ($1, $2, $3)")
            .bind(stream_id)
            .bind(level)
            .bind(crate::redact::redact(message).as_ref())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// What a playlist broadcast plays now and next, on the rows this process still owns.
    pub async fn set_now_playing(&self, broadcast_id: &str, instance: &str, now: Option<&str>, next: Option<&str>) -> Result<(), DbError> {
        sqlx::query("UPDATE streams SET now_playing = $1, up_next = $2 WHERE broadcast_id = $3 AND owner_instance = $4")
            .bind(now)
            .bind(next)
            .bind(broadcast_id)
            .bind(instance)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The profile's streams, newest first, `limit` after skipping `offset`.
    pub async fn streams(&self, creator_id: i64, limit: i64, offset: i64) -> Result<Vec<StreamRow>, DbError> {
        Ok(sqlx::query_as(&format!("{STREAM_ROW} WHERE s.creator_id = $1 ORDER BY s.id DESC LIMIT $2 OFFSET $3"))
            .bind(creator_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?)
    }

    /// A page of the profile's streams, newest first: those older than `before` (every one
    /// when `None`), at most `limit`.
    pub async fn streams_before(&self, creator_id: i64, before: Option<i64>, limit: u32) -> Result<Vec<StreamRow>, DbError> {
        Ok(sqlx::query_as(&format!("{STREAM_ROW} WHERE s.creator_id = $1 AND ($2 IS NULL OR s.id < $2) ORDER BY s.id DESC LIMIT $3"))
            .bind(creator_id)
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?)
    }

    /// One of the profile's streams.
    pub async fn stream(&self, creator_id: i64, id: i64) -> Result<Option<StreamRow>, DbError> {
        Ok(sqlx::query_as(&format!("{STREAM_ROW} WHERE s.creator_id = $1 AND s.id = $2"))
            .bind(creator_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// A broadcast's log for its archive: (at, stream id, account, level, message) of every
    /// destination, oldest first.
    pub async fn broadcast_log(&self, broadcast_id: &str) -> Result<Vec<(String, i64, String, String, String)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT e.at, s.id, COALESCE(a.display_name, 'a removed account'), e.level, e.message FROM stream_events e \
             JOIN streams s ON s.id = e.stream_id LEFT JOIN twitch_accounts a ON a.id = s.twitch_account_id \
             WHERE s.broadcast_id = $1 ORDER BY e.at, e.id",
        )
        .bind(broadcast_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// When a broadcast's rows were made (its archive's day).
    pub async fn broadcast_created(&self, broadcast_id: &str) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar("SELECT MIN(created_at) FROM streams WHERE broadcast_id = $1").bind(broadcast_id).fetch_one(self.pool()).await?)
    }

    /// The log of one stream: (at, level, message), oldest first.
    pub async fn stream_events(&self, creator_id: i64, stream_id: i64) -> Result<Option<Vec<(String, String, String)>>, DbError> {
        let owned: Option<i64> = sqlx::query_scalar("SELECT id FROM streams WHERE id = $1 AND creator_id = $2")
            .bind(stream_id)
            .bind(creator_id)
            .fetch_optional(self.pool())
            .await?;
        if owned.is_none() {
            return Ok(None);
        }
        Ok(Some(
            sqlx::query_as("SELECT at, level, message FROM stream_events WHERE stream_id = $1 ORDER BY id")
                .bind(stream_id)
                .fetch_all(self.pool())
                .await?,
        ))
    }

    /// Broadcasts whose scheduled time has come.
    pub async fn due_broadcasts(&self) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            &self.sql("SELECT DISTINCT broadcast_id FROM streams WHERE status = 'scheduled' \
             AND @time(scheduled_at) <= @clock"),
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Claims a scheduled broadcast for this process: its rows move from `scheduled` to `queued`,
    /// so when several processes find it due, exactly one gets the rows and the others get none
    /// (`Some(vec![])`). Only when its creator may run one more broadcast now — a USER within its
    /// plan's `max_broadcasts`, an ADMIN always — checked and claimed under the write lock, so two scheduled broadcasts coming due at once in two processes cannot both
    /// take the plan's last place. Over the limit, the rows fail with `refusal` and `Ok(None)`.
    pub async fn claim_scheduled(&self, broadcast_id: &str, instance: &str, refusal: impl Fn(&str, i64) -> String) -> Result<Option<Vec<ScheduledRow>>, DbError> {
        let mut tx = self.begin_write().await?;
        let creator: Option<(i64, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT u.id, u.role, u.plan, p.max_broadcasts FROM streams s JOIN users u ON u.id = s.creator_id \
             JOIN plans p ON p.name = u.plan WHERE s.broadcast_id = $1 AND s.status = 'scheduled' LIMIT 1",
        )
        .bind(broadcast_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((creator_id, _, plan, Some(max))) = creator.filter(|(_, role, _, _)| role != "ADMIN") {
            let running: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(DISTINCT broadcast_id) FROM streams WHERE creator_id = $1 AND broadcast_id != $2 AND status IN ({})",
                StreamState::sql_list(&ACTIVE)
            ))
            .bind(creator_id)
            .bind(broadcast_id)
            .fetch_one(&mut *tx)
            .await?;
            if running >= max {
                sqlx::query(&self.sql(
                    "UPDATE streams SET status = 'failed', error = $1, ended_at = @now WHERE broadcast_id = $2 AND status = 'scheduled'",
                ))
                .bind(refusal(&plan, max))
                .bind(broadcast_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(None);
            }
        }
        let mut rows: Vec<ScheduledRow> = sqlx::query_as(
            &self.sql("UPDATE streams SET status = 'queued', owner_pid = $1, owner_instance = $2, heartbeat_at = @now \
             WHERE broadcast_id = $3 AND status = 'scheduled' \
             RETURNING id, creator_id, twitch_account_id AS account_id, video_id, playlist_id, title, category, tags, fps, video_bitrate_k, \
             audio_bitrate_k, resolution, loop"),
        )
        .bind(i64::from(std::process::id()))
        .bind(instance)
        .bind(broadcast_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.sort_by_key(|r| r.id);
        Ok(Some(rows))
    }

    /// Who created a broadcast.
    pub async fn broadcast_creator(&self, broadcast_id: &str) -> Result<Option<i64>, DbError> {
        Ok(sqlx::query_scalar("SELECT creator_id FROM streams WHERE broadcast_id = $1 ORDER BY id LIMIT 1")
            .bind(broadcast_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// (status, scheduled_at) of each row of a broadcast.
    pub async fn broadcast_schedule(&self, broadcast_id: &str) -> Result<Vec<(StreamState, Option<String>)>, DbError> {
        Ok(sqlx::query_as("SELECT status, scheduled_at FROM streams WHERE broadcast_id = $1 ORDER BY id")
            .bind(broadcast_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// True if the profile has a stream `id`.
    pub async fn has_stream(&self, creator_id: Option<i64>, id: i64) -> Result<bool, DbError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT 1 FROM streams WHERE id = $1 AND ($2 IS NULL OR creator_id = $2)")
            .bind(id)
            .bind(creator_id)
            .fetch_optional(self.pool())
            .await?
            .is_some())
    }

    /// True if the profile has a broadcast `broadcast_id`.
    pub async fn has_broadcast(&self, creator_id: Option<i64>, broadcast_id: &str) -> Result<bool, DbError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT 1 FROM streams WHERE broadcast_id = $1 AND ($2 IS NULL OR creator_id = $2) LIMIT 1")
            .bind(broadcast_id)
            .bind(creator_id)
            .fetch_optional(self.pool())
            .await?
            .is_some())
    }

    /// Writes a stop order on the profile's running streams that match (a stream, a broadcast,
    /// an account of it, or all when every filter is `None`), in one statement; returns the ids
    /// ordered. Rows already ordered or finished are left alone.
    pub async fn order_stop(&self, creator_id: Option<i64>, stream_id: Option<i64>, broadcast_id: Option<&str>, account_id: Option<i64>) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar(
            &self.sql("UPDATE streams SET stop_requested_at = @now              WHERE ($1 IS NULL OR creator_id = $1) AND stop_requested_at IS NULL              AND status IN ('queued', 'starting', 'live', 'reconnecting')              AND ($2 IS NULL OR id = $2) AND ($3 IS NULL OR broadcast_id = $3) AND ($4 IS NULL OR twitch_account_id = $4)              RETURNING id"),
        )
        .bind(creator_id)
        .bind(stream_id)
        .bind(broadcast_id)
        .bind(account_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Orders a stop on the unfinished streams `instance` runs (one broadcast, or all of them),
    /// whoever created them: the desktop's own controls (tray, quit) act on what runs there.
    pub async fn order_stop_owned(&self, instance: &str, broadcast_id: Option<&str>) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar(
            &self.sql("UPDATE streams SET stop_requested_at = @now \
             WHERE owner_instance = $1 AND stop_requested_at IS NULL \
             AND status IN ('queued', 'starting', 'live', 'reconnecting') AND ($2 IS NULL OR broadcast_id = $2) \
             RETURNING id"),
        )
        .bind(instance)
        .bind(broadcast_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// The unfinished streams of a broadcast that `instance` must stop: (id, ordered to stop,
    /// lease lost to another process).
    pub async fn stops_due(&self, broadcast_id: &str, instance: &str) -> Result<Vec<(i64, bool, bool)>, DbError> {
        let rows: Vec<(i64, Flag, Flag)> = sqlx::query_as(
            "SELECT id, stop_requested_at IS NOT NULL, owner_instance IS DISTINCT FROM $2 FROM streams WHERE broadcast_id = $1 \
             AND status NOT IN ('ended', 'failed', 'cancelled') AND (stop_requested_at IS NOT NULL OR owner_instance IS DISTINCT FROM $2)",
        )
        .bind(broadcast_id)
        .bind(instance)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id, ordered, lost)| (id, ordered.0, lost.0)).collect())
    }

    /// Cancels a scheduled broadcast; returns how many rows it had.
    pub async fn cancel_scheduled(&self, creator_id: Option<i64>, broadcast_id: &str) -> Result<u64, DbError> {
        Ok(sqlx::query(
            &self.sql("UPDATE streams SET status = 'cancelled', ended_at = @now \
             WHERE broadcast_id = $1 AND ($2 IS NULL OR creator_id = $2) AND status = 'scheduled'"),
        )
        .bind(broadcast_id)
        .bind(creator_id)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Copies streams into a new broadcast scheduled for now, with the same video, account and
    /// settings (for the scheduler to start). Returns the new rows' ids.
    pub async fn requeue_streams(&self, ids: &[i64], new_broadcast_id: &str) -> Result<Vec<i64>, DbError> {
        let mut tx = self.pool().begin().await?;
        let mut new_ids = Vec::with_capacity(ids.len());
        for id in ids {
            let new_id: i64 = sqlx::query_scalar(
                &self.sql("INSERT INTO streams (creator_id, twitch_account_id, video_id, broadcast_id, title, category, tags, fps, \
                 video_bitrate_k, audio_bitrate_k, resolution, loop, status, scheduled_at) \
                 SELECT creator_id, twitch_account_id, video_id, $1, title, category, tags, fps, video_bitrate_k, \
                 audio_bitrate_k, resolution, loop, 'scheduled', @now FROM streams WHERE id = $2 \
                 RETURNING id"),
            )
            .bind(new_broadcast_id)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            new_ids.push(new_id);
        }
        tx.commit().await?;
        Ok(new_ids)
    }
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
