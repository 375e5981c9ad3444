//! "Connect with Twitch" by the Device Code Grant (RFC 8628), the flow Twitch documents for
//! public clients: the app shows a short code, the user enters it on twitch.tv/activate, the app
//! polls until Twitch hands over the tokens. Then the account is created (or updated, when the
//! channel is already linked) with its login, display name, avatar and stream key.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::client::{Client, Poll, TokenResponse};
use super::tokens::seal_pair;
use super::{TwitchError, SCOPES};
use crate::accounts::{self, Account, AccountInput};
use crate::db::twitch::TwitchProfile;
use crate::profiles::Profile;
use crate::{redact, Twitcher};

/// What the user needs to approve the connection: shown in the window, printed by the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DevicePrompt {
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in_s: u32,
}

/// A started connection. The device code can be exchanged for tokens, so it stays in here and
/// never reaches a UI payload or a log line.
pub struct DeviceLogin {
    pub prompt: DevicePrompt,
    device_code: Zeroizing<String>,
    interval: Duration,
    deadline: Instant,
}

/// The outcome of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Connected {
    pub account: Account,
    pub scopes: Vec<String>,
    /// False when the channel was already linked and has been updated.
    pub created: bool,
}

#[derive(Deserialize)]
pub(crate) struct HelixUser {
    pub(crate) id: String,
    login: String,
    display_name: String,
    #[serde(default)]
    profile_image_url: String,
}

#[derive(Deserialize)]
struct HelixStreamKey {
    stream_key: Zeroizing<String>,
}

/// Whether a verification URI (from the network) may be opened in the browser: only `https`,
/// in every build, so an answer naming `file:`, `javascript:` or a program's scheme opens nothing.
/// The window and the CLI show the URI either way.
pub fn opens_in_browser(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| u.scheme() == "https" && u.host().is_some())
}

/// Asks Twitch for a device code.
pub async fn begin_connect(app: &Twitcher) -> Result<DeviceLogin, TwitchError> {
    let client = Client::new(app).await?;
    let device = client.device_start(SCOPES).await?;
    tracing::info!(expires_in_s = device.expires_in, "Twitch device code issued");
    Ok(DeviceLogin {
        prompt: DevicePrompt {
            user_code: device.user_code,
            verification_uri: device.verification_uri,
            expires_in_s: device.expires_in.min(u32::MAX as u64) as u32,
        },
        device_code: device.device_code,
        interval: Duration::from_secs(device.interval.max(1)),
        deadline: Instant::now() + Duration::from_secs(device.expires_in),
    })
}

/// Waits for the user to approve (polling at Twitch's interval, slower when told to), then
/// links the account. `cancel` stops the wait.
pub async fn finish_connect(app: &Twitcher, actor: &Profile, login: DeviceLogin, cancel: &CancellationToken) -> Result<Connected, TwitchError> {
    let client = Client::new(app).await?;
    let mut interval = login.interval;
    let tokens = loop {
        tokio::select! {
            _ = cancel.cancelled() => return Err(TwitchError::Cancelled),
            _ = tokio::time::sleep(interval) => {}
        }
        if Instant::now() >= login.deadline {
            return Err(TwitchError::Expired);
        }
        match client.device_poll(&login.device_code, SCOPES).await? {
            Poll::Pending => {}
            // RFC 8628 §3.5: every later poll waits 5 s longer.
            Poll::SlowDown => interval += Duration::from_secs(5),
            Poll::Granted(tokens) => break tokens,
        }
    };
    redact::register_secret(&tokens.access_token);
    redact::register_secret(&tokens.refresh_token);
    match link(app, actor, &client, &tokens).await {
        Ok(connected) => Ok(connected),
        Err(e) => {
            // Nothing was linked: leave no grant behind on Twitch either.
            let _ = client.revoke(&tokens.access_token).await;
            Err(e)
        }
    }
}

async fn link(app: &Twitcher, actor: &Profile, client: &Client<'_>, tokens: &TokenResponse) -> Result<Connected, TwitchError> {
    let token = tokens.access_token.as_str();
    let validation = client.validate(token).await?;
    let user: HelixUser = client
        .get_one(token, "/users", &[])
        .await?
        .ok_or_else(|| TwitchError::Unexpected("no user for the new token".into()))?;
    if user.id != validation.user_id {
        return Err(TwitchError::Unexpected("the token and /users name different users".into()));
    }
    let key = client
        .get_one::<HelixStreamKey>(token, "/streams/key", &[("broadcaster_id", &user.id)])
        .await?
        .ok_or_else(|| TwitchError::Unexpected("Twitch returned no stream key".into()))?
        .stream_key;
    redact::register_secret(&key);

    let (id, created) = match app.db.account_by_channel(actor.id, &user.id, &user.login).await? {
        Some(id) => {
            accounts::set_key(app, actor, id, &key).await?;
            (id, false)
        }
        None => {
            let input = AccountInput { display_name: user.display_name.clone(), channel_id: Some(user.id.clone()), login: Some(user.login.clone()), ingest_server: None };
            (accounts::add(app, actor, &input, &key).await?.id, true)
        }
    };
    let vault = app.vault().await?;
    let binding = app.db.account_binding(id).await?.unwrap_or_default();
    let (access, refresh, expires_at) = seal_pair(&vault, id, &binding, tokens);
    let avatar = Some(user.profile_image_url.as_str()).filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let profile = TwitchProfile { channel_id: &user.id, login: &user.login, display_name: &user.display_name, avatar_url: avatar };
    let scopes = validation.scopes.join(" ");
    let saved = app.db.set_account_connection(actor.id, id, &profile, &access, &refresh, expires_at, &scopes).await;
    if let Err(e) = saved {
        if created {
            let _ = app.db.delete_account(actor.id, id).await;
        }
        return Err(e.into());
    }
    tracing::info!(account_id = id, created, "Twitch account connected");
    Ok(Connected { account: accounts::get(app, actor, id).await?, scopes: validation.scopes, created })
}
