//! A fake Twitch: the OAuth endpoints of `id.twitch.tv` (device code grant, refresh, validate,
//! revoke) and the Helix endpoints Twitcher calls, answering with the shapes, status codes and
//! headers Twitch documents (dev.twitch.tv/docs/authentication, dev.twitch.tv/docs/api/reference).
//! Started on port 0 by tests; the `fake-twitch` binary serves it to the end-to-end tests.
//!
//! Behaviours a test can turn on: approve or deny a device code, answer `slow_down`, expire
//! device codes, invalidate access tokens (a 401, refresh works) or the whole grant (refresh
//! fails too), and drain the rate-limit bucket (a 429 until `Ratelimit-Reset`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "twitcher-test-client";

/// A Twitch user of the fake, with their channel.
#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: String,
    pub login: String,
    pub display_name: String,
    pub profile_image_url: String,
    pub stream_key: String,
    pub followers: u64,
    pub live: Option<FakeLive>,
    /// The scopes the user grants, when not every one asked for (a user can't decline single
    /// scopes on Twitch, but an older grant may lack a newer scope).
    pub grants: Option<Vec<String>>,
}

impl FakeUser {
    pub fn new(id: &str, login: &str, stream_key: &str) -> Self {
        Self {
            id: id.into(),
            login: login.into(),
            display_name: login.to_uppercase(),
            profile_image_url: format!("https://static-cdn.jtvnw.net/jtv_user_pictures/{login}-profile_image-300x300.png"),
            stream_key: stream_key.into(),
            followers: 0,
            live: None,
            grants: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FakeLive {
    pub title: String,
    pub game_name: String,
    pub viewer_count: u64,
}

/// A segment of a channel's schedule, as `POST /schedule/segment` made it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeSegment {
    pub id: String,
    pub start_time: String,
    pub timezone: String,
    pub duration_min: i64,
    pub is_recurring: bool,
    pub title: String,
    pub category_id: Option<String>,
}

/// A channel's settings as `PATCH /channels` leaves them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FakeChannel {
    pub title: String,
    pub game_id: String,
    pub tags: Vec<String>,
}

/// One request the fake received, for assertions (form bodies decoded).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub form: HashMap<String, String>,
    pub authorization: Option<String>,
    pub client_id: Option<String>,
    pub body: String,
    pub at: Instant,
}

struct Device {
    user_code: String,
    scopes: Vec<String>,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    approved_by: Option<String>,
    denied: bool,
}

struct Token {
    user_id: String,
    scopes: Vec<String>,
    expires: Instant,
}

#[derive(Default)]
struct State {
    base: String,
    users: Vec<FakeUser>,
    channels: HashMap<String, FakeChannel>,
    /// Stream markers made, in order: (user id, description).
    markers: Vec<(String, String)>,
    /// Schedule segments, by broadcaster.
    segments: HashMap<String, Vec<FakeSegment>>,
    categories: Vec<(String, String)>,
    devices: HashMap<String, Device>,
    access: HashMap<String, Token>,
    refresh: HashMap<String, Token>,
    auto_approve: Option<String>,
    slow_downs: u32,
    interval_secs: u64,
    device_expires_secs: u64,
    token_ttl_secs: u64,
    bucket_limit: u32,
    bucket_remaining: u32,
    bucket_reset: u64,
    seen: Vec<Seen>,
    issued: Vec<String>,
    counter: u64,
}

impl State {
    fn next_token(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        format!("{prefix}{:08x}{:06x}{}", nanos, self.counter, "q7z3k9m2w8x4")
    }

    fn user(&self, id: &str) -> Option<&FakeUser> {
        self.users.iter().find(|u| u.id == id)
    }

