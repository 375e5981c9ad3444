//! The SQLite database: one pool per data dir, WAL journal, foreign keys enforced, migrations
//! embedded from the repo's `migrations/` folder.
//!
//! Every SQL statement of the app lives under this module, a file per table or area, behind typed
//! functions — so that a PostgreSQL implementation for multi-node servers (DESIGN.md §9) is one
//! module's work.

pub mod accounts;
pub mod broadcast;
pub mod jobs;
pub mod playlists;
pub mod schedules;
pub mod secrets;
pub mod settings;
pub mod storage;
pub mod twitch;
pub mod users;
pub mod videos;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub const DB_FILE: &str = "twitcher.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data dir {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("cannot open the database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("the database could not be migrated: {0}. Nothing was changed; if this data dir was used by a newer Twitcher, use that version")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("the data key was rotated by another Twitcher process on this data dir while this one was saving a secret: nothing was saved. Try again")]
    KeySuperseded,
}

/// A handle to the database. Cloning shares the pool (already synchronized: never wrap it in a
/// Mutex).
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens (creating if needed) `DATA_DIR/twitcher.db` and applies pending migrations.
    /// Running it again on a migrated database changes nothing.
    pub async fn open(data_dir: &Path) -> Result<Self, DbError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| DbError::CreateDir { path: data_dir.display().to_string(), source })?;
        let path = data_dir.join(DB_FILE);
        let options = SqliteConnectOptions::from_str("sqlite:")
            .expect("static sqlite URL")
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode and much faster than FULL.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // The CLI and the desktop app may share a data dir: wait for the other's write lock.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|source| DbError::Open { path: path.display().to_string(), source })?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The version of the newest applied migration (0 for an empty database).
    pub async fn schema_version(&self) -> Result<i64, DbError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(version.unwrap_or(0))
    }

    /// The number of migrations this build knows; equal to the applied count once open.
    pub fn known_migrations() -> usize {
        MIGRATOR.iter().count()
    }

    pub async fn applied_migrations(&self) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The journal mode in force ("wal" once open).
    pub async fn journal_mode(&self) -> Result<String, DbError> {
        Ok(sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&self.pool).await?)
    }

    /// Whether foreign keys are enforced on the pool's connections.
    pub async fn foreign_keys(&self) -> Result<bool, DbError> {
        Ok(sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&self.pool).await?)
    }

    /// Names of the tables in the schema (without SQLite's and sqlx's own).
    pub async fn table_names(&self) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
