use std::io::{IsTerminal, Write};

use twitcher_core::events::Event;
use twitcher_core::jobs::{self, JobStatus};
use twitcher_core::library::{self, LibraryError, Sort, Video, VideoQuery};
use twitcher_core::media::Container;
use twitcher_core::storage::{self, StorageError};
use twitcher_core::{profiles, Error, ErrorBody, Twitcher};

use crate::args::{Global, SortArg, VideoCommand};
use crate::output::{table, Output};

pub async fn run(app: &Twitcher, global: &Global, cmd: VideoCommand, out: &Output) -> Result<(), Error> {
    let actor = profiles::resolve(app, global.profile.as_deref()).await?;
    match cmd {
        VideoCommand::Import { paths } => {
            let total = paths.len();
            let progress = (!out.is_json() && std::io::stderr().is_terminal()).then(|| show_progress(app));
            let outcome = library::import_and_wait(app, &actor, &paths).await.map_err(Error::from)?;
            if let Some(task) = progress {
                task.abort();
                eprint!("\r\x1b[K");
            }
            for failure in &outcome.failed {
                out.error_body(&ErrorBody { code: failure.code, message: failure.message.clone() });
            }
            let (imported, failed) = (outcome.imported, outcome.failed.len());
            out.print(&imported, || match imported.is_empty() {
                true => format!("Imported 0 of {total} files."),
                false => format!("Imported {} of {total} files.\n{}", imported.len(), rows(&imported)),
            });
            if failed > 0 {
                return Err(LibraryError::ImportFailed { failed, total }.into());
            }
        }
        VideoCommand::List { search, format, min_duration, max_duration, min_height, sort, asc, limit, offset } => {
            let format = match format {
                Some(f) => Some(Container::from_extension(&f).ok_or_else(|| {
                    Error::from(LibraryError::InvalidFormat(f.chars().take(16).collect()))
                })?),
                None => None,
            };
            let query = VideoQuery {
                search,
                format,
                min_duration_sec: min_duration,
                max_duration_sec: max_duration,
                min_height,
                sort: match sort {
                    SortArg::Date => Sort::Date,
                    SortArg::Title => Sort::Title,
                    SortArg::Duration => Sort::Duration,
                    SortArg::Size => Sort::Size,
                },
                descending: !asc,
                limit: limit.unwrap_or(VideoQuery::DEFAULT_LIMIT),
                offset,
                ..Default::default()
            };
            let page = library::list(app, &actor, &query).await?;
            out.print(&page.items, || {
                format!("{}\n\n{} of {} videos", rows(&page.items), page.items.len(), page.total)
            });
        }
        VideoCommand::Show { id } => {
            let video = library::get(app, &actor, id).await?;
            out.print(&video, || details(&video));
        }
        VideoCommand::Edit { id, title, description } => {
            let current = library::get(app, &actor, id).await?;
            let video = library::update(
                app,
                &actor,
                id,
                title.as_deref().unwrap_or(&current.title),
                description.as_deref().unwrap_or(&current.description),
            )
            .await?;
            out.print(&video, || details(&video));
        }
        VideoCommand::Remove { id } => {
            library::remove(app, &actor, id).await?;
            out.print(&serde_json::json!({ "removed": id }), || format!("Removed video {id}."));
        }
        VideoCommand::Upload { id } => {
            let job = storage::upload(app, &actor, id).await?;
            let progress = (!out.is_json() && std::io::stderr().is_terminal()).then(|| show_progress(app));
            // Ctrl-C stops the upload between parts; the next `video upload` resumes from there.
            let interrupt = {
                let app = app.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        let _ = jobs::cancel(&app, job).await;
                    }
                })
            };
            let finished = jobs::run_until_done(app, &[job]).await.map_err(Error::from)?;
            interrupt.abort();
            if let Some(task) = progress {
                task.abort();
                eprint!("\r\x1b[K");
            }
            let video = library::get(app, &actor, id).await?;
            match finished[0].status {
                JobStatus::Succeeded => out.print(&video, || format!("Uploaded: {}", video.s3_key.as_deref().unwrap_or(""))),
                JobStatus::Cancelled => {
                    return Err(StorageError::S3("upload interrupted: run `twitcher video upload` again to resume".into()).into())
                }
                _ => return Err(StorageError::S3(finished[0].error.clone().unwrap_or_default()).into()),
            }
        }
        VideoCommand::Prepare { id, quality } => {
            let quality = super::stream::quality(&quality)?;
            let video = library::get(app, &actor, id).await?;
            let progress = (!out.is_json() && std::io::stderr().is_terminal()).then(|| show_progress(app));
            let path = twitcher_core::broadcast::prepare::ensure_prepared(app, &actor, &video, &quality).await;
            if let Some(task) = progress {
                task.abort();
                eprint!("\r\x1b[K");
            }
            let path = path?;
            out.print(&serde_json::json!({ "video_id": id, "status": "ready", "path": path }), || {
                format!("Ready: {}", path.display())
            });
        }
        VideoCommand::Fetch { id } => {
            let video = library::get(app, &actor, id).await?;
            let path = storage::ensure_local(app, &video).await?;
            out.print(&serde_json::json!({ "id": id, "local_path": path }), || format!("Local copy: {}", path.display()));
        }
    }
    Ok(())
}

