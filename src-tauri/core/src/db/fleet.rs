//! The statements that share a broadcast's destinations between the nodes of a fleet
//! ([`crate::broadcast::fleet`]): a destination no node holds is a `queued` row without an
//! owner (shown as `pending`), claimed by a node under the write lock with
//! `FOR UPDATE SKIP LOCKED`, and released again when its node dies or shuts down.

use super::{Db, DbError};
use super::broadcast::ScheduledRow;
use crate::model::StreamState;

/// A destination waiting for a node: (stream id, broadcast id, its bitrate in kbps, seconds it has
/// waited).
type Waiting = (i64, String, i64, f64);

/// What a node may take in one claim.
pub struct Capacity {
    /// Its upload budget in kbps; none: not limited.
    pub budget_kbps: Option<i64>,
    /// How long a destination waits for a less loaded node before any node with room takes it.
    pub spread_for_secs: f64,
    /// A node is alive while its heartbeat is younger than this.
    pub alive_secs: f64,
}

/// The statuses of a destination some node publishes (or is about to).
const HELD: &str = "'queued', 'starting', 'live', 'reconnecting', 'stopping'";

impl Db {
    /// Claims for node `instance` the waiting destinations it should publish: as many as bring it
    /// to its fair share of all destinations (counted over the live nodes), within its upload
    /// budget; past [`Capacity::spread_for_secs`] of waiting, any it has room for. Rows that do not
    /// fit its budget get `over_budget` as their reason. One transaction under the write lock, the
    /// rows locked with `FOR UPDATE SKIP LOCKED` on PostgreSQL: two nodes never claim the same row.
    /// Returns (stream id, broadcast id) of each claimed row.
    pub async fn claim_destinations(&self, instance: &str, capacity: &Capacity, over_budget: impl Fn(i64) -> String) -> Result<Vec<(i64, String)>, DbError> {
        let mut tx = self.begin_write().await?;
        let alive: i64 = sqlx::query_scalar(&self.sql("SELECT COUNT(*) FROM nodes WHERE heartbeat_at >= @now-$1"))
            .bind(capacity.alive_secs)
            .fetch_one(&mut *tx)
            .await?;
        // (SUM of BIGINT is NUMERIC on PostgreSQL: cast back.)
        let (mine, mine_kbps): (i64, i64) = sqlx::query_as(&format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(video_bitrate_k + audio_bitrate_k), 0) AS BIGINT) FROM streams WHERE owner_instance = $1 AND status IN ({HELD})"
        ))
        .bind(instance)
        .fetch_one(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM streams WHERE status IN ({HELD})")).fetch_one(&mut *tx).await?;
        let waiting: Vec<Waiting> = sqlx::query_as(&self.sql(
            "SELECT id, broadcast_id, video_bitrate_k + audio_bitrate_k, @age(heartbeat_at) FROM streams \
             WHERE status = 'queued' AND owner_instance IS NULL AND stop_requested_at IS NULL ORDER BY id @skip_locked",
        ))
        .fetch_all(&mut *tx)
        .await?;
        let share = (total + alive.max(1) - 1) / alive.max(1);
        let (mut count, mut kbps) = (mine, mine_kbps);
        let mut claimed = Vec::new();
        for (id, broadcast_id, cost, waited) in waiting {
            if capacity.budget_kbps.is_some_and(|budget| kbps + cost > budget) {
                sqlx::query("UPDATE streams SET error = $1 WHERE id = $2").bind(over_budget(cost)).bind(id).execute(&mut *tx).await?;
                continue;
            }
            if count >= share && waited < capacity.spread_for_secs {
                continue;
            }
            sqlx::query(&self.sql(
                "UPDATE streams SET owner_instance = $1, owner_pid = $2, heartbeat_at = @now, error = NULL WHERE id = $3 AND owner_instance IS NULL",
            ))
            .bind(instance)
            .bind(i64::from(std::process::id()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            count += 1;
            kbps += cost;
            claimed.push((id, broadcast_id));
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Releases the destinations of nodes silent for `silent_secs` — killed or cut off — so that
    /// live nodes take them over, when at least one other node is alive to do it (otherwise the
    /// after-crash policy applies, see `recovery`). One statement: a row is released once.
    /// Returns the ids released.
    pub async fn release_from_silent_nodes(&self, silent_secs: f64, reason: &str) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar(&self.sql(
            "UPDATE streams SET status = 'queued', owner_instance = NULL, heartbeat_at = @now, error = $2 \
             WHERE status IN ('queued', 'starting', 'live', 'reconnecting') AND stop_requested_at IS NULL \
             AND owner_instance IN (SELECT id FROM nodes) AND heartbeat_at < @now-$1 \
             AND EXISTS (SELECT 1 FROM nodes n WHERE n.id != streams.owner_instance AND n.heartbeat_at >= @now-$1) \
             RETURNING id",
        ))
        .bind(silent_secs)
        .bind(reason)
        .fetch_all(self.pool())
        .await?)
    }

    /// Hands the destinations `instance` publishes to the other nodes (a graceful shutdown).
    /// Returns the ids released.
    pub async fn release_own(&self, instance: &str, reason: &str) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar(&self.sql(
            "UPDATE streams SET status = 'queued', owner_instance = NULL, heartbeat_at = @now, error = $2 \
             WHERE owner_instance = $1 AND status IN ('queued', 'starting', 'live', 'reconnecting') AND stop_requested_at IS NULL \
             RETURNING id",
        ))
        .bind(instance)
        .bind(reason)
        .fetch_all(self.pool())
        .await?)
    }

    /// Whether a node other than `instance` is alive.
    pub async fn other_node_alive(&self, instance: &str, alive_secs: f64) -> Result<bool, DbError> {
        let n: i64 = sqlx::query_scalar(&self.sql("SELECT COUNT(*) FROM nodes WHERE id != $1 AND heartbeat_at >= @now-$2"))
            .bind(instance)
            .bind(alive_secs)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }

    /// Ends the waiting destinations ordered to stop (no node holds them to do it): `ended` if
    /// they were on air before, else `cancelled`.
    pub async fn end_waiting_stopped(&self) -> Result<u64, DbError> {
        Ok(sqlx::query(&self.sql(
            "UPDATE streams SET status = CASE WHEN started_at IS NULL THEN 'cancelled' ELSE 'ended' END, ended_at = @now \
             WHERE status = 'queued' AND owner_instance IS NULL AND stop_requested_at IS NOT NULL",
        ))
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// What it takes to publish the rows `ids` (claimed by `instance`), in id order, with whether
    /// each was on air before (a takeover, not a first start) and the newest RTMP timestamp its
    /// previous node recorded sending.
    /// Puts a failed destination back in the queue for a retry, under `instance` (`None`: for
    /// the nodes of a fleet to claim) — only while another destination of its broadcast is still
    /// on (a retry joins a running broadcast), and once: of two retries at the same moment, one
    /// wins. Returns whether it did.
    pub async fn requeue_failed(&self, stream_id: i64, creator_id: i64, instance: Option<&str>) -> Result<bool, DbError> {
        let done = sqlx::query(&self.sql(
            "UPDATE streams SET status = 'queued', error = NULL, ended_at = NULL, stop_requested_at = NULL,              owner_instance = $3, owner_pid = $4, heartbeat_at = @now              WHERE id = $1 AND creator_id = $2 AND status = 'failed' AND EXISTS (SELECT 1 FROM streams o              WHERE o.broadcast_id = streams.broadcast_id AND o.id <> streams.id AND o.status IN ('queued', 'starting', 'live', 'reconnecting'))",
        ))
        .bind(stream_id)
        .bind(creator_id)
        .bind(instance)
        .bind(i64::from(std::process::id()))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn claimed_rows(&self, ids: &[i64], instance: &str) -> Result<Vec<(ScheduledRow, bool, Option<i64>)>, DbError> {
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<ScheduledRow> = sqlx::query_as(
                "SELECT id, creator_id, twitch_account_id AS account_id, video_id, playlist_id, title, category, tags, fps, video_bitrate_k, \
                 audio_bitrate_k, resolution, loop FROM streams WHERE id = $1 AND owner_instance = $2 AND status = 'queued'",
            )
            .bind(id)
            .bind(instance)
            .fetch_optional(self.pool())
            .await?;
            let Some(row) = row else { continue };
            let (started, sent): (Option<String>, Option<i64>) =
                sqlx::query_as("SELECT started_at, sent_ms FROM streams WHERE id = $1").bind(id).fetch_one(self.pool()).await?;
            rows.push((row, started.is_some(), sent));
        }
        Ok(rows)
    }

    /// The position of a broadcast's playout in ms: the time since its origin, which the first
    /// call sets to now (by the database's clock, so every node agrees).
    pub async fn playout_position_ms(&self, broadcast_id: &str) -> Result<u64, DbError> {
        sqlx::query(&self.sql("UPDATE streams SET playout_origin = @now WHERE broadcast_id = $1 AND playout_origin IS NULL"))
            .bind(broadcast_id)
            .execute(self.pool())
            .await?;
        let age: Option<f64> =
            sqlx::query_scalar(&self.sql("SELECT MAX(@age(playout_origin)) FROM streams WHERE broadcast_id = $1")).bind(broadcast_id).fetch_one(self.pool()).await?;
        Ok((age.unwrap_or(0.0).max(0.0) * 1000.0) as u64)
    }

    /// Leaves claimed rows (`queued`, just claimed by this process) to the nodes of the fleet.
    pub async fn wait_for_nodes(&self, ids: &[i64]) -> Result<(), DbError> {
        for id in ids {
            sqlx::query(&self.sql("UPDATE streams SET owner_instance = NULL, heartbeat_at = @now WHERE id = $1 AND status = 'queued'"))
                .bind(id)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// (id, stored status) of each row of a broadcast.
    pub async fn broadcast_states(&self, broadcast_id: &str) -> Result<Vec<(i64, StreamState)>, DbError> {
        Ok(sqlx::query_as("SELECT id, status FROM streams WHERE broadcast_id = $1 ORDER BY id").bind(broadcast_id).fetch_all(self.pool()).await?)
    }
}
