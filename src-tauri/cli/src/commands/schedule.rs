use twitcher_core::schedules::{self, Schedule, ScheduleInput};
use twitcher_core::{profiles, Error, Twitcher};

use crate::args::{Global, ScheduleArgs, ScheduleCommand};
use crate::output::{table, Output};

pub async fn run(app: &Twitcher, global: &Global, cmd: ScheduleCommand, out: &Output) -> Result<(), Error> {
    let actor = profiles::resolve(app, global.profile.as_deref()).await?;
    match cmd {
        ScheduleCommand::Create(schedule) => {
            let created = schedules::create(app, &actor, &input(schedule)?).await?;
            out.print(&created, || described(&created, "created"));
        }
        ScheduleCommand::Update { id, schedule } => {
            let updated = schedules::update(app, &actor, id, &input(schedule)?).await?;
            out.print(&updated, || described(&updated, "changed"));
        }
        ScheduleCommand::Pause { id } => {
            let paused = schedules::pause(app, &actor, id).await?;
            out.print(&paused, || format!("Schedule {id} paused: it starts nothing until `twitcher schedule resume {id}`."));
        }
        ScheduleCommand::Resume { id } => {
            let resumed = schedules::resume(app, &actor, id).await?;
            out.print(&resumed, || described(&resumed, "resumed"));
        }
        ScheduleCommand::List => {
            let all = schedules::list(app, &actor).await?;
            out.print(&all, || {
                // A schedule set aside shows why in place of its next start.
                let next = |s: &Schedule| match (&s.error, s.paused) {
                    (Some(e), _) => format!("skipped: {e}"),
                    (None, true) => "paused".to_string(),
                    (None, false) => s.next.first().cloned().unwrap_or_default(),
                };
                let rows = all.iter().map(|s| vec![s.id.to_string(), when(s), next(s)]).collect::<Vec<_>>();
                table(&["ID", "WHEN", "NEXT (UTC)"], &rows)
            });
        }
        ScheduleCommand::Delete { id } => {
            schedules::delete(app, &actor, id).await?;
            out.print(&serde_json::json!({ "deleted": id }), || format!("Deleted schedule {id}."));
        }
    }
    Ok(())
}

fn input(schedule: ScheduleArgs) -> Result<ScheduleInput, Error> {
    let ScheduleArgs { program, at, tz, days, duration, until, twitch_schedule } = schedule;
    // Occurrences start on time: an unprepared video is encoded live meanwhile.
    let request = super::stream::request(program, true)?;
    Ok(ScheduleInput { request, at, time_zone: tz, days, duration_sec: duration.map(|d| d.as_secs().max(1) as i64), until, twitch_schedule })
}

/// "Schedule 3 created. Next starts (UTC): …", and where it is on Twitch's schedule.
fn described(schedule: &Schedule, what: &str) -> String {
    let mut text = format!("Schedule {} {what}. Next starts (UTC):\n{}", schedule.id, schedule.next.join("\n"));
    for t in &schedule.on_twitch {
        text.push_str(&match &t.notice {
            Some(notice) => format!("\naccount {}: {notice}", t.account_id),
            None => format!("\naccount {}: on the Twitch schedule ({} weekly segment(s))", t.account_id, t.segments),
        });
    }
    text
}

/// "mon,wed 20:00 Europe/Berlin for 2h".
fn when(s: &Schedule) -> String {
    let days = if s.days.is_empty() { "daily".to_string() } else { s.days.join(",") };
    let end = match (s.duration_sec, &s.until) {
        (Some(d), _) => format!(" for {}", humantime::format_duration(std::time::Duration::from_secs(d as u64))),
        (_, Some(u)) => format!(" until {u}"),
        _ => String::new(),
    };
    format!("{days} {} {}{end}", s.at, s.time_zone)
}
