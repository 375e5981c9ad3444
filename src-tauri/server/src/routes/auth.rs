//! `POST /api/auth/register`, `POST /api/auth/login` and `POST /api/auth/logout`.

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
    /// Shown in lists; "Creator" when omitted or blank. One line of plain text: no control,
    /// bidi-override or line-separator characters.
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*$")]
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
/// default only a signed-in ADMIN (send its token), and anyone for a data dir's first profile —
/// from this server's own machine, or with the bootstrap token `serve` printed. Without an
/// ADMIN's token, a client may create a few profiles a minute.
#[utoipa::path(post, path = "/api/auth/register", request_body = RegisterRequest,
    params(("X-Bootstrap-Token" = Option<String>, Header, description = "the token `serve` printed at start, for the first profile from another machine")),
    responses((status = 201, body = RegisterResponse), (status = 400, body = crate::error::ErrorResponse),
        (status = 401, description = "a token was sent and is not valid", body = crate::error::ErrorResponse),
        (status = 403, description = "this server does not let the caller create profiles", body = crate::error::ErrorResponse),
        (status = 429, description = "too many registrations from this client; see Retry-After", body = crate::error::ErrorResponse)))]
pub async fn register(
    State(state): State<ServerState>,
    ConnectInfo(connection): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    crate::auth::MaybeSession(caller): crate::auth::MaybeSession,
    Body(request): Body<RegisterRequest>,
) -> ApiResult<(StatusCode, axum::Json<RegisterResponse>)> {
    let client = crate::auth::client_address(connection.ip(), &headers, &state.trusted_proxies);
    let by_admin = caller.as_ref().is_some_and(|c| c.role == profiles::Role::Admin);
    if !by_admin {
        let limiter = &state.register_limiter;
        limiter.client(client.into()).and_then(|()| limiter.all()).map_err(|wait| ApiError::rate_limited(format!("too many profiles created from here: wait {wait} s"), wait))?;
        // An empty server's first profile is its ADMIN: only its operator makes it — from the
        // machine itself, or with the token `serve` printed — not the first page to find it.
        if !profiles::any(&state.app).await? && !client.is_loopback() && !bootstrap_token_matches(&state, &headers) {
            return Err(ApiError::new(
                twitcher_core::error::ErrorCode::RegistrationClosed,
                "this server has no profile yet: create the first (ADMIN) profile on its machine, or send the bootstrap token `twitcher serve` printed as X-Bootstrap-Token",
            ));
        }
    }
    let created = profiles::register_as(&state.app, request.name.as_deref(), state.registration, caller.as_ref()).await?;
    let (token, expires_at) = issue(&state, created.profile.id).await?;
    Ok((StatusCode::CREATED, axum::Json(RegisterResponse { uuid: created.uuid.to_string(), token, expires_at, profile: created.profile })))
}

fn bootstrap_token_matches(state: &ServerState, headers: &axum::http::HeaderMap) -> bool {
    use subtle::ConstantTimeEq;
    let (Some(expected), Some(sent)) = (&state.bootstrap_token, headers.get("x-bootstrap-token").and_then(|v| v.to_str().ok())) else {
        return false;
    };
    expected.as_bytes().ct_eq(sent.trim().as_bytes()).into()
}

/// A token for the profile under its current session key.
async fn issue(state: &ServerState, profile_id: i64) -> ApiResult<(String, u64)> {
    let key = profiles::session_key(&state.app, profile_id).await?.ok_or_else(ApiError::unauthorized)?;
    Ok(state.jwt.issue(profile_id, &key))
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
    state.login_limiter.client(client.into()).map_err(ApiError::too_many)?;
    // The cap on everybody is for load: a UUID that exists still signs in under a flood of
    // guesses (issue 30: 620 addresses of one /64 shut the ADMIN out).
    if let Err(wait) = state.login_limiter.all() {
        if !profiles::known(&state.app, &request.uuid).await? {
            return Err(ApiError::too_many(wait));
        }
    }
    let profile = profiles::login_from(&state.app, &request.uuid, profiles::LoginOrigin::Client(client)).await?;
    let (token, expires_at) = issue(&state, profile.id).await?;
    Ok(axum::Json(LoginResponse { token, expires_at }))
}

#[derive(Serialize, ToSchema)]
pub struct LogoutResponse {
    /// Every API session of the profile ended (this one included).
    pub ended: bool,
}

/// Ends every session of the signed-in profile: its tokens, this one included, are refused from
/// now on (sign in again with the UUID). The window and the CLI on the server's machine are not
/// sessions and go on.
#[utoipa::path(post, path = "/api/auth/logout", security(("bearer" = [])),
    responses((status = 200, body = LogoutResponse), (status = 401, body = crate::error::ErrorResponse)))]
pub async fn logout(State(state): State<ServerState>, crate::auth::Session(actor): crate::auth::Session) -> ApiResult<axum::Json<LogoutResponse>> {
    profiles::end_sessions(&state.app, &actor).await?;
    Ok(axum::Json(LogoutResponse { ended: true }))
}
