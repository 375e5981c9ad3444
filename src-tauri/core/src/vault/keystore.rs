//! Where the 256-bit data key is kept: an OS keyring entry, or a file in the data dir readable by
//! its owner only (0600 on Unix, an owner-only ACL on Windows).
//!
//! Each store has three slots per data dir: `Current` (the key in use), `Next` (a key being
//! rotated in, kept until the database has been re-sealed under it, so an interrupted rotation can
//! always be finished) and `Previous` (the key rotated out, kept until a later load has seen the
//! database record the new one — should the rotation's commit be lost with the power, the
//! database still names the previous key, and it is there). Every call blocks (D-Bus round trips,
//! file I/O): run them off the async runtime.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::KeyringBackend;

pub(crate) const KEY_LEN: usize = 32;
const SERVICE: &str = "tv.twitcher";
const PROBE_USER: &str = "twitcher-keyring-probe";
pub const KEY_FILE: &str = "vault.key";

pub(crate) type KeyBytes = Zeroizing<[u8; KEY_LEN]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Current,
    Next,
    Previous,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// No session bus, no Secret Service provider, or a locked keyring: the OS store cannot be used.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

pub(crate) enum Store {
    /// Entries named `data-key <id>`, `data-key-next <id>`, `data-key-previous <id>`.
    Os { id: String },
    File { dir: PathBuf },
}

impl Store {
    pub(crate) fn new(backend: KeyringBackend, data_dir: &Path) -> Self {
        match backend {
            KeyringBackend::Os => Store::Os { id: data_dir_id(data_dir) },
            // Never asked for a key file's key (the vault reads that file itself); a key kept in
            // the data dir is the nearest store to describe.
            KeyringBackend::File | KeyringBackend::KeyFile => Store::File { dir: data_dir.to_path_buf() },
        }
    }

    pub(crate) fn get(&self, slot: Slot) -> Result<Option<KeyBytes>, StoreError> {
        let text = match self {
            Store::Os { .. } => match self.entry(slot)?.get_password() {
                Ok(text) => Zeroizing::new(text),
                Err(keyring::Error::NoEntry) => return Ok(None),
                Err(e) => return Err(classify(e)),
            },
            Store::File { .. } => {
                let path = self.file(slot);
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        tighten_permissions(&path);
                        Zeroizing::new(text)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(StoreError::Failed(format!("cannot read {}: {e}", path.display()))),
                }
            }
        };
        decode(text.trim()).map(Some).ok_or_else(|| StoreError::Failed(format!("the stored key in {} is not a 256-bit key", self.describe())))
    }

    pub(crate) fn put(&self, slot: Slot, key: &KeyBytes) -> Result<(), StoreError> {
        let text = Zeroizing::new(hex::encode(key.as_slice()));
        match self {
            Store::Os { .. } => self.entry(slot)?.set_password(&text).map_err(classify),
            Store::File { dir } => write_private(dir, &self.file(slot), text.as_bytes())
                .map_err(|e| StoreError::Failed(format!("cannot write the key file in {}: {e}", dir.display()))),
        }
    }

    pub(crate) fn delete(&self, slot: Slot) -> Result<(), StoreError> {
        match self {
            Store::Os { .. } => match self.entry(slot)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(classify(e)),
            },
            Store::File { .. } => match std::fs::remove_file(self.file(slot)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StoreError::Failed(e.to_string())),
            },
        }
    }

    /// Where the key lives, in words for an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Store::Os { .. } => "the OS keyring".to_string(),
            Store::File { dir } => format!("the key file {}", dir.join(KEY_FILE).display()),
        }
    }

    fn entry(&self, slot: Slot) -> Result<keyring::Entry, StoreError> {
        let Store::Os { id } = self else { unreachable!("entry() is for the OS store") };
        let user = match slot {
            Slot::Current => format!("data-key {id}"),
            Slot::Next => format!("data-key-next {id}"),
            Slot::Previous => format!("data-key-previous {id}"),
        };
        keyring::Entry::new(SERVICE, &user).map_err(classify)
    }

    fn file(&self, slot: Slot) -> PathBuf {
        let Store::File { dir } = self else { unreachable!("file() is for the file store") };
        match slot {
            Slot::Current => dir.join(KEY_FILE),
            Slot::Next => dir.join(format!("{KEY_FILE}.next")),
            Slot::Previous => dir.join(format!("{KEY_FILE}.previous")),
        }
    }
}

