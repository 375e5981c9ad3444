//! Recurring schedules (DESIGN.md §10): "every Monday and Wednesday at 20:00 Europe/Berlin, the
//! playlist for 2 hours". The recurrence is a local time in an IANA zone on chosen weekdays (none:
//! every day), computed by a cron engine (`croner`, with `chrono-tz`'s zone database), so daylight
//! saving changes move the UTC instant and nothing else: 20:00 in Berlin is 18:00Z in summer and
//! 19:00Z in winter. A local time that a spring-forward skips runs when the clock jumps over it.
//!
//! A schedule lives in the database with its next occurrence. Whichever process runs the scheduler
//! (the window, `serve`) materialises an occurrence shortly before it is due as an ordinary
//! scheduled broadcast — by advancing `next_at` with a compare-and-set, so exactly one process
//! does — and from there the scheduler starts it like any other. An occurrence's end (a duration
//! or a local end time) is stored on its rows; when it comes, a stop order is written.

use std::str::FromStr;

use chrono::{DateTime, NaiveTime, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};

use crate::broadcast::{self, BroadcastError, StartRequest};
use crate::db::schedules::{NewSchedule, ScheduleRow};
use crate::db::DbError;
use crate::profiles::Profile;
use crate::Twitcher;

/// How many upcoming starts a schedule shows.
pub const UPCOMING: usize = 7;
/// How long before its time an occurrence becomes a scheduled broadcast (it then shows in the
/// stream list and survives a restart like one).
const LEAD: chrono::Duration = chrono::Duration::minutes(5);
/// An occurrence missed while nothing ran (the computer was off) still starts this long after
/// its time when it has no duration; with one, until its end.
const LATE_LIMIT: chrono::Duration = chrono::Duration::minutes(10);
/// The longest an occurrence may last: a week. Twitch itself ends a broadcast at 48 hours; a
/// week leaves room for a looping channel restarted by hand, and keeps every end a date.
pub const MAX_DURATION_SEC: i64 = 7 * 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Invalid(String),
    #[error("no recurring schedule {id} in this profile")]
    NotFound { id: i64 },
    #[error("the {plan} plan keeps {limit} recurring schedules: delete one first, or ask an ADMIN for another plan")]
    PlanLimit { plan: crate::model::Plan, limit: u32 },
    #[error(transparent)]
    Broadcast(#[from] BroadcastError),
    #[error(transparent)]
    Db(#[from] DbError),
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// When a schedule recurs: a local time on some weekdays, in a zone.
#[derive(Debug, Clone)]
pub struct Recurrence {
    at: NaiveTime,
    zone: Tz,
    /// Lowercase three-letter names, in week order; empty: every day.
    days: Vec<&'static str>,
    cron: Cron,
}

/// Every time zone a schedule may name (IANA names, as the bundled tz database spells them).
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())
}

fn parse_time(text: &str, what: &str) -> Result<NaiveTime, ScheduleError> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| ScheduleError::Invalid(format!("'{text}' is not {what}: give a 24-hour time like 20:00")))
}

impl Recurrence {
    /// `at` as `HH:MM`, `zone` an IANA name (`Europe/Berlin`), `days` like `mon,wed` (empty: daily).
    pub fn parse(at: &str, zone: &str, days: &[String]) -> Result<Self, ScheduleError> {
        let at = parse_time(at, "a start time")?;
        let zone = Tz::from_str(zone.trim())
            .map_err(|_| ScheduleError::Invalid(format!("'{zone}' is not a time zone: give an IANA name like Europe/Berlin or America/New_York")))?;
        let mut chosen = Vec::new();
        for day in days.iter().flat_map(|d| d.split(',')).map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()) {
            // `mon` or `monday`.
            let name = DAYS
                .iter()
                .zip(FULL_DAYS)
                .find(|(short, full)| day == **short || day == *full)
                .map(|(short, _)| short)
                .ok_or_else(|| ScheduleError::Invalid(format!("'{day}' is not a weekday: use mon, tue, wed, thu, fri, sat, sun")))?;
            if !chosen.contains(name) {
                chosen.push(*name);
            }
        }
        chosen.sort_by_key(|d| DAYS.iter().position(|n| n == d));
        let weekdays = if chosen.is_empty() { "*".to_string() } else { chosen.iter().map(|d| d.to_uppercase()).collect::<Vec<_>>().join(",") };
        let pattern = format!("{} {} * * {weekdays}", at.format("%M"), at.format("%H"));
        let cron = Cron::from_str(&pattern).map_err(|e| ScheduleError::Invalid(format!("the recurrence '{pattern}' cannot be used: {e}")))?;
        Ok(Self { at, zone, days: chosen, cron })
    }

    /// The first start strictly after `after` (whole seconds); `None` when there is none or
    /// `after` is past the dates computed at all.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !computable(after) {
            return None;
        }
        let after = after.with_nanosecond(0)?.with_timezone(&self.zone);
        self.cron.find_next_occurrence(&after, false).ok().and_then(|t| t.with_timezone(&Utc).with_nanosecond(0))
    }

    /// The next `n` starts after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.next_after(after), |t| self.next_after(*t)).take(n).collect()
    }

    pub fn days(&self) -> Vec<String> {
        self.days.iter().map(|d| d.to_string()).collect()
    }
}

