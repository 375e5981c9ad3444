//! A broadcast: one video at one quality to N accounts, each a `streams` row with its own state.
//! (Scheduling is in [`super::schedule`], crash recovery in [`super::recovery`], the registry of
//! running broadcasts in [`super::running`], what a playlist adds in [`super::playlist`].)
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

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::fanout::Fanout;
use super::playlist::{announce_join, item_starts_of, playlist_input, Joins};
use super::publisher::{self, Counters, Destination, Report};
use super::{prepare, source, BroadcastError, Origin, StartRequest, StreamState, StreamStatus};
use crate::events::Event;
use crate::profiles::Profile;
use crate::{accounts, ingest, library, Twitcher};

/// A running broadcast. Dropping it does not stop it: call [`BroadcastHandle::stop_all`].
pub struct BroadcastHandle {
    pub broadcast_id: String,
    /// (stream id, account id), in the order asked.
    pub destinations: Vec<(i64, i64)>,
    pub(super) all: CancellationToken,
    pub(super) each: HashMap<i64, CancellationToken>,
    pub(super) done: JoinHandle<HashMap<i64, StreamState>>,
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

    /// Lets the broadcast run on with nobody waiting here: this process's registry keeps the
    /// supervisor's join handle, and the runtime's shutdown joins it. What a surface does once
    /// it has shown the broadcast's id.
    pub fn detach(self, app: &Twitcher) {
        app.registry.broadcasts.adopt(self.done);
    }
}

/// What a broadcast plays, checked against the profile's library.
pub(super) enum Program {
    Video(library::Video),
    Playlist {
        playlist: crate::playlists::Playlist,
        /// The video of each item, in order, then the insert's (if any).
        videos: Vec<library::Video>,
        /// The playlist's own slate, if it has one.
        slate: Option<library::Video>,
    },
}

impl Program {
    /// The video its rows name: the video, or the playlist's first item.
    fn first_video(&self) -> &library::Video {
        match self {
            Program::Video(video) => video,
            Program::Playlist { videos, .. } => &videos[0],
        }
    }

    fn playlist_id(&self) -> Option<i64> {
        match self {
            Program::Video(_) => None,
            Program::Playlist { playlist, .. } => Some(playlist.id),
        }
    }

    /// The title asked for, else the video's or the playlist's name.
    fn title(&self, request: &StartRequest) -> String {
        match (request.title.trim(), self) {
            ("", Program::Video(video)) => video.title.clone(),
            ("", Program::Playlist { playlist, .. }) => playlist.name.clone(),
            (title, _) => title.to_string(),
        }
    }
}

/// Checks a request against the profile's library, playlists and accounts.
pub(super) async fn validate(app: &Twitcher, actor: &Profile, request: &StartRequest) -> Result<(Program, Vec<accounts::Account>), BroadcastError> {
    request.quality.validate()?;
    // What goes to Twitch and into the log, by the rule every surface shares.
    crate::text::optional_line("title", &request.title, crate::text::TITLE_MAX)?;
    if let Some(category) = &request.category {
        crate::text::optional_line("category", category, crate::text::CATEGORY_MAX)?;
    }
    crate::text::tags(&request.tags)?;
    if request.account_ids.is_empty() {
        return Err(BroadcastError::NoDestination);
    }
    if let Some(twice) = request.account_ids.iter().enumerate().find(|(i, id)| request.account_ids[..*i].contains(id)).map(|(_, id)| id) {
        return Err(BroadcastError::InvalidProgram(format!("account {twice} is listed twice: each channel gets one stream")));
    }
    let video = |id| async move { library::get(app, actor, id).await.map_err(|_| BroadcastError::NoVideo { id }) };
    let program = match (request.video_id, request.playlist_id) {
        (Some(id), None) => Program::Video(video(id).await?),
        (None, Some(id)) => {
            let playlist = crate::playlists::get(app, actor, id).await.map_err(|_| BroadcastError::NoPlaylist { id })?;
            if playlist.items.is_empty() {
                return Err(BroadcastError::InvalidProgram(format!("playlist “{}” has no items: add videos to it first", playlist.name)));
            }
            let mut videos = Vec::with_capacity(playlist.items.len() + 1);
            for id in playlist.items.iter().map(|i| i.video_id).chain(playlist.options.insert_video_id) {
                videos.push(video(id).await?);
            }
            let slate = match playlist.options.slate_video_id {
                Some(id) => Some(video(id).await?),
                None => None,
            };
            Program::Playlist { playlist, videos, slate }
        }
        _ => return Err(BroadcastError::InvalidProgram("choose what to play: a video or a playlist (one of them)".into())),
    };
    let mut accounts_ = Vec::new();
    for id in &request.account_ids {
        accounts_.push(accounts::get(app, actor, *id).await.map_err(|_| BroadcastError::NoAccount { id: *id })?);
    }
    Ok((program, accounts_))
}

