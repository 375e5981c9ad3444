//! An account's OAuth tokens: opened from the vault only for the call that needs them, refreshed
//! when Twitch says 401 (or when they are about to expire), validated at start-up and hourly as
//! Twitch requires of every app, and revoked when the account is unlinked.
//!
//! When a refresh is refused the grant is gone (the user disconnected the app, changed the
//! password, or the token was unused for too long): the account is marked "reconnect needed"
//! with that reason, and no call is made with its tokens until it is connected again.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::client::{Client, TokenResponse, Validation};
use super::TwitchError;
use crate::db::twitch::{token_ref, ACCESS_TOKEN, REFRESH_TOKEN};
use crate::redact;
use crate::vault::{Sealed, Vault};
use crate::Twitcher;

/// One refresh at a time in the process: two callers refreshing with the same refresh token
/// would spend it twice, and the second would look like a revoked grant. Between processes the
/// same is done by a claim in the database ([`REFRESH_CLAIM`]).
static REFRESHING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// How long a process may hold the right to spend an account's refresh token: longer than a
/// refresh takes, short enough that the claim of a process that died runs out soon.
const REFRESH_CLAIM: Duration = Duration::from_secs(30);

/// How often connected accounts are validated (Twitch: "at least once an hour").
pub const VALIDATE_EVERY: Duration = Duration::from_secs(3600);

pub(crate) use crate::clock::now_unix;

struct Open {
    access: Zeroizing<String>,
    refresh: Zeroizing<String>,
    expires_at: i64,
    login: String,
}

async fn open(app: &Twitcher, user_id: i64, id: i64) -> Result<Open, TwitchError> {
    // The key first: loading it may seal the stored secrets again (see `Db::bind_owners`).
    let vault = app.vault().await?;
    let Some(sealed) = app.db.account_tokens(user_id, id).await? else {
        // Either no such account, or one added by hand.
        app.db.account(user_id, id).await?.ok_or(crate::accounts::AccountError::NotFound { id })?;
        return Err(TwitchError::NotConnected { id });
    };
    if sealed.problem.is_some() {
        return Err(TwitchError::ReconnectNeeded { login: sealed.login });
    }
    let binding = app.db.account_binding(id).await?.unwrap_or_default();
    let access = vault.open_string(token_ref(id, ACCESS_TOKEN, &binding), &sealed.access)?;
    let refresh = vault.open_string(token_ref(id, REFRESH_TOKEN, &binding), &sealed.refresh)?;
    redact::register_secret(&access);
    redact::register_secret(&refresh);
    Ok(Open { access, refresh, expires_at: sealed.expires_at, login: sealed.login })
}

/// Seals a fresh pair for account `id` (its secrets' `binding`), registering both with the log
/// redaction.
pub(crate) fn seal_pair(vault: &Vault, id: i64, binding: &str, tokens: &TokenResponse) -> (Sealed, Sealed, i64) {
    redact::register_secret(&tokens.access_token);
    redact::register_secret(&tokens.refresh_token);
    let access = vault.seal(token_ref(id, ACCESS_TOKEN, binding), tokens.access_token.as_bytes());
    let refresh = vault.seal(token_ref(id, REFRESH_TOKEN, binding), tokens.refresh_token.as_bytes());
    (access, refresh, now_unix() + tokens.expires_in as i64)
}

