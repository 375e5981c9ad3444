//! `/api/playlists…`: a profile's playlists and their items (what `stream start` with
//! `playlist_id` plays).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use twitcher_core::playlists::{self, ItemMeta, Playlist, PlaylistOptions};
use utoipa::ToSchema;

use crate::auth::Session;
use crate::error::ApiResult;
use crate::extract::{Body, Id, Ids, Params};
use super::Deleted;
use crate::ServerState;

#[derive(Deserialize, ToSchema)]
pub struct CreateBody {
    /// Not blank, no control characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*[^\s\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069][^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*$")]
    pub name: String,
    #[serde(flatten)]
    pub options: PlaylistOptions,
}

#[derive(Deserialize, ToSchema)]
pub struct AddBody {
    pub video_id: i64,
    /// 1-based; omitted: at the end.
    #[serde(default)]
    pub position: Option<u32>,
    #[serde(flatten)]
    pub meta: ItemMeta,
}

#[derive(Deserialize, ToSchema)]
pub struct MoveBody {
    /// 1-based; past the end means last.
    pub position: u32,
}

/// The profile's playlists by id, a page at a time (`Link: <…>; rel="next"` while there may be more).
#[utoipa::path(get, path = "/api/playlists", params(super::Paging), security(("bearer" = [])),
    responses((status = 200, body = Vec<Playlist>, headers(("Link" = String, description = "the next page, while there may be more"))),
        (status = 401, body = crate::error::ErrorResponse)))]
pub async fn list(State(state): State<ServerState>, Session(actor): Session, Params(paging): Params<super::Paging>) -> ApiResult<axum::response::Response> {
    let request = paging.request()?;
    Ok(super::page("/api/playlists", request, playlists::list_page(&state.app, &actor, request).await?, |p| p.id))
}

/// A new, empty playlist with how it plays (`loop`, `shuffle`, an insert every N items).
#[utoipa::path(post, path = "/api/playlists", request_body = CreateBody, security(("bearer" = [])),
    responses((status = 201, body = Playlist), (status = 400, body = crate::error::ErrorResponse),
        (status = 404, description = "no such slate or insert video", body = crate::error::ErrorResponse),
        (status = 409, description = "a playlist of that name exists", body = crate::error::ErrorResponse)))]
pub async fn create(State(state): State<ServerState>, Session(actor): Session, Body(body): Body<CreateBody>) -> ApiResult<(StatusCode, axum::Json<Playlist>)> {
    let app = &state.app;
    let created = playlists::create(app, &actor, &body.name).await?;
    if body.options == PlaylistOptions::default() {
        return Ok((StatusCode::CREATED, axum::Json(created)));
    }
    match playlists::set_options(app, &actor, created.id, &body.options).await {
        Ok(playlist) => Ok((StatusCode::CREATED, axum::Json(playlist))),
        Err(e) => {
            // Nothing half-made stays behind.
            let _ = playlists::delete(app, &actor, created.id).await;
            Err(e.into())
        }
    }
}

#[utoipa::path(get, path = "/api/playlists/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Playlist), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn show(State(state): State<ServerState>, Session(actor): Session, Id(id): Id) -> ApiResult<axum::Json<Playlist>> {
    Ok(axum::Json(playlists::get(&state.app, &actor, id).await?))
}

/// Changes how it plays.
#[utoipa::path(put, path = "/api/playlists/{id}", params(("id" = i64, Path)), request_body = PlaylistOptions, security(("bearer" = [])),
    responses((status = 200, body = Playlist), (status = 400, body = crate::error::ErrorResponse), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn update(State(state): State<ServerState>, Session(actor): Session, Id(id): Id, Body(options): Body<PlaylistOptions>) -> ApiResult<axum::Json<Playlist>> {
    Ok(axum::Json(playlists::set_options(&state.app, &actor, id, &options).await?))
}

/// Deletes it (not its videos); refused while a broadcast plays it.
#[utoipa::path(delete, path = "/api/playlists/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Deleted), (status = 404, body = crate::error::ErrorResponse), (status = 409, body = crate::error::ErrorResponse)))]
pub async fn delete(State(state): State<ServerState>, Session(actor): Session, Id(id): Id) -> ApiResult<axum::Json<Deleted>> {
    playlists::delete(&state.app, &actor, id).await?;
    Ok(axum::Json(Deleted { deleted: id }))
}

/// Adds a library video, with the title, category and tags the channels get when it starts.
#[utoipa::path(post, path = "/api/playlists/{id}/items", params(("id" = i64, Path)), request_body = AddBody, security(("bearer" = [])),
    responses((status = 200, body = Playlist), (status = 400, body = crate::error::ErrorResponse), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn add(State(state): State<ServerState>, Session(actor): Session, Id(id): Id, Body(body): Body<AddBody>) -> ApiResult<axum::Json<Playlist>> {
    Ok(axum::Json(playlists::add(&state.app, &actor, id, body.video_id, body.position, &body.meta).await?))
}

#[utoipa::path(post, path = "/api/playlists/{id}/items/{item_id}/move", params(("id" = i64, Path), ("item_id" = i64, Path)),
    request_body = MoveBody, security(("bearer" = [])),
    responses((status = 200, body = Playlist), (status = 400, body = crate::error::ErrorResponse), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn move_item(State(state): State<ServerState>, Session(actor): Session, Ids(id, item_id): Ids, Body(body): Body<MoveBody>) -> ApiResult<axum::Json<Playlist>> {
    Ok(axum::Json(playlists::move_item(&state.app, &actor, id, item_id, body.position).await?))
}

#[utoipa::path(delete, path = "/api/playlists/{id}/items/{item_id}", params(("id" = i64, Path), ("item_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Playlist), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn remove_item(State(state): State<ServerState>, Session(actor): Session, Ids(id, item_id): Ids) -> ApiResult<axum::Json<Playlist>> {
    Ok(axum::Json(playlists::remove_item(&state.app, &actor, id, item_id).await?))
}