/// Removes key copies a process killed between writing a key file and renaming it left behind
/// (`vault.tmp<pid>` for `vault.key`, `vault.key.tmp<pid>` for its other slots): each is a copy of
/// a key, and nothing reads them. Returns how many. Run at start, under the data dir's lock.
pub(crate) fn sweep_temp_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut swept = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let leftover = name.starts_with("vault.") && name.rsplit('.').next().is_some_and(|ext| ext.strip_prefix("tmp").is_some_and(|pid| pid.chars().all(|c| c.is_ascii_digit())));
        // One a running process is writing now is its own (it renames it in a moment).
        let pid: Option<u32> = name.rsplit('.').next().and_then(|ext| ext.strip_prefix("tmp")).and_then(|pid| pid.parse().ok());
        if leftover && !pid.is_some_and(process_alive) && std::fs::remove_file(entry.path()).is_ok() {
            tracing::warn!(file = %name, "removed a key file a killed process left half-written");
            swept += 1;
        }
    }
    swept
}

/// keyring's errors for "this machine has no usable keyring" (TOOLCHAIN.md): no session bus or no
/// Secret Service provider (`PlatformFailure`), a locked keyring (`NoStorageAccess`).
fn classify(e: keyring::Error) -> StoreError {
    match e {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => StoreError::Unavailable(e.to_string()),
        other => StoreError::Failed(other.to_string()),
    }
}

/// Whether the OS keyring can hold a secret right now: a store that keeps it across restarts,
/// and a probe entry written and deleted. Writing matters: a locked gnome-keyring answers reads
/// of a missing entry with `NoEntry` but refuses writes.
pub(crate) fn probe_os() -> Result<(), StoreError> {
    lasting(keyring::default::default_credential_builder().as_ref())?;
    let entry = keyring::Entry::new(SERVICE, PROBE_USER).map_err(classify)?;
    entry.set_password("probe").map_err(classify)?;
    entry.delete_credential().map_err(classify)
}

/// A store that would lose the data key is no store: keyring's mock (what it builds on a platform
/// whose native feature is not compiled in) keeps secrets in the process only, the kernel's
/// keyutils until the next reboot. Either is treated as no keyring, so the announced file
/// fallback is used instead of a key that vanishes with every stream key sealed under it.
fn lasting(builder: &keyring::credential::CredentialBuilder) -> Result<(), StoreError> {
    use keyring::credential::CredentialPersistence;
    match builder.persistence() {
        CredentialPersistence::UntilDelete => Ok(()),
        other => Err(StoreError::Unavailable(format!("this platform's keyring keeps secrets only {}", match other {
            CredentialPersistence::UntilReboot => "until the next reboot",
            _ => "while the program runs",
        }))),
    }
}

/// One keyring entry per data dir: named by a hash of its canonical path.
fn data_dir_id(data_dir: &Path) -> String {
    let canonical = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    hex::encode(&Sha256::digest(canonical.to_string_lossy().as_bytes())[..8])
}

fn decode(text: &str) -> Option<KeyBytes> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(text, key.as_mut_slice()).ok()?;
    Some(key)
}

/// Writes a file readable by its owner only, atomically: a 0600 (Unix) or owner-only ACL
/// (Windows) temp file, fsync, rename.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    // Before the key is in it: on Windows the ACL the folder passes on is replaced by one for
    // the user alone (on Unix the mode above did it already; this keeps it so under any umask).
    crate::private_files::owner_only(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Whether process `pid` runs (Unix: signal 0; elsewhere assumed, so nothing is swept there).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the process exists.
        let result = unsafe { libc::kill(pid as libc::pid_t, 0) };
        result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// A key file someone made readable to others is put back to 0600 (and said so).
fn tighten_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the key file was readable by others; restored mode 0600");
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    // Windows: the owner-only ACL set when the file was written stays with it (a rename keeps
    // it); reading an ACL back to compare is not worth a second copy of that code.
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyring_that_forgets_is_no_keyring_and_the_platforms_own_store_is_one() {
        // keyring's mock: what a build without the platform's feature gets.
        let mock = keyring::mock::default_credential_builder();
        assert!(matches!(lasting(mock.as_ref()), Err(StoreError::Unavailable(m)) if m.contains("while the program runs")));
        // This build's own store (Secret Service on Linux, Keychain, Credential Manager) lasts.
        assert!(lasting(keyring::default::default_credential_builder().as_ref()).is_ok());
    }
}
