//! `POST /api/auth/register` and `POST /api/auth/login`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use twitcher_core::profiles::{self, Profile};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::extract::Body;
use crate::ServerState;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Shown in lists; "Creator" when omitted or blank. No control characters.
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    /// The profile's login. Shown this once: the server keeps only its hash.
    pub uuid: String,
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
    pub profile: Profile,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(min_length = 36, max_length = 36, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub uuid: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Creates a profile; its UUID is the login. Who may depends on `serve --registration`: by
/// default only a signed-in ADMIN (send its token), and anyone for a data dir's first profile.
#[utoipa::path(post, path = "/api/auth/register", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 400, body = crate::error::ErrorResponse),
        (status = 401, description = "a token was sent and is not valid", body = crate::error::ErrorResponse),
        (status = 403, description = "this server does not let the caller create profiles", body = crate::error::ErrorResponse)))]
pub async fn register(
    State(state): State<ServerState>,
    crate::auth::MaybeSession(caller): crate::auth::MaybeSession,
    Body(request): Body<RegisterRequest>,
) -> ApiResult<(StatusCode, axum::Json<RegisterResponse>)> {
    let created = profiles::register_as(&state.app, request.name.as_deref(), state.registration, caller.as_ref()).await?;
    let (token, expires_at) = state.jwt.issue(created.profile.id);
    Ok((StatusCode::CREATED, axum::Json(RegisterResponse { uuid: created.uuid.to_string(), token, expires_at, profile: created.profile })))
}

/// Exchanges a profile UUID for a session token (12 h).
#[utoipa::path(post, path = "/api/auth/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorResponse),
        (status = 429, description = "too many attempts; see Retry-After", body = crate::error::ErrorResponse)))]
pub async fn login(
    State(state): State<ServerState>,
    ConnectInfo(connection): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Body(request): Body<LoginRequest>,
) -> ApiResult<axum::Json<LoginResponse>> {
    let client = crate::auth::client_address(connection.ip(), &headers, &state.trusted_proxies);
    state.login_limiter.attempt(client).map_err(ApiError::too_many)?;
    let profile = profiles::login_from(&state.app, &request.uuid, profiles::LoginOrigin::Client(client)).await?;
    let (token, expires_at) = state.jwt.issue(profile.id);
    Ok(axum::Json(LoginResponse { token, expires_at }))
}
