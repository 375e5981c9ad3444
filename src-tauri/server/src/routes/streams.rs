//! `POST /api/streams/start`, `POST /api/streams/stop`, `POST /api/streams/{id}/retry`, `GET /api/streams`,
//! `GET /api/streams/{id}/events` (server-sent events of a destination's live status).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};
use twitcher_core::broadcast::{self, BroadcastError, Quality, StartRequest, StopTarget, StreamRow, StreamStatus};
use twitcher_core::events::Event;
use utoipa::ToSchema;

use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Id, Params};
use crate::ServerState;

#[derive(Deserialize, ToSchema)]
pub struct StartBody {
    /// What to play: a library video…
    #[serde(default)]
    pub video_id: Option<i64>,
    /// …or a playlist (its items are prepared before it goes live).
    #[serde(default)]
    pub playlist_id: Option<i64>,
    /// Each account once.
    #[schema(min_items = 1)]
    pub account_ids: Vec<i64>,
    /// The video's title when omitted. One line of plain text, as Twitch takes it.
    #[serde(default)]
    #[schema(max_length = 140, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*$")]
    pub title: Option<String>,
    /// A Twitch category name, applied to connected channels.
    #[serde(default)]
    #[schema(max_length = 50, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*$")]
    pub category: Option<String>,
    /// At most 10, each 1 to 25 letters or digits (Twitch's rule).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub tags: Vec<String>,
    /// Default 30.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 60)]
    pub fps: Option<u32>,
    /// kbps, default 4500 (Twitch allows up to 6000).
    #[serde(default)]
    #[schema(minimum = 300, maximum = 6000)]
    pub video_bitrate_k: Option<u32>,
    /// kbps, default 160.
    #[serde(default)]
    #[schema(minimum = 64, maximum = 320)]
    pub audio_bitrate_k: Option<u32>,
    /// `WIDTHxHEIGHT`, both even, from 160x90 to 3840x2160; default 1920x1080.
    #[serde(default)]
    #[schema(pattern = r"^(1[6-9][02468]|[2-9][0-9][02468]|[12][0-9]{2}[02468]|3[0-7][0-9][02468]|38[0-3][02468]|3840)x(9[02468]|[1-9][0-9][02468]|1[0-9]{2}[02468]|20[0-9][02468]|21[0-5][02468]|2160)$")]
    pub resolution: Option<String>,
    #[serde(default, rename = "loop")]
    pub looped: bool,
    /// RFC 3339 with an offset, from now on: go live then (kept across restarts) instead of now.
    #[serde(default)]
    #[schema(format = DateTime, pattern = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})\s*$")]
    pub at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Destination {
    pub stream_id: i64,
    pub account_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Started {
    pub broadcast_id: String,
    /// Empty for a scheduled broadcast (see `GET /api/streams`).
    pub streams: Vec<Destination>,
    pub scheduled_at: Option<String>,
}

/// Goes live now (a video not prepared yet is encoded in real time meanwhile) or at `at`.
#[utoipa::path(post, path = "/api/streams/start", request_body = StartBody, security(("bearer" = [])),
    responses((status = 202, body = Started), (status = 400, body = crate::error::ErrorResponse),
        (status = 404, description = "no such video, playlist or account", body = crate::error::ErrorResponse)))]
pub async fn start(State(state): State<ServerState>, Session(actor): Session, Body(body): Body<StartBody>) -> ApiResult<(StatusCode, axum::Json<Started>)> {
    let request = StartRequest {
        video_id: body.video_id,
        playlist_id: body.playlist_id,
        account_ids: body.account_ids,
        title: body.title.unwrap_or_default(),
        category: body.category,
        tags: body.tags,
        quality: Quality::with(body.fps, body.video_bitrate_k, body.audio_bitrate_k, body.resolution.as_deref()).map_err(BroadcastError::from)?,
        looped: body.looped,
        live_encode: StartRequest::LIVE_ENCODE_BY_DEFAULT,
    };
    if let Some(at) = body.at {
        let broadcast_id = broadcast::schedule(&state.app, &actor, &request, &at).await?;
        return Ok((StatusCode::ACCEPTED, axum::Json(Started { broadcast_id, streams: vec![], scheduled_at: Some(at) })));
    }
    let handle = broadcast::start(&state.app, &actor, &request).await?;
    let started = Started {
        broadcast_id: handle.broadcast_id.clone(),
        streams: handle.destinations.iter().map(|&(stream_id, account_id)| Destination { stream_id, account_id }).collect(),
        scheduled_at: None,
    };
    handle.detach(&state.app);
    Ok((StatusCode::ACCEPTED, axum::Json(started)))
}

