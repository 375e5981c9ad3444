use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;
use twitcher_core::{Error, Twitcher};

use crate::output::Output;

pub async fn run(app: &Twitcher, listen: SocketAddr, mut options: twitcher_server::ServerOptions, out: &Output) -> Result<(), Error> {
    if !listen.ip().is_loopback() {
        // The API speaks plain HTTP: tokens and stream keys would cross the network in clear.
        tracing::warn!(%listen, "the API is listening beyond this machine");
        eprintln!("warning: listening on {listen}, reachable from other machines. The API speaks plain HTTP: put a TLS proxy in front of it.");
    }
    // The data key first: a server with the wrong key (another fleet's key file, a restored
    // database without its key) refuses to start here, before it listens or writes anything.
    app.vault().await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| twitcher_core::config::ConfigError::Listen { address: listen.to_string(), reason: e.to_string() })?;
    let address = listener.local_addr().unwrap_or(listen);
    // An empty data dir's first profile becomes the ADMIN: the API takes it only from this
    // machine, or from whoever holds this token — printed here, for the operator's eyes only
    // (stderr, never the log).
    if !twitcher_core::profiles::any(app).await? {
        let token = twitcher_server::auth::new_bootstrap_token();
        eprintln!(
            "No profile yet. Create the first (ADMIN) profile on this machine (`twitcher profile create`, or POST /api/auth/register from here), \
             or from elsewhere with the header X-Bootstrap-Token: {token}"
        );
        options.bootstrap_token = Some(token);
    }
    out.print(&serde_json::json!({ "listening": address.to_string() }), || format!("Twitcher API on http://{address}/api (Ctrl-C stops)"));
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        super::stop_requested().await;
        on_signal.cancel();
    });
    twitcher_server::serve(app.clone(), listener, options, shutdown).await
}