    fn issue_tokens(&mut self, user_id: &str, scopes: Vec<String>) -> Value {
        let access = self.next_token("fakeat");
        let refresh = self.next_token("fakert");
        self.issued.extend([access.clone(), refresh.clone()]);
        let ttl = Duration::from_secs(self.token_ttl_secs);
        self.access.insert(access.clone(), Token { user_id: user_id.into(), scopes: scopes.clone(), expires: Instant::now() + ttl });
        self.refresh.insert(refresh.clone(), Token { user_id: user_id.into(), scopes: scopes.clone(), expires: Instant::now() + Duration::from_secs(365 * 86400) });
        json!({
            "access_token": access,
            "expires_in": self.token_ttl_secs,
            "refresh_token": refresh,
            "scope": scopes,
            "token_type": "bearer",
        })
    }
}

/// The running fake; stopped on drop.
pub struct FakeTwitch {
    /// Stands for `https://id.twitch.tv` (`TWITCHER_TWITCH_AUTH_URL`).
    pub auth_url: String,
    /// Stands for `https://api.twitch.tv/helix` (`TWITCHER_TWITCH_API_URL`).
    pub api_url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeTwitch {
    /// Starts on a free loopback port: device codes poll every second and live 30 minutes,
    /// access tokens live 4 hours, the rate-limit bucket holds 800 points.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    pub fn start_on(port: u16) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the fake Twitch");
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            base: base.clone(),
            interval_secs: 1,
            device_expires_secs: 1800,
            token_ttl_secs: 4 * 3600,
            bucket_limit: 800,
            bucket_remaining: 800,
            bucket_reset: now_unix() + 60,
            categories: vec![
                ("509658".into(), "Just Chatting".into()),
                ("509660".into(), "Art".into()),
                ("26936".into(), "Music".into()),
                ("1469308723".into(), "Software and Game Development".into()),
            ],
            ..State::default()
        }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                    let state = shared.clone();
                    async move { handle(&state, method, uri, headers, body) }
                });
                let _ = axum::serve(listener, app).with_graceful_shutdown(async { let _ = rx.await; }).await;
            });
        });
        Self { auth_url: base.clone(), api_url: format!("{base}/helix"), state, shutdown: Some(tx), thread: Some(thread) }
    }

    pub fn add_user(&self, user: FakeUser) {
        let mut s = self.state.lock().unwrap();
        s.channels.insert(user.id.clone(), FakeChannel { title: "first stream".into(), game_id: "509658".into(), tags: vec![] });
        s.users.push(user);
    }

    pub fn set_live(&self, user_id: &str, live: Option<FakeLive>) {
        let mut s = self.state.lock().unwrap();
        if let Some(u) = s.users.iter_mut().find(|u| u.id == user_id) {
            u.live = live;
        }
    }

    /// The user codes waiting for approval.
    pub fn pending_user_codes(&self) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.devices.values().filter(|d| d.approved_by.is_none() && !d.denied).map(|d| d.user_code.clone()).collect()
    }

    /// The user approves the code on twitch.tv/activate.
    pub fn approve(&self, user_code: &str, user_id: &str) {
        let mut s = self.state.lock().unwrap();
        let device = s.devices.values_mut().find(|d| d.user_code == user_code).expect("no such user code");
        device.approved_by = Some(user_id.to_string());
    }

    pub fn deny(&self, user_code: &str) {
        let mut s = self.state.lock().unwrap();
        s.devices.values_mut().filter(|d| d.user_code == user_code).for_each(|d| d.denied = true);
    }

    /// Every device code is approved by `user_id` once it is polled.
    pub fn auto_approve(&self, user_id: &str) {
        self.state.lock().unwrap().auto_approve = Some(user_id.to_string());
    }

    /// The next `n` polls are answered `slow_down` (and the interval grows by 5 s, RFC 8628).
    pub fn slow_down_next(&self, n: u32) {
        self.state.lock().unwrap().slow_downs = n;
    }

    /// Device codes issued from now on expire after `secs`.
    pub fn set_device_expiry(&self, secs: u64) {
        self.state.lock().unwrap().device_expires_secs = secs;
    }

    /// Access tokens issued from now on live `secs`.
    pub fn set_token_ttl(&self, secs: u64) {
        self.state.lock().unwrap().token_ttl_secs = secs;
    }

    /// Every access token stops working (as when it expires early); refresh tokens still work.
    pub fn expire_access_tokens(&self) {
        self.state.lock().unwrap().access.clear();
    }

    /// The user disconnects the app on twitch.tv: access and refresh tokens stop working.
    pub fn revoke_grant(&self, user_id: &str) {
        let mut s = self.state.lock().unwrap();
        s.access.retain(|_, t| t.user_id != user_id);
        s.refresh.retain(|_, t| t.user_id != user_id);
    }

    /// Empties the bucket: Helix answers 429 until `reset_in` has passed.
    pub fn drain_rate_limit(&self, reset_in: Duration) {
        let mut s = self.state.lock().unwrap();
        s.bucket_remaining = 0;
        s.bucket_reset = now_unix() + reset_in.as_secs().max(1);
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Every access and refresh token and device code handed out, for "no secret leaked" checks.
    pub fn issued_secrets(&self) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.issued.clone()
    }

    /// A channel's schedule segments.
    pub fn schedule(&self, user_id: &str) -> Vec<FakeSegment> {
        self.state.lock().unwrap().segments.get(user_id).cloned().unwrap_or_default()
    }

    /// The stream markers made so far: (user id, description).
    pub fn markers(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().markers.clone()
    }

    pub fn channel(&self, user_id: &str) -> FakeChannel {
        self.state.lock().unwrap().channels.get(user_id).cloned().unwrap_or_default()
    }

    /// How many access tokens and refresh tokens currently work.
    pub fn live_tokens(&self) -> (usize, usize) {
        let s = self.state.lock().unwrap();
        (s.access.len(), s.refresh.len())
    }
}

