//! A fleet: several `twitcher serve` nodes on one database share the destinations of every
//! broadcast (DESIGN.md §4). PostgreSQL is the coordination engine; there is no protocol between
//! the nodes.
//!
//! - A broadcast started on a node (through any node's API, or its schedule coming due) records
//!   its rows without an owner: `pending` ([`super::StreamState::Pending`]).
//! - Every node runs [`run`]: every half second it claims waiting destinations — its fair share of all
//!   of them, within its upload budget (`serve --upload-mbps`), see
//!   [`crate::db::Db::claim_destinations`] — and publishes them as one part of the broadcast, its
//!   source joining the broadcast's playout where it is now (the origin is on the rows).
//! - A node whose heartbeat stops loses its leases after 10 s ([`crate::lease`]); the first node
//!   to see it releases its destinations and the nodes claim them like new ones: their source
//!   starts at the keyframe before the playout's position, so the timestamps keep increasing and
//!   Twitch's disconnect protection keeps the broadcast (and its VOD) going.
//! - A node shutting down hands its destinations over the same way ([`hand_over`]) when another
//!   node is alive to take them.
//! - A destination no node has room for waits, with the reason on its row, until one has.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::supervisor::{launch, validate, BroadcastHandle, Part};
use super::{BroadcastError, Origin, StreamState};
use crate::lease;
use crate::db::fleet::Capacity;
use crate::profiles::Profile;
use crate::Twitcher;

/// How often a node looks for destinations to claim and for silent nodes: with the 10 s lease,
/// a dead node's destinations publish again within about 11 s.
pub const CLAIM_EVERY: Duration = Duration::from_millis(500);
/// How long a destination waits for a less loaded node before any node with room takes it.
const SPREAD_FOR_SECS: f64 = 1.0;

/// Claims and publishes destinations for this node until `shutdown`. `upload_mbps`: its budget.
pub async fn run(app: Twitcher, upload_mbps: Option<f64>, shutdown: CancellationToken, beat: crate::tasks::Beat) {
    let capacity = Capacity {
        budget_kbps: upload_mbps.map(|mbps| (mbps * 1000.0) as i64),
        spread_for_secs: SPREAD_FOR_SECS,
        alive_secs: crate::nodes::SILENT_AFTER_SECS,
    };
    loop {
        match tick(&app, &capacity).await {
            Ok(()) => {
                beat.ok();
            }
            Err(e) => {
                tracing::warn!(error = %e, "fleet: could not claim destinations");
                beat.failed(&e);
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = app.registry.fleet_wake.notified() => {}
            _ = tokio::time::sleep(CLAIM_EVERY) => {}
        }
    }
}

/// One round: release what silent nodes held, end what was stopped while waiting, claim and
/// publish.
async fn tick(app: &Twitcher, capacity: &Capacity) -> Result<(), BroadcastError> {
    release_silent(app).await?;
    app.db.end_waiting_stopped().await?;
    let over_budget = |kbps: i64| {
        format!(
            "waiting for upload capacity: the nodes' upload budgets are in use (this destination needs {:.1} Mb/s): start another node, raise `serve --upload-mbps` or stop a stream",
            kbps as f64 / 1000.0
        )
    };
    let claimed = app.db.claim_destinations(app.instance_id(), capacity, over_budget).await?;
    let mut parts: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (id, broadcast_id) in claimed {
        parts.entry(broadcast_id).or_default().push(id);
    }
    // Each part starts on its own: one waiting for a file from S3 or for Twitch does not hold up
    // the next round (nor the takeover of a silent node's destinations).
    lease::keep(app);
    for (broadcast_id, ids) in parts {
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = publish_part(&app, &broadcast_id, &ids).await {
                tracing::warn!(broadcast = %broadcast_id, error = %e, "fleet: a claimed part could not start");
            }
        });
    }
    Ok(())
}

/// Releases, for the live nodes to take over, the destinations of nodes that stopped answering
/// (their leases expired) while another node is alive. Run by every node's claim loop and first
/// thing in [`super::recover`], so the after-crash policy never closes what a fleet can carry on.
pub(super) async fn release_silent(app: &Twitcher) -> Result<usize, BroadcastError> {
    let released = app.db.release_from_silent_nodes(lease::expires_after(app).as_secs_f64(), "waiting for a node: the node publishing it stopped answering").await?;
    for id in &released {
        let _ = app.db.add_stream_event(*id, "warn", "its node stopped answering for 10 s: another node takes it over").await;
    }
    if !released.is_empty() {
        tracing::warn!(destinations = released.len(), "fleet: a node stopped answering; its destinations are taken over");
        app.registry.fleet_wake.notify_one();
    }
    Ok(released.len())
}