/// The recurring schedule an occurrence belongs to, and when it ends.
pub(super) struct Occurrence<'a> {
    pub schedule_id: i64,
    pub ends_at: Option<&'a str>,
}

pub(super) async fn insert_rows(
    app: &Twitcher,
    actor: &Profile,
    request: &StartRequest,
    program: &Program,
    scheduled_at: Option<&str>,
    occurrence: Option<&Occurrence<'_>>,
) -> Result<(String, Vec<i64>), BroadcastError> {
    let broadcast_id = uuid::Uuid::new_v4().simple().to_string();
    let title = program.title(request);
    crate::lease::keep(app);
    let rows = crate::db::broadcast::NewStreams {
        // On a fleet, a broadcast starting now waits for the nodes to claim its destinations.
        instance: if app.is_node() && scheduled_at.is_none() { None } else { Some(app.instance_id()) },
        creator_id: actor.id,
        broadcast_id: &broadcast_id,
        video_id: program.first_video().id,
        playlist_id: program.playlist_id(),
        account_ids: &request.account_ids,
        title: &title,
        category: request.category.as_deref(),
        tags: &request.tags,
        quality: &request.quality,
        looped: request.looped,
        scheduled_at,
        schedule_id: occurrence.map(|o| o.schedule_id),
        ends_at: occurrence.and_then(|o| o.ends_at),
        // A start now counts against the plan; a later one when its time comes.
        max_running: match (scheduled_at, actor.role) {
            (None, crate::profiles::Role::User) => actor.limits.max_broadcasts,
            _ => None,
        },
        // A one-off broadcast booked ahead counts against what the plan keeps waiting; a
        // recurring schedule's occurrence against its schedules.
        max_scheduled: match (scheduled_at, occurrence) {
            (Some(_), None) => crate::model::PlanLimits::for_role(actor.limits.max_scheduled, actor.role),
            _ => None,
        },
    };
    let ids = match app.db.insert_streams(&rows).await? {
        Ok(ids) => ids,
        Err(crate::db::broadcast::OverLimit::Running) => return Err(BroadcastError::PlanLimit { plan: actor.plan, limit: actor.limits.max_broadcasts.unwrap_or(0) }),
        Err(crate::db::broadcast::OverLimit::Scheduled) => {
            return Err(BroadcastError::ScheduledLimit { plan: actor.plan, limit: actor.limits.max_scheduled.unwrap_or(0) })
        }
    };
    Ok((broadcast_id, ids))
}

