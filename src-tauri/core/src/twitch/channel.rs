//! At go-live, each connected destination gets the stream's title, category and tags through
//! `PATCH /channels` before publishing starts. Each destination's outcome is its own: a refusal
//! (a tag Twitch does not accept, a missing scope, no answer in time) becomes a notice on that
//! destination and the stream goes live anyway — the video matters more than its title.
//!
//! A playlist does the same at each join with the next item's title, category and tags, and
//! drops a stream marker named after the item (`POST /streams/markers`), so the VOD has chapters.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::client::Client;
use super::tokens::with_token;
use super::TwitchError;
use crate::accounts::Account;
use crate::profiles::Profile;
use crate::Twitcher;

/// How long go-live waits for Twitch before publishing regardless.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Twitch's limit on a stream title.
const TITLE_MAX: usize = 140;

#[derive(Deserialize)]
struct Category {
    id: String,
    name: String,
}

/// Tags as people type them (`#Chill`, ` art `) made into what Twitch takes; empty ones dropped.
/// Anything else (spaces, symbols, too long, too many) is left for Twitch to judge, so its
/// reason is what the user sees.
pub fn normalize_tags(tags: &[String]) -> Vec<String> {
    tags.iter().map(|t| t.trim().trim_start_matches('#').to_string()).filter(|t| !t.is_empty()).collect()
}

/// The category Twitch knows by that name: an exact (case-insensitive) match, else its best.
pub async fn resolve_category(app: &Twitcher, actor: &Profile, via: i64, name: &str) -> Result<Option<(String, String)>, TwitchError> {
    let client = Client::new(app).await?;
    let c = &client;
    let found: Vec<Category> = with_token(app, c, actor.id, via, |token| async move {
        Ok(c.get::<super::client::Data<Category>>(&token, "/search/categories", &[("query", name)]).await?.data)
    })
    .await?;
    let exact = found.iter().position(|c| c.name.eq_ignore_ascii_case(name.trim()));
    Ok(found.into_iter().nth(exact.unwrap_or(0)).map(|c| (c.id, c.name)))
}

/// Sets title, category (a `game_id`) and tags of one account's channel.
pub async fn apply(app: &Twitcher, actor: &Profile, account: &Account, title: &str, game_id: Option<&str>, tags: &[String]) -> Result<(), TwitchError> {
    let client = Client::new(app).await?;
    let c = &client;
    let mut body = json!({ "title": title.chars().take(TITLE_MAX).collect::<String>(), "tags": normalize_tags(tags) });
    if let Some(id) = game_id {
        body["game_id"] = json!(id);
    }
    let (body, channel) = (&body, account.channel());
    with_token(app, c, actor.id, account.id, |token| async move { c.patch(&token, "/channels", &[("broadcaster_id", channel)], body).await }).await
}

/// Applies the stream's settings to every destination; returns a notice per account that did
/// not get them (accounts missing from the map were updated).
pub async fn apply_all(app: &Twitcher, actor: &Profile, accounts: &[Account], title: &str, category: Option<&str>, tags: &[String]) -> HashMap<i64, String> {
    let mut notices = HashMap::new();
    let connected: Vec<&Account> = accounts.iter().filter(|a| a.connected).collect();
    for a in accounts.iter().filter(|a| !a.connected) {
        notices.insert(a.id, "title and category not set on Twitch: this account was added by hand (use Connect with Twitch to let Twitcher set them)".to_string());
    }
    let Some(first) = connected.first() else { return notices };
    let category = category.map(str::trim).filter(|c| !c.is_empty());
    let mut game_id = None;
    let mut category_notice = None;
    if let Some(name) = category {
        match tokio::time::timeout(APPLY_TIMEOUT, resolve_category(app, actor, first.id, name)).await {
            Ok(Ok(Some((id, _)))) => game_id = Some(id),
            Ok(Ok(None)) => category_notice = Some(format!("Twitch has no category named '{name}': the category was not changed")),
            Ok(Err(e)) => category_notice = Some(format!("the category could not be looked up: {e}")),
            Err(_) => category_notice = Some("Twitch did not answer the category search in time: the category was not changed".to_string()),
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for account in connected {
        let (app, actor, account) = (app.clone(), actor.clone(), account.clone());
        let (title, game_id, tags) = (title.to_string(), game_id.clone(), tags.to_vec());
        tasks.spawn(async move {
            let outcome = tokio::time::timeout(APPLY_TIMEOUT, apply(&app, &actor, &account, &title, game_id.as_deref(), &tags)).await;
            (account.id, outcome)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((id, outcome)) = joined else { continue };
        let notice = match outcome {
            Ok(Ok(())) => category_notice.clone(),
            Ok(Err(e)) => Some(format!("title, category and tags not set on Twitch: {e}")),
            Err(_) => Some("title, category and tags not set: Twitch did not answer in time".to_string()),
        };
        match notice {
            Some(n) => {
                tracing::warn!(account_id = id, notice = %n, "channel settings not applied");
                notices.insert(id, n);
            }
            None => tracing::info!(account_id = id, "channel title, category and tags set"),
        }
    }
    notices
}

/// Twitch's limit on a marker's description.
const MARKER_MAX: usize = 140;

/// A stream marker on one account's live broadcast.
pub async fn mark(app: &Twitcher, actor: &Profile, account: &Account, description: &str) -> Result<(), TwitchError> {
    let client = Client::new(app).await?;
    let c = &client;
    let body = json!({ "user_id": account.channel(), "description": description.chars().take(MARKER_MAX).collect::<String>() });
    let body = &body;
    with_token(app, c, actor.id, account.id, |token| async move {
        c.post::<super::client::Data<serde_json::Value>>(&token, "/streams/markers", &[], body).await.map(|_| ())
    })
    .await
}

/// What a playlist item asks of the channels when it starts.
#[derive(Debug, Clone)]
pub struct ItemStart {
    /// The marker's name: the item's title, else its video's.
    pub label: String,
    /// Title, category and tags for the channels, when the item has any (`None`: unchanged).
    pub settings: Option<(String, Option<String>, Vec<String>)>,
}

/// When a playlist item starts: its channel settings (as at go-live) and, at a join (`marker`),
/// a stream marker, on every connected account. Returns a notice per account for anything
/// Twitch did not take.
pub async fn at_join(app: &Twitcher, actor: &Profile, accounts: &[Account], item: &ItemStart, marker: bool) -> HashMap<i64, String> {
    let mut notices = match &item.settings {
        Some((title, category, tags)) => apply_all(app, actor, accounts, title, category.as_deref(), tags).await,
        None => HashMap::new(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for account in accounts.iter().filter(|a| a.connected && marker) {
        let (app, actor, account, label) = (app.clone(), actor.clone(), account.clone(), item.label.clone());
        tasks.spawn(async move { (account.id, tokio::time::timeout(APPLY_TIMEOUT, mark(&app, &actor, &account, &label)).await) });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((id, outcome)) = joined else { continue };
        let problem = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => format!("no stream marker for “{}”: {e}", item.label),
            Err(_) => format!("no stream marker for “{}”: Twitch did not answer in time", item.label),
        };
        tracing::warn!(account_id = id, "stream marker not made");
        notices.entry(id).and_modify(|n| *n = format!("{n}; {problem}")).or_insert(problem);
    }
    notices
}
