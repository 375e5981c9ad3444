//! The alert webhook follows the outbound rule of `serve`: a server posts alerts only to public
//! addresses or hosts its operator allows — by address in the URL or by a name that resolves to
//! a private one — while the desktop posts wherever its user points it.

mod support;

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use twitcher_core::events::Event;
use twitcher_core::outbound::OutboundPolicy;
use twitcher_core::vault::KeyringPreference;
use twitcher_core::{alerts, Twitcher};

/// Points the data dir's webhook at a local receiver (`host` in the URL: an address or a name),
/// runs the alerts with `policy`, emits one alert and returns how many posts arrived.
async fn posts_arriving(policy: OutboundPolicy, host: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let app: Twitcher = support::open(dir.path(), KeyringPreference::File).await;
    app.restrict_outbound(policy);
    let (hook, posted) = support::webhook_receiver().await;
    alerts_to(&app, &hook.replace("127.0.0.1", host)).await;
    let count = posted.lock().unwrap().len();
    count
}

/// Runs the alerts with the webhook at `hook`, emits one alert and gives it time to be posted.
async fn alerts_to(app: &Twitcher, hook: &str) {
    let admin = support::first_profile(app).await;
    alerts::set_webhook_url(app, &admin, hook).await.unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(alerts::run(app.clone(), stop.clone(), |_| {}));
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.events.emit(Event::ScheduledStarted { broadcast_id: "b1".into(), title: "Night".into(), destinations: 2 });
    // A post that goes arrives well within this; one refused never does.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_server_posts_alerts_only_where_its_outbound_rule_allows() {
    let restricted = OutboundPolicy { restricted: true, allowed: vec![] };
    assert_eq!(posts_arriving(restricted.clone(), "127.0.0.1").await, 0, "a loopback address in the URL is refused");
    assert_eq!(posts_arriving(restricted, "localhost").await, 0, "so is a name that resolves to loopback");

    let operator = |host: &str| OutboundPolicy { restricted: true, allowed: vec![(host.to_string(), None)] };
    assert_eq!(posts_arriving(operator("127.0.0.1"), "127.0.0.1").await, 1, "the operator's own host is allowed");
    assert_eq!(posts_arriving(operator("localhost"), "localhost").await, 1);

    assert_eq!(posts_arriving(OutboundPolicy::default(), "127.0.0.1").await, 1, "the desktop posts where its user says");
}

/// A one-request server that answers any request with a 307 to `location` (a POST stays a POST).
async fn redirecting_to(location: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let answer = format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    format!("http://localhost:{}/hook", address.port())
}

#[tokio::test]
async fn an_allowed_webhook_host_cannot_redirect_a_servers_post_inside_its_network() {
    let dir = tempfile::tempdir().unwrap();
    let app: Twitcher = support::open(dir.path(), KeyringPreference::File).await;
    // The operator allows `localhost` by name; the receiver inside is at 127.0.0.1, which it does not.
    app.restrict_outbound(OutboundPolicy { restricted: true, allowed: vec![("localhost".into(), None)] });
    let (inside, posted) = support::webhook_receiver().await;
    alerts_to(&app, &redirecting_to(inside).await).await;
    assert_eq!(posted.lock().unwrap().len(), 0, "the redirect to a forbidden address was followed");
}
