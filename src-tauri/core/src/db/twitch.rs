//! The Twitch side of `twitch_accounts`: sealed OAuth tokens, the profile Twitch reports, the
//! "reconnect needed" state and the stats cache.

use super::accounts::TABLE;
use super::{Db, DbError};
use crate::model::{Sealed, SecretRef};

pub const ACCESS_TOKEN: &str = "access_token";
pub const REFRESH_TOKEN: &str = "refresh_token";

/// Where account `id`'s token `field` is sealed; `binding` from [`Db::account_binding`].
pub fn token_ref<'a>(id: i64, field: &'static str, binding: &'a str) -> SecretRef<'a> {
    SecretRef { table: TABLE, row_id: id, field, binding }
}

/// An account's sealed tokens.
pub struct SealedTokens {
    pub access: Sealed,
    pub refresh: Sealed,
    /// Unix seconds.
    pub expires_at: i64,
    pub login: String,
    pub problem: Option<String>,
}

/// What Twitch says about the user behind a token.
pub struct TwitchProfile<'a> {
    /// Twitch's user id: the channel the account streams to.
    pub channel_id: &'a str,
    pub login: &'a str,
    pub display_name: &'a str,
    pub avatar_url: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    access_token_cipher: Vec<u8>,
    access_token_nonce: Vec<u8>,
    access_token_tag: Vec<u8>,
    refresh_token_cipher: Vec<u8>,
    refresh_token_nonce: Vec<u8>,
    refresh_token_tag: Vec<u8>,
    token_expires_at: Option<String>,
    login: Option<String>,
    display_name: String,
    auth_problem: Option<String>,
}

