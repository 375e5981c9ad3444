//! # twitcher-core
//!
//! Every domain rule of Twitcher lives here, free of any GUI dependency, so the desktop shell
//! (`twitcher-desktop`), the command line (`twitcher`) and later the HTTP server are thin layers
//! over the same code.
//!
//! # Layout
//! | module      | owns |
//! |-------------|------|
//! | [`config`]   | where the data dir is, environment overrides |
//! | [`db`]       | SQLite in the data dir or a fleet's PostgreSQL, migrations, and every SQL statement |
//! | [`profiles`] | UUID profiles: register, login (throttled), roles, plans and their limits |
//! | [`vault`]    | the data key (OS keyring or key file), AES-256-GCM seal/open, rotation |
//! | [`accounts`] | Twitch accounts: add/list/update/remove, stream keys through the vault, plan limits |
//! | [`ingest`]   | Twitch's ingest servers (fetched, cached, built-in default) and URL validation |
//! | [`library`]  | video import (a job per file), search/filter/sort, edit, remove, storage quota |
//! | [`playlists`]| named, ordered lists of videos a broadcast plays: loop, shuffle, inserts, per-item titles |
//! | [`schedules`]| recurring starts: a local time in an IANA zone on chosen days, DST-correct, with an end |
//! | [`storage`]  | S3-compatible storage: settings, uploads (multipart, resumable), fetch, delete |
//! | [`twitch`]   | Twitch's OAuth (device flow, refresh, validate, revoke) and Helix: stats, channel settings |
//! | [`broadcast`]| the streaming engine: prepare, paced FLV source, fan-out, RTMP(S) publishers, supervisor, stop orders and leases |
//! | [`runtime`]  | the background work of the window and `serve`, started and shut down in one place |
//! | [`nodes`]    | the `serve` processes on a database: heartbeats, what each carries |
//! | [`jobs`]     | durable background jobs: claim, retry with backoff, recovery after a crash |
//! | [`alerts`]   | notifications and the webhook: destination lost/failed/recovered, scheduled start, end |
//! | [`events`]   | the typed event stream (job progress, library changes) the surfaces forward |
//! | [`media`]    | ffmpeg/ffprobe (sidecar, env, PATH), probing by content, verifying, thumbnails |
//! | [`logging`]  | tracing to a rotating file, every line through one redaction layer |
//! | [`redact`]   | the redaction rules: UUIDs, stream keys, registered secrets |
//! | [`doctor`]   | the report of what the app found on this machine |
//! | [`error`]    | the aggregate error with a stable `{code, message}` for every surface |
//!
//! The [`Twitcher`] handle opens a data dir once and is cheap to clone.

pub mod accounts;
pub mod alerts;
pub mod broadcast;
pub mod clock;
pub mod config;
pub mod db;
pub mod doctor;
pub mod error;
pub mod events;
pub mod ingest;
pub mod jobs;
pub mod library;
pub mod logging;
pub mod media;
pub mod nodes;
pub mod outbound;
pub mod playlists;
pub mod private_files;
pub mod profiles;
pub mod redact;
pub mod runtime;
pub mod schedules;
pub mod storage;
pub mod twitch;
pub mod vault;

pub use db::DbError;
pub use error::{Error, ErrorBody};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vault::{KeyringPreference, Vault};

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
    pub twitch: twitch::TwitchConfig,
    /// What tests change in the engine (never read from the environment).
    pub engine: broadcast::EngineOptions,
    /// `TWITCHER_DATABASE_URL` (`serve --database`): a PostgreSQL database shared by the nodes
    /// of a fleet; none for SQLite in the data dir.
    pub database: Option<String>,
}

impl Options {
    pub fn from_env() -> Self {
        Self {
            keyring: KeyringPreference::from_env_value(config::env_nonempty(config::ENV_KEYRING).as_deref()),
            vault_key_file: config::env_nonempty(config::ENV_VAULT_KEY_FILE).map(PathBuf::from),
            ingest_list_url: config::env_nonempty(config::ENV_INGEST_URL)
                .unwrap_or_else(|| ingest::DEFAULT_LIST_URL.to_string()),
            twitch: twitch::TwitchConfig::from_env(),
            engine: broadcast::EngineOptions::default(),
            database: config::env_nonempty(config::ENV_DATABASE_URL),
        }
    }
}

/// An opened data dir: the database (migrated), where it lives, and the vault once first needed.
/// Clone it freely: everything inside is shared.
#[derive(Clone, Debug)]
pub struct Twitcher {
    /// Only the core touches the database: every surface goes through the domain modules.
    pub(crate) db: db::Db,
    data_dir: PathBuf,
    options: Options,
    /// Loaded on first use (it may touch the OS keyring). A tokio Mutex on purpose: it is held
    /// across the load, so two first uses cannot both create a key.
    vault: Arc<tokio::sync::Mutex<Option<Vault>>>,
    pub events: events::Events,
    /// Wakes the job worker when a job is queued.
    pub(crate) jobs_changed: Arc<tokio::sync::Notify>,
    pub(crate) running_jobs: jobs::RunningJobs,
    /// Broadcasts running in this process.
    pub broadcasts: broadcast::Running,
    /// Helix's rate-limit bucket as last seen by this process.
    pub(crate) twitch_limit: twitch::RateLimit,
    /// This process's id in leases (`streams.owner_instance`): random, so it means one process
    /// on one machine.
    instance: Arc<str>,
    /// Whether this process's lease renewal runs ([`broadcast::lease`]).
    pub(crate) lease_keeper: Arc<std::sync::atomic::AtomicBool>,
    /// Whether this process runs the job worker (then waiting for a job never runs it inline).
    pub(crate) worker_running: Arc<std::sync::atomic::AtomicBool>,
    /// Where this process may connect out to (`serve` restricts it; see [`outbound`]).
    outbound: Arc<std::sync::RwLock<outbound::OutboundPolicy>>,
    /// Whether this process is a node of a fleet (`serve`): its broadcasts' destinations are
    /// claimed by the nodes ([`broadcast::fleet`]) instead of published where they are started.
    node: Arc<std::sync::atomic::AtomicBool>,
    /// Wakes this node's claim loop when destinations start waiting.
    pub(crate) fleet_wake: Arc<tokio::sync::Notify>,
}

