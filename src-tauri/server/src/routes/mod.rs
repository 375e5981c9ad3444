pub mod auth;
pub mod nodes;
pub mod playlists;
pub mod schedules;
pub mod streams;
pub mod twitch;
pub mod videos;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use twitcher_core::model::TaskHealth;
use utoipa::ToSchema;

use crate::ServerState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unhealthy` when a background task is late or restarting (then the answer is 503).
    pub status: String,
    pub version: String,
    /// Broadcasts running in this server.
    pub live_broadcasts: u32,
    /// What is wrong, one line each (empty when `ok`).
    pub problems: Vec<String>,
    /// Every supervised background task of this server, with the age of its last turn.
    pub tasks: Vec<TaskHealth>,
}

/// Whether this server does its work, without authentication: 200 when every background task
/// (the scheduler's parts, the job worker, recovery, token validation, alerts, the node's
/// heartbeat and claims, log retention) completed a turn within twice its period, else 503
/// naming the tasks that are late or restarting — what a load balancer or a monitor polls.
#[utoipa::path(get, path = "/api/health", responses((status = 200, body = Health), (status = 503, description = "a background task is late or restarting", body = Health)))]
pub async fn health(State(state): State<ServerState>) -> (StatusCode, axum::Json<Health>) {
    let report = twitcher_core::health::this_process(&state.app);
    let status = if report.healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let health = Health {
        status: if report.healthy { "ok" } else { "unhealthy" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        live_broadcasts: state.app.broadcasts().count() as u32,
        problems: report.problems,
        tasks: report.tasks,
    };
    (status, axum::Json(health))
}

/// What deleting something answers: `{"deleted": ID}`, as on the command line.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub deleted: i64,
}
