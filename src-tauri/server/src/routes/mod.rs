pub mod auth;
pub mod nodes;
pub mod playlists;
pub mod schedules;
pub mod streams;
pub mod twitch;
pub mod videos;

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ServerState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
    /// Broadcasts running in this server.
    pub live_broadcasts: u32,
}

/// Liveness, without authentication.
#[utoipa::path(get, path = "/api/health", responses((status = 200, body = Health)))]
pub async fn health(State(state): State<ServerState>) -> axum::Json<Health> {
    axum::Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into(), live_broadcasts: state.app.broadcasts().count() as u32 })
}

/// What deleting something answers: `{"deleted": ID}`, as on the command line.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub deleted: i64,
}