/// Whether dates are computed from `t`. One from a stored row that is years out is damage, and
/// near chrono's last date a zone's local time of it does not exist (converting it panics).
fn computable(t: DateTime<Utc>) -> bool {
    (1..=9000).contains(&chrono::Datelike::year(&t))
}

/// How an occurrence ends.
#[derive(Debug, Clone, Copy)]
enum End {
    Never,
    After(chrono::Duration),
    /// The first time this local time comes after the start.
    At(NaiveTime),
}

impl End {
    fn parse(duration_sec: Option<i64>, until: Option<&str>) -> Result<Self, ScheduleError> {
        match (duration_sec, until) {
            (Some(_), Some(_)) => Err(ScheduleError::Invalid("give a duration or an end time, not both".into())),
            (Some(s), None) if s <= 0 => Err(ScheduleError::Invalid("a duration is positive".into())),
            (Some(s), None) if s > MAX_DURATION_SEC => Err(ScheduleError::Invalid(format!(
                "a duration of {s} s is too long: an occurrence lasts at most 7 days ({MAX_DURATION_SEC} s; Twitch ends a broadcast at 48 hours)"
            ))),
            (Some(s), None) => chrono::Duration::try_seconds(s).map(End::After).ok_or_else(|| ScheduleError::Invalid(format!("{s} s is not a duration"))),
            (None, Some(u)) => Ok(End::At(parse_time(u, "an end time")?)),
            (None, None) => Ok(End::Never),
        }
    }

    fn of(self, start: DateTime<Utc>, zone: &Tz) -> Option<DateTime<Utc>> {
        match self {
            End::Never => None,
            End::After(d) => start.checked_add_signed(d).filter(|end| computable(*end)),
            End::At(t) => {
                let daily = Recurrence::parse(&t.format("%H:%M").to_string(), zone.name(), &[]).ok()?;
                daily.next_after(start)
            }
        }
    }
}

/// What a schedule starts, when, and until when.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleInput {
    pub request: StartRequest,
    /// `HH:MM`, local time in `time_zone`.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*([01]?[0-9]|2[0-3]):[0-5]?[0-9]\s*$"))]
    pub at: String,
    /// IANA name, like `Europe/Berlin`.
    pub time_zone: String,
    /// `mon` … `sun`; empty: every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// End each occurrence after this long…
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 604800))]
    pub duration_sec: Option<i64>,
    /// …or at this local time (`HH:MM`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*([01]?[0-9]|2[0-3]):[0-5]?[0-9]\s*$"))]
    pub until: Option<String>,
    /// Also put it on the connected channels' Twitch schedule (weekly segments, removed with it).
    #[serde(default)]
    pub twitch_schedule: bool,
}

/// A schedule on one channel's Twitch schedule.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OnTwitch {
    pub account_id: i64,
    /// Weekly segments Twitch holds for it.
    pub segments: u32,
    /// Why it is not (all) there, if so.
    pub notice: Option<String>,
}

/// A schedule as every surface shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    pub id: i64,
    pub request: StartRequest,
    pub at: String,
    pub time_zone: String,
    pub days: Vec<String>,
    pub duration_sec: Option<i64>,
    pub until: Option<String>,
    /// The next starts, UTC (RFC 3339).
    pub next: Vec<String>,
    /// Per account, when it was published to the channels' Twitch schedule (else empty).
    pub on_twitch: Vec<OnTwitch>,
    pub created_at: String,
    /// Why the scheduler skips it (a stored value it cannot use): it starts nothing more until
    /// it is edited, or deleted and made again.
    pub error: Option<String>,
    /// Paused: it starts nothing (and lists no next starts) until resumed.
    pub paused: bool,
}


