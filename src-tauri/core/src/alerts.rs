//! Alerts for a creator who is not watching the window: a destination lost, failed or back, a
//! scheduled broadcast started, a broadcast ended. Derived from the core's events; each surface
//! shows them its way (the desktop as system notifications), and when a webhook URL is set they
//! are POSTed to it as JSON — for a phone, a chat bot, a pager.
//!
//! An alert names accounts and titles, never a key, a token or a profile UUID, and its error
//! text passes the redaction rules.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::broadcast::StreamState;
use crate::db::DbError;
use crate::model::NotAdmin;
use crate::events::Event;
use crate::Twitcher;

const WEBHOOK_SETTING: &str = "alerts.webhook_url";

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("the webhook URL must be an http:// or https:// URL")]
    InvalidWebhook,
    #[error(transparent)]
    NotAdmin(#[from] NotAdmin),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What happened, with what a person needs to act on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Alert {
    /// The connection to Twitch dropped; Twitcher is reconnecting.
    DestinationLost { broadcast_id: String, stream_id: i64, account: String, title: String, error: Option<String> },
    /// The destination gave up (a refused key, a video that ended while away).
    DestinationFailed { broadcast_id: String, stream_id: i64, account: String, title: String, error: Option<String> },
    /// Back on air after a loss.
    DestinationRecovered { broadcast_id: String, stream_id: i64, account: String, title: String, reconnects: u32 },
    ScheduledStarted { broadcast_id: String, title: String, destinations: u32 },
    BroadcastEnded { broadcast_id: String, title: String, destinations: u32, failed: u32 },
    /// A playlist item could not play (its file gone or unreadable): the slate played instead
    /// and the broadcast went on with the next item.
    ItemSkipped { broadcast_id: String, title: String, item: String, reason: String },
    /// The stream has gone to the ingest for `minutes`, yet Twitch shows the channel offline (an
    /// ingest that swallows it, a key of another channel): reconnected once.
    ChannelOfflineWhilePublishing { broadcast_id: String, stream_id: i64, account: String, title: String, minutes: u32 },
    /// A background task of Twitcher (the scheduler's, the job worker, …) panicked or keeps
    /// failing: what it does may not happen until it recovers (see the health table).
    TaskFailing { task: String, error: String },
    /// That task completes its turns again.
    TaskRecovered { task: String },
    /// The disk that holds Twitcher's data is almost full: before anything fails.
    DiskLow { free_bytes: u64 },
}

impl Alert {
    /// A notification's title and body.
    pub fn text(&self) -> (String, String) {
        match self {
            Alert::DestinationLost { account, title, error, .. } => {
                (format!("{account}: connection lost"), format!("“{title}” is reconnecting{}", error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()))
            }
            Alert::DestinationFailed { account, title, error, .. } => {
                (format!("{account}: stopped"), format!("“{title}” failed{}", error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()))
            }
            Alert::DestinationRecovered { account, title, reconnects, .. } => {
                (format!("{account}: back on air"), format!("“{title}” recovered ({reconnects} reconnect{})", if *reconnects == 1 { "" } else { "s" }))
            }
            Alert::ScheduledStarted { title, destinations, .. } => ("Scheduled stream started".into(), format!("“{title}” is going live on {destinations} channel(s)")),
            Alert::ItemSkipped { title, item, reason, .. } => {
                ("Playlist item skipped".into(), format!("“{item}” could not play in “{title}” ({reason}); the slate played, then the next item"))
            }
            Alert::ChannelOfflineWhilePublishing { account, title, minutes, .. } => (
                format!("{account}: Twitch shows the channel offline"),
                format!("“{title}” has been sent for {minutes} min but the channel is not live on Twitch; reconnecting once (check the stream key belongs to this channel)"),
            ),
            Alert::TaskFailing { task, error } => (
                format!("Twitcher: {task} is failing"),
                format!("{error}. It is retried on its own; if this repeats, see Settings → Health or `twitcher doctor`, and the log"),
            ),
            Alert::TaskRecovered { task } => (format!("Twitcher: {task} recovered"), "It completes its turns again.".into()),
            Alert::DiskLow { free_bytes } => (
                "Twitcher: the disk is almost full".into(),
                format!(
                    "{:.1} GB free where Twitcher keeps its data. Free some space, or lower the prepared copies' budget (`twitcher storage prepared-budget`); see `twitcher storage usage`",
                    *free_bytes as f64 / 1024f64.powi(3)
                ),
            ),
            Alert::BroadcastEnded { title, destinations, failed, .. } => (
                "Broadcast ended".into(),
                if *failed == 0 { format!("“{title}” ended on {destinations} channel(s)") } else { format!("“{title}” ended; {failed} of {destinations} channel(s) failed") },
            ),
        }
    }
}