impl Drop for FakeTwitch {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn decode(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes()).into_owned().collect()
}

/// `{"status":N,"message":M}`, the shape of id.twitch.tv's errors.
fn oauth_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "status": status.as_u16(), "message": message }))).into_response()
}

/// `{"error":E,"status":N,"message":M}`, the shape of Helix's errors.
fn helix_error(status: StatusCode, message: &str) -> Response {
    let error = status.canonical_reason().unwrap_or("Error");
    (status, axum::Json(json!({ "error": error, "status": status.as_u16(), "message": message }))).into_response()
}

fn handle(state: &Mutex<State>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = state.lock().unwrap();
    let text = String::from_utf8_lossy(&body).into_owned();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let is_form = header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: decode(uri.query().unwrap_or("")),
        form: if is_form { decode(&text) } else { HashMap::new() },
        authorization: header("authorization"),
        client_id: header("client-id"),
        body: text,
        at: Instant::now(),
    };
    s.seen.push(seen.clone());
    let path = uri.path();
    if let Some(helix) = path.strip_prefix("/helix") {
        return helix_route(&mut s, &method, helix, &seen);
    }
    match (method.as_str(), path) {
        ("POST", "/oauth2/device") => device(&mut s, &seen),
        ("POST", "/oauth2/token") => token(&mut s, &seen),
        ("GET", "/oauth2/validate") => validate(&s, &seen),
        ("POST", "/oauth2/revoke") => revoke(&mut s, &seen),
        ("GET", "/activate") => (StatusCode::OK, "Enter the code shown by the app to connect it to your Twitch account.").into_response(),
        _ => oauth_error(StatusCode::NOT_FOUND, "page not found"),
    }
}

fn device(s: &mut State, seen: &Seen) -> Response {
    if seen.form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid client");
    }
    let scopes: Vec<String> = seen.form.get("scopes").map(|s| s.split(' ').filter(|x| !x.is_empty()).map(str::to_string).collect()).unwrap_or_default();
    let device_code = s.next_token("fakedc");
    s.issued.push(device_code.clone());
    s.counter += 1;
    let user_code: String = format!("{:08}", s.counter * 7919 % 100_000_000)
        .bytes()
        .map(|b| (b'A' + (b - b'0') * 2) as char)
        .collect();
    let interval = Duration::from_secs(s.interval_secs);
    let expires = Duration::from_secs(s.device_expires_secs);
    s.devices.insert(
        device_code.clone(),
        Device { user_code: user_code.clone(), scopes, expires: Instant::now() + expires, interval, last_poll: None, approved_by: None, denied: false },
    );
    axum::Json(json!({
        "device_code": device_code,
        "expires_in": expires.as_secs(),
        "interval": interval.as_secs(),
        "user_code": user_code,
        "verification_uri": format!("{}/activate?public=true&device-code={user_code}", s.base),
    }))
    .into_response()
}

