//! The `users` and `plans` tables.

use super::{Db, DbError};
use crate::model::{Plan, PlanLimits, Profile, Role};

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: i64,
    uuid_hint: String,
    name: String,
    role: Role,
    plan: Plan,
    created_at: String,
    #[sqlx(flatten)]
    limits: LimitsRow,
}

/// A `plans` row's limits (NULL: unlimited).
#[derive(sqlx::FromRow)]
struct LimitsRow {
    max_accounts: Option<i64>,
    max_storage_bytes: Option<i64>,
    max_broadcasts: Option<i64>,
    max_live_encodes: Option<i64>,
    max_playlists: Option<i64>,
    max_schedules: Option<i64>,
    max_scheduled: Option<i64>,
}

const LIMIT_COLUMNS: &str = "max_accounts, max_storage_bytes, max_broadcasts, max_live_encodes, max_playlists, max_schedules, max_scheduled";

impl From<LimitsRow> for PlanLimits {
    fn from(r: LimitsRow) -> Self {
        let n = |v: Option<i64>| v.map(|n| n as u32);
        PlanLimits {
            max_accounts: n(r.max_accounts),
            max_storage_bytes: r.max_storage_bytes.map(|n| n as u64),
            max_broadcasts: n(r.max_broadcasts),
            max_live_encodes: n(r.max_live_encodes),
            max_playlists: n(r.max_playlists),
            max_schedules: n(r.max_schedules),
            max_scheduled: n(r.max_scheduled),
        }
    }
}

impl From<ProfileRow> for Profile {
    fn from(row: ProfileRow) -> Self {
        Profile { id: row.id, uuid_hint: row.uuid_hint, name: row.name, role: row.role, plan: row.plan, created_at: row.created_at, limits: row.limits.into() }
    }
}

const SELECT_PROFILE: &str = "SELECT u.id, u.uuid_hint, u.name, u.role, u.plan, u.created_at, \
     p.max_accounts, p.max_storage_bytes, p.max_broadcasts, p.max_live_encodes, p.max_playlists, p.max_schedules, p.max_scheduled \
     FROM users u JOIN plans p ON p.name = u.plan";

impl Db {
    /// Inserts a profile; the first profile of a data dir becomes ADMIN. Under the write lock:
    /// on PostgreSQL one statement is not enough (two transactions both see no row under READ
    /// COMMITTED and both insert an ADMIN; issue 30 saw it in 1 of 5 trials of 40 at once).
    pub async fn insert_user(&self, uuid_hash: &str, uuid_hint: &str, name: &str, session_key: &str) -> Result<Profile, DbError> {
        let mut tx = self.begin_write().await?;
        let (id_column, id_value) = self.new_user_id();
        let id: i64 = sqlx::query_scalar(&format!(
            "INSERT INTO users ({id_column}uuid_hash, uuid_hint, name, role, session_key) \
             SELECT {id_value}$1, $2, $3, CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'USER' ELSE 'ADMIN' END, $4 \
             RETURNING id"
        ))
        .bind(uuid_hash)
        .bind(uuid_hint)
        .bind(name)
        .bind(session_key)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.user_by_id(id).await?.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// Inserts the data dir's first profile (an ADMIN); `None` when there already is one. Under
    /// the write lock, as [`Db::insert_user`].
    pub async fn insert_first_user(&self, uuid_hash: &str, uuid_hint: &str, name: &str, session_key: &str) -> Result<Option<Profile>, DbError> {
        let mut tx = self.begin_write().await?;
        let (id_column, id_value) = self.new_user_id();
        let id: Option<i64> = sqlx::query_scalar(&format!(
            "INSERT INTO users ({id_column}uuid_hash, uuid_hint, name, role, session_key) \
             SELECT {id_value}$1, $2, $3, 'ADMIN', $4 WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING id"
        ))
        .bind(uuid_hash)
        .bind(uuid_hint)
        .bind(name)
        .bind(session_key)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        match id {
            Some(id) => self.user_by_id(id).await,
            None => Ok(None),
        }
    }

    /// The id column and value of a new profile, so an id is never handed out twice (a token, a
    /// log line or an `active_profile_id` that named a deleted profile never names another). On
    /// SQLite `users` has no AUTOINCREMENT (a table cannot gain it) and a delete would let the
    /// highest id come back: new ids go past every id that was ever used, the deleted ones kept
    /// in `retired_user_ids` by a trigger. PostgreSQL's identity sequence never goes back.
    fn new_user_id(&self) -> (&'static str, &'static str) {
        match self.backend() {
            super::Backend::Sqlite => (
                "id, ",
                "MAX((SELECT COALESCE(MAX(id), 0) FROM users), (SELECT COALESCE(MAX(id), 0) FROM retired_user_ids)) + 1, ",
            ),
            super::Backend::Postgres => ("", ""),
        }
    }

    /// Whether any profile exists (a server with none takes its first registration only from
    /// its own machine).
    pub async fn has_users(&self) -> Result<bool, DbError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users").fetch_one(self.pool()).await? > 0)
    }

