//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use twitcher_core::twitch::TwitchConfig;
use twitcher_core::vault::KeyringPreference;
use twitcher_testkit::twitch::{self, FakeTwitch};
use twitcher_core::broadcast::EngineOptions;
use twitcher_core::{Options, Twitcher};

#[allow(unused_imports)]
pub use twitcher_testkit::{contains, make_video, truncate, video_packets, Ingest};

pub async fn open(dir: &Path, keyring: KeyringPreference) -> Twitcher {
    open_with_ingest(dir, keyring, "http://127.0.0.1:9/unreachable").await
}

pub async fn open_with_ingest(dir: &Path, keyring: KeyringPreference, ingest_list_url: &str) -> Twitcher {
    open_with_engine(dir, keyring, ingest_list_url, EngineOptions::default()).await
}

/// With the engine's test settings (an extra CA, a short planned reconnect, a late first timestamp).
pub async fn open_with_engine(dir: &Path, keyring: KeyringPreference, ingest_list_url: &str, engine: EngineOptions) -> Twitcher {
    let database = twitcher_testkit::postgres_database(dir);
    Twitcher::open_with(dir, Options { keyring, vault_key_file: None, ingest_list_url: ingest_list_url.to_string(), twitch: unreachable_twitch(), engine, database }).await.unwrap()
}

/// A data dir opened with the options of the environment (as the CLI and the window open
/// theirs), on the suite's database backend.
pub async fn open_from_env(dir: &Path) -> Twitcher {
    Twitcher::open_with(dir, with_database(dir, Options::from_env())).await.unwrap()
}

/// `options` on the suite's database backend for the data dir `dir` (see
/// [`twitcher_testkit::postgres_database`]).
pub fn with_database(dir: &Path, options: Options) -> Options {
    Options { database: twitcher_testkit::postgres_database(dir), ..options }
}

/// Runs `template` (SQL for both databases, markers of `db::sql`) on the app's database behind
/// its back, with `binds` as i64 or text.
pub async fn execute(app: &Twitcher, template: &str, binds: &[Bind<'_>]) -> u64 {
    let db = app.testing_db();
    let sql = db.testing_sql(template);
    let mut query = sqlx::query(&sql);
    for bind in binds {
        query = match bind {
            Bind::Int(i) => query.bind(*i),
            Bind::Real(f) => query.bind(*f),
            Bind::Text(t) => query.bind(t.to_string()),
        };
    }
    query.execute(db.testing_pool()).await.unwrap().rows_affected()
}

pub enum Bind<'a> {
    Int(i64),
    Real(f64),
    Text(&'a str),
}

/// The time `secs` from now by the database's clock, as the RFC 3339 text rows keep.
pub async fn db_time_in(app: &Twitcher, secs: f64) -> String {
    let db = app.testing_db();
    sqlx::query_scalar(&db.testing_sql("SELECT @now+$1")).bind(secs).fetch_one(db.testing_pool()).await.unwrap()
}

/// One byte more on an account's sealed stream key: it no longer opens.
pub async fn tamper_stream_key(app: &Twitcher, account_id: i64) {
    let db = app.testing_db();
    let mut cipher: Vec<u8> = sqlx::query_scalar("SELECT stream_key_cipher FROM twitch_accounts WHERE id = $1")
        .bind(account_id)
        .fetch_one(db.testing_pool())
        .await
        .unwrap();
    cipher.push(0);
    sqlx::query("UPDATE twitch_accounts SET stream_key_cipher = $1 WHERE id = $2").bind(cipher).bind(account_id).execute(db.testing_pool()).await.unwrap();
}

/// Twitch nowhere: what tests that do not talk to Twitch get.
pub fn unreachable_twitch() -> TwitchConfig {
    TwitchConfig { auth_url: "http://127.0.0.1:9".into(), api_url: "http://127.0.0.1:9/helix".into(), client_id: None }
}

/// A data dir talking to the fake Twitch (and to `ingest_list_url` for the ingest list).
pub async fn open_with_twitch(dir: &Path, fake: &FakeTwitch, ingest_list_url: &str) -> Twitcher {
    open_with_twitch_engine(dir, fake, ingest_list_url, EngineOptions::default()).await
}

pub async fn open_with_twitch_engine(dir: &Path, fake: &FakeTwitch, ingest_list_url: &str, engine: EngineOptions) -> Twitcher {
    let twitch = TwitchConfig { auth_url: fake.auth_url.clone(), api_url: fake.api_url.clone(), client_id: Some(twitch::CLIENT_ID.into()) };
    let database = twitcher_testkit::postgres_database(dir);
    let options = Options { keyring: KeyringPreference::File, vault_key_file: None, ingest_list_url: ingest_list_url.to_string(), twitch, engine, database };
    Twitcher::open_with(dir, options).await.unwrap()
}

/// True when the suite runs with an unlocked Secret Service (scripts/test.sh sets it up).
pub fn secret_service() -> bool {
    std::env::var_os("TWITCHER_TEST_SECRET_SERVICE").is_some()
}

/// A one-route HTTP server on a loopback port that answers every request with `body` as JSON,
/// standing in for one of Twitch's endpoints. Returns its base URL and the request lines seen.
pub async fn serve_json(status: u16, body: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let first = String::from_utf8_lossy(&request).lines().next().unwrap_or_default().to_string();
                log.lock().unwrap().push(first);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// Every file of the data dir's database (main file, WAL, shared memory) as bytes — or, on
/// PostgreSQL, its dump.
pub fn database_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    if let Some(dump) = twitcher_testkit::postgres_dump(dir) {
        return vec![("pg_dump".to_string(), dump)];
    }
    ["twitcher.db", "twitcher.db-wal", "twitcher.db-shm"]
        .iter()
        .filter_map(|name| std::fs::read(dir.join(name)).ok().map(|b| (name.to_string(), b)))
        .collect()
}



/// moto with an SDK client for checks the tests make behind the app's back.
pub struct S3Server {
    moto: twitcher_testkit::Moto,
    pub endpoint: String,
}

impl S3Server {
    pub fn start() -> Option<Self> {
        let moto = twitcher_testkit::Moto::start()?;
        let endpoint = moto.endpoint.clone();
        Some(Self { moto, endpoint })
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "tests"))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn create_bucket(&self, name: &str) {
        self.moto.create_bucket(name);
    }
}