impl Twitcher {
    /// Creates the data dir if needed, opens the database and applies pending migrations, with
    /// options from the environment.
    pub async fn open(data_dir: &Path) -> Result<Self, Error> {
        Self::open_with(data_dir, Options::from_env()).await
    }

    pub async fn open_with(data_dir: &Path, options: Options) -> Result<Self, Error> {
        let db = match &options.database {
            Some(url) => {
                // The data dir still holds what is this machine's: the library's local files,
                // prepared media, logs.
                std::fs::create_dir_all(data_dir).map_err(|source| db::DbError::CreateDir { path: data_dir.display().to_string(), source })?;
                db::Db::connect(url).await?
            }
            None => db::Db::open(data_dir).await?,
        };
        // Paths stored in the database (library files, thumbnails) must not depend on the
        // working directory of whoever opened it.
        let data_dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        // What an older version (or a copy) left readable by others becomes private.
        let dir = data_dir.clone();
        match tokio::task::spawn_blocking(move || private_files::tighten(&dir)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(entries = n, "made the data dir's files private to their owner"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not make the data dir private (a file system without permissions?)"),
            Err(e) => tracing::warn!(error = %e, "could not make the data dir private"),
        }
        Ok(Self {
            db,
            data_dir,
            options,
            vault: Arc::default(),
            events: events::Events::default(),
            jobs_changed: Arc::default(),
            running_jobs: Arc::default(),
            broadcasts: broadcast::Running::default(),
            twitch_limit: twitch::RateLimit::default(),
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
            lease_keeper: Arc::default(),
            worker_running: Arc::default(),
            outbound: Arc::default(),
            node: Arc::default(),
            fleet_wake: Arc::default(),
        })
    }

    /// Whether this process is a node of a fleet (see [`runtime::Runtime::start_node`]).
    pub fn is_node(&self) -> bool {
        self.node.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn become_node(&self) {
        self.node.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on, ingests are checked against `policy` when saved and at every connect (what
    /// `serve` does before it listens).
    pub fn restrict_outbound(&self, policy: outbound::OutboundPolicy) {
        *self.outbound.write().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    pub fn outbound(&self) -> outbound::OutboundPolicy {
        self.outbound.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A setting of this data dir (the surfaces' own switches: desktop notifications, close to
    /// tray).
    pub async fn setting(&self, key: &str) -> Result<Option<String>, db::DbError> {
        self.db.setting(key).await
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), db::DbError> {
        self.db.set_setting(key, value).await
    }

    /// Closes the database (WAL checkpoint) before the process exits.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// A random secret Twitcher keeps for itself under `name` (the API's token signing key),
    /// sealed in the vault: made on first use, the same one afterwards.
    pub async fn named_secret(&self, name: &str, len: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, vault::VaultError> {
        self.vault().await?.named_secret(&self.db, name, len).await
    }

    /// The database itself, for the core's integration tests and benches (feature `testing`).
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn testing_db(&self) -> &db::Db {
        &self.db
    }

    /// This process's id in stream leases.
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The vault, loading or creating the data key on first use.
    ///
    /// Before handing it out, it checks the key recorded in the database: when another process
    /// rotated it, the new key is loaded from its store. (A seal that still races a rotation is
    /// refused by the database itself: see [`db::DbError::KeySuperseded`].)
    pub async fn vault(&self) -> Result<Vault, vault::VaultError> {
        let mut slot = self.vault.lock().await;
        if let Some(vault) = slot.as_ref() {
            let recorded = self.db.vault_record().await?;
            if recorded.as_ref().is_some_and(|(id, backend)| id == vault.key_id() && *backend == vault.backend()) {
                return Ok(vault.clone());
            }
            tracing::info!("the data key was changed by another process: loading the new one");
        }
        let vault = Vault::load(&self.db, &self.data_dir, self.options.keyring, self.options.vault_key_file.as_deref()).await?;
        self.bind_owners(&vault).await?;
        *slot = Some(vault.clone());
        Ok(vault)
    }

    /// Secrets sealed before their owner was bound into them are sealed again, once.
    async fn bind_owners(&self, vault: &Vault) -> Result<(), vault::VaultError> {
        let moved = self.db.bind_owners(|old, new, sealed| Ok(vault.seal(new, &vault.open(old, sealed)?))).await?;
        if moved > 0 {
            tracing::info!(secrets = moved, "bound each profile's secrets to their owner and row");
        }
        Ok(())
    }

    /// Re-seals every secret under a new data key; returns how many secrets moved.
    pub async fn rotate_vault(&self) -> Result<usize, vault::VaultError> {
        let mut slot = self.vault.lock().await;
        // Always the recorded key: another process may have rotated since this one loaded it.
        let current = Vault::load(&self.db, &self.data_dir, self.options.keyring, self.options.vault_key_file.as_deref()).await?;
        self.bind_owners(&current).await?;
        let (next, count) = current.rotate(&self.db, &self.data_dir, self.options.keyring).await?;
        *slot = Some(next);
        Ok(count)
    }
}