/// Prepares (or reuses) the video, records one row per destination and starts publishing.
pub async fn start(app: &Twitcher, actor: &Profile, request: &StartRequest) -> Result<BroadcastHandle, BroadcastError> {
    let (program, accounts_) = validate(app, actor, request).await?;
    let (broadcast_id, stream_ids) = insert_rows(app, actor, request, &program, None, None).await?;
    if app.is_node() {
        // A node of a fleet: the rows wait for the nodes to claim them (this one included).
        return Ok(super::fleet::handle(app, actor, broadcast_id, stream_ids.into_iter().zip(request.account_ids.iter().copied()).collect()));
    }
    let part = Part { actor: actor.clone(), request: request.clone(), broadcast_id, stream_ids, program, accounts: accounts_, origin: Origin::Fresh };
    launch(app, part).await
}

/// [`start`] for a person at a window: the request is checked and the rows recorded now (a
/// refusal — no such video, the plan's limit — is the answer), and the preparation and the
/// publishes go on in the background, so the window never waits for a first preparation. The
/// rows tell how it goes: queued while the video is prepared (its job reports the progress), then
/// live, or failed with the reason. Returns the broadcast id and (stream id, account id) pairs.
pub async fn start_in_background(app: &Twitcher, actor: &Profile, request: &StartRequest) -> Result<(String, Vec<(i64, i64)>), BroadcastError> {
    let (program, accounts_) = validate(app, actor, request).await?;
    let (broadcast_id, stream_ids) = insert_rows(app, actor, request, &program, None, None).await?;
    let pairs: Vec<(i64, i64)> = stream_ids.iter().copied().zip(request.account_ids.iter().copied()).collect();
    if app.is_node() {
        super::fleet::handle(app, actor, broadcast_id.clone(), pairs.clone()).detach(app);
        return Ok((broadcast_id, pairs));
    }
    let part = Part { actor: actor.clone(), request: request.clone(), broadcast_id: broadcast_id.clone(), stream_ids: stream_ids.clone(), program, accounts: accounts_, origin: Origin::Fresh };
    let app = app.clone();
    let id = broadcast_id.clone();
    tokio::spawn(async move {
        // `launch` records its own failures on the rows; a panic in it must not leave them queued
        // under a lease this process keeps renewing.
        let launched = tokio::spawn({
            let app = app.clone();
            async move { launch(&app, part).await }
        })
        .await;
        match launched {
            Ok(Ok(handle)) => handle.detach(&app),
            Ok(Err(e)) => tracing::warn!(broadcast = %id, error = %e, "a broadcast could not start"),
            Err(e) => {
                let message = "internal error: this broadcast could not start (the log has the details); start it again";
                tracing::error!(broadcast = %id, error = %e, "starting a broadcast stopped");
                for stream_id in stream_ids {
                    let _ = app.db.set_stream_state(stream_id, StreamState::Failed, Some(message), app.instance_id()).await;
                    let _ = app.db.add_stream_event(stream_id, "error", message).await;
                }
            }
        }
    });
    Ok((broadcast_id, pairs))
}

/// How far past its last record a node may have sent: a record a second, batches sent up to
/// one batch ahead.
const SENT_RECORD_SLACK_MS: u64 = 1000 + source::BATCH_MS + 100;

/// Publishes the rows `stream_ids` of a broadcast as one part with its own source, joining the
/// broadcast's playout where it is now (see `origin`).
#[allow(clippy::too_many_arguments)]
/// A part of a broadcast to run here: whose it is, what was asked, its rows (already written),
/// what it plays, the accounts it goes to, and whether it starts now or continues a takeover.
pub(super) struct Part {
    pub actor: Profile,
    pub request: StartRequest,
    pub broadcast_id: String,
    pub stream_ids: Vec<i64>,
    pub program: Program,
    pub accounts: Vec<accounts::Account>,
    pub origin: Origin,
}