/// The webhook URL, if set.
pub async fn webhook_url(app: &Twitcher) -> Result<Option<String>, AlertError> {
    Ok(app.db.setting(WEBHOOK_SETTING).await?)
}

/// Sets the webhook URL (empty clears it).
pub async fn set_webhook_url(app: &Twitcher, actor: &crate::model::Profile, url: &str) -> Result<(), AlertError> {
    actor.require_admin()?;
    let url = url.trim();
    if url.is_empty() {
        app.db.delete_setting(WEBHOOK_SETTING).await?;
        return Ok(());
    }
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        _ => return Err(AlertError::InvalidWebhook),
    }
    app.db.set_setting(WEBHOOK_SETTING, url).await?;
    Ok(())
}

/// What alerts need to remember about each destination seen.
struct Seen {
    broadcast_id: String,
    state: StreamState,
}

/// How a surface shows an alert (a desktop notification, a log line).
pub type Present = std::sync::Arc<dyn Fn(&Alert) + Send + Sync>;

/// How often the alerts task reports itself alive when no event comes.
pub const IDLE_TURN: Duration = Duration::from_secs(30);

/// Turns core events into alerts until cancelled (what is already queued then still goes out):
/// each goes to `notify` and to the webhook. The runtime supervises it ([`run_with`]).
pub async fn run(app: Twitcher, cancel: CancellationToken, notify: impl Fn(&Alert) + Send + Sync + 'static) {
    let beat = app.registry.tasks.beat(TASK, IDLE_TURN);
    run_with(app, cancel, std::sync::Arc::new(notify), beat).await
}

/// The alerts task's name in the health table.
pub const TASK: &str = "alerts";

