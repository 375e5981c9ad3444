//! The `nodes` table: the `serve` processes on this database and their heartbeats.

use super::{Db, DbError};
use crate::model::{Node, StreamState, ACTIVE};

impl Db {
    /// Records (or renews) the node `id`.
    pub async fn upsert_node(&self, id: &str, address: &str, upload_mbps: Option<f64>) -> Result<(), DbError> {
        sqlx::query(&self.sql(
            "INSERT INTO nodes (id, address, upload_mbps) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET address = excluded.address, upload_mbps = excluded.upload_mbps, heartbeat_at = @now",
        ))
        .bind(id)
        .bind(address)
        .bind(upload_mbps)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Renews the node's heartbeat; false when its row is gone (removed as silent by another
    /// node: it must record itself again).
    pub async fn node_heartbeat(&self, id: &str) -> Result<bool, DbError> {
        let renewed = sqlx::query(&self.sql("UPDATE nodes SET heartbeat_at = @now WHERE id = $1")).bind(id).execute(self.pool()).await?;
        Ok(renewed.rows_affected() == 1)
    }

    pub async fn delete_node(&self, id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM nodes WHERE id = $1").bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// Forgets nodes silent for more than `secs` (killed long ago; their leases went long before).
    pub async fn forget_silent_nodes(&self, secs: f64) -> Result<u64, DbError> {
        Ok(sqlx::query(&self.sql("DELETE FROM nodes WHERE heartbeat_at < @now-$1")).bind(secs).execute(self.pool()).await?.rows_affected())
    }

    /// Every node with the destinations it holds and the age of its heartbeat, oldest node first.
    pub async fn nodes(&self) -> Result<Vec<Node>, DbError> {
        let sql = format!(
            "SELECT n.id, n.address, n.upload_mbps, n.started_at, \
             (SELECT COUNT(*) FROM streams s WHERE s.owner_instance = n.id AND s.status IN ({})) AS destinations, \
             @age(n.heartbeat_at) AS heartbeat_age_sec \
             FROM nodes n ORDER BY n.started_at, n.id",
            StreamState::sql_list(&ACTIVE)
        );
        Ok(sqlx::query_as(&self.sql(&sql)).fetch_all(self.pool()).await?)
    }
}
