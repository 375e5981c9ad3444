//! Scheduled broadcasts: rows in the database (status `scheduled`, `scheduled_at` and everything
//! needed to start them), so a schedule survives restarts; whichever Twitcher runs the scheduler
//! then starts them.
//!
//! Several processes may find the same broadcast due at once (the window's scheduler, `serve`'s,
//! a `twitcher stream start --at` waiting for it): starting begins with a claim that moves the rows
//! from `scheduled` to `queued` in one statement, so exactly one of them goes live and the others
//! learn that it was [`BroadcastError::AlreadyStarted`].

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::supervisor::{insert_rows, launch, validate, BroadcastHandle, Occurrence, Part};
use super::{BroadcastError, Origin, Quality, StartRequest, StreamState};
use crate::db::broadcast::ScheduledRow;
use crate::profiles::Profile;
use crate::Twitcher;

/// A start time this close behind the clock still means "now" (a time typed a moment ago).
const PAST_GRACE: time::Duration = time::Duration::minutes(1);
/// How far ahead a broadcast may be scheduled: a stored time stays a date every clock can add to.
const FURTHEST_AHEAD: time::Duration = time::Duration::days(365);

/// Checks a start time as every surface takes it: RFC 3339 with an offset (`Z` or `+01:00`), not
/// in the past. Returns it in UTC, as stored (`2026-11-27T20:00:00.000Z`).
pub fn parse_start_time(at: &str) -> Result<String, BroadcastError> {
    let when = OffsetDateTime::parse(at.trim(), &Rfc3339).map_err(|_| {
        BroadcastError::InvalidTime(format!(
            "'{at}' is not a start time: give an RFC 3339 time with an offset, like 2026-11-27T20:00:00Z or 2026-11-27T21:00:00+01:00"
        ))
    })?;
    let now = OffsetDateTime::from_unix_timestamp(crate::clock::now_unix()).unwrap_or_else(|_| OffsetDateTime::now_utc());
    if when < now - PAST_GRACE {
        return Err(BroadcastError::InvalidTime(format!("'{at}' is in the past: give a time from now on")));
    }
    if when > now + FURTHEST_AHEAD {
        return Err(BroadcastError::InvalidTime(format!("'{at}' is more than a year ahead: give a time within the next 365 days")));
    }
    let utc = when.to_offset(time::UtcOffset::UTC);
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        utc.year(),
        utc.month() as u8,
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.millisecond()
    ))
}

/// Records a broadcast to start at `at` (see [`parse_start_time`]). It is kept in the database,
/// so it survives restarts; whichever Twitcher is running then (the app, `serve`, or `twitcher
/// stream start --at`) starts it. Returns the broadcast id.
pub async fn schedule(app: &Twitcher, actor: &Profile, request: &StartRequest, at: &str) -> Result<String, BroadcastError> {
    let at = parse_start_time(at)?;
    let (program, _) = validate(app, actor, request).await?;
    let (broadcast_id, ids) = insert_rows(app, actor, request, &program, Some(&at), None).await?;
    for id in ids {
        app.db.add_stream_event(id, "info", &format!("scheduled for {at}")).await?;
    }
    tracing::info!(broadcast = %broadcast_id, %at, "broadcast scheduled");
    app.events.emit(crate::events::Event::ScheduleChanged { broadcast_id: broadcast_id.clone() });
    Ok(broadcast_id)
}

/// Checks what a broadcast would play and where, as a start would (for a recurring schedule).
pub(crate) async fn check(app: &Twitcher, actor: &Profile, request: &StartRequest) -> Result<(), BroadcastError> {
    validate(app, actor, request).await.map(|_| ())
}

/// Records one occurrence of a recurring schedule as a scheduled broadcast at `at` (UTC, as
/// stored), ending at `ends_at`. Unlike [`schedule`], `at` may be a moment ago: an occurrence
/// that a restart delayed still starts.
pub(crate) async fn schedule_occurrence(app: &Twitcher, actor: &Profile, request: &StartRequest, at: &str, schedule_id: i64, ends_at: Option<&str>) -> Result<String, BroadcastError> {
    let (program, _) = validate(app, actor, request).await?;
    let occurrence = Occurrence { schedule_id, ends_at };
    let (broadcast_id, ids) = insert_rows(app, actor, request, &program, Some(at), Some(&occurrence)).await?;
    for id in ids {
        let until = ends_at.map(|e| format!(" until {e}")).unwrap_or_default();
        app.db.add_stream_event(id, "info", &format!("scheduled for {at}{until} by recurring schedule {schedule_id}")).await?;
    }
    tracing::info!(broadcast = %broadcast_id, %at, schedule_id, "recurring occurrence scheduled");
    app.events.emit(crate::events::Event::ScheduleChanged { broadcast_id: broadcast_id.clone() });
    Ok(broadcast_id)
}

