//! The system tray: an icon that says idle, live or trouble at a glance, and a menu to act
//! without the window — "N live", stop one broadcast, start the next scheduled one now, Stop all
//! (asks first), Show window, Quit (asks when live, then ends every stream gracefully). Closing the
//! window while streams are live hides it here instead of quitting (Settings → Streams).
//!
//! The menu is rebuilt from the core's state whenever a destination changes state; the tooltip
//! also sums up running jobs (imports, preparations, uploads) with their progress.

use std::collections::HashMap;

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};
use twitcher_core::broadcast::StreamState;
use twitcher_core::events::Event;
use twitcher_core::Twitcher;

pub const TRAY_ID: &str = "twitcher";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Health {
    Idle,
    Live,
    Trouble,
}

/// The app icon with a status dot in its corner (none when idle): no extra image files.
fn icon(base: &Image<'_>, health: Health) -> Image<'static> {
    let (w, h) = (base.width(), base.height());
    let mut rgba = base.rgba().to_vec();
    let color = match health {
        Health::Idle => return Image::new_owned(rgba, w, h),
        Health::Live => [0xef, 0x44, 0x44, 0xff],
        Health::Trouble => [0xf5, 0x9e, 0x0b, 0xff],
    };
    let r = (w.min(h) as f32 * 0.22) as i64;
    let (cx, cy) = (w as i64 - r - 1, h as i64 - r - 1);
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                let i = ((y * w as i64 + x) * 4) as usize;
                rgba[i..i + 4].copy_from_slice(&color);
            }
        }
    }
    Image::new_owned(rgba, w, h)
}

pub fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Creates the tray icon and keeps it up to date from the core's events.
pub fn install(app: &AppHandle, core: Twitcher) -> tauri::Result<()> {
    let base = app.default_window_icon().cloned().map(|i| i.to_owned()).unwrap_or_else(|| Image::new_owned(vec![0; 4 * 16 * 16], 16, 16));
    let menu = Menu::with_items(app, &[&MenuItem::with_id(app, "show", "Show window", true, None::<&str>)?])?;
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(&base, Health::Idle))
        .tooltip("Twitcher — nothing live")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(move |app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut events = core.events.subscribe();
        let mut seen = Seen::default();
        refresh(&handle, &tray, &core, &base, &mut seen).await;
        // What another process (the CLI, `serve`) schedules on this data dir arrives as a
        // ScheduleChanged event too: the core's runtime watches for it.
        loop {
            let event = events.recv().await;
            let changed = match event {
                Ok(Event::Stream(s)) => {
                    let item = s.now_playing.clone().map(|now| (now, s.up_next.clone()));
                    let moved = match item {
                        Some(item) if !s.state.is_final() => seen.playing.insert(s.broadcast_id.clone(), item.clone()) != Some(item),
                        _ => false,
                    };
                    (seen.states.insert(s.stream_id, s.state) != Some(s.state)) || moved
                }
                Ok(Event::Job(j)) => {
                    if j.status.is_finished() {
                        seen.jobs.remove(&j.job_id);
                    } else {
                        seen.jobs.insert(j.job_id, (j.label.clone(), j.progress));
                    }
                    true
                }
                Ok(Event::ScheduledStarted { .. } | Event::ScheduleChanged { .. }) => true,
                Ok(_) => false,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if changed {
                seen.states.retain(|_, s| !s.is_final());
                let running = core.broadcasts().ids();
                seen.playing.retain(|id, _| running.contains(id));
                refresh(&handle, &tray, &core, &base, &mut seen).await;
            }
        }
    });
    Ok(())
}

/// What the tray has learnt from the core's events, and what its menu shows.
#[derive(Default)]
struct Seen {
    states: HashMap<i64, StreamState>,
    jobs: HashMap<i64, (String, f64)>,
    /// A playlist broadcast's (now playing, up next), by broadcast id.
    playing: HashMap<String, (String, Option<String>)>,
    /// The menu's content now: it is rebuilt only when that changes, never under a person who
    /// has it open because an event repeated what it already says.
    menu: String,
}

async fn refresh(app: &AppHandle, tray: &TrayIcon, core: &Twitcher, base: &Image<'_>, seen: &mut Seen) {
    let Seen { states, jobs, playing, menu: shown } = seen;
    let running = core.broadcasts().ids();
    let health = if running.is_empty() {
        Health::Idle
    } else if states.values().any(|s| matches!(s, StreamState::Reconnecting | StreamState::Failed)) {
        Health::Trouble
    } else {
        Health::Live
    };
    let mut titles = Vec::new();
    for id in &running {
        titles.push((id.clone(), twitcher_core::broadcast::title(&core, id).await.ok().flatten().unwrap_or_else(|| "broadcast".into())));
    }
    let next = twitcher_core::broadcast::next_scheduled(&core).await.ok().flatten();
    let mut tooltip = match (running.len(), health) {
        (0, _) => "Twitcher — nothing live".to_string(),
        (n, Health::Trouble) => format!("Twitcher — {n} live, a channel is reconnecting"),
        (n, _) => format!("Twitcher — {n} live"),
    };
    let titles: Vec<(String, String, Option<String>)> = titles
        .into_iter()
        .map(|(id, title)| {
            let line = playing.get(&id).map(|(now, next)| now_playing_line(&title, now, next.as_deref()));
            (id, title, line)
        })
        .collect();
    for line in titles.iter().filter_map(|(_, _, line)| line.as_ref()) {
        tooltip.push('\n');
        tooltip.push_str(line);
    }
    if !jobs.is_empty() {
        let average = jobs.values().map(|(_, p)| p).sum::<f64>() / jobs.len() as f64;
        tooltip.push_str(&format!("\n{} job(s) running, {:.0} % done", jobs.len(), average * 100.0));
    }
    let content = format!("{titles:?}{next:?}");
    if *shown != content {
        match build_menu(app, &titles, next.as_ref()) {
            Ok(menu) => {
                let _ = tray.set_menu(Some(menu));
                *shown = content;
            }
            Err(e) => tracing::warn!(error = %e, "could not build the tray menu"),
        }
    }
    let _ = tray.set_icon(Some(icon(base, health)));
    let _ = tray.set_tooltip(Some(tooltip));
}

