//! The `jobs` table: durable background work.

use super::{Db, DbError};
use crate::model::{Job, JobStatus};

const SELECT: &str = "SELECT id, kind, payload, status, progress, attempts, max_attempts, error, video_id FROM jobs";

impl Db {
    /// Queues a job. With a `dedupe_key`, while a job with that key is open (queued or running)
    /// no second one is made and the open one's id is returned: (id, whether it is new).
    pub async fn insert_job(&self, kind: &str, payload: &str, max_attempts: i64, dedupe_key: Option<&str>, profile_id: Option<i64>) -> Result<(i64, bool), DbError> {
        let mut tx = self.begin_write().await?;
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (kind, payload, max_attempts, dedupe_key, profile_id) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running') DO NOTHING RETURNING id",
        )
        .bind(kind)
        .bind(payload)
        .bind(max_attempts)
        .bind(dedupe_key)
        .bind(profile_id)
        .fetch_optional(&mut *tx)
        .await?;
        let found = match inserted {
            Some(id) => (id, true),
            None => {
                let open: i64 = sqlx::query_scalar("SELECT id FROM jobs WHERE dedupe_key = $1 AND status IN ('queued', 'running')")
                    .bind(dedupe_key)
                    .fetch_one(&mut *tx)
                    .await?;
                (open, false)
            }
        };
        tx.commit().await?;
        Ok(found)
    }

    pub async fn job(&self, id: i64) -> Result<Option<Job>, DbError> {
        Ok(sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_optional(self.pool()).await?)
    }

    /// Takes a due job for `instance` — the oldest of the profile whose last job started longest
    /// ago (profiles are served in turn: one profile's ten preparations never hold up another's
    /// import), or `only` that one — marking it running under its lease, in one statement so two
    /// workers never take the same job (on PostgreSQL the candidate row is locked, and skipped
    /// by a worker that finds it locked).
    pub async fn claim_job(&self, instance: &str, only: Option<i64>) -> Result<Option<Job>, DbError> {
        Ok(sqlx::query_as(
            &self.sql("UPDATE jobs SET status = 'running', attempts = attempts + 1, owner_instance = $1, \
             heartbeat_at = @now, \
             started_at = @now, updated_at = @now \
             WHERE id = (SELECT q.id FROM jobs q WHERE q.status = 'queued' AND ($2 IS NULL OR q.id = $2) AND q.run_after <= @now \
                         ORDER BY COALESCE((SELECT MAX(s.started_at) FROM jobs s WHERE s.profile_id = q.profile_id), ''), q.id \
                         LIMIT 1 @skip_locked) \
             RETURNING id, kind, payload, status, progress, attempts, max_attempts, error, video_id"),
        )
        .bind(instance)
        .bind(only)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Renews the leases of the jobs `instance` is running.
    pub async fn renew_job_leases(&self, instance: &str) -> Result<u64, DbError> {
        Ok(sqlx::query(&self.sql("UPDATE jobs SET heartbeat_at = @now WHERE owner_instance = $1 AND status = 'running'"))
            .bind(instance)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    pub async fn set_job_progress(&self, id: i64, progress: f64) -> Result<(), DbError> {
        sqlx::query(&self.sql("UPDATE jobs SET progress = $1, updated_at = @now WHERE id = $2"))
            .bind(progress)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_job_payload(&self, id: i64, payload: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET payload = $1 WHERE id = $2").bind(payload).bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// Ends a job `instance` runs: succeeded, failed or cancelled; `video_id` is what it produced,
    /// if anything. A job whose lease another process took is left to that process.
    pub async fn finish_job(&self, id: i64, status: JobStatus, error: Option<&str>, video_id: Option<i64>, instance: &str) -> Result<(), DbError> {
        sqlx::query(
            &self.sql("UPDATE jobs SET status = $1, error = $2, video_id = COALESCE($3, video_id), \
             progress = CASE WHEN $4 = 'succeeded' THEN 1 ELSE progress END, \
             finished_at = @now, updated_at = @now \
             WHERE id = $5 AND owner_instance IS NOT DISTINCT FROM $6"),
        )
        .bind(status)
        .bind(error)
        .bind(video_id)
        .bind(status)
        .bind(id)
        .bind(instance)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Puts a job `instance` runs back in the queue to run again after `delay_sec`.
    pub async fn retry_job(&self, id: i64, error: &str, delay_sec: f64, instance: &str) -> Result<(), DbError> {
        sqlx::query(
            &self.sql("UPDATE jobs SET status = 'queued', error = $1, owner_instance = NULL, \
             run_after = @now+$2, \
             updated_at = @now WHERE id = $3 AND owner_instance IS NOT DISTINCT FROM $4"),
        )
        .bind(error)
        .bind(delay_sec)
        .bind(id)
        .bind(instance)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Running jobs whose lease is older than `expired_secs` (their process died or hung) go
    /// back to the queue; those out of attempts fail. A live process's jobs are never touched.
    /// Returns (requeued, failed).
    pub async fn recover_jobs(&self, expired_secs: f64) -> Result<(u64, u64), DbError> {
        const EXPIRED: &str = "status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < @now-$1)";
        let failed = sqlx::query(&self.sql(&format!(
            "UPDATE jobs SET status = 'failed', error = 'interrupted too many times', owner_instance = NULL, \
             finished_at = @now WHERE {EXPIRED} AND attempts >= max_attempts"
        )))
        .bind(expired_secs)
        .execute(self.pool())
        .await?
        .rows_affected();
        let requeued = sqlx::query(&self.sql(&format!(
            "UPDATE jobs SET status = 'queued', owner_instance = NULL, run_after = @now WHERE {EXPIRED}"
        )))
        .bind(expired_secs)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok((requeued, failed))
    }

    pub async fn cancel_job(&self, id: i64) -> Result<bool, DbError> {
        let r = sqlx::query(
            &self.sql("UPDATE jobs SET status = 'cancelled', finished_at = @now \
             WHERE id = $1 AND status IN ('queued', 'running')"),
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
