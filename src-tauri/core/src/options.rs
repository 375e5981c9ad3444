//! What a process is told at start: where Twitch and the key store are, which database, and the
//! engine's settings that only tests change. Read once at the edge ([`Options::from_env`]) and
//! handed to [`crate::Twitcher::open_with`], so tests set them per instance instead of through
//! process-wide variables. Plain data: the rules that use it live in the services.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{self, env_nonempty};

/// What the environment decides (DESIGN.md §7), read once at the edge so tests can set it
/// per instance instead of through process-wide variables.
#[derive(Debug, Clone)]
pub struct Options {
    /// `TWITCHER_KEYRING`: where a new data key goes.
    pub keyring: KeyringPreference,
    /// `TWITCHER_VAULT_KEY_FILE`: a server's data key, from a file (then no keyring is used).
    pub vault_key_file: Option<PathBuf>,
    /// `TWITCHER_TWITCH_INGEST_URL`: Twitch's ingest list.
    pub ingest_list_url: String,
    /// `TWITCHER_TWITCH_AUTH_URL`, `TWITCHER_TWITCH_API_URL`, `TWITCHER_TWITCH_CLIENT_ID`.
    pub twitch: TwitchConfig,
    /// What tests change in the engine (never read from the environment).
    pub engine: EngineOptions,
    /// `TWITCHER_DATABASE_URL` (`serve --database`): a PostgreSQL database shared by the nodes
    /// of a fleet; none for SQLite in the data dir.
    pub database: Option<String>,
}

impl Options {
    pub fn from_env() -> Self {
        Self {
            keyring: KeyringPreference::from_env_value(env_nonempty(config::ENV_KEYRING).as_deref()),
            vault_key_file: env_nonempty(config::ENV_VAULT_KEY_FILE).map(PathBuf::from),
            ingest_list_url: env_nonempty(config::ENV_INGEST_URL)
                .unwrap_or_else(|| DEFAULT_INGEST_LIST_URL.to_string()),
            twitch: TwitchConfig::from_env(),
            engine: EngineOptions::default(),
            database: env_nonempty(config::ENV_DATABASE_URL),
        }
    }
}

/// Twitch's list of ingest servers.
pub const DEFAULT_INGEST_LIST_URL: &str = "https://ingest.twitch.tv/ingests";

/// Twitch's OAuth and Helix bases.
pub const DEFAULT_AUTH_URL: &str = "https://id.twitch.tv";
pub const DEFAULT_API_URL: &str = "https://api.twitch.tv/helix";

/// Where Twitch is, read once from the environment (tests point it at a local fake).
#[derive(Debug, Clone)]
pub struct TwitchConfig {
    pub auth_url: String,
    pub api_url: String,
    /// `TWITCHER_TWITCH_CLIENT_ID`; else the Settings value; else one compiled in.
    pub client_id: Option<String>,
}

impl TwitchConfig {
    pub fn from_env() -> Self {
        Self {
            auth_url: env_nonempty("TWITCHER_TWITCH_AUTH_URL").unwrap_or_else(|| DEFAULT_AUTH_URL.into()).trim_end_matches('/').into(),
            api_url: env_nonempty("TWITCHER_TWITCH_API_URL").unwrap_or_else(|| DEFAULT_API_URL.into()).trim_end_matches('/').into(),
            client_id: env_nonempty("TWITCHER_TWITCH_CLIENT_ID").map(|c| c.trim().to_string()),
        }
    }
}

/// Which store a new data key goes to (`TWITCHER_KEYRING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyringPreference {
    /// The OS keyring if usable, else the key file (with a warning).
    #[default]
    Auto,
    Os,
    File,
}

impl KeyringPreference {
    pub fn from_env_value(value: Option<&str>) -> Self {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("os") => Self::Os,
            Some("file") => Self::File,
            _ => Self::Auto,
        }
    }
}

/// Twitch ends a stream after 48 hours; reconnecting a little before, at a keyframe, keeps a 24/7
/// loop going with a seconds-long blip instead of an abrupt cut.
pub const PLANNED_RECONNECT: Duration = Duration::from_secs(47 * 3600 + 50 * 60);
/// A playlist join (or a loop's start) this close before the planned reconnect takes it.
pub const JOIN_WINDOW: Duration = Duration::from_secs(3600);

/// Settings of the streaming engine that only tests change, passed in [`Options`] — no
/// environment variable reaches them, so a release build never trusts an extra CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// One more CA trusted for RTMPS (a local test ingest's self-signed CA), besides the web's
    /// root certificates.
    pub extra_ca: Option<PathBuf>,
    /// How long one publish lasts before the planned reconnect (Twitch ends a broadcast at 48 h).
    pub planned_reconnect: Duration,
    /// How long before `planned_reconnect` a pass's start (a playlist join, a loop) is taken
    /// for it instead: a cut between two items is one nobody notices.
    pub join_window: Duration,
    /// How long a destination publishes before the watchdog asks Twitch whether its channel is
    /// live (Helix lags a stream's start by a minute or so), and how often it asks.
    pub offline_after: Duration,
    pub offline_check_every: Duration,
    /// How often a running broadcast's log is written to S3 (when S3 is set up).
    pub log_archive_every: Duration,
    /// The RTMP timestamp of a stream's first tag (a test starts near 0xFFFFFF ms to cover, in
    /// seconds, the extended timestamps that take 4.66 h to reach).
    pub first_timestamp_ms: u64,
    /// Destinations that go live at once and send their bytes nowhere: the engine faked at the
    /// publisher boundary, for a test that drives a month of broadcasts on a simulated clock
    /// (`tests/month.rs`). Only in builds made for tests.
    #[cfg(feature = "testing")]
    pub publish_nowhere: bool,
    /// How often a process renews its leases (`lease`); one not renewed for five of these
    /// belongs to nobody. Every process of a data dir must agree: only a test on a simulated
    /// clock, alone on its database, changes it.
    pub lease_renew_every: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            extra_ca: None,
            planned_reconnect: PLANNED_RECONNECT,
            join_window: JOIN_WINDOW,
            offline_after: Duration::from_secs(120),
            offline_check_every: Duration::from_secs(60),
            log_archive_every: Duration::from_secs(3600),
            first_timestamp_ms: 0,
            #[cfg(feature = "testing")]
            publish_nowhere: false,
            lease_renew_every: Duration::from_secs(2),
        }
    }
}