/// [`run`], reporting each event handled and each quiet period of `beat` ([`IDLE_TURN`] unless
/// the runtime says otherwise) as a turn.
pub async fn run_with(app: Twitcher, cancel: CancellationToken, notify: Present, beat: crate::tasks::Beat) {
    let mut events = app.events.subscribe();
    let mut seen: HashMap<i64, Seen> = HashMap::new();
    // A server posts only where its outbound policy allows (see `outbound`): a webhook is as
    // much a door into its network as an ingest.
    let policy = app.outbound();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .dns_resolver(std::sync::Arc::new(crate::outbound::WebhookResolver(policy.clone())))
        // A redirect to an address literal never meets the resolver: an allowed host could bounce
        // the post into the server's network. A webhook's answer is not followed anywhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a TLS backend is compiled in");
    let idle_turn = beat.period();
    loop {
        beat.ok();
        let event = tokio::select! {
            e = events.recv() => e,
            _ = tokio::time::sleep(idle_turn) => continue,
            _ = cancel.cancelled() => match events.try_recv() {
                Ok(e) => Ok(e),
                Err(_) => return,
            },
        };
        let alerts = match event {
            Ok(Event::Stream(status)) => {
                let previous = seen.insert(status.stream_id, Seen { broadcast_id: status.broadcast_id.clone(), state: status.state }).map(|s| s.state);
                if previous == Some(status.state) {
                    continue;
                }
                transition(&app, &seen, &status, previous).await
            }
            Ok(Event::ScheduledStarted { broadcast_id, title, destinations }) => vec![Alert::ScheduledStarted { broadcast_id, title, destinations }],
            Ok(Event::ItemSkipped { broadcast_id, title, item, reason }) => vec![Alert::ItemSkipped { broadcast_id, title, item, reason }],
            Ok(Event::ChannelOfflineWhilePublishing { broadcast_id, stream_id, account, title, minutes }) => {
                vec![Alert::ChannelOfflineWhilePublishing { broadcast_id, stream_id, account, title, minutes }]
            }
            Ok(Event::TaskFailing { task, error }) => vec![Alert::TaskFailing { task, error }],
            Ok(Event::TaskRecovered { task }) => vec![Alert::TaskRecovered { task }],
            Ok(Event::DiskLow { free_bytes }) => vec![Alert::DiskLow { free_bytes }],
            Ok(_) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        for alert in alerts {
            notify(&alert);
            if let Ok(Some(url)) = webhook_url(&app).await {
                post(&http, &policy, &url, &alert).await;
            }
        }
        // Forget broadcasts that have ended.
        let done: Vec<String> = ended_broadcasts(&seen);
        seen.retain(|_, s| !done.contains(&s.broadcast_id));
    }
}

fn ended_broadcasts(seen: &HashMap<i64, Seen>) -> Vec<String> {
    let mut all: HashMap<&str, bool> = HashMap::new();
    for s in seen.values() {
        *all.entry(&s.broadcast_id).or_insert(true) &= s.state.is_final();
    }
    all.into_iter().filter(|(_, done)| *done).map(|(id, _)| id.to_string()).collect()
}

async fn transition(app: &Twitcher, seen: &HashMap<i64, Seen>, status: &crate::broadcast::StreamStatus, previous: Option<StreamState>) -> Vec<Alert> {
    let (account, title) = match app.db.stream_names(status.stream_id).await {
        Ok(Some(names)) => names,
        _ => ("a channel".to_string(), "the broadcast".to_string()),
    };
    let (broadcast_id, stream_id) = (status.broadcast_id.clone(), status.stream_id);
    let error = status.error.as_deref().map(|e| crate::redact::redact(e).into_owned());
    let mut alerts = Vec::new();
    match (previous, status.state) {
        (Some(StreamState::Live), StreamState::Reconnecting) => {
            alerts.push(Alert::DestinationLost { broadcast_id: broadcast_id.clone(), stream_id, account, title: title.clone(), error });
        }
        (Some(StreamState::Reconnecting), StreamState::Live) => {
            alerts.push(Alert::DestinationRecovered { broadcast_id: broadcast_id.clone(), stream_id, account, title: title.clone(), reconnects: status.reconnects });
        }
        (_, StreamState::Failed) => {
            alerts.push(Alert::DestinationFailed { broadcast_id: broadcast_id.clone(), stream_id, account, title: title.clone(), error });
        }
        _ => {}
    }
    if status.state.is_final() {
        let mine: Vec<&Seen> = seen.values().filter(|s| s.broadcast_id == broadcast_id).collect();
        if mine.iter().all(|s| s.state.is_final()) {
            let failed = mine.iter().filter(|s| s.state == StreamState::Failed).count() as u32;
            alerts.push(Alert::BroadcastEnded { broadcast_id, title, destinations: mine.len() as u32, failed });
        }
    }
    alerts
}

async fn post(http: &reqwest::Client, policy: &crate::outbound::OutboundPolicy, url: &str, alert: &Alert) {
    if let Err(e) = url::Url::parse(url).map_err(|e| e.to_string()).and_then(|u| policy.check_webhook_url(&u).map_err(|e| e.to_string())) {
        tracing::warn!(error = %e, "the alert webhook is not posted to");
        return;
    }
    let mut body = serde_json::to_value(alert).expect("alerts serialize");
    body["app"] = serde_json::json!("twitcher");
    body["at_unix"] = serde_json::json!(crate::clock::now_unix());
    match http.post(url).json(&body).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = r.status().as_u16(), "the alert webhook refused an alert"),
        Err(e) => tracing::warn!(error = %e.without_url(), "the alert webhook could not be reached"),
    }
}
