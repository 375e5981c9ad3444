//! The `twitch_accounts` table. Stream keys are stored sealed (see [`crate::vault`]); this module
//! only moves their bytes.

use super::{Db, DbError};
use crate::model::Account;
use crate::redact::masked_key_from_hint;
use crate::model::{Sealed, SecretRef};

pub const TABLE: &str = "twitch_accounts";
pub const STREAM_KEY: &str = "stream_key";

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    display_name: String,
    login: Option<String>,
    channel_id: Option<String>,
    ingest_server: Option<String>,
    stream_key_hint: Option<String>,
    #[sqlx(try_from = "crate::db::Flag")]
    has_key: bool,
    #[sqlx(try_from = "crate::db::Flag")]
    connected: bool,
    avatar_url: Option<String>,
    auth_problem: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            id: r.id,
            display_name: r.display_name,
            login: r.login,
            channel_id: r.channel_id,
            ingest_server: r.ingest_server,
            stream_key: r.has_key.then(|| masked_key_from_hint(r.stream_key_hint.as_deref().unwrap_or(""))),
            connected: r.connected,
            avatar_url: r.avatar_url,
            auth_problem: r.auth_problem,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT: &str = "SELECT id, display_name, login, channel_id, ingest_server, stream_key_hint, \
     stream_key_cipher IS NOT NULL AS has_key, refresh_token_cipher IS NOT NULL AS connected, avatar_url, auth_problem, created_at, updated_at FROM twitch_accounts";

/// The columns of an account besides its key.
pub struct AccountFields<'a> {
    pub display_name: &'a str,
    pub login: Option<&'a str>,
    pub channel_id: Option<&'a str>,
    pub ingest_server: Option<&'a str>,
}

/// What inserting an account can run into besides a database failure.
pub enum InsertOutcome {
    Inserted(Account),
    PlanLimitReached,
    DuplicateChannel,
}

pub enum UpdateOutcome {
    Updated,
    NotFound,
    DuplicateChannel,
}