fn token(s: &mut State, seen: &Seen) -> Response {
    let form = &seen.form;
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid client");
    }
    match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let code = form.get("device_code").cloned().unwrap_or_default();
            let auto = s.auto_approve.clone();
            let slow = s.slow_downs > 0;
            let Some(device) = s.devices.get_mut(&code) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid device code");
            };
            if Instant::now() >= device.expires {
                return oauth_error(StatusCode::BAD_REQUEST, "expired_token");
            }
            let too_soon = device.last_poll.is_some_and(|at| at.elapsed() + Duration::from_millis(200) < device.interval);
            device.last_poll = Some(Instant::now());
            if slow || too_soon {
                device.interval += Duration::from_secs(5);
                if slow {
                    s.slow_downs -= 1;
                }
                return oauth_error(StatusCode::BAD_REQUEST, "slow_down");
            }
            if device.denied {
                return oauth_error(StatusCode::BAD_REQUEST, "access_denied");
            }
            if device.approved_by.is_none() {
                if let Some(user) = auto {
                    device.approved_by = Some(user);
                }
                return oauth_error(StatusCode::BAD_REQUEST, "authorization_pending");
            }
            let device = s.devices.remove(&code).unwrap();
            let user_id = device.approved_by.unwrap();
            let scopes = match s.user(&user_id).and_then(|u| u.grants.clone()) {
                Some(granted) => device.scopes.into_iter().filter(|x| granted.contains(x)).collect(),
                None => device.scopes,
            };
            axum::Json(s.issue_tokens(&user_id, scopes)).into_response()
        }
        Some("refresh_token") => {
            if form.contains_key("client_secret") {
                // A public client has no secret; Twitch refuses one it does not know.
                return oauth_error(StatusCode::BAD_REQUEST, "invalid client secret");
            }
            let refresh = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(old) = s.refresh.remove(&refresh) else {
                return oauth_error(StatusCode::BAD_REQUEST, "Invalid refresh token");
            };
            axum::Json(s.issue_tokens(&old.user_id, old.scopes)).into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported grant type"),
    }
}

fn bearer<'a>(s: &'a State, seen: &Seen, scheme: &str) -> Option<&'a Token> {
    let token = seen.authorization.as_deref()?.strip_prefix(scheme)?.trim();
    s.access.get(token).filter(|t| Instant::now() < t.expires)
}

fn validate(s: &State, seen: &Seen) -> Response {
    let Some(token) = bearer(s, seen, "OAuth ") else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid access token");
    };
    let login = s.user(&token.user_id).map(|u| u.login.clone()).unwrap_or_default();
    axum::Json(json!({
        "client_id": CLIENT_ID,
        "login": login,
        "scopes": token.scopes,
        "user_id": token.user_id,
        "expires_in": token.expires.saturating_duration_since(Instant::now()).as_secs(),
    }))
    .into_response()
}

fn revoke(s: &mut State, seen: &Seen) -> Response {
    if seen.form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid client");
    }
    let token = seen.form.get("token").cloned().unwrap_or_default();
    let user = s.access.remove(&token).or_else(|| s.refresh.remove(&token));
    match user {
        Some(t) => {
            // Revoking either token ends the grant.
            s.access.retain(|_, x| x.user_id != t.user_id);
            s.refresh.retain(|_, x| x.user_id != t.user_id);
            StatusCode::OK.into_response()
        }
        None => oauth_error(StatusCode::BAD_REQUEST, "Invalid token"),
    }
}

fn with_rate_headers(s: &State, mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(s.bucket_limit));
    h.insert("ratelimit-remaining", HeaderValue::from(s.bucket_remaining));
    h.insert("ratelimit-reset", HeaderValue::from(s.bucket_reset));
    response
}

