//! Sessions: a UUID logs in once and gets a JWT (HS256, 12 h) whose `sub` is the profile's row
//! id — never the UUID, which is a password — and whose `sid` is the profile's session key: a new
//! key (`POST /api/auth/logout`, `twitcher profile sessions revoke`, a new UUID) ends every token
//! issued before, and a row id that ever went to another profile never takes its tokens. The
//! signing key is made on first start and sealed by the vault like every other secret (a vault
//! rotation replaces it, ending every session). Tokens name this server (`iss`, `aud`) and are
//! refused past their maximum age whatever their `exp` says.
//!
//! Sign-in attempts are limited per client (an IPv4 address, or an IPv6 /64: one host holds a
//! whole /64), on top of the core's throttle for that address, and all together for load — a cap
//! that never refuses a UUID that exists. Behind trusted proxies (`--trust-proxy CIDR`) the client
//! is the first address, from the right of `X-Forwarded-For`, that is not a trusted proxy.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ipnet::IpNet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use twitcher_core::profiles::Profile;
use twitcher_core::Twitcher;

use crate::error::ApiError;
use crate::ServerState;

/// The vault's name for the signing key.
pub const SECRET_NAME: &str = "api.jwt_hs256";
/// Who issues the tokens and who they are for: a token of another service that happened to share
/// the key is still refused.
const ISSUER: &str = "twitcher-serve";
const AUDIENCE: &str = "twitcher-api";

#[derive(Serialize, Deserialize)]
struct Claims {
    /// The profile's row id.
    sub: String,
    /// The profile's session key when the token was issued.
    sid: String,
    iat: u64,
    exp: u64,
    iss: String,
    aud: String,
}

pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

/// What a valid token says.
pub struct Verified {
    pub profile_id: i64,
    pub session_key: String,
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

impl Jwt {
    pub async fn load(app: &Twitcher, ttl: Duration) -> Result<Self, twitcher_core::vault::VaultError> {
        let secret = app.named_secret(SECRET_NAME, 32).await?;
        Ok(Self { encoding: EncodingKey::from_secret(&secret), decoding: DecodingKey::from_secret(&secret), ttl })
    }

    /// A token for the profile under its current session key, and when it expires (Unix seconds).
    pub fn issue(&self, profile_id: i64, session_key: &str) -> (String, u64) {
        let iat = now_unix();
        let exp = iat + self.ttl.as_secs();
        let claims = Claims { sub: profile_id.to_string(), sid: session_key.to_string(), iat, exp, iss: ISSUER.into(), aud: AUDIENCE.into() };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing cannot fail");
        (token, exp)
    }

    /// What a valid token signed by this server says: unexpired, for this API, and issued no
    /// longer ago than a token lives (a token minted with a far `exp` is refused all the same).
    pub fn verify(&self, token: &str) -> Option<Verified> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?.claims;
        let now = now_unix();
        if claims.iat > now + 60 || now.saturating_sub(claims.iat) > self.ttl.as_secs() {
            return None;
        }
        Some(Verified { profile_id: claims.sub.parse().ok()?, session_key: claims.sid })
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
        let token = state.jwt.verify(token.trim()).ok_or_else(ApiError::unauthorized)?;
        // A token outliving its profile, or its session (signed out, a new UUID), is no longer good.
        let key = twitcher_core::profiles::session_key(&state.app, token.profile_id).await?;
        if key.as_deref() != Some(token.session_key.as_str()) {
            return Err(ApiError::unauthorized());
        }
        let profile = twitcher_core::profiles::by_id(&state.app, token.profile_id).await?.ok_or_else(ApiError::unauthorized)?;
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

/// Attempts per client in a minute, and a cap on all clients together. Counted in two fixed
/// one-minute windows (this one and the last, weighted by how much of the last still overlaps a
/// sliding minute), so forgetting quiet clients is dropping the older window once a minute — no
/// scan of every address on the request path.
pub struct RateLimiter {
    per_minute: u32,
    all_per_minute: u32,
    windows: Mutex<Windows>,
}

struct Windows {
    started: Instant,
    current: HashMap<Client, u32>,
    previous: HashMap<Client, u32>,
    all_current: u32,
    all_previous: u32,
}

const MINUTE: Duration = Duration::from_secs(60);

/// Whom a limit counts: an IPv4 address, or the /64 of an IPv6 address (the smallest block a
/// site is given; one host may hold all of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    V4(std::net::Ipv4Addr),
    V6Net(u64),
}

impl From<IpAddr> for Client {
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Client::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4),
                None => Client::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

impl Windows {
    fn roll(&mut self, now: Instant) {
        let age = now.duration_since(self.started);
        if age < MINUTE {
            return;
        }
        if age < 2 * MINUTE {
            self.previous = std::mem::take(&mut self.current);
            self.all_previous = std::mem::take(&mut self.all_current);
            self.started += MINUTE;
        } else {
            self.previous.clear();
            self.current.clear();
            (self.all_previous, self.all_current) = (0, 0);
            self.started = now;
        }
    }

    /// The sliding minute's estimate from the two windows.
    fn estimate(&self, current: u32, previous: u32, now: Instant) -> f64 {
        let into = now.duration_since(self.started).as_secs_f64() / MINUTE.as_secs_f64();
        current as f64 + previous as f64 * (1.0 - into).max(0.0)
    }

