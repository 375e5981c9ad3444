use std::io::Write;

use twitcher_core::broadcast::{self, BroadcastError, Quality, StartRequest, StreamState};
use twitcher_core::events::Event;
use twitcher_core::runtime::Runtime;
use twitcher_core::{profiles, Error, Twitcher};

use crate::args::{Global, ProgramArgs, QualityArgs, StreamCommand};
use crate::output::{table, Output};

pub fn quality(args: &QualityArgs) -> Result<Quality, Error> {
    let quality = Quality::with(args.fps, args.video_bitrate, args.audio_bitrate, args.resolution.as_deref());
    Ok(quality.map_err(BroadcastError::from)?)
}

/// What `stream start` and `schedule create` ask for.
pub fn request(p: ProgramArgs, live_encode: bool) -> Result<StartRequest, Error> {
    Ok(StartRequest {
        video_id: p.video,
        playlist_id: p.playlist,
        account_ids: p.accounts,
        title: p.title.unwrap_or_default(),
        category: p.category,
        tags: p.tags,
        quality: quality(&p.quality)?,
        looped: p.looped,
        live_encode,
    })
}

pub async fn run(app: &Twitcher, global: &Global, cmd: StreamCommand, out: &Output) -> Result<(), Error> {
    let actor = profiles::resolve(app, global.profile.as_deref()).await?;
    broadcast::recover(app).await?;
    match cmd {
        StreamCommand::Start { program, live_encode, at } => {
            let request = request(program, live_encode)?;
            let mut events = app.events.subscribe();
            // Alerts go to the webhook, if one is set (stderr already shows every change): the
            // core's runtime for a foreground broadcast runs them.
            let runtime = Runtime::start_foreground(app, |_| {});
            let handle = match at {
                Some(at) => {
                    let id = broadcast::schedule(app, &actor, &request, &at).await?;
                    if out.is_json() {
                        println!("{}", serde_json::json!({ "broadcast_id": id, "state": "scheduled", "scheduled_at": at }));
                    } else {
                        eprintln!("Scheduled broadcast {id} for {at}; waiting (Ctrl-C leaves it scheduled).");
                    }
                    match broadcast::start_when_due(app, &id).await {
                        Ok(handle) => handle,
                        // Its time came and another process on this data dir (the window, `serve`)
                        // started it, or it was cancelled: nothing is left for this one to do.
                        Err(e @ (BroadcastError::AlreadyStarted { .. } | BroadcastError::Cancelled { .. })) => {
                            eprintln!("{e}.");
                            return Ok(());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                None => broadcast::start(app, &actor, &request).await?,
            };
            let id = handle.broadcast_id.clone();
            let stop = handle_stop_signals(&handle);
            let done = handle.wait();
            tokio::pin!(done);
            let states = loop {
                tokio::select! {
                    states = &mut done => break states,
                    event = events.recv() => {
                        if let Ok(Event::Stream(status)) = event {
                            if status.broadcast_id == id {
                                print_status(out, &status);
                            }
                        }
                    }
                }
            };
            stop.abort();
            // Anything still queued (the final transitions) before the summary.
            while let Ok(event) = events.try_recv() {
                if let Event::Stream(status) = event {
                    if status.broadcast_id == id {
                        print_status(out, &status);
                    }
                }
            }
            // The last alerts (the broadcast's end) go out before the process does.
            runtime.shutdown(std::time::Duration::from_secs(5)).await;
            let failed = states.values().filter(|s| **s != StreamState::Ended).count();
            if failed > 0 {
                return Err(BroadcastError::DestinationsFailed { failed, total: states.len() }.into());
            }
        }
        StreamCommand::Cancel { broadcast_id } => {
            let n = broadcast::cancel(app, &actor, &broadcast_id).await?;
            out.print(&serde_json::json!({ "cancelled": n }), || format!("Cancelled {n} scheduled stream(s)."));
        }
        StreamCommand::Stop { broadcast_id, account, all } => {
            let target = match broadcast_id {
                Some(broadcast_id) if !all => broadcast::StopTarget::Broadcast { broadcast_id, account_id: account },
                _ => broadcast::StopTarget::All,
            };
            let n = broadcast::stop(app, &actor, target).await?;
            out.print(&serde_json::json!({ "stopped": n }), || format!("Ordered {n} stream(s) to stop."));
        }
        StreamCommand::List { limit, offset } => {
            let rows = broadcast::list(app, &actor, limit, offset).await?;
            out.print(&rows, || {
                let rows: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            r.account_name.clone().unwrap_or_else(|| "(removed)".into()),
                            match &r.playlist_name {
                                Some(name) => format!("playlist “{name}”"),
                                None => r.video_title.clone().unwrap_or_else(|| "(removed)".into()),
                            },
                            r.status.as_str().to_string(),
                            r.now_playing.clone().unwrap_or_else(|| "-".into()),
                            r.up_next.clone().unwrap_or_else(|| "-".into()),
                            r.started_at.clone().unwrap_or_default(),
                            r.reconnects.to_string(),
                            format!("{:.1} MB", r.bytes_sent as f64 / 1048576.0),
                        ]
                    })
                    .collect();
                table(&["ID", "ACCOUNT", "VIDEO", "STATE", "NOW PLAYING", "UP NEXT", "STARTED", "RECONNECTS", "SENT"], &rows)
            });
        }
        StreamCommand::AfterCrash { policy } => {
            if let Some(policy) = policy {
                let value = if policy == "restart" { broadcast::AfterCrash::Restart } else { broadcast::AfterCrash::Fail };
                broadcast::set_after_crash(app, &actor, value).await?;
            }
            let current = broadcast::after_crash(app).await?;
            out.print(&serde_json::json!({ "after_crash": current }), || match current {
                broadcast::AfterCrash::Fail => "After a crash, interrupted broadcasts are marked failed.".to_string(),
                broadcast::AfterCrash::Restart => "After a crash, interrupted broadcasts start again.".to_string(),
            });
        }
        StreamCommand::Loudness { target } => {
            if let Some(target) = target {
                broadcast::loudness::set_target(app, &actor, target).await?;
            }
            let current = broadcast::loudness::target(app).await.map_err(Error::from)?;
            out.print(&serde_json::json!({ "target_lufs": current }), || format!("Videos are prepared at {current:.1} LUFS integrated."));
        }
        StreamCommand::Logs { id } => {
            let log = broadcast::logs(app, &actor, id).await?;
            let json: Vec<_> = log.iter().map(|(at, level, message)| serde_json::json!({ "at": at, "level": level, "message": message })).collect();
            out.print(&json, || log.iter().map(|(at, level, m)| format!("{at}  {level:<5}  {m}")).collect::<Vec<_>>().join("\n"));
        }
    }
    Ok(())
}

/// One JSON line per status (CLI.md's keys and a few more), or a line for people.
fn print_status(out: &Output, s: &broadcast::StreamStatus) {
    if out.is_json() {
        println!("{}", serde_json::to_string(s).expect("serializable"));
    } else {
        println!(
            "stream {:>4}  {:<12} {:>7.0} kbps  {:>8.1} MB  reconnects {}{}{}",
            s.stream_id,
            s.state.as_str(),
            s.bitrate_kbps,
            s.bytes_sent / 1048576.0,
            s.reconnects,
            s.now_playing.as_deref().map(|t| format!("  ▶ {t}")).unwrap_or_default(),
            s.error.as_deref().map(|e| format!("  ({e})")).unwrap_or_default()
        );
    }
    let _ = std::io::stdout().flush();
}

/// Ctrl-C and SIGTERM stop the broadcast gracefully (each destination ends its publish).
fn handle_stop_signals(handle: &broadcast::BroadcastHandle) -> tokio::task::JoinHandle<()> {
    let stopper = handle.stopper();
    tokio::spawn(async move {
        super::stop_requested().await;
        stopper.cancel();
    })
}
