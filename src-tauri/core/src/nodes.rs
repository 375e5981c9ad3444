//! The nodes of a fleet: every `twitcher serve` on a database records itself (its id is the
//! process's instance id, the one its leases carry), renews a heartbeat every 2 s and leaves when
//! it shuts down, so an ADMIN can see which servers run and what each carries (`GET /api/nodes`,
//! `twitcher node list`). A node silent for 10 s has lost its leases ([`crate::lease`]).

use std::time::Duration;


use tokio_util::sync::CancellationToken;

use crate::db::DbError;
use crate::profiles::{Profile, ProfileError, Role};
pub use crate::model::Node;
use crate::Twitcher;

/// How often a node says it is alive (the leases' renewal period).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// A heartbeat older than this: the node is gone (the leases' expiry).
pub const SILENT_AFTER_SECS: f64 = 10.0;
/// Rows of nodes silent this long are removed by the others.
const FORGET_AFTER_SECS: f64 = 24.0 * 3600.0;

/// What a node tells the others about itself.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Where its API is reached (`host:port`).
    pub address: String,
    /// Its upload budget (`serve --upload-mbps`); none: not limited.
    pub upload_mbps: Option<f64>,
}

/// Every node, for an ADMIN.
pub async fn list(app: &Twitcher, actor: &Profile) -> Result<Vec<Node>, ProfileError> {
    if actor.role != Role::Admin {
        return Err(ProfileError::NotAdmin { role: actor.role });
    }
    let mut nodes = app.db.nodes().await?;
    for node in &mut nodes {
        node.alive = node.heartbeat_age_sec < SILENT_AFTER_SECS;
    }
    Ok(nodes)
}

/// Records this process as a node, then renews its heartbeat until `shutdown`, when it leaves.
/// Errors are logged and retried: a node that cannot reach the database for a while loses its
/// leases like a dead one, and records itself again when it can.
pub async fn run(app: Twitcher, info: NodeInfo, shutdown: CancellationToken, beat: crate::tasks::Beat) {
    let id = app.instance_id().to_string();
    let mut recorded = false;
    let mut ticks = 0u64;
    loop {
        let result: Result<(), DbError> = async {
            if !recorded || !app.db.node_heartbeat(&id).await? {
                app.db.upsert_node(&id, &info.address, info.upload_mbps).await?;
                if !recorded {
                    tracing::info!(node = %id, address = %info.address, "this server is a node of the database");
                }
                recorded = true;
            }
            if ticks % 1800 == 0 {
                app.db.forget_silent_nodes(FORGET_AFTER_SECS).await?;
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                beat.ok();
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not renew this node's heartbeat");
                beat.failed(&e);
            }
        }
        ticks += 1;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
        }
    }
    if let Err(e) = app.db.delete_node(&id).await {
        tracing::warn!(error = %e, "could not remove this node's row; the others forget it once it is silent");
    }
}
