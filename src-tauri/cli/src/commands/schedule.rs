use twitcher_core::schedules::{self, Schedule, ScheduleInput};
use twitcher_core::{profiles, Error, Twitcher};

use crate::args::{Global, ScheduleCommand};
use crate::output::{table, Output};

pub async fn run(app: &Twitcher, global: &Global, cmd: ScheduleCommand, out: &Output) -> Result<(), Error> {
    let actor = profiles::resolve(app, global.profile.as_deref()).await?;
    match cmd {
        ScheduleCommand::Create { program, at, tz, days, duration, until, twitch_schedule } => {
            // Occurrences start on time: an unprepared video is encoded live meanwhile.
            let request = super::stream::request(program, true)?;
            let input = ScheduleInput { request, at, time_zone: tz, days, duration_sec: duration.map(|d| d.as_secs().max(1) as i64), until, twitch_schedule };
            let created = schedules::create(app, &actor, &input).await?;
            out.print(&created, || {
                let mut text = format!("Schedule {} created. Next starts (UTC):\n{}", created.id, created.next.join("\n"));
                for t in &created.on_twitch {
                    text.push_str(&match &t.notice {
                        Some(notice) => format!("\naccount {}: {notice}", t.account_id),
                        None => format!("\naccount {}: on the Twitch schedule ({} weekly segment(s))", t.account_id, t.segments),
                    });
                }
                text
            });
        }
        ScheduleCommand::List => {
            let all = schedules::list(app, &actor).await?;
            out.print(&all, || {
                // A schedule set aside shows why in place of its next start.
                let next = |s: &Schedule| s.error.as_ref().map(|e| format!("skipped: {e}")).or_else(|| s.next.first().cloned()).unwrap_or_default();
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