/// A playlist broadcast's "now playing" and "up next", for the tooltip and the menu (Linux trays
/// show no tooltip).
fn now_playing_line(title: &str, now: &str, next: Option<&str>) -> String {
    match next {
        Some(next) => format!("“{title}”: now {now}, next {next}"),
        None => format!("“{title}”: now {now} (last item)"),
    }
}

fn build_menu(app: &AppHandle, running: &[(String, String, Option<String>)], next: Option<&(String, String, String)>) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(app)?;
    let header = match running.len() {
        0 => "Nothing live".to_string(),
        n => format!("{n} live"),
    };
    menu.append(&MenuItem::with_id(app, "header", header, false, None::<&str>)?)?;
    for (id, title, playing) in running {
        if let Some(line) = playing {
            menu.append(&MenuItem::with_id(app, format!("playing:{id}"), line, false, None::<&str>)?)?;
        }
        menu.append(&MenuItem::with_id(app, format!("stop:{id}"), format!("Stop “{title}”"), true, None::<&str>)?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let next_label = match next {
        Some((_, title, _)) => format!("Start “{title}” now"),
        None => "Start next scheduled now".to_string(),
    };
    menu.append(&MenuItem::with_id(app, "start-next", next_label, next.is_some(), None::<&str>)?)?;
    menu.append(&MenuItem::with_id(app, "stop-all", "Stop all…", !running.is_empty(), None::<&str>)?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, "show", "Show window", true, None::<&str>)?)?;
    menu.append(&MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?)?;
    Ok(menu)
}

fn core_of(app: &AppHandle) -> Option<Twitcher> {
    app.state::<crate::commands::AppState>().core().ok().cloned()
}

fn on_menu(app: &AppHandle, id: &str) {
    let Some(core) = core_of(app) else { return };
    match id {
        "show" => show_window(app),
        "stop-all" => {
            let n = core.broadcasts().count();
            app.dialog()
                .message(format!("Stop all {n} live broadcast(s)? Every channel ends its stream."))
                .title("Stop all")
                .kind(MessageDialogKind::Warning)
                .buttons(MessageDialogButtons::OkCancelCustom("Stop all".into(), "Keep streaming".into()))
                .show(move |yes| {
                    if yes {
                        stop_here(core, None);
                    }
                });
        }
        "start-next" => {
            tauri::async_runtime::spawn(async move {
                let Ok(Some((broadcast_id, _, _))) = twitcher_core::broadcast::next_scheduled(&core).await else { return };
                match twitcher_core::broadcast::start_scheduled(&core, &broadcast_id).await {
                    Ok(handle) => handle.detach(&core),
                    Err(e) => tracing::warn!(error = %e, "could not start the scheduled broadcast"),
                }
            });
        }
        "quit" => quit(app),
        other => {
            if let Some(broadcast_id) = other.strip_prefix("stop:") {
                stop_here(core, Some(broadcast_id.to_string()));
            }
        }
    }
}

/// Orders the stop in the database (so every process sees why the streams ended) and carries it
/// out here at once.
fn stop_here(core: Twitcher, broadcast_id: Option<String>) {
    tauri::async_runtime::spawn(async move {
        if let Err(e) = twitcher_core::broadcast::stop_here(&core, broadcast_id.as_deref()).await {
            tracing::warn!(error = %e, "could not stop from the tray");
        }
    });
}

/// Quits, asking first when streams are live (they then end gracefully on exit).
pub fn quit(app: &AppHandle) {
    let live = core_of(app).map(|c| c.broadcasts().count()).unwrap_or(0);
    if live == 0 {
        app.exit(0);
        return;
    }
    let handle = app.clone();
    app.dialog()
        .message(format!("{live} broadcast(s) are live. Quitting ends them on every channel."))
        .title("Quit Twitcher?")
        .kind(MessageDialogKind::Warning)
        .buttons(MessageDialogButtons::OkCancelCustom("Stop streams and quit".into(), "Keep streaming".into()))
        .show(move |yes| {
            if yes {
                handle.exit(0);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::now_playing_line;

    #[test]
    fn the_now_playing_line_names_the_broadcast_the_item_and_the_next_one() {
        assert_eq!(now_playing_line("Night shift", "Intro", Some("Part 2")), "“Night shift”: now Intro, next Part 2");
        assert_eq!(now_playing_line("Night shift", "Outro", None), "“Night shift”: now Outro (last item)");
    }
}
