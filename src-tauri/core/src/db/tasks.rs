//! The `task_health` table: each process's supervised tasks as it last reported them (see
//! `tasks`), for `twitcher doctor` and any process that wants the whole data dir's picture.

use super::{Db, DbError};
use crate::model::{TaskHealth, TaskState};

/// A reported task and how long ago the report was written (seconds, the database's clock).
pub type Reported = (TaskHealth, f64);

impl Db {
    /// Replaces `instance`'s rows with `tasks`, in one transaction.
    pub async fn report_tasks(&self, instance: &str, tasks: &[TaskHealth]) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM task_health WHERE instance_id = $1").bind(instance).execute(&mut *tx).await?;
        for task in tasks {
            sqlx::query(&self.sql(
                "INSERT INTO task_health (instance_id, name, state, period_sec, last_turn_age_sec, restarts, failures, last_error, reported_at) \
                 VALUES ($1, $2, $3, $4, $5 / 1000000.0, $6, $7, $8, @now)",
            ))
            .bind(instance)
            .bind(&task.name)
            .bind(task.state.as_str())
            .bind(task.period_sec)
            .bind(super::sql::millionths(task.last_turn_age_sec))
            .bind(i64::from(task.restarts))
            .bind(i64::from(task.failures))
            .bind(task.last_error.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets `instance`'s rows (it shuts down).
    pub async fn forget_task_reports(&self, instance: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM task_health WHERE instance_id = $1").bind(instance).execute(self.pool()).await?;
        Ok(())
    }

    /// Forgets the rows of processes silent for more than `secs` (killed long ago).
    pub async fn forget_silent_task_reports(&self, secs: f64) -> Result<(), DbError> {
        sqlx::query(&self.sql("DELETE FROM task_health WHERE reported_at < @now-$1")).bind(secs).execute(self.pool()).await?;
        Ok(())
    }

    /// Every reported task, by process and name, with the age of its report.
    pub async fn task_reports(&self) -> Result<Vec<Reported>, DbError> {
        let rows: Vec<(String, String, String, f64, Option<f64>, i64, i64, Option<String>, f64)> = sqlx::query_as(&self.sql(
            "SELECT instance_id, name, state, period_sec, last_turn_age_sec, restarts, failures, last_error, @age(reported_at) \
             FROM task_health ORDER BY instance_id, name",
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(instance_id, name, state, period_sec, last_turn_age_sec, restarts, failures, last_error, age)| {
                let task = TaskHealth {
                    instance_id,
                    name,
                    state: TaskState::parse(&state).unwrap_or(TaskState::Late),
                    period_sec,
                    // As of now, not as of the report.
                    last_turn_age_sec: last_turn_age_sec.map(|a| a + age),
                    restarts: restarts.clamp(0, i64::from(u32::MAX)) as u32,
                    failures: failures.clamp(0, i64::from(u32::MAX)) as u32,
                    last_error,
                };
                (task, age)
            })
            .collect())
    }
}
