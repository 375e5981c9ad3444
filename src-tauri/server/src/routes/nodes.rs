//! The nodes of a fleet, for an ADMIN.

use axum::extract::State;
use twitcher_core::nodes::{self, Node};

use crate::error::ApiResult;
use crate::auth::Session;
use crate::ServerState;

/// Every `twitcher serve` on this database: address, upload budget, destinations held, heartbeat
/// age (`alive` while under 10 s). ADMIN only.
#[utoipa::path(get, path = "/api/nodes", security(("bearer" = [])),
    responses((status = 200, body = Vec<Node>), (status = 401, body = crate::error::ErrorResponse),
        (status = 403, body = crate::error::ErrorResponse)))]
pub async fn list(State(state): State<ServerState>, Session(actor): Session) -> ApiResult<axum::Json<Vec<Node>>> {
    Ok(axum::Json(nodes::list(&state.app, &actor).await?))
}
