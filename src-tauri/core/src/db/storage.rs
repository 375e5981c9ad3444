//! The `s3_config` row and the storage columns of `videos`.

use super::{Db, DbError};
use crate::model::{S3Settings, Sealed, SecretRef};

pub const TABLE: &str = "s3_config";
pub const SECRET_KEY: &str = "secret_key";

#[derive(sqlx::FromRow)]
struct ConfigRow {
    endpoint: Option<String>,
    bucket: String,
    region: String,
    access_key: String,
    #[sqlx(try_from = "crate::db::Flag")]
    path_style: bool,
    secret_key_cipher: Option<Vec<u8>>,
    secret_key_nonce: Option<Vec<u8>>,
    secret_key_tag: Option<Vec<u8>>,
}

impl Db {
    /// The saved settings and the sealed secret key, if S3 was configured.
    pub async fn s3_config(&self) -> Result<Option<(S3Settings, Option<Sealed>)>, DbError> {
        let row: Option<ConfigRow> = sqlx::query_as(
            "SELECT endpoint, bucket, region, access_key, path_style, secret_key_cipher, secret_key_nonce, secret_key_tag \
             FROM s3_config WHERE id = 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| {
            let sealed = match (r.secret_key_cipher, r.secret_key_nonce, r.secret_key_tag) {
                (Some(cipher), Some(nonce), Some(tag)) => Some(Sealed { cipher, nonce, tag, key_id: None }),
                _ => None,
            };
            let settings = S3Settings {
                endpoint: r.endpoint,
                bucket: r.bucket,
                region: r.region,
                access_key: r.access_key,
                path_style: r.path_style,
            };
            (settings, sealed)
        }))
    }

    /// Saves the settings; with `seal`, also a new secret key (sealed for row 1), else the old
    /// one stays.
    pub async fn save_s3_config(&self, s: &S3Settings, seal: Option<impl FnOnce(SecretRef<'_>) -> Sealed>) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            &self.sql("INSERT INTO s3_config (id, endpoint, bucket, region, access_key, path_style) VALUES (1, $1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, bucket = excluded.bucket, \
             region = excluded.region, access_key = excluded.access_key, path_style = excluded.path_style, \
             updated_at = @now"),
        )
        .bind(&s.endpoint)
        .bind(&s.bucket)
        .bind(&s.region)
        .bind(&s.access_key)
        .bind(s.path_style)
        .execute(&mut *tx)
        .await?;
        if let Some(seal) = seal {
            let sealed = seal(SecretRef { table: TABLE, row_id: 1, field: SECRET_KEY, binding: "" });
            let sql = format!(
                "UPDATE s3_config SET secret_key_cipher = $1, secret_key_nonce = $2, secret_key_tag = $3 WHERE id = 1 AND {}",
                super::secrets::under_recorded_key(4)
            );
            let written = sqlx::query(&sql).bind(sealed.cipher).bind(sealed.nonce).bind(sealed.tag).bind(sealed.key_id).execute(&mut *tx).await?;
            super::secrets::guarded(written.rows_affected())?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The video now lives in S3 under `key`; its library copy is gone.
    pub async fn set_video_in_s3(&self, id: i64, key: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE videos SET storage = 's3', s3_key = $1, local_path = NULL WHERE id = $2")
            .bind(key)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Where the local (cached) copy of a video is now.
    pub async fn set_video_local_path(&self, id: i64, path: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE videos SET local_path = $1 WHERE id = $2").bind(path).bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// A video by id, whoever owns it (for jobs, which carry the owner in their payload).
    pub async fn video_owner(&self, id: i64) -> Result<Option<i64>, DbError> {
        Ok(sqlx::query_scalar("SELECT uploader_id FROM videos WHERE id = $1").bind(id).fetch_optional(self.pool()).await?)
    }
}
