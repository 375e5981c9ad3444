//! A day of 24/7 playout in a minute or two: the source plays a looping playlist on tokio's
//! paused clock (it never sleeps for real; time jumps to the next batch), so 24 hours of media
//! time pass through the same code a live channel runs, into one destination's queue.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::make_video;
use twitcher_core::broadcast::fanout::Fanout;
use twitcher_core::broadcast::flv::TagKind;
use twitcher_core::broadcast::source::{self, Input, PlayItem, Playhead};
use twitcher_core::broadcast::{prepare, EngineOptions, Quality};
use twitcher_core::jobs::{self, JobStatus};
use twitcher_core::playlists::{Entry, PlayOrder, PlaylistOptions};
use twitcher_core::vault::KeyringPreference;
use twitcher_core::{library, profiles};

/// Small, so a day of media is little to read; 30 fps, so "one frame" is a strict bound.
const QUALITY: Quality = Quality { fps: 30, video_bitrate_k: 300, audio_bitrate_k: 64, width: 320, height: 180 };
const AAC_FRAME_MS: f64 = 1024.0 / 48.0;

/// Three clips of different lengths, sizes, frame rates and loudness (none a whole number of
/// audio frames long), prepared at [`QUALITY`] as a broadcast prepares them.
fn prepared_items(dir: &std::path::Path) -> Vec<PathBuf> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let app = support::open_with_engine(&dir.join("data"), KeyringPreference::File, "http://127.0.0.1:9/unreachable", EngineOptions::default()).await;
        let ana = profiles::register(&app, Some("Ana")).await.unwrap().profile;
        let clips = [
            make_video(dir, "a", "mp4", &["-t", "2.5"]),
            make_video(dir, "b", "mp4", &["-t", "3.1", "-vf", "scale=480:270", "-r", "50", "-af", "volume=0.3"]),
            make_video(dir, "c", "mp4", &["-t", "4.3", "-vf", "hue=h=120", "-r", "24"]),
        ];
        let (ids, _) = library::import(&app, &ana, &clips).await.unwrap();
        let done = jobs::run_until_done(&app, &ids).await.unwrap();
        let mut paths = Vec::new();
        for job in done {
            assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.error);
            let video = library::get(&app, &ana, job.video_id.unwrap()).await.unwrap();
            paths.push(prepare::ensure_prepared(&app, &ana, &video, &QUALITY).await.unwrap());
        }
        paths
    })
}

/// What the destination saw of one track.
#[derive(Default)]
struct Track {
    first: Option<u32>,
    last: Option<u32>,
    count: u64,
    largest_step: u32,
}

impl Track {
    fn see(&mut self, ts: u32) {
        if let Some(last) = self.last {
            assert!(ts > last, "timestamps must strictly increase: {ts} after {last}");
            self.largest_step = self.largest_step.max(ts - last);
        }
        self.first.get_or_insert(ts);
        self.last = Some(ts);
        self.count += 1;
    }

    /// How far the track's content (frames × their duration) is from where its timestamps say
    /// it ends, in ms: what a player that clocks by content drifts by.
    fn drift_ms(&self, frame_ms: f64) -> f64 {
        let (first, last) = (self.first.unwrap() as f64, self.last.unwrap() as f64);
        (first + self.count as f64 * frame_ms) - (last + frame_ms)
    }
}