fn helix_route(s: &mut State, method: &Method, path: &str, seen: &Seen) -> Response {
    let now = now_unix();
    if now >= s.bucket_reset {
        s.bucket_remaining = s.bucket_limit;
        s.bucket_reset = now + 60;
    }
    if s.bucket_remaining == 0 {
        return with_rate_headers(s, helix_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"));
    }
    s.bucket_remaining -= 1;
    let response = helix(s, method, path, seen);
    with_rate_headers(s, response)
}

fn helix(s: &mut State, method: &Method, path: &str, seen: &Seen) -> Response {
    if seen.client_id.as_deref() != Some(CLIENT_ID) {
        return helix_error(StatusCode::UNAUTHORIZED, "Client ID and OAuth token do not match");
    }
    let Some(token) = bearer(s, seen, "Bearer ") else {
        return helix_error(StatusCode::UNAUTHORIZED, "Invalid OAuth token");
    };
    let (caller, scopes) = (token.user_id.clone(), token.scopes.clone());
    let q = |name: &str| seen.query.get(name).cloned().unwrap_or_default();
    let user_json = |u: &FakeUser| {
        json!({
            "id": u.id, "login": u.login, "display_name": u.display_name, "type": "",
            "broadcaster_type": "affiliate", "description": "", "profile_image_url": u.profile_image_url,
            "offline_image_url": "", "view_count": 0, "created_at": "2019-11-18T00:47:34Z",
        })
    };
    match (method.as_str(), path) {
        ("GET", "/users") => {
            let wanted = seen.query.get("id").cloned().or_else(|| seen.query.get("login").cloned());
            let data: Vec<Value> = s
                .users
                .iter()
                .filter(|u| match &wanted {
                    None => u.id == caller,
                    Some(w) => &u.id == w || &u.login == w,
                })
                .map(user_json)
                .collect();
            axum::Json(json!({ "data": data })).into_response()
        }
        ("GET", "/channels/followers") => match s.user(&q("broadcaster_id")) {
            Some(u) => axum::Json(json!({ "total": u.followers, "data": [], "pagination": {} })).into_response(),
            None => helix_error(StatusCode::BAD_REQUEST, "Invalid broadcaster_id"),
        },
        ("GET", "/streams") => {
            let data: Vec<Value> = s
                .users
                .iter()
                .filter(|u| u.id == q("user_id"))
                .filter_map(|u| u.live.as_ref().map(|l| (u, l)))
                .map(|(u, l)| {
                    json!({
                        "id": format!("4{}", u.id), "user_id": u.id, "user_login": u.login, "user_name": u.display_name,
                        "game_id": "509658", "game_name": l.game_name, "type": "live", "title": l.title, "tags": [],
                        "viewer_count": l.viewer_count, "started_at": "2026-11-26T10:00:00Z", "language": "en",
                        "thumbnail_url": "", "tag_ids": [], "is_mature": false,
                    })
                })
                .collect();
            axum::Json(json!({ "data": data, "pagination": {} })).into_response()
        }
        ("GET", "/streams/key") => {
            if !scopes.iter().any(|x| x == "channel:read:stream_key") {
                return helix_error(StatusCode::UNAUTHORIZED, "Missing scope: channel:read:stream_key");
            }
            if q("broadcaster_id") != caller {
                return helix_error(StatusCode::FORBIDDEN, "The ID in broadcaster_id must match the user ID found in the request's OAuth token.");
            }
            let key = s.user(&caller).map(|u| u.stream_key.clone()).unwrap_or_default();
            axum::Json(json!({ "data": [{ "stream_key": key }] })).into_response()
        }
        ("GET", "/channels") => {
            let id = q("broadcaster_id");
            let (Some(u), Some(c)) = (s.user(&id), s.channels.get(&id)) else {
                return axum::Json(json!({ "data": [] })).into_response();
            };
            let game_name = s.categories.iter().find(|(gid, _)| *gid == c.game_id).map(|(_, n)| n.clone()).unwrap_or_default();
            axum::Json(json!({ "data": [{
                "broadcaster_id": u.id, "broadcaster_login": u.login, "broadcaster_name": u.display_name,
                "broadcaster_language": "en", "game_id": c.game_id, "game_name": game_name, "title": c.title,
                "delay": 0, "tags": c.tags, "content_classification_labels": [], "is_branded_content": false,
            }]}))
            .into_response()
        }
        ("PATCH", "/channels") => patch_channel(s, &caller, &scopes, &q("broadcaster_id"), &seen.body),
        ("POST", "/streams/markers") => create_marker(s, &caller, &scopes, &seen.body),
        ("POST", "/schedule/segment") => create_segment(s, &caller, &scopes, &q("broadcaster_id"), &seen.body),
        ("DELETE", "/schedule/segment") => {
            if !scopes.iter().any(|x| x == "channel:manage:schedule") {
                return helix_error(StatusCode::UNAUTHORIZED, "Missing scope: channel:manage:schedule");
            }
            if q("broadcaster_id") != caller {
                return helix_error(StatusCode::FORBIDDEN, "The ID in broadcaster_id must match the user ID found in the request's OAuth token.");
            }
            let segments = s.segments.entry(caller.clone()).or_default();
            let before = segments.len();
            segments.retain(|seg| seg.id != q("id"));
            if segments.len() == before {
                return helix_error(StatusCode::NOT_FOUND, "The specified segment was not found.");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", "/search/categories") => {
            let query = q("query").to_lowercase();
            if query.is_empty() {
                return helix_error(StatusCode::BAD_REQUEST, "Missing required parameter \"query\"");
            }
            let data: Vec<Value> = s
                .categories
                .iter()
                .filter(|(_, name)| name.to_lowercase().contains(&query))
                .map(|(id, name)| json!({ "id": id, "name": name, "box_art_url": "" }))
                .collect();
            axum::Json(json!({ "data": data, "pagination": {} })).into_response()
        }
        _ => helix_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `POST /helix/streams/markers` as documented: the `channel:manage:broadcast` scope, `user_id` the
/// token's user (or one it edits for), a description of at most 140 characters; answers the
/// marker with its position in the broadcast. (Twitch also answers 404 when the user is not
/// live; this fake cannot see the RTMP side, so it does not.)
fn create_marker(s: &mut State, caller: &str, scopes: &[String], body: &str) -> Response {
    if !scopes.iter().any(|x| x == "channel:manage:broadcast") {
        return helix_error(StatusCode::UNAUTHORIZED, "Missing scope: channel:manage:broadcast");
    }
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        return helix_error(StatusCode::BAD_REQUEST, "The request body is not valid JSON.");
    };
    let user = body["user_id"].as_str().unwrap_or_default();
    if user != caller {
        return helix_error(StatusCode::FORBIDDEN, "The user in user_id is not one of the broadcaster's editors.");
    }
    let description = body["description"].as_str().unwrap_or_default();
    if description.chars().count() > 140 {
        return helix_error(StatusCode::BAD_REQUEST, "The description field may not exceed 140 characters.");
    }
    s.markers.push((user.to_string(), description.to_string()));
    let id = s.markers.len();
    axum::Json(json!({ "data": [{ "id": id.to_string(), "created_at": "2026-11-29T21:00:00Z", "description": description, "position_seconds": 0 }] }))
        .into_response()
}

/// `POST /helix/schedule/segment` as documented: the `channel:manage:schedule` scope, the token's
/// own channel, `start_time` (RFC 3339) and `timezone` (IANA) required, `duration` 30 to 1380
/// minutes (default 240), a title of at most 140 characters; answers the channel's schedule with
/// its segments.
fn create_segment(s: &mut State, caller: &str, scopes: &[String], broadcaster: &str, body: &str) -> Response {
    if !scopes.iter().any(|x| x == "channel:manage:schedule") {
        return helix_error(StatusCode::UNAUTHORIZED, "Missing scope: channel:manage:schedule");
    }
    if broadcaster != caller {
        return helix_error(StatusCode::FORBIDDEN, "The ID in broadcaster_id must match the user ID found in the request's OAuth token.");
    }
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        return helix_error(StatusCode::BAD_REQUEST, "The request body is not valid JSON.");
    };
    let (Some(start), Some(zone)) = (body["start_time"].as_str(), body["timezone"].as_str()) else {
        return helix_error(StatusCode::BAD_REQUEST, "Missing required parameter: start_time and timezone");
    };
    let duration: i64 = match &body["duration"] {
        Value::Null => 240,
        Value::String(d) => match d.parse() {
            Ok(d) if (30..=1380).contains(&d) => d,
            _ => return helix_error(StatusCode::BAD_REQUEST, "The duration must be 30 through 1380 minutes."),
        },
        _ => return helix_error(StatusCode::BAD_REQUEST, "The duration must be a string."),
    };
    let title = body["title"].as_str().unwrap_or_default().to_string();
    if title.chars().count() > 140 {
        return helix_error(StatusCode::BAD_REQUEST, "The title may not exceed 140 characters.");
    }
    s.counter += 1;
    let segment = FakeSegment {
        id: format!("seg{}", s.counter),
        start_time: start.to_string(),
        timezone: zone.to_string(),
        duration_min: duration,
        is_recurring: body["is_recurring"].as_bool().unwrap_or(false),
        title,
        category_id: body["category_id"].as_str().map(str::to_string),
    };
    let segments = s.segments.entry(caller.to_string()).or_default();
    segments.push(segment);
    let data: Vec<Value> = segments
        .iter()
        .map(|seg| json!({ "id": seg.id, "start_time": seg.start_time, "end_time": seg.start_time, "title": seg.title, "canceled_until": null, "category": null, "is_recurring": seg.is_recurring }))
        .collect();
    axum::Json(json!({ "data": { "segments": data, "broadcaster_id": caller, "broadcaster_name": caller, "broadcaster_login": caller, "vacation": null } })).into_response()
}

fn patch_channel(s: &mut State, caller: &str, scopes: &[String], broadcaster: &str, body: &str) -> Response {
    if !scopes.iter().any(|x| x == "channel:manage:broadcast") {
        return helix_error(StatusCode::UNAUTHORIZED, "Missing scope: channel:manage:broadcast");
    }
    if broadcaster != caller {
        return helix_error(StatusCode::FORBIDDEN, "The ID in broadcaster_id must match the user ID found in the request's OAuth token.");
    }
    let Ok(Value::Object(body)) = serde_json::from_str::<Value>(body) else {
        return helix_error(StatusCode::BAD_REQUEST, "The request body is not valid JSON.");
    };
    let mut channel = s.channels.get(caller).cloned().unwrap_or_default();
    if let Some(title) = body.get("title") {
        match title.as_str() {
            Some(t) if !t.trim().is_empty() && t.chars().count() <= 140 => channel.title = t.to_string(),
            _ => return helix_error(StatusCode::BAD_REQUEST, "The title field may not contain an empty string."),
        }
    }
    if let Some(game) = body.get("game_id").and_then(Value::as_str) {
        if !game.is_empty() && !s.categories.iter().any(|(id, _)| id == game) {
            return helix_error(StatusCode::BAD_REQUEST, "The ID in game_id is not valid.");
        }
        channel.game_id = game.to_string();
    }
    if let Some(tags) = body.get("tags") {
        let Some(tags) = tags.as_array() else {
            return helix_error(StatusCode::BAD_REQUEST, "The tags field must be an array.");
        };
        if tags.len() > 10 {
            return helix_error(StatusCode::BAD_REQUEST, "The tags field may contain a maximum of 10 tags.");
        }
        let mut out = Vec::new();
        for tag in tags {
            let t = tag.as_str().unwrap_or("");
            if t.is_empty() || t.chars().count() > 25 || !t.chars().all(char::is_alphanumeric) {
                return helix_error(StatusCode::BAD_REQUEST, &format!("The tag '{t}' is not valid: tags may not be longer than 25 characters and may contain only letters and digits."));
            }
            out.push(t.to_string());
        }
        channel.tags = out;
    }
    s.channels.insert(caller.to_string(), channel);
    StatusCode::NO_CONTENT.into_response()
}
