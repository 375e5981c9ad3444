//! How fast the library answers with 10,000 videos (goal: under 50 ms per search).
//!
//! `cargo bench -p twitcher-core --bench library_search` prints, for each query, the median of 30
//! runs and its ratio to a baseline measured in the same run: counting the profile's rows, the
//! cheapest query that still touches every row.

use std::time::{Duration, Instant};

use twitcher_core::db::videos::NewVideo;
use twitcher_core::library::{self, Sort, VideoQuery};
use twitcher_core::media::{Container, MediaInfo};
use twitcher_core::profiles;
use twitcher_core::vault::KeyringPreference;
use twitcher_core::{Options, Twitcher};

const VIDEOS: usize = 10_000;
const RUNS: usize = 30;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { keyring: KeyringPreference::File, vault_key_file: None, ingest_list_url: String::new(), twitch: twitcher_core::twitch::TwitchConfig::from_env(), engine: Default::default(), database: None };
    let app = Twitcher::open_with(dir.path(), options).await.unwrap();
    let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
    let words = ["speedrun", "morning", "stream", "highlights", "tutorial", "music", "retro", "cooking"];
    let containers = Container::ALL;
    let started = Instant::now();
    for i in 0..VIDEOS {
        let title = format!("{} {} part {i}", words[i % words.len()], words[(i / 7) % words.len()]);
        let info = MediaInfo {
            container: containers[i % containers.len()],
            duration_sec: 30.0 + (i % 5000) as f64,
            width: [640, 1280, 1920][i % 3],
            height: [360, 720, 1080][i % 3],
            fps: 30.0,
            codec_video: "h264".into(),
            codec_audio: Some("aac".into()),
            bitrate: Some(4_000_000),
        };
        let hash = format!("{i:064x}");
        let video = NewVideo {
            uploader_id: ana.id,
            title: &title,
            local_path: &format!("/videos/{i}.mp4"),
            content_hash: &hash,
            size_bytes: 1_000_000 + i as i64 * 997,
            thumbnail: None,
            info: &info,
        };
        app.testing_db().insert_video(&video).await.unwrap();
    }
    println!("inserted {VIDEOS} videos in {:.1} s", started.elapsed().as_secs_f64());

    let time = |query: VideoQuery| {
        let (app, ana) = (app.clone(), ana.clone());
        async move {
            let mut samples = Vec::with_capacity(RUNS);
            let mut total = 0;
            for _ in 0..RUNS {
                let t = Instant::now();
                total = library::list(&app, &ana, &query).await.unwrap().total;
                samples.push(t.elapsed());
            }
            (median(samples), total)
        }
    };
    let baseline = {
        let mut samples = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            app.testing_db().storage_used(ana.id).await.unwrap();
            samples.push(t.elapsed());
        }
        median(samples)
    };
    println!("baseline (sum over the profile's rows): {:.2} ms", baseline.as_secs_f64() * 1e3);
    let cases: Vec<(&str, VideoQuery)> = vec![
        ("search 'stream', newest first", VideoQuery { search: Some("stream".into()), ..Default::default() }),
        ("search 'part 99', by title", VideoQuery { search: Some("part 99".into()), sort: Sort::Title, ..Default::default() }),
        ("format webm + min 720p, by size", VideoQuery { format: Some(Container::Webm), min_height: Some(720), sort: Sort::Size, ..Default::default() }),
        ("duration 60..600 s, page 50", VideoQuery { min_duration_sec: Some(60.0), max_duration_sec: Some(600.0), offset: 2500, ..Default::default() }),
        ("everything, by duration", VideoQuery { sort: Sort::Duration, ..Default::default() }),
    ];
    println!("{:<36} {:>9} {:>8} {:>9}  goal < 50 ms", "query", "median", "ratio", "matches");
    for (name, query) in cases {
        let (elapsed, total) = time(query).await;
        let ms = elapsed.as_secs_f64() * 1e3;
        println!(
            "{name:<36} {ms:>7.2} ms {:>7.1}x {total:>9}  {}",
            elapsed.as_secs_f64() / baseline.as_secs_f64(),
            if ms < 50.0 { "ok" } else { "SLOW" }
        );
    }
}
