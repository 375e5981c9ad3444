//! A `serve` process on a shared database, as lists show it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Node {
    pub id: String,
    pub address: String,
    pub upload_mbps: Option<f64>,
    pub started_at: String,
    /// Destinations whose lease it holds (streams it publishes).
    pub destinations: i64,
    /// Seconds since its last heartbeat.
    pub heartbeat_age_sec: f64,
    /// Whether it still counts as running (a heartbeat within 10 s).
    #[sqlx(skip)]
    pub alive: bool,
}
