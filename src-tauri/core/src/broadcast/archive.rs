//! Stream logs in S3 (the seed's "S3/MinIO for videos and logs"): when S3 is set up, each
//! broadcast's log — every destination's redacted `stream_events` — is written to the bucket as
//! JSON lines, hourly while it runs and once more when it ends, at
//! `twitcher/logs/YYYY/MM/DD/<broadcast id>.jsonl` (the day it was created, UTC). Logs older than
//! [`RETENTION_DAYS`] are deleted by whichever Twitcher runs the scheduler (the window, `serve`, a
//! fleet's nodes: deleting twice is harmless). Without S3, nothing happens: the log stays in the
//! database as always.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::storage::{self, StorageError};
use crate::Twitcher;

pub const PREFIX: &str = "twitcher/logs/";
pub const RETENTION_DAYS: i64 = 30;

#[derive(Serialize)]
struct Line<'a> {
    at: &'a str,
    stream_id: i64,
    account: &'a str,
    level: &'a str,
    message: &'a str,
}

async fn configured(app: &Twitcher) -> Result<bool, StorageError> {
    let status = storage::status(app).await?;
    Ok(status.settings.is_some() && status.has_secret_key)
}

/// The object key of a broadcast's log.
pub fn object_key(created: DateTime<Utc>, broadcast_id: &str) -> String {
    format!("{PREFIX}{}/{broadcast_id}.jsonl", created.format("%Y/%m/%d"))
}

/// Writes (or rewrites) a broadcast's log to the bucket. `Ok(false)`: S3 is not set up.
pub async fn archive(app: &Twitcher, broadcast_id: &str) -> Result<bool, StorageError> {
    if !configured(app).await? {
        return Ok(false);
    }
    let created = app
        .db
        .broadcast_created(broadcast_id)
        .await?
        .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(crate::clock::now);
    let mut body = Vec::new();
    for (at, stream_id, account, level, message) in app.db.broadcast_log(broadcast_id).await? {
        // Redacted when written; again here, for whatever the rules learned since.
        let message = crate::redact::redact(&message);
        serde_json::to_writer(&mut body, &Line { at: &at, stream_id, account: &account, level: &level, message: &message }).expect("plain data serialises");
        body.push(b'\n');
    }
    storage::put_object(app, &object_key(created, broadcast_id), body, "application/x-ndjson").await?;
    tracing::info!(broadcast = %broadcast_id, "stream log written to S3");
    Ok(true)
}

/// Writes the log in the background; a failure is logged, never the broadcast's problem.
pub fn archive_later(app: &Twitcher, broadcast_id: &str) {
    let (app, broadcast_id) = (app.clone(), broadcast_id.to_string());
    tokio::spawn(async move {
        if let Err(e) = archive(&app, &broadcast_id).await {
            tracing::warn!(broadcast = %broadcast_id, error = %e, "the stream log could not be written to S3");
        }
    });
}

/// Deletes the logs of days more than [`RETENTION_DAYS`] before `now`; returns how many. Keys that
/// are not a log's (no date in them) are left alone.
pub async fn apply_retention(app: &Twitcher, now: DateTime<Utc>) -> Result<usize, StorageError> {
    if !configured(app).await? {
        return Ok(0);
    }
    let oldest_kept = (now - chrono::Duration::days(RETENTION_DAYS)).date_naive();
    let mut deleted = 0;
    for key in storage::list_keys(app, PREFIX).await? {
        let day = key.strip_prefix(PREFIX).and_then(|rest| rest.get(..10)).and_then(|d| NaiveDate::parse_from_str(d, "%Y/%m/%d").ok());
        if day.is_some_and(|d| d < oldest_kept) {
            storage::delete_object(app, &key).await?;
            deleted += 1;
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "old stream logs removed from S3");
    }
    Ok(deleted)
}
