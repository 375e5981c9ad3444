//! The vault: every secret Twitcher stores (stream keys, OAuth tokens) is sealed with AES-256-GCM
//! under one random 256-bit data key per data dir.
//!
//! - The data key lives in the OS keyring (Secret Service, Keychain, Credential Manager via the
//!   `keyring` crate), one entry per data dir; where no keyring is usable it lives in
//!   `DATA_DIR/vault.key` (mode 0600), and every surface says so. `TWITCHER_KEYRING=os|file` picks
//!   the store for a new key; an existing key is always read from where it was recorded.
//! - Each seal uses a fresh random 96-bit nonce and associated data naming table, row and field,
//!   so a ciphertext copied to another row or field fails to open instead of decrypting.
//! - A missing or wrong key never leads to a silent new key while sealed secrets exist: that
//!   would make them unreadable. It stops with an error and changes nothing.
//! - Rotation re-seals every secret under a new key in one transaction; the new key is parked in
//!   the store's `Next` slot until the transaction commits, so a crash at any point leaves a key
//!   that opens every secret.

mod keystore;

use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::db::{Db, DbError};
use keystore::{KeyBytes, Slot, Store, StoreError, KEY_LEN};

pub use keystore::KEY_FILE;

/// What a rotation did: how many secrets moved to the new key, and which could not be opened
/// (and so stay as they were: they did not open before either) — `table row field` each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotation {
    pub resealed: usize,
    pub skipped: Vec<String>,
}

/// Removes the key copies a process killed mid-write left in the data dir (see
/// [`keystore::sweep_temp_files`]); the data dir's start runs it.
pub fn sweep_leftovers(data_dir: &Path) -> usize {
    keystore::sweep_temp_files(data_dir)
}
pub use crate::model::{KeyringBackend, Sealed, SecretRef};
use crate::model::NotAdmin;
pub use crate::options::KeyringPreference;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;


#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the key that protects your stream keys is missing from {store}: {sealed} stored secret(s) cannot be opened. Nothing was changed. If this data dir came from another machine or user, restore its key there (the keyring entry, or the {KEY_FILE} file) and try again")]
    KeyMissing { store: String, sealed: i64 },
    #[error("the key in {store} is not the one that protects this data dir's stream keys: {sealed} stored secret(s) cannot be opened. Nothing was changed. Restore the original key and try again")]
    KeyMismatch { store: String, sealed: i64 },
    #[error("the OS keyring is not available ({reason}). Unlock your keyring or sign in to a desktop session; on a server without one, set TWITCHER_KEYRING=file")]
    KeyringUnavailable { reason: String },
    #[error("the key store failed: {0}")]
    Store(String),
    #[error("TWITCHER_VAULT_KEY_FILE: {0}")]
    KeyFile(String),
    #[error("the stored {field} of {table} row {row_id} failed its integrity check (it was altered, or copied from another row): set it again")]
    Tampered { table: String, row_id: i64, field: String },
    #[error(transparent)]
    NotAdmin(#[from] NotAdmin),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(reason) => VaultError::KeyringUnavailable { reason },
            StoreError::Failed(reason) => VaultError::Store(reason),
        }
    }
}

/// The data key, ready to seal and open. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

struct Inner {
    cipher: Aes256Gcm,
    /// Kept for a rotation, which moves it to the store's `Previous` slot (zeroed when dropped).
    key: KeyBytes,
    key_id: String,
    backend: KeyringBackend,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("key_id", &self.inner.key_id).field("backend", &self.inner.backend).finish()
    }
}

/// Reads a key file: private to its owner, 64 hex characters (whitespace around them ignored).
/// The errors never hold the key or the path.
fn read_key_file(path: &Path) -> Result<KeyBytes, VaultError> {
    let bad = |m: &str| VaultError::KeyFile(m.to_string());
    let meta = std::fs::metadata(path).map_err(|e| bad(&format!("the key file cannot be read ({})", e.kind())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(bad("the key file may be read by other users: make it private (chmod 600) and start again"));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(&format!("the key file cannot be read ({})", e.kind())))?);
    let hex_key = text.trim();
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if hex_key.len() != KEY_LEN * 2 || hex::decode_to_slice(hex_key, key.as_mut_slice()).is_err() {
        return Err(bad("the key file must hold 64 hexadecimal characters, a 256-bit key (make one with: openssl rand -hex 32)"));
    }
    Ok(key)
}

