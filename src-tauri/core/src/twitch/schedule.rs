//! A recurring schedule on the channels' own Twitch schedule (the "Schedule" tab viewers see):
//! one weekly recurring segment per weekday it runs on (`POST /helix/schedule/segment`, scope
//! `channel:manage:schedule`), removed again (`DELETE /helix/schedule/segment`) with the schedule.

use serde::Deserialize;
use serde_json::json;

use super::channel::resolve_category;
use super::client::Client;
use super::tokens::with_token;
use super::TwitchError;
use crate::accounts::Account;
use crate::profiles::Profile;
use crate::Twitcher;

/// Twitch's limits on a segment's title and duration (minutes).
const TITLE_MAX: usize = 140;
const DURATION_MIN: i64 = 30;
const DURATION_MAX: i64 = 1380;

/// One weekly segment to publish.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Its first start, RFC 3339 UTC.
    pub start_time: String,
    /// The IANA zone it recurs in (Twitch keeps its wall-clock time across DST there).
    pub time_zone: String,
    /// How long it runs (`None`: Twitch's default, 4 hours).
    pub duration_min: Option<i64>,
    pub title: String,
    pub category: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    data: CreatedSchedule,
}

#[derive(Deserialize)]
struct CreatedSchedule {
    segments: Vec<CreatedSegment>,
}

#[derive(Deserialize)]
struct CreatedSegment {
    id: String,
    start_time: String,
}

/// Publishes `segments` to one channel's schedule; returns the ids Twitch gave them. Stops at the
/// first refusal (the ones already made are returned in the error's place by the caller's undo).
pub async fn publish(app: &Twitcher, actor: &Profile, account: &Account, segments: &[Segment]) -> Result<Vec<String>, (TwitchError, Vec<String>)> {
    let client = Client::new(app).await.map_err(|e| (e, vec![]))?;
    let c = &client;
    let game_id = match segments.first().and_then(|s| s.category.as_deref()) {
        Some(name) => resolve_category(app, actor, account.id, name).await.ok().flatten().map(|(id, _)| id),
        None => None,
    };
    let mut made = Vec::new();
    for segment in segments {
        let mut body = json!({
            "start_time": segment.start_time,
            "timezone": segment.time_zone,
            "is_recurring": true,
            "title": segment.title.chars().take(TITLE_MAX).collect::<String>(),
        });
        if let Some(minutes) = segment.duration_min {
            body["duration"] = json!(minutes.clamp(DURATION_MIN, DURATION_MAX).to_string());
        }
        if let Some(id) = &game_id {
            body["category_id"] = json!(id);
        }
        let (body, channel, start) = (&body, account.channel(), segment.start_time.as_str());
        let created = with_token(app, c, actor.id, account.id, |token| async move {
            c.post::<Created>(&token, "/schedule/segment", &[("broadcaster_id", channel)], body).await
        })
        .await;
        match created {
            // The answer lists the channel's segments; ours is the one starting when asked.
            Ok(answer) => match answer.data.segments.iter().find(|s| same_instant(&s.start_time, start)).or(answer.data.segments.last()) {
                Some(s) => made.push(s.id.clone()),
                None => return Err((TwitchError::Unexpected("Twitch did not return the new schedule segment".into()), made)),
            },
            Err(e) => return Err((e, made)),
        }
    }
    Ok(made)
}

/// Removes segments from one channel's schedule; a segment Twitch no longer has counts as removed.
pub async fn unpublish(app: &Twitcher, actor: &Profile, account: &Account, segment_ids: &[String]) -> Result<(), TwitchError> {
    let client = Client::new(app).await?;
    let c = &client;
    for id in segment_ids {
        let (channel, id) = (account.channel(), id.as_str());
        let removed = with_token(app, c, actor.id, account.id, |token| async move {
            c.delete(&token, "/schedule/segment", &[("broadcaster_id", channel), ("id", id)]).await
        })
        .await;
        match removed {
            Ok(()) | Err(TwitchError::Api { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn same_instant(a: &str, b: &str) -> bool {
    match (chrono::DateTime::parse_from_rfc3339(a), chrono::DateTime::parse_from_rfc3339(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