/// Starts a failed destination of a broadcast still on air again (the window's Retry): its row
/// goes back to the queue, and this process publishes it as a part of its own that joins the
/// broadcast's playout where it is now — the other destinations are not touched. On a node of a
/// fleet the nodes claim it like any waiting destination.
pub async fn retry(app: &Twitcher, actor: &Profile, stream_id: i64) -> Result<(), BroadcastError> {
    let row = super::listing::stream(app, actor, stream_id).await?;
    let here = (!app.is_node()).then(|| app.instance_id());
    if row.status != StreamState::Failed || !app.db.requeue_failed(stream_id, actor.id, here).await? {
        return Err(BroadcastError::NotRetryable { id: stream_id });
    }
    let _ = app.db.add_stream_event(stream_id, "info", "retried by hand").await;
    tracing::info!(stream_id, broadcast = %row.broadcast_id, "a failed destination is retried");
    if app.is_node() {
        app.registry.fleet_wake.notify_one();
        return Ok(());
    }
    lease::keep(app);
    publish_part(app, &row.broadcast_id, &[stream_id]).await
}

/// Publishes destinations this node claimed (or a retry put back): a part of their broadcast with
/// its own source.
async fn publish_part(app: &Twitcher, broadcast_id: &str, ids: &[i64]) -> Result<(), BroadcastError> {
    let rows = app.db.claimed_rows(ids, app.instance_id()).await?;
    if rows.is_empty() {
        return Ok(());
    }
    // Destinations that were on air continue after the newest timestamp their node sent.
    let takeover = rows.iter().any(|(_, on_air, _)| *on_air);
    let sent_ms = rows.iter().filter_map(|(_, _, sent)| *sent).max().map(|ms| ms as u64);
    let origin = if takeover { Origin::TakenOver { sent_ms } } else { Origin::Fresh };
    let rows: Vec<_> = rows.into_iter().map(|(row, _, _)| row).collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let actor = app.db.user_by_id(rows[0].creator_id).await?.ok_or(BroadcastError::NoBroadcast { id: broadcast_id.to_string() })?;
    let request = super::schedule::request_of(&rows)?;
    let (program, accounts) = match validate(app, &actor, &request).await {
        Ok(checked) => checked,
        Err(e) => {
            for id in &ids {
                let _ = app.db.set_stream_state(*id, StreamState::Failed, Some(&e.to_string()), app.instance_id()).await;
                let _ = app.db.add_stream_event(*id, "error", &e.to_string()).await;
            }
            return Err(e);
        }
    };
    if app.is_node() {
        let what = if takeover { "taken over by node" } else { "published by node" };
        for id in &ids {
            let _ = app.db.add_stream_event(*id, "info", &format!("{what} {}", app.instance_id())).await;
        }
    }
    tracing::info!(broadcast = %broadcast_id, destinations = ids.len(), takeover, "fleet: publishing a part of a broadcast");
    let handle = launch(app, Part { actor, request, broadcast_id: broadcast_id.to_string(), stream_ids: ids, program, accounts, origin }).await?;
    handle.detach(app);
    Ok(())
}

/// A handle on a broadcast whose destinations the nodes publish: stopping it orders a stop on its
/// rows (carried out by whichever node holds each); waiting ends when every row is final.
pub(super) fn handle(app: &Twitcher, actor: &Profile, broadcast_id: String, destinations: Vec<(i64, i64)>) -> BroadcastHandle {
    app.registry.fleet_wake.notify_one();
    let all = CancellationToken::new();
    let each: std::collections::HashMap<i64, CancellationToken> = destinations.iter().map(|(id, _)| (*id, all.child_token())).collect();
    let (app, creator, id, stop_all) = (app.clone(), actor.id, broadcast_id.clone(), all.clone());
    let tokens = each.clone();
    let done = tokio::spawn(async move {
        let (mut ordered, mut all_ordered) = (std::collections::HashSet::new(), false);
        loop {
            if stop_all.is_cancelled() && !all_ordered {
                all_ordered = true;
                let _ = app.db.order_stop(Some(creator), None, Some(&id), None).await;
                let _ = app.db.end_waiting_stopped().await;
            }
            for (stream_id, token) in &tokens {
                if token.is_cancelled() && !all_ordered && ordered.insert(*stream_id) {
                    let _ = app.db.order_stop(Some(creator), Some(*stream_id), None, None).await;
                    let _ = app.db.end_waiting_stopped().await;
                }
            }
            match app.db.broadcast_states(&id).await {
                Ok(states) if states.iter().all(|(_, s)| s.is_final()) => return states.into_iter().collect(),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "fleet: could not read a broadcast's rows"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    BroadcastHandle { broadcast_id, destinations, all, each, done }
}

/// Hands this node's destinations to the other nodes (a graceful shutdown): released, they are
/// claimed by the others within a second while the parts here see they lost them and end their
/// publishes. Returns how many were handed over; 0 when no other node is alive to take them.
pub async fn hand_over(app: &Twitcher) -> Result<usize, BroadcastError> {
    if !app.db.other_node_alive(app.instance_id(), crate::nodes::SILENT_AFTER_SECS).await? {
        return Ok(0);
    }
    let released = app.db.release_own(app.instance_id(), "waiting for a node: the node publishing it shut down").await?;
    for id in &released {
        let _ = app.db.add_stream_event(*id, "info", "its node shut down: handed over to another node").await;
    }
    if !released.is_empty() {
        tracing::info!(destinations = released.len(), "fleet: handed this node's destinations over");
    }
    Ok(released.len())
}