pub(super) async fn launch(app: &Twitcher, part: Part) -> Result<BroadcastHandle, BroadcastError> {
    let Part { actor, request, broadcast_id, stream_ids, program, accounts: accounts_, origin } = part;
    let (actor, request) = (&actor, &request);
    // From here a failure fails the rows it created, with the reason.
    let fail_all = |e: BroadcastError| async {
        let message = e.to_string();
        for id in &stream_ids {
            let _ = app.db.set_stream_state(*id, StreamState::Failed, Some(&message), app.instance_id()).await;
            let _ = app.db.add_stream_event(*id, "error", &message).await;
        }
        e
    };
    let (now_playing_tx, now_playing) = watch::channel(None);
    let (skipped_tx, skipped) = mpsc::unbounded_channel();
    let mut labels = Vec::new();
    let mut item_starts = Vec::new();
    let (headers, input) = match &program {
        Program::Video(video) => match video_input(app, actor, request, video, &broadcast_id).await {
            Ok(v) => v,
            Err(e) => return Err(fail_all(e).await),
        },
        Program::Playlist { playlist, videos, slate } => {
            labels = playlist.items.iter().map(|i| i.meta.title.clone().unwrap_or_else(|| i.video_title.clone())).collect();
            labels.extend(videos.get(playlist.items.len()).map(|insert| insert.title.clone()));
            item_starts = item_starts_of(playlist, &labels, &program.title(request), request);
            match playlist_input(app, actor, request, playlist, videos, slate.as_ref(), (now_playing_tx, skipped_tx), &program.title(request)).await {
                Ok(v) => v,
                Err(e) => return Err(fail_all(e).await),
            }
        }
    };
    let automatic = match ingest::list(&app.db, &app.options().ingest_list_url).await {
        Ok(list) => list.automatic,
        Err(e) => return Err(fail_all(e.into()).await),
    };
    // One destination whose key cannot be opened (missing, tampered, sealed under a lost key)
    // fails alone, with its reason; every other one goes live — also when nobody is watching
    // (a scheduled start).
    let mut destinations = Vec::new();
    let mut failed_alone = Vec::new();
    let mut first_error = None;
    for (account, stream_id) in accounts_.iter().zip(&stream_ids) {
        match accounts::stream_key(app, actor, account.id).await {
            Ok(key) => {
                let server = account.ingest_server.clone().unwrap_or_else(|| automatic.clone());
                let (engine, outbound) = (app.options().engine.clone(), app.outbound());
                destinations.push((Destination { stream_id: *stream_id, server, key, engine, outbound }, account.id));
            }
            Err(e) => {
                let message = format!("{}: {e}", account.display_name);
                tracing::warn!(stream_id, error = %e, "a destination cannot go live; the others do");
                let _ = app.db.set_stream_state(*stream_id, StreamState::Failed, Some(&message), app.instance_id()).await;
                let _ = app.db.add_stream_event(*stream_id, "error", &message).await;
                failed_alone.push((*stream_id, account.id, message));
                first_error.get_or_insert(e);
            }
        }
    }
    if destinations.is_empty() {
        let e = first_error.map(BroadcastError::from).unwrap_or(BroadcastError::NoDestination);
        return Err(e);
    }
    let live_accounts: Vec<accounts::Account> =
        accounts_.iter().filter(|a| destinations.iter().any(|(_, id)| *id == a.id)).cloned().collect();

    // Title, category and tags go to each connected channel before it goes live; a refusal is
    // that destination's notice, not a reason to stay offline.
    let mut notices = if matches!(origin, Origin::TakenOver { .. }) {
        HashMap::new()
    } else {
        crate::twitch::channel::apply_all(app, actor, &live_accounts, &program.title(request), request.category.as_deref(), &request.tags).await
    };
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
    fanout.set_headers(Arc::new(headers));
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
        publisher::spawn(dest, metadata.clone(), rx, cancel, counter, reports_tx.clone(), attempted_tx.clone());
    }
    drop(attempted_tx);
    drop(reports_tx);
    let (drift_tx, drift) = watch::channel(0.0);
    let source_cancel = all.clone();
    let looped = request.looped;
    let first_timestamp_ms = app.options().engine.first_timestamp_ms;
    let expected = pairs.len();
    let (db, playout) = (app.db.clone(), broadcast_id.clone());
    let sent = fanout.sent();
    let source_task = tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            for _ in 0..expected {
                if attempted.recv().await.is_none() {
                    break;
                }
            }
        })
        .await;
        // Where the broadcast's playout is now (its first source sets the origin): a part started
        // later — on a fleet, a destination claimed by another node or taken over — joins it.
        // Under a second it starts from the top, like the first part.
        let position = match db.playout_position_ms(&playout).await {
            Ok(ms) if ms >= 1000 => ms,
            Ok(_) => 0,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the broadcast's playout origin: starting from the top");
                0
            }
        };
        if position > 0 {
            tracing::info!(broadcast = %playout, position_ms = position, "joining the broadcast's playout");
        }
        let not_before_ms = match origin {
            Origin::TakenOver { sent_ms: Some(sent) } => (sent + SENT_RECORD_SLACK_MS).saturating_sub(first_timestamp_ms),
            _ => 0,
        };
        let join = source::Join { at_ms: position, not_before_ms };
        source::run_from(input, looped, q.fps, first_timestamp_ms, join, fanout, source_cancel, drift_tx).await
    });
    tracing::info!(broadcast = %broadcast_id, destinations = pairs.len(), looped, "broadcast started");

    let part = app.registry.broadcasts.insert(&broadcast_id, all.clone(), each.clone());
    let joins = Joins { actor: actor.clone(), accounts: live_accounts, starts: item_starts, streams: pairs.iter().map(|&(s, a)| (a, s)).collect() };
    let source = SourceWatch { task: source_task, drift, now_playing, skipped, labels, joins, sent };
    for (stream_id, account_id, _) in &failed_alone {
        pairs.push((*stream_id, *account_id));
    }
    let publishing: Vec<i64> = counters.keys().copied().collect();
    let supervision = Supervision { broadcast_id: broadcast_id.clone(), part, reports, counters, failed_alone, source, all: all.clone(), each: each.clone() };
    let done = tokio::spawn(guarded(app.clone(), broadcast_id.clone(), part, publishing, all.clone(), supervise(app.clone(), supervision)));
    Ok(BroadcastHandle { broadcast_id, destinations: pairs, all, each, done })
}