impl ScheduleRow {
    fn recurrence(&self) -> Result<Recurrence, ScheduleError> {
        let days: Vec<String> = self.days.split(',').filter(|d| !d.is_empty()).map(str::to_string).collect();
        Recurrence::parse(&self.at_local, &self.time_zone, &days)
    }

    fn next_at(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.next_at).ok().map(|t| t.with_timezone(&Utc))
    }

    fn view(self, now: DateTime<Utc>) -> Result<Schedule, ScheduleError> {
        let recurrence = self.recurrence()?;
        let next = match (&self.error, &self.paused_at) {
            (Some(_), _) | (_, Some(_)) => Vec::new(),
            (None, None) => {
                // From the stored next occurrence (not yet materialised) on.
                let from = self.next_at().and_then(|n| n.checked_sub_signed(chrono::Duration::seconds(1))).unwrap_or(now).max(now - LATE_LIMIT);
                recurrence.upcoming(from, UPCOMING).into_iter().map(stamp).collect()
            }
        };
        Ok(Schedule {
            id: self.id,
            request: serde_json::from_str(&self.request).map_err(|e| ScheduleError::Invalid(format!("schedule {} is damaged: {e}", self.id)))?,
            at: self.at_local,
            time_zone: self.time_zone,
            days: recurrence.days(),
            duration_sec: self.duration_sec,
            until: self.until_local,
            next,
            on_twitch: Vec::new(),
            created_at: self.created_at,
            error: self.error,
            paused: self.paused_at.is_some(),
        })
    }
}

/// As stored and shown: `2026-11-29T19:00:00.000Z`.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Records a recurring schedule; checks what it would start as a start would.
pub async fn create(app: &Twitcher, actor: &Profile, input: &ScheduleInput) -> Result<Schedule, ScheduleError> {
    create_at(app, actor, input, crate::clock::now()).await
}

/// [`create`] as of `now` (tests drive the clock).
pub async fn create_at(app: &Twitcher, actor: &Profile, input: &ScheduleInput, now: DateTime<Utc>) -> Result<Schedule, ScheduleError> {
    let checked = Checked::new(app, actor, input, now).await?;
    let max = crate::model::PlanLimits::for_role(actor.limits.max_schedules, actor.role);
    let id = app
        .db
        .insert_schedule(max, &checked.row(actor.id, input))
        .await?
        .ok_or(ScheduleError::PlanLimit { plan: actor.plan, limit: max.unwrap_or(0) })?;
    tracing::info!(schedule_id = id, "recurring schedule created");
    if input.twitch_schedule {
        publish_to_twitch(app, actor, id, &checked.recurrence, input, now).await?;
    }
    get_at(app, actor, id, now).await
}

/// A schedule's input checked as a start would be (what [`create`] and [`update`] store), with
/// its first start after `now`.
struct Checked {
    recurrence: Recurrence,
    request: String,
    at_local: String,
    days: String,
    next_at: String,
}

impl Checked {
    async fn new(app: &Twitcher, actor: &Profile, input: &ScheduleInput, now: DateTime<Utc>) -> Result<Self, ScheduleError> {
        let recurrence = Recurrence::parse(&input.at, &input.time_zone, &input.days)?;
        End::parse(input.duration_sec, input.until.as_deref())?;
        broadcast::schedule::check(app, actor, &input.request).await?;
        let first = recurrence.next_after(now).ok_or_else(|| ScheduleError::Invalid("that recurrence never comes".into()))?;
        Ok(Self {
            request: serde_json::to_string(&input.request).expect("a request serialises"),
            at_local: recurrence.at.format("%H:%M").to_string(),
            days: recurrence.days.join(","),
            next_at: stamp(first),
            recurrence,
        })
    }

    fn row<'a>(&'a self, owner_id: i64, input: &'a ScheduleInput) -> NewSchedule<'a> {
        NewSchedule {
            owner_id,
            request: &self.request,
            at_local: &self.at_local,
            time_zone: self.recurrence.zone.name(),
            days: &self.days,
            duration_sec: input.duration_sec,
            until_local: input.until.as_deref().map(str::trim),
            next_at: &self.next_at,
        }
    }
}

