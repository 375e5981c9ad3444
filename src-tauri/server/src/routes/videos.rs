//! `GET /api/videos` and `POST /api/videos/upload` (streamed multipart; size limit and quota
//! enforced; a partial upload is removed).

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use twitcher_core::error::ErrorCode;
use serde::Serialize;
use twitcher_core::library::{self, VideoQuery};
use twitcher_core::model::ApiVideo;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::ServerState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiVideoPage {
    pub items: Vec<ApiVideo>,
    pub total: i64,
}

#[derive(Deserialize, IntoParams)]
pub struct VideoListParams {
    /// Matched against title and description.
    pub search: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/videos", params(VideoListParams), security(("bearer" = [])),
    responses((status = 200, body = ApiVideoPage), (status = 401, body = crate::error::ErrorResponse)))]
pub async fn list(State(state): State<ServerState>, Session(actor): Session, Params(params): Params<VideoListParams>) -> ApiResult<axum::Json<ApiVideoPage>> {
    let query = VideoQuery {
        search: params.search,
        limit: params.limit.unwrap_or(VideoQuery::DEFAULT_LIMIT),
        offset: params.offset.unwrap_or(0).max(0),
        ..VideoQuery::default()
    };
    let page = library::list(&state.app, &actor, &query).await?;
    Ok(axum::Json(ApiVideoPage { items: page.items.into_iter().map(ApiVideo::from).collect(), total: page.total }))
}

/// A video's thumbnail, as JPEG.
#[utoipa::path(get, path = "/api/videos/{id}/thumbnail", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 401, body = crate::error::ErrorResponse),
        (status = 404, description = "no such video, or it has no thumbnail", body = crate::error::ErrorResponse)))]
pub async fn thumbnail(State(state): State<ServerState>, Session(actor): Session, crate::extract::Id(id): crate::extract::Id) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    match library::thumbnail(&state.app, &actor, id).await? {
        Some(jpeg) => Ok(([(axum::http::header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response()),
        None => Err(ApiError::not_found("thumbnail for a video")),
    }
}

/// The multipart form of an upload, for the OpenAPI document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The video file (MP4, WebM, OGG, AVI, MOV, WMV or FLV).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// How much of an oversized upload is read and discarded before answering 413.
const DRAIN_LIMIT: u64 = 1 << 30;

/// Removes the upload's folder however the request ends (error, disconnect, success).
struct Staging(std::path::PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Uploads a video into the library: checked, probed and thumbnailed like an import. A profile
/// sends at most two at once; the storage its plan has left is reserved before the body is read
/// (the `Content-Length`, or all of it) and enforced as the file arrives. An upload that sends
/// nothing for 30 s, or averages under 16 KB/s after its first 30 s, is ended (408).
#[utoipa::path(post, path = "/api/videos/upload", request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses((status = 201, body = ApiVideo), (status = 400, body = crate::error::ErrorResponse),
        (status = 408, description = "the upload stalled or was too slow", body = crate::error::ErrorResponse),
        (status = 413, body = crate::error::ErrorResponse), (status = 401, body = crate::error::ErrorResponse),
        (status = 429, description = "this profile (or the server) has as many uploads running as it may; see Retry-After", body = crate::error::ErrorResponse)))]