/// A short fingerprint that tells keys apart without revealing anything about them.
fn key_id(key: &KeyBytes) -> String {
    hex::encode(&Sha256::digest(key.as_slice())[..8])
}

fn new_key() -> KeyBytes {
    let key = Aes256Gcm::generate_key(&mut OsRng);
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    bytes.copy_from_slice(key.as_slice());
    bytes
}

impl Vault {
    fn from_key(key: &KeyBytes, backend: KeyringBackend) -> Self {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_slice()));
        Self { inner: Arc::new(Inner { cipher, key: key.clone(), key_id: key_id(key), backend }) }
    }

    pub fn backend(&self) -> KeyringBackend {
        self.inner.backend
    }

    /// The key's fingerprint, as the database records it.
    pub fn key_id(&self) -> &str {
        &self.inner.key_id
    }

    pub fn seal(&self, at: SecretRef<'_>, plain: &[u8]) -> Sealed {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = at.associated_data();
        let mut out = self
            .inner
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad: &aad })
            .expect("AES-GCM encryption cannot fail for inputs under 64 GiB");
        let tag = out.split_off(out.len() - TAG_LEN);
        Sealed { cipher: out, nonce: nonce.to_vec(), tag, key_id: Some(self.inner.key_id.clone()) }
    }

    /// Opens a sealed secret; any change to ciphertext, nonce, tag or location is an error.
    pub fn open(&self, at: SecretRef<'_>, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let tampered =
            || VaultError::Tampered { table: at.table.to_string(), row_id: at.row_id, field: at.field.to_string() };
        if sealed.nonce.len() != NONCE_LEN || sealed.tag.len() != TAG_LEN {
            return Err(tampered());
        }
        let mut msg = Vec::with_capacity(sealed.cipher.len() + TAG_LEN);
        msg.extend_from_slice(&sealed.cipher);
        msg.extend_from_slice(&sealed.tag);
        let aad = at.associated_data();
        self.inner
            .cipher
            .decrypt(Nonce::from_slice(&sealed.nonce), Payload { msg: &msg, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| tampered())
    }

    pub fn open_string(&self, at: SecretRef<'_>, sealed: &Sealed) -> Result<Zeroizing<String>, VaultError> {
        let bytes = self.open(at, sealed)?;
        String::from_utf8(bytes.to_vec()).map(Zeroizing::new).map_err(|_| VaultError::Tampered {
            table: at.table.to_string(),
            row_id: at.row_id,
            field: at.field.to_string(),
        })
    }

    /// A random secret of `len` bytes that Twitcher keeps for itself under `name` (the API's
    /// token signing key): made and sealed on first use, the same one afterwards.
    pub async fn named_secret(&self, db: &Db, name: &str, len: usize) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        if db.named_secret(name).await?.is_none() {
            let mut fresh = Zeroizing::new(vec![0u8; len]);
            aes_gcm::aead::rand_core::RngCore::fill_bytes(&mut OsRng, &mut fresh);
            db.insert_named_secret(name, |at| self.seal(at, &fresh)).await?;
        }
        let (id, sealed) = db.named_secret(name).await?.ok_or(VaultError::Db(DbError::Sqlx(sqlx::Error::RowNotFound)))?;
        self.open(SecretRef { table: "server_keys", row_id: id, field: "secret", binding: "" }, &sealed)
    }

    /// Loads this data dir's key from where it was recorded, finishing an interrupted rotation if
    /// needed. When none is recorded (a new data dir, a fresh or replaced database) it adopts the
    /// key already in the stores — so a backup sealed under it still opens — and makes one only
    /// when no store holds one; that happens under the data dir's lock, so processes starting at
    /// once agree on one key. Refuses to make a key while sealed secrets exist.
    pub async fn load(db: &Db, data_dir: &Path, preference: KeyringPreference, key_file: Option<&Path>) -> Result<Vault, VaultError> {
        if let Some(path) = key_file {
            return Self::load_key_file(db, path).await;
        }
        if let Some(vault) = Self::load_recorded(db, data_dir).await? {
            return Ok(vault);
        }
        let _lock = DirLock::acquire(data_dir).await?;
        // Another process may have recorded a key while this one waited for the lock.
        if let Some(vault) = Self::load_recorded(db, data_dir).await? {
            return Ok(vault);
        }
        if db.vault_record().await?.is_none() {
            let sealed = db.count_sealed().await?;
            if sealed > 0 {
                let store = "the OS keyring and the data dir".to_string();
                return Err(VaultError::KeyMissing { store, sealed });
            }
        }
        let dir = data_dir.to_path_buf();
        if let Some((key, backend)) = blocking(move || Ok(existing_key(&dir, preference))).await? {
            db.set_vault_record(&key_id(&key), backend).await?;
            tracing::info!(?backend, "adopted the data key already in the store");
            return Ok(Vault::from_key(&key, backend));
        }
        let (key, backend) = Self::store_new_key(data_dir, preference, Slot::Current).await?;
        db.set_vault_record(&key_id(&key), backend).await?;
        tracing::info!(?backend, "created the data key");
        Ok(Vault::from_key(&key, backend))
    }

    /// A server's key from the file `TWITCHER_VAULT_KEY_FILE` names: 64 hex characters, readable
    /// by its owner only. It must be the key this data dir's (or fleet's) secrets were sealed
    /// under: a different one is refused before anything is written.
    async fn load_key_file(db: &Db, path: &Path) -> Result<Vault, VaultError> {
        let path = path.to_path_buf();
        let key = blocking(move || read_key_file(&path)).await?;
        let store = || "the file TWITCHER_VAULT_KEY_FILE names".to_string();
        match db.adopt_vault_key(&key_id(&key), KeyringBackend::KeyFile).await? {
            None => Ok(Vault::from_key(&key, KeyringBackend::KeyFile)),
            Some((Some(_), sealed)) => Err(VaultError::KeyMismatch { store: store(), sealed }),
            Some((None, sealed)) => Err(VaultError::KeyMissing { store: store(), sealed }),
        }
    }

    /// The recorded key, if its store has it. `None` when nothing is recorded, or when the
    /// recorded key is gone but nothing was sealed with it (a new one may be adopted or made).
    async fn load_recorded(db: &Db, data_dir: &Path) -> Result<Option<Vault>, VaultError> {
        let Some((recorded_id, backend)) = db.vault_record().await? else { return Ok(None) };
        if backend == KeyringBackend::KeyFile {
            let sealed = db.count_sealed().await?;
            if sealed > 0 {
                return Err(VaultError::KeyFile(format!(
                    "this data dir's key is read from a key file, but the variable is not set: set it to that file ({sealed} stored secret(s) need it)"
                )));
            }
            return Ok(None);
        }
        let store = Store::new(backend, data_dir);
        let where_ = store.describe();
        let found = blocking(move || find_recorded_key(&store, &recorded_id)).await?;
        if let Found::Key(key) = found {
            empty_store_left_behind(db, data_dir, backend, &key_id(&key)).await;
            return Ok(Some(Vault::from_key(&key, backend)));
        }
        let sealed = db.count_sealed().await?;
        match found {
            _ if sealed == 0 => {
                tracing::warn!("the recorded data key is gone but nothing was sealed with it");
                Ok(None)
            }
            Found::Different => Err(VaultError::KeyMismatch { store: where_, sealed }),
            _ => Err(VaultError::KeyMissing { store: where_, sealed }),
        }
    }

    /// Makes a key and stores it in `slot` of the preferred store, falling back from an unusable OS
    /// keyring to the key file when the preference allows it.
    async fn store_new_key(
        data_dir: &Path,
        preference: KeyringPreference,
        slot: Slot,
    ) -> Result<(KeyBytes, KeyringBackend), VaultError> {
        let key = new_key();
        let data_dir = data_dir.to_path_buf();
        blocking(move || {
            let backend = match preference {
                KeyringPreference::File => KeyringBackend::File,
                KeyringPreference::Os | KeyringPreference::Auto => KeyringBackend::Os,
            };
            match Store::new(backend, &data_dir).put(slot, &key) {
                Ok(()) => Ok((key, backend)),
                Err(StoreError::Unavailable(reason)) if preference == KeyringPreference::Auto => {
                    tracing::warn!(%reason, "no usable OS keyring: the data key is kept in a 0600 key file in the data dir");
                    Store::new(KeyringBackend::File, &data_dir).put(slot, &key)?;
                    Ok((key, KeyringBackend::File))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// Re-seals every stored secret under a new key, in one transaction, holding the data dir's
    /// lock (one rotation at a time across processes). A secret that does not open is skipped and
    /// reported, not a reason to keep the old key forever.
    ///
    /// The order makes a power loss at any moment recoverable: the new key is stored (`Next`)
    /// before the commit; the commit is made durable (synced) before any store changes; then the
    /// old key moves to `Previous` — kept until a later load sees the new record — and the new
    /// one becomes `Current`.
    pub async fn rotate(&self, db: &Db, data_dir: &Path, preference: KeyringPreference) -> Result<(Vault, Rotation), VaultError> {
        if self.inner.backend == KeyringBackend::KeyFile {
            return Err(VaultError::KeyFile("the key comes from a file Twitcher does not write: it cannot be rotated here".into()));
        }
        let _lock = DirLock::acquire(data_dir).await?;
        if db.vault_record().await?.is_some_and(|(id, _)| id != self.inner.key_id) {
            return Err(VaultError::Db(DbError::KeySuperseded));
        }
        let (key, backend) = Self::store_new_key(data_dir, preference, Slot::Next).await?;
        let next = Vault::from_key(&key, backend);
        let skipped = std::sync::Mutex::new(Vec::new());
        let resealed = db
            .reseal_all(&next.inner.key_id, backend, (self.inner.backend != backend).then_some(self.inner.backend), |at, sealed| match self.open(at, sealed) {
                Ok(plain) => Ok(Some(next.seal(at, &plain))),
                Err(e) => {
                    tracing::warn!(table = at.table, row = at.row_id, field = at.field, error = %e, "a secret that does not open is left as it is by the rotation");
                    skipped.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{} {} {}", at.table, at.row_id, at.field));
                    Ok(None)
                }
            })
            .await;
        let resealed = match resealed {
            Ok(count) => db.make_durable().await.map(|()| count).map_err(VaultError::from),
            Err(e) => Err(e),
        };
        let data_dir = data_dir.to_path_buf();
        let (old_backend, old_key) = (self.inner.backend, self.inner.key.clone());
        match resealed {
            Ok(count) => {
                blocking(move || {
                    let store = Store::new(backend, &data_dir);
                    if old_backend == backend {
                        store.put(Slot::Previous, &old_key)?;
                    }
                    // Moving to another store, the old one keeps its key until a load sees the
                    // new record (the database says where: `previous_key_left_in`).
                    store.put(Slot::Current, &key)?;
                    store.delete(Slot::Next)?;
                    Ok::<_, VaultError>(())
                })
                .await?;
                let skipped = skipped.into_inner().unwrap_or_else(|e| e.into_inner());
                tracing::info!(count, skipped = skipped.len(), ?backend, "rotated the data key");
                Ok((next, Rotation { resealed: count, skipped }))
            }
            Err(e) => {
                let _ = blocking(move || Store::new(backend, &data_dir).delete(Slot::Next).map_err(VaultError::from)).await;
                Err(e)
            }
        }
    }
}

/// After a rotation to another store has been seen committed, the old store's key is no longer
/// needed: it is deleted there (every slot that holds a key other than the recorded one). A store
/// that cannot be reached now is tried again at the next load.
async fn empty_store_left_behind(db: &Db, data_dir: &Path, recorded: KeyringBackend, recorded_id: &str) {
    let old = match db.previous_key_left_in().await {
        Ok(Some(old)) if old != recorded => old,
        Ok(_) => return,
        Err(e) => return tracing::warn!(error = %e, "could not read where the previous data key was left"),
    };
    let (dir, id) = (data_dir.to_path_buf(), recorded_id.to_string());
    let emptied = blocking(move || {
        let store = Store::new(old, &dir);
        for slot in [Slot::Current, Slot::Next, Slot::Previous] {
            if store.get(slot)?.is_some_and(|k| key_id(&k) != id) {
                store.delete(slot)?;
            }
        }
        Ok::<_, VaultError>(())
    })
    .await;
    match emptied {
        Ok(()) => {
            tracing::info!(store = ?old, "removed the previous data key from the store the key moved away from");
            if let Err(e) = db.forget_previous_key_left_in().await {
                tracing::warn!(error = %e, "could not record that the previous data key was removed");
            }
        }
        Err(e) => tracing::warn!(store = ?old, error = %e, "could not remove the previous data key from its old store yet"),
    }
}

enum Found {
    Key(KeyBytes),
    Missing,
    Different,
}

/// The key whose fingerprint the database recorded: in `Current`, or parked in `Next` by a
/// rotation that committed but did not get to promote it (promoted now).
fn find_recorded_key(store: &Store, recorded_id: &str) -> Result<Found, VaultError> {
    let current = store.get(Slot::Current)?;
    if let Some(key) = current.as_ref().filter(|k| key_id(k) == recorded_id) {
        // The record names the current key: a rotation's previous key is no longer needed.
        store.delete(Slot::Previous)?;
        return Ok(Found::Key(key.clone()));
    }
    if let Some(next) = store.get(Slot::Next)?.filter(|k| key_id(k) == recorded_id) {
        store.put(Slot::Current, &next)?;
        store.delete(Slot::Next)?;
        tracing::warn!("finished an interrupted key rotation");
        return Ok(Found::Key(next));
    }
    if let Some(previous) = store.get(Slot::Previous)?.filter(|k| key_id(k) == recorded_id) {
        // The database is from before a rotation (its commit was lost, or a backup was put
        // back): the key it names is the previous one.
        store.put(Slot::Current, &previous)?;
        store.delete(Slot::Previous)?;
        tracing::warn!("the database names the key before the last rotation (the rotation's commit was lost, or a backup was restored): using it again");
        return Ok(Found::Key(previous));
    }
    Ok(if current.is_some() { Found::Different } else { Found::Missing })
}

/// A key already in a store of this data dir, when the database records none: the key file,
/// then (unless key files were asked for) the OS keyring. A store that cannot be read counts as
/// holding nothing.
fn existing_key(data_dir: &Path, preference: KeyringPreference) -> Option<(KeyBytes, KeyringBackend)> {
    let mut backends = vec![KeyringBackend::File];
    if preference != KeyringPreference::File {
        backends.push(KeyringBackend::Os);
    }
    backends.into_iter().find_map(|backend| Store::new(backend, data_dir).get(Slot::Current).ok().flatten().map(|key| (key, backend)))
}

/// An exclusive lock on the data dir's vault (`DATA_DIR/vault.lock`, an OS file lock), held
/// while a key is made, adopted or rotated: processes starting at once on a new data dir agree
/// on one key, and two rotations never interleave. Released when dropped (or when the process
/// dies).
struct DirLock(#[allow(dead_code)] std::fs::File);

const LOCK_FILE: &str = "vault.lock";

impl DirLock {
    async fn acquire(data_dir: &Path) -> Result<DirLock, VaultError> {
        let path = data_dir.join(LOCK_FILE);
        blocking(move || {
            let failed = |e: std::io::Error| VaultError::Store(format!("cannot lock {}: {e}", path.display()));
            let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(failed)?;
            file.lock().map_err(failed)?;
            Ok(DirLock(file))
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, VaultError> + Send + 'static) -> Result<T, VaultError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| VaultError::Store(format!("key store task failed: {e}")))?
}

/// The store this data dir's secrets use: where the key was recorded, or, before the first key,
/// where a new one would go. Blocking when it has to probe the OS keyring.
pub async fn backend_in_use(db: &Db, preference: KeyringPreference) -> Result<KeyringBackend, VaultError> {
    if let Some((_, backend)) = db.vault_record().await? {
        return Ok(backend);
    }
    Ok(match preference {
        KeyringPreference::Os => KeyringBackend::Os,
        KeyringPreference::File => KeyringBackend::File,
        KeyringPreference::Auto => match tokio::task::spawn_blocking(keystore::probe_os).await {
            Ok(Ok(())) => KeyringBackend::Os,
            _ => KeyringBackend::File,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::from_key(&new_key(), KeyringBackend::File)
    }

    const AT: SecretRef<'static> = SecretRef { table: "twitch_accounts", row_id: 7, field: "stream_key", binding: "3/2026-11-30T05:00:00.000Z" };

    #[test]
    fn a_sealed_secret_opens_to_the_same_bytes() {
        let v = vault();
        let sealed = v.seal(AT, b"live_123456789_abcdefghijklmnop");
        assert_eq!(sealed.nonce.len(), 12);
        assert_eq!(sealed.tag.len(), 16);
        assert_eq!(v.open(AT, &sealed).unwrap().as_slice(), b"live_123456789_abcdefghijklmnop");
        assert!(!sealed.cipher.windows(8).any(|w| w == b"live_123"));
    }

    #[test]
    fn two_seals_of_the_same_secret_differ() {
        let v = vault();
        let a = v.seal(AT, b"same secret");
        let b = v.seal(AT, b"same secret");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.cipher, b.cipher);
    }

    #[test]
    fn any_altered_byte_of_ciphertext_nonce_or_tag_is_an_error_never_garbage() {
        let v = vault();
        let sealed = v.seal(AT, b"live_123456789_abcdefghijklmnop");
        for part in 0..3 {
            let len = [sealed.cipher.len(), sealed.nonce.len(), sealed.tag.len()][part];
            for i in 0..len {
                let mut bad = sealed.clone();
                let bytes = match part {
                    0 => &mut bad.cipher,
                    1 => &mut bad.nonce,
                    _ => &mut bad.tag,
                };
                bytes[i] ^= 0x01;
                assert!(matches!(v.open(AT, &bad), Err(VaultError::Tampered { .. })), "part {part} byte {i}");
            }
        }
        let mut short = sealed.clone();
        short.tag.pop();
        assert!(matches!(v.open(AT, &short), Err(VaultError::Tampered { .. })));
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_or_field_does_not_open() {
        let v = vault();
        let sealed = v.seal(AT, b"live_123456789_abcdefghijklmnop");
        let other_row = SecretRef { row_id: 8, ..AT };
        let other_field = SecretRef { field: "access_token", ..AT };
        assert!(matches!(v.open(other_row, &sealed), Err(VaultError::Tampered { row_id: 8, .. })));
        assert!(v.open(other_field, &sealed).is_err());
    }

    #[test]
    fn a_ciphertext_on_another_profile_s_row_or_a_reused_row_id_does_not_open() {
        let v = vault();
        let sealed = v.seal(AT, b"live_123456789_abcdefghijklmnop");
        // The same table, id and field, but another owner, or a later row that reuses the id.
        let other_owner = SecretRef { binding: "4/2026-11-30T05:00:00.000Z", ..AT };
        let reused_id = SecretRef { binding: "3/2026-12-01T09:30:00.000Z", ..AT };
        assert!(v.open(other_owner, &sealed).is_err());
        assert!(v.open(reused_id, &sealed).is_err());
        assert!(v.open(AT.unbound(), &sealed).is_err(), "not the unbound (v1) name either");
        assert_eq!(&v.open(AT, &sealed).unwrap()[..], b"live_123456789_abcdefghijklmnop");
    }

    #[test]
    fn another_key_cannot_open_a_secret() {
        let sealed = vault().seal(AT, b"secret");
        assert!(vault().open(AT, &sealed).is_err());
    }

    #[test]
    fn keyring_preference_reads_the_environment_value() {
        assert_eq!(KeyringPreference::from_env_value(Some("FILE")), KeyringPreference::File);
        assert_eq!(KeyringPreference::from_env_value(Some(" os ")), KeyringPreference::Os);
        assert_eq!(KeyringPreference::from_env_value(Some("")), KeyringPreference::Auto);
        assert_eq!(KeyringPreference::from_env_value(None), KeyringPreference::Auto);
    }
}