/// Puts a new schedule on each of its channels' Twitch schedule: one weekly segment per weekday
/// it runs on. What Twitch refuses (or cannot be asked: an account added by hand) is that
/// channel's notice; the schedule itself stands.
async fn publish_to_twitch(app: &Twitcher, actor: &Profile, id: i64, recurrence: &Recurrence, input: &ScheduleInput, now: DateTime<Utc>) -> Result<(), ScheduleError> {
    let end = End::parse(input.duration_sec, input.until.as_deref())?;
    let title = match (input.request.title.trim(), input.request.video_id, input.request.playlist_id) {
        ("", Some(video), _) => crate::library::get(app, actor, video).await.map(|v| v.title).unwrap_or_default(),
        ("", None, Some(playlist)) => crate::playlists::get(app, actor, playlist).await.map(|p| p.name).unwrap_or_default(),
        (title, _, _) => title.to_string(),
    };
    let days: Vec<&str> = if recurrence.days.is_empty() { DAYS.to_vec() } else { recurrence.days.clone() };
    let mut segments = Vec::new();
    for day in days {
        let weekly = Recurrence::parse(&recurrence.at.format("%H:%M").to_string(), recurrence.zone.name(), &[day.to_string()])?;
        let Some(start) = weekly.next_after(now) else { continue };
        segments.push(crate::twitch::schedule::Segment {
            start_time: start.to_rfc3339_opts(SecondsFormat::Secs, true),
            time_zone: recurrence.zone.name().to_string(),
            duration_min: end.of(start, &recurrence.zone).map(|e| (e - start).num_minutes()),
            title: title.clone(),
            category: input.request.category.clone(),
        });
    }
    segments.sort_by(|a, b| a.start_time.cmp(&b.start_time));
    for account_id in &input.request.account_ids {
        let Ok(account) = crate::accounts::get(app, actor, *account_id).await else { continue };
        let (made, notice) = if !account.connected {
            (vec![], Some("not on the Twitch schedule: this account was added by hand (use Connect with Twitch)".to_string()))
        } else {
            match crate::twitch::schedule::publish(app, actor, &account, &segments).await {
                Ok(made) => (made, None),
                Err((e, made)) => (made, Some(format!("not (all) on the Twitch schedule: {e}"))),
            }
        };
        if let Some(n) = &notice {
            tracing::warn!(schedule_id = id, account_id, notice = %n, "Twitch schedule");
        }
        app.db.set_schedule_on_twitch(id, *account_id, &made, notice.as_deref()).await?;
    }
    Ok(())
}

/// The schedule's segments on the channels' Twitch schedules, as shown.
async fn with_twitch(app: &Twitcher, mut schedule: Schedule) -> Result<Schedule, ScheduleError> {
    schedule.on_twitch = app.db.schedule_on_twitch(schedule.id).await?.into_iter().map(on_twitch).collect();
    Ok(schedule)
}

fn on_twitch((account_id, ids, notice): (i64, Vec<String>, Option<String>)) -> OnTwitch {
    OnTwitch { account_id, segments: ids.len() as u32, notice }
}

/// A page of the profile's schedules by id (the API's list): two queries whatever its size.
pub async fn list_page(app: &Twitcher, actor: &Profile, page: crate::model::PageRequest) -> Result<Vec<Schedule>, ScheduleError> {
    let now = crate::clock::now();
    let rows = app.db.schedules_page(actor.id, page.cursor.unwrap_or(0), page.limit).await?;
    let (Some(first), Some(last)) = (rows.first().map(|r| r.id), rows.last().map(|r| r.id)) else { return Ok(Vec::new()) };
    let mut on = app.db.schedules_on_twitch_between(actor.id, first, last).await?.into_iter().peekable();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut schedule = row.view(now)?;
        while let Some((_, entry)) = on.next_if(|(schedule_id, _)| *schedule_id == schedule.id) {
            schedule.on_twitch.push(on_twitch(entry));
        }
        out.push(schedule);
    }
    Ok(out)
}

pub async fn get(app: &Twitcher, actor: &Profile, id: i64) -> Result<Schedule, ScheduleError> {
    get_at(app, actor, id, crate::clock::now()).await
}