    /// The key a profile's session tokens must carry, when the profile exists. Changing it
    /// (sign-out everywhere, a new UUID) ends every token issued before.
    pub async fn user_session_key(&self, id: i64) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar("SELECT session_key FROM users WHERE id = $1").bind(id).fetch_optional(self.pool()).await?)
    }

    pub async fn set_user_session_key(&self, id: i64, session_key: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE users SET session_key = $1 WHERE id = $2").bind(session_key).bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// A new UUID for a profile (its hash and hint) and a new session key, in one statement.
    pub async fn set_user_uuid(&self, id: i64, uuid_hash: &str, uuid_hint: &str, session_key: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE users SET uuid_hash = $1, uuid_hint = $2, session_key = $3 WHERE id = $4")
            .bind(uuid_hash)
            .bind(uuid_hint)
            .bind(session_key)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<Profile>, DbError> {
        Ok(sqlx::query_as::<_, ProfileRow>(&format!("{SELECT_PROFILE} WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(Profile::from))
    }

    pub async fn user_by_uuid_hash(&self, uuid_hash: &str) -> Result<Option<Profile>, DbError> {
        Ok(sqlx::query_as::<_, ProfileRow>(&format!("{SELECT_PROFILE} WHERE u.uuid_hash = $1"))
            .bind(uuid_hash)
            .fetch_optional(self.pool())
            .await?
            .map(Profile::from))
    }

    pub async fn list_users(&self) -> Result<Vec<Profile>, DbError> {
        Ok(sqlx::query_as::<_, ProfileRow>(&format!("{SELECT_PROFILE} ORDER BY u.id"))
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(Profile::from)
            .collect())
    }

    pub async fn set_user_plan(&self, id: i64, plan: Plan) -> Result<(), DbError> {
        sqlx::query("UPDATE users SET plan = $1 WHERE id = $2")
            .bind(plan)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn plan_limits(&self, plan: Plan) -> Result<PlanLimits, DbError> {
        let row: LimitsRow = sqlx::query_as(&format!("SELECT {LIMIT_COLUMNS} FROM plans WHERE name = $1")).bind(plan).fetch_one(self.pool()).await?;
        Ok(row.into())
    }

    pub async fn set_plan_limits(&self, plan: Plan, limits: &PlanLimits) -> Result<(), DbError> {
        let opt = |n: Option<u64>| n.map(|n| n.min(i64::MAX as u64) as i64);
        sqlx::query(
            "UPDATE plans SET max_accounts = $1, max_storage_bytes = $2, max_broadcasts = $3, max_live_encodes = $4, \
             max_playlists = $5, max_schedules = $6, max_scheduled = $7 WHERE name = $8",
        )
            .bind(opt(limits.max_accounts.map(u64::from)))
            .bind(opt(limits.max_storage_bytes))
            .bind(opt(limits.max_broadcasts.map(u64::from)))
            .bind(opt(limits.max_live_encodes.map(u64::from)))
            .bind(opt(limits.max_playlists.map(u64::from)))
            .bind(opt(limits.max_schedules.map(u64::from)))
            .bind(opt(limits.max_scheduled.map(u64::from)))
            .bind(plan)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
