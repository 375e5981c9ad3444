//! Orders any process may give about streams it may not be running (DESIGN.md §4, §9).
//!
//! A stop is written on the stream rows, scoped to the profile in SQL, by whichever process is
//! asked (the window, `serve`, a `twitcher stream stop`). The process that runs the broadcast
//! reads its orders on every supervisor tick (once a second) and stops those destinations
//! gracefully; so stopping works across processes and needs no channel between them. When the
//! broadcast runs here, the order is also carried out at once, without waiting for the tick.

use super::BroadcastError;
use crate::profiles::Profile;
use crate::Twitcher;

/// Cancels one of the profile's scheduled broadcasts; returns how many destinations it had. One
/// that is not scheduled (any more) is `NoBroadcast`.
pub async fn cancel(app: &Twitcher, actor: &Profile, broadcast_id: &str) -> Result<u64, BroadcastError> {
    // An ADMIN cancels anyone's, as it stops anyone's (see [`stop`]).
    let creator = (actor.role != crate::profiles::Role::Admin).then_some(actor.id);
    match app.db.cancel_scheduled(creator, broadcast_id).await? {
        0 => Err(BroadcastError::NoBroadcast { id: broadcast_id.to_string() }),
        n => {
            app.events.emit(crate::events::Event::ScheduleChanged { broadcast_id: broadcast_id.to_string() });
            Ok(n)
        }
    }
}

/// What to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopTarget {
    /// One destination, by its stream id.
    Stream(i64),
    /// A broadcast: every destination, or only the one going to `account_id`.
    Broadcast { broadcast_id: String, account_id: Option<i64> },
    /// Every running broadcast of the profile.
    All,
}

/// Orders `target`'s running destinations to stop; returns how many were ordered. A stream or
/// broadcast the profile does not have is `NoStream` / `NoBroadcast`; one that has already ended
/// gives 0.
pub async fn stop(app: &Twitcher, actor: &Profile, target: StopTarget) -> Result<usize, BroadcastError> {
    // An ADMIN stops anyone's stream or broadcast by its id (what an operator does about a
    // channel that must go off the air); "all" is still the ADMIN's own.
    let creator = match (&target, actor.role) {
        (StopTarget::Stream(_) | StopTarget::Broadcast { .. }, crate::profiles::Role::Admin) => None,
        _ => Some(actor.id),
    };
    match &target {
        StopTarget::Stream(id) if !app.db.has_stream(creator, *id).await? => return Err(BroadcastError::NoStream { id: *id }),
        StopTarget::Broadcast { broadcast_id, .. } if !app.db.has_broadcast(creator, broadcast_id).await? => {
            return Err(BroadcastError::NoBroadcast { id: broadcast_id.clone() })
        }
        _ => {}
    }
    let (stream, broadcast, account) = match &target {
        StopTarget::Stream(id) => (Some(*id), None, None),
        StopTarget::Broadcast { broadcast_id, account_id } => (None, Some(broadcast_id.as_str()), *account_id),
        StopTarget::All => (None, None, None),
    };
    let ordered = app.db.order_stop(creator, stream, broadcast, account).await?;
    // Destinations waiting for a node of a fleet have nobody to carry the order out: they end now.
    app.db.end_waiting_stopped().await?;
    for id in &ordered {
        app.registry.broadcasts.stop_stream(*id);
    }
    tracing::info!(streams = ordered.len(), by = actor.id, "stop ordered");
    Ok(ordered.len())
}

/// Orders a stop on what this process runs — one broadcast or, with `None`, every one — whichever
/// profile started it: the window's tray and its "Stop all" speak for the machine, not a profile.
/// The order is written on the rows like any other, so every process sees why they ended.
pub async fn stop_here(app: &Twitcher, broadcast_id: Option<&str>) -> Result<usize, BroadcastError> {
    let ordered = app.db.order_stop_owned(app.instance_id(), broadcast_id).await?;
    match broadcast_id {
        Some(id) => {
            app.registry.broadcasts.stop_broadcast(id);
        }
        None => {
            app.registry.broadcasts.stop_all();
        }
    }
    tracing::info!(streams = ordered.len(), "stop ordered here");
    Ok(ordered.len())
}