/// [`get`] as of `now` (tests drive the clock).
pub async fn get_at(app: &Twitcher, actor: &Profile, id: i64, now: DateTime<Utc>) -> Result<Schedule, ScheduleError> {
    let schedule = app.db.schedule(actor.id, id).await?.ok_or(ScheduleError::NotFound { id })?.view(now)?;
    with_twitch(app, schedule).await
}

pub async fn list(app: &Twitcher, actor: &Profile) -> Result<Vec<Schedule>, ScheduleError> {
    list_at(app, actor, crate::clock::now()).await
}

/// [`list`] as of `now`.
pub async fn list_at(app: &Twitcher, actor: &Profile, now: DateTime<Utc>) -> Result<Vec<Schedule>, ScheduleError> {
    let mut all = Vec::new();
    for row in app.db.schedules(actor.id).await? {
        all.push(with_twitch(app, row.view(now)?).await?);
    }
    Ok(all)
}

/// Changes what a schedule starts and when, in place (its id, and its place in lists, stay).
/// Checked as [`create`] checks; its occurrences booked from the old settings but not started
/// are cancelled, and on the channels' Twitch schedules its old segments are replaced. A paused
/// schedule stays paused; one set aside for a bad stored value is usable again.
pub async fn update(app: &Twitcher, actor: &Profile, id: i64, input: &ScheduleInput) -> Result<Schedule, ScheduleError> {
    update_at(app, actor, id, input, crate::clock::now()).await
}

/// [`update`] as of `now`.
pub async fn update_at(app: &Twitcher, actor: &Profile, id: i64, input: &ScheduleInput, now: DateTime<Utc>) -> Result<Schedule, ScheduleError> {
    app.db.schedule(actor.id, id).await?.ok_or(ScheduleError::NotFound { id })?;
    let checked = Checked::new(app, actor, input, now).await?;
    let updated = app.db.update_schedule(id, &checked.row(actor.id, input)).await?;
    if !updated {
        return Err(ScheduleError::NotFound { id });
    }
    tracing::info!(schedule_id = id, "recurring schedule changed");
    withdraw_from_twitch(app, actor, id).await?;
    app.db.clear_schedule_on_twitch(id).await?;
    if input.twitch_schedule {
        publish_to_twitch(app, actor, id, &checked.recurrence, input, now).await?;
    }
    get_at(app, actor, id, now).await
}

/// Pauses a schedule: it starts nothing until resumed, its occurrences booked but not started
/// are cancelled (one already live runs on: stop it like any broadcast), and its segments leave
/// the channels' Twitch schedules, so viewers are not told of starts that will not come.
pub async fn pause(app: &Twitcher, actor: &Profile, id: i64) -> Result<Schedule, ScheduleError> {
    let row = app.db.schedule(actor.id, id).await?.ok_or(ScheduleError::NotFound { id })?;
    if row.paused_at.is_none() {
        if !app.db.set_schedule_paused(actor.id, id, true, &row.next_at).await? {
            return Err(ScheduleError::NotFound { id });
        }
        withdraw_from_twitch(app, actor, id).await?;
        for (account_id, _, _) in app.db.schedule_on_twitch(id).await? {
            app.db.set_schedule_on_twitch(id, account_id, &[], Some("off the Twitch schedule while the schedule is paused")).await?;
        }
        tracing::info!(schedule_id = id, "recurring schedule paused");
    }
    get(app, actor, id).await
}

/// Resumes a paused schedule from its next time after now (never an occurrence missed while it
/// was paused), and puts it back on the Twitch schedules it was on.
pub async fn resume(app: &Twitcher, actor: &Profile, id: i64) -> Result<Schedule, ScheduleError> {
    resume_at(app, actor, id, crate::clock::now()).await
}

