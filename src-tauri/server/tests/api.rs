//! The HTTP API with a real client against a server on port 0, over a real data dir: every
//! endpoint's happy path, 401 without or with a bad token, 404 for another profile's rows,
//! validation errors, an upload of a real video, a stream to nginx-rtmp started and stopped
//! through the API with its server-sent events, and random JSON bodies that never get a 5xx.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use twitcher_core::twitch::TwitchConfig;
use twitcher_core::vault::KeyringPreference;
use twitcher_core::{Options, Twitcher};
use twitcher_server::ServerOptions;
use twitcher_testkit::{make_video, Ingest};

struct Server {
    dir: tempfile::TempDir,
    app: Twitcher,
    base: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
    /// The first profile's token: the server's ADMIN, who registers the others.
    admin: std::sync::Mutex<Option<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start(options: ServerOptions) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let twitch = TwitchConfig { auth_url: "http://127.0.0.1:9".into(), api_url: "http://127.0.0.1:9/helix".into(), client_id: None };
    let app = Twitcher::open_with(&dir.path().join("data"), Options { keyring: KeyringPreference::File, vault_key_file: None, ingest_list_url: "http://127.0.0.1:9/ingests".into(), twitch, engine: Default::default(), database: None })
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(twitcher_server::serve(app.clone(), listener, options, shutdown.clone()));
    // Idle pooled connections are dropped before the server's header timeout (10 s) would close them.
    let http = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().unwrap();
    Server { dir, app, base, http, shutdown, admin: Default::default() }
}

impl Server {
    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A new profile: (uuid, token).
    async fn register(&self, name: &str) -> (String, String) {
        let admin = self.admin.lock().unwrap().clone();
        let (status, body) = self.call(Method::POST, "/api/auth/register", admin.as_deref(), Some(json!({ "name": name }))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (uuid, token) = (body["uuid"].as_str().unwrap().to_string(), body["token"].as_str().unwrap().to_string());
        self.admin.lock().unwrap().get_or_insert_with(|| token.clone());
        (uuid, token)
    }

    async fn link(&self, token: &str, channel: &str, key: &str, ingest: Option<&str>) -> Value {
        let body = json!({ "display_name": format!("Channel {channel}"), "channel_id": channel, "stream_key": key, "ingest_server": ingest });
        let (status, account) = self.call(Method::POST, "/api/twitch/link", Some(token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{account}");
        account
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error body: {body}"))
}

#[tokio::test]
async fn uuid_login_gives_a_token_and_missing_forged_or_expired_tokens_get_401() {
    let s = start(ServerOptions { token_ttl: Duration::from_secs(2), ..Default::default() }).await;
    let (status, health) = s.call(Method::GET, "/api/health", None, None).await;
    assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")));

    let (uuid, first) = s.register("Ana").await;
    let (status, login) = s.call(Method::POST, "/api/auth/login", None, Some(json!({ "uuid": uuid }))).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["token"].as_str().unwrap().to_string();
    assert!(login["expires_at"].as_u64().is_some());
    for t in [&first, &token] {
        assert_eq!(s.call(Method::GET, "/api/videos", Some(t), None).await.0, StatusCode::OK);
    }
    // The token names the profile by its row id, never by the UUID.
    let claims = token.split('.').nth(1).unwrap();
    assert!(!claims.contains(&uuid[..8]) && !token.contains(&uuid));

    let (status, body) = s.call(Method::POST, "/api/auth/login", None, Some(json!({ "uuid": uuid::Uuid::new_v4().to_string() }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "unknown_profile"));
    let (status, body) = s.call(Method::POST, "/api/auth/login", None, Some(json!({ "uuid": "not-a-uuid" }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "malformed_uuid"));

    for (method, path) in [
        (Method::GET, "/api/videos"),
        (Method::POST, "/api/videos/upload"),
        (Method::GET, "/api/twitch/link"),
        (Method::POST, "/api/twitch/link"),
        (Method::DELETE, "/api/twitch/link/1"),
        (Method::GET, "/api/twitch/stats"),
        (Method::POST, "/api/streams/start"),
        (Method::POST, "/api/streams/stop"),
        (Method::GET, "/api/streams"),
        (Method::GET, "/api/streams/1/events"),
    ] {
        let (status, body) = s.call(method.clone(), path, None, Some(json!({}))).await;
        assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "unauthorized"), "{method} {path}");
    }
    let (status, body) = s.call(Method::POST, "/api/auth/register", None, Some(json!({ "name": "x".repeat(200) }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_name"));
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&forged), None).await.0, StatusCode::UNAUTHORIZED);
    // A token from another server (another signing key) is forged too.
    let other = start(ServerOptions::default()).await;
    let (_, foreign) = other.register("Eve").await;
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&foreign), None).await.0, StatusCode::UNAUTHORIZED);

    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (status, body) = s.call(Method::GET, "/api/videos", Some(&token), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "unauthorized"), "expired");

    let (status, body) = s.call(Method::GET, "/api/nothing-here", None, None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = s.call(Method::DELETE, "/api/videos", None, None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    // Issue 30: a vault rotation replaces the signing key instead of moving it, and ends every
    // session signed before it.
    let (_, fresh) = s.call(Method::POST, "/api/auth/login", None, Some(json!({ "uuid": uuid }))).await;
    let fresh = fresh["token"].as_str().unwrap().to_string();
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&fresh), None).await.0, StatusCode::OK);
    let admin = twitcher_core::profiles::login(&s.app, &uuid).await.unwrap();
    assert_eq!(s.app.rotate_vault(&admin).await.unwrap().resealed, 0, "no server key is moved: it is made again");
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&fresh), None).await.0, StatusCode::UNAUTHORIZED, "sessions end with a rotation");
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_client_address_with_retry_after() {
    let s = start(ServerOptions { login_attempts_per_minute: 3, ..Default::default() }).await;
    let (uuid, _) = s.register("Ana").await;
    for _ in 0..3 {
        assert_eq!(s.call(Method::POST, "/api/auth/login", None, Some(json!({ "uuid": uuid }))).await.0, StatusCode::OK);
    }
    let response = s.http.post(format!("{}/api/auth/login", s.base)).json(&json!({ "uuid": uuid })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "login_throttled");
}

