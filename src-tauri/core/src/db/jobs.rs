//! The `jobs` table: durable background work.

use super::{Db, DbError};
use crate::jobs::{Job, JobStatus};

const SELECT: &str = "SELECT id, kind, payload, status, progress, attempts, max_attempts, error, video_id FROM jobs";

impl Db {
    pub async fn insert_job(&self, kind: &str, payload: &str, max_attempts: i64) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar("INSERT INTO jobs (kind, payload, max_attempts) VALUES (?, ?, ?) RETURNING id")
            .bind(kind)
            .bind(payload)
            .bind(max_attempts)
            .fetch_one(self.pool())
            .await?)
    }

    pub async fn job(&self, id: i64) -> Result<Option<Job>, DbError> {
        Ok(sqlx::query_as(&format!("{SELECT} WHERE id = ?")).bind(id).fetch_optional(self.pool()).await?)
    }

    /// Takes the oldest due job, marking it running, in one statement so two workers never take
    /// the same job.
    pub async fn claim_job(&self) -> Result<Option<Job>, DbError> {
        Ok(sqlx::query_as(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, \
             started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' \
                         AND run_after <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ORDER BY id LIMIT 1) \
             RETURNING id, kind, payload, status, progress, attempts, max_attempts, error, video_id",
        )
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn set_job_progress(&self, id: i64, progress: f64) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET progress = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?")
            .bind(progress)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_job_payload(&self, id: i64, payload: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET payload = ? WHERE id = ?").bind(payload).bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// Ends a job: succeeded, failed or cancelled; `video_id` is what it produced, if anything.
    pub async fn finish_job(&self, id: i64, status: JobStatus, error: Option<&str>, video_id: Option<i64>) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE jobs SET status = ?, error = ?, video_id = COALESCE(?, video_id), \
             progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END, \
             finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
             WHERE id = ?",
        )
        .bind(status)
        .bind(error)
        .bind(video_id)
        .bind(status)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Puts a job back in the queue to run again after `delay_sec`.
    pub async fn retry_job(&self, id: i64, error: &str, delay_sec: f64) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE jobs SET status = 'queued', error = ?, \
             run_after = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('+%.3f seconds', ?)), \
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
        )
        .bind(error)
        .bind(delay_sec)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Jobs a crash left running go back to the queue; those out of attempts fail. Returns
    /// (requeued, failed).
    pub async fn recover_jobs(&self) -> Result<(u64, u64), DbError> {
        let failed = sqlx::query(
            "UPDATE jobs SET status = 'failed', error = 'interrupted too many times', \
             finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
             WHERE status = 'running' AND attempts >= max_attempts",
        )
        .execute(self.pool())
        .await?
        .rows_affected();
        let requeued = sqlx::query(
            "UPDATE jobs SET status = 'queued', run_after = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE status = 'running'",
        )
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok((requeued, failed))
    }

    pub async fn cancel_job(&self, id: i64) -> Result<bool, DbError> {
        let r = sqlx::query(
            "UPDATE jobs SET status = 'cancelled', finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
             WHERE id = ? AND status IN ('queued', 'running')",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Jobs not yet ended, oldest first.
    pub async fn open_jobs(&self) -> Result<Vec<Job>, DbError> {
        Ok(sqlx::query_as(&format!("{SELECT} WHERE status IN ('queued', 'running') ORDER BY id"))
            .fetch_all(self.pool())
            .await?)
    }
}