/// Prints one line per running import on a terminal: "clip.mp4  42 %  ~3 s left".
fn show_progress(app: &Twitcher) -> tokio::task::JoinHandle<()> {
    let mut events = app.events.subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let Event::Job(job) = event {
                let eta = job.eta_sec.map(|s| format!("  ~{} s left", s.ceil())).unwrap_or_default();
                eprint!("\r\x1b[K{}  {:>3.0} %{eta}", job.label, job.progress * 100.0);
                let _ = std::io::stderr().flush();
            }
        }
    })
}

fn human_duration(sec: Option<f64>) -> String {
    let Some(sec) = sec else { return "-".into() };
    let s = sec.round() as i64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn rows(videos: &[Video]) -> String {
    let rows: Vec<Vec<String>> = videos
        .iter()
        .map(|v| {
            vec![
                v.id.to_string(),
                v.title.clone(),
                v.container.map(|c| c.extension().to_string()).unwrap_or_default(),
                human_duration(v.duration_sec),
                format!("{}x{}", v.width.unwrap_or(0), v.height.unwrap_or(0)),
                format!("{:.1} MB", v.size_bytes as f64 / 1048576.0),
                format!("{:?}", v.status).to_lowercase(),
            ]
        })
        .collect();
    table(&["ID", "TITLE", "FORMAT", "DURATION", "RESOLUTION", "SIZE", "STATUS"], &rows)
}

fn details(v: &Video) -> String {
    let mut lines = vec![
        format!("{} (video {})", v.title, v.id),
        format!("status       {}", format!("{:?}", v.status).to_lowercase()),
        format!("format       {}", v.container.map(|c| c.extension()).unwrap_or("-")),
        format!("duration     {}", human_duration(v.duration_sec)),
        format!("resolution   {}x{} at {} fps", v.width.unwrap_or(0), v.height.unwrap_or(0), v.fps.unwrap_or(0.0)),
        format!(
            "codecs       {} / {}",
            v.codec_video.as_deref().unwrap_or("-"),
            v.codec_audio.as_deref().unwrap_or("no audio")
        ),
        format!("size         {:.1} MB", v.size_bytes as f64 / 1048576.0),
        format!("stored       {} {}", serde_json::to_value(v.storage).unwrap_or_default().as_str().unwrap_or(""), v.local_path.as_deref().unwrap_or("")),
    ];
    if !v.description.is_empty() {
        lines.push(String::new());
        lines.push(v.description.clone());
    }
    lines.join("\n")
}
