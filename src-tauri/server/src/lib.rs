//! # twitcher-server
//!
//! `twitcher serve`: the core (job worker, scheduler, streaming engine, Twitch validation) and an
//! HTTP API over it, for creators who stream from a server. Every request runs as the profile of
//! its session token and sees only that profile's rows: another profile's id answers 404, as an
//! unknown one does.
//!
//! | module | owns |
//! |---|---|
//! | [`auth`] | UUID login → JWT (HS256, key sealed by the vault), the session extractor, sign-in and registration limits, the client's address behind trusted proxies |
//! | [`limits`] | uploads and event streams a profile holds at once (and the storage uploads reserve) |
//! | [`routes`] | one file per resource: auth, videos, twitch, streams |
//! | [`extract`] | JSON, path and query extractors that fail with the API's error body |
//! | [`error`] | `{"error":{"code","message"}}` and the status of each core error code |
//! | [`openapi`] | the generated OpenAPI document |

pub mod auth;
pub mod error;
pub mod extract;
pub mod limits;
pub mod openapi;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;

use axum::routing::{delete, get, post, put};
use axum::Router;
use tokio_util::sync::CancellationToken;
use twitcher_core::error::ErrorCode;
use twitcher_core::Twitcher;

use auth::{Jwt, RateLimiter};
use error::ApiError;

/// What a deployment may tune; the defaults are what `twitcher serve` uses.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub token_ttl: Duration,
    /// Sign-in attempts per client (an IPv4 address or an IPv6 /64) per minute.
    pub login_attempts_per_minute: usize,
    /// Sign-in attempts of all clients together per minute (for load: a UUID that exists is
    /// never refused by it).
    pub login_attempts_all_per_minute: usize,
    /// Profiles one client may create per minute without an ADMIN's token, and all together.
    pub registrations_per_minute: usize,
    pub registrations_all_per_minute: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`serve --trust-proxy CIDR`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Who may create profiles (`serve --registration`).
    pub registration: twitcher_core::profiles::Registration,
    /// Ingest hosts allowed besides Twitch's (`serve --allow-ingest HOST[:PORT]`): a server
    /// connects nowhere else (see `twitcher_core::outbound`).
    pub allowed_ingests: Vec<(String, Option<u16>)>,
    /// Largest JSON body (uploads have the library's own limit).
    pub max_json_bytes: usize,
    /// This node's upload budget in Mb/s (`serve --upload-mbps`); none: not limited.
    pub upload_mbps: Option<f64>,
    /// Names this server answers to besides its own address, `localhost` and this machine's name
    /// (`serve --public-host`): a request for any other `Host` is refused, so a web page that
    /// rebinds its DNS name to this server cannot use it.
    pub public_hosts: Vec<String>,
    /// Open connections at once; more are closed as they arrive.
    pub max_connections: usize,
    /// A request's head must arrive within this (slow clients holding connections open).
    pub header_timeout: Duration,
    /// A request body that sends nothing for this long is ended (408).
    pub body_idle_timeout: Duration,
    /// Uploads a profile may send at once, and everybody together.
    pub uploads_per_profile: usize,
    pub uploads_all: usize,
    /// An upload slower than this on average (after its first 30 s) is ended, in bytes a second.
    pub upload_min_bytes_per_sec: u64,
    /// Server-sent-event streams a profile may hold open at once, and everybody together.
    pub event_streams_per_profile: usize,
    pub event_streams_all: usize,
    /// With no profile yet, the first (ADMIN) registration is taken only from this machine, or
    /// from a client that sends this token (`X-Bootstrap-Token`; `serve` prints it at start).
    pub bootstrap_token: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            token_ttl: Duration::from_secs(12 * 3600),
            login_attempts_per_minute: 10,
            login_attempts_all_per_minute: 600,
            registrations_per_minute: 3,
            registrations_all_per_minute: 60,
            trusted_proxies: Vec::new(),
            registration: Default::default(),
            allowed_ingests: Vec::new(),
            max_json_bytes: 64 * 1024,
            upload_mbps: None,
            public_hosts: Vec::new(),
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            uploads_per_profile: 2,
            uploads_all: 8,
            upload_min_bytes_per_sec: 16 * 1024,
            event_streams_per_profile: 16,
            event_streams_all: 512,
            bootstrap_token: None,
        }
    }
}

#[derive(Clone)]
pub struct ServerState {
    pub app: Twitcher,
    pub jwt: Arc<Jwt>,
    pub login_limiter: Arc<RateLimiter>,
    pub register_limiter: Arc<RateLimiter>,
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    pub registration: twitcher_core::profiles::Registration,
    pub uploads: Arc<limits::Slots>,
    pub event_streams: Arc<limits::Slots>,
    pub upload_min_bytes_per_sec: u64,
    pub body_idle_timeout: Duration,
    pub bootstrap_token: Option<Arc<str>>,
}

