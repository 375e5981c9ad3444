//! The `settings` table: small key/value state of one data dir.

use super::{Db, DbError};

impl Db {
    pub async fn setting(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), DbError> {
        let mut conn = self.pool().acquire().await?;
        upsert(&mut conn, key, value).await
    }

    pub async fn delete_setting(&self, key: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM settings WHERE key = ?").bind(key).execute(self.pool()).await?;
        Ok(())
    }

    /// Deletes sign-in throttles (`prefix…` keys, values `failures:last failure ms`) whose last
    /// failure is before `before_ms`.
    pub async fn forget_login_throttles(&self, prefix: &str, before_ms: u64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM settings WHERE substr(key, 1, length(?1)) = ?1 AND CAST(substr(value, instr(value, ':') + 1) AS INTEGER) < ?2")
            .bind(prefix)
            .bind(before_ms as i64)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// Inserts or replaces a setting on a connection (or inside a transaction).
pub(crate) async fn upsert(conn: &mut sqlx::SqliteConnection, key: &str, value: &str) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    )
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(())
}
