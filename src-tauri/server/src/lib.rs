//! # twitcher-server
//!
//! `twitcher serve`: the core (job worker, scheduler, streaming engine, Twitch validation) and an
//! HTTP API over it, for creators who stream from a server. Every request runs as the profile of
//! its session token and sees only that profile's rows: another profile's id answers 404, as an
//! unknown one does.
//!
//! | module | owns |
//! |---|---|
//! | [`auth`] | UUID login → JWT (HS256, key sealed by the vault), the session extractor, per-address sign-in limit |
//! | [`routes`] | one file per resource: auth, videos, twitch, streams |
//! | [`extract`] | JSON, path and query extractors that fail with the API's error body |
//! | [`error`] | `{"error":{"code","message"}}` and the status of each core error code |
//! | [`openapi`] | the generated OpenAPI document |

pub mod auth;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;

use axum::routing::{delete, get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;
use twitcher_core::error::ErrorCode;
use twitcher_core::Twitcher;

use auth::{Jwt, LoginLimiter};
use error::ApiError;

/// What a deployment may tune; the defaults are what `twitcher serve` uses.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub token_ttl: Duration,
    /// Sign-in attempts per client address per minute.
    pub login_attempts_per_minute: usize,
    /// Sign-in attempts of all clients together per minute (a last resort).
    pub login_attempts_all_per_minute: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`serve --trust-proxy`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Who may create profiles (`serve --registration`).
    pub registration: twitcher_core::profiles::Registration,
    /// Ingest hosts allowed besides Twitch's (`serve --allow-ingest HOST[:PORT]`): a server
    /// connects nowhere else (see `twitcher_core::outbound`).
    pub allowed_ingests: Vec<(String, Option<u16>)>,
    /// Largest JSON body (uploads have the library's own limit).
    pub max_json_bytes: usize,
    /// This node's upload budget in Mb/s (`serve --upload-mbps`); none: not limited.
    pub upload_mbps: Option<f64>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            token_ttl: Duration::from_secs(12 * 3600),
            login_attempts_per_minute: 10,
            login_attempts_all_per_minute: 600,
            trusted_proxies: Vec::new(),
            registration: Default::default(),
            allowed_ingests: Vec::new(),
            max_json_bytes: 64 * 1024,
            upload_mbps: None,
        }
    }
}

#[derive(Clone)]
pub struct ServerState {
    pub app: Twitcher,
    pub jwt: Arc<Jwt>,
    pub login_limiter: Arc<LoginLimiter>,
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    pub registration: twitcher_core::profiles::Registration,
}

/// The API's routes. Needs `into_make_service_with_connect_info::<SocketAddr>()` (sign-in limits
/// are per client address).
pub async fn router(app: Twitcher, options: &ServerOptions) -> Result<Router, twitcher_core::Error> {
    let jwt = Arc::new(Jwt::load(&app, options.token_ttl).await?);
    let state = ServerState {
        app,
        jwt,
        login_limiter: Arc::new(LoginLimiter::new(options.login_attempts_per_minute, options.login_attempts_all_per_minute)),
        trusted_proxies: options.trusted_proxies.clone().into(),
        registration: options.registration,
    };
    let upload = Router::new()
        .route("/api/videos/upload", post(routes::videos::upload))
        // The upload handler streams to disk and enforces the library's size limit itself.
        .layer(DefaultBodyLimit::disable());
    let api = Router::new()
        .route("/api/health", get(routes::health))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/auth/register", post(routes::auth::register))
        .route("/api/auth/login", post(routes::auth::login))
        .route("/api/videos", get(routes::videos::list))
        .route("/api/videos/{id}/thumbnail", get(routes::videos::thumbnail))
        .route("/api/twitch/link", get(routes::twitch::list).post(routes::twitch::link))
        .route("/api/twitch/link/{id}", delete(routes::twitch::unlink))
        .route("/api/twitch/stats", get(routes::twitch::stats))
        .route("/api/playlists", get(routes::playlists::list).post(routes::playlists::create))
        .route("/api/playlists/{id}", get(routes::playlists::show).put(routes::playlists::update).delete(routes::playlists::delete))
        .route("/api/playlists/{id}/items", post(routes::playlists::add))
        .route("/api/playlists/{id}/items/{item_id}", delete(routes::playlists::remove_item))
        .route("/api/playlists/{id}/items/{item_id}/move", post(routes::playlists::move_item))
        .route("/api/schedules", get(routes::schedules::list).post(routes::schedules::create))
        .route("/api/schedules/{id}", delete(routes::schedules::delete))
        .route("/api/streams/start", post(routes::streams::start))
        .route("/api/streams/stop", post(routes::streams::stop))
        .route("/api/streams", get(routes::streams::list))
        .route("/api/streams/{id}/events", get(routes::streams::events))
        .route("/api/nodes", get(routes::nodes::list))
        .layer(DefaultBodyLimit::max(options.max_json_bytes));
    let routes = api
        .merge(upload)
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint (see /api/openapi.json)") })
        .method_not_allowed_fallback(|| async { ApiError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method") })
        .with_state(state);
    Ok(answer_panics(routes))
}

/// Every request gets an answer: a handler that panics answers 500 with a request id (the
/// panic hook has logged the panic, redacted, with where it happened; this logs which request)
/// instead of the connection closing with nothing. Outermost, so it covers every route.
pub fn answer_panics(routes: Router) -> Router {
    use axum::response::IntoResponse;
    routes.layer(tower_http::catch_panic::CatchPanicLayer::custom(|panic: Box<dyn std::any::Any + Send>| {
        let what = twitcher_core::tasks::panic_text(panic);
        tracing::error!(error = %what, "a request handler panicked");
        ApiError::new(ErrorCode::Internal, what).into_response()
    }))
}


/// Serves the API on `listener` until `shutdown`, then ends every broadcast gracefully.
pub async fn serve(app: Twitcher, listener: tokio::net::TcpListener, options: ServerOptions, shutdown: CancellationToken) -> Result<(), twitcher_core::Error> {
    // Reachable by others: it connects only to Twitch's ingests and the operator's hosts, from
    // the first request on (and for broadcasts the scheduler starts).
    app.restrict_outbound(twitcher_core::outbound::OutboundPolicy { restricted: true, allowed: options.allowed_ingests.clone() });
    let router = router(app.clone(), &options).await?;
    // On a server, alerts go to the log (and to the webhook, when one is set).
    let address = listener.local_addr().ok();
    // Where the other nodes and an operator reach this one: the bound address, or this host's
    // name when bound to every interface.
    let advertised = match address {
        Some(a) if a.ip().is_unspecified() => format!("{}:{}", hostname(), a.port()),
        Some(a) => a.to_string(),
        None => hostname(),
    };
    let node = twitcher_core::nodes::NodeInfo { address: advertised, upload_mbps: options.upload_mbps };
    let runtime = twitcher_core::runtime::Runtime::start_node(&app, node, |alert| {
        let (title, body) = alert.text();
        tracing::info!(%title, %body, "alert");
    });
    tracing::info!(?address, "API listening");
    let stopping = shutdown.clone();
    let served = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { stopping.cancelled().await })
        .await;
    runtime.shutdown(Duration::from_secs(5)).await;
    if let Err(e) = served {
        tracing::error!(error = %e, "the API stopped");
    }
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
