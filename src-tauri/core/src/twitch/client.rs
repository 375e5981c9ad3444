//! The HTTP layer under every Twitch call: base URLs from [`super::TwitchConfig`], Twitch's
//! error bodies turned into [`TwitchError`], and Helix's rate-limit bucket honoured.
//!
//! Helix answers every request with `Ratelimit-Remaining` and `Ratelimit-Reset` (Unix seconds).
//! The client remembers them: with the bucket empty it waits for the reset instead of sending a
//! request bound to fail, and a 429 (someone else used the bucket) waits for the reset and tries
//! once more. A wait longer than a minute is an error the caller can show.

use std::sync::LazyLock;
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{TwitchConfig, TwitchError};
use crate::registry::RateLimit;
use crate::Twitcher;

const MAX_WAIT: Duration = Duration::from_secs(60);

static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(6))
        .timeout(Duration::from_secs(20))
        .user_agent(concat!("Twitcher/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a TLS backend (rustls) is compiled in")
});

/// Remembers Helix's bucket from a response's headers.
fn observe(limit: &RateLimit, response: &Response) {
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    match (header("ratelimit-remaining"), header("ratelimit-reset")) {
        (Some(remaining), Some(reset_unix)) => limit.observe(remaining, reset_unix),
        // A 429 without the headers: back off a second.
        _ if response.status() == StatusCode::TOO_MANY_REQUESTS => limit.observe(0, now_unix() + 1),
        _ => {}
    }
}

fn now_unix() -> u64 {
    crate::clock::now_unix() as u64
}

/// Twitch's error body: `{"status","message"}` from id.twitch.tv, plus `"error"` from Helix.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    error: String,
}

/// A successful `/oauth2/token`.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: Zeroizing<String>,
    pub refresh_token: Zeroizing<String>,
    pub expires_in: u64,
    #[serde(default)]
    pub scope: Vec<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse").field("expires_in", &self.expires_in).field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// A successful `/oauth2/validate`.
#[derive(Debug, Deserialize)]
pub struct Validation {
    pub login: String,
    pub user_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub expires_in: u64,
}

/// `/oauth2/device`.
#[derive(Deserialize)]
pub struct DeviceResponse {
    pub device_code: Zeroizing<String>,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// One poll of the device code grant.
pub enum Poll {
    Pending,
    SlowDown,
    Granted(TokenResponse),
}

/// Helix wraps every list in `{"data": [...]}`.
#[derive(Deserialize)]
pub struct Data<T> {
    pub data: Vec<T>,
}

pub struct Client<'a> {
    config: &'a TwitchConfig,
    client_id: String,
    limit: &'a RateLimit,
}

