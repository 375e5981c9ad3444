//! The handle every service takes: an opened data dir (the database, migrated), where it lives,
//! the vault once first needed, the event stream, the options it was opened with, and what this
//! process holds in memory ([`Registry`]). Clone it freely: everything inside is shared.
//!
//! It sits below the services so that each of them can add its own `impl Twitcher` blocks or
//! take `&Twitcher` without the handle knowing any of them.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::db::{self, DbError};
use crate::events::Events;
use crate::model::Profile;
use crate::options::Options;
use crate::outbound::OutboundPolicy;
use crate::private_files;
use crate::registry::{Registry, Running};
use crate::vault::{Vault, VaultError};

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
    pub events: Events,
    /// What this process holds in memory: broadcasts and jobs it runs, loops it started.
    pub(crate) registry: Registry,
    /// This process's id in leases (`streams.owner_instance`): random, so it means one process
    /// on one machine.
    instance: Arc<str>,
}

impl Twitcher {
    /// Creates the data dir if needed, opens the database and applies pending migrations. The
    /// public door is [`Twitcher::open`] (`job_kinds.rs`), which also installs the job kinds.
    pub(crate) async fn connect(data_dir: &Path, options: Options) -> Result<Self, DbError> {
        let db = match &options.database {
            Some(url) => {
                // The data dir still holds what is this machine's: the library's local files,
                // prepared media, logs.
                std::fs::create_dir_all(data_dir).map_err(|source| DbError::CreateDir { path: data_dir.display().to_string(), source })?;
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
        // Key copies a killed process left half-written (each a copy of a key) go.
        let dir = data_dir.clone();
        let _ = tokio::task::spawn_blocking(move || crate::vault::sweep_leftovers(&dir)).await;
        Ok(Self {
            db,
            data_dir,
            options,
            vault: Arc::default(),
            events: Events::default(),
            registry: Registry::default(),
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
        })
    }

    /// Whether this process is a node of a fleet (see `runtime::Runtime::start_node`).
    pub fn is_node(&self) -> bool {
        self.registry.node.load(Ordering::SeqCst)
    }

    pub(crate) fn become_node(&self) {
        self.registry.node.store(true, Ordering::SeqCst);
    }

    /// From now on, ingests are checked against `policy` when saved and at every connect (what
    /// `serve` does before it listens).
    pub fn restrict_outbound(&self, policy: OutboundPolicy) {
        *self.registry.outbound.write().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    pub fn outbound(&self) -> OutboundPolicy {
        self.registry.outbound.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A setting of this data dir (the surfaces' own switches: desktop notifications, close to
    /// tray).
    pub async fn setting(&self, key: &str) -> Result<Option<String>, DbError> {
        self.db.setting(key).await
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), DbError> {
        self.db.set_setting(key, value).await
    }

    /// Closes the database (WAL checkpoint) before the process exits.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// A random secret Twitcher keeps for itself under `name` (the API's token signing key),
    /// sealed in the vault: made on first use, the same one afterwards.
    pub async fn named_secret(&self, name: &str, len: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, VaultError> {
        self.vault().await?.named_secret(&self.db, name, len).await
    }

    /// The database itself, for the core's integration tests and benches (feature `testing`).
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn testing_db(&self) -> &db::Db {
        &self.db
    }

    /// What this process keeps in memory, part by part, as counts: a test of a long run checks
    /// that none grows (feature `testing`).
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn testing_registry_sizes(&self) -> Vec<(&'static str, usize)> {
        let jobs = self.registry.running_jobs.lock().map(|j| j.len()).unwrap_or(0);
        vec![
            ("broadcasts running", self.registry.broadcasts.count()),
            ("supervisors kept", self.registry.broadcasts.adopted()),
            ("jobs running", jobs),
            ("tasks", self.registry.tasks.report(self.instance_id()).len()),
            ("event subscribers", self.events.subscribers()),
        ]
    }

    /// The broadcasts running in this process (the tray and `/api/health` count them).
    pub fn broadcasts(&self) -> &Running {
        &self.registry.broadcasts
    }

    /// This process's id in stream leases.
    /// How this process's supervised background tasks are doing (see [`crate::tasks`]).
    pub fn tasks(&self) -> &crate::tasks::Tasks {
        &self.registry.tasks
    }

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
    pub async fn vault(&self) -> Result<Vault, VaultError> {
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
    async fn bind_owners(&self, vault: &Vault) -> Result<(), VaultError> {
        let moved = self.db.bind_owners(|old, new, sealed| Ok::<_, VaultError>(vault.seal(new, &vault.open(old, sealed)?))).await?;
        if moved > 0 {
            tracing::info!(secrets = moved, "bound each profile's secrets to their owner and row");
        }
        Ok(())
    }

    /// Re-seals every secret under a new data key (an ADMIN's act); returns how many moved.
    pub async fn rotate_vault(&self, actor: &Profile) -> Result<crate::vault::Rotation, VaultError> {
        actor.require_admin()?;
        let mut slot = self.vault.lock().await;
        // Always the recorded key: another process may have rotated since this one loaded it.
        let current = Vault::load(&self.db, &self.data_dir, self.options.keyring, self.options.vault_key_file.as_deref()).await?;
        self.bind_owners(&current).await?;
        let (next, rotation) = current.rotate(&self.db, &self.data_dir, self.options.keyring).await?;
        *slot = Some(next);
        Ok(rotation)
    }
}