/// [`resume`] as of `now`.
pub async fn resume_at(app: &Twitcher, actor: &Profile, id: i64, now: DateTime<Utc>) -> Result<Schedule, ScheduleError> {
    let row = app.db.schedule(actor.id, id).await?.ok_or(ScheduleError::NotFound { id })?;
    if row.paused_at.is_some() {
        let recurrence = row.recurrence()?;
        let next = recurrence.next_after(now).ok_or_else(|| ScheduleError::Invalid("that recurrence never comes".into()))?;
        if !app.db.set_schedule_paused(actor.id, id, false, &stamp(next)).await? {
            return Err(ScheduleError::NotFound { id });
        }
        tracing::info!(schedule_id = id, "recurring schedule resumed");
        if !app.db.schedule_on_twitch(id).await?.is_empty() {
            let input = ScheduleInput {
                request: serde_json::from_str(&row.request).map_err(|e| ScheduleError::Invalid(format!("schedule {id} is damaged: {e}")))?,
                at: row.at_local.clone(),
                time_zone: row.time_zone.clone(),
                days: recurrence.days(),
                duration_sec: row.duration_sec,
                until: row.until_local.clone(),
                twitch_schedule: true,
            };
            app.db.clear_schedule_on_twitch(id).await?;
            publish_to_twitch(app, actor, id, &recurrence, &input, now).await?;
        }
    }
    get_at(app, actor, id, now).await
}

