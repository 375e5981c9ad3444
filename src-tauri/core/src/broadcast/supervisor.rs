//! A broadcast: one video at one quality to N accounts, each a `streams` row with its own state.
//! (Scheduling is in [`super::schedule`], crash recovery in [`super::recovery`], the registry of
//! running broadcasts in [`super::running`].)
//!
//! The supervisor owns what was asked (start, stop one, stop all) and records what was observed
//! (each publisher's reports), letting only the moves of [`StreamState`]'s table through. It
//! writes every change to the database and to `stream_events`, and sends a [`StreamStatus`] on
//! every change and once a second, with bitrates over 1 s and 10 s, bytes, uptime, reconnects and
//! the source's drift.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::fanout::Fanout;
use super::publisher::{self, Counters, Destination, Report};
use super::{prepare, source, BroadcastError, Quality, StreamState, StreamStatus};
use crate::events::Event;
use crate::profiles::Profile;
use crate::{accounts, ingest, library, Twitcher};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StartRequest {
    pub video_id: i64,
    pub account_ids: Vec<i64>,
    pub title: String,
    /// Twitch category (game) name; applied to the channel at go-live by the Twitch integration.
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub quality: Quality,
    #[serde(rename = "loop")]
    pub looped: bool,
    /// When the video is not prepared for this quality yet: go live at once with a real-time
    /// encode (and prepare in the background for next time) instead of waiting.
    #[serde(default)]
    pub live_encode: bool,
}

/// A running broadcast. Dropping it does not stop it: call [`BroadcastHandle::stop_all`].
pub struct BroadcastHandle {
    pub broadcast_id: String,
    /// (stream id, account id), in the order asked.
    pub destinations: Vec<(i64, i64)>,
    all: CancellationToken,
    each: HashMap<i64, CancellationToken>,
    done: JoinHandle<HashMap<i64, StreamState>>,
}

impl BroadcastHandle {
    /// Stops every destination gracefully.
    pub fn stop_all(&self) {
        self.all.cancel();
    }

    /// A token that stops the whole broadcast when cancelled (for signal handlers).
    pub fn stopper(&self) -> CancellationToken {
        self.all.clone()
    }

    /// Stops one destination; the others go on. False if it is not part of this broadcast.
    pub fn stop(&self, stream_id: i64) -> bool {
        self.each.get(&stream_id).map(|t| t.cancel()).is_some()
    }

    /// Waits for every destination to reach a final state; returns them.
    pub async fn wait(self) -> HashMap<i64, StreamState> {
        self.done.await.unwrap_or_default()
    }
}

/// Checks a request against the profile's library and accounts.
pub(super) async fn validate(app: &Twitcher, actor: &Profile, request: &StartRequest) -> Result<(library::Video, Vec<accounts::Account>), BroadcastError> {
    request.quality.validate()?;
    if request.account_ids.is_empty() {
        return Err(BroadcastError::NoDestination);
    }
    let video = library::get(app, actor, request.video_id).await.map_err(|_| BroadcastError::NoVideo { id: request.video_id })?;
    let mut accounts_ = Vec::new();
    for id in &request.account_ids {
        accounts_.push(accounts::get(app, actor, *id).await.map_err(|_| BroadcastError::NoAccount { id: *id })?);
    }
    Ok((video, accounts_))
}

pub(super) async fn insert_rows(app: &Twitcher, actor: &Profile, request: &StartRequest, video: &library::Video, scheduled_at: Option<&str>) -> Result<(String, Vec<i64>), BroadcastError> {
    let broadcast_id = uuid::Uuid::new_v4().simple().to_string();
    let title = stream_title(request, video);
    super::lease::keep(app, &app.lease_keeper);
    let ids = app
        .db
        .insert_streams(app.instance_id(), actor.id, &broadcast_id, video.id, &request.account_ids, &title, request.category.as_deref(), &request.tags, &request.quality, request.looped, scheduled_at)
        .await?;
    Ok((broadcast_id, ids))
}

/// The title asked for, else the video's.
fn stream_title(request: &StartRequest, video: &library::Video) -> String {
    if request.title.trim().is_empty() { video.title.clone() } else { request.title.trim().to_string() }
}

/// Prepares (or reuses) the video, records one row per destination and starts publishing.
pub async fn start(app: &Twitcher, actor: &Profile, request: &StartRequest) -> Result<BroadcastHandle, BroadcastError> {
    let (video, accounts_) = validate(app, actor, request).await?;
    let (broadcast_id, stream_ids) = insert_rows(app, actor, request, &video, None).await?;
    launch(app, actor, request, broadcast_id, stream_ids, video, accounts_).await
}

