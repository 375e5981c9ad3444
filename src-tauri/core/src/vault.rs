//! Which store protects the data key: the OS keyring (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows) or, where none is usable, a 0600 key file in the data dir.
//!
//! This module so far only *detects* the backend, for `doctor` and the Settings screen; sealing
//! and opening secrets (AES-256-GCM) and rotation come with the stream-key vault.

use serde::{Deserialize, Serialize};

use crate::config::{env_nonempty, ENV_KEYRING};

const SERVICE: &str = "tv.twitcher";
const PROBE_USER: &str = "twitcher-keyring-probe";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum KeyringBackend {
    Os,
    File,
}

/// `TWITCHER_KEYRING=os|file` forces a backend; otherwise the OS keyring is used if a probe entry
/// can be written and deleted. Writing (not just reading) matters: a locked gnome-keyring answers
/// reads of a missing entry with `NoEntry` but refuses writes with `NoStorageAccess`.
///
/// Blocking (D-Bus round trips): call it from a blocking context.
pub fn keyring_backend() -> KeyringBackend {
    match env_nonempty(ENV_KEYRING).as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("file") => return KeyringBackend::File,
        Some("os") => return KeyringBackend::Os,
        _ => {}
    }
    match probe_os_keyring() {
        Ok(()) => KeyringBackend::Os,
        Err(reason) => {
            tracing::warn!(%reason, "OS keyring unusable; secrets will be protected by a key file in the data dir");
            KeyringBackend::File
        }
    }
}

fn probe_os_keyring() -> Result<(), keyring::Error> {
    let entry = keyring::Entry::new(SERVICE, PROBE_USER)?;
    entry.set_password("probe")?;
    entry.delete_credential()
}
