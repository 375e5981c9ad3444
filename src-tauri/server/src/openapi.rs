//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations and the
//! types they take and return; served at `/api/openapi.json`.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::routes;

/// `{"error": {"code", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: twitcher_core::ErrorBody,
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()));
    }
}

/// Answers every operation can give besides its own, listed on each so a client (and a
/// contract tester such as schemathesis) finds them: 400 for a request the server cannot take (a
/// path id that is not a number, a malformed body or query) and, for the signed-in operations,
/// 401 for a missing, expired or forged token.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorResponse"))).build())
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete].into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses.entry("400".into()).or_insert_with(|| error("the request is malformed (a path id, the query or the body)"));
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    responses.entry("401".into()).or_insert_with(|| error("no valid session token (sign in again)"));
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Twitcher API", description = "`twitcher serve`: profiles, videos, Twitch accounts and broadcasts of one Twitcher data dir."),
    paths(
        routes::health,
        routes::auth::register,
        routes::auth::login,
        routes::videos::list,
        routes::videos::upload,
        routes::videos::thumbnail,
        routes::twitch::list,
        routes::twitch::link,
        routes::twitch::unlink,
        routes::twitch::stats,
        routes::playlists::list,
        routes::playlists::create,
        routes::playlists::show,
        routes::playlists::update,
        routes::playlists::delete,
        routes::playlists::add,
        routes::playlists::move_item,
        routes::playlists::remove_item,
        routes::schedules::list,
        routes::schedules::create,
        routes::schedules::delete,
        routes::streams::start,
        routes::streams::stop,
        routes::streams::list,
        routes::streams::events,
        routes::nodes::list,
    ),
    modifiers(&Bearer, &CommonResponses)
)]
pub struct ApiDoc;

pub async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
