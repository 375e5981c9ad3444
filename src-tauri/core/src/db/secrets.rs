//! Sealed columns and the vault's own records (which key, in which store).
//!
//! Every sealed secret is three columns `{field}_cipher`, `{field}_nonce`, `{field}_tag`.
//! [`SEALED_COLUMNS`] lists them all, so counting and rotation cannot miss one: a new sealed
//! column is added here as well as in a migration.

use super::{Db, DbError};
use crate::model::{KeyringBackend, Sealed, SecretRef};

pub struct SealedColumn {
    pub table: &'static str,
    pub field: &'static str,
    /// The SQL of the row's binding ([`SecretRef::binding`]), for a profile's rows.
    pub binding: Option<&'static str>,
}

/// A profile's row: its owner and its creation time (ids can be reused after a delete).
pub(crate) const ACCOUNT_BINDING: &str = "CAST(user_id AS TEXT) || '/' || created_at";

pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn { table: "twitch_accounts", field: "stream_key", binding: Some(ACCOUNT_BINDING) },
    SealedColumn { table: "twitch_accounts", field: "access_token", binding: Some(ACCOUNT_BINDING) },
    SealedColumn { table: "twitch_accounts", field: "refresh_token", binding: Some(ACCOUNT_BINDING) },
    SealedColumn { table: "s3_config", field: "secret_key", binding: None },
    SealedColumn { table: "server_keys", field: "secret", binding: None },
];

/// Set once every profile's secret is sealed with its owner bound (the upgrade from v1).
const OWNERS_BOUND: &str = "vault.owners_bound";

const KEY_ID: &str = "vault.key_id";

/// The guard of every write of a freshly sealed secret: true only while the key it was sealed
/// under (bound as parameter `param`) is still the recorded one. Inside the writing statement
/// itself, so a rotation (one write-locked transaction) is either wholly before it or wholly
/// after it.
pub(super) fn under_recorded_key(param: usize) -> String {
    format!("(SELECT value FROM settings WHERE key = 'vault.key_id') IS NOT DISTINCT FROM ${param}")
}

/// Turns "the guarded write changed nothing" into [`DbError::KeySuperseded`].
pub(super) fn guarded(rows_affected: u64) -> Result<(), DbError> {
    if rows_affected == 0 {
        Err(DbError::KeySuperseded)
    } else {
        Ok(())
    }
}
const BACKEND: &str = "vault.backend";
/// The store a rotation to another store left the previous key in: emptied by the first load
/// that sees the new record (should the rotation's commit be lost, the record still names that
/// store and its key, and this is not set).
const LEFT_IN: &str = "vault.previous_key_left_in";

#[derive(sqlx::FromRow)]
struct SealedRow {
    id: i64,
    binding: String,
    cipher: Vec<u8>,
    nonce: Vec<u8>,
    tag: Vec<u8>,
}

/// `SELECT id, binding, cipher, nonce, tag` of a sealed column's rows that hold a secret.
fn select_sealed(c: &SealedColumn) -> String {
    let f = c.field;
    format!(
        "SELECT id, {} AS binding, {f}_cipher AS cipher, {f}_nonce AS nonce, {f}_tag AS tag FROM {} WHERE {f}_cipher IS NOT NULL",
        c.binding.unwrap_or("''"),
        c.table
    )
}

impl Db {
    /// The fingerprint of the data key and the store holding it, once a key exists.
    pub async fn vault_record(&self) -> Result<Option<(String, KeyringBackend)>, DbError> {
        let key_id = self.setting(KEY_ID).await?;
        let backend = self.setting(BACKEND).await?;
        Ok(match (key_id, backend.as_deref()) {
            (Some(id), Some("os")) => Some((id, KeyringBackend::Os)),
            (Some(id), Some("file")) => Some((id, KeyringBackend::File)),
            (Some(id), Some("keyfile")) => Some((id, KeyringBackend::KeyFile)),
            _ => None,
        })
    }

    /// The store a rotation to another store left the previous key in, until a load empties it.
    pub async fn previous_key_left_in(&self) -> Result<Option<KeyringBackend>, DbError> {
        Ok(match self.setting(LEFT_IN).await?.as_deref() {
            Some("os") => Some(KeyringBackend::Os),
            Some("file") => Some(KeyringBackend::File),
            _ => None,
        })
    }

    pub async fn forget_previous_key_left_in(&self) -> Result<(), DbError> {
        self.delete_setting(LEFT_IN).await
    }

