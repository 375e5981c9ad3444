//! Per-account numbers for the Accounts view and `twitch stats`: followers (Helix's `total`),
//! live or not, viewers, and the current title and category.
//!
//! Cached in the database for a minute, so every list, window and CLI call does not spend the
//! rate limit; "refresh" asks again unless the copy is only seconds old. None of this needs a
//! scope, so an account added by hand is looked up with another connected account's token of
//! the same profile; with none, it says why its numbers are missing. (`view_count` is deprecated
//! by Twitch and always 0: it is not shown.)

use serde::{Deserialize, Serialize};

use super::client::Client;
use super::tokens::{now_unix, with_token};
use super::TwitchError;
use crate::accounts::{self, Account};
use crate::profiles::Profile;
use crate::Twitcher;

/// How long stats are served from the cache.
pub const FRESH_S: i64 = 60;
/// A refresh on demand still uses a copy this young.
pub const MIN_AGE_S: i64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountStats {
    pub account_id: i64,
    pub login: Option<String>,
    pub followers: Option<u32>,
    pub live: Option<bool>,
    pub viewer_count: Option<u32>,
    pub title: Option<String>,
    pub game_name: Option<String>,
    /// When Twitch was asked (Unix seconds); `None` if never.
    pub fetched_unix: Option<i64>,
    /// Why numbers are missing or old, in words for the user.
    pub note: Option<String>,
}

#[derive(Deserialize)]
struct Followers {
    total: u32,
}

#[derive(Deserialize)]
struct HelixStream {
    title: String,
    game_name: String,
    viewer_count: u32,
}

#[derive(Deserialize)]
struct HelixChannel {
    title: String,
    game_name: String,
}

fn blank(account: &Account, note: String) -> AccountStats {
    AccountStats {
        account_id: account.id,
        login: account.login.clone(),
        followers: None,
        live: None,
        viewer_count: None,
        title: None,
        game_name: None,
        fetched_unix: None,
        note: Some(note),
    }
}

/// Stats of one account (`Some(id)`) or of every account of the profile.
pub async fn stats(app: &Twitcher, actor: &Profile, account_id: Option<i64>, refresh: bool) -> Result<Vec<AccountStats>, TwitchError> {
    let list = match account_id {
        Some(id) => vec![accounts::get(app, actor, id).await?],
        None => accounts::list(app, actor).await?,
    };
    let usable = |a: &Account| a.connected && a.auth_problem.is_none();
    let any_connected = accounts::list(app, actor).await?.into_iter().find(|a| usable(a)).map(|a| a.id);
    let client = Client::new(app).await;
    let mut out = Vec::with_capacity(list.len());
    for account in &list {
        let cached: Option<AccountStats> =
            app.db.account_stats_cache(account.id).await?.and_then(|(json, _)| serde_json::from_str(&json).ok());
        let age = cached.as_ref().and_then(|c| c.fetched_unix).map(|at| now_unix() - at);
        if age.is_some_and(|age| age < if refresh { MIN_AGE_S } else { FRESH_S }) {
            out.push(cached.expect("age implies a copy"));
            continue;
        }
        let via = if usable(account) { Some(account.id) } else { any_connected };
        let fetched = match (&client, via) {
            (Err(e), _) => Err(e.to_string()),
            (Ok(_), None) if account.auth_problem.is_some() => Err(account.auth_problem.clone().unwrap_or_default()),
            (Ok(_), None) => Err("followers and viewers need a channel connected with Twitch: use Connect with Twitch".to_string()),
            (Ok(_), Some(_)) if account.channel_id.is_none() => {
                Err("followers and viewers need the channel's id: use Connect with Twitch, or add its login".to_string())
            }
            (Ok(client), Some(via)) => fetch(app, client, actor, via, account).await.map_err(|e| e.to_string()),
        };
        match fetched {
            Ok(stats) => {
                app.db.set_account_stats_cache(account.id, &serde_json::to_string(&stats).expect("serializable"), now_unix()).await?;
                out.push(stats);
            }
            // Keep showing the last numbers, saying why they are old.
            Err(note) => out.push(match cached {
                Some(old) => AccountStats { note: Some(note), ..old },
                None => blank(account, note),
            }),
        }
    }
    Ok(out)
}

async fn fetch(app: &Twitcher, client: &Client<'_>, actor: &Profile, via: i64, account: &Account) -> Result<AccountStats, TwitchError> {
    let channel = account.channel();
    let stats = with_token(app, client, actor.id, via, |token| async move {
        let followers: Followers = client.get(&token, "/channels/followers", &[("broadcaster_id", channel)]).await?;
        let live: Option<HelixStream> = client.get_one(&token, "/streams", &[("user_id", channel)]).await?;
        let (title, game_name, viewers) = match &live {
            Some(s) => (s.title.clone(), s.game_name.clone(), Some(s.viewer_count)),
            None => match client.get_one::<HelixChannel>(&token, "/channels", &[("broadcaster_id", channel)]).await? {
                Some(c) => (c.title, c.game_name, None),
                None => (String::new(), String::new(), None),
            },
        };
        Ok(AccountStats {
            account_id: account.id,
            login: account.login.clone(),
            followers: Some(followers.total),
            live: Some(live.is_some()),
            viewer_count: viewers.or(Some(0)),
            title: Some(title).filter(|t| !t.is_empty()),
            game_name: Some(game_name).filter(|g| !g.is_empty()),
            fetched_unix: Some(now_unix()),
            note: None,
        })
    })
    .await?;
    Ok(stats)
}

/// Whether Twitch shows the account's channel live now, asked with its own token (for the
/// broadcast watchdog: a stream published to an ingest that Twitch does not show is going nowhere).
pub async fn channel_is_live(app: &Twitcher, actor: &Profile, account: &Account) -> Result<bool, TwitchError> {
    let client = Client::new(app).await?;
    let channel = account.channel();
    let client = &client;
    with_token(app, client, actor.id, account.id, |token| async move {
        let live: Option<HelixStream> = client.get_one(&token, "/streams", &[("user_id", channel)]).await?;
        Ok(live.is_some())
    })
    .await
}
