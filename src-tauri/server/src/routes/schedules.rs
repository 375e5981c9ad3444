//! `/api/schedules…`: recurring starts (a local time in an IANA zone on chosen weekdays).

use axum::extract::State;
use axum::http::StatusCode;
use twitcher_core::schedules::{self, Schedule, ScheduleInput};

use crate::auth::Session;
use crate::error::ApiResult;
use crate::extract::{Body, Id, Params};
use super::Deleted;
use crate::ServerState;

/// The profile's schedules by id, each with its next 7 starts (UTC), a page at a time.
#[utoipa::path(get, path = "/api/schedules", params(super::Paging), security(("bearer" = [])),
    responses((status = 200, body = Vec<Schedule>, headers(("Link" = String, description = "the next page, while there may be more"))),
        (status = 401, body = crate::error::ErrorResponse)))]
pub async fn list(State(state): State<ServerState>, Session(actor): Session, Params(paging): Params<super::Paging>) -> ApiResult<axum::response::Response> {
    let request = paging.request()?;
    Ok(super::page("/api/schedules", request, schedules::list_page(&state.app, &actor, request).await?, |s| s.id))
}

/// A recurring start; what it starts is checked as a start would be.
#[utoipa::path(post, path = "/api/schedules", request_body = ScheduleInput, security(("bearer" = [])),
    responses((status = 201, body = Schedule), (status = 400, body = crate::error::ErrorResponse),
        (status = 404, description = "no such video, playlist or account", body = crate::error::ErrorResponse)))]
pub async fn create(State(state): State<ServerState>, Session(actor): Session, Body(input): Body<ScheduleInput>) -> ApiResult<(StatusCode, axum::Json<Schedule>)> {
    Ok((StatusCode::CREATED, axum::Json(schedules::create(&state.app, &actor, &input).await?)))
}

/// Changes it in place: what it starts, when, for how long; its occurrences booked from the old
/// settings but not started are cancelled, and its Twitch schedule segments replaced.
#[utoipa::path(put, path = "/api/schedules/{id}", params(("id" = i64, Path)), request_body = ScheduleInput, security(("bearer" = [])),
    responses((status = 200, body = Schedule), (status = 400, body = crate::error::ErrorResponse),
        (status = 404, description = "no such schedule, video, playlist or account", body = crate::error::ErrorResponse)))]
pub async fn update(State(state): State<ServerState>, Session(actor): Session, Id(id): Id, Body(input): Body<ScheduleInput>) -> ApiResult<axum::Json<Schedule>> {
    Ok(axum::Json(schedules::update(&state.app, &actor, id, &input).await?))
}

/// Pauses it: it starts nothing until resumed (booked occurrences not started are cancelled).
#[utoipa::path(post, path = "/api/schedules/{id}/pause", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Schedule), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn pause(State(state): State<ServerState>, Session(actor): Session, Id(id): Id) -> ApiResult<axum::Json<Schedule>> {
    Ok(axum::Json(schedules::pause(&state.app, &actor, id).await?))
}

/// Resumes it from its next time after now (never an occurrence missed while paused).
#[utoipa::path(post, path = "/api/schedules/{id}/resume", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Schedule), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn resume(State(state): State<ServerState>, Session(actor): Session, Id(id): Id) -> ApiResult<axum::Json<Schedule>> {
    Ok(axum::Json(schedules::resume(&state.app, &actor, id).await?))
}

/// Deletes it; its occurrences not started yet are cancelled.
#[utoipa::path(delete, path = "/api/schedules/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Deleted), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn delete(State(state): State<ServerState>, Session(actor): Session, Id(id): Id) -> ApiResult<axum::Json<Deleted>> {
    schedules::delete(&state.app, &actor, id).await?;
    Ok(axum::Json(Deleted { deleted: id }))
}