    pub async fn set_vault_record(&self, key_id: &str, backend: KeyringBackend) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        for (key, value) in [(KEY_ID, key_id), (BACKEND, backend_name(backend))] {
            super::settings::upsert(self, &mut tx, key, value).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records `key_id` as the data key when no key is recorded and nothing is sealed yet, or
    /// finds it already recorded: `Ok(None)`. Otherwise (another key is recorded, or secrets were
    /// sealed without a record) `Ok(Some((recorded, sealed)))` and nothing changes. Checked and
    /// set under the write lock: nodes of a fleet starting at the same moment on a fresh database
    /// with the same key file all adopt it, none sees the first one's sealed secrets half done.
    pub async fn adopt_vault_key(&self, key_id: &str, backend: KeyringBackend) -> Result<Option<(Option<String>, i64)>, DbError> {
        let mut tx = self.begin_write().await?;
        let recorded: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(KEY_ID).fetch_optional(&mut *tx).await?;
        if recorded.as_deref() == Some(key_id) {
            return Ok(None);
        }
        let mut sealed = 0;
        for c in SEALED_COLUMNS {
            let sql = format!("SELECT COUNT(*) FROM {} WHERE {}_cipher IS NOT NULL", c.table, c.field);
            sealed += sqlx::query_scalar::<_, i64>(&sql).fetch_one(&mut *tx).await?;
        }
        if sealed > 0 {
            return Ok(Some((recorded, sealed)));
        }
        for (key, value) in [(KEY_ID, key_id), (BACKEND, backend_name(backend))] {
            super::settings::upsert(self, &mut tx, key, value).await?;
        }
        tx.commit().await?;
        Ok(None)
    }

    /// Seals every profile's secret sealed before owners were bound (v1) again with its owner
    /// and row bound, once per database (under the write lock, so once however many processes
    /// start). `rebind(v1 place, bound place, sealed)` opens and seals again; a secret that
    /// does not open as v1 is left as it is (it reports itself when used). Returns how many moved.
    pub async fn bind_owners<E>(&self, rebind: impl Fn(SecretRef<'_>, SecretRef<'_>, &Sealed) -> Result<Sealed, E>) -> Result<usize, DbError> {
        if self.setting(OWNERS_BOUND).await?.is_some() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let done: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(OWNERS_BOUND).fetch_optional(&mut *tx).await?;
        if done.is_some() {
            return Ok(0);
        }
        let mut count = 0;
        for c in SEALED_COLUMNS.iter().filter(|c| c.binding.is_some()) {
            let f = c.field;
            let rows: Vec<SealedRow> = sqlx::query_as(&select_sealed(c)).fetch_all(&mut *tx).await?;
            let update = format!("UPDATE {} SET {f}_cipher = $1, {f}_nonce = $2, {f}_tag = $3 WHERE id = $4", c.table);
            for row in rows {
                let bound = SecretRef { table: c.table, row_id: row.id, field: f, binding: &row.binding };
                let old = Sealed { cipher: row.cipher, nonce: row.nonce, tag: row.tag, key_id: None };
                        let Ok(sealed) = rebind(bound.unbound(), bound, &old) else {
                    tracing::warn!(table = c.table, row_id = row.id, field = f, "a sealed secret does not open: left as it is");
                    continue;
                };
                sqlx::query(&update).bind(sealed.cipher).bind(sealed.nonce).bind(sealed.tag).bind(row.id).execute(&mut *tx).await?;
                count += 1;
            }
        }
        super::settings::upsert(self, &mut tx, OWNERS_BOUND, "1").await?;
        tx.commit().await?;
        Ok(count)
    }

    /// The binding ([`SecretRef::binding`]) of account `id`'s secrets.
    pub async fn account_binding(&self, id: i64) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar(&format!("SELECT {ACCOUNT_BINDING} FROM twitch_accounts WHERE id = $1")).bind(id).fetch_optional(self.pool()).await?)
    }

    /// How many secrets are sealed in the whole data dir.
    pub async fn count_sealed(&self) -> Result<i64, DbError> {
        let mut total = 0;
        for c in SEALED_COLUMNS {
            let sql = format!("SELECT COUNT(*) FROM {} WHERE {}_cipher IS NOT NULL", c.table, c.field);
            total += sqlx::query_scalar::<_, i64>(&sql).fetch_one(self.pool()).await?;
        }
        Ok(total)
    }

    /// Replaces every sealed secret with `reseal(it)` and records the new key, all in one
    /// transaction: either every secret moves to the new key or none does (`reseal` answering
    /// `None` leaves that one as it is: it does not open). Generic over the sealer's error (the
    /// vault's), so this floor needs no vault type. Returns how many were re-sealed.
    pub async fn reseal_all<E: From<DbError>>(
        &self,
        key_id: &str,
        backend: KeyringBackend,
        left_in: Option<KeyringBackend>,
        reseal: impl Fn(SecretRef<'_>, &Sealed) -> Result<Option<Sealed>, E>,
    ) -> Result<usize, E> {
        // IMMEDIATE: take the write lock up front, so no secret is added between read and write.
        let mut tx = self.begin_write().await.map_err(DbError::from)?;
        // The server's own keys (the API's token signing key) are made on first use: a rotation
        // replaces them instead of moving them, and ends every API session with them (a new
        // session key per profile), so a token signed before it is refused everywhere.
        sqlx::query("DELETE FROM server_keys").execute(&mut *tx).await.map_err(DbError::from)?;
        let users: Vec<i64> = sqlx::query_scalar("SELECT id FROM users").fetch_all(&mut *tx).await.map_err(DbError::from)?;
        for id in users {
            sqlx::query("UPDATE users SET session_key = $1 WHERE id = $2")
                .bind(uuid::Uuid::new_v4().simple().to_string())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(DbError::from)?;
        }
        let mut count = 0;
        for c in SEALED_COLUMNS {
            let f = c.field;
            let rows: Vec<SealedRow> = sqlx::query_as(&select_sealed(c)).fetch_all(&mut *tx).await.map_err(DbError::from)?;
            let update = format!("UPDATE {} SET {f}_cipher = $1, {f}_nonce = $2, {f}_tag = $3 WHERE id = $4", c.table);
            for row in rows {
                let at = SecretRef { table: c.table, row_id: row.id, field: f, binding: &row.binding };
                let Some(sealed) = reseal(at, &Sealed { cipher: row.cipher, nonce: row.nonce, tag: row.tag, key_id: None })? else { continue };
                sqlx::query(&update)
                    .bind(sealed.cipher)
                    .bind(sealed.nonce)
                    .bind(sealed.tag)
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(DbError::from)?;
                count += 1;
            }
        }
        for (key, value) in [(KEY_ID, key_id), (BACKEND, backend_name(backend))] {
            super::settings::upsert(self, &mut tx, key, value).await.map_err(DbError::from)?;
        }
        match left_in {
            Some(old) => super::settings::upsert(self, &mut tx, LEFT_IN, backend_name(old)).await.map_err(DbError::from)?,
            None => {
                sqlx::query("DELETE FROM settings WHERE key = $1").bind(LEFT_IN).execute(&mut *tx).await.map_err(DbError::from)?;
            }
        }
        tx.commit().await.map_err(DbError::from)?;
        Ok(count)
    }
}

