//! The nodes of a database: each `serve` records itself with a heartbeat, an ADMIN sees them with
//! what they carry, a node that shuts down leaves and a silent one shows as such.

mod support;

use std::time::{Duration, Instant};

use support::Bind;
use tokio_util::sync::CancellationToken;
use twitcher_core::nodes::{self, Node, NodeInfo};
use twitcher_core::profiles::{self, ProfileError};
use twitcher_core::vault::KeyringPreference;

async fn wait_for_nodes(app: &twitcher_core::Twitcher, admin: &profiles::Profile, count: usize) -> Vec<Node> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let nodes = nodes::list(app, admin).await.unwrap();
        if nodes.len() == count {
            return nodes;
        }
        assert!(Instant::now() < deadline, "expected {count} nodes: {nodes:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_server_is_a_node_with_a_heartbeat_that_an_admin_sees_until_it_leaves() {
    let dir = tempfile::tempdir().unwrap();
    // Two processes on one database (on PostgreSQL, two machines).
    let a = support::open(dir.path(), KeyringPreference::File).await;
    let b = support::open(dir.path(), KeyringPreference::File).await;
    let admin = profiles::register(&a, Some("Admin")).await.unwrap().profile;
    let user = profiles::register(&a, Some("User")).await.unwrap().profile;

    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let node_a = tokio::spawn(nodes::run(a.clone(), NodeInfo { address: "10.0.0.1:8787".into(), upload_mbps: Some(100.0) }, stop_a.clone(), a.tasks().beat("node heartbeat", nodes::HEARTBEAT_EVERY)));
    let node_b = tokio::spawn(nodes::run(b.clone(), NodeInfo { address: "10.0.0.2:8787".into(), upload_mbps: None }, stop_b.clone(), b.tasks().beat("node heartbeat", nodes::HEARTBEAT_EVERY)));
    let listed = wait_for_nodes(&b, &admin, 2).await;
    let by_address = |nodes: &[Node], address: &str| nodes.iter().find(|n| n.address == address).cloned().unwrap();
    let first = by_address(&listed, "10.0.0.1:8787");
    assert_eq!((first.id.as_str(), first.upload_mbps, first.destinations, first.alive), (a.instance_id(), Some(100.0), 0, true), "{first:?}");
    assert_eq!(by_address(&listed, "10.0.0.2:8787").upload_mbps, None);
    assert!(matches!(nodes::list(&a, &user).await, Err(ProfileError::NotAdmin { .. })), "an ADMIN's view only");

    // The heartbeat is renewed: 3 s on, it is still under a heartbeat period old.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = by_address(&nodes::list(&a, &admin).await.unwrap(), "10.0.0.1:8787");
    assert!(later.heartbeat_age_sec < nodes::HEARTBEAT_EVERY.as_secs_f64() + 1.0, "{later:?}");

    // What a node carries: the destinations whose lease it holds.
    support::execute(
        &a,
        "INSERT INTO streams (creator_id, broadcast_id, status, owner_instance, heartbeat_at) VALUES ($1, 'b1', 'live', $2, @now)",
        &[Bind::Int(admin.id), Bind::Text(a.instance_id())],
    )
    .await;
    assert_eq!(by_address(&nodes::list(&a, &admin).await.unwrap(), "10.0.0.1:8787").destinations, 1);
    // …and each stream row names the node publishing it.
    let rows = twitcher_core::broadcast::list(&b, &admin, None, 0).await.unwrap();
    assert_eq!(rows[0].node.as_deref(), Some(a.instance_id()), "{rows:?}");

    // A node shutting down leaves.
    stop_b.cancel();
    node_b.await.unwrap();
    let left = wait_for_nodes(&a, &admin, 1).await;
    assert_eq!(left[0].address, "10.0.0.1:8787");

    // A node that stops without leaving (killed) shows as silent once its heartbeat is 10 s old.
    node_a.abort();
    let _ = node_a.await;
    support::execute(&a, "UPDATE nodes SET heartbeat_at = @now-$1", &[Bind::Real(11.0)]).await;
    let silent = nodes::list(&a, &admin).await.unwrap();
    assert_eq!(silent.len(), 1);
    assert!(!silent[0].alive && silent[0].heartbeat_age_sec > 10.5, "{:?}", silent[0]);
    stop_a.cancel();
}
