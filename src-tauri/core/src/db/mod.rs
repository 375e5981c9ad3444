//! The database: SQLite in the data dir (WAL journal, foreign keys enforced) by default, or a
//! PostgreSQL server that the nodes of a fleet share (`serve --database postgres://…`). Both go
//! through sqlx's `Any` driver, with migrations embedded from the repo's `migrations/` folder.
//!
//! Every SQL statement of the app lives under this module, a file per table or area, behind typed
//! functions, written once in the SQL the two databases share (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`, RFC 3339 text for times). The few things they say differently — the time now,
//! comparing times, taking the write lock — are chosen in one place, [`sql`].

pub mod accounts;
mod sql;
pub mod broadcast;
pub mod fleet;
pub mod jobs;
pub mod nodes;
pub mod playlists;
pub mod prepared;
pub mod schedules;
pub mod secrets;
pub mod settings;
pub mod storage;
pub mod tasks;
pub mod twitch;
pub mod users;
pub mod videos;

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use sql::{Backend, Flag};

pub const DB_FILE: &str = "twitcher.db";

/// Each backend has its own migrations (`migrations/sqlite`, `migrations/postgres`), numbered
/// alike: a change to the schema is one file in each, with the same version.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data dir {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("cannot open the database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("the database URL is not one Twitcher can use ({0}): give postgres://user:password@host:port/database, or none for SQLite in the data dir")]
    Url(String),
    #[error("the database could not be migrated: {0}. Nothing was changed; if this database was used by a newer Twitcher, use that version")]
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
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Opens (creating if needed) `DATA_DIR/twitcher.db` and applies pending migrations.
    /// Running it again on a migrated database changes nothing.
    pub async fn open(data_dir: &Path) -> Result<Self, DbError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| DbError::CreateDir { path: data_dir.display().to_string(), source })?;
        let path = data_dir.join(DB_FILE);
        sqlx::any::install_default_drivers();
        // Percent-encoded, so a data dir with `?` or `#` in its name is still one file name.
        let encoded = percent_encode_path(&path.to_string_lossy());
        let options: AnyConnectOptions = format!("sqlite://{encoded}?mode=rwc")
            .parse()
            .map_err(|source| DbError::Open { path: path.display().to_string(), source })?;
        // Four connections: SQLite has one writer at a time, and every connection is a thread of
        // its own with its own page cache (~0.5 MiB each), kept alive by the background work's
        // polls once opened; an idle window had six.
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets the window, the CLI and `serve` read while one writes; NORMAL is
                    // durable across application crashes in WAL mode and much faster than FULL;
                    // the CLI and the desktop app may share a data dir, so each waits for the
                    // other's write lock instead of failing.
                    // The wait comes first: switching the journal may itself wait for a lock.
                    conn.execute(
                        "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        #[cfg(feature = "testing")]
        let (pool, opening) = (held_clock::hold(pool, 4), held_clock::opening());
        let pool = pool
            .connect_with(options)
            .await
            .map_err(|source| DbError::Open { path: path.display().to_string(), source })?;
        #[cfg(feature = "testing")]
        held_clock::all_open(&pool, 4, opening).await;
        migrate_sqlite(&pool).await?;
        Ok(Self { pool, backend: Backend::Sqlite })
    }

    /// Connects to the PostgreSQL database at `url` (what the nodes of a fleet share) and applies
    /// pending migrations; several processes migrating at once are serialised by sqlx's lock.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(DbError::Url(redact_url(url)));
        }
        sqlx::any::install_default_drivers();
        let options: AnyConnectOptions = url.parse().map_err(|_| DbError::Url(redact_url(url)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Every time the app writes is RFC 3339 text in UTC; the server's zone must
                    // not leak into `to_char`.
                    conn.execute("SET TIME ZONE 'UTC'").await?;
                    Ok(())
                })
            });
        #[cfg(feature = "testing")]
        let (pool, opening) = (held_clock::hold(pool, 8), held_clock::opening());
        let pool = pool
            .connect_with(options)
            .await
            .map_err(|source| DbError::Open { path: redact_url(url), source })?;
        #[cfg(feature = "testing")]
        held_clock::all_open(&pool, 8, opening).await;
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Self { pool, backend: Backend::Postgres })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Makes every commit so far durable against a power loss. SQLite in WAL mode with
    /// `synchronous = NORMAL` (fast, and safe when the app crashes) may lose the last commits
    /// when the machine does: a full checkpoint writes the log into the database and syncs it.
    /// What depends on a commit outside the database (a key rotation replacing the stored key)
    /// calls this first. PostgreSQL's commits are synced already.
    pub async fn make_durable(&self) -> Result<(), DbError> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(FULL)").execute(&self.pool).await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// The version of the newest applied migration (0 for an empty database).
    pub async fn schema_version(&self) -> Result<i64, DbError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?;
        Ok(version.unwrap_or(0))
    }

    /// The number of migrations this build knows for this backend; equal to the applied count
    /// once open.
    pub fn known_migrations(&self) -> usize {
        self.migrator().iter().count()
    }

    pub async fn applied_migrations(&self) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The journal mode in force ("wal" once open; PostgreSQL has its own WAL: "postgres").
    pub async fn journal_mode(&self) -> Result<String, DbError> {
        match self.backend {
            Backend::Sqlite => Ok(sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&self.pool).await?),
            Backend::Postgres => Ok("postgres".into()),
        }
    }

    /// Whether foreign keys are enforced on the pool's connections (always, on PostgreSQL).
    pub async fn foreign_keys(&self) -> Result<bool, DbError> {
        match self.backend {
            Backend::Sqlite => {
                let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&self.pool).await?;
                Ok(on == 1)
            }
            Backend::Postgres => Ok(true),
        }
    }

    /// Names of the tables in the schema (without the database's and sqlx's own).
    pub async fn table_names(&self) -> Result<Vec<String>, DbError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx\\_%' ORDER BY table_name"
            }
        };
        Ok(sqlx::query_scalar(sql).fetch_all(&self.pool).await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// For the core's tests, which change rows behind the app's back (a tampered ciphertext, a lease
/// whose process died) in SQL written for both databases.
#[cfg(feature = "testing")]
impl Db {
    pub fn testing_pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction holding the write lock, as another process's writer would.
    pub async fn testing_begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, DbError> {
        self.begin_write().await
    }

    /// `template` with the markers of [`sql`] written for this database.
    pub fn testing_sql(&self, template: &str) -> String {
        self.sql(template).into_owned()
    }
}

/// `path` with the characters a URL gives meaning to percent-encoded (sqlx decodes them).
fn percent_encode_path(path: &str) -> String {
    path.replace('%', "%25").replace('?', "%3F").replace('#', "%23")
}

/// A statement's result with a unique-constraint violation turned into `None`: "one is already
/// there" (a playlist's name, a channel, a file's content) is an answer for the caller to word,
/// not a database error. The one place that tells the two apart, for both dialects.
/// Why an insert held to a rule did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A row like it exists (a unique name).
    Duplicate,
    /// The owner has as many as its plan allows.
    OverLimit,
}

