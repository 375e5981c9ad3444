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

/// Deletes it; its occurrences not started yet are cancelled.
#[utoipa::path(delete, path = "/api/schedules/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Deleted), (status = 404, body = crate::error::ErrorResponse)))]
pub async fn delete(State(state): State<ServerState>, Session(actor): Session, Id(id): Id) -> ApiResult<axum::Json<Deleted>> {
    schedules::delete(&state.app, &actor, id).await?;
    Ok(axum::Json(Deleted { deleted: id }))
}