/// Takes a schedule's segments off the channels' Twitch schedules; what Twitch does not take
/// back is logged (the change goes on: a stale segment is better than a schedule that cannot
/// change).
async fn withdraw_from_twitch(app: &Twitcher, actor: &Profile, id: i64) -> Result<(), ScheduleError> {
    for (account_id, segments, _) in app.db.schedule_on_twitch(id).await? {
        if segments.is_empty() {
            continue;
        }
        let removed = match crate::accounts::get(app, actor, account_id).await {
            Ok(account) => crate::twitch::schedule::unpublish(app, actor, &account, &segments).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = removed {
            tracing::warn!(schedule_id = id, account_id, error = %e, "segments left on the Twitch schedule");
        }
    }
    Ok(())
}

/// Deletes a schedule; its occurrences that have not started are cancelled (a running one runs
/// on: stop it like any broadcast), and its segments leave the channels' Twitch schedules (what
/// Twitch does not take back is logged: the schedule goes anyway).
pub async fn delete(app: &Twitcher, actor: &Profile, id: i64) -> Result<(), ScheduleError> {
    app.db.schedule(actor.id, id).await?.ok_or(ScheduleError::NotFound { id })?;
    withdraw_from_twitch(app, actor, id).await?;
    if !app.db.delete_schedule(actor.id, id).await? {
        return Err(ScheduleError::NotFound { id });
    }
    tracing::info!(schedule_id = id, "recurring schedule deleted");
    Ok(())
}

/// One turn of the scheduler as of `now`: occurrences due within [`LEAD`] become scheduled
/// broadcasts (one process each, by compare-and-set on `next_at`), occurrences missed by more
/// than they could still run are skipped, and occurrences whose end has come are ordered to stop.
/// The stop orders are written even when materialising failed (a database error is the turn's
/// error; a schedule it cannot use is set aside, not an error).
pub async fn tick(app: &Twitcher, now: DateTime<Utc>) -> Result<(), ScheduleError> {
    let materialised = materialise(app, now).await;
    let ids = app.db.order_stop_ended(&stamp(now)).await?;
    if !ids.is_empty() {
        tracing::info!(streams = ids.len(), "scheduled end: stop ordered");
    }
    materialised
}

async fn materialise(app: &Twitcher, now: DateTime<Utc>) -> Result<(), ScheduleError> {
    for row in app.db.all_schedules().await? {
        let Some(next) = row.next_at() else { continue };
        if next > now + LEAD {
            continue;
        }
        let (recurrence, end) = match (row.recurrence(), End::parse(row.duration_sec, row.until_local.as_deref())) {
            (Ok(r), Ok(e)) => (r, e),
            (Err(e), _) | (_, Err(e)) => {
                set_aside(app, row.id, &format!("this schedule cannot be used: {e}; delete it and make it again")).await?;
                continue;
            }
        };
        let Some(following) = recurrence.next_after(next) else { continue };
        if !app.db.advance_schedule(row.id, &row.next_at, &stamp(following)).await? {
            continue; // Another process took this occurrence.
        }
        let ends = end.of(next, &recurrence.zone);
        let too_late = match ends {
            Some(e) => now >= e,
            None => now - next > LATE_LIMIT,
        };
        if too_late {
            tracing::warn!(schedule_id = row.id, missed = %stamp(next), "a recurring occurrence was missed while nothing ran: skipped");
            continue;
        }
        let Some(actor) = app.db.user_by_id(row.owner_id).await? else { continue };
        let request: StartRequest = match serde_json::from_str(&row.request) {
            Ok(r) => r,
            Err(e) => {
                set_aside(app, row.id, &format!("this schedule is damaged ({e}); delete it and make it again")).await?;
                continue;
            }
        };
        // A late occurrence starts now (and still ends on time).
        let at = stamp(next.max(now));
        if let Err(e) = broadcast::schedule::schedule_occurrence(app, &actor, &request, &at, row.id, ends.map(stamp).as_deref()).await {
            tracing::warn!(schedule_id = row.id, error = %e, "a recurring occurrence could not be scheduled");
        }
        // Paused between the advance and the booking: the pause's cancel ran too early for it.
        if app.db.cancel_booked_if_paused(row.id).await? > 0 {
            tracing::info!(schedule_id = row.id, "an occurrence booked as its schedule was paused: cancelled");
        }
    }
    Ok(())
}

/// Marks a schedule the scheduler cannot use with the reason, once: it is skipped from then on
/// (not read and refused every turn) and shows the reason until it is deleted.
async fn set_aside(app: &Twitcher, id: i64, reason: &str) -> Result<(), ScheduleError> {
    tracing::warn!(schedule_id = id, reason, "a recurring schedule is set aside");
    app.db.set_schedule_error(id, reason).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn a_weekly_local_time_keeps_its_wall_clock_across_both_dst_changes_in_berlin() {
        let weekly = Recurrence::parse("20:00", "Europe/Berlin", &["sun".into()]).unwrap();
        // Summer time ends on Sunday 25 October 2026: 20:00 CEST is 18:00Z, 20:00 CET 19:00Z.
        assert_eq!(weekly.upcoming(utc(2026, 10, 12, 0, 0), 3), vec![utc(2026, 10, 18, 18, 0), utc(2026, 10, 25, 19, 0), utc(2026, 11, 1, 19, 0)]);
        // It starts again on Sunday 28 March 2027.
        assert_eq!(weekly.upcoming(utc(2027, 3, 15, 0, 0), 3), vec![utc(2027, 3, 21, 19, 0), utc(2027, 3, 28, 18, 0), utc(2027, 4, 4, 18, 0)]);
    }

    #[test]
    fn a_time_the_spring_forward_skips_runs_when_the_clock_jumps_and_an_hour_repeated_runs_once() {
        let daily = Recurrence::parse("02:30", "Europe/Berlin", &[]).unwrap();
        // 28 March 2027: 02:00 CET jumps to 03:00 CEST (01:00Z).
        assert_eq!(daily.upcoming(utc(2027, 3, 26, 12, 0), 3), vec![utc(2027, 3, 27, 1, 30), utc(2027, 3, 28, 1, 0), utc(2027, 3, 29, 0, 30)]);
        // 25 October 2026: 02:30 happens twice (00:30Z CEST, 01:30Z CET); the schedule runs at the first.
        assert_eq!(daily.upcoming(utc(2026, 10, 24, 12, 0), 2), vec![utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]);
    }

    #[test]
    fn weekdays_and_times_are_checked_and_named_in_week_order() {
        let r = Recurrence::parse("07:05", "America/New_York", &["fri,Mon".into(), "wed".into()]).unwrap();
        assert_eq!(r.days(), ["mon", "wed", "fri"]);
        // Friday 4 December 2026, 07:05 EST = 12:05Z; then Monday.
        assert_eq!(r.upcoming(utc(2026, 12, 3, 13, 0), 2), vec![utc(2026, 12, 4, 12, 5), utc(2026, 12, 7, 12, 5)]);
        for (at, zone, days) in [("25:00", "UTC", ""), ("8pm", "UTC", ""), ("20:00", "Mars/Olympus", ""), ("20:00", "UTC", "someday")] {
            let days: Vec<String> = if days.is_empty() { vec![] } else { vec![days.into()] };
            assert!(matches!(Recurrence::parse(at, zone, &days), Err(ScheduleError::Invalid(_))), "{at} {zone} {days:?}");
        }
    }

    #[test]
    fn an_end_time_is_the_first_one_after_the_start_even_past_midnight() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let start = utc(2026, 11, 30, 22, 0); // 23:00 in Berlin
        assert_eq!(End::parse(None, Some("01:30")).unwrap().of(start, &zone), Some(utc(2026, 12, 1, 0, 30)));
        assert_eq!(End::parse(Some(7200), None).unwrap().of(start, &zone), Some(utc(2026, 12, 1, 0, 0)));
        assert!(End::parse(Some(60), Some("01:00")).is_err());
    }
}