/// Starts a scheduled broadcast now (its time has come, or the user said "start now"), if this
/// process wins the claim on it.
pub async fn start_scheduled(app: &Twitcher, broadcast_id: &str) -> Result<BroadcastHandle, BroadcastError> {
    crate::lease::keep(app);
    // A scheduled broadcast counts against its creator's plan when its time comes.
    let refusal = |plan: &str, max: i64| {
        format!("not started: the {plan} plan runs {max} broadcast(s) at once and another was running when this one came due")
    };
    let Some(rows) = app.db.claim_scheduled(broadcast_id, app.instance_id(), refusal).await? else {
        let creator = app.db.broadcast_creator(broadcast_id).await?;
        let actor = match creator {
            Some(id) => app.db.user_by_id(id).await?,
            None => None,
        };
        let (plan, limit) = actor.map(|a| (a.plan, a.limits.max_broadcasts.unwrap_or(0))).unwrap_or((crate::profiles::Plan::Free, 0));
        return Err(BroadcastError::PlanLimit { plan, limit });
    };
    let Some(first) = rows.first() else {
        return Err(not_startable(app, broadcast_id).await?);
    };
    let actor = app.db.user_by_id(first.creator_id).await?.ok_or(BroadcastError::NoBroadcast { id: broadcast_id.to_string() })?;
    let request = request_of(&rows)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    if app.is_node() {
        // On a fleet the nodes claim its destinations, within their budgets.
        app.db.wait_for_nodes(&ids).await?;
        app.registry.fleet_wake.notify_one();
        app.events.emit(crate::events::Event::ScheduledStarted { broadcast_id: broadcast_id.to_string(), title: request.title.clone(), destinations: ids.len() as u32 });
        let pairs = ids.iter().copied().zip(request.account_ids.iter().copied()).collect();
        return Ok(super::fleet::handle(app, &actor, broadcast_id.to_string(), pairs));
    }
    let checked = validate(app, &actor, &request).await;
    let (program, accounts_) = match checked {
        Ok(v) => v,
        Err(e) => {
            for id in &ids {
                let _ = app.db.set_stream_state(*id, StreamState::Failed, Some(&e.to_string()), app.instance_id()).await;
            }
            return Err(e);
        }
    };
    app.events.emit(crate::events::Event::ScheduledStarted { broadcast_id: broadcast_id.to_string(), title: request.title.clone(), destinations: ids.len() as u32 });
    launch(app, Part { actor, request, broadcast_id: broadcast_id.to_string(), stream_ids: ids, program, accounts: accounts_, origin: Origin::Fresh }).await
}

/// What the rows of one broadcast ask for (a scheduled start, or destinations a node claimed).
pub(super) fn request_of(rows: &[ScheduledRow]) -> Result<StartRequest, BroadcastError> {
    let first = rows.first().ok_or(BroadcastError::NoDestination)?;
    let (width, height) = Quality::parse_resolution(&first.resolution)?;
    Ok(StartRequest {
        // A playlist broadcast's rows name its first video too: the playlist is what it plays.
        video_id: if first.playlist_id.is_some() { None } else { Some(first.video_id.ok_or(BroadcastError::NoVideo { id: 0 })?) },
        playlist_id: first.playlist_id,
        account_ids: rows.iter().filter_map(|r| r.account_id).collect(),
        title: first.title.clone(),
        category: first.category.clone(),
        tags: serde_json::from_str(&first.tags).unwrap_or_default(),
        quality: Quality { fps: first.fps as u32, video_bitrate_k: first.video_bitrate_k as u32, audio_bitrate_k: first.audio_bitrate_k as u32, width, height },
        looped: first.looped,
        // On time rather than waiting for a preparation.
        live_encode: true,
    })
}