#[derive(Deserialize, ToSchema)]
pub struct StopBody {
    /// One destination…
    #[serde(default)]
    pub stream_id: Option<i64>,
    /// …or a broadcast (with `account_id`: only its destination to that account)…
    #[serde(default)]
    pub broadcast_id: Option<String>,
    #[serde(default)]
    pub account_id: Option<i64>,
    /// …or every running stream of this profile.
    #[serde(default)]
    pub all: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Stopped {
    pub stopped: u32,
}

/// Stops one destination (`stream_id`), a broadcast (`broadcast_id`, optionally only its
/// `account_id`) or all of the profile's (`all: true`), gracefully, whichever process runs them:
/// the order is written on the rows and returned once taken; `stopped` counts destinations.
#[utoipa::path(post, path = "/api/streams/stop", request_body = StopBody, security(("bearer" = [])),
    responses((status = 200, body = Stopped), (status = 400, body = crate::error::ErrorResponse), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn stop(State(state): State<ServerState>, Session(actor): Session, Body(body): Body<StopBody>) -> ApiResult<axum::Json<Stopped>> {
    let target = match (body.stream_id, body.broadcast_id, body.account_id, body.all) {
        (Some(id), None, None, false) => StopTarget::Stream(id),
        (None, Some(broadcast_id), account_id, false) => StopTarget::Broadcast { broadcast_id, account_id },
        (None, None, None, true) => StopTarget::All,
        _ => return Err(ApiError::invalid("give one of stream_id, broadcast_id (with an optional account_id) or all: true")),
    };
    // The API's contract answers any id the profile does not have with `not_found`.
    let stopped = match broadcast::stop(&state.app, &actor, target).await {
        Err(broadcast::BroadcastError::NoStream { .. }) => return Err(ApiError::not_found("stream")),
        Err(broadcast::BroadcastError::NoBroadcast { .. }) => return Err(ApiError::not_found("broadcast")),
        other => other? as u32,
    };
    Ok(axum::Json(Stopped { stopped }))
}

/// Starts a failed destination of a broadcast still on air again, alone, in this process: it
/// joins the broadcast where it plays now; the other destinations are not touched. A destination
/// that is not failed, or whose broadcast has ended, is `not_retryable` (409).
#[utoipa::path(post, path = "/api/streams/{id}/retry", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204, description = "publishing again"), (status = 404, body = crate::error::ErrorResponse), (status = 409, body = crate::error::ErrorResponse)))]
pub async fn retry(State(state): State<ServerState>, Session(actor): Session, Id(id): Id) -> ApiResult<axum::http::StatusCode> {
    match broadcast::retry(&state.app, &actor, id).await {
        Err(broadcast::BroadcastError::NoStream { .. }) => Err(ApiError::not_found("stream")),
        other => other.map(|()| axum::http::StatusCode::NO_CONTENT).map_err(Into::into),
    }
}

/// The profile's streams, newest first, a page at a time.
#[utoipa::path(get, path = "/api/streams", params(super::Paging), security(("bearer" = [])),
    responses((status = 200, body = Vec<StreamRow>, headers(("Link" = String, description = "the next (older) page, while there may be more"))),
        (status = 401, body = crate::error::ErrorResponse)))]
pub async fn list(State(state): State<ServerState>, Session(actor): Session, Params(paging): Params<super::Paging>) -> ApiResult<axum::response::Response> {
    let request = paging.request()?;
    Ok(super::page("/api/streams", request, broadcast::list_page(&state.app, &actor, request).await?, |s| s.id))
}

/// Server-sent events: `row` once (the stored state), then `status` on every change and about
/// once a second while it runs (`StreamStatus`). A profile holds at most 16 such streams open.
#[utoipa::path(get, path = "/api/streams/{id}/events", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream of StreamStatus", body = StreamStatus), (status = 404, body = crate::error::ErrorResponse),
        (status = 429, description = "this profile holds as many event streams open as it may; see Retry-After", body = crate::error::ErrorResponse)))]
pub async fn events(State(state): State<ServerState>, Session(actor): Session, Id(id): Id) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    // Another profile's stream is a 404 that does not say whether it exists.
    let row = broadcast::stream(&state.app, &actor, id).await.map_err(|_| ApiError::not_found("stream"))?;
    // Held by the stream itself: given back when the client goes away.
    let slot = state.event_streams.take(actor.id, 0, None).map_err(|refused| ApiError::rate_limited(refused.0, 5))?;
    let first = SseEvent::default().event("row").json_data(&row).expect("rows serialize");
    let updates = BroadcastStream::new(state.app.events.subscribe()).filter_map(move |event| match event {
        Ok(Event::Stream(status)) if status.stream_id == id => {
            Some(SseEvent::default().event("status").json_data(&status).expect("statuses serialize"))
        }
        _ => None,
    });
    let stream = tokio_stream::once(first).chain(updates).map(move |event| {
        let _held = &slot;
        Ok(event)
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