#[cfg(test)]
mod prop_tests {
    //! Every parser that makes a date from a stored or typed value, fed extreme values: each gives
    //! a date within range or a typed error, never a panic (issue 29: one stored duration of
    //! 9e15 s stopped the scheduler for every profile). Longer by hand:
    //! `PROPTEST_CASES=100000 cargo test -p twitcher-core --lib schedules::prop_tests`
    use chrono::TimeZone;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    fn config() -> Config {
        let mut config = Config { failure_persistence: None, ..Config::default() };
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = 2000;
        }
        config
    }

    /// Durations from the edges of i64 inwards, and the bounds themselves.
    fn arb_seconds() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
            Just(MAX_DURATION_SEC),
            Just(MAX_DURATION_SEC + 1),
            Just(9_000_000_000_000_000),
            any::<i64>(),
            -10i64..=MAX_DURATION_SEC * 2,
        ]
    }

    /// Instants from year 1 to the last one chrono holds.
    fn arb_instant() -> impl Strategy<Value = DateTime<Utc>> {
        let first = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap().timestamp();
        prop_oneof![Just(DateTime::<Utc>::MAX_UTC.timestamp()), first..=DateTime::<Utc>::MAX_UTC.timestamp(), 0i64..4_102_444_800]
            .prop_map(|t| DateTime::from_timestamp(t, 0).unwrap())
    }

    #[test]
    fn an_occurrence_end_is_a_date_or_refused_for_any_stored_duration_and_start() {
        let zones = ["Europe/Berlin", "America/New_York", "Pacific/Kiritimati", "UTC"];
        TestRunner::new(config())
            .run(&(arb_seconds(), arb_instant(), 0..zones.len(), proptest::option::of("[0-9:]{0,6}")), |(seconds, start, zone, until)| {
                let zone: Tz = zones[zone].parse().unwrap();
                match End::parse(Some(seconds), None) {
                    Ok(end) => {
                        prop_assert!((1..=MAX_DURATION_SEC).contains(&seconds), "accepted {seconds}");
                        // Near the end of time the end is past what chrono holds: None, not a panic.
                        if let Some(ends) = end.of(start, &zone) {
                            prop_assert_eq!((ends - start).num_seconds(), seconds);
                        }
                    }
                    Err(e) => prop_assert!(matches!(e, ScheduleError::Invalid(_)) && !(1..=MAX_DURATION_SEC).contains(&seconds)),
                }
                if let Ok(end) = End::parse(None, until.as_deref()) {
                    let _ = end.of(start, &zone);
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_recurrence_gives_a_later_start_or_none_from_any_instant() {
        TestRunner::new(config())
            .run(&(arb_instant(), 0u32..24, 0u32..60, "Europe/Berlin|America/New_York|Australia/Lord_Howe"), |(after, h, m, zone)| {
                let r = Recurrence::parse(&format!("{h:02}:{m:02}"), &zone, &[]).unwrap();
                if let Some(next) = r.next_after(after) {
                    prop_assert!(next > after.with_nanosecond(0).unwrap());
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_start_time_is_a_stored_date_within_a_year_or_refused() {
        let now = Utc::now();
        TestRunner::new(config())
            .run(&(arb_instant(), -14i32..=14), |(at, offset_h)| {
                let zone = chrono::FixedOffset::east_opt(offset_h * 3600).unwrap();
                let text = at.with_timezone(&zone).to_rfc3339();
                match broadcast::parse_start_time(&text) {
                    Ok(stored) => {
                        let stored = DateTime::parse_from_rfc3339(&stored).unwrap().with_timezone(&Utc);
                        prop_assert_eq!(stored, at);
                        prop_assert!(stored > now - chrono::Duration::minutes(2) && stored < now + chrono::Duration::days(366), "{}", text);
                    }
                    Err(e) => prop_assert!(matches!(e, BroadcastError::InvalidTime(_))),
                }
                Ok(())
            })
            .unwrap();
    }
}