/// A login from `from` (a loopback address of its own: Linux routes all of 127/8 to this
/// machine), optionally with an `X-Forwarded-For` header.
async fn login_from(s: &Server, from: [u8; 4], forwarded: Option<&str>, uuid: &str) -> StatusCode {
    let client = reqwest::Client::builder().local_address(std::net::IpAddr::from(from)).build().unwrap();
    let mut request = client.post(format!("{}/api/auth/login", s.base)).json(&json!({ "uuid": uuid }));
    if let Some(f) = forwarded {
        request = request.header("x-forwarded-for", f);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn a_client_guessing_uuids_locks_out_only_itself_not_other_clients_nor_the_window() {
    let s = start(ServerOptions::default()).await;
    let (uuid, _) = s.register("Ana").await;
    // One client keeps guessing until the throttle stops it.
    let mut refused = StatusCode::OK;
    for _ in 0..5 {
        refused = login_from(&s, [127, 0, 0, 2], None, &uuid::Uuid::new_v4().to_string()).await;
        if refused == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(refused, StatusCode::TOO_MANY_REQUESTS, "the guessing client is throttled");
    assert_eq!(login_from(&s, [127, 0, 0, 2], None, &uuid).await, StatusCode::TOO_MANY_REQUESTS, "even with the right UUID, for now");
    // Everybody else signs in as usual: another address, and the window or CLI on the machine.
    assert_eq!(login_from(&s, [127, 0, 0, 3], None, &uuid).await, StatusCode::OK);
    twitcher_core::profiles::login(&s.app, &uuid).await.expect("the window is not locked out by the API's failures");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit_and_others_cannot_forge_one() {
    let options = ServerOptions { login_attempts_per_minute: 2, trusted_proxies: vec![twitcher_server::auth::parse_proxy("127.0.0.4").unwrap()], ..Default::default() };
    let s = start(options).await;
    let (uuid, _) = s.register("Ana").await;
    // Through the proxy: counted per client it names.
    for _ in 0..2 {
        assert_eq!(login_from(&s, [127, 0, 0, 4], Some("198.51.100.7"), &uuid).await, StatusCode::OK);
    }
    assert_eq!(login_from(&s, [127, 0, 0, 4], Some("198.51.100.7"), &uuid).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login_from(&s, [127, 0, 0, 4], Some("198.51.100.8"), &uuid).await, StatusCode::OK, "another client behind the proxy");
    // A client prepending its own entry gets the address the proxy appended, not its pick.
    assert_eq!(login_from(&s, [127, 0, 0, 4], Some("203.0.113.1, 198.51.100.7"), &uuid).await, StatusCode::TOO_MANY_REQUESTS);
    // Not through the proxy: the header means nothing, the connection's address counts.
    for forged in ["192.0.2.1", "192.0.2.2"] {
        assert_eq!(login_from(&s, [127, 0, 0, 5], Some(forged), &uuid).await, StatusCode::OK);
    }
    assert_eq!(login_from(&s, [127, 0, 0, 5], Some("192.0.2.3"), &uuid).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_server_error_says_internal_error_with_a_request_id_and_names_nothing_inside() {
    // What the server logs, caught (this test's tasks all run on its one thread).
    #[derive(Clone, Default)]
    struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Log {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = Log::default();
    let sink = log.clone();
    let _logging = tracing::subscriber::set_default(tracing_subscriber::fmt().with_ansi(false).with_writer(move || sink.clone()).finish());
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    s.link(&ana, "31337", "live_31337_InternalErrKey0001", None).await;
    // The data dir's record now names a key no store holds: opening a secret is this server's
    // trouble (a 5xx), and the core's message names the key file's path.
    use sqlx::Connection;
    let db = s.dir.path().join("data").join("twitcher.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query("UPDATE settings SET value = '00112233aabbccdd' WHERE key = 'vault.key_id'").execute(&mut conn).await.unwrap();
    let body = json!({ "display_name": "Second", "channel_id": "31338", "stream_key": "live_31338_InternalErrKey0002", "ingest_server": null });
    let (status, answer) = s.call(Method::POST, "/api/twitch/link", Some(&ana), Some(body)).await;
    assert!(status.is_server_error(), "{status} {answer}");
    assert_eq!(error_code(&answer), "key_mismatch", "the code still says what kind of trouble");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("internal error: the server's log has the details (request id "), "{message}");
    let data_dir = s.dir.path().to_string_lossy().to_string();
    assert!(!answer.to_string().contains(&data_dir) && !answer.to_string().contains("vault.key"), "{answer}");
    // The id leads to the full message in the server's log.
    let id = message.rsplit(' ').next().unwrap().trim_end_matches(')');
    let logged = String::from_utf8_lossy(&log.0.lock().unwrap()).to_string();
    let line = logged.lines().find(|l| l.contains(id)).unwrap_or_else(|| panic!("request id {id} not in the log: {logged}"));
    assert!(line.contains("is not the one that protects"), "the log has the whole story: {line}");
}

#[tokio::test]
async fn who_may_register_follows_the_servers_policy_and_the_first_profile_is_always_made() {
    use twitcher_core::profiles::Registration;
    let anonymous = |s: &Server| {
        let request = s.http.post(format!("{}/api/auth/register", s.base)).json(&json!({ "name": "Someone" }));
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    // admin (the default): racing strangers on an empty server get one profile, the ADMIN.
    // (From one address: its registration limit is raised so the race is what is measured.)
    let s = start(ServerOptions { registrations_per_minute: 100, ..Default::default() }).await;
    let answers = futures::future::join_all((0..5).map(|_| anonymous(&s))).await;
    let made: Vec<&Value> = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).map(|(_, b)| b).collect();
    assert_eq!(made.len(), 1, "{answers:?}");
    assert_eq!(made[0]["profile"]["role"], "ADMIN");
    for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_eq!((*status, error_code(body)), (StatusCode::FORBIDDEN, "registration_closed"));
    }
    let admin = made[0]["token"].as_str().unwrap().to_string();
    let (status, user) = s.call(Method::POST, "/api/auth/register", Some(&admin), Some(json!({ "name": "Bo" }))).await;
    assert_eq!((status, user["profile"]["role"].as_str()), (StatusCode::CREATED, Some("USER")), "an ADMIN hands out profiles");
    let (status, body) = s.call(Method::POST, "/api/auth/register", user["token"].as_str(), Some(json!({ "name": "Cy" }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "registration_closed"), "a USER does not");
    let (status, _) = s.call(Method::POST, "/api/auth/register", Some("not-a-token"), Some(json!({ "name": "Cy" }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // closed: the first profile, then nobody — not even the ADMIN (profiles are made on the machine).
    let c = start(ServerOptions { registration: Registration::Closed, ..Default::default() }).await;
    let (status, first) = anonymous(&c).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = c.call(Method::POST, "/api/auth/register", first["token"].as_str(), Some(json!({ "name": "Bo" }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "registration_closed"));
    assert!(body["error"]["message"].as_str().unwrap().contains("twitcher profile create"));

    // open: anyone.
    let o = start(ServerOptions { registration: Registration::Open, ..Default::default() }).await;
    for _ in 0..2 {
        assert_eq!(anonymous(&o).await.0, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn a_server_links_and_publishes_only_to_twitch_and_its_operators_hosts_never_inside_its_network() {
    let ingest = Ingest::start();
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    // Saving: refused before anything connects, whatever the address hides behind.
    for inside in ["rtmp://127.0.0.1:22/app", "rtmp://10.0.0.1/app", "rtmp://169.254.169.254/app", "rtmp://[::1]:1935/app", "rtmp://localhost/app", &ingest.server(), "rtmp://relay.example.net/app"] {
        let body = json!({ "display_name": "Probe", "channel_id": "4711", "stream_key": "live_4711_ProbeKeyProbeKey", "ingest_server": inside });
        let (status, answer) = s.call(Method::POST, "/api/twitch/link", Some(&ana), Some(body)).await;
        assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "invalid_ingest"), "{inside}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(!message.contains("refused") && !message.contains("timed out"), "says nothing of what is there: {message}");
    }
    // Publishing: an account saved while connecting anywhere was fine (the window, on the same
    // data dir) is checked again when the server connects, and never reaches the address.
    let profile = twitcher_core::profiles::by_id(&s.app, 1).await.unwrap().expect("Ana, the first profile");
    let restricted = s.app.outbound();
    s.app.restrict_outbound(Default::default());
    let key = "live_4712_SavedBeforeRestricted1";
    let input = twitcher_core::accounts::AccountInput { display_name: "Saved".into(), channel_id: Some("4712".into()), login: None, ingest_server: Some(ingest.server()) };
    let account = twitcher_core::accounts::add(&s.app, &profile, &input, key).await.unwrap();
    s.app.restrict_outbound(restricted);
    let file = make_video(s.dir.path(), "clip", "mp4", &["-t", "2"]);
    let (_, video) = upload(&s, &ana, "clip.mp4", std::fs::read(&file).unwrap()).await;
    let start_body = json!({ "video_id": video["id"], "account_ids": [account.id], "title": "Probe", "resolution": "640x360", "video_bitrate_k": 800 });
    let (status, started) = s.call(Method::POST, "/api/streams/start", Some(&ana), Some(start_body)).await;
    assert!(status.is_success(), "{status} {started}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let row = loop {
        let (_, rows) = s.call(Method::GET, "/api/streams", Some(&ana), None).await;
        let row = rows.as_array().unwrap()[0].clone();
        if row["status"] == "failed" || row["status"] == "ended" {
            break row;
        }
        assert!(Instant::now() < deadline, "{row}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(row["status"], "failed", "{row}");
    assert!(row["error"].as_str().unwrap().contains("operator allows"), "{row}");
    assert_eq!(ingest.publishes(key), 0, "nothing reached the address");
}

#[tokio::test]
async fn accounts_are_linked_masked_listed_and_unlinked_and_another_profile_sees_404() {
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    let (_, bo) = s.register("Bo").await;
    let key = "live_271828_ApiSecretStreamKey4242";
    let account = s.link(&ana, "271828", key, None).await;
    assert_eq!(account["stream_key"], "live_****4242");
    assert!(!account.to_string().contains("ApiSecret"), "the key is never echoed");
    let id = account["id"].as_i64().unwrap();

    let (status, list) = s.call(Method::GET, "/api/twitch/link", Some(&ana), None).await;
    assert_eq!((status, list.as_array().unwrap().len()), (StatusCode::OK, 1));
    assert!(!list.to_string().contains("ApiSecret"));
    let (_, theirs) = s.call(Method::GET, "/api/twitch/link", Some(&bo), None).await;
    assert_eq!(theirs, json!([]));
    let (status, body) = s.call(Method::DELETE, &format!("/api/twitch/link/{id}"), Some(&bo), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "account_not_found"));
    let (status, _) = s.call(Method::DELETE, "/api/twitch/link/999999", Some(&ana), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an unknown id looks the same as another's");

    // Validation: missing fields, wrong types, a bad key, a duplicate, a non-numeric id.
    for (body, code, status) in [
        (json!({ "display_name": "X", "channel_id": "1" }), "invalid_input", StatusCode::BAD_REQUEST),
        (json!({ "display_name": "X", "channel_id": 1, "stream_key": key }), "invalid_input", StatusCode::BAD_REQUEST),
        (json!({ "display_name": "X", "channel_id": "1", "stream_key": "short" }), "invalid_input", StatusCode::BAD_REQUEST),
        (json!({ "display_name": "X", "channel_id": "1", "stream_key": key, "ingest_server": "http://x" }), "invalid_ingest", StatusCode::BAD_REQUEST),
        (json!({ "display_name": "X", "channel_id": "271828", "stream_key": key }), "duplicate_channel", StatusCode::CONFLICT),
        (json!([1, 2]), "invalid_input", StatusCode::BAD_REQUEST),
    ] {
        let (got, answer) = s.call(Method::POST, "/api/twitch/link", Some(&ana), Some(body.clone())).await;
        assert_eq!((got, error_code(&answer)), (status, code), "{body}");
    }
    let (status, body) = s.call(Method::DELETE, "/api/twitch/link/abc", Some(&ana), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"));
    let huge = json!({ "display_name": "x".repeat(100_000), "channel_id": "1", "stream_key": key });
    assert_eq!(s.call(Method::POST, "/api/twitch/link", Some(&ana), Some(huge)).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    // Stats answer even with Twitch out of reach, saying why numbers are missing.
    let (status, stats) = s.call(Method::GET, "/api/twitch/stats", Some(&ana), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats[0]["account_id"], id);
    assert!(stats[0]["note"].as_str().is_some());
    assert_eq!(s.call(Method::GET, "/api/twitch/stats", None, None).await.0, StatusCode::UNAUTHORIZED);

    assert_eq!(s.call(Method::DELETE, &format!("/api/twitch/link/{id}"), Some(&ana), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::GET, "/api/twitch/link", Some(&ana), None).await.1, json!([]));
}

async fn upload(s: &Server, token: &str, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
    let response = s.http.post(format!("{}/api/videos/upload", s.base)).bearer_auth(token).multipart(form).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn uploads_left(s: &Server) -> usize {
    std::fs::read_dir(s.app.data_dir().join("uploads")).map(|d| d.count()).unwrap_or(0)
}

/// Issue 29: an upload is held to what is left of the plan's storage before its body is stored
/// — refused at once when nothing is left, and cut off (nothing kept) as soon as it passes what
/// is — not staged whole and refused by the import afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_past_the_plans_remaining_storage_is_refused_before_it_is_stored() {
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    let first = make_video(s.dir.path(), "first", "mp4", &[]);
    let second = make_video(s.dir.path(), "second", "mp4", &["-vf", "negate"]);
    let (status, video) = upload(&s, &ana, "first.mp4", std::fs::read(&first).unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{video}");
    let used = video["size_bytes"].as_i64().unwrap();
    // The FREE plan now has 1,000 bytes left.
    use sqlx::Connection;
    let db = s.dir.path().join("data").join("twitcher.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let set_quota = |bytes: i64| format!("UPDATE plans SET max_storage_bytes = {bytes} WHERE name = 'FREE'");
    sqlx::query(&set_quota(used + 1000)).execute(&mut conn).await.unwrap();
    let (status, body) = upload(&s, &ana, "second.mp4", std::fs::read(&second).unwrap()).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "plan_limit"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("FREE plan"), "{body}");
    assert_eq!(uploads_left(&s), 0, "nothing of it was kept");
    // Nothing left: refused before the body is read.
    sqlx::query(&set_quota(used)).execute(&mut conn).await.unwrap();
    let (status, body) = upload(&s, &ana, "second.mp4", std::fs::read(&second).unwrap()).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "plan_limit"), "{body}");
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&ana), None).await.1["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_video_is_imported_and_listed_only_for_its_profile_and_bad_uploads_leave_nothing() {
    let s = start(ServerOptions::default()).await;
    let (ana_uuid, ana) = s.register("Ana").await;
    let (_, bo) = s.register("Bo").await;
    let file = make_video(s.dir.path(), "night-rerun", "mp4", &[]);
    let (status, video) = upload(&s, &ana, "night-rerun.mp4", std::fs::read(&file).unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{video}");
    assert_eq!((video["title"].as_str(), video["container"].as_str(), video["width"].as_i64()), (Some("night-rerun"), Some("mp4"), Some(640)));
    let (status, page) = s.call(Method::GET, "/api/videos?search=rerun", Some(&ana), None).await;
    assert_eq!((status, page["total"].as_i64()), (StatusCode::OK, Some(1)), "{page}");
    // No server paths leave: the thumbnail is its own authenticated endpoint.
    let data_dir = s.app.data_dir().to_string_lossy().to_string();
    for shown in [&video, &page["items"][0]] {
        assert!(shown.get("local_path").is_none() && shown.get("thumbnail").is_none() && !shown.to_string().contains(&data_dir), "{shown}");
        assert_eq!(shown["has_thumbnail"], true);
    }
    let thumbnail = format!("{}/api/videos/{}/thumbnail", s.base, video["id"]);
    let response = s.http.get(&thumbnail).bearer_auth(&ana).send().await.unwrap();
    assert_eq!((response.status(), response.headers()["content-type"].to_str().unwrap()), (StatusCode::OK, "image/jpeg"));
    assert_eq!(&response.bytes().await.unwrap()[..2], &[0xFF, 0xD8], "a JPEG");
    assert_eq!(s.http.get(&thumbnail).bearer_auth(&bo).send().await.unwrap().status(), StatusCode::NOT_FOUND, "not another profile's");
    assert_eq!(s.http.get(&thumbnail).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&bo), None).await.1["total"], 0);
    let (status, body) = s.call(Method::GET, "/api/videos?limit=lots", Some(&ana), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"));

    let (status, body) = upload(&s, &ana, "notes.mp4", b"not a video at all".repeat(100)).await;
    assert!(status == StatusCode::BAD_REQUEST && ["import_rejected", "import_failed"].contains(&error_code(&body)), "{status} {body}");
    let admin = twitcher_core::profiles::login(&s.app, &ana_uuid).await.unwrap();
    twitcher_core::library::set_max_file_bytes(&s.app, &admin, 10_000).await.unwrap();
    let (status, body) = upload(&s, &ana, "big.mp4", std::fs::read(&file).unwrap()).await;
    assert_eq!((status, error_code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
    let (status, _) = upload(&s, &bo, "x.mp4", vec![]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A client that goes away in the middle of its upload leaves nothing either.
    {
        use tokio::io::AsyncWriteExt;
        let mut socket = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap();
        let head = format!(
            "POST /api/videos/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ana}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 5000\r\n\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.mp4\"\r\n\r\n"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(&[0u8; 1000]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(uploads_left(&s), 1, "the upload is being written");
        drop(socket);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(uploads_left(&s), 0, "partial uploads are removed");
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&ana), None).await.1["total"], 1);
    let unauth = s.http.post(format!("{}/api/videos/upload", s.base)).send().await.unwrap();
    assert_eq!(unauth.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_started_through_the_api_goes_live_on_nginx_sends_events_and_stops() {
    let ingest = Ingest::start();
    let s = start(ServerOptions { allowed_ingests: vec![("127.0.0.1".into(), Some(ingest.host_port().rsplit(':').next().unwrap().parse().unwrap()))], ..Default::default() }).await;
    let (_, ana) = s.register("Ana").await;
    let (_, bo) = s.register("Bo").await;
    let file = make_video(s.dir.path(), "clip", "mp4", &[]);
    let (_, video) = upload(&s, &ana, "clip.mp4", std::fs::read(&file).unwrap()).await;
    let key = "live_31415_ApiStreamKey00009999";
    let account = s.link(&ana, "31415", key, Some(&ingest.server())).await;

    let start_body = json!({ "video_id": video["id"], "account_ids": [account["id"]], "title": "API", "resolution": "640x360",
        "video_bitrate_k": 800, "loop": true });
    let (status, body) = s.call(Method::POST, "/api/streams/start", Some(&bo), Some(start_body.clone())).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "video_not_found"), "another profile's video");
    let (status, body) = s.call(Method::POST, "/api/streams/start", Some(&ana), Some(json!({ "video_id": video["id"], "account_ids": [] }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"));
    for at in ["8 pm", "2030-01-01T20:00:00", "2020-01-01T20:00:00Z"] {
        let mut scheduled = start_body.clone();
        scheduled["at"] = json!(at);
        let (status, body) = s.call(Method::POST, "/api/streams/start", Some(&ana), Some(scheduled)).await;
        assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "at {at}: {body}");
    }
    let (_, none) = s.call(Method::GET, "/api/streams", Some(&ana), None).await;
    assert_eq!(none, json!([]), "a refused start time stores nothing");
    let (status, started) = s.call(Method::POST, "/api/streams/start", Some(&ana), Some(start_body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let stream_id = started["streams"][0]["stream_id"].as_i64().unwrap();

    // Server-sent events: the stored row first, then live statuses.
    let (status, body) = s.call(Method::GET, &format!("/api/streams/{stream_id}/events"), Some(&bo), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let mut events = s.http.get(format!("{}/api/streams/{stream_id}/events", s.base)).bearer_auth(&ana).send().await.unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while !text.contains("\"state\":\"live\"") {
        assert!(Instant::now() < deadline, "no live status event: {text}");
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk()).await.unwrap().unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("event: row"), "{text}");
    assert!(text.contains("event: status"));
    assert!(!text.contains("ApiStreamKey"));
    tokio::time::sleep(Duration::from_secs(3)).await; // a few seconds on air

    let (status, body) = s.call(Method::POST, "/api/streams/stop", Some(&bo), Some(json!({ "stream_id": stream_id }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = s.call(Method::POST, "/api/streams/stop", Some(&ana), Some(json!({}))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"));
    assert_eq!(s.call(Method::POST, "/api/streams/stop", Some(&bo), Some(json!({ "all": true }))).await.1["stopped"], 0, "Bo cannot stop Ana's");
    let (status, stopped) = s.call(Method::POST, "/api/streams/stop", Some(&ana), Some(json!({ "stream_id": stream_id }))).await;
    assert_eq!((status, stopped["stopped"].as_u64()), (StatusCode::OK, Some(1)));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, list) = s.call(Method::GET, "/api/streams", Some(&ana), None).await;
        if list[0]["status"] == "ended" {
            assert!(list[0]["started_at"].is_string(), "{list}");
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(s.call(Method::GET, "/api/streams", Some(&bo), None).await.1, json!([]));
    assert!(twitcher_testkit::video_packets(&ingest.recording(key)).len() > 25, "published to nginx");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_starts_at_once_from_a_free_profile_run_one_broadcast_and_the_rest_get_plan_limit() {
    let ingest = Ingest::start();
    let port = ingest.host_port().rsplit(':').next().unwrap().parse().unwrap();
    let s = start(ServerOptions { allowed_ingests: vec![("127.0.0.1".into(), Some(port))], ..Default::default() }).await;
    s.register("Admin").await;
    let (_, bo) = s.register("Bo").await; // a USER on FREE: one broadcast at once
    let file = make_video(s.dir.path(), "bo", "mp4", &["-t", "4"]);
    let (_, video) = upload(&s, &bo, "bo.mp4", std::fs::read(&file).unwrap()).await;
    let account = s.link(&bo, "27182", "live_27182_RaceStreamKey000001", Some(&ingest.server())).await;
    let body = json!({ "video_id": video["id"], "account_ids": [account["id"]], "title": "Race", "resolution": "640x360", "video_bitrate_k": 800, "loop": true });

    let starts = (0..30).map(|_| s.call(Method::POST, "/api/streams/start", Some(&bo), Some(body.clone())));
    let answers = futures::future::join_all(starts).await;
    let accepted: Vec<&Value> = answers.iter().filter(|(status, _)| *status == StatusCode::ACCEPTED).map(|(_, b)| b).collect();
    assert_eq!(accepted.len(), 1, "{answers:?}");
    for (status, answer) in answers.iter().filter(|(status, _)| *status != StatusCode::ACCEPTED) {
        assert_eq!((*status, error_code(answer)), (StatusCode::FORBIDDEN, "plan_limit"), "{answer}");
    }
    let (_, rows) = s.call(Method::GET, "/api/streams", Some(&bo), None).await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "the refused starts stored nothing: {rows}");
    assert_eq!(rows[0]["broadcast_id"], accepted[0]["broadcast_id"]);
    let (status, _) = s.call(Method::POST, "/api/streams/stop", Some(&bo), Some(json!({ "all": true }))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_are_built_through_the_api_and_another_profile_gets_404() {
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    let (_, bo) = s.register("Bo").await;
    let mut videos = Vec::new();
    for (name, hue) in [("one", "0"), ("two", "120")] {
        let file = make_video(s.dir.path(), name, "mp4", &["-t", "1", "-vf", &format!("hue=h={hue}")]);
        let (status, video) = upload(&s, &ana, &format!("{name}.mp4"), std::fs::read(&file).unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{video}");
        videos.push(video["id"].as_i64().unwrap());
    }
    let (status, created) = s.call(Method::POST, "/api/playlists", Some(&ana), Some(json!({ "name": "Late", "loop": true }))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["name"].as_str(), created["loop"].as_bool(), created["shuffle"].as_bool()), (Some("Late"), Some(true), Some(false)));
    let id = created["id"].as_i64().unwrap();
    let items = format!("/api/playlists/{id}/items");
    for video in &videos {
        let (status, body) = s.call(Method::POST, &items, Some(&ana), Some(json!({ "video_id": video, "title": "Rerun" }))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, first) = s.call(Method::POST, &items, Some(&ana), Some(json!({ "video_id": videos[1], "position": 1 }))).await;
    let order: Vec<i64> = first["items"].as_array().unwrap().iter().map(|i| i["video_id"].as_i64().unwrap()).collect();
    assert_eq!(order, [videos[1], videos[0], videos[1]]);
    let item = first["items"][0]["id"].as_i64().unwrap();
    let (status, moved) = s.call(Method::POST, &format!("{items}/{item}/move"), Some(&ana), Some(json!({ "position": 3 }))).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["items"][2]["id"].as_i64(), Some(item));
    let (status, removed) = s.call(Method::DELETE, &format!("{items}/{item}"), Some(&ana), None).await;
    assert_eq!((status, removed["items"].as_array().unwrap().len()), (StatusCode::OK, 2));
    let (status, updated) = s.call(Method::PUT, &format!("/api/playlists/{id}"), Some(&ana), Some(json!({ "shuffle": true, "loop": false }))).await;
    assert_eq!((status, updated["shuffle"].as_bool(), updated["loop"].as_bool()), (StatusCode::OK, Some(true), Some(false)));

    // Another profile: every id is unknown to it, and its list is empty.
    let (status, body) = s.call(Method::GET, &format!("/api/playlists/{id}"), Some(&bo), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "playlist_not_found"));
    let (status, body) = s.call(Method::POST, &items, Some(&bo), Some(json!({ "video_id": videos[0] }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "playlist_not_found"));
    assert_eq!(s.call(Method::GET, "/api/playlists", Some(&bo), None).await.1, json!([]));
    let start = json!({ "playlist_id": id, "account_ids": [1] });
    let (status, body) = s.call(Method::POST, "/api/streams/start", Some(&bo), Some(start)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "playlist_not_found"));
    // Bad input: a clear 4xx and nothing changed.
    let (status, body) = s.call(Method::POST, "/api/playlists", Some(&ana), Some(json!({ "name": "Late" }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "duplicate_playlist"));
    let (status, body) = s.call(Method::POST, &items, Some(&ana), Some(json!({ "video_id": 999 }))).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "video_not_found"));
    let both = json!({ "playlist_id": id, "video_id": videos[0], "account_ids": [1] });
    let (status, body) = s.call(Method::POST, "/api/streams/start", Some(&ana), Some(both)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"));
    assert_eq!(s.call(Method::GET, &format!("/api/playlists/{id}"), Some(&ana), None).await.1, updated);

    let (status, body) = s.call(Method::DELETE, &format!("/api/playlists/{id}"), Some(&ana), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "deleted": id })));
    assert_eq!(s.call(Method::GET, "/api/playlists", Some(&ana), None).await.1, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recurring_schedule_is_created_listed_edited_paused_resumed_and_deleted_and_bad_ones_get_400() {
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    let (_, bo) = s.register("Bo").await;
    let file = make_video(s.dir.path(), "weekly", "mp4", &["-t", "1"]);
    let (_, video) = upload(&s, &ana, "weekly.mp4", std::fs::read(&file).unwrap()).await;
    // Twitch's own ingest (a schedule does not connect anywhere until its time).
    let account = s.link(&ana, "1001", "live_1001_ScheduleApiKey123456", Some("rtmps://ingest.global-contribute.live-video.net/app")).await;
    let request = json!({
        "video_id": video["id"], "account_ids": [account["id"]], "title": "Weekly", "category": null, "tags": [],
        "quality": { "fps": 30, "video_bitrate_k": 2500, "audio_bitrate_k": 160, "width": 1280, "height": 720 }, "loop": true,
    });
    let body = json!({ "request": request, "at": "21:30", "time_zone": "America/New_York", "days": ["fri"], "until": "23:00" });
    let (status, created) = s.call(Method::POST, "/api/schedules", Some(&ana), Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let next = created["next"].as_array().unwrap();
    assert_eq!(next.len(), 7);
    // 21:30 in New York is 02:30Z (EST) or 01:30Z (EDT) the next day.
    assert!(next.iter().all(|t| t.as_str().unwrap().ends_with("T02:30:00.000Z") || t.as_str().unwrap().ends_with("T01:30:00.000Z")), "{next:?}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(s.call(Method::GET, "/api/schedules", Some(&ana), None).await.1[0]["id"].as_i64(), Some(id));
    assert_eq!(s.call(Method::GET, "/api/schedules", Some(&bo), None).await.1, json!([]));
    let (status, body_) = s.call(Method::DELETE, &format!("/api/schedules/{id}"), Some(&bo), None).await;
    assert_eq!((status, error_code(&body_)), (StatusCode::NOT_FOUND, "schedule_not_found"));

    let mut bad = body.clone();
    bad["time_zone"] = json!("Atlantis/Capital");
    let (status, answer) = s.call(Method::POST, "/api/schedules", Some(&ana), Some(bad)).await;
    assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"));
    let (status, answer) = s.call(Method::POST, "/api/schedules", Some(&bo), Some(body.clone())).await;
    assert_eq!((status, error_code(&answer)), (StatusCode::NOT_FOUND, "video_not_found"), "another profile's video");
    // Issue 29: these durations once panicked the handler (no answer at all) or, stored, the
    // scheduler. Past a week is refused, with the reason.
    for (duration, on_twitch) in [(9_000_000_000_000_000i64, true), (9_000_000_000_000_000, false), (7 * 24 * 3600 + 1, false), (i64::MAX, true)] {
        let mut long = body.clone();
        long["until"] = Value::Null;
        long["duration_sec"] = json!(duration);
        long["twitch_schedule"] = json!(on_twitch);
        let (status, answer) = s.call(Method::POST, "/api/schedules", Some(&ana), Some(long)).await;
        assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{duration}: {answer}");
    }
    assert_eq!(s.call(Method::GET, "/api/schedules", Some(&ana), None).await.1.as_array().unwrap().len(), 1, "nothing more stored");

    // Edited in place (PUT: all of it), paused and resumed, by its owner only.
    let mut sunday = body.clone();
    sunday["days"] = json!(["sun"]);
    sunday["at"] = json!("09:00");
    let (status, edited) = s.call(Method::PUT, &format!("/api/schedules/{id}"), Some(&ana), Some(sunday.clone())).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!((edited["id"].as_i64(), &edited["days"], &edited["at"]), (Some(id), &json!(["sun"]), &json!("09:00")));
    let (status, answer) = s.call(Method::PUT, &format!("/api/schedules/{id}"), Some(&bo), Some(sunday.clone())).await;
    assert_eq!((status, error_code(&answer)), (StatusCode::NOT_FOUND, "schedule_not_found"));
    let mut bad = sunday.clone();
    bad["at"] = json!("25:00");
    let (status, answer) = s.call(Method::PUT, &format!("/api/schedules/{id}"), Some(&ana), Some(bad)).await;
    assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"));
    let (status, paused) = s.call(Method::POST, &format!("/api/schedules/{id}/pause"), Some(&ana), None).await;
    assert_eq!((status, &paused["paused"], &paused["next"]), (StatusCode::OK, &json!(true), &json!([])), "{paused}");
    let (status, answer) = s.call(Method::POST, &format!("/api/schedules/{id}/resume"), Some(&bo), None).await;
    assert_eq!((status, error_code(&answer)), (StatusCode::NOT_FOUND, "schedule_not_found"));
    let (status, resumed) = s.call(Method::POST, &format!("/api/schedules/{id}/resume"), Some(&ana), None).await;
    assert_eq!((status, &resumed["paused"], resumed["next"].as_array().map(Vec::len)), (StatusCode::OK, &json!(false), Some(7)), "{resumed}");

    let (status, deleted) = s.call(Method::DELETE, &format!("/api/schedules/{id}"), Some(&ana), None).await;
    assert_eq!((status, deleted), (StatusCode::OK, json!({ "deleted": id })));
}

/// Issue 29: health tells the truth. A background task that panics makes `/api/health` answer
/// 503 naming it while it waits out its backoff; once it completes a turn again, 200 — with
/// every task and the age of its last turn either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_503_naming_a_restarting_task_and_200_once_it_completes_turns_again() {
    let s = start(ServerOptions::default()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (status, healthy) = loop {
        let (status, body) = s.call(Method::GET, "/api/health", None, None).await;
        // The first turns of every task complete within moments of the start.
        if status == StatusCode::OK && body["tasks"].as_array().is_some_and(|t| t.iter().any(|t| t["name"] == "node heartbeat" && t["last_turn_age_sec"].is_number())) {
            break (status, body);
        }
        assert!(Instant::now() < deadline, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((status, healthy["status"].as_str()), (StatusCode::OK, Some("ok")));
    let names: Vec<&str> = healthy["tasks"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for task in ["job worker", "recovery", "recurring schedules", "scheduler: due broadcasts", "token validation", "alerts", "node heartbeat", "fleet: claims", "log retention"] {
        assert!(names.contains(&task), "{task} missing: {names:?}");
    }

    s.app.tasks().inject_panics("scheduler: due broadcasts", 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    let unhealthy = loop {
        let (status, body) = s.call(Method::GET, "/api/health", None, None).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break body;
        }
        assert!(Instant::now() < deadline, "never 503: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(unhealthy["status"], "unhealthy");
    let problems = unhealthy["problems"].to_string();
    assert!(problems.contains("scheduler: due broadcasts is restarting"), "{unhealthy}");

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = s.call(Method::GET, "/api/health", None, None).await;
        let scheduler = body["tasks"].as_array().unwrap().iter().find(|t| t["name"] == "scheduler: due broadcasts").cloned().unwrap();
        if status == StatusCode::OK && scheduler["state"] == "ok" {
            assert_eq!(scheduler["restarts"], 2, "{scheduler}");
            break;
        }
        assert!(Instant::now() < deadline, "never healthy again: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A handler that panics still answers: 500 with a request id, nothing of the panic's text (a
/// key in it stays in the redacted log), and the server goes on answering.
#[tokio::test]
async fn a_handler_that_panics_answers_500_with_a_request_id_and_the_server_goes_on() {
    use axum::routing::get;
    let routes: axum::Router = axum::Router::new()
        .route("/boom", get(|| async { panic!("could not publish to rtmp://ingest/app/live_123456789_HandlerPanicKey99") as &'static str }))
        .route("/fine", get(|| async { "fine" }));
    let app = twitcher_server::answer_panics(routes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let answer = http.get(format!("{base}/boom")).send().await.expect("an answer, not a closed connection");
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(error_code(&body), "internal", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("request id") && !message.contains("HandlerPanicKey") && !message.contains("rtmp"), "{message}");
    }
    assert_eq!(http.get(format!("{base}/fine")).send().await.unwrap().text().await.unwrap(), "fine");
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint() {
    let s = start(ServerOptions::default()).await;
    let (status, doc) = s.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in ["/api/auth/register", "/api/auth/login", "/api/videos", "/api/videos/upload", "/api/videos/{id}/thumbnail", "/api/twitch/link", "/api/twitch/link/{id}",
        "/api/twitch/stats", "/api/streams/start", "/api/streams/stop", "/api/streams", "/api/streams/{id}/events", "/api/health",
        "/api/playlists", "/api/playlists/{id}", "/api/playlists/{id}/items", "/api/playlists/{id}/items/{item_id}",
        "/api/playlists/{id}/items/{item_id}/move", "/api/schedules", "/api/schedules/{id}", "/api/schedules/{id}/pause", "/api/schedules/{id}/resume", "/api/nodes"] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let video = &doc["components"]["schemas"]["ApiVideo"]["properties"];
    assert!(video["has_thumbnail"].is_object() && video["local_path"].is_null(), "the document shows videos without server paths");
    assert!(doc["components"]["schemas"]["Playlist"].is_object());
    // Error codes are one enum in the document, as in the core.
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"].as_array().expect("ErrorCode is an enum schema");
    assert!(codes.iter().any(|c| c == "playlist_not_found") && codes.iter().any(|c| c == "invalid_input"));
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Issue 30: links lead from every call that creates something to the calls that use its id,
    // each to an operation that exists (operation ids are unique).
    let mut ids = std::collections::HashSet::new();
    for item in paths.values() {
        for operation in item.as_object().unwrap().values() {
            assert!(ids.insert(operation["operationId"].as_str().unwrap().to_string()), "a duplicate operationId: {operation}");
        }
    }
    for (path, method, status) in [("/api/playlists", "post", "201"), ("/api/playlists/{id}/items", "post", "200"), ("/api/twitch/link", "post", "201"),
        ("/api/schedules", "post", "201"), ("/api/videos/upload", "post", "201"), ("/api/streams/start", "post", "202")] {
        let links = doc["paths"][path][method]["responses"][status]["links"].as_object().unwrap_or_else(|| panic!("{method} {path} has no links"));
        for (name, link) in links {
            assert!(ids.contains(link["operationId"].as_str().unwrap()), "{method} {path} → {name}: {link}");
        }
    }
}

/// The OpenAPI document is the contract: schemathesis (an independent property-based tester,
/// pinned in .venv-test) generates requests from it against this server — valid ones must be
/// taken, invalid ones refused, every answer's status and body documented, no 5xx. Its settings
/// and the few rules no schema can state are in tests/schemathesis.toml.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_the_contract_schemathesis_finds_nothing_the_server_does_otherwise() {
    let Some(st) = std::env::var_os("TWITCHER_TEST_SCHEMATHESIS") else {
        eprintln!("skipped: needs schemathesis, which scripts/test.sh installs (TWITCHER_TEST_SCHEMATHESIS)");
        return;
    };
    let s = start(ServerOptions::default()).await;
    let (_, token) = s.register("Contract").await;
    // Something to find: a video and a playlist holding it.
    let file = make_video(s.dir.path(), "contract", "mp4", &["-t", "2"]);
    assert_eq!(upload(&s, &token, "contract.mp4", std::fs::read(&file).unwrap()).await.0, StatusCode::CREATED);
    let (status, playlist) = s.call(Method::POST, "/api/playlists", Some(&token), Some(json!({ "name": "Contract" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{playlist}");
    // The query rules the contract run cannot check (see the toml): refused, not ignored.
    for query in ["/api/videos?offset=x", "/api/videos?limit=-1", "/api/videos?offset=9223372036854775808", "/api/twitch/stats?refresh=maybe"] {
        let (status, body) = s.call(Method::GET, query, Some(&token), None).await;
        assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{query}: {body}");
    }

    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    let run = tokio::process::Command::new(st)
        .args(["--no-color", "--config-file", config, "run", &format!("{}/api/openapi.json", s.base)])
        // The token through the environment (the config reads it), not argv.
        .env("TWITCHER_CONTRACT_TOKEN", &token)
        .current_dir(s.dir.path())
        .kill_on_drop(true)
        .output()
        .await
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "schemathesis found the server and its document disagreeing:\n{report}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(report.contains("passed") || report.contains("warnings in"), "{report}");
    // The stateful phase ran and followed the document's links (issue 30: without links it only
    // ever met 404s).
    let covered = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("API Links:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no stateful phase in the report:\n{report}"));
    assert!(covered >= 5, "the stateful phase followed only {covered} links:\n{report}");
}

#[tokio::test]
async fn a_server_is_a_node_that_an_admin_sees_with_its_budget_and_a_user_may_not() {
    let s = start(ServerOptions { upload_mbps: Some(40.0), ..Default::default() }).await;
    let (_, admin) = s.register("Admin").await;
    let (_, user) = s.register("User").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let nodes = loop {
        let (status, nodes) = s.call(Method::GET, "/api/nodes", Some(&admin), None).await;
        assert_eq!(status, StatusCode::OK, "{nodes}");
        if nodes.as_array().is_some_and(|n| !n.is_empty()) {
            break nodes;
        }
        assert!(std::time::Instant::now() < deadline, "the server never recorded itself");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let node = &nodes[0];
    assert_eq!(node["id"], s.app.instance_id());
    assert_eq!(node["address"], s.base.trim_start_matches("http://"), "{node}");
    assert_eq!((node["upload_mbps"].as_f64(), node["destinations"].as_i64(), node["alive"].as_bool()), (Some(40.0), Some(0), Some(true)), "{node}");
    let (status, body) = s.call(Method::GET, "/api/nodes", Some(&user), None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "not_admin"));
    let (status, _) = s.call(Method::GET, "/api/nodes", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[a-z_]{0,12}".prop_map(Value::String),
        "\\PC{0,30}".prop_map(Value::String),
    ];
    let fields = prop_oneof![
        Just("video_id".to_string()), Just("account_ids".to_string()), Just("uuid".to_string()), Just("name".to_string()),
        Just("display_name".to_string()), Just("channel_id".to_string()), Just("stream_key".to_string()), Just("stream_id".to_string()),
        Just("all".to_string()), Just("resolution".to_string()), Just("fps".to_string()), Just("at".to_string()), "[a-z]{1,8}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(fields.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `body` with every integer that a double holds exactly written as a float (`7` → `7.0`).
fn integers_as_floats(body: &Value) -> Value {
    match body {
        Value::Number(n) => match n.as_i64() {
            Some(i) if i.unsigned_abs() < (1 << 53) => json!(i as f64),
            _ => body.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(integers_as_floats).collect()),
        Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), integers_as_floats(v))).collect()),
        _ => body.clone(),
    }
}

#[test]
fn random_json_bodies_never_get_a_5xx_and_integers_written_as_floats_are_read_alike() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (s, token) = runtime.block_on(async {
        let s = start(ServerOptions { login_attempts_per_minute: 1000, ..Default::default() }).await;
        let (_, token) = s.register("Fuzz").await;
        (s, token)
    });
    const ENDPOINTS: [&str; 8] =
        ["/api/auth/register", "/api/auth/login", "/api/twitch/link", "/api/streams/start", "/api/streams/stop", "/api/videos/upload", "/api/playlists", "/api/playlists/1/items"];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 300, ..ProptestConfig::default() });
    runner
        .run(&(any_json(), 0..ENDPOINTS.len()), |(body, which)| {
            let (status, answer) = runtime.block_on(s.call(Method::POST, ENDPOINTS[which], Some(&token), Some(body.clone())));
            prop_assert!(!status.is_server_error(), "{} with {body} → {status} {answer}", ENDPOINTS[which]);
            if !status.is_success() {
                prop_assert!(answer["error"]["code"].is_string(), "{} with {body} → {answer}", ENDPOINTS[which]);
                // JSON Schema's integers include `3.0`: the same body with its integers written
                // as floats is answered alike (a refusal stays a refusal with the same code; a
                // success would have changed the server's state, so only refusals are compared).
                let floats = integers_as_floats(&body);
                if floats != body {
                    let (again, answer_again) = runtime.block_on(s.call(Method::POST, ENDPOINTS[which], Some(&token), Some(floats.clone())));
                    prop_assert_eq!(again, status, "{} with {} → {} but with {} → {}", ENDPOINTS[which], body, answer, floats, answer_again);
                    prop_assert_eq!(&answer_again["error"]["code"], &answer["error"]["code"], "{} with {}", ENDPOINTS[which], floats);
                }
            }
            Ok(())
        })
        .unwrap();
    drop(s);
}

// ---- Issue 30: hostile clients, round two ----

/// A proxy on loopback that the server trusts, so tests can speak for any client address.
fn behind_proxy(options: ServerOptions) -> ServerOptions {
    ServerOptions { trusted_proxies: vec![twitcher_server::auth::parse_proxy("127.0.0.0/8").unwrap()], ..options }
}

async fn login_as_client(s: &Server, client: &str, uuid: &str) -> StatusCode {
    login_from(s, [127, 0, 0, 9], Some(client), uuid).await
}

/// Issue 30 item 2: 620 wrong UUIDs from 620 addresses of one /64 shut the ADMIN out (429).
/// Now the /64 is one client, and the cap on all clients never refuses a UUID that exists.
#[tokio::test]
async fn a_flood_of_guesses_from_one_ipv6_64_throttles_only_it_and_a_real_uuid_still_signs_in() {
    let s = start(behind_proxy(ServerOptions { login_attempts_per_minute: 5, login_attempts_all_per_minute: 20, ..Default::default() })).await;
    let (uuid, _) = s.register("Ana").await;
    let mut statuses = Vec::new();
    for n in 1..=12 {
        statuses.push(login_as_client(&s, &format!("2001:db8:77:1::{n:x}"), &uuid::Uuid::new_v4().to_string()).await);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 7, "one /64 is one client: {statuses:?}");
    // Guesses from many /64s fill the cap on everybody…
    for n in 1..=25 {
        login_as_client(&s, &format!("2001:db8:{n:x}::1"), &uuid::Uuid::new_v4().to_string()).await;
    }
    assert_eq!(login_as_client(&s, "2001:db8:ffff::1", &uuid::Uuid::new_v4().to_string()).await, StatusCode::TOO_MANY_REQUESTS, "the cap holds for guesses");
    // …and the ADMIN's UUID still signs in, from a client not throttled itself.
    assert_eq!(login_as_client(&s, "198.51.100.20", &uuid).await, StatusCode::OK);
}

/// Issue 30 item 3: behind a proxy that appends `IP:port`, the client's own forged entry counted.
#[tokio::test]
async fn behind_a_proxy_that_appends_ports_the_client_cannot_pick_its_address() {
    let s = start(behind_proxy(ServerOptions { login_attempts_per_minute: 2, ..Default::default() })).await;
    let (uuid, _) = s.register("Ana").await;
    let wrong = || uuid::Uuid::new_v4().to_string();
    for _ in 0..2 {
        login_as_client(&s, "203.0.113.5, 198.51.100.30:40001", &wrong()).await;
    }
    // The attacker (198.51.100.30) is throttled whatever it writes before the proxy's entry;
    // the victim it names is not.
    assert_eq!(login_as_client(&s, "203.0.113.5, 198.51.100.30:40002", &uuid).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login_as_client(&s, "[2001:db8::5]:9, 198.51.100.30:40003", &uuid).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login_as_client(&s, "203.0.113.5:1000", &uuid).await, StatusCode::OK, "the victim signs in");
    assert_eq!(login_as_client(&s, "[2001:db8::5]:443", &uuid).await, StatusCode::OK);
}

/// Issue 30 item 7: 300 profiles in 0.4 s through open registration.
#[tokio::test]
async fn open_registration_is_limited_per_client_and_the_admin_is_not() {
    let s = start(behind_proxy(ServerOptions { registration: twitcher_core::profiles::Registration::Open, ..Default::default() })).await;
    let (_, admin) = s.register("Admin").await;
    let register = |from: &'static str| {
        let client = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 9])).build().unwrap();
        let url = format!("{}/api/auth/register", s.base);
        async move { client.post(url).header("x-forwarded-for", from).json(&json!({ "name": "Guest" })).send().await.unwrap().status() }
    };
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(register("198.51.100.40").await);
    }
    assert_eq!(answers, [StatusCode::CREATED, StatusCode::CREATED, StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS, StatusCode::TOO_MANY_REQUESTS]);
    assert_eq!(register("198.51.100.41").await, StatusCode::CREATED, "another client");
    for _ in 0..5 {
        assert_eq!(s.call(Method::POST, "/api/auth/register", Some(&admin), Some(json!({ "name": "Team" }))).await.0, StatusCode::CREATED);
    }
}

/// Issue 30 item 10: a page that DNS-rebinds to an empty local server could make itself ADMIN.
#[tokio::test]
async fn an_empty_server_takes_its_first_profile_only_from_its_machine_or_with_the_bootstrap_token() {
    let s = start(behind_proxy(ServerOptions { bootstrap_token: Some("b00t".into()), ..Default::default() })).await;
    let from = |client: &'static str, token: Option<&'static str>| {
        let http = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 9])).build().unwrap();
        let url = format!("{}/api/auth/register", s.base);
        async move {
            let mut request = http.post(url).header("x-forwarded-for", client).json(&json!({ "name": "First" }));
            if let Some(t) = token {
                request = request.header("x-bootstrap-token", t);
            }
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = from("198.51.100.50", None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "registration_closed"), "{body}");
    assert_eq!(from("198.51.100.50", Some("wrong")).await.0, StatusCode::FORBIDDEN);
    let (status, body) = from("198.51.100.50", Some("b00t")).await;
    assert_eq!((status, body["profile"]["role"].as_str()), (StatusCode::CREATED, Some("ADMIN")), "{body}");
}

/// Issue 30 item 10: the `Host` is checked (DNS rebinding) and nothing is sniffed.
#[tokio::test]
async fn a_request_for_another_host_is_refused_and_answers_are_never_sniffed() {
    let s = start(ServerOptions { public_hosts: vec!["twitcher.example.net".into()], ..Default::default() }).await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    for (host, allowed) in [
        (format!("127.0.0.1:{port}"), true),
        (format!("localhost:{port}"), true),
        ("twitcher.example.net".to_string(), true),
        ("TWITCHER.example.net.:443".to_string(), true),
        ("[::1]:8787".to_string(), true),
        (format!("rebind.attacker.example:{port}"), false),
        ("twitcher.example.net.attacker.example".to_string(), false),
    ] {
        let response = s.http.get(format!("{}/api/health", s.base)).header("host", &host).send().await.unwrap();
        assert_eq!(response.headers().get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{host}");
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        if allowed {
            assert_eq!(status, StatusCode::OK, "{host}: {body}");
        } else {
            assert_eq!((status.as_u16(), error_code(&body)), (421, "wrong_host"), "{host}");
        }
    }
}

/// Issue 30 item 4: 150 slowloris connections stayed open 70 s; hyper had no timer.
#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected_within_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start(ServerOptions { header_timeout: Duration::from_secs(1), ..Default::default() }).await;
    let mut socket = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap();
    socket.write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 512];
    // The server answers 408 or simply closes: either way the connection ends.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection is still open after 10 s");
    assert!(started.elapsed() < Duration::from_secs(5), "closed after {:?}", started.elapsed());
}

/// Issue 30 item 4: a limit on open connections; the ones over it are closed at once.
#[tokio::test]
async fn connections_over_the_limit_are_closed_and_the_server_answers_again_once_they_go() {
    use tokio::io::AsyncReadExt;
    let s = start(ServerOptions { max_connections: 3, ..Default::default() }).await;
    let address = s.base.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), extra.read(&mut buf)).await.expect("closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.call(Method::GET, "/api/health", None, None).await.0, StatusCode::OK);
}

/// A 2 MB multipart upload of zeros that trickles in over about a second.
fn trickling_upload(s: &Server, token: &str) -> impl std::future::Future<Output = (StatusCode, Value)> {
    use futures::StreamExt;
    let chunks = futures::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![0u8; 50_000]))).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(25)).await;
        chunk
    });
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(chunks), 2_000_000).file_name("big.mp4");
    let request = s.http.post(format!("{}/api/videos/upload", s.base)).bearer_auth(token).multipart(reqwest::multipart::Form::new().part("file", part));
    async move {
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

async fn set_free_storage(s: &Server, bytes: i64) {
    use sqlx::Connection;
    let db = s.dir.path().join("data").join("twitcher.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query(&format!("UPDATE plans SET max_storage_bytes = {bytes} WHERE name = 'FREE'")).execute(&mut conn).await.unwrap();
}

/// Issue 30 item 4: a 0 GB quota staged 240 MB through six uploads at once. Now a profile sends
/// two at once, and each reserves its declared size from what the plan has left before its body
/// is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_at_once_are_capped_per_profile_and_each_reserves_its_share_of_the_plans_room() {
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    set_free_storage(&s, 100_000_000).await;
    let answers = futures::future::join_all((0..6).map(|_| trickling_upload(&s, &ana))).await;
    let codes = |answers: &[(StatusCode, Value)]| -> Vec<String> {
        let mut codes: Vec<String> = answers.iter().map(|(status, body)| format!("{} {}", status.as_u16(), body["error"]["code"].as_str().unwrap_or(""))).collect();
        codes.sort();
        codes
    };
    // Two are read (and refused by the import: zeros are not a video); four wait their turn.
    let seen = codes(&answers);
    assert_eq!(seen.iter().filter(|c| *c == "429 rate_limited").count(), 4, "{seen:?}");
    assert_eq!(seen.iter().filter(|c| c.starts_with("400 import_")).count(), 2, "{seen:?}");

    // 3 MB left: while one 2 MB upload arrives, another 2 MB one finds 1 MB and is refused at once.
    set_free_storage(&s, 3_000_000).await;
    let first = tokio::spawn(trickling_upload(&s, &ana));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = tokio::spawn(trickling_upload(&s, &ana));
    // While both arrive, only the first is staged: the second was refused on its declared size.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(uploads_left(&s), 1, "the second upload is not stored");
    let (status, body) = second.await.unwrap();
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "plan_limit"), "{body}");
    let (status, body) = first.await.unwrap();
    assert!(status == StatusCode::BAD_REQUEST && error_code(&body).starts_with("import_"), "{status} {body}");
    assert_eq!(uploads_left(&s), 0);
}

/// Issue 30 item 6: a 300-character file name answered `500 io` (the staging file took it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_with_a_very_long_or_strange_name_is_stored_under_the_servers_name_and_titled_cleanly() {
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    let file = make_video(s.dir.path(), "clip", "mp4", &[]);
    let name = format!("{}\u{202E}\tend.mp4", "n".repeat(300));
    let (status, video) = upload(&s, &ana, &name, std::fs::read(&file).unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{video}");
    let title = video["title"].as_str().unwrap();
    assert!(title.chars().count() <= 200 && title.starts_with("nnnn") && !title.contains('\u{202E}') && !title.contains('\t'), "{title:?}");
}

/// Issue 30 item 5: a 60 KB title, and a new line in a title forged a line in the log.
#[tokio::test]
async fn titles_categories_tags_and_names_follow_one_text_rule_on_every_endpoint() {
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    let start = |title: &str, category: &str, tags: Value| json!({ "video_id": 1, "account_ids": [1], "title": title, "category": category, "tags": tags });
    for (body, field) in [
        (start("Night\n2026-12-07T03:00:00Z INFO forged line", "", json!([])), "title"),
        (start(&"x".repeat(141), "", json!([])), "title"),
        (start("ok", &"c".repeat(51), json!([])), "category"),
        (start("ok", "\u{202E}gnimaG", json!([])), "category"),
        (start("ok", "", json!(["two words"])), "tag"),
        (start("ok", "", json!(vec!["t"; 11])), "tags"),
    ] {
        let (status, answer) = s.call(Method::POST, "/api/streams/start", Some(&ana), Some(body)).await;
        assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(field), "{answer}");
    }
    for name in ["Eve\u{202E}", "two\u{2028}lines", "tab\there"] {
        let (status, answer) = s.call(Method::POST, "/api/playlists", Some(&ana), Some(json!({ "name": name }))).await;
        assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "invalid_name"), "{name:?}: {answer}");
        let (status, answer) = s.call(Method::POST, "/api/auth/register", Some(&ana), Some(json!({ "name": name }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {answer}");
    }
}

/// Issue 30 item 8: sessions could not be ended.
#[tokio::test]
async fn logout_ends_every_session_of_the_profile_and_a_new_uuid_ends_them_and_the_old_uuid() {
    let s = start(ServerOptions::default()).await;
    let (uuid, first) = s.register("Ana").await;
    let (_, bo) = s.register("Bo").await;
    let (_, second) = s.call(Method::POST, "/api/auth/login", None, Some(json!({ "uuid": uuid }))).await;
    let second = second["token"].as_str().unwrap().to_string();
    let (status, body) = s.call(Method::POST, "/api/auth/logout", Some(&second), None).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({ "ended": true })));
    for token in [&first, &second] {
        assert_eq!(s.call(Method::GET, "/api/videos", Some(token), None).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&bo), None).await.0, StatusCode::OK, "another profile's session goes on");

    let (_, third) = s.call(Method::POST, "/api/auth/login", None, Some(json!({ "uuid": uuid }))).await;
    let third = third["token"].as_str().unwrap().to_string();
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&third), None).await.0, StatusCode::OK);
    let ana = twitcher_core::profiles::login(&s.app, &uuid).await.unwrap();
    let rotated = twitcher_core::profiles::rotate_uuid(&s.app, &ana).await.unwrap();
    assert_eq!(s.call(Method::GET, "/api/videos", Some(&third), None).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = s.call(Method::POST, "/api/auth/login", None, Some(json!({ "uuid": uuid }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old UUID no longer signs in");
    // (From another address: the failed attempt above locks this one out for a second.)
    assert_eq!(login_from(&s, [127, 0, 0, 31], None, &rotated.uuid.to_string()).await, StatusCode::OK);
}

/// Issue 30 item 10: the README says an ADMIN stops anyone's broadcast; the API answered 404.
/// And item 4: one profile opened 200 event streams to one stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_stops_anyones_broadcast_by_id_and_a_profile_holds_a_bounded_number_of_event_streams() {
    let ingest = Ingest::start();
    let port = ingest.host_port().rsplit(':').next().unwrap().parse().unwrap();
    let s = start(ServerOptions { allowed_ingests: vec![("127.0.0.1".into(), Some(port))], event_streams_per_profile: 2, ..Default::default() }).await;
    let (_, admin) = s.register("Admin").await;
    let (_, bo) = s.register("Bo").await;
    let (_, cy) = s.register("Cy").await;
    let file = make_video(s.dir.path(), "bo", "mp4", &["-t", "2"]);
    let (_, video) = upload(&s, &bo, "bo.mp4", std::fs::read(&file).unwrap()).await;
    let account = s.link(&bo, "31415", "live_31415_LaterStreamKey00001", Some(&ingest.server())).await;
    let (status, started) = s
        .call(
            Method::POST,
            "/api/streams/start",
            Some(&bo),
            Some(json!({ "video_id": video["id"], "account_ids": [account["id"]], "title": "Bo live", "resolution": "640x360", "video_bitrate_k": 800, "loop": true })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let broadcast = started["broadcast_id"].as_str().unwrap().to_string();
    let (_, rows) = s.call(Method::GET, "/api/streams", Some(&bo), None).await;
    let stream_id = rows[0]["id"].as_i64().unwrap();

    // Event streams: two at once for Bo, the third waits; a closed one gives its place back.
    let events = |token: &str| s.http.get(format!("{}/api/streams/{stream_id}/events", s.base)).bearer_auth(token.to_string()).send();
    let first = events(&bo).await.unwrap();
    let second = events(&bo).await.unwrap();
    assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
    let third = events(&bo).await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    drop(first);
    let mut again = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..50 {
        again = events(&bo).await.unwrap().status();
        if again == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again, StatusCode::OK, "a closed stream gives its place back");
    drop(second);

    // Another USER cannot even see it; the ADMIN stops it by its id (an operator taking a
    // channel off the air).
    let stop = json!({ "broadcast_id": broadcast });
    let (status, body) = s.call(Method::POST, "/api/streams/stop", Some(&cy), Some(stop.clone())).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = s.call(Method::POST, "/api/streams/stop", Some(&admin), Some(stop)).await;
    assert_eq!((status, body["stopped"].as_u64()), (StatusCode::OK, Some(1)), "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, rows) = s.call(Method::GET, "/api/streams", Some(&bo), None).await;
        if rows[0]["status"] == "ended" {
            break;
        }
        assert!(Instant::now() < deadline, "the ADMIN's order did not end it: {rows}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // "all" is still the ADMIN's own.
    let (status, body) = s.call(Method::POST, "/api/streams/stop", Some(&admin), Some(json!({ "all": true }))).await;
    assert_eq!((status, body["stopped"].as_u64()), (StatusCode::OK, Some(0)));
}

/// Issue 30 item 7: list endpoints answered everything at once (one query per playlist). Now
/// each answers a page by id with a `Link` to the next one while there may be more.
#[tokio::test]
async fn lists_come_a_page_at_a_time_with_a_link_to_the_next_and_every_row_once() {
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    for i in 0..5 {
        let (status, body) = s.call(Method::POST, "/api/playlists", Some(&ana), Some(json!({ "name": format!("List {i}") }))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for channel in ["3001", "3002", "3003"] {
        s.link(&ana, channel, &format!("live_{channel}_PagedKeyForTheListTest"), None).await;
    }
    for (path, total) in [("/api/playlists", 5), ("/api/twitch/link", 3)] {
        let mut next = Some(format!("{path}?limit=2"));
        let mut seen = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            let response = s.http.get(format!("{}{url}", s.base)).bearer_auth(&ana).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            next = response.headers().get("link").map(|l| {
                let l = l.to_str().unwrap();
                assert!(l.ends_with(r#">; rel="next""#), "{l}");
                l.trim_start_matches('<').split('>').next().unwrap().to_string()
            });
            let items: Vec<Value> = response.json().await.unwrap();
            assert!(items.len() <= 2);
            seen.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
            pages += 1;
        }
        let mut unique = seen.clone();
        unique.dedup();
        assert_eq!((seen.len(), unique.len(), pages), (total, total, total / 2 + 1), "{path}: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "by id: {seen:?}");
    }
    for bad in ["/api/playlists?limit=0", "/api/playlists?limit=501", "/api/streams?cursor=-1"] {
        let (status, body) = s.call(Method::GET, bad, Some(&ana), None).await;
        assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_input"), "{bad}");
    }
}

/// Issue 30 item 4: a JSON body trickled in just inside the idle timeout held its request as
/// long as the client liked. The whole body must now arrive within 30 s (408 `request_timeout`).
#[tokio::test]
async fn a_json_body_trickled_in_byte_by_byte_is_ended_at_its_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start(ServerOptions::default()).await;
    let mut socket = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap();
    let body = format!("{{\"name\":\"{}\"}}", "x".repeat(60));
    let head = format!("POST /api/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    socket.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    for byte in body.bytes() {
        // A byte a second: never idle long enough for the idle timeout.
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(1), socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
        if socket.write_all(&[byte]).await.is_err() {
            break;
        }
    }
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("request_timeout"), "{answer}");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(29) && took < Duration::from_secs(40), "ended after {took:?}");
}

/// Issue 31, item 12: `POST /api/twitch/link` takes an account as OBS does (name, server, key);
/// its `channel_id` is then null, and one given must still be Twitch's number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_linked_without_a_channel_id_and_a_bad_one_is_refused() {
    let s = start(ServerOptions::default()).await;
    let (_, ana) = s.register("Ana").await;
    let body = json!({ "display_name": "Side", "stream_key": "live_0_SideChannelKey12345", "ingest_server": "rtmps://ingest.global-contribute.live-video.net/app" });
    let (status, account) = s.call(Method::POST, "/api/twitch/link", Some(&ana), Some(body.clone())).await;
    assert_eq!((status, &account["channel_id"]), (StatusCode::CREATED, &Value::Null), "{account}");
    let mut bad = body.clone();
    bad["channel_id"] = json!("nightowl");
    let (status, answer) = s.call(Method::POST, "/api/twitch/link", Some(&ana), Some(bad)).await;
    assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{answer}");
    assert_eq!(s.call(Method::GET, "/api/twitch/link", Some(&ana), None).await.1.as_array().unwrap().len(), 1);
}