    fn retry_after(&self, now: Instant) -> u64 {
        MINUTE.saturating_sub(now.duration_since(self.started)).as_secs().max(1)
    }
}

impl RateLimiter {
    pub fn new(per_minute: usize, all_per_minute: usize) -> Self {
        let windows = Windows { started: Instant::now(), current: HashMap::new(), previous: HashMap::new(), all_current: 0, all_previous: 0 };
        Self { per_minute: per_minute as u32, all_per_minute: all_per_minute as u32, windows: Mutex::new(windows) }
    }

    /// Counts an attempt of `client`; `Err(seconds)` when it must wait.
    pub fn client(&self, client: Client) -> Result<(), u64> {
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        w.roll(now);
        let (current, previous) = (w.current.get(&client).copied().unwrap_or(0), w.previous.get(&client).copied().unwrap_or(0));
        if w.estimate(current, previous, now) >= self.per_minute as f64 {
            return Err(w.retry_after(now));
        }
        *w.current.entry(client).or_default() += 1;
        Ok(())
    }

    /// Counts an attempt against the cap on all clients; `Err(seconds)` when it is reached.
    pub fn all(&self) -> Result<(), u64> {
        let now = Instant::now();
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        w.roll(now);
        if w.estimate(w.all_current, w.all_previous, now) >= self.all_per_minute as f64 {
            return Err(w.retry_after(now));
        }
        w.all_current += 1;
        Ok(())
    }

    /// How many clients the limiter holds now (both windows).
    pub fn clients_held(&self) -> usize {
        let w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        w.current.len() + w.previous.len()
    }
}

/// A token that lets its holder create an empty server's first (ADMIN) profile from another
/// machine: 128 random bits, as hex.
pub fn new_bootstrap_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Parses `--trust-proxy`: a CIDR block (`10.0.0.0/8`, `fd00::/8`) or one address.
pub fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("'{text}' is not an address or a CIDR block (like 10.0.0.2 or 10.0.0.0/8)"))
}

/// One `X-Forwarded-For` entry: `IP`, `IP:port`, `[IPv6]` or `[IPv6]:port`.
fn forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok())) {
            return None;
        }
        return ip.parse().ok();
    }
    entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

/// The address a request comes from: the connection's, unless it is a trusted proxy; then the
/// entries of `X-Forwarded-For` from the right, past every trusted proxy, to the first address
/// that is not one. An entry that cannot be read stops the walk at the connection's address:
/// what comes before it may be anything a client wrote.
pub fn client_address(connection: IpAddr, headers: &axum::http::HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&connection) {
        return connection;
    }
    let entries: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).collect();
    let mut address = connection;
    for entry in entries.iter().rev() {
        match forwarded_entry(entry) {
            Some(ip) => address = ip,
            None => return connection,
        }
        if !trusted(&address) {
            return address;
        }
    }
    address
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_proxys_forwarded_address_counts() {
        let proxy = parse_proxy("10.0.0.2").unwrap();
        let headers = forwarded(&["1.2.3.4, 198.51.100.7"]);
        assert_eq!(client_address(ip("10.0.0.2"), &headers, &[proxy]), ip("198.51.100.7"));
        assert_eq!(client_address(ip("203.0.113.9"), &headers, &[proxy]), ip("203.0.113.9"));
        assert_eq!(client_address(ip("10.0.0.2"), &axum::http::HeaderMap::new(), &[proxy]), ip("10.0.0.2"));
    }

    /// Issue 30: a proxy that appends `IP:port` made the client's own forged entry (the last
    /// one that parsed as a bare address) count.
    #[test]
    fn entries_with_ports_and_brackets_are_read_and_a_forged_earlier_entry_never_counts() {
        let proxy = [parse_proxy("10.0.0.0/8").unwrap()];
        let from = |h: &[&str]| client_address(ip("10.0.0.2"), &forwarded(h), &proxy);
        assert_eq!(from(&["203.0.113.66, 198.51.100.7:51234"]), ip("198.51.100.7"));
        assert_eq!(from(&["203.0.113.66, [2001:db8::7]:443"]), ip("2001:db8::7"));
        assert_eq!(from(&["[2001:db8::8]"]), ip("2001:db8::8"));
        // Past two trusted hops (a load balancer, then the proxy), in one header or several.
        assert_eq!(from(&["203.0.113.66, 198.51.100.7, 10.1.1.1:80"]), ip("198.51.100.7"));
        assert_eq!(from(&["203.0.113.66, 198.51.100.7", "10.1.1.1"]), ip("198.51.100.7"));
        // What cannot be read ends the walk at the connection, never at an earlier entry.
        assert_eq!(from(&["198.51.100.9, unknown"]), ip("10.0.0.2"));
        assert_eq!(from(&["198.51.100.9, [::1]:port"]), ip("10.0.0.2"));
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_ipv4_per_address() {
        assert_eq!(Client::from(ip("2001:db8:1:2::1")), Client::from(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(Client::from(ip("2001:db8:1:2::1")), Client::from(ip("2001:db8:1:3::1")));
        assert_ne!(Client::from(ip("192.0.2.1")), Client::from(ip("192.0.2.2")));
        assert_eq!(Client::from(ip("::ffff:192.0.2.1")), Client::from(ip("192.0.2.1")));
    }

    #[test]
    fn a_client_over_its_limit_waits_and_others_do_not() {
        let limiter = RateLimiter::new(3, 1000);
        let a = Client::from(ip("192.0.2.1"));
        for _ in 0..3 {
            limiter.client(a).unwrap();
        }
        let wait = limiter.client(a).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        limiter.client(Client::from(ip("192.0.2.2"))).unwrap();
        assert_eq!(limiter.clients_held(), 2);
    }
}