/// An HTTP receiver on a loopback port that answers 204 to every POST and keeps the JSON bodies,
/// standing in for a user's alert webhook. Returns its URL and the bodies received.
pub async fn webhook_receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                    let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                    while request.len() < end + 4 + length {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    if let Ok(body) = serde_json::from_slice(&request[end + 4..end + 4 + length]) {
                        keep.lock().unwrap().push(body);
                    }
                    let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await;
                    return;
                }
            });
        }
    });
    (format!("http://{addr}/hook"), bodies)
}

/// Connects each of the fake's `users` through Twitch's device flow (auto-approved) as an account
/// of `actor` that publishes to `ingest`; returns the account ids in order.
pub async fn connect_accounts(app: &Twitcher, actor: &twitcher_core::profiles::Profile, fake: &FakeTwitch, users: &[&str], ingest: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for user in users {
        fake.auto_approve(user);
        let login = twitcher_core::twitch::begin_connect(app).await.unwrap();
        let account = twitcher_core::twitch::finish_connect(app, actor, login, &Default::default()).await.unwrap().account;
        let input = twitcher_core::accounts::AccountInput {
            display_name: account.display_name.clone(),
            channel_id: account.channel_id.clone(),
            login: account.login.clone(),
            ingest_server: Some(ingest.to_string()),
        };
        twitcher_core::accounts::update(app, actor, account.id, &input).await.unwrap();
        ids.push(account.id);
    }
    ids
}

/// The data dir's first profile, which is its ADMIN (data-dir-wide settings are an ADMIN's to
/// change). For a test that sets one on a fresh data dir.
pub async fn first_profile(app: &Twitcher) -> twitcher_core::profiles::Profile {
    let profile = twitcher_core::profiles::register(app, Some("Admin")).await.unwrap().profile;
    assert_eq!(profile.role, twitcher_core::profiles::Role::Admin, "not the data dir's first profile");
    profile
}