#[test]
fn a_looping_playlist_plays_24_hours_with_no_drift_and_no_gap() {
    let dir = tempfile::tempdir().unwrap();
    let paths = prepared_items(dir.path());
    let clock = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    clock.block_on(async {
        let mut items = Vec::new();
        for path in paths {
            let headers = source::read_headers(&path).await.unwrap();
            items.push(Some(PlayItem { path, headers }));
        }
        let options = PlaylistOptions { looped: true, shuffle: true, ..Default::default() };
        let order = PlayOrder::new(3, options, <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7)).map(|e| match e {
            Entry::Item(i) => i,
            Entry::Insert => unreachable!("no insert"),
        });
        let (now_playing, mut joins) = tokio::sync::watch::channel(None);
        let (skipped, mut skips) = tokio::sync::mpsc::unbounded_channel();
        let playhead = Playhead {
            items: std::sync::Arc::new(std::sync::RwLock::new(items)),
            order: (Box::new(order) as Box<dyn Iterator<Item = usize> + Send>).peekable(),
            now_playing,
            slate: None,
            skipped,
            filling: tokio::spawn(async {}).abort_handle(),
        };
        let mut fanout = Fanout::new();
        let mut destination = fanout.add();
        let cancel = tokio_util::sync::CancellationToken::new();
        let (drift_tx, _drift) = tokio::sync::watch::channel(0.0);
        let started = tokio::time::Instant::now();
        let day = Duration::from_secs(24 * 3600);
        let player = tokio::spawn(source::run(Input::Playlist(playhead), true, QUALITY.fps, 0, fanout, cancel.clone(), drift_tx));
        let counting = tokio::spawn(async move {
            let mut n = 0u64;
            while joins.changed().await.is_ok() {
                n += 1;
            }
            n
        });

        let (mut video, mut audio) = (Track::default(), Track::default());
        // Media time against the clock, at every batch: the worst, and at the end.
        let (mut worst_lag_ms, mut last_lag_ms) = (0f64, 0f64);
        while let Some(slice) = destination.recv().await {
            let elapsed = started.elapsed();
            // Sequence headers go in-band at a join whose item was encoded differently: they are
            // no frames.
            for tag in slice.batch.tags[slice.from..].iter().filter(|t| !t.is_sequence_header()) {
                match tag.kind {
                    TagKind::Video => video.see(tag.timestamp),
                    TagKind::Audio => audio.see(tag.timestamp),
                    TagKind::Script => {}
                }
            }
            let batch_start = slice.batch.tags[slice.from].timestamp as f64;
            last_lag_ms = batch_start - elapsed.as_secs_f64() * 1000.0;
            worst_lag_ms = worst_lag_ms.max(last_lag_ms.abs());
            if elapsed >= day {
                cancel.cancel();
                break;
            }
        }
        drop(destination);
        player.await.unwrap().unwrap();
        let joins = counting.await.unwrap();
        assert!(skips.try_recv().is_err(), "no item was skipped");

        let frame_ms = 1000.0 / QUALITY.fps as f64;
        let media_hours = video.last.unwrap() as f64 / 3_600_000.0;
        assert!(media_hours >= 24.0, "a whole day played: {media_hours:.3} h");
        assert!(joins > 8000, "the items joined some 8,000+ times a day: {joins}");
        assert!(video.largest_step as f64 <= frame_ms + 1.0, "a video gap of {} ms", video.largest_step);
        // An item's audio rarely ends on a frame boundary: its last frame is kept or dropped (see
        // source::AudioCut), so a join may leave a gap shorter than one frame, never more.
        let audio_gap = audio.largest_step as f64 - AAC_FRAME_MS;
        assert!(audio_gap <= AAC_FRAME_MS + 1.0, "an audio gap of {audio_gap:.1} ms");
        let (v_drift, a_drift) = (video.drift_ms(frame_ms), audio.drift_ms(AAC_FRAME_MS));
        assert!(v_drift.abs() < frame_ms, "the video's frames and timestamps drifted {v_drift:.1} ms apart over the day");
        assert!(a_drift.abs() < frame_ms, "the audio's samples and timestamps drifted {a_drift:.1} ms apart over {joins} joins");
        // The two tracks end together: audio and video timestamps are no more than a frame apart
        // from what their contents say.
        let av = (audio.first.unwrap() as f64 + audio.count as f64 * AAC_FRAME_MS) - (video.first.unwrap() as f64 + video.count as f64 * frame_ms);
        let av_now = audio.last.unwrap() as f64 + AAC_FRAME_MS - (video.last.unwrap() as f64 + frame_ms);
        assert!((av - av_now).abs() < frame_ms, "audio moved {:.1} ms against the video over the day", av - av_now);
        assert!(last_lag_ms.abs() <= 100.0, "media time {last_lag_ms:.1} ms from the clock after a day");
        assert!(worst_lag_ms <= 100.0, "media time {worst_lag_ms:.1} ms from the clock at worst");
        eprintln!("24 h: {joins} joins, {} video and {} audio frames; drift: video {v_drift:.2} ms, audio {a_drift:.2} ms", video.count, audio.count);
    });
}
