//! Checking a stream key without going live (Twitch's bandwidth test), and for an account
//! connected with Twitch its grant too.

use serde::{Deserialize, Serialize};

use super::{publisher, BroadcastError};
use crate::profiles::Profile;
use crate::{accounts, ingest, Twitcher};

/// What checking an account's stream key found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KeyCheck {
    pub id: i64,
    pub ok: bool,
    pub server: String,
    pub elapsed_ms: f64,
    pub message: String,
    /// For an account connected with Twitch: whether its grant is valid and names this channel.
    pub token_ok: Option<bool>,
    pub token_message: Option<String>,
}

/// Tests an account's stream key against its ingest with Twitch's bandwidth test (nothing goes
/// live). A refusal is a result, not an error.
pub async fn check_key(app: &Twitcher, actor: &Profile, account_id: i64) -> Result<KeyCheck, BroadcastError> {
    let account = accounts::get(app, actor, account_id).await?;
    let key = accounts::stream_key(app, actor, account_id).await?;
    let server = match account.ingest_server.clone() {
        Some(s) => s,
        None => ingest::list(&app.db, &app.options().ingest_list_url).await?.automatic,
    };
    let (ok, elapsed_ms, message) = match publisher::check_key(&server, &key, &app.options().engine, &app.outbound()).await {
        Ok(elapsed) => (true, elapsed.as_secs_f64() * 1000.0, "the ingest accepted the key".to_string()),
        Err(e) => (false, 0.0, e),
    };
    let (token_ok, token_message) = if account.connected {
        match crate::twitch::tokens::verify(app, actor.id, &account).await {
            Ok(message) => (Some(true), Some(message)),
            Err(e) => (Some(false), Some(e.to_string())),
        }
    } else {
        (None, None)
    };
    tracing::info!(account_id, ok, ?token_ok, "stream key checked");
    Ok(KeyCheck { id: account_id, ok, server, elapsed_ms, message, token_ok, token_message })
}