pub async fn upload(
    State(state): State<ServerState>,
    Session(actor): Session,
    headers: axum::http::HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, axum::Json<ApiVideo>)> {
    let mut form = form.map_err(|e| ApiError::invalid(format!("send the video as multipart/form-data with a 'file' field ({})", e.body_text())))?;
    let app = &state.app;
    let room = library::upload_room(app, &actor).await?;
    // The body's declared size bounds what this upload reserves; without one it reserves all.
    let declared = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let slot = state.uploads.take(actor.id, room.bytes, declared).map_err(|refused| ApiError::rate_limited(refused.0, 5))?;
    let limit = slot.reserved();
    let over = || match room.by_plan {
        true => ApiError::new(ErrorCode::PlanLimit, format!("your {} plan's storage has {} MB left (less what your other uploads hold): remove videos or move to a larger plan", actor.plan, limit / 1024 / 1024)),
        false => ApiError::new(ErrorCode::TooLarge, format!("the file is larger than the {} MB limit", limit / 1024 / 1024)),
    };
    // Refused before a byte is stored. What the client is still sending is read and dropped for
    // a moment first, so it gets this answer rather than a broken pipe (a connection closed with
    // unread data is reset).
    if limit == 0 || declared.is_some_and(|d| d > limit.saturating_add(MULTIPART_OVERHEAD)) {
        discard(&mut form).await;
        return Err(over());
    }
    let staging = Staging(app.data_dir().join(twitcher_core::config::folders::UPLOADS).join(uuid::Uuid::new_v4().simple().to_string()));
    tokio::fs::create_dir_all(&staging.0).await.map_err(|e| ApiError::io("could not make room for the upload", &e))?;
    let pace = Pace::new(state.body_idle_timeout, state.upload_min_bytes_per_sec);
    let mut saved = None;
    while let Some(mut field) = pace.wait(form.next_field()).await?.map_err(|e| ApiError::invalid(format!("the multipart body is malformed: {e}")))? {
        if field.name() != Some("file") {
            continue;
        }
        // The client's name becomes the title only; the file on disk is named by the server
        // (keeping the extension, which FFmpeg's probe does not need but a person reading the
        // folder does), so no name can be too long, hidden or point anywhere.
        let client_name = field.file_name().unwrap_or("upload").to_string();
        let extension = std::path::Path::new(&client_name)
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map(|e| format!(".{}", e.to_ascii_lowercase()))
            .unwrap_or_default();
        let path = staging.0.join(format!("upload{extension}"));
        let mut file = tokio::fs::File::create(&path).await.map_err(|e| ApiError::io("could not save the upload", &e))?;
        let mut written: u64 = 0;
        while let Some(chunk) = pace.wait(field.chunk()).await?.map_err(|e| ApiError::invalid(format!("the upload was interrupted: {e}")))? {
            written += chunk.len() as u64;
            pace.check(written)?;
            if written > limit {
                // Read (and drop) the rest, up to a bound, so the client gets this answer
                // instead of a connection reset in the middle of its upload.
                while written < DRAIN_LIMIT {
                    match pace.wait(field.chunk()).await {
                        Ok(Ok(Some(chunk))) => written += chunk.len() as u64,
                        _ => break,
                    }
                }
                return Err(over());
            }
            file.write_all(&chunk).await.map_err(|e| ApiError::io("could not save the upload", &e))?;
        }
        file.flush().await.map_err(|e| ApiError::io("could not save the upload", &e))?;
        saved = Some((path, client_name));
        break;
    }
    let (path, client_name) = saved.ok_or_else(|| ApiError::invalid("no 'file' field in the form"))?;
    let outcome = library::import_upload_and_wait(app, &actor, path, &client_name).await?;
    drop(slot);
    match (outcome.imported.into_iter().next(), outcome.failed.into_iter().next()) {
        (Some(video), _) => Ok((StatusCode::CREATED, axum::Json(video.into()))),
        (None, Some(failure)) => Err(ApiError::new(failure.code, failure.message)),
        (None, None) => Err(ApiError::invalid("the import did not start")),
    }
}

/// Reads and drops the rest of a refused upload, for at most [`DISCARD_FOR`] and [`DRAIN_LIMIT`].
async fn discard(form: &mut Multipart) {
    let until = tokio::time::Instant::now() + DISCARD_FOR;
    let mut dropped: u64 = 0;
    let _ = tokio::time::timeout_at(until, async {
        while let Ok(Some(mut field)) = form.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                dropped += chunk.len() as u64;
                if dropped >= DRAIN_LIMIT {
                    return;
                }
            }
        }
    })
    .await;
}

/// How long a refused upload's rest is read before the answer goes out anyway.
const DISCARD_FOR: std::time::Duration = std::time::Duration::from_secs(3);

/// What a multipart body adds around the file (boundaries, part headers), allowed on top of the
/// room left when judging a declared `Content-Length`.
const MULTIPART_OVERHEAD: u64 = 8 * 1024;

/// The pace an upload must keep: something within every `idle`, and `min_rate` on average once
/// its first 30 s are over (a client sending a byte every few seconds holds a slot forever).
struct Pace {
    started: std::time::Instant,
    idle: std::time::Duration,
    min_rate: u64,
}

const PACE_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

impl Pace {
    fn new(idle: std::time::Duration, min_rate: u64) -> Self {
        Self { started: std::time::Instant::now(), idle, min_rate }
    }

    async fn wait<T>(&self, next: impl std::future::Future<Output = T>) -> Result<T, ApiError> {
        tokio::time::timeout(self.idle, next)
            .await
            .map_err(|_| ApiError::new(ErrorCode::RequestTimeout, format!("the upload sent nothing for {} s and was ended: try again", self.idle.as_secs())))
    }

    fn check(&self, received: u64) -> Result<(), ApiError> {
        let elapsed = self.started.elapsed();
        if elapsed > PACE_GRACE && (received as f64) < self.min_rate as f64 * elapsed.as_secs_f64() {
            return Err(ApiError::new(
                ErrorCode::RequestTimeout,
                format!("the upload was slower than {} KB/s and was ended: try again on a faster connection", self.min_rate / 1024),
            ));
        }
        Ok(())
    }
}
