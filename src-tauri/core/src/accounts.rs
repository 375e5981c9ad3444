//! Twitch accounts of a profile: the channels a broadcast goes to.
//!
//! Stream keys are write-only. They go into the vault when added or changed, every surface sees
//! them masked (`live_****1234`), and only [`stream_key`] — called by the streaming engine when it
//! connects — opens one, into memory that is wiped on drop.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::db::accounts::{AccountFields, InsertOutcome, UpdateOutcome, STREAM_KEY, TABLE};
use crate::db::DbError;
use crate::ingest::{self, IngestError};
use crate::profiles::{Plan, Profile};
use crate::redact;
use crate::vault::{SecretRef, VaultError};
pub use crate::model::Account;
use crate::Twitcher;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    InvalidName(crate::text::TextError),
    #[error("the channel id must be Twitch's numeric user id (1 to 20 digits), or left out")]
    InvalidChannelId,
    #[error("Twitch has no channel named {login}: check the login (the NAME of twitch.tv/NAME), or leave it out")]
    UnknownLogin { login: String },
    #[error("the login must be a Twitch user name: 1 to 25 letters, digits or underscores")]
    InvalidLogin,
    #[error("the stream key must be 8 to 256 characters with no spaces, '/' or '?': copy it again from Twitch's Creator Dashboard (Settings → Stream)")]
    InvalidStreamKey,
    #[error("no stream key was given: pipe it on stdin or type it at the prompt")]
    MissingStreamKey,
    #[error(transparent)]
    InvalidIngest(#[from] IngestError),
    #[error(transparent)]
    Outbound(#[from] crate::outbound::OutboundError),
    #[error("channel {channel_id} is already linked to this profile")]
    DuplicateChannel { channel_id: String },
    #[error("your {plan} plan allows {limit} Twitch accounts and you have linked them all: remove one or move to a larger plan")]
    PlanLimit { plan: Plan, limit: u32 },
    #[error("no Twitch account {id} on this profile")]
    NotFound { id: i64 },
    #[error("account {id} has no stream key yet: set one first")]
    NoStreamKey { id: i64 },
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a person enters for an account, besides its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AccountInput {
    pub display_name: String,
    /// Twitch's numeric user id; optional, as in OBS only the server and key are needed. Left
    /// out with a login, it is looked up on Twitch where Twitcher can ask ([`crate::twitch::add_by_hand`]).
    #[serde(default)]
    pub channel_id: Option<String>,
    pub login: Option<String>,
    /// `None`, empty or "auto": automatic; otherwise an rtmp:// or rtmps:// server URL.
    pub ingest_server: Option<String>,
}

struct Valid {
    display_name: String,
    channel_id: Option<String>,
    login: Option<String>,
    ingest_server: Option<String>,
}

impl Valid {
    fn fields(&self) -> AccountFields<'_> {
        AccountFields {
            display_name: &self.display_name,
            login: self.login.as_deref(),
            channel_id: self.channel_id.as_deref(),
            ingest_server: self.ingest_server.as_deref(),
        }
    }
}

async fn validate(app: &Twitcher, input: &AccountInput) -> Result<Valid, AccountError> {
    let display_name = crate::text::line("display name", &input.display_name, 64).map_err(AccountError::InvalidName)?;
    // Left out (`None`) is fine; given, it is Twitch's number (an empty one is a mistake).
    let channel_id = match input.channel_id.as_deref().map(str::trim) {
        None => None,
        Some(c) if !c.is_empty() && c.len() <= 20 && c.bytes().all(|b| b.is_ascii_digit()) => Some(c.to_string()),
        Some(_) => return Err(AccountError::InvalidChannelId),
    };
    let login = match input.login.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => None,
        Some(l) if l.len() <= 25 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => Some(l.to_ascii_lowercase()),
        Some(_) => return Err(AccountError::InvalidLogin),
    };
    let ingest_server = ingest::normalize_choice(input.ingest_server.as_deref())?;
    // A server checks where it will connect before it stores it (and again at each connect);
    // the desktop takes what its user types.
    let outbound = app.outbound();
    if let Some(server) = ingest_server.as_ref().filter(|_| outbound.restricted) {
        let url = url::Url::parse(server).map_err(|e| ingest::IngestError::NotAUrl(e.to_string()))?;
        let port = url.port().unwrap_or(if url.scheme() == "rtmps" { 443 } else { 1935 });
        match outbound.resolve(url.host_str().unwrap_or_default(), port).await {
            // A name that cannot be looked up now is looked up (and checked) when it connects.
            Ok(_) | Err(crate::outbound::OutboundError::Unresolvable { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Valid { display_name: display_name.to_string(), channel_id, login, ingest_server })
}

fn validate_key(key: &str) -> Result<&str, AccountError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(AccountError::MissingStreamKey);
    }
    let len = key.chars().count();
    if !(8..=256).contains(&len) || key.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '?') {
        return Err(AccountError::InvalidStreamKey);
    }
    Ok(key)
}