impl Db {
    /// The sealed secret called `name`, if made.
    pub async fn named_secret(&self, name: &str) -> Result<Option<(i64, Sealed)>, DbError> {
        let row: Option<SealedRow> =
            sqlx::query_as("SELECT id, '' AS binding, secret_cipher AS cipher, secret_nonce AS nonce, secret_tag AS tag FROM server_keys WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| (r.id, Sealed { cipher: r.cipher, nonce: r.nonce, tag: r.tag, key_id: None })))
    }

    /// Stores a new secret called `name`, sealed by `seal` (which gets the row it is bound to).
    /// When another process made one first, theirs stays and `false` is returned.
    pub async fn insert_named_secret(&self, name: &str, seal: impl FnOnce(SecretRef<'_>) -> Sealed) -> Result<bool, DbError> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO server_keys (name, secret_cipher, secret_nonce, secret_tag) VALUES ($1, $2, $2, $2) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(Vec::<u8>::new())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else { return Ok(false) };
        let sealed = seal(SecretRef { table: "server_keys", row_id: id, field: "secret", binding: "" });
        let sql = format!("UPDATE server_keys SET secret_cipher = $1, secret_nonce = $2, secret_tag = $3 WHERE id = $4 AND {}", under_recorded_key(5));
        let written = sqlx::query(&sql)
            .bind(&sealed.cipher)
            .bind(&sealed.nonce)
            .bind(&sealed.tag)
            .bind(id)
            .bind(&sealed.key_id)
            .execute(&mut *tx)
            .await?;
        guarded(written.rows_affected())?;
        tx.commit().await?;
        Ok(true)
    }
}

fn backend_name(backend: KeyringBackend) -> &'static str {
    match backend {
        KeyringBackend::Os => "os",
        KeyringBackend::File => "file",
        KeyringBackend::KeyFile => "keyfile",
    }
}
