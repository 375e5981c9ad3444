//! The `schedules` table, and the stop orders of occurrences whose end has come.

use super::{Db, DbError};


const COLUMNS: &str = "id, owner_id, request, at_local, time_zone, days, duration_sec, until_local, next_at, created_at, error, paused_at";

/// A schedule to record.
pub struct NewSchedule<'a> {
    pub owner_id: i64,
    pub request: &'a str,
    pub at_local: &'a str,
    pub time_zone: &'a str,
    pub days: &'a str,
    pub duration_sec: Option<i64>,
    pub until_local: Option<&'a str>,
    pub next_at: &'a str,
}

impl Db {
    /// What was published of a schedule to one channel's Twitch schedule.
    pub async fn set_schedule_on_twitch(&self, schedule_id: i64, account_id: i64, segment_ids: &[String], notice: Option<&str>) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO schedule_on_twitch (schedule_id, account_id, segment_ids, notice) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (schedule_id, account_id) DO UPDATE SET segment_ids = excluded.segment_ids, notice = excluded.notice",
        )
            .bind(schedule_id)
            .bind(account_id)
            .bind(serde_json::to_string(segment_ids).expect("strings serialise"))
            .bind(notice.map(|n| crate::redact::redact(n).into_owned()))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Per account: (account id, segment ids, notice), of a schedule.
    pub async fn schedule_on_twitch(&self, schedule_id: i64) -> Result<Vec<(i64, Vec<String>, Option<String>)>, DbError> {
        let rows: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT account_id, segment_ids, notice FROM schedule_on_twitch WHERE schedule_id = $1 ORDER BY account_id")
                .bind(schedule_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|(a, ids, n)| (a, serde_json::from_str(&ids).unwrap_or_default(), n)).collect())
    }

    /// A page of the owner's schedules by id: those after `after`, at most `limit`.
    pub async fn schedules_page(&self, owner_id: i64, after: i64, limit: u32) -> Result<Vec<ScheduleRow>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM schedules WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
            .bind(owner_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?)
    }

    /// What Twitch holds of the owner's schedules with ids `first..=last` (a page), in one
    /// query: (schedule id, (account, segment ids, notice)), by schedule and account.
    #[allow(clippy::type_complexity)]
    pub async fn schedules_on_twitch_between(&self, owner_id: i64, first: i64, last: i64) -> Result<Vec<(i64, (i64, Vec<String>, Option<String>))>, DbError> {
        let rows: Vec<(i64, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT o.schedule_id, o.account_id, o.segment_ids, o.notice FROM schedule_on_twitch o JOIN schedules s ON s.id = o.schedule_id \
             WHERE s.owner_id = $1 AND o.schedule_id BETWEEN $2 AND $3 ORDER BY o.schedule_id, o.account_id",
        )
        .bind(owner_id)
        .bind(first)
        .bind(last)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(s, a, ids, n)| (s, (a, serde_json::from_str(&ids).unwrap_or_default(), n))).collect())
    }

    /// Inserts a schedule unless its owner has `max` already (`None`), under the write lock so
    /// two inserts at once cannot both pass the count.
    pub async fn insert_schedule(&self, max: Option<u32>, s: &NewSchedule<'_>) -> Result<Option<i64>, DbError> {
        let mut tx = self.begin_write().await?;
        if let Some(max) = max {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schedules WHERE owner_id = $1").bind(s.owner_id).fetch_one(&mut *tx).await?;
            if count >= i64::from(max) {
                return Ok(None);
            }
        }
        let id = sqlx::query_scalar(
            "INSERT INTO schedules (owner_id, request, at_local, time_zone, days, duration_sec, until_local, next_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(s.owner_id)
        .bind(s.request)
        .bind(s.at_local)
        .bind(s.time_zone)
        .bind(s.days)
        .bind(s.duration_sec)
        .bind(s.until_local)
        .bind(s.next_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    pub async fn schedule(&self, owner_id: i64, id: i64) -> Result<Option<ScheduleRow>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM schedules WHERE owner_id = $1 AND id = $2")).bind(owner_id).bind(id).fetch_optional(self.pool()).await?)
    }

    pub async fn schedules(&self, owner_id: i64) -> Result<Vec<ScheduleRow>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM schedules WHERE owner_id = $1 ORDER BY id")).bind(owner_id).fetch_all(self.pool()).await?)
    }

    /// Every profile's schedules the scheduler walks: not those set aside with an error.
    pub async fn all_schedules(&self) -> Result<Vec<ScheduleRow>, DbError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM schedules WHERE error IS NULL AND paused_at IS NULL ORDER BY id")).fetch_all(self.pool()).await?)
    }

    /// Sets a schedule aside: the scheduler skips it from then on, and it shows why.
    pub async fn set_schedule_error(&self, id: i64, reason: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE schedules SET error = $1 WHERE id = $2").bind(crate::redact::redact(reason).into_owned()).bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// Moves a schedule's next occurrence from `from` to `to`; false when another process did
    /// first (then that process materialises the occurrence), or it was paused meanwhile.
    pub async fn advance_schedule(&self, id: i64, from: &str, to: &str) -> Result<bool, DbError> {
        let done = sqlx::query("UPDATE schedules SET next_at = $1 WHERE id = $2 AND next_at = $3 AND paused_at IS NULL")
            .bind(to)
            .bind(id)
            .bind(from)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels what a schedule has booked when it is paused: for an occurrence booked while a
    /// pause was being written (the pause's own cancel ran before the booking landed).
    pub async fn cancel_booked_if_paused(&self, id: i64) -> Result<u64, DbError> {
        let done = sqlx::query(&self.sql(
            "UPDATE streams SET status = 'cancelled', ended_at = @now WHERE schedule_id = $1 AND status = 'scheduled' \
             AND EXISTS (SELECT 1 FROM schedules WHERE id = $1 AND paused_at IS NOT NULL)",
        ))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Replaces what a schedule starts and when (its next start `s.next_at`), clears a reason it
    /// was set aside for, and cancels its occurrences booked but not started: they were made
    /// from what it said before. False when the profile has no such schedule.
    pub async fn update_schedule(&self, id: i64, s: &NewSchedule<'_>) -> Result<bool, DbError> {
        // Writes first: SQLite takes its write lock at the first UPDATE.
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE schedules SET request = $1, at_local = $2, time_zone = $3, days = $4, duration_sec = $5, until_local = $6, \
             next_at = $7, error = NULL WHERE owner_id = $8 AND id = $9",
        )
        .bind(s.request)
        .bind(s.at_local)
        .bind(s.time_zone)
        .bind(s.days)
        .bind(s.duration_sec)
        .bind(s.until_local)
        .bind(s.next_at)
        .bind(s.owner_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            cancel_booked(self, &mut tx, s.owner_id, id).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Pauses a schedule (cancelling its occurrences booked but not started) or resumes it from
    /// `next_at`. False when the profile has no such schedule.
    pub async fn set_schedule_paused(&self, owner_id: i64, id: i64, paused: bool, next_at: &str) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        let done = if paused {
            sqlx::query(&self.sql("UPDATE schedules SET paused_at = COALESCE(paused_at, @now) WHERE owner_id = $1 AND id = $2"))
                .bind(owner_id)
                .bind(id)
                .execute(&mut *tx)
                .await?
        } else {
            sqlx::query("UPDATE schedules SET paused_at = NULL, next_at = $1 WHERE owner_id = $2 AND id = $3")
                .bind(next_at)
                .bind(owner_id)
                .bind(id)
                .execute(&mut *tx)
                .await?
        };
        if paused && done.rows_affected() == 1 {
            cancel_booked(self, &mut tx, owner_id, id).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets what was published of a schedule to the channels' Twitch schedules.
    pub async fn clear_schedule_on_twitch(&self, schedule_id: i64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM schedule_on_twitch WHERE schedule_id = $1").bind(schedule_id).execute(self.pool()).await?;
        Ok(())
    }

    /// Deletes a schedule and cancels its occurrences that have not started.
    pub async fn delete_schedule(&self, owner_id: i64, id: i64) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        cancel_booked(self, &mut tx, owner_id, id).await?;
        let done = sqlx::query("DELETE FROM schedules WHERE owner_id = $1 AND id = $2").bind(owner_id).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Orders a stop on running streams whose end (`ends_at`) is at or before `now`.
    pub async fn order_stop_ended(&self, now: &str) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar(
            &self.sql("UPDATE streams SET stop_requested_at = @now \
             WHERE ends_at IS NOT NULL AND @time(ends_at) <= @time($1) AND stop_requested_at IS NULL \
             AND status IN ('queued', 'starting', 'live', 'reconnecting') RETURNING id"),
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?)
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: i64,
    pub owner_id: i64,
    pub request: String,
    pub at_local: String,
    pub time_zone: String,
    pub days: String,
    pub duration_sec: Option<i64>,
    pub until_local: Option<String>,
    pub next_at: String,
    pub created_at: String,
    pub error: Option<String>,
    /// When it was paused; `None` while it runs.
    pub paused_at: Option<String>,
}

/// Cancels a schedule's occurrences booked (materialised) but not started.
async fn cancel_booked(db: &Db, tx: &mut sqlx::Transaction<'_, sqlx::Any>, owner_id: i64, schedule_id: i64) -> Result<(), DbError> {
    sqlx::query(
        &db.sql("UPDATE streams SET status = 'cancelled', ended_at = @now \
         WHERE schedule_id = $1 AND creator_id = $2 AND status = 'scheduled'"),
    )
    .bind(schedule_id)
    .bind(owner_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