impl Db {
    /// The account of this profile that streams to `channel_id`, if linked; else one added by
    /// hand without a channel id under the same `login` (connecting it fills the id in).
    pub async fn account_by_channel(&self, user_id: i64, channel_id: &str, login: &str) -> Result<Option<i64>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM twitch_accounts WHERE user_id = $1 AND (channel_id = $2 OR (channel_id IS NULL AND lower(login) = lower($3))) \
             ORDER BY CASE WHEN channel_id IS NULL THEN 1 ELSE 0 END, id LIMIT 1",
        )
        .bind(user_id)
        .bind(channel_id)
        .bind(login)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a fresh connection: Twitch's profile, the sealed tokens and scopes; clears any
    /// "reconnect needed". False when the account is not this profile's.
    pub async fn set_account_connection(
        &self,
        user_id: i64,
        id: i64,
        profile: &TwitchProfile<'_>,
        access: &Sealed,
        refresh: &Sealed,
        expires_at: i64,
        scopes: &str,
    ) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        let result = sqlx::query(
            &self.sql("UPDATE twitch_accounts SET login = $1, display_name = $2, avatar_url = $3, scopes = $4, \
             channel_id = $5, validated_at = @now WHERE user_id = $6 AND id = $7"),
        )
        .bind(profile.login)
        .bind(profile.display_name)
        .bind(profile.avatar_url)
        .bind(scopes)
        .bind(profile.channel_id)
        .bind(user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        write_tokens(self, &mut tx, id, access, refresh, expires_at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The sealed tokens of an account (`None`: added by hand, or disconnected).
    pub async fn account_tokens(&self, user_id: i64, id: i64) -> Result<Option<SealedTokens>, DbError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT access_token_cipher, access_token_nonce, access_token_tag, refresh_token_cipher, refresh_token_nonce, \
             refresh_token_tag, token_expires_at, login, display_name, auth_problem FROM twitch_accounts \
             WHERE user_id = $1 AND id = $2 AND access_token_cipher IS NOT NULL AND refresh_token_cipher IS NOT NULL",
        )
        .bind(user_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| SealedTokens {
            access: Sealed { cipher: r.access_token_cipher, nonce: r.access_token_nonce, tag: r.access_token_tag, key_id: None },
            refresh: Sealed { cipher: r.refresh_token_cipher, nonce: r.refresh_token_nonce, tag: r.refresh_token_tag, key_id: None },
            expires_at: r.token_expires_at.and_then(|t| t.parse().ok()).unwrap_or(0),
            login: r.login.unwrap_or(r.display_name),
            problem: r.auth_problem,
        }))
    }

    /// Stores a refreshed pair (the old refresh token is spent).
    pub async fn set_account_tokens(&self, id: i64, access: &Sealed, refresh: &Sealed, expires_at: i64) -> Result<(), DbError> {
        let mut conn = self.pool().acquire().await?;
        write_tokens(self, &mut conn, id, access, refresh, expires_at).await
    }

    /// Marks an account "reconnect needed" with the reason (and releases a refresh claim).
    pub async fn set_account_auth_problem(&self, id: i64, problem: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE twitch_accounts SET auth_problem = $1, refresh_claimed_until = NULL WHERE id = $2").bind(problem).bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// Claims the right to spend the account's refresh token until `until` (Unix seconds), in one
    /// statement: of several processes needing a fresh token at once, exactly one wins. True if
    /// this caller won.
    pub async fn claim_token_refresh(&self, id: i64, now: i64, until: i64) -> Result<bool, DbError> {
        let won = sqlx::query(
            "UPDATE twitch_accounts SET refresh_claimed_until = $1 WHERE id = $2 \
             AND (refresh_claimed_until IS NULL OR refresh_claimed_until < $3)",
        )
        .bind(until)
        .bind(id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(won.rows_affected() == 1)
    }

    /// Gives up a refresh claim (the refresh failed for a reason that is not the grant's).
    pub async fn release_token_refresh(&self, id: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE twitch_accounts SET refresh_claimed_until = NULL WHERE id = $1").bind(id).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn set_account_validated(&self, id: i64) -> Result<(), DbError> {
        sqlx::query(&self.sql("UPDATE twitch_accounts SET validated_at = @now WHERE id = $1"))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every account holding tokens, in every profile: (profile id, account id).
    pub async fn connected_accounts(&self) -> Result<Vec<(i64, i64)>, DbError> {
        Ok(sqlx::query_as(
            "SELECT user_id, id FROM twitch_accounts WHERE access_token_cipher IS NOT NULL AND auth_problem IS NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The cached stats (JSON) and when they were fetched (Unix seconds).
    pub async fn account_stats_cache(&self, id: i64) -> Result<Option<(String, i64)>, DbError> {
        let row: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT stats_json, stats_fetched_unix FROM twitch_accounts WHERE id = $1").bind(id).fetch_optional(self.pool()).await?;
        Ok(match row {
            Some((Some(json), Some(at))) => Some((json, at)),
            _ => None,
        })
    }

    pub async fn set_account_stats_cache(&self, id: i64, json: &str, fetched_unix: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE twitch_accounts SET stats_json = $1, stats_fetched_unix = $2 WHERE id = $3")
            .bind(json)
            .bind(fetched_unix)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_stream_channel_notice(&self, stream_id: i64, notice: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE streams SET channel_notice = $1 WHERE id = $2")
            .bind(crate::redact::redact(notice).as_ref())
            .bind(stream_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// Writes a sealed token pair and its expiry (Unix seconds), clearing "reconnect needed".
async fn write_tokens(db: &Db, conn: &mut sqlx::AnyConnection, id: i64, access: &Sealed, refresh: &Sealed, expires_at: i64) -> Result<(), DbError> {
    debug_assert_eq!(access.key_id, refresh.key_id, "one vault seals a token pair");
    let sql = format!(
        "UPDATE twitch_accounts SET access_token_cipher = $1, access_token_nonce = $2, access_token_tag = $3, \
         refresh_token_cipher = $4, refresh_token_nonce = $5, refresh_token_tag = $6, token_expires_at = $7, \
         auth_problem = NULL, refresh_claimed_until = NULL, updated_at = @now WHERE id = $8 AND {}",
        super::secrets::under_recorded_key(9)
    );
    let written = sqlx::query(&db.sql(&sql))
        .bind(&access.cipher)
        .bind(&access.nonce)
        .bind(&access.tag)
        .bind(&refresh.cipher)
        .bind(&refresh.nonce)
        .bind(&refresh.tag)
        .bind(expires_at.to_string())
        .bind(id)
        .bind(&access.key_id)
        .execute(conn)
        .await?;
    super::secrets::guarded(written.rows_affected())
}
