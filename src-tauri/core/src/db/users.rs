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
    max_accounts: Option<i64>,
    max_storage_bytes: Option<i64>,
    max_broadcasts: Option<i64>,
    max_live_encodes: Option<i64>,
}

impl From<ProfileRow> for Profile {
    fn from(row: ProfileRow) -> Self {
        Profile {
            id: row.id,
            uuid_hint: row.uuid_hint,
            name: row.name,
            role: row.role,
            plan: row.plan,
            created_at: row.created_at,
            limits: PlanLimits {
                max_accounts: row.max_accounts.map(|n| n as u32),
                max_storage_bytes: row.max_storage_bytes.map(|n| n as u64),
                max_broadcasts: row.max_broadcasts.map(|n| n as u32),
                max_live_encodes: row.max_live_encodes.map(|n| n as u32),
            },
        }
    }
}

const SELECT_PROFILE: &str = "SELECT u.id, u.uuid_hint, u.name, u.role, u.plan, u.created_at, \
     p.max_accounts, p.max_storage_bytes, p.max_broadcasts, p.max_live_encodes FROM users u JOIN plans p ON p.name = u.plan";

impl Db {
    /// Inserts a profile; the first profile of a data dir becomes ADMIN. One statement, so two
    /// concurrent first registrations cannot both become ADMIN.
    pub async fn insert_user(&self, uuid_hash: &str, uuid_hint: &str, name: &str) -> Result<Profile, DbError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (uuid_hash, uuid_hint, name, role) \
             SELECT $1, $2, $3, CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'USER' ELSE 'ADMIN' END \
             RETURNING id",
        )
        .bind(uuid_hash)
        .bind(uuid_hint)
        .bind(name)
        .fetch_one(self.pool())
        .await?;
        self.user_by_id(id).await?.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// Inserts the data dir's first profile (an ADMIN); `None` when there already is one.
    pub async fn insert_first_user(&self, uuid_hash: &str, uuid_hint: &str, name: &str) -> Result<Option<Profile>, DbError> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO users (uuid_hash, uuid_hint, name, role) SELECT $1, $2, $3, 'ADMIN' WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING id",
        )
        .bind(uuid_hash)
        .bind(uuid_hint)
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        match id {
            Some(id) => self.user_by_id(id).await,
            None => Ok(None),
        }
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
        let (max_accounts, max_storage_bytes, max_broadcasts, max_live_encodes): (Option<i64>, Option<i64>, Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT max_accounts, max_storage_bytes, max_broadcasts, max_live_encodes FROM plans WHERE name = $1")
                .bind(plan)
                .fetch_one(self.pool())
                .await?;
        Ok(PlanLimits {
            max_accounts: max_accounts.map(|n| n as u32),
            max_storage_bytes: max_storage_bytes.map(|n| n as u64),
            max_broadcasts: max_broadcasts.map(|n| n as u32),
            max_live_encodes: max_live_encodes.map(|n| n as u32),
        })
    }

    pub async fn set_plan_limits(&self, plan: Plan, limits: &PlanLimits) -> Result<(), DbError> {
        let opt = |n: Option<u64>| n.map(|n| n.min(i64::MAX as u64) as i64);
        sqlx::query("UPDATE plans SET max_accounts = $1, max_storage_bytes = $2, max_broadcasts = $3, max_live_encodes = $4 WHERE name = $5")
            .bind(opt(limits.max_accounts.map(u64::from)))
            .bind(opt(limits.max_storage_bytes))
            .bind(opt(limits.max_broadcasts.map(u64::from)))
            .bind(opt(limits.max_live_encodes.map(u64::from)))
            .bind(plan)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
