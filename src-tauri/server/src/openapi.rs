//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations and the
//! types they take and return; served at `/api/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

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

/// The rules between fields that the handlers enforce and the types alone cannot state (utoipa
/// derives one schema per field, and its schema objects have no `oneOf`/`not` beside
/// `properties`): merged into the generated document's schemas as JSON, so a client and a
/// contract tester know them.
fn cross_field_rules(document: &mut serde_json::Value) {
    use serde_json::json;
    // What to play: exactly one of a video and a playlist (the other omitted or null).
    let one_program = json!([
        {"required": ["video_id"], "properties": {"video_id": {"type": "integer"}, "playlist_id": {"type": "null"}}},
        {"required": ["playlist_id"], "properties": {"playlist_id": {"type": "integer"}, "video_id": {"type": "null"}}},
    ]);
    let none = json!({"type": "null"});
    let rules = [
        ("StartBody", json!({"oneOf": one_program, "properties": {"account_ids": {"uniqueItems": true}}})),
        ("StartRequest", json!({"oneOf": one_program, "properties": {"account_ids": {"uniqueItems": true, "minItems": 1}}})),
        // One destination, a broadcast (optionally one account's destination of it), or all.
        ("StopBody", json!({"oneOf": [
            {"required": ["stream_id"], "properties": {"stream_id": {"type": "integer"}, "broadcast_id": none, "account_id": none, "all": {"const": false}}},
            {"required": ["broadcast_id"], "properties": {"broadcast_id": {"type": "string"}, "stream_id": none, "all": {"const": false}}},
            {"required": ["all"], "properties": {"all": {"const": true}, "stream_id": none, "broadcast_id": none, "account_id": none}},
        ]})),
        // Both or neither of an insert's video and how often it plays.
        ("PlaylistOptions", json!({"anyOf": [
            {"properties": {"insert_every": none, "insert_video_id": none}},
            {"required": ["insert_every", "insert_video_id"], "properties": {"insert_every": {"type": "integer"}, "insert_video_id": {"type": "integer"}}},
        ]})),
        ("ScheduleInput", json!({
            "properties": {
                "days": {"uniqueItems": true, "items": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
                "time_zone": {"enum": twitcher_core::schedules::time_zone_names().collect::<Vec<_>>()},
            },
            // A duration or an end time, not both.
            "not": {"required": ["duration_sec", "until"], "properties": {"duration_sec": {"type": "integer"}, "until": {"type": "string"}}},
        })),
    ];
    for (name, rule) in rules {
        if let Some(schema) = document.pointer_mut(&format!("/components/schemas/{name}")) {
            merge(schema, rule);
        }
    }
}

/// Gives every operation a unique `operationId` (`post_api_playlists_id_items`: utoipa names
/// them after their handler, and several handlers share a name), so links can name them.
fn operation_ids(document: &mut serde_json::Value) {
    let Some(paths) = document.get_mut("paths").and_then(|p| p.as_object_mut()) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, operation) in item.iter_mut() {
            let words: Vec<&str> = path.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').filter(|w| !w.is_empty()).collect();
            operation["operationId"] = format!("{method}_{}", words.join("_")).into();
        }
    }
}

/// OpenAPI links from each call that creates something to the calls that use its id, so a
/// client — and schemathesis's stateful phase — can follow them: a playlist made is then read,
/// changed, filled and deleted, a stream started is watched and stopped.
fn links(document: &mut serde_json::Value) {
    use serde_json::json;
    let id = "$response.body#/id";
    // (from path, method, status) → [(link name, to operationId, parameters, request body)]
    let table: &[(&str, &str, &str, &[(&str, &str, serde_json::Value, Option<serde_json::Value>)])] = &[
        ("/api/playlists", "post", "201", &[
            ("show", "get_api_playlists_id", json!({"id": id}), None),
            ("update", "put_api_playlists_id", json!({"id": id}), None),
            ("add_item", "post_api_playlists_id_items", json!({"id": id}), None),
            ("delete", "delete_api_playlists_id", json!({"id": id}), None),
        ]),
        ("/api/playlists/{id}/items", "post", "200", &[
            ("move_item", "post_api_playlists_id_items_item_id_move", json!({"id": id, "item_id": "$response.body#/items/0/id"}), None),
            ("remove_item", "delete_api_playlists_id_items_item_id", json!({"id": id, "item_id": "$response.body#/items/0/id"}), None),
        ]),
        ("/api/twitch/link", "post", "201", &[("unlink", "delete_api_twitch_link_id", json!({"id": id}), None)]),
        ("/api/schedules", "post", "201", &[
            ("update", "put_api_schedules_id", json!({"id": id}), None),
            ("pause", "post_api_schedules_id_pause", json!({"id": id}), None),
            ("resume", "post_api_schedules_id_resume", json!({"id": id}), None),
            ("delete", "delete_api_schedules_id", json!({"id": id}), None),
        ]),
        ("/api/videos/upload", "post", "201", &[("thumbnail", "get_api_videos_id_thumbnail", json!({"id": id}), None)]),
        ("/api/streams/start", "post", "202", &[
            ("events", "get_api_streams_id_events", json!({"id": "$response.body#/streams/0/stream_id"}), None),
            ("stop", "post_api_streams_stop", json!({}), Some(json!({"broadcast_id": "$response.body#/broadcast_id"}))),
        ]),
    ];
    for (path, method, status, targets) in table {
        let pointer = format!("/paths/{}/{method}/responses/{status}", path.replace('~', "~0").replace('/', "~1"));
        let Some(response) = document.pointer_mut(&pointer) else { continue };
        let mut map = serde_json::Map::new();
        for (name, operation, parameters, body) in targets.iter() {
            let mut link = json!({"operationId": operation, "parameters": parameters});
            if let Some(body) = body {
                link["requestBody"] = body.clone();
            }
            map.insert(name.to_string(), link);
        }
        response["links"] = serde_json::Value::Object(map);
    }
}

/// Adds `rule`'s keys to `schema`, recursing into objects both have (a property's own keywords).
fn merge(schema: &mut serde_json::Value, rule: serde_json::Value) {
    match (schema, rule) {
        (serde_json::Value::Object(into), serde_json::Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => merge(existing, value),
                    _ => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (schema, rule) => *schema = rule,
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Twitcher API", description = "`twitcher serve`: profiles, videos, Twitch accounts and broadcasts of one Twitcher data dir."),
    paths(
        routes::health,
        routes::auth::register,
        routes::auth::login,
        routes::auth::logout,
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
        routes::schedules::update,
        routes::schedules::pause,
        routes::schedules::resume,
        routes::schedules::delete,
        routes::streams::start,
        routes::streams::stop,
        routes::streams::retry,
        routes::streams::list,
        routes::streams::events,
        routes::nodes::list,
    ),
    modifiers(&Bearer, &CommonResponses)
)]
pub struct ApiDoc;

pub async fn document() -> axum::Json<serde_json::Value> {
    let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    cross_field_rules(&mut document);
    operation_ids(&mut document);
    links(&mut document);
    axum::Json(document)
}
