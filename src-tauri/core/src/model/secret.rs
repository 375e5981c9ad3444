//! What the vault seals and where: the names bound into a ciphertext, the sealed columns, and
//! which key store holds the data key. The sealing itself is `vault`'s.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum KeyringBackend {
    Os,
    File,
    /// A server's key, read from the file `TWITCHER_VAULT_KEY_FILE` names (the same on every
    /// node of a fleet); Twitcher never writes it.
    KeyFile,
}

/// Names the column a secret is sealed into; it is bound into the ciphertext as associated data,
/// so a ciphertext copied anywhere else does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretRef<'a> {
    pub table: &'a str,
    pub row_id: i64,
    pub field: &'a str,
    /// For a profile's rows: its owner and the row's creation time (`{user_id}/{created_at}`,
    /// see `db::secrets::SealedColumn::binding`), so a ciphertext moved to another
    /// profile's row, or left from a deleted row whose id a new row reuses, does not open either.
    /// Empty for the data dir's own secrets (S3, the API's signing key).
    pub binding: &'a str,
}

impl SecretRef<'_> {
    pub(crate) fn associated_data(&self) -> Vec<u8> {
        match self.binding {
            "" => format!("twitcher/v1/{}/{}/{}", self.table, self.row_id, self.field),
            bound => format!("twitcher/v2/{}/{}/{}/{bound}", self.table, self.row_id, self.field),
        }
        .into_bytes()
    }

    /// The same place as it was named before owners were bound (v1), for the upgrade.
    pub(crate) fn unbound(self) -> Self {
        Self { binding: "", ..self }
    }
}

/// A sealed secret as stored: the `*_cipher`, `*_nonce` and `*_tag` columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub cipher: Vec<u8>,
    pub nonce: Vec<u8>,
    pub tag: Vec<u8>,
    /// For a fresh seal, the fingerprint of the key it was sealed under: the database refuses to
    /// store it once another key was recorded (a rotation by another process), so nothing is
    /// ever sealed under a superseded key. `None` for a secret read back from the database.
    pub key_id: Option<String>,
}
