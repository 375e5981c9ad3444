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
    modifiers(&Bearer)
)]
pub struct ApiDoc;

pub async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
