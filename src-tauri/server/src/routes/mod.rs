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

/// `limit` and `cursor` of a list endpoint.
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct Paging {
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Where to go on: as the previous answer's `Link: <…>; rel="next"` gives it.
    #[param(minimum = 0)]
    pub cursor: Option<i64>,
}

impl Paging {
    pub fn request(&self) -> Result<twitcher_core::model::PageRequest, crate::error::ApiError> {
        use twitcher_core::model::PageRequest;
        if self.limit.is_some_and(|l| l == 0 || l > PageRequest::MAX_LIMIT) {
            return Err(crate::error::ApiError::invalid(format!("limit is 1 to {}", PageRequest::MAX_LIMIT)));
        }
        if self.cursor.is_some_and(|c| c < 0) {
            return Err(crate::error::ApiError::invalid("cursor is what a Link header's next gave: a number from 0"));
        }
        Ok(PageRequest::new(self.cursor, self.limit))
    }
}

/// A page as a JSON array, with `Link: <PATH?cursor=N&limit=L>; rel="next"` when it was full
/// (there may be more); `id` gives the cursor of an item (the last one's goes in the link).
pub fn page<T: Serialize>(path: &str, request: twitcher_core::model::PageRequest, items: Vec<T>, id: impl Fn(&T) -> i64) -> axum::response::Response {
    use axum::response::IntoResponse;
    let next = request.next(items.last().map(&id), items.len());
    let mut response = axum::Json(items).into_response();
    if let Some(cursor) = next {
        let link = format!("<{path}?cursor={cursor}&limit={}>; rel=\"next\"", request.limit);
        if let Ok(value) = axum::http::HeaderValue::from_str(&link) {
            response.headers_mut().insert(axum::http::header::LINK, value);
        }
    }
    response
}

/// What deleting something answers: `{"deleted": ID}`, as on the command line.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub deleted: i64,
}