/// The source of a one-video broadcast: its prepared file, or (when asked and not prepared yet)
/// a real-time encode while the preparation runs in the background for next time.
async fn video_input(
    app: &Twitcher,
    actor: &Profile,
    request: &StartRequest,
    video: &library::Video,
    broadcast_id: &str,
) -> Result<(super::flv::Headers, source::Input), BroadcastError> {
    let ready = prepare::ready(app, video.id, &request.quality).await?;
    let prepared = match ready {
        Some(path) => path,
        None if request.live_encode => {
            // A real-time encode is the costliest thing a start can ask of the machine: the
            // plan says how many a profile runs at once.
            let max = if actor.role == crate::profiles::Role::Admin { None } else { actor.limits.max_live_encodes };
            if !app.db.claim_live_encode(broadcast_id, actor.id, max).await? {
                return Err(BroadcastError::LiveEncodeLimit { plan: actor.plan, limit: max.unwrap_or(0) });
            }
            let local = crate::storage::ensure_local(app, video).await?;
            let _ = prepare::enqueue(app, actor, video, &request.quality).await;
            let (headers, encode) = source::start_live(&local, &request.quality, video.codec_audio.is_some()).await.map_err(|e| BroadcastError::Source(e.to_string()))?;
            return Ok((headers, source::Input::Live(encode)));
        }
        None => prepare::ensure_prepared(app, actor, video, &request.quality).await?,
    };
    let headers = source::read_headers(&prepared).await.map_err(|e| BroadcastError::Source(e.to_string()))?;
    Ok((headers, source::Input::Prepared(prepared)))
}

