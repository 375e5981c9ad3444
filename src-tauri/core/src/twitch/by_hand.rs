//! Accounts typed in by hand, as OBS takes them: a server and a key are enough. Twitch's channel
//! id, when left out with a login, is looked up through Helix's Get Users — possible when a Twitch
//! application is set up and the profile has a connected account whose token can ask; otherwise
//! the account is linked without one (connecting it later fills it in). The window, the CLI and
//! the API link and edit accounts through here; `accounts` itself never calls Twitch.

use std::borrow::Cow;

use crate::accounts::{self, Account, AccountError, AccountInput};
use crate::profiles::Profile;
use crate::Twitcher;

use super::client::Client;
use super::connect::HelixUser;
use super::{tokens, TwitchError};

/// Links an account typed in by hand ([`accounts::add`], its channel id looked up if left out).
pub async fn add_by_hand(app: &Twitcher, actor: &Profile, input: &AccountInput, stream_key: &str) -> Result<Account, AccountError> {
    let input = with_channel_id(app, actor, input).await?;
    accounts::add(app, actor, &input, stream_key).await
}

/// Saves an edit typed in by hand ([`accounts::update`], its channel id looked up if left out).
pub async fn update_by_hand(app: &Twitcher, actor: &Profile, id: i64, input: &AccountInput) -> Result<Account, AccountError> {
    let input = with_channel_id(app, actor, input).await?;
    accounts::update(app, actor, id, &input).await
}

async fn with_channel_id<'a>(app: &Twitcher, actor: &Profile, input: &'a AccountInput) -> Result<Cow<'a, AccountInput>, AccountError> {
    let given = input.channel_id.as_deref().is_some_and(|c| !c.trim().is_empty());
    let Some(login) = input.login.as_deref().map(str::trim).filter(|l| !l.is_empty() && !given) else { return Ok(Cow::Borrowed(input)) };
    // Asked with the first of the profile's connected accounts that Twitch still accepts.
    let asker = accounts::list(app, actor).await?.into_iter().find(|a| a.connected && a.auth_problem.is_none());
    let found = match asker {
        Some(asker) => lookup(app, actor, asker.id, login).await,
        None => Err(TwitchError::NotConnected { id: 0 }),
    };
    match found {
        Ok(Some(id)) => Ok(Cow::Owned(AccountInput { channel_id: Some(id), ..input.clone() })),
        Ok(None) => Err(AccountError::UnknownLogin { login: login.to_string() }),
        Err(e) => {
            // Nobody to ask with (no application, no connected account) or Twitch not
            // answering: the account is linked without a channel id, as OBS would stream to it.
            let reason = if matches!(e, TwitchError::NotConnected { .. }) { "no connected account to ask Twitch with".to_string() } else { e.to_string() };
            tracing::info!(%reason, "the channel id was not looked up: the account is linked without one");
            Ok(Cow::Borrowed(input))
        }
    }
}

/// Twitch's user id for `login`, asked with account `asker`'s token. `Ok(None)`: no such user.
async fn lookup(app: &Twitcher, actor: &Profile, asker: i64, login: &str) -> Result<Option<String>, TwitchError> {
    let client = Client::new(app).await?;
    let user: Option<HelixUser> =
        tokens::with_token(app, &client, actor.id, asker, |token| {
            let client = &client;
            async move { client.get_one(&token, "/users", &[("login", login)]).await }
        })
        .await?;
    Ok(user.map(|u| u.id))
}
