//! Where a destination publishes: Twitch's ingest servers, the automatic choice, or a custom URL.
//!
//! The list comes from Twitch (`TWITCHER_TWITCH_INGEST_URL`, default
//! `https://ingest.twitch.tv/ingests`), is cached in the database for a day, and falls back to the
//! cache and then to the global default when Twitch cannot be reached. An account stores either
//! nothing (automatic: Twitch's default server at connect time) or a server URL without the key.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::db::{Db, DbError};

pub use crate::options::DEFAULT_INGEST_LIST_URL as DEFAULT_LIST_URL;
/// Twitch's global, geo-routed ingest: used when no list can be had.
pub const BUILT_IN_DEFAULT: &str = "rtmps://ingest.global-contribute.live-video.net/app";
const CACHE_KEY: &str = "ingest.cache";
const CACHE_FRESH: Duration = Duration::from_secs(24 * 3600);
const FETCH_TIMEOUT: Duration = Duration::from_secs(6);

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the ingest URL is not a URL: {0}")]
    NotAUrl(String),
    #[error("the ingest URL must start with rtmp:// or rtmps://")]
    Scheme,
    #[error("the ingest URL has no host")]
    NoHost,
    #[error("the ingest URL must not contain a user name, password, query or fragment")]
    Extras,
    #[error("the ingest URL seems to include a stream key: give only the server (like rtmps://host/app) and the key separately")]
    KeyEmbedded,
}