/// The API's routes. Needs `into_make_service_with_connect_info::<SocketAddr>()` (sign-in limits
/// are per client address).
pub async fn router(app: Twitcher, options: &ServerOptions) -> Result<Router, twitcher_core::Error> {
    let jwt = Arc::new(Jwt::load(&app, options.token_ttl).await?);
    let state = ServerState {
        app,
        jwt,
        login_limiter: Arc::new(RateLimiter::new(options.login_attempts_per_minute, options.login_attempts_all_per_minute)),
        register_limiter: Arc::new(RateLimiter::new(options.registrations_per_minute, options.registrations_all_per_minute)),
        trusted_proxies: options.trusted_proxies.clone().into(),
        registration: options.registration,
        uploads: limits::Slots::new("uploads", options.uploads_per_profile, options.uploads_all),
        event_streams: limits::Slots::new("event streams", options.event_streams_per_profile, options.event_streams_all),
        upload_min_bytes_per_sec: options.upload_min_bytes_per_sec,
        body_idle_timeout: options.body_idle_timeout,
        bootstrap_token: options.bootstrap_token.as_deref().map(Arc::from),
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
        .route("/api/auth/logout", post(routes::auth::logout))
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
        .route("/api/schedules/{id}", put(routes::schedules::update).delete(routes::schedules::delete))
        .route("/api/schedules/{id}/pause", post(routes::schedules::pause))
        .route("/api/schedules/{id}/resume", post(routes::schedules::resume))
        .route("/api/streams/start", post(routes::streams::start))
        .route("/api/streams/stop", post(routes::streams::stop))
        .route("/api/streams/{id}/retry", post(routes::streams::retry))
        .route("/api/streams", get(routes::streams::list))
        .route("/api/streams/{id}/events", get(routes::streams::events))
        .route("/api/nodes", get(routes::nodes::list))
        .layer(DefaultBodyLimit::max(options.max_json_bytes))
        // A body that stops arriving ends the request (408) instead of holding it forever
        // (uploads keep their own pace: see routes::videos::upload).
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(options.body_idle_timeout));
    let hosts = Arc::new(HostAllowlist::new(&options.public_hosts));
    let routes = api
        .merge(upload)
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint (see /api/openapi.json)") })
        .method_not_allowed_fallback(|| async { ApiError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method") })
        .with_state(state)
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let hosts = hosts.clone();
            async move { hosts.check(request, next).await }
        }))
        // Every answer is what its Content-Type says: a browser never guesses another type.
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            axum::http::HeaderValue::from_static("nosniff"),
        ));
    Ok(answer_panics(routes))
}

/// The names a request's `Host` may carry: loopback names and addresses, this machine's name
/// and the operator's `--public-host` names. A browser always sends the name it looked up, so a
/// page on another site whose name now resolves to this server (DNS rebinding) is refused.
struct HostAllowlist {
    names: Vec<String>,
}

impl HostAllowlist {
    fn new(public_hosts: &[String]) -> Self {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].iter().map(|s| s.to_string()).collect();
        names.push(hostname().to_ascii_lowercase());
        names.extend(public_hosts.iter().map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase()));
        Self { names }
    }

    /// Whether `host` (a `Host` header: a name or address, maybe with a port) is allowed.
    fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        // `[v6]:port`, `name:port`, or a bare name or address.
        let name = match host.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map(|(ip, _)| format!("[{ip}]")).unwrap_or(host.clone()),
            None => host.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map(|(n, _)| n.to_string()).unwrap_or(host.clone()),
        };
        let name = name.trim_end_matches('.');
        // Any address literal is fine: a rebinding page can only send a name.
        if name.parse::<std::net::IpAddr>().is_ok() || (name.starts_with('[') && name.ends_with(']')) {
            return true;
        }
        name.ends_with(".localhost") || self.names.iter().any(|n| n == name)
    }

    async fn check(&self, request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
        use axum::response::IntoResponse;
        let host = request.headers().get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string)
            .or_else(|| request.uri().authority().map(|a| a.to_string()));
        match host {
            Some(host) if !self.allows(&host) => ApiError::new(
                ErrorCode::WrongHost,
                "this server does not answer to that host name: its operator lists the names it answers to with `twitcher serve --public-host NAME`",
            )
            .into_response(),
            _ => next.run(request).await,
        }
    }
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
        tracing::info!(?title, ?body, "alert");
    });
    tracing::info!(?address, "API listening");
    connections(listener, router, &options, shutdown).await;
    runtime.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

/// Accepts connections until `shutdown` and serves each with hyper, under the limits a server
/// on the open internet needs (axum's own `serve` sets none): at most `max_connections` open, a
/// request head within `header_timeout`. Then lets open requests finish, for up to 5 s.
async fn connections(listener: tokio::net::TcpListener, router: Router, options: &ServerOptions, shutdown: CancellationToken) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(options.header_timeout);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(Duration::from_secs(20)));
    let open = Arc::new(tokio::sync::Semaphore::new(options.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    // Out of file descriptors, most often: wait instead of spinning.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(limit = options.max_connections, "connection refused: the server holds its limit of open connections");
            drop(stream);
            continue;
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(remote));
            tower::ServiceExt::oneshot(router.clone(), request.map(axum::body::Body::new))
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::info!("connections still open after 5 s (event streams) were closed");
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
