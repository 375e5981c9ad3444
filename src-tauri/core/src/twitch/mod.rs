//! Twitch itself: OAuth (device code grant, refresh, validate, revoke) and the Helix calls
//! Twitcher needs (users, followers, streams, stream key, channel settings, category search).
//!
//! - [`client`]: the HTTP layer: base URLs per instance (`TWITCHER_TWITCH_AUTH_URL`,
//!   `TWITCHER_TWITCH_API_URL`), error bodies, the rate-limit bucket (waits for
//!   `Ratelimit-Reset` instead of being refused).
//! - [`connect`]: "Connect with Twitch": the device flow, then the account is created or updated
//!   with its profile, tokens and stream key — the user never pastes a key.
//! - [`tokens`]: opening the sealed tokens, refresh on a 401 (refresh tokens rotate), the hourly
//!   validation Twitch requires, "reconnect needed" when the grant is gone, revoke on unlink.
//! - [`stats`]: followers, live, viewers, title and category per account, cached.
//! - [`channel`]: title, category and tags applied to each connected destination at go-live.
//!
//! Twitcher is a public client (a desktop app cannot keep a secret): no `client_secret` is ever
//! sent. Tokens are sealed by the vault like stream keys and registered with the log redaction
//! the moment they exist in memory.

pub mod by_hand;
pub mod channel;
pub mod client;
pub mod connect;
pub mod schedule;
pub mod stats;
pub mod tokens;

use crate::accounts::AccountError;
use crate::db::DbError;
use crate::model::NotAdmin;
use crate::profiles::Profile;
use crate::vault::VaultError;

pub use crate::options::{TwitchConfig, DEFAULT_API_URL, DEFAULT_AUTH_URL};
pub use by_hand::{add_by_hand, update_by_hand};
pub use connect::{begin_connect, finish_connect, opens_in_browser, Connected, DeviceLogin, DevicePrompt};
pub use stats::{stats, AccountStats};

/// A client id set in Settings (the environment variable wins over it).
pub const CLIENT_ID_SETTING: &str = "twitch.client_id";
/// What "Connect with Twitch" asks for: reading the stream key, setting title, category, tags
/// and stream markers, and publishing recurring schedules to the channel's schedule. Followers' `total` and live status need no scope.
pub const SCOPES: &[&str] = &["channel:read:stream_key", "channel:manage:broadcast", "channel:manage:schedule"];


impl TwitchConfig {
    /// Both base URLs are `https`. Test builds (the core's `testing` feature, which only the
    /// test suites enable) also take the `http` of a local fake Twitch.
    pub fn check(&self) -> Result<(), TwitchError> {
        self.check_schemes(cfg!(feature = "testing"))
    }

    fn check_schemes(&self, allow_http: bool) -> Result<(), TwitchError> {
        for (variable, url) in [("TWITCHER_TWITCH_AUTH_URL", &self.auth_url), ("TWITCHER_TWITCH_API_URL", &self.api_url)] {
            let scheme = url::Url::parse(url).map(|u| u.scheme().to_string()).unwrap_or_default();
            if !(scheme == "https" || (allow_http && scheme == "http")) {
                return Err(TwitchError::InsecureUrl { variable });
            }
        }
        Ok(())
    }

}

