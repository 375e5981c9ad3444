//! The `settings` table: small key/value state of one data dir.

use super::{Db, DbError};

impl Db {
    pub async fn setting(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), DbError> {
        let mut conn = self.pool().acquire().await?;
        upsert(self, &mut conn, key, value).await
    }

    pub async fn delete_setting(&self, key: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM settings WHERE key = $1").bind(key).execute(self.pool()).await?;
        Ok(())
    }

    /// Deletes sign-in throttles (`prefix…` keys, values `failures:last failure ms`) whose last
    /// failure is before `before_ms`.
    pub async fn forget_login_throttles(&self, prefix: &str, before_ms: u64) -> Result<(), DbError> {
        // Parsed here: the two databases split text differently.
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM settings WHERE substr(key, 1, length($1)) = $1")
            .bind(prefix)
            .fetch_all(self.pool())
            .await?;
        for (key, value) in rows {
            let last_ms = value.split_once(':').and_then(|(_, ms)| ms.parse::<u64>().ok()).unwrap_or(0);
            if last_ms < before_ms {
                sqlx::query("DELETE FROM settings WHERE key = $1 AND value = $2").bind(&key).bind(&value).execute(self.pool()).await?;
            }
        }
        Ok(())
    }
}

/// Inserts or replaces a setting on a connection (or inside a transaction).
pub(crate) async fn upsert(db: &Db, conn: &mut sqlx::AnyConnection, key: &str, value: &str) -> Result<(), DbError> {
    sqlx::query(
        &db.sql("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
         updated_at = @now"),
    )
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}
