//! `GET|POST /api/twitch/link`, `DELETE /api/twitch/link/{id}`, `GET /api/twitch/stats`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use twitcher_core::accounts::{self, Account, AccountInput};
use twitcher_core::twitch::{self, AccountStats};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Session;
use crate::error::ApiResult;
use crate::extract::{Body, Id, Params};
use crate::ServerState;

#[derive(Deserialize, ToSchema)]
pub struct LinkRequest {
    /// Not blank, no control characters.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*[^\s\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069][^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*$")]
    pub display_name: String,
    /// Twitch's numeric user id, as a string. Optional: left out with a `login`, it is looked up
    /// on Twitch when a connected account of the profile can ask; else the account has none.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 20, pattern = "^[0-9]+$")]
    pub channel_id: Option<String>,
    /// Write-only: stored sealed, answered masked (`live_****1234`). 8 to 256 characters, no
    /// spaces, `/` or `?`.
    #[schema(pattern = r"^\s*[^\s/?\u0000-\u001F\u007F-\u009F]{8,256}\s*$")]
    pub stream_key: String,
    /// Omitted or "auto": Twitch's default server; else one of Twitch's ingest servers
    /// (`rtmps://….live-video.net/app`), or a server the operator allows (`serve --allow-ingest`).
    #[serde(default)]
    #[schema(pattern = r"^\s*(|[aA][uU][tT][oO]|rtmps?://([a-z0-9-]+\.)+(live-video\.net|twitch\.tv)(:[1-9][0-9]{0,3})?/app/?)\s*$")]
    pub ingest_server: Option<String>,
    /// The channel's login name (letters, digits, `_`).
    #[serde(default)]
    #[schema(pattern = r"^\s*[A-Za-z0-9_]{0,25}\s*$")]
    pub login: Option<String>,
}

/// The profile's accounts by id, a page at a time.
#[utoipa::path(get, path = "/api/twitch/link", params(super::Paging), security(("bearer" = [])),
    responses((status = 200, body = Vec<Account>, headers(("Link" = String, description = "the next page, while there may be more"))),
        (status = 401, body = crate::error::ErrorResponse)))]
pub async fn list(State(state): State<ServerState>, Session(actor): Session, Params(paging): Params<super::Paging>) -> ApiResult<axum::response::Response> {
    let request = paging.request()?;
    Ok(super::page("/api/twitch/link", request, accounts::list_page(&state.app, &actor, request).await?, |a| a.id))
}

/// Links an account by hand (the stream key is never echoed).
#[utoipa::path(post, path = "/api/twitch/link", request_body = LinkRequest, security(("bearer" = [])),
    responses((status = 201, body = Account), (status = 400, body = crate::error::ErrorResponse),
        (status = 403, description = "plan limit", body = crate::error::ErrorResponse), (status = 409, body = crate::error::ErrorResponse)))]
pub async fn link(State(state): State<ServerState>, Session(actor): Session, Body(request): Body<LinkRequest>) -> ApiResult<(StatusCode, axum::Json<Account>)> {
    let key = zeroize::Zeroizing::new(request.stream_key);
    let input = AccountInput { display_name: request.display_name, channel_id: request.channel_id, login: request.login, ingest_server: request.ingest_server };
    Ok((StatusCode::CREATED, axum::Json(twitcher_core::twitch::add_by_hand(&state.app, &actor, &input, &key).await?)))
}

/// Unlinks an account (a connected one's grant is revoked on Twitch).
#[utoipa::path(delete, path = "/api/twitch/link/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn unlink(State(state): State<ServerState>, Session(actor): Session, Id(id): Id) -> ApiResult<StatusCode> {
    twitch::unlink(&state.app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct StatsParams {
    /// Ask Twitch again instead of the minute-old cache.
    #[serde(default)]
    pub refresh: bool,
}

#[utoipa::path(get, path = "/api/twitch/stats", params(StatsParams), security(("bearer" = [])),
    responses((status = 200, body = Vec<AccountStats>), (status = 401, body = crate::error::ErrorResponse)))]
pub async fn stats(State(state): State<ServerState>, Session(actor): Session, Params(params): Params<StatsParams>) -> ApiResult<axum::Json<Vec<AccountStats>>> {
    Ok(axum::Json(twitch::stats(&state.app, &actor, None, params.refresh).await?))
}