impl Db {
    /// Inserts an account and its sealed key in one transaction. The plan's account limit is
    /// checked inside the INSERT itself, so two concurrent adds cannot both squeeze under it.
    /// `seal` gets the new row's id, which is bound into the ciphertext.
    pub async fn insert_account(
        &self,
        user_id: i64,
        fields: &AccountFields<'_>,
        key_hint: &str,
        seal: impl FnOnce(SecretRef<'_>) -> Sealed,
    ) -> Result<InsertOutcome, DbError> {
        let mut tx = self.begin_write().await?;
        let inserted: Result<Option<(i64, String)>, sqlx::Error> = sqlx::query_as(&format!(
            "INSERT INTO twitch_accounts (user_id, display_name, login, channel_id, ingest_server, stream_key_hint) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE (SELECT p.max_accounts FROM users u JOIN plans p ON p.name = u.plan WHERE u.id = $1) IS NULL \
                OR (SELECT COUNT(*) FROM twitch_accounts WHERE user_id = $1) \
                 < (SELECT p.max_accounts FROM users u JOIN plans p ON p.name = u.plan WHERE u.id = $1) \
             RETURNING id, {}",
            super::secrets::ACCOUNT_BINDING
        ))
        .bind(user_id)
        .bind(fields.display_name)
        .bind(fields.login)
        .bind(fields.channel_id)
        .bind(fields.ingest_server)
        .bind(key_hint)
        .fetch_optional(&mut *tx)
        .await;
        let (id, binding) = match super::unless_duplicate(inserted)? {
            Some(Some(row)) => row,
            Some(None) => return Ok(InsertOutcome::PlanLimitReached),
            None => return Ok(InsertOutcome::DuplicateChannel),
        };
        let sealed = seal(SecretRef { table: TABLE, row_id: id, field: STREAM_KEY, binding: &binding });
        write_key(self, &mut tx, id, &sealed, key_hint).await?;
        tx.commit().await?;
        Ok(InsertOutcome::Inserted(self.account(user_id, id).await?.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))?))
    }

    pub async fn account(&self, user_id: i64, id: i64) -> Result<Option<Account>, DbError> {
        Ok(sqlx::query_as::<_, AccountRow>(&format!("{SELECT} WHERE user_id = $1 AND id = $2"))
            .bind(user_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(Account::from))
    }

    pub async fn accounts(&self, user_id: i64) -> Result<Vec<Account>, DbError> {
        Ok(sqlx::query_as::<_, AccountRow>(&format!("{SELECT} WHERE user_id = $1 ORDER BY lower(display_name), id"))
            .bind(user_id)
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(Account::from)
            .collect())
    }

    /// A page of the user's accounts by id: those after `after`, at most `limit`.
    pub async fn accounts_page(&self, user_id: i64, after: i64, limit: u32) -> Result<Vec<Account>, DbError> {
        Ok(sqlx::query_as::<_, AccountRow>(&format!("{SELECT} WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
            .bind(user_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(Account::from)
            .collect())
    }

    /// Updates the non-secret fields.
    pub async fn update_account(&self, user_id: i64, id: i64, fields: &AccountFields<'_>) -> Result<UpdateOutcome, DbError> {
        let result = sqlx::query(
            &self.sql("UPDATE twitch_accounts SET display_name = $1, login = $2, channel_id = $3, ingest_server = $4, \
             updated_at = @now WHERE user_id = $5 AND id = $6"),
        )
        .bind(fields.display_name)
        .bind(fields.login)
        .bind(fields.channel_id)
        .bind(fields.ingest_server)
        .bind(user_id)
        .bind(id)
        .execute(self.pool())
        .await;
        match super::unless_duplicate(result)? {
            Some(r) if r.rows_affected() == 0 => Ok(UpdateOutcome::NotFound),
            Some(_) => Ok(UpdateOutcome::Updated),
            None => Ok(UpdateOutcome::DuplicateChannel),
        }
    }

    /// Replaces the sealed key; false when there is no such account for this user.
    pub async fn set_account_key(&self, user_id: i64, id: i64, sealed: &Sealed, key_hint: &str) -> Result<bool, DbError> {
        // Reads, then writes: the write lock from the start (a read turned write fails at once on
        // SQLite when another writer went first).
        let mut tx = self.begin_write().await?;
        let owned: Option<i64> = sqlx::query_scalar("SELECT id FROM twitch_accounts WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if owned.is_none() {
            return Ok(false);
        }
        write_key(self, &mut tx, id, sealed, key_hint).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The sealed key of an account, for the vault to open.
    pub async fn account_key(&self, user_id: i64, id: i64) -> Result<Option<Sealed>, DbError> {
        let row: Option<(Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT stream_key_cipher, stream_key_nonce, stream_key_tag FROM twitch_accounts WHERE user_id = $1 AND id = $2",
        )
        .bind(user_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some((Some(cipher), Some(nonce), Some(tag))) => Some(Sealed { cipher, nonce, tag, key_id: None }),
            _ => None,
        })
    }

    /// Deletes an account; false when there is no such account for this user.
    pub async fn delete_account(&self, user_id: i64, id: i64) -> Result<bool, DbError> {
        let result = sqlx::query("DELETE FROM twitch_accounts WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() > 0)
    }
}

async fn write_key(db: &Db, conn: &mut sqlx::AnyConnection, id: i64, sealed: &Sealed, key_hint: &str) -> Result<(), DbError> {
    let sql = format!(
        "UPDATE twitch_accounts SET stream_key_cipher = $1, stream_key_nonce = $2, stream_key_tag = $3, \
         stream_key_hint = $4, updated_at = @now WHERE id = $5 AND {}",
        super::secrets::under_recorded_key(6)
    );
    let written = sqlx::query(&db.sql(&sql))
        .bind(&sealed.cipher)
        .bind(&sealed.nonce)
        .bind(&sealed.tag)
        .bind(key_hint)
        .bind(id)
        .bind(&sealed.key_id)
        .execute(conn)
        .await?;
    super::secrets::guarded(written.rows_affected())
}