pub(super) async fn launch(
    app: &Twitcher,
    actor: &Profile,
    request: &StartRequest,
    broadcast_id: String,
    stream_ids: Vec<i64>,
    video: library::Video,
    accounts_: Vec<accounts::Account>,
) -> Result<BroadcastHandle, BroadcastError> {
    // From here a failure fails the rows it created, with the reason.
    let fail_all = |e: BroadcastError| async {
        let message = e.to_string();
        for id in &stream_ids {
            let _ = app.db.set_stream_state(*id, StreamState::Failed, Some(&message), app.instance_id()).await;
            let _ = app.db.add_stream_event(*id, "error", &message).await;
        }
        e
    };
    let ready = match prepare::ready(app, video.id, &request.quality).await {
        Ok(r) => r,
        Err(e) => return Err(fail_all(e).await),
    };
    let (headers, input) = match ready {
        None if request.live_encode => {
            let local = match crate::storage::ensure_local(app, &video).await {
                Ok(p) => p,
                Err(e) => return Err(fail_all(e.into()).await),
            };
            // Prepared in the background (by the job worker) for the next stream of this video.
            let _ = prepare::enqueue(app, actor, &video, &request.quality).await;
            match source::start_live(&local, &request.quality, video.codec_audio.is_some()).await {
                Ok((headers, encode)) => (headers, source::Input::Live(encode)),
                Err(e) => return Err(fail_all(BroadcastError::Source(e.to_string())).await),
            }
        }
        _ => {
            let prepared = match ready {
                Some(path) => path,
                None => match prepare::ensure_prepared(app, actor, &video, &request.quality).await {
                    Ok(p) => p,
                    Err(e) => return Err(fail_all(e).await),
                },
            };
            match source::read_headers(&prepared).await {
                Ok(h) => (h, source::Input::Prepared(prepared)),
                Err(e) => return Err(fail_all(BroadcastError::Source(e.to_string())).await),
            }
        }
    };
    let headers = Arc::new(headers);
    let automatic = ingest::list(&app.db, &app.options().ingest_list_url).await?.automatic;
    let mut destinations = Vec::new();
    for (account, stream_id) in accounts_.iter().zip(&stream_ids) {
        let key = match accounts::stream_key(app, actor, account.id).await {
            Ok(k) => k,
            Err(e) => return Err(fail_all(e.into()).await),
        };
        let server = account.ingest_server.clone().unwrap_or_else(|| automatic.clone());
        destinations.push((Destination { stream_id: *stream_id, server, key, engine: app.options().engine.clone() }, account.id));
    }

    // Title, category and tags go to each connected channel before it goes live; a refusal is
    // that destination's notice, not a reason to stay offline.
    let mut notices = crate::twitch::channel::apply_all(app, actor, &accounts_, &stream_title(request, &video), request.category.as_deref(), &request.tags).await;
    for (account, stream_id) in accounts_.iter().zip(&stream_ids) {
        if let Some(notice) = notices.get(&account.id) {
            let _ = app.db.set_stream_channel_notice(*stream_id, notice).await;
            let _ = app.db.add_stream_event(*stream_id, if account.connected { "warn" } else { "info" }, notice).await;
        }
    }

    let q = request.quality;
    let metadata = publisher::metadata(q.width, q.height, q.fps, q.video_bitrate_k, q.audio_bitrate_k);
    let all = CancellationToken::new();
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let mut fanout = Fanout::new();
    let mut each = HashMap::new();
    let mut counters = HashMap::new();
    let mut pairs = Vec::new();
    // The source starts once every destination has made its first connection attempt (or after
    // 10 s), so nobody misses the opening seconds to a slow handshake.
    let (attempted_tx, mut attempted) = mpsc::channel(destinations.len().max(1));
    for (dest, account_id) in destinations {
        let cancel = all.child_token();
        let counter = Arc::new(Counters::default());
        each.insert(dest.stream_id, cancel.clone());
        counters.insert(dest.stream_id, (account_id, counter.clone(), notices.remove(&account_id)));
        pairs.push((dest.stream_id, account_id));
        let rx = fanout.add();
        tokio::spawn(publisher::run(dest, headers.clone(), metadata.clone(), rx, cancel, counter, reports_tx.clone(), attempted_tx.clone()));
    }
    drop(attempted_tx);
    drop(reports_tx);
    let (drift_tx, drift) = watch::channel(0.0);
    let source_cancel = all.clone();
    let frame_ms = (1000 / q.fps.max(1)).max(1);
    let looped = request.looped;
    let first_timestamp_ms = app.options().engine.first_timestamp_ms;
    let expected = pairs.len();
    let source_task = tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            for _ in 0..expected {
                if attempted.recv().await.is_none() {
                    break;
                }
            }
        })
        .await;
        source::run(input, looped, frame_ms, first_timestamp_ms, fanout, source_cancel, drift_tx).await
    });
    tracing::info!(broadcast = %broadcast_id, destinations = pairs.len(), looped, "broadcast started");

    app.broadcasts.insert(&broadcast_id, all.clone(), each.clone());
    let done = tokio::spawn(supervise(app.clone(), broadcast_id.clone(), reports, counters, drift, source_task, all.clone(), each.clone()));
    Ok(BroadcastHandle { broadcast_id, destinations: pairs, all, each, done })
}

