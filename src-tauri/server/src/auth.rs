//! Sessions: a UUID logs in once and gets a JWT (HS256, 12 h) whose `sub` is the profile's row
//! id — never the UUID, which is a password. The signing key is made on first start and sealed
//! by the vault like every other secret. Sign-in attempts are limited per client address (behind
//! a trusted proxy, the address it forwards), on top of the core's throttle for that address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use twitcher_core::profiles::Profile;
use twitcher_core::Twitcher;

use crate::error::ApiError;
use crate::ServerState;

const SECRET_NAME: &str = "api.jwt_hs256";

#[derive(Serialize, Deserialize)]
struct Claims {
    /// The profile's row id.
    sub: String,
    iat: u64,
    exp: u64,
}

pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

impl Jwt {
    pub async fn load(app: &Twitcher, ttl: Duration) -> Result<Self, twitcher_core::vault::VaultError> {
        let secret = app.named_secret(SECRET_NAME, 32).await?;
        Ok(Self { encoding: EncodingKey::from_secret(&secret), decoding: DecodingKey::from_secret(&secret), ttl })
    }

    /// A token for the profile, and when it expires (Unix seconds).
    pub fn issue(&self, profile_id: i64) -> (String, u64) {
        let iat = now_unix();
        let exp = iat + self.ttl.as_secs();
        let claims = Claims { sub: profile_id.to_string(), iat, exp };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing cannot fail");
        (token, exp)
    }

    /// The profile id of a valid, unexpired token signed by this server.
    pub fn verify(&self, token: &str) -> Option<i64> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?.claims.sub.parse().ok()
    }
}

/// The signed-in profile of a request; 401 without a valid token.
pub struct Session(pub Profile);

impl FromRequestParts<ServerState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ServerState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        let id = state.jwt.verify(token.trim()).ok_or_else(ApiError::unauthorized)?;
        // A token outliving its profile is no longer good.
        let profile = twitcher_core::profiles::by_id(&state.app, id).await?.ok_or_else(ApiError::unauthorized)?;
        Ok(Session(profile))
    }
}

/// The signed-in profile when the request sends a token (an invalid one is still a 401); `None`
/// without one.
pub struct MaybeSession(pub Option<Profile>);

impl FromRequestParts<ServerState> for MaybeSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ServerState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(axum::http::header::AUTHORIZATION) {
            return Ok(MaybeSession(None));
        }
        Session::from_request_parts(parts, state).await.map(|Session(p)| MaybeSession(Some(p)))
    }
}

/// Sign-in attempts per client address in a sliding minute, and a cap on all of them together
/// (far above one client's reach: a last resort against many addresses at once).
pub struct LoginLimiter {
    per_minute: usize,
    all_per_minute: usize,
    seen: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    all: Mutex<VecDeque<Instant>>,
}

const MINUTE: Duration = Duration::from_secs(60);

/// Counts `now` in a sliding minute of at most `limit`; `Err(seconds)` to wait when full.
fn count(times: &mut VecDeque<Instant>, limit: usize, now: Instant) -> Result<(), u64> {
    while times.front().is_some_and(|t| now.duration_since(*t) >= MINUTE) {
        times.pop_front();
    }
    if times.len() >= limit {
        let oldest = *times.front().expect("full");
        return Err(60u64.saturating_sub(now.duration_since(oldest).as_secs()).max(1));
    }
    times.push_back(now);
    Ok(())
}

impl LoginLimiter {
    pub fn new(per_minute: usize, all_per_minute: usize) -> Self {
        Self { per_minute, all_per_minute, seen: Mutex::default(), all: Mutex::default() }
    }

    /// Counts an attempt; `Err(seconds)` when the address must wait.
    pub fn attempt(&self, address: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            // Forget quiet addresses so the map cannot grow without bound.
            seen.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < MINUTE));
            count(seen.entry(address).or_default(), self.per_minute, now)?;
        }
        let mut all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        count(&mut all, self.all_per_minute, now).inspect_err(|_| tracing::warn!("sign-in attempts from all clients reached the global cap"))
    }
}

/// The address a request comes from: the connection's, or — when the connection comes from a
/// trusted reverse proxy — the last address that proxy added to `X-Forwarded-For` (what a client
/// put there itself comes before it and counts for nothing).
pub fn client_address(connection: IpAddr, headers: &axum::http::HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    if !trusted_proxies.contains(&connection) {
        return connection;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .last()
        .unwrap_or(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_proxys_forwarded_address_counts() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.append("x-forwarded-for", "1.2.3.4, 198.51.100.7".parse().unwrap());
        assert_eq!(client_address(proxy, &headers, &[proxy]), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(client_address("203.0.113.9".parse().unwrap(), &headers, &[proxy]), "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(client_address(proxy, &axum::http::HeaderMap::new(), &[proxy]), proxy);
    }
}