#[derive(Debug, thiserror::Error)]
pub enum TwitchError {
    #[error("no Twitch client id: register a public application at dev.twitch.tv/console (Client Type: Public, OAuth Redirect URL: http://localhost) and put its Client ID in Settings → Twitch, or set TWITCHER_TWITCH_CLIENT_ID")]
    NoClientId,
    #[error("the Twitch client id must be 1 to 64 letters, digits, '-' or '_' (copy it from dev.twitch.tv/console)")]
    InvalidClientId,
    #[error("Twitch could not be reached ({0}): check the connection and try again")]
    Unreachable(String),
    #[error("Twitch refused the request ({status}): {message}")]
    Api { status: u16, message: String },
    #[error("Twitch did not grant the permission this needs ({0}): connect with Twitch again to grant it")]
    MissingScope(String),
    #[error("Twitch's rate limit is used up for {retry_in_s} s more: try again then")]
    RateLimited { retry_in_s: u64 },
    #[error("the connection was declined on Twitch: nothing was linked")]
    Denied,
    #[error("the code expired before it was entered on Twitch: start again to get a new one")]
    Expired,
    #[error("cancelled")]
    Cancelled,
    #[error("Twitch no longer accepts Twitcher's access to {login} (the app was disconnected or the password changed): connect with Twitch again")]
    ReconnectNeeded { login: String },
    #[error("account {id} is not connected with Twitch (it was added by hand): use Connect with Twitch to link it")]
    NotConnected { id: i64 },
    #[error("Twitch answered something unexpected: {0}")]
    Unexpected(String),
    #[error("{variable} must be an https:// URL (Twitch's own, or a proxy of it): plain http would carry tokens and stream keys in clear")]
    InsecureUrl { variable: &'static str },
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    NotAdmin(#[from] NotAdmin),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Unlinks an account: a connected one's grant is revoked on Twitch first (best effort: the
/// account goes even when Twitch cannot be reached), then the account and its secrets go.
pub async fn unlink(app: &crate::Twitcher, actor: &Profile, id: i64) -> Result<(), AccountError> {
    tokens::revoke(app, actor.id, id).await;
    crate::accounts::remove(app, actor, id).await
}

/// The client id to use: the environment's, else Settings', else the one compiled in
/// (`TWITCHER_TWITCH_CLIENT_ID` at build time, for packaged builds).
pub async fn client_id(app: &crate::Twitcher) -> Result<String, TwitchError> {
    if let Some(id) = &app.options().twitch.client_id {
        return Ok(id.clone());
    }
    if let Some(id) = app.db.setting(CLIENT_ID_SETTING).await? {
        return Ok(id);
    }
    option_env!("TWITCHER_TWITCH_CLIENT_ID").map(str::to_string).ok_or(TwitchError::NoClientId)
}

/// Saves the client id of Settings (empty clears it).
pub async fn set_client_id(app: &crate::Twitcher, actor: &Profile, id: &str) -> Result<(), TwitchError> {
    actor.require_admin()?;
    let id = id.trim();
    if id.is_empty() {
        app.db.delete_setting(CLIENT_ID_SETTING).await?;
        return Ok(());
    }
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(TwitchError::InvalidClientId);
    }
    app.db.set_setting(CLIENT_ID_SETTING, id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(auth: &str, api: &str) -> TwitchConfig {
        TwitchConfig { auth_url: auth.into(), api_url: api.into(), client_id: None }
    }

    #[test]
    fn a_product_build_talks_to_twitch_only_over_https() {
        assert!(config(DEFAULT_AUTH_URL, DEFAULT_API_URL).check_schemes(false).is_ok());
        let plain = config("http://127.0.0.1:9", DEFAULT_API_URL).check_schemes(false).unwrap_err();
        assert!(matches!(plain, TwitchError::InsecureUrl { variable: "TWITCHER_TWITCH_AUTH_URL" }), "{plain}");
        assert!(matches!(config(DEFAULT_AUTH_URL, "http://127.0.0.1:9/helix").check_schemes(false), Err(TwitchError::InsecureUrl { variable: "TWITCHER_TWITCH_API_URL" })));
        assert!(config(DEFAULT_AUTH_URL, "ftp://x/helix").check_schemes(true).is_err(), "only http(s), even in tests");
        assert!(config("http://127.0.0.1:9", "http://127.0.0.1:9/helix").check_schemes(true).is_ok(), "a test build's local fake");
    }

    #[test]
    fn only_https_verification_addresses_open_in_the_browser() {
        assert!(connect::opens_in_browser("https://www.twitch.tv/activate?device-code=ABCD"));
        for refused in ["http://www.twitch.tv/activate", "file:///etc/passwd", "javascript:alert(1)", "steam://run/1", "https:/", "not a url"] {
            assert!(!connect::opens_in_browser(refused), "{refused}");
        }
    }
}