/// How long the source may produce nothing before the watchdog stops the broadcast. The first
/// batch may wait for every destination's first connection attempt (up to 10 s).
const STALL_LIMIT: Duration = Duration::from_secs(20);

struct Tracked {
    account_id: i64,
    /// Why the channel's title, category or tags were not set, if so.
    channel_notice: Option<String>,
    counters: Arc<Counters>,
    state: StreamState,
    error: Option<String>,
    live_since: Option<Instant>,
    /// (when, total bytes) samples for the 1 s and 10 s bitrates.
    samples: VecDeque<(Instant, u64)>,
}

impl Tracked {
    fn bitrate_kbps(&self, window: Duration) -> f64 {
        let Some(&(last_at, last_bytes)) = self.samples.back() else { return 0.0 };
        let Some(&(first_at, first_bytes)) = self.samples.iter().find(|(at, _)| last_at.duration_since(*at) <= window) else {
            return 0.0;
        };
        let secs = last_at.duration_since(first_at).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        (last_bytes - first_bytes) as f64 * 8.0 / 1000.0 / secs
    }
}

async fn supervise(
    app: Twitcher,
    broadcast_id: String,
    mut reports: mpsc::UnboundedReceiver<Report>,
    counters: HashMap<i64, (i64, Arc<Counters>, Option<String>)>,
    drift: watch::Receiver<f64>,
    source_task: JoinHandle<Result<(), super::flv::FlvError>>,
    all: CancellationToken,
    each: HashMap<i64, CancellationToken>,
) -> HashMap<i64, StreamState> {
    let mut tracked: HashMap<i64, Tracked> = counters
        .into_iter()
        .map(|(id, (account_id, counters, channel_notice))| {
            (id, Tracked { account_id, channel_notice, counters, state: StreamState::Queued, error: None, live_since: None, samples: VecDeque::new() })
        })
        .collect();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut source_task = Some(source_task);
    let mut drift = drift;
    // The watchdog: a source that stops producing (a hung disk, a stuck network mount) ends the
    // broadcast with a reason instead of leaving destinations live on nothing.
    let mut last_progress = Instant::now();
    let mut stalled = false;
    loop {
        tokio::select! {
            report = reports.recv() => {
                let Some(report) = report else { break };
                let Some(t) = tracked.get_mut(&report.stream_id) else { continue };
                if !t.state.can_become(report.state) {
                    if t.state != report.state {
                        tracing::warn!(stream_id = report.stream_id, from = ?t.state, to = ?report.state, "ignored a transition the state table does not allow");
                    }
                    continue;
                }
                t.state = report.state;
                t.error = report.error.clone();
                if report.state == StreamState::Live {
                    t.live_since.get_or_insert_with(Instant::now);
                }
                // Guarded by this process's lease: a stream another process took over is not ours
                // to write (its destination is being stopped here, see below).
                match app.db.set_stream_state(report.stream_id, report.state, report.error.as_deref(), app.instance_id()).await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => tracing::warn!(stream_id = report.stream_id, error = %e, "could not record a state"),
                }
                let (level, message) = match (&report.state, &report.error) {
                    (StreamState::Failed, Some(e)) => ("error", format!("failed: {e}")),
                    (StreamState::Reconnecting, Some(e)) => ("warn", format!("reconnecting: {e}")),
                    (state, Some(e)) => ("info", format!("{}: {e}", state.as_str())),
                    (state, None) => ("info", state.as_str().to_string()),
                };
                let _ = app.db.add_stream_event(report.stream_id, level, &message).await;
                emit(&app, &broadcast_id, report.stream_id, t, *drift.borrow());
            }
            _ = tick.tick() => {
                // Stop orders from any process (super::orders), and leases another process took
                // over (super::lease): those destinations stop publishing here; when none is left
                // to publish, the source stops too.
                if let Ok(due) = app.db.stops_due(&broadcast_id, app.instance_id()).await {
                    for (id, _, lost) in &due {
                        if let Some(token) = each.get(id) {
                            if *lost && !token.is_cancelled() {
                                tracing::warn!(stream_id = id, "another process took this stream over: stopped here");
                            }
                            token.cancel();
                        }
                    }
                    if !due.is_empty() && tracked.iter().all(|(id, t)| t.state.is_final() || due.iter().any(|d| d.0 == *id)) {
                        all.cancel();
                    }
                }
                if drift.has_changed().unwrap_or(false) {
                    drift.borrow_and_update();
                    last_progress = Instant::now();
                } else if source_task.is_some() && !stalled && last_progress.elapsed() > STALL_LIMIT {
                    stalled = true;
                    let message = format!("the video stopped coming for {} s: stopped", STALL_LIMIT.as_secs());
                    tracing::error!(broadcast = %broadcast_id, "source stalled");
                    for (id, t) in tracked.iter_mut() {
                        t.error = Some(message.clone());
                        let _ = app.db.add_stream_event(*id, "error", &message).await;
                    }
                    all.cancel();
                }
                let mut running = Vec::with_capacity(tracked.len());
                for (id, t) in tracked.iter_mut() {
                    let now = Instant::now();
                    t.samples.push_back((now, t.counters.bytes.load(Ordering::Relaxed)));
                    while t.samples.front().is_some_and(|(at, _)| now.duration_since(*at) > Duration::from_secs(11)) {
                        t.samples.pop_front();
                    }
                    if !t.state.is_final() {
                        running.push(counters_of(*id, t));
                        emit(&app, &broadcast_id, *id, t, *drift.borrow());
                    }
                }
                let _ = app.db.set_stream_counters(&running, app.instance_id()).await;
            }
            finished = async { source_task.as_mut().expect("polled only while present").await }, if source_task.is_some() => {
                source_task = None;
                if let Ok(Err(e)) = finished {
                    // The file cannot be read any more: every destination stops with the reason.
                    let message = format!("the video could not be read: {e}");
                    for (id, t) in tracked.iter_mut() {
                        t.error = Some(message.clone());
                        let _ = app.db.add_stream_event(*id, "error", &message).await;
                    }
                    all.cancel();
                }
            }
        }
        if tracked.values().all(|t| t.state.is_final()) {
            break;
        }
    }
    let last: Vec<_> = tracked.iter().map(|(id, t)| counters_of(*id, t)).collect();
    let _ = app.db.set_stream_counters(&last, app.instance_id()).await;
    app.broadcasts.remove(&broadcast_id);
    tracing::info!(broadcast = %broadcast_id, "broadcast ended");
    tracked.into_iter().map(|(id, t)| (id, t.state)).collect()
}

/// (stream id, reconnects, bytes sent) for the database.
fn counters_of(id: i64, t: &Tracked) -> (i64, i64, i64) {
    (id, t.counters.reconnects.load(Ordering::Relaxed) as i64, t.counters.bytes.load(Ordering::Relaxed) as i64)
}

fn emit(app: &Twitcher, broadcast_id: &str, stream_id: i64, t: &Tracked, drift_ms: f64) {
    app.events.emit(Event::Stream(StreamStatus {
        stream_id,
        broadcast_id: broadcast_id.to_string(),
        account_id: t.account_id,
        state: t.state,
        bitrate_kbps: t.bitrate_kbps(Duration::from_secs(1)),
        bitrate_10s_kbps: t.bitrate_kbps(Duration::from_secs(10)),
        bytes_sent: t.counters.bytes.load(Ordering::Relaxed) as f64,
        reconnects: t.counters.reconnects.load(Ordering::Relaxed),
        uptime_sec: t.live_since.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0),
        error: t.error.clone(),
        channel_notice: t.channel_notice.clone(),
        drift_ms,
    }));
}