impl<'a> Client<'a> {
    pub async fn new(app: &'a Twitcher) -> Result<Client<'a>, TwitchError> {
        let config = &app.options().twitch;
        config.check()?;
        Ok(Client { config, client_id: super::client_id(app).await?, limit: &app.registry.twitch_limit })
    }

    // --- id.twitch.tv ---------------------------------------------------------------------

    pub async fn device_start(&self, scopes: &[&str]) -> Result<DeviceResponse, TwitchError> {
        let form = [("client_id", self.client_id.as_str()), ("scopes", &scopes.join(" "))];
        let response = send(HTTP.post(self.auth("device")).form(&form)).await?;
        parse(response).await
    }

    pub async fn device_poll(&self, device_code: &str, scopes: &[&str]) -> Result<Poll, TwitchError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("scopes", &scopes.join(" ")),
            ("device_code", device_code),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ];
        let response = send(HTTP.post(self.auth("token")).form(&form)).await?;
        match parse::<TokenResponse>(response).await {
            Ok(tokens) => Ok(Poll::Granted(tokens)),
            Err(TwitchError::Api { status: 400, message }) => match message.as_str() {
                "authorization_pending" => Ok(Poll::Pending),
                "slow_down" => Ok(Poll::SlowDown),
                "access_denied" => Err(TwitchError::Denied),
                // RFC 8628 says expired_token; Twitch also answers "invalid device code".
                "expired_token" | "invalid device code" => Err(TwitchError::Expired),
                _ => Err(TwitchError::Api { status: 400, message }),
            },
            Err(e) => Err(e),
        }
    }

    /// A new pair of tokens. Twitch rotates refresh tokens: the one passed in is spent.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, TwitchError> {
        let form = [("client_id", self.client_id.as_str()), ("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        parse(send(HTTP.post(self.auth("token")).form(&form)).await?).await
    }

    pub async fn validate(&self, access_token: &str) -> Result<Validation, TwitchError> {
        let request = HTTP.get(self.auth("validate")).header("Authorization", format!("OAuth {access_token}"));
        parse(send(request).await?).await
    }

    pub async fn revoke(&self, token: &str) -> Result<(), TwitchError> {
        let form = [("client_id", self.client_id.as_str()), ("token", token)];
        check(send(HTTP.post(self.auth("revoke")).form(&form)).await?).await
    }

    fn auth(&self, endpoint: &str) -> String {
        format!("{}/oauth2/{endpoint}", self.config.auth_url)
    }

    // --- Helix ----------------------------------------------------------------------------

    pub async fn get<T: DeserializeOwned>(&self, token: &str, path: &str, query: &[(&str, &str)]) -> Result<T, TwitchError> {
        let request = self.helix(HTTP.get(format!("{}{path}", self.config.api_url)), token).query(query);
        parse(self.send_helix(request).await?).await
    }

    /// The first item of a `{"data": [...]}` list, if any.
    pub async fn get_one<T: DeserializeOwned>(&self, token: &str, path: &str, query: &[(&str, &str)]) -> Result<Option<T>, TwitchError> {
        Ok(self.get::<Data<T>>(token, path, query).await?.data.into_iter().next())
    }

    pub async fn patch(&self, token: &str, path: &str, query: &[(&str, &str)], body: &serde_json::Value) -> Result<(), TwitchError> {
        let request = self.helix(HTTP.patch(format!("{}{path}", self.config.api_url)), token).query(query).json(body);
        check(self.send_helix(request).await?).await
    }

    pub async fn post<T: DeserializeOwned>(&self, token: &str, path: &str, query: &[(&str, &str)], body: &serde_json::Value) -> Result<T, TwitchError> {
        let request = self.helix(HTTP.post(format!("{}{path}", self.config.api_url)), token).query(query).json(body);
        parse(self.send_helix(request).await?).await
    }

    pub async fn delete(&self, token: &str, path: &str, query: &[(&str, &str)]) -> Result<(), TwitchError> {
        let request = self.helix(HTTP.delete(format!("{}{path}", self.config.api_url)), token).query(query);
        check(self.send_helix(request).await?).await
    }

    fn helix(&self, request: RequestBuilder, token: &str) -> RequestBuilder {
        request.header("Client-Id", &self.client_id).header("Authorization", format!("Bearer {token}"))
    }

    async fn send_helix(&self, request: RequestBuilder) -> Result<Response, TwitchError> {
        for attempt in 0..2 {
            let wait = self.limit.wait_needed(now_unix());
            if wait > MAX_WAIT {
                return Err(TwitchError::RateLimited { retry_in_s: wait.as_secs() });
            }
            if !wait.is_zero() {
                tracing::info!(wait_s = wait.as_secs(), "Twitch's rate limit is used up: waiting for its reset");
                tokio::time::sleep(wait).await;
            }
            let response = send(request.try_clone().expect("no streamed bodies")).await?;
            observe(self.limit, &response);
            if response.status() == StatusCode::TOO_MANY_REQUESTS && attempt == 0 {
                continue;
            }
            return Ok(response);
        }
        unreachable!("the second attempt returns")
    }
}

async fn send(request: RequestBuilder) -> Result<Response, TwitchError> {
    request.send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "could not connect".to_string()
        } else {
            e.without_url().to_string()
        };
        TwitchError::Unreachable(what)
    })
}

async fn error_of(response: Response) -> TwitchError {
    let status = response.status();
    let retry = response.headers().get("ratelimit-reset").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let body: Option<ErrorBody> = response.json().await.ok();
    let message = body
        .map(|b| if b.message.is_empty() { b.error } else { b.message })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    match status {
        StatusCode::TOO_MANY_REQUESTS => TwitchError::RateLimited { retry_in_s: retry.map(|r| r.saturating_sub(now_unix())).unwrap_or(1) },
        // Twitch answers a missing scope with a 401 too; refreshing the token would not help.
        StatusCode::UNAUTHORIZED if message.to_ascii_lowercase().contains("missing scope") => TwitchError::MissingScope(message),
        _ => TwitchError::Api { status: status.as_u16(), message: crate::redact::redact(&message).into_owned() },
    }
}

async fn parse<T: DeserializeOwned>(response: Response) -> Result<T, TwitchError> {
    if !response.status().is_success() {
        return Err(error_of(response).await);
    }
    response.json::<T>().await.map_err(|e| TwitchError::Unexpected(e.without_url().to_string()))
}

async fn check(response: Response) -> Result<(), TwitchError> {
    if response.status().is_success() {
        Ok(())
    } else {
        Err(error_of(response).await)
    }
}