/// Runs `call` with the account's access token. A token about to expire is refreshed first; a
/// 401 refreshes it and tries once more.
pub async fn with_token<T, F, Fut>(app: &Twitcher, client: &Client<'_>, user_id: i64, id: i64, call: F) -> Result<T, TwitchError>
where
    F: Fn(Zeroizing<String>) -> Fut,
    Fut: Future<Output = Result<T, TwitchError>>,
{
    let tokens = open(app, user_id, id).await?;
    let access = if tokens.expires_at <= now_unix() + 60 { refresh(app, client, user_id, id, &tokens.access).await? } else { tokens.access };
    match call(access.clone()).await {
        Err(TwitchError::Api { status: 401, .. }) => {
            tracing::info!(account_id = id, "Twitch refused the access token: refreshing it");
            let fresh = refresh(app, client, user_id, id, &access).await?;
            call(fresh).await
        }
        other => other,
    }
}

/// A new access token for the account, unless another caller — in this process or another —
/// already replaced `stale`: then that one. Only the caller that wins the claim in the database
/// spends the refresh token; the others wait for the pair it stores.
async fn refresh(app: &Twitcher, client: &Client<'_>, user_id: i64, id: i64, stale: &str) -> Result<Zeroizing<String>, TwitchError> {
    let _one_at_a_time = REFRESHING.lock().await;
    let deadline = tokio::time::Instant::now() + REFRESH_CLAIM;
    let current = loop {
        let current = open(app, user_id, id).await?;
        if current.access.as_str() != stale {
            return Ok(current.access);
        }
        let now = now_unix();
        if app.db.claim_token_refresh(id, now, now + REFRESH_CLAIM.as_secs() as i64).await? {
            // Tokens stored between the look above and the claim are not stale: look again.
            let current = open(app, user_id, id).await?;
            if current.access.as_str() != stale {
                app.db.release_token_refresh(id).await?;
                return Ok(current.access);
            }
            break current;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(TwitchError::Unexpected("another Twitcher process is refreshing this account's tokens and has not finished: try again".into()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let refreshed = client.refresh(&current.refresh).await;
    if !matches!(refreshed, Ok(_) | Err(TwitchError::Api { status: 400 | 401, .. })) {
        app.db.release_token_refresh(id).await?;
    }
    match refreshed {
        Ok(tokens) => {
            let vault = app.vault().await?;
            let binding = app.db.account_binding(id).await?.unwrap_or_default();
            let (access, refresh, expires_at) = seal_pair(&vault, id, &binding, &tokens);
            app.db.set_account_tokens(id, &access, &refresh, expires_at).await?;
            tracing::info!(account_id = id, "Twitch tokens refreshed");
            Ok(tokens.access_token)
        }
        Err(TwitchError::Api { status: 400 | 401, message }) => {
            tracing::warn!(account_id = id, %message, "Twitch refused the refresh token: reconnect needed");
            let e = TwitchError::ReconnectNeeded { login: current.login };
            app.db.set_account_auth_problem(id, &e.to_string()).await?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Checks an account's grant with `/oauth2/validate` (refreshing when needed).
pub async fn validate(app: &Twitcher, user_id: i64, id: i64) -> Result<Validation, TwitchError> {
    let client = Client::new(app).await?;
    let c = &client;
    let validation = with_token(app, c, user_id, id, |token| async move { c.validate(&token).await }).await?;
    app.db.set_account_validated(id).await?;
    Ok(validation)
}

/// Checks a connected account end to end: the grant (`/oauth2/validate`) and that `/users`
/// names the channel the account streams to. Returns what Twitch knows it as.
pub async fn verify(app: &Twitcher, user_id: i64, account: &crate::accounts::Account) -> Result<String, TwitchError> {
    #[derive(serde::Deserialize)]
    struct User {
        id: String,
        login: String,
    }
    let validation = validate(app, user_id, account.id).await?;
    let client = Client::new(app).await?;
    let c = &client;
    let user: Option<User> = with_token(app, c, user_id, account.id, |token| async move { c.get_one(&token, "/users", &[]).await }).await?;
    match user {
        Some(u) if account.channel_id.as_deref() == Some(u.id.as_str()) => {
            Ok(format!("Twitch knows this account as {} and accepts Twitcher's access ({} scopes)", u.login, validation.scopes.len()))
        }
        Some(u) => Err(TwitchError::Unexpected(format!("the token belongs to {}, not to channel {}", u.login, account.channel()))),
        None => Err(TwitchError::Unexpected("/users returned no user for the token".into())),
    }
}

/// Validates every connected account of the data dir; returns how many are still good.
pub async fn validate_all(app: &Twitcher) -> Result<usize, TwitchError> {
    let mut good = 0;
    for (user_id, id) in app.db.connected_accounts().await? {
        match validate(app, user_id, id).await {
            Ok(_) => good += 1,
            Err(e) => tracing::warn!(account_id = id, error = %e, "Twitch account did not validate"),
        }
    }
    Ok(good)
}

/// Validates at start-up and then every hour, until cancelled (the desktop app and `serve`).
pub async fn run_validation(app: Twitcher, cancel: CancellationToken, beat: crate::tasks::Beat) {
    loop {
        match validate_all(&app).await {
            // No client id: no account to validate, nothing wrong.
            Ok(_) | Err(TwitchError::NoClientId) => {
                beat.ok();
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not validate Twitch accounts");
                beat.failed(&e);
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(beat.period()) => {}
        }
    }
}

/// Tells Twitch to forget the account's grant (on unlink). Best effort: the account is removed
/// here whatever Twitch answers, so a failure is logged, not returned.
pub async fn revoke(app: &Twitcher, user_id: i64, id: i64) {
    let tokens = match open(app, user_id, id).await {
        Ok(t) => t,
        Err(_) => return,
    };
    let client = match Client::new(app).await {
        Ok(c) => c,
        Err(e) => return tracing::warn!(account_id = id, error = %e, "could not revoke the Twitch grant"),
    };
    for token in [&tokens.access, &tokens.refresh] {
        match client.revoke(token).await {
            Ok(()) => return tracing::info!(account_id = id, "Twitch grant revoked"),
            // An expired access token cannot be revoked; the refresh token still can.
            Err(e) => tracing::warn!(account_id = id, error = %e, "Twitch did not revoke a token"),
        }
    }
}