/// What the supervisor watches of the source.
struct SourceWatch {
    task: JoinHandle<Result<(), super::flv::FlvError>>,
    /// Media time minus wall time, in ms.
    drift: watch::Receiver<f64>,
    /// The playlist entry playing and the next one (indexes into `labels`).
    now_playing: watch::Receiver<Option<(usize, Option<usize>)>>,
    /// Entries that could not play (the slate played instead), and why.
    skipped: mpsc::UnboundedReceiver<(usize, String)>,
    labels: Vec<String>,
    joins: Joins,
    /// The newest timestamp handed to the destinations.
    sent: super::fanout::Sent,
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
    /// Since the current connection went live (for the watchdog).
    on_air_since: Option<Instant>,
    /// The watchdog reconnected it once already.
    watchdog_fired: bool,
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

/// What a running part's supervisor watches: the part's entry in the registry, the publishers'
/// reports and counters, the destinations that failed before publishing, the source, and the
/// tokens that stop it.
struct Supervision {
    broadcast_id: String,
    part: u64,
    reports: mpsc::UnboundedReceiver<Report>,
    counters: HashMap<i64, (i64, Arc<Counters>, Option<String>)>,
    failed_alone: Vec<(i64, i64, String)>,
    source: SourceWatch,
    all: CancellationToken,
    each: HashMap<i64, CancellationToken>,
}

/// The name broadcast supervisors count their panics under in the process's task health.
pub const SUPERVISORS_TASK: &str = "broadcast supervisors";

/// A part's supervisor, itself supervised. Should it panic, its destinations are not left "live"
/// under a lease this process keeps renewing: the publishers are told to stop, the rows fail with
/// a reason, the part leaves the registry, and the panic is counted and announced like any
/// task's (the panic hook has logged where it happened).
async fn guarded(
    app: Twitcher,
    broadcast_id: String,
    part: u64,
    publishing: Vec<i64>,
    all: CancellationToken,
    supervisor: impl std::future::Future<Output = HashMap<i64, StreamState>> + Send + 'static,
) -> HashMap<i64, StreamState> {
    let beat = app.registry.tasks.beat(SUPERVISORS_TASK, crate::tasks::NO_PERIOD);
    let starting = beat.clone();
    match tokio::spawn(async move {
        starting.turn_starts();
        supervisor.await
    })
    .await
    {
        Ok(states) => states,
        Err(e) => {
            all.cancel();
            let message = "internal error: this broadcast's supervisor stopped (the log has the details); start it again";
            let mut states = HashMap::new();
            for id in publishing {
                let _ = app.db.set_stream_state(id, StreamState::Failed, Some(message), app.instance_id()).await;
                let _ = app.db.add_stream_event(id, "error", message).await;
                states.insert(id, StreamState::Failed);
            }
            app.registry.broadcasts.remove(&broadcast_id, part);
            let what = if e.is_panic() { crate::tasks::panic_text(e.into_panic()) } else { "it was cancelled".to_string() };
            tracing::error!(broadcast = %broadcast_id, error = %what, "a broadcast's supervisor stopped; its destinations failed");
            crate::tasks::announce(&app.events, &beat, beat.lost(&what));
            states
        }
    }
}

async fn supervise(app: Twitcher, supervision: Supervision) -> HashMap<i64, StreamState> {
    let Supervision { broadcast_id, part, mut reports, counters, failed_alone, source, all, each } = supervision;
    let mut tracked: HashMap<i64, Tracked> = counters
        .into_iter()
        .map(|(id, (account_id, counters, channel_notice))| {
            (id, Tracked { account_id, channel_notice, counters, state: StreamState::Queued, error: None, live_since: None, on_air_since: None, watchdog_fired: false, samples: VecDeque::new() })
        })
        .collect();
    // Destinations that could not start are part of the outcome (a foreground `stream start`
    // exits non-zero), already final.
    for (id, account_id, error) in failed_alone {
        let t = Tracked {
            account_id,
            channel_notice: None,
            counters: Arc::default(),
            state: StreamState::Failed,
            error: Some(error),
            live_since: None,
            on_air_since: None,
            watchdog_fired: false,
            samples: VecDeque::new(),
        };
        emit(&app, &broadcast_id, id, &t, 0.0, &(None, None));
        tracked.insert(id, t);
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let SourceWatch { task: source_task, mut drift, mut now_playing, mut skipped, labels, joins, sent } = source;
    let mut playlist_open = true;
    let joins = Arc::new(joins);
    let mut entries_started = 0usize;
    let mut source_task = Some(source_task);
    // (now playing, up next) of a playlist.
    let mut playing: (Option<String>, Option<String>) = (None, None);
    // The watchdog: a source that stops producing (a hung disk, a stuck network mount) ends the
    // broadcast with a reason instead of leaving destinations live on nothing.
    let mut last_progress = Instant::now();
    let mut stalled = false;
    // The watchdog that asks Twitch: (stream id, whether its channel shows live).
    let engine = app.options().engine.clone();
    let (offline_tx, mut offline) = mpsc::unbounded_channel::<(i64, bool)>();
    let mut last_offline_check = Instant::now();
    let mut last_archive = Instant::now();
    loop {
        tokio::select! {
            Some((id, live)) = offline.recv() => {
                let Some(t) = tracked.get_mut(&id) else { continue };
                if live || t.state != StreamState::Live || t.watchdog_fired {
                    continue;
                }
                t.watchdog_fired = true;
                let minutes = t.on_air_since.map(|at| (at.elapsed().as_secs() / 60) as u32).unwrap_or(0);
                let account = joins.accounts.iter().find(|a| a.id == t.account_id).map(|a| a.display_name.clone()).unwrap_or_default();
                tracing::warn!(stream_id = id, "Twitch shows the channel offline while publishing: reconnecting once");
                let _ = app.db.add_stream_event(id, "warn", "Twitch shows the channel offline although the stream is being sent: reconnecting once").await;
                let title = app.db.stream_names(id).await.ok().flatten().map(|(_, t)| t).unwrap_or_default();
                app.events.emit(Event::ChannelOfflineWhilePublishing { broadcast_id: broadcast_id.clone(), stream_id: id, account, title, minutes });
                t.counters.reconnect_now.notify_one();
            }
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
                    t.on_air_since = Some(Instant::now());
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
                emit(&app, &broadcast_id, report.stream_id, t, *drift.borrow(), &playing);
            }
            Some((index, reason)) = skipped.recv() => {
                let item = labels.get(index).cloned().unwrap_or_else(|| "an item".into());
                let reason = crate::redact::redact(&reason).into_owned();
                for (id, t) in tracked.iter() {
                    if !t.state.is_final() {
                        let _ = app.db.add_stream_event(*id, "warn", &format!("skipped “{item}”: {reason} (the slate played instead)")).await;
                    }
                }
                let title = app.db.stream_names(*tracked.keys().next().unwrap_or(&0)).await.ok().flatten().map(|(_, t)| t).unwrap_or_default();
                app.events.emit(Event::ItemSkipped { broadcast_id: broadcast_id.clone(), title, item, reason });
            }
            changed = now_playing.changed(), if playlist_open => {
                if changed.is_err() {
                    // The source is gone (it ended; a single video never had a playlist to
                    // follow): keep the last title shown and stop listening — a closed watch is
                    // ready at once, and polling it again would spin this loop.
                    playlist_open = false;
                    continue;
                }
                let entry = *now_playing.borrow_and_update();
                if let Some((now, next)) = entry {
                    let label = labels.get(now).cloned().unwrap_or_default();
                    playing = (Some(label.clone()), next.and_then(|n| labels.get(n)).cloned());
                    // On the rows too: `stream list` in another process shows it.
                    let _ = app.db.set_now_playing(&broadcast_id, app.instance_id(), playing.0.as_deref(), playing.1.as_deref()).await;
                    tracing::info!(broadcast = %broadcast_id, "next playlist item");
                    for (id, t) in tracked.iter() {
                        if !t.state.is_final() {
                            let _ = app.db.add_stream_event(*id, "info", &format!("now playing: {label}")).await;
                        }
                    }
                    // The channels get the item's title, category and tags, and at every join (not
                    // the first item) a marker — in the background: the stream goes on.
                    entries_started += 1;
                    if let Some(start) = joins.starts.get(now).cloned().filter(|s| entries_started > 1 || s.settings.is_some()) {
                        {
                            let live: Vec<accounts::Account> = joins
                                .accounts
                                .iter()
                                .filter(|a| joins.streams.get(&a.id).and_then(|s| tracked.get(s)).is_some_and(|t| !t.state.is_final()))
                                .cloned()
                                .collect();
                            tokio::spawn(announce_join(app.clone(), joins.clone(), live, start, entries_started > 1));
                        }
                    }
                }
            }
            _ = tick.tick() => {
                // Stop orders from any process (super::orders), and leases another process took
                // over (crate::lease): those destinations stop publishing here; when none is left
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
                if last_archive.elapsed() >= engine.log_archive_every {
                    last_archive = Instant::now();
                    super::archive::archive_later(&app, &broadcast_id);
                }
                if last_offline_check.elapsed() >= engine.offline_check_every {
                    last_offline_check = Instant::now();
                    watch_channels(&app, &joins, &tracked, engine.offline_after, &offline_tx);
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
                        emit(&app, &broadcast_id, *id, t, *drift.borrow(), &playing);
                    }
                }
                let _ = app.db.set_stream_counters(&running, sent.get(), app.instance_id()).await;
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
    let _ = app.db.set_stream_counters(&last, sent.get(), app.instance_id()).await;
    app.registry.broadcasts.remove(&broadcast_id, part);
    tracing::info!(broadcast = %broadcast_id, "broadcast ended");
    super::archive::archive_later(&app, &broadcast_id);
    tracked.into_iter().map(|(id, t)| (id, t.state)).collect()
}

/// Asks Twitch, in the background, whether each channel that has been on air for `after` is live;
/// the answers come back on `answers`. Only accounts connected with Twitch can be asked.
fn watch_channels(app: &Twitcher, joins: &Arc<Joins>, tracked: &HashMap<i64, Tracked>, after: Duration, answers: &mpsc::UnboundedSender<(i64, bool)>) {
    for (id, t) in tracked {
        let due = t.state == StreamState::Live && !t.watchdog_fired && t.on_air_since.is_some_and(|at| at.elapsed() >= after);
        let Some(account) = joins.accounts.iter().find(|a| a.id == t.account_id && a.connected && a.auth_problem.is_none()).filter(|_| due) else { continue };
        let (app, actor, account, answers, id) = (app.clone(), joins.actor.clone(), account.clone(), answers.clone(), *id);
        tokio::spawn(async move {
            match crate::twitch::stats::channel_is_live(&app, &actor, &account).await {
                Ok(live) => {
                    let _ = answers.send((id, live));
                }
                // Not knowing is no reason to cut a stream.
                Err(e) => tracing::debug!(stream_id = id, error = %e, "the watchdog could not ask Twitch"),
            }
        });
    }
}

/// (stream id, reconnects, bytes sent) for the database.
fn counters_of(id: i64, t: &Tracked) -> (i64, i64, i64) {
    (id, t.counters.reconnects.load(Ordering::Relaxed) as i64, t.counters.bytes.load(Ordering::Relaxed) as i64)
}

fn emit(app: &Twitcher, broadcast_id: &str, stream_id: i64, t: &Tracked, drift_ms: f64, playing: &(Option<String>, Option<String>)) {
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
        now_playing: playing.0.clone(),
        up_next: playing.1.clone(),
    }));
}