/// One of Twitch's servers, with URLs stripped of their `/{stream_key}` suffix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct IngestServer {
    pub name: String,
    /// RTMPS when Twitch offers it, else RTMP.
    pub url: String,
    pub default: bool,
    pub priority: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum IngestSource {
    /// Fetched from Twitch just now (or within the last day).
    Twitch,
    /// Twitch could not be reached: an older copy.
    Cache,
    /// Never fetched: only the built-in global server.
    BuiltIn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct IngestList {
    pub servers: Vec<IngestServer>,
    pub source: IngestSource,
    /// What "Automatic (Twitch default)" connects to.
    pub automatic: String,
}

#[derive(Deserialize)]
struct TwitchIngests {
    ingests: Vec<TwitchIngest>,
}

#[derive(Deserialize)]
struct TwitchIngest {
    name: String,
    #[serde(default)]
    default: bool,
    url_template: String,
    #[serde(default)]
    url_template_secure: Option<String>,
    #[serde(default)]
    priority: i64,
}

#[derive(Serialize, Deserialize)]
struct Cached {
    fetched_at_ms: u64,
    servers: Vec<IngestServer>,
}


/// The ingest servers to offer (from the list this data dir is configured with).
pub async fn servers(app: &crate::Twitcher) -> Result<IngestList, DbError> {
    list(&app.db, &app.options().ingest_list_url).await
}

/// The ingest servers to offer, from Twitch if possible. Never fails for want of a network.
pub async fn list(db: &Db, list_url: &str) -> Result<IngestList, DbError> {
    let cached: Option<Cached> = db.setting(CACHE_KEY).await?.and_then(|text| serde_json::from_str(&text).ok());
    if let Some(cache) = &cached {
        if crate::clock::now_ms().saturating_sub(cache.fetched_at_ms) < CACHE_FRESH.as_millis() as u64 {
            return Ok(assemble(cache.servers.clone(), IngestSource::Twitch));
        }
    }
    match fetch(list_url).await {
        Ok(servers) => {
            let cache = Cached { fetched_at_ms: crate::clock::now_ms(), servers: servers.clone() };
            db.set_setting(CACHE_KEY, &serde_json::to_string(&cache).expect("serializable")).await?;
            Ok(assemble(servers, IngestSource::Twitch))
        }
        Err(reason) => {
            tracing::warn!(%reason, "could not fetch Twitch's ingest list");
            Ok(match cached {
                Some(cache) => assemble(cache.servers, IngestSource::Cache),
                None => assemble(Vec::new(), IngestSource::BuiltIn),
            })
        }
    }
}

fn assemble(servers: Vec<IngestServer>, source: IngestSource) -> IngestList {
    let automatic = servers.iter().find(|s| s.default).map(|s| s.url.clone()).unwrap_or_else(|| BUILT_IN_DEFAULT.to_string());
    IngestList { servers, source, automatic }
}

async fn fetch(list_url: &str) -> Result<Vec<IngestServer>, String> {
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("Twitcher/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(list_url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let body: TwitchIngests = response.json().await.map_err(|e| format!("unexpected answer: {e}"))?;
    Ok(parse(body))
}

fn parse(body: TwitchIngests) -> Vec<IngestServer> {
    let mut servers: Vec<IngestServer> = body
        .ingests
        .into_iter()
        .filter(|i| !i.name.to_lowercase().contains("deprecated"))
        .filter_map(|i| {
            let template = i.url_template_secure.filter(|t| !t.is_empty()).unwrap_or(i.url_template);
            let url = template.strip_suffix("/{stream_key}")?.to_string();
            validate(&url).ok()?;
            Some(IngestServer { name: i.name, url, default: i.default, priority: i.priority })
        })
        .collect();
    servers.sort_by(|a, b| b.default.cmp(&a.default).then(a.priority.cmp(&b.priority)).then(a.name.cmp(&b.name)));
    servers
}

/// Checks an ingest server URL and returns it normalized (no trailing slash). A server URL has at
/// most one path segment (the app, usually `app`); anything more is taken for an embedded key.
pub fn validate(url: &str) -> Result<String, IngestError> {
    // Slashes and spaces mixed at the end ("app/ /") all go, so the result checks as itself.
    let trimmed = url.trim().trim_end_matches(|c: char| c == '/' || c.is_whitespace());
    let parsed = url::Url::parse(trimmed).map_err(|e| IngestError::NotAUrl(e.to_string()))?;
    if !matches!(parsed.scheme(), "rtmp" | "rtmps") {
        return Err(IngestError::Scheme);
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(IngestError::NoHost);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(IngestError::Extras);
    }
    let segments = parsed.path_segments().map(|s| s.filter(|p| !p.is_empty()).count()).unwrap_or(0);
    // The URL parser drops tabs and line breaks anywhere, so "li\tve_…" is a key as well.
    let joined: String = trimmed.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    if segments > 1 || joined.contains("live_") || joined.contains("{stream_key}") {
        return Err(IngestError::KeyEmbedded);
    }
    Ok(trimmed.to_string())
}

/// An account's stored choice: `None`, empty or "auto" is automatic; anything else must validate.
pub fn normalize_choice(choice: Option<&str>) -> Result<Option<String>, IngestError> {
    match choice.map(str::trim) {
        None | Some("") => Ok(None),
        Some(c) if c.eq_ignore_ascii_case("auto") => Ok(None),
        Some(c) => validate(c).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_with_rtmp_or_rtmps_and_one_app_segment_are_accepted() {
        assert_eq!(validate("rtmps://ingest.example.net/app/").unwrap(), "rtmps://ingest.example.net/app");
        assert_eq!(validate("rtmp://127.0.0.1:1935/live").unwrap(), "rtmp://127.0.0.1:1935/live");
        assert_eq!(validate(BUILT_IN_DEFAULT).unwrap(), BUILT_IN_DEFAULT);
    }

    #[test]
    fn invalid_ingest_urls_are_refused_with_a_reason() {
        assert!(matches!(validate("https://ingest.example.net/app"), Err(IngestError::Scheme)));
        assert!(matches!(validate("not a url"), Err(IngestError::NotAUrl(_))));
        assert!(matches!(validate("rtmp:///app"), Err(IngestError::NoHost | IngestError::NotAUrl(_))));
        assert!(matches!(validate("rtmp://user:pw@host/app"), Err(IngestError::Extras)));
        assert!(matches!(validate("rtmp://host/app?key=1"), Err(IngestError::Extras)));
        assert!(matches!(validate("rtmp://host/app/live_12345_abcdef"), Err(IngestError::KeyEmbedded)));
        assert!(matches!(validate("rtmp://host/app/secret"), Err(IngestError::KeyEmbedded)));
        assert!(matches!(validate("rtmp://host/app/{stream_key}"), Err(IngestError::KeyEmbedded)));
    }

    #[test]
    fn auto_and_empty_choices_mean_automatic() {
        assert_eq!(normalize_choice(None).unwrap(), None);
        assert_eq!(normalize_choice(Some(" AUTO ")).unwrap(), None);
        assert_eq!(normalize_choice(Some("")).unwrap(), None);
        assert_eq!(normalize_choice(Some("rtmp://h/app")).unwrap().as_deref(), Some("rtmp://h/app"));
    }

    #[test]
    fn twitchs_list_drops_deprecated_servers_prefers_rtmps_and_puts_the_default_first() {
        let body: TwitchIngests = serde_json::from_str(
            r#"{"ingests":[
              {"_id":1,"name":"US West: Los Angeles, CA","default":false,"url_template":"rtmp://lax.contribute.live-video.net/app/{stream_key}","url_template_secure":"rtmps://lax.contribute.live-video.net/app/{stream_key}","priority":2,"availability":1.0},
              {"_id":2,"name":"Europe: Amsterdam (deprecated)","default":false,"url_template":"rtmp://ams.contribute.live-video.net/app/{stream_key}","url_template_secure":"","priority":1,"availability":1.0},
              {"_id":3,"name":"Default","default":true,"url_template":"rtmp://ingest.global-contribute.live-video.net/app/{stream_key}","url_template_secure":"rtmps://ingest.global-contribute.live-video.net/app/{stream_key}","priority":5,"availability":1.0},
              {"_id":4,"name":"Old RTMP only","default":false,"url_template":"rtmp://old.example.net/app/{stream_key}","priority":9,"availability":1.0}
            ]}"#,
        )
        .unwrap();
        let servers = parse(body);
        let names: Vec<_> = servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Default", "US West: Los Angeles, CA", "Old RTMP only"]);
        assert_eq!(servers[1].url, "rtmps://lax.contribute.live-video.net/app");
        assert_eq!(servers[2].url, "rtmp://old.example.net/app");
        assert_eq!(assemble(servers, IngestSource::Twitch).automatic, BUILT_IN_DEFAULT);
    }
}

#[cfg(test)]
mod prop_tests {
    //! Properties of reading Twitch's ingest list (issue 16): whatever the list holds, only
    //! servers whose URL passes [`validate`] are offered, in order. Longer by hand:
    //! `PROPTEST_CASES=100000 cargo test -p twitcher-core --lib prop_tests`
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    /// `default_cases` unless PROPTEST_CASES says otherwise; no regression files in the tree.
    fn config(default_cases: u32) -> Config {
        let mut config = Config { failure_persistence: None, ..Config::default() };
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = default_cases;
        }
        config
    }

    /// Templates as Twitch writes them, and ones it should not.
    fn arb_template() -> impl Strategy<Value = String> {
        let host = "[a-z]{1,10}(\\.[a-z]{2,8}){1,2}";
        prop_oneof![
            4 => ("rtmps?", host, "app|live").prop_map(|(s, h, a)| format!("{s}://{h}/{a}/{{stream_key}}")),
            1 => ("rtmps?", host).prop_map(|(s, h)| format!("{s}://{h}/app")),
            1 => ("https?|srt|rtsp", host).prop_map(|(s, h)| format!("{s}://{h}/app/{{stream_key}}")),
            1 => ("rtmps?", host).prop_map(|(s, h)| format!("{s}://{h}/app/live_123/{{stream_key}}")),
            1 => ("rtmps?", host).prop_map(|(s, h)| format!("{s}://u:p@{h}/app/{{stream_key}}")),
            1 => Just(String::new()),
            1 => any::<String>().prop_map(|s| format!("{s}/{{stream_key}}")),
        ]
    }

    fn arb_ingest() -> impl Strategy<Value = serde_json::Value> {
        let name = prop_oneof![3 => "[A-Za-z :,()]{0,24}", 1 => "[A-Za-z ]{0,8}\\((?i:deprecated)\\)"];
        (name, any::<bool>(), arb_template(), prop::option::of(arb_template()), any::<i64>(), any::<u8>()).prop_map(
            |(name, default, plain, secure, priority, omit)| {
                let mut ingest = serde_json::json!({
                    "_id": 1, "name": name, "default": default, "url_template": plain,
                    "url_template_secure": secure, "priority": priority, "availability": 1.0,
                });
                // Optional fields Twitch may leave out.
                let object = ingest.as_object_mut().unwrap();
                for (bit, key) in [(1, "default"), (2, "url_template_secure"), (4, "priority")] {
                    if omit & bit != 0 {
                        object.remove(key);
                    }
                }
                ingest
            },
        )
    }

    #[test]
    fn twitchs_list_offers_exactly_its_valid_servers_default_first_then_by_priority() {
        TestRunner::new(config(512))
            .run(&prop::collection::vec(arb_ingest(), 0..12), |ingests| {
                let body: TwitchIngests = serde_json::from_value(serde_json::json!({ "ingests": ingests })).unwrap();
                let servers = parse(body);
                // Which entries must be kept, decided from the JSON.
                let kept: Vec<&str> = ingests
                    .iter()
                    .filter(|i| !i["name"].as_str().unwrap().to_lowercase().contains("deprecated"))
                    .filter(|i| {
                        let template = i["url_template_secure"].as_str().filter(|t| !t.is_empty()).or(i["url_template"].as_str()).unwrap();
                        template.strip_suffix("/{stream_key}").is_some_and(|url| validate(url).is_ok())
                    })
                    .map(|i| i["name"].as_str().unwrap())
                    .collect();
                let mut names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
                let mut kept_sorted = kept.clone();
                names.sort();
                kept_sorted.sort();
                prop_assert_eq!(names, kept_sorted);
                for server in &servers {
                    prop_assert!(validate(&server.url).is_ok(), "{:?}", server.url);
                    prop_assert!(!server.url.contains("{stream_key}"), "{:?}", server.url);
                }
                for pair in servers.windows(2) {
                    let key = |s: &IngestServer| (!s.default, s.priority);
                    prop_assert!(key(&pair[0]) <= key(&pair[1]), "{:?} before {:?}", pair[0], pair[1]);
                }
                let list = assemble(servers.clone(), IngestSource::Twitch);
                let expected = servers.iter().find(|s| s.default).map_or(BUILT_IN_DEFAULT, |s| s.url.as_str());
                prop_assert_eq!(list.automatic, expected);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn any_answer_from_the_ingest_list_url_reads_without_panic() {
        let text = prop_oneof![
            any::<String>(),
            prop::collection::vec(arb_ingest(), 0..4).prop_flat_map(|ingests| {
                let text = serde_json::json!({ "ingests": ingests }).to_string();
                let len = text.len();
                (Just(text), 0..=len)
            })
            .prop_map(|(text, cut)| String::from_utf8_lossy(&text.as_bytes()[..cut]).into_owned()),
        ];
        TestRunner::new(config(1024))
            .run(&text, |text| {
                // What `fetch` does with the body: a serde error is "unexpected answer".
                if let Ok(body) = serde_json::from_str::<TwitchIngests>(&text) {
                    for server in parse(body) {
                        prop_assert!(validate(&server.url).is_ok());
                    }
                }
                Ok(())
            })
            .unwrap();
    }
}