pub(crate) fn unless_duplicate<T>(result: Result<T, sqlx::Error>) -> Result<Option<T>, DbError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A database URL without its password, for error messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(not a URL)".into(),
    }
}

/// A simulated clock (tests; see [`crate::clock`]) runs on tokio's paused clock, which jumps to the
/// next timer as soon as no task can run — also while a task waits for the database, whose
/// connections work on threads of their own: a month's run would see leases expire during a
/// query. So while any connection of a pool is out of its idle queue (lent, being opened or
/// given back), or a pool is being opened, a blocking task runs — and tokio does not move a
/// paused clock while a blocking task runs. The hold is read from the pools' own counts, so no
/// path through sqlx can leave it unbalanced. Every connection is opened with the pool and kept
/// (opening one later would start outside any hook). Nothing of this happens on the real clock.
#[cfg(feature = "testing")]
mod held_clock {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    use sqlx::any::AnyPoolOptions;
    use sqlx::AnyPool;

    /// The pools opened on the simulated clock.
    static POOLS: Mutex<Vec<AnyPool>> = Mutex::new(Vec::new());
    /// Pools being opened now.
    static OPENING: AtomicUsize = AtomicUsize::new(0);
    /// Whether a blocking task holds the clock (the lock is taken before `POOLS`).
    static HOLDING: Mutex<bool> = Mutex::new(false);
    static RELEASED: Condvar = Condvar::new();