/// Where account `id`'s stream key is sealed; `binding` from `Db::account_binding`.
fn key_ref(id: i64, binding: &str) -> SecretRef<'_> {
    SecretRef { table: TABLE, row_id: id, field: STREAM_KEY, binding }
}

/// Links a Twitch account to the profile, within the plan's account limit.
pub async fn add(app: &Twitcher, actor: &Profile, input: &AccountInput, stream_key: &str) -> Result<Account, AccountError> {
    let valid = validate(app, input).await?;
    let key = validate_key(stream_key)?;
    let vault = app.vault().await?;
    let outcome = app
        .db
        .insert_account(actor.id, &valid.fields(), &redact::stream_key_hint(key), |at| vault.seal(at, key.as_bytes()))
        .await?;
    match outcome {
        InsertOutcome::Inserted(account) => {
            tracing::info!(account_id = account.id, profile_id = actor.id, "Twitch account linked");
            Ok(account)
        }
        InsertOutcome::DuplicateChannel => Err(AccountError::DuplicateChannel { channel_id: valid.channel_id.unwrap_or_default() }),
        InsertOutcome::PlanLimitReached => {
            // Read the plan afresh: an ADMIN may have changed it since the actor was loaded.
            let profile = app.db.user_by_id(actor.id).await?.unwrap_or_else(|| actor.clone());
            Err(AccountError::PlanLimit { plan: profile.plan, limit: profile.limits.max_accounts.unwrap_or(0) })
        }
    }
}

/// A page of the profile's accounts by id (the API's list).
pub async fn list_page(app: &Twitcher, actor: &Profile, page: crate::model::PageRequest) -> Result<Vec<Account>, AccountError> {
    Ok(app.db.accounts_page(actor.id, page.cursor.unwrap_or(0), page.limit).await?)
}

pub async fn list(app: &Twitcher, actor: &Profile) -> Result<Vec<Account>, AccountError> {
    Ok(app.db.accounts(actor.id).await?)
}

pub async fn get(app: &Twitcher, actor: &Profile, id: i64) -> Result<Account, AccountError> {
    app.db.account(actor.id, id).await?.ok_or(AccountError::NotFound { id })
}

/// Changes name, channel id, login and ingest; the key stays as it is.
pub async fn update(app: &Twitcher, actor: &Profile, id: i64, input: &AccountInput) -> Result<Account, AccountError> {
    let valid = validate(app, input).await?;
    match app.db.update_account(actor.id, id, &valid.fields()).await? {
        UpdateOutcome::Updated => {
            tracing::info!(account_id = id, "Twitch account updated");
            get(app, actor, id).await
        }
        UpdateOutcome::NotFound => Err(AccountError::NotFound { id }),
        UpdateOutcome::DuplicateChannel => Err(AccountError::DuplicateChannel { channel_id: valid.channel_id.unwrap_or_default() }),
    }
}

pub async fn set_key(app: &Twitcher, actor: &Profile, id: i64, stream_key: &str) -> Result<Account, AccountError> {
    let key = validate_key(stream_key)?;
    let vault = app.vault().await?;
    let Some(binding) = app.db.account_binding(id).await? else { return Err(AccountError::NotFound { id }) };
    let sealed = vault.seal(key_ref(id, &binding), key.as_bytes());
    if !app.db.set_account_key(actor.id, id, &sealed, &redact::stream_key_hint(key)).await? {
        return Err(AccountError::NotFound { id });
    }
    tracing::info!(account_id = id, "stream key replaced");
    get(app, actor, id).await
}

/// Removes an account and its sealed secrets. The surfaces call [`crate::twitch::unlink`],
/// which first revokes a connected account's grant on Twitch.
pub async fn remove(app: &Twitcher, actor: &Profile, id: i64) -> Result<(), AccountError> {
    if !app.db.delete_account(actor.id, id).await? {
        return Err(AccountError::NotFound { id });
    }
    tracing::info!(account_id = id, "Twitch account removed");
    Ok(())
}

/// The plain stream key, for the streaming engine at connect time only. It is registered with the
/// log redaction so it cannot reach a log line even by accident.
pub async fn stream_key(app: &Twitcher, actor: &Profile, id: i64) -> Result<Zeroizing<String>, AccountError> {
    // The key first: loading it may seal the stored secrets again (see `Db::bind_owners`).
    let vault = app.vault().await?;
    let sealed = app.db.account_key(actor.id, id).await?;
    let Some(sealed) = sealed else {
        get(app, actor, id).await?;
        return Err(AccountError::NoStreamKey { id });
    };
    let binding = app.db.account_binding(id).await?.unwrap_or_default();
    let key = vault.open_string(key_ref(id, &binding), &sealed)?;
    redact::register_secret(&key);
    Ok(key)
}