/// Why a broadcast with no `scheduled` rows cannot be started: it is unknown, was cancelled, or
/// another process (or an earlier call) started it.
async fn not_startable(app: &Twitcher, broadcast_id: &str) -> Result<BroadcastError, BroadcastError> {
    let id = broadcast_id.to_string();
    let rows = app.db.broadcast_schedule(broadcast_id).await?;
    Ok(if rows.is_empty() {
        BroadcastError::NoBroadcast { id }
    } else if rows.iter().all(|(status, _)| *status == StreamState::Cancelled) {
        BroadcastError::Cancelled { id }
    } else {
        BroadcastError::AlreadyStarted { id }
    })
}

/// Waits for a scheduled broadcast's time, then starts it — unless meanwhile it was cancelled or
/// another process started it (checked every second, so a long wait ends as soon as that happens).
pub async fn start_when_due(app: &Twitcher, broadcast_id: &str) -> Result<BroadcastHandle, BroadcastError> {
    loop {
        let rows = app.db.broadcast_schedule(broadcast_id).await?;
        let Some(due) = rows.iter().find(|(status, _)| *status == StreamState::Scheduled).and_then(|(_, at)| at.as_deref()) else {
            return Err(not_startable(app, broadcast_id).await?);
        };
        let due = OffsetDateTime::parse(due, &Rfc3339).unwrap_or_else(|_| OffsetDateTime::now_utc());
        let left = due - OffsetDateTime::now_utc();
        if left <= time::Duration::ZERO {
            return start_scheduled(app, broadcast_id).await;
        }
        tokio::time::sleep(Duration::from_millis(left.whole_milliseconds().clamp(1, 1000) as u64)).await;
    }
}

/// Starts every scheduled broadcast whose time has come (one turn of the runtime's due-broadcasts
/// loop). Another process may win a claim: that one is not started here.
pub async fn start_due(app: &Twitcher) -> Result<(), crate::db::DbError> {
    for broadcast_id in app.db.due_broadcasts().await? {
        tracing::info!(broadcast = %broadcast_id, "starting a scheduled broadcast");
        match start_scheduled(app, &broadcast_id).await {
            Ok(handle) => {
                handle.detach(app);
            }
            // Another process won the claim (or it was cancelled): nothing to do here.
            Err(e @ (BroadcastError::AlreadyStarted { .. } | BroadcastError::Cancelled { .. })) => {
                tracing::debug!(broadcast = %broadcast_id, reason = %e, "not started here")
            }
            Err(e) => tracing::warn!(broadcast = %broadcast_id, error = %e, "a scheduled broadcast could not start"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc3339(t: OffsetDateTime) -> String {
        t.format(&Rfc3339).unwrap()
    }

    #[test]
    fn a_start_time_with_an_offset_is_kept_in_utc() {
        let in_a_day = OffsetDateTime::now_utc() + time::Duration::days(1);
        let paris = in_a_day.to_offset(time::UtcOffset::from_hms(1, 0, 0).unwrap());
        let stored = parse_start_time(&rfc3339(paris)).unwrap();
        assert!(stored.ends_with('Z') && stored.len() == "2026-11-27T20:00:00.000Z".len(), "{stored}");
        assert_eq!(OffsetDateTime::parse(&stored, &Rfc3339).unwrap().unix_timestamp(), in_a_day.unix_timestamp());
    }

    #[test]
    fn a_time_without_an_offset_or_not_a_time_is_refused_naming_what_was_given() {
        for bad in ["2030-01-01T20:00:00", "2030-13-01T20:00:00Z", "20:00", "tomorrow", ""] {
            let err = parse_start_time(bad).unwrap_err();
            assert!(matches!(err, BroadcastError::InvalidTime(_)), "{bad}");
            assert!(err.to_string().contains(&format!("'{bad}'")) && err.to_string().contains("RFC 3339"), "{err}");
        }
    }

    #[test]
    fn a_past_time_is_refused_but_one_typed_a_moment_ago_means_now() {
        let hour_ago = rfc3339(OffsetDateTime::now_utc() - time::Duration::hours(1));
        assert!(parse_start_time(&hour_ago).unwrap_err().to_string().contains("in the past"));
        assert!(parse_start_time(&rfc3339(OffsetDateTime::now_utc() - time::Duration::seconds(10))).is_ok());
    }
}