    /// The pool's options, holding the clock while a connection is out when it is simulated: all
    /// `connections` opened at once and kept; none pinged before it is lent (that waits outside the
    /// hold).
    pub(super) fn hold(options: AnyPoolOptions, connections: u32) -> AnyPoolOptions {
        if !crate::clock::is_simulated() {
            return options;
        }
        options
            .min_connections(connections)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .before_acquire(|_, _| {
                Box::pin(async {
                    hold_while_busy();
                    Ok(true)
                })
            })
            .after_release(|_, _| {
                Box::pin(async {
                    RELEASED.notify_all();
                    Ok(true)
                })
            })
    }

    /// Holds the clock while a pool opens: until [`all_open`], or the open fails.
    pub(super) struct Opening(bool);

    pub(super) fn opening() -> Opening {
        let simulated = crate::clock::is_simulated();
        if simulated {
            OPENING.fetch_add(1, Ordering::SeqCst);
            hold_while_busy();
        }
        Opening(simulated)
    }

    impl Drop for Opening {
        fn drop(&mut self) {
            if self.0 {
                OPENING.fetch_sub(1, Ordering::SeqCst);
                RELEASED.notify_all();
            }
        }
    }

    /// Waits (holding the clock) until the pool has opened all its connections, then counts it
    /// among those that hold the clock while busy.
    pub(super) async fn all_open(pool: &AnyPool, connections: u32, opening: Opening) {
        if !opening.0 {
            return;
        }
        while pool.size() < connections {
            let _ = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1))).await;
        }
        POOLS.lock().unwrap_or_else(|e| e.into_inner()).push(pool.clone());
        drop(opening);
    }

    fn busy() -> bool {
        OPENING.load(Ordering::SeqCst) > 0 || POOLS.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|p| !p.is_closed() && p.size() as usize > p.num_idle())
    }

    fn hold_while_busy() {
        let mut holding = HOLDING.lock().unwrap_or_else(|e| e.into_inner());
        if *holding {
            return;
        }
        *holding = true;
        drop(holding);
        tokio::task::spawn_blocking(|| {
            let mut holding = HOLDING.lock().unwrap_or_else(|e| e.into_inner());
            while busy() {
                // Woken when a connection is given back — a moment before sqlx puts it back in
                // the idle queue (after a ping), so also every 100 µs: every quiet moment of a
                // simulation passes here, and a millisecond's wait would be minutes of a month.
                holding = RELEASED.wait_timeout(holding, Duration::from_micros(100)).unwrap_or_else(|e| e.into_inner()).0;
            }
            *holding = false;
        });
    }
}

/// Applies SQLite's pending migrations on one connection with foreign keys off, as SQLite's
/// documentation asks for a table made again (the only way to drop a NOT NULL): with them on,
/// dropping the old table would first delete its rows and cascade to every row pointing at
/// them. Each migration still runs in its own transaction; afterwards every reference must
/// hold (`foreign_key_check`), or opening fails and says so.
async fn migrate_sqlite(pool: &AnyPool) -> Result<(), DbError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await?;
    let migrated = SQLITE_MIGRATOR.run(&mut *conn).await;
    let checked: Result<Vec<(String, Option<i64>, String)>, _> =
        sqlx::query_as("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check").fetch_all(&mut *conn).await;
    // Back on before anything else can use this connection, whatever happened.
    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
    migrated?;
    let broken = checked?;
    if let Some((table, row, parent)) = broken.first() {
        let row = row.map_or_else(|| "?".to_string(), |r| r.to_string());
        return Err(DbError::Migrate(sqlx::migrate::MigrateError::Source(
            format!("{} row(s) point at rows that are gone (first: {table} row {row} → {parent})", broken.len()).into(),
        )));
    }
    Ok(())
}
