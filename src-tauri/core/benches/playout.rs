//! What an hour of 24/7 playout costs the source: a three-item playlist (a join every 10 s, each
//! with new sequence headers from another encoder's settings) against the baseline, one video
//! looped, measured in the same run.
//!
//! `cargo bench -p twitcher-core --bench playout` prepares the clips (FFmpeg, 1280x720 at 30 fps,
//! 2500 kbps), then plays `HOURS` of media time of each on tokio's paused clock (nothing waits for
//! the wall clock; time jumps to the next batch) into one destination's queue, and prints the
//! process's CPU time (user + system, every thread) per hour of media, and the ratio.

use std::path::PathBuf;
use std::time::Duration;

use twitcher_core::broadcast::fanout::Fanout;
use twitcher_core::broadcast::source::{self, Input, PlayItem, Playhead};
use twitcher_core::broadcast::{prepare, Quality};
use twitcher_core::jobs;
use twitcher_core::playlists::{Entry, PlayOrder, PlaylistOptions};
use twitcher_core::vault::KeyringPreference;
use twitcher_core::{library, profiles, Options, Twitcher};

const QUALITY: Quality = Quality { fps: 30, video_bitrate_k: 2500, audio_bitrate_k: 160, width: 1280, height: 720 };
const HOURS: u64 = 2;

/// CPU seconds this process has used so far, on every thread.
fn cpu_seconds() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn prepared(dir: &std::path::Path) -> Vec<PathBuf> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let options = Options { keyring: KeyringPreference::File, vault_key_file: None, ingest_list_url: String::new(), twitch: twitcher_core::twitch::TwitchConfig::from_env(), engine: Default::default(), database: None };
        let app = Twitcher::open_with(&dir.join("data"), options).await.unwrap();
        let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
        let clips = [
            twitcher_testkit::make_video(dir, "a", "mp4", &["-t", "10", "-vf", "scale=1280:720"]),
            twitcher_testkit::make_video(dir, "b", "mp4", &["-t", "10", "-vf", "scale=1920:1080,hue=h=90", "-r", "50"]),
            twitcher_testkit::make_video(dir, "c", "mp4", &["-t", "10", "-vf", "scale=854:480,hue=h=200", "-r", "24"]),
        ];
        let (ids, _) = library::import(&app, &ana, &clips).await.unwrap();
        let mut paths = Vec::new();
        for job in jobs::run_until_done(&app, &ids).await.unwrap() {
            let video = library::get(&app, &ana, job.video_id.expect("imported")).await.unwrap();
            paths.push(prepare::ensure_prepared(&app, &ana, &video, &QUALITY).await.unwrap());
        }
        paths
    })
}

/// Plays `input` for `HOURS` of media time; returns the CPU seconds it took.
fn play(input: impl FnOnce() -> Input + Send + 'static, looped: bool) -> f64 {
    let clock = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    clock.block_on(async move {
        let mut fanout = Fanout::new();
        let mut destination = fanout.add();
        let cancel = tokio_util::sync::CancellationToken::new();
        let (drift, _) = tokio::sync::watch::channel(0.0);
        let before = cpu_seconds();
        let player = tokio::spawn(source::run(input(), looped, QUALITY.fps, 0, fanout, cancel.clone(), drift));
        let started = tokio::time::Instant::now();
        while destination.recv().await.is_some() {
            if started.elapsed() >= Duration::from_secs(HOURS * 3600) {
                cancel.cancel();
                break;
            }
        }
        drop(destination);
        player.await.unwrap().unwrap();
        cpu_seconds() - before
    })
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let paths = prepared(dir.path());
    let headers: Vec<_> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut all = Vec::new();
        for path in &paths {
            all.push(source::read_headers(path).await.unwrap());
        }
        all
    });

    let single = paths[0].clone();
    let looped = play(move || Input::Prepared(single), true);
    let items: Vec<Option<PlayItem>> = paths.iter().zip(headers).map(|(path, headers)| Some(PlayItem { path: path.clone(), headers })).collect();
    let playlist = play(
        move || {
            let order = PlayOrder::new(3, PlaylistOptions { looped: true, ..Default::default() }, rand::rngs::OsRng).map(|e| match e {
                Entry::Item(i) => i,
                Entry::Insert => unreachable!("no insert"),
            });
            let (now_playing, _) = tokio::sync::watch::channel(None);
            let (skipped, _) = tokio::sync::mpsc::unbounded_channel();
            Input::Playlist(Playhead {
                items: std::sync::Arc::new(std::sync::RwLock::new(items)),
                order: (Box::new(order) as Box<dyn Iterator<Item = usize> + Send>).peekable(),
                now_playing,
                slate: None,
                skipped,
                filling: tokio::spawn(async {}).abort_handle(),
            })
        },
        true,
    );
    let per_hour = |cpu: f64| cpu / HOURS as f64;
    println!("source CPU per hour of playout at {}x{} {} fps {} kbps ({HOURS} h of media each):", QUALITY.width, QUALITY.height, QUALITY.fps, QUALITY.video_bitrate_k);
    println!("  one video looped (baseline)      {:>7.2} CPU-s/h", per_hour(looped));
    println!("  3-item playlist, a join per 10 s {:>7.2} CPU-s/h   ratio {:.2}", per_hour(playlist), playlist / looped);
}
