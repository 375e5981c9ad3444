//! A linked Twitch account as every surface sees it (its key masked).

use serde::{Deserialize, Serialize};

/// An account as every surface sees it. `stream_key` is masked, `None` when no key is set;
/// `ingest_server` `None` means automatic (Twitch's default server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: i64,
    pub display_name: String,
    pub login: Option<String>,
    /// Twitch's numeric user id of the channel: set when connected, or given (or looked up by
    /// login) when added by hand; `None` for an account added with its server and key alone.
    pub channel_id: Option<String>,
    pub ingest_server: Option<String>,
    pub stream_key: Option<String>,
    /// Linked through "Connect with Twitch" (Twitcher holds its tokens), not typed in by hand.
    pub connected: bool,
    pub avatar_url: Option<String>,
    /// Set when Twitch stopped accepting the tokens: the user must connect again.
    pub auth_problem: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Account {
    /// The channel id for Twitch's API. A connected account always has one (connecting sets it);
    /// the calls that use this are made for connected accounts only.
    pub fn channel(&self) -> &str {
        self.channel_id.as_deref().unwrap_or_default()
    }
}
