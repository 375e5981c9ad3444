use twitcher_core::playlists::{self, ItemMeta, Playlist, PlaylistOptions};
use twitcher_core::{profiles, Error, Twitcher};

use crate::args::{Global, PlaylistCommand};
use crate::output::{table, Output};

pub async fn run(app: &Twitcher, global: &Global, cmd: PlaylistCommand, out: &Output) -> Result<(), Error> {
    let actor = profiles::resolve(app, global.profile.as_deref()).await?;
    let playlist = match cmd {
        PlaylistCommand::Create { name, looped, shuffle, every, insert, slate } => {
            let created = playlists::create(app, &actor, &name).await?;
            let options = PlaylistOptions { looped, shuffle, insert_every: every, insert_video_id: insert, slate_video_id: slate };
            if options == PlaylistOptions::default() {
                created
            } else {
                match playlists::set_options(app, &actor, created.id, &options).await {
                    Ok(p) => p,
                    Err(e) => {
                        // Nothing half-made stays behind.
                        let _ = playlists::delete(app, &actor, created.id).await;
                        return Err(e.into());
                    }
                }
            }
        }
        PlaylistCommand::Add { id, video_ids, title, category, tags } => {
            let meta = ItemMeta { title, category, tags: (!tags.is_empty()).then_some(tags) };
            let mut playlist = playlists::get(app, &actor, id).await?;
            for video_id in video_ids {
                playlist = playlists::add(app, &actor, id, video_id, None, &meta).await?;
            }
            playlist
        }
        PlaylistCommand::Move { id, item_id, position } => playlists::move_item(app, &actor, id, item_id, position).await?,
        PlaylistCommand::Remove { id, item_id } => playlists::remove_item(app, &actor, id, item_id).await?,
        PlaylistCommand::Show { id } => playlists::get(app, &actor, id).await?,
        PlaylistCommand::List => {
            let all = playlists::list(app, &actor).await?;
            out.print(&all, || {
                let rows = all
                    .iter()
                    .map(|p| vec![p.id.to_string(), p.name.clone(), p.items.len().to_string(), duration(p.duration_sec), flags(p)])
                    .collect::<Vec<_>>();
                table(&["ID", "NAME", "ITEMS", "DURATION", "PLAYS"], &rows)
            });
            return Ok(());
        }
        PlaylistCommand::Delete { id } => {
            playlists::delete(app, &actor, id).await?;
            out.print(&serde_json::json!({ "deleted": id }), || format!("Deleted playlist {id}."));
            return Ok(());
        }
    };
    out.print(&playlist, || show(&playlist));
    Ok(())
}

fn duration(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) => {
            let s = s.round() as u64;
            format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        }
        None => "?".into(),
    }
}

fn flags(p: &Playlist) -> String {
    let o = &p.options;
    let mut parts = vec![if o.shuffle { "shuffled" } else { "in order" }.to_string()];
    if o.looped {
        parts.push("looped".into());
    }
    if let (Some(n), Some(video)) = (o.insert_every, o.insert_video_id) {
        parts.push(format!("video {video} every {n}"));
    }
    if let Some(video) = o.slate_video_id {
        parts.push(format!("slate: video {video}"));
    }
    parts.join(", ")
}

fn show(p: &Playlist) -> String {
    let rows = p
        .items
        .iter()
        .map(|i| {
            vec![
                i.position.to_string(),
                i.id.to_string(),
                i.video_id.to_string(),
                i.meta.title.clone().unwrap_or_else(|| i.video_title.clone()),
                duration(i.duration_sec),
            ]
        })
        .collect::<Vec<_>>();
    format!("Playlist {} “{}”: {} items, {} ({})\n{}", p.id, p.name, p.items.len(), duration(p.duration_sec), flags(p), table(&["#", "ITEM", "VIDEO", "TITLE", "DURATION"], &rows))
}
