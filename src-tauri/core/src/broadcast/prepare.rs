//! Preparing a video for Twitch once per quality: a remux (`-c copy`) when the file already
//! complies, a transcode otherwise, into an FLV that the source reads without encoding anything.
//! Runs as a durable job; the result is cached in `prepared_media` and reused by every stream.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{loudness, BroadcastError, Quality};
use crate::db::broadcast::PreparedStatus;
use crate::jobs::{self, JobContext, JobError, JobOutcome};
use crate::library::Video;
use crate::media::runner::{Ended, Ffmpeg, Output, Report};
use crate::media::{self, limits, Tool};
use crate::profiles::Profile;
use crate::Twitcher;

pub const KIND_PREPARE: &str = "prepare";
const PREPARED_DIR: &str = crate::config::folders::PREPARED;

#[derive(Debug, Serialize, Deserialize)]
struct PreparePayload {
    profile_id: i64,
    video_id: i64,
    quality: Quality,
    label: String,
}

/// The prepared file for `video` at `quality`, making it first if needed (waiting for the job).
pub async fn ensure_prepared(app: &Twitcher, actor: &Profile, video: &Video, quality: &Quality) -> Result<PathBuf, BroadcastError> {
    if let Some(path) = ready(app, video.id, quality).await? {
        return Ok(path);
    }
    let job = enqueue(app, actor, video, quality).await?;
    let done = jobs::run_until_done(app, &[job]).await?;
    match done[0].status {
        jobs::JobStatus::Succeeded => ready(app, video.id, quality)
            .await?
            .ok_or_else(|| BroadcastError::Prepare("the prepared file disappeared".into())),
        _ => Err(BroadcastError::Prepare(done[0].error.clone().unwrap_or_else(|| "cancelled".into()))),
    }
}

/// The prepared copy of a video at a quality, if one was made: where it was made, else (another
/// machine of a fleet made it) this machine's copy of the one in the bucket.
pub(crate) async fn ready(app: &Twitcher, video_id: i64, quality: &Quality) -> Result<Option<PathBuf>, BroadcastError> {
    let key = prepared_key(app, quality).await?;
    let Some(path) = app.db.prepared_path(video_id, &key).await?.map(PathBuf::from) else {
        return Ok(None);
    };
    // In use now: it goes last when the cache must shrink.
    app.db.touch_prepared(video_id, &key).await?;
    if path.is_file() {
        return Ok(Some(path));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !crate::storage::shares_media(app).await {
        return Ok(None);
    }
    Ok(crate::storage::fetch_prepared(app, &name).await?)
}

/// A prepared file's cache key: the quality and the loudness target it was made for.
async fn prepared_key(app: &Twitcher, quality: &Quality) -> Result<String, BroadcastError> {
    Ok(format!("{}-{}", quality.key(), loudness::key(loudness::target(app).await?)))
}

/// Queues a preparation (or joins the one already queued or running); returns the job id.
pub async fn enqueue(app: &Twitcher, actor: &Profile, video: &Video, quality: &Quality) -> Result<i64, BroadcastError> {
    quality.validate()?;
    let payload = PreparePayload { profile_id: actor.id, video_id: video.id, quality: *quality, label: format!("{} ({})", video.title, quality.label()) };
    // One preparation per video and quality at a time: a second request joins the open job.
    let key = format!("{KIND_PREPARE}/{}/{}", video.id, quality.key());
    Ok(jobs::enqueue_once(app, KIND_PREPARE, Some(&key), &payload).await?)
}

pub(crate) async fn run_prepare_job(ctx: &mut JobContext<'_>) -> Result<JobOutcome, JobError> {
    let payload: PreparePayload = ctx.payload()?;
    ctx.set_label(payload.label.clone(), Some(payload.profile_id));
    let app = ctx.app;
    let video = ctx.video(payload.profile_id, payload.video_id).await?;
    let key = prepared_key(app, &payload.quality).await.map_err(|e| JobError::transient(e.to_string()))?;
    let fail = |message: String| JobError::permanent(format!("{}: {message}", video.title));
    let source = crate::storage::ensure_local(app, &video).await.map_err(|e| JobError::transient(e.to_string()))?;
    app.db.set_prepared(video.id, &key, PreparedStatus::Running, None, None).await?;

    let dir = app.data_dir().join(PREPARED_DIR);
    tokio::fs::create_dir_all(&dir).await.map_err(|e| JobError::transient(e.to_string()))?;
    let name = format!("{}-{key}.flv", video.content_hash.as_deref().unwrap_or("video"));
    let target = dir.join(&name);
    let part = dir.join(format!(".{name}.part"));
    let remux = complies(&source, &payload.quality).await;
    // The first of loudnorm's two passes; the second runs within the preparation below.
    let target_lufs = loudness::target(app).await?;
    let measured = match video.codec_audio.is_some() {
        true => loudness::measure(&source, target_lufs).await.map_err(|e| match e.killed {
            true => killed(&video.title, &e.message),
            false => fail(e.message),
        })?,
        false => None,
    };
    ctx.progress(0.05).await;
    let audio_filter = measured.as_ref().map(|m| loudness::filter(target_lufs, Some(m)));
    let args = match remux {
        true => remux_args(&source, &payload.quality, audio_filter.as_deref()),
        false => transcode_args(&source, &payload.quality, video.codec_audio.is_some(), audio_filter.as_deref()),
    };
    let result = run_ffmpeg(ctx, args, &part, video.duration_sec.unwrap_or(0.0)).await;
    if let Err(stopped) = result {
        // FFmpeg names the input by its path in the data dir: not for the user's eyes.
        let message = stopped.message.replace(&source.display().to_string(), "the file");
        let _ = tokio::fs::remove_file(&part).await;
        if stopped.killed {
            return Err(killed(&video.title, &message));
        }
        app.db.set_prepared(video.id, &key, PreparedStatus::Failed, None, Some(&message)).await?;
        return Err(fail(message));
    }
    tokio::fs::rename(&part, &target).await.map_err(|e| JobError::transient(e.to_string()))?;
    // On a fleet the other nodes fetch it from the bucket: stored there before it is marked
    // ready. Should that fail, this node still has it; another node that needs it prepares again.
    if crate::storage::shares_media(app).await {
        if let Err(e) = crate::storage::put_prepared(app, &target).await {
            tracing::warn!(video_id = video.id, error = %e, "could not store the prepared copy in S3: the other nodes will prepare their own");
        }
    }
    app.db.set_prepared(video.id, &key, PreparedStatus::Ready, Some(&target.to_string_lossy()), None).await?;
    let size = tokio::fs::metadata(&target).await.map(|m| m.len()).unwrap_or(0);
    app.db.set_prepared_size(video.id, &key, size).await?;
    tracing::info!(video_id = video.id, quality = %key, remux, normalised = measured.is_some(), "video prepared");
    // The cache stays within its bounds (this copy, just used, goes last).
    if let Err(e) = evict(app, Some((video.id, &key))).await {
        tracing::warn!(error = %e, "could not keep the prepared copies within their budget");
    }
    Ok(JobOutcome { video_id: Some(video.id) })
}

/// FFmpeg killed from outside (the OOM killer, an administrator) is not the file's fault: the
/// job is tried again (within its attempts), and the copy is not marked failed.
fn killed(title: &str, message: &str) -> JobError {
    JobError::transient(format!("{title}: FFmpeg was stopped from outside while preparing it ({message}); trying again"))
}

/// How many qualities of one video are kept: a start at a fifth evicts the least recently used.
pub const QUALITIES_PER_VIDEO: usize = 4;

/// Keeps the prepared copies a bounded cache: at most [`QUALITIES_PER_VIDEO`] per video, each
/// profile's copies within what its plan's storage leaves after its library (a copy counts for
/// each profile whose video uses it), and at most the data dir's budget
/// ([`crate::disk::prepared_budget`]) in all — the least recently used going first, never a copy
/// of a video a running broadcast plays, nor `keep` (the copy just made, for the start waiting
/// for it). A copy is only a cache: it never stops an upload or a start, it goes to make room.
/// Run after each preparation and by the runtime's disk watch. Returns the bytes freed.
pub async fn evict(app: &Twitcher, keep: Option<(i64, &str)>) -> Result<u64, BroadcastError> {
    let entries = app.db.prepared_entries().await?;
    let budget = crate::disk::prepared_budget(app).await?;
    // Files are shared by rows with the same content: count each once. (A copy made before
    // sizes were recorded is measured on disk.)
    let mut sizes = HashMap::new();
    for e in &entries {
        let size = match e.size_bytes {
            0 => tokio::fs::metadata(&e.path).await.map(|m| m.len()).unwrap_or(0),
            n => n.max(0) as u64,
        };
        sizes.insert(e.path.clone(), size);
    }
    let mut total: u64 = sizes.values().sum();
    let mut per_video: HashMap<i64, usize> = HashMap::new();
    // Per profile: what its plan leaves for copies after its library (none: not limited), and
    // what its copies take.
    let mut room: HashMap<i64, Option<u64>> = HashMap::new();
    let mut held: HashMap<i64, u64> = HashMap::new();
    for e in &entries {
        *per_video.entry(e.video_id).or_default() += 1;
        *held.entry(e.owner_id).or_default() += sizes[&e.path];
        if !room.contains_key(&e.owner_id) {
            room.insert(e.owner_id, room_for_copies(app, e.owner_id).await?);
        }
    }
    let mut freed = 0;
    // Least recently used first.
    for e in &entries {
        let too_many = per_video[&e.video_id] > QUALITIES_PER_VIDEO;
        let over_plan = room[&e.owner_id].is_some_and(|room| held[&e.owner_id] > room);
        if e.in_use || keep == Some((e.video_id, e.key.as_str())) || !(too_many || over_plan || total > budget) {
            continue;
        }
        let shared = app.db.delete_prepared(e.video_id, &e.key, &e.path).await?;
        *per_video.get_mut(&e.video_id).expect("counted") -= 1;
        let bytes = sizes.get(&e.path).copied().unwrap_or(0);
        *held.get_mut(&e.owner_id).expect("counted") -= bytes;
        if !shared {
            crate::storage::remove_prepared(app, &e.path).await;
            total = total.saturating_sub(bytes);
            freed += bytes;
        }
        tracing::info!(video_id = e.video_id, quality = %e.key, too_many, over_plan, "evicted a prepared copy");
    }
    Ok(freed)
}

/// What a profile's plan storage leaves for prepared copies once its library is counted (none:
/// its plan does not limit storage; a profile gone: nothing).
async fn room_for_copies(app: &Twitcher, profile_id: i64) -> Result<Option<u64>, BroadcastError> {
    let Some(profile) = app.db.user_by_id(profile_id).await? else { return Ok(Some(0)) };
    let Some(quota) = app.db.plan_limits(profile.plan).await?.max_storage_bytes else { return Ok(None) };
    Ok(Some(quota.saturating_sub(app.db.storage_used(profile_id).await?.max(0) as u64)))
}

/// Whether the source can be copied as is: H.264 High or Main, AAC, keyframes every 2 s, frame
/// rate and size of the profile at most, bitrate within it.
async fn complies(source: &Path, q: &Quality) -> bool {
    let Ok(probe) = media::probe_document(source).await else { return false };
    let of = |kind: &str| probe.streams.iter().find(|s| s.codec_type.as_deref() == Some(kind));
    let (Some(v), Some(a)) = (of("video"), of("audio")) else { return false };
    let fps = media::frame_rate(v.avg_frame_rate.as_deref());
    let bitrate_k = probe.format.as_ref().and_then(|f| f.bit_rate.as_deref()?.parse::<f64>().ok()).map(|b| b / 1000.0);
    let ok = v.codec_name.as_deref() == Some("h264")
        && matches!(v.profile.as_deref(), Some("High" | "Main"))
        && a.codec_name.as_deref() == Some("aac")
        && v.width.is_some_and(|w| w <= i64::from(q.width))
        && v.height.is_some_and(|h| h <= i64::from(q.height))
        && fps.is_some_and(|f| (f - q.fps as f64).abs() < 0.05)
        && bitrate_k.is_some_and(|b| b <= (q.video_bitrate_k + q.audio_bitrate_k) as f64 * 1.1);
    if !ok {
        return false;
    }
    let Ok((ffprobe, _)) = media::locate(Tool::Ffprobe) else { return false };
    // Keyframes exactly every 2 s over the first minute (Twitch's requirement).
    let packets = media::child::output(
        media::command(&ffprobe)
            .args(["-v", "error", "-select_streams", "v:0", "-read_intervals", "%+60", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", "-i"])
            .arg(source),
    )
    .await;
    let Ok(out) = packets else { return false };
    let keys: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(",K"))
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect();
    keys.len() >= 2 && keys.windows(2).all(|w| ((w[1] - w[0]) - 2.0).abs() < 0.05)
}

/// The video copied as is; the audio too, unless it is to be normalised (then encoded again).
fn remux_args(source: &Path, q: &Quality, audio_filter: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = limits::input(source).to_vec();
    args.extend(["-map", "0:v:0", "-map", "0:a:0", "-c:v", "copy"].map(String::from));
    match audio_filter {
        Some(filter) => args.extend(audio_encode(q, Some(filter))),
        None => args.extend(["-c:a", "copy"].map(String::from)),
    }
    args
}

/// AAC-LC 48 kHz stereo at the profile's bitrate, through `filter` (loudness) when given.
pub(crate) fn audio_encode(q: &Quality, filter: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = ["-c:a", "aac", "-b:a", &format!("{}k", q.audio_bitrate_k), "-ar", "48000", "-ac", "2"].map(String::from).to_vec();
    if let Some(f) = filter {
        // loudnorm works at 192 kHz inside; -ar above brings it back to 48 kHz.
        args.extend(["-af".to_string(), f.to_string()]);
    }
    args
}

pub(crate) fn transcode_args(source: &Path, q: &Quality, has_audio: bool, audio_filter: Option<&str>) -> Vec<String> {
    let (w, h) = (q.width, q.height);
    let mut args: Vec<String> = crate::media::limits::input(source).to_vec();
    if !has_audio {
        // Twitch expects an audio track: add silence.
        args.extend(["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"].map(String::from));
    }
    args.extend(["-map", "0:v:0", "-map", if has_audio { "0:a:0" } else { "1:a:0" }].map(String::from));
    if !has_audio {
        args.push("-shortest".into());
    }
    // The fps filter makes a constant frame rate (FLV output would otherwise keep the source's
    // timing, and keyframes every 2 × fps frames would not be every 2 s).
    args.extend(video_encode(q, &format!("fps={},scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1", q.fps)));
    args.extend(audio_encode(q, audio_filter.filter(|_| has_audio)));
    args
}

/// H.264 High, CBR at the profile's bitrate, a keyframe exactly every 2 s, through `filter`:
/// every item of a broadcast (and its slate) is encoded alike, so they join without a new decoder.
pub(crate) fn video_encode(q: &Quality, filter: &str) -> Vec<String> {
    let gop = (q.fps * 2).to_string();
    [
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v", &format!("{}k", q.video_bitrate_k), "-maxrate", &format!("{}k", q.video_bitrate_k),
        "-bufsize", &format!("{}k", q.video_bitrate_k * 2), "-x264-params", "nal-hrd=cbr",
        "-g", &gop, "-keyint_min", &gop, "-sc_threshold", "0", "-vf", filter,
    ]
    .map(String::from)
    .to_vec()
}

/// Runs ffmpeg writing FLV to `out`, turning its progress into job progress. A cancelled job
/// asks FFmpeg to quit at once (then kills it); the caller removes the partial file.
async fn run_ffmpeg(ctx: &JobContext<'_>, args: Vec<String>, out: &Path, duration: f64) -> Result<(), Ended> {
    let args = ["-y".to_string()].into_iter().chain(args).chain(["-f".into(), "flv".into(), out.display().to_string()]);
    let ours = |message: String| Ended { message, killed: false };
    let mut ffmpeg = Ffmpeg::start(args, Output::File, limits::ENCODE_MEMORY).map_err(|e| ours(e.to_string()))?;
    let limit = limits::encode_limit(duration);
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => {
                ffmpeg.stop().await;
                return Err(ours("cancelled".into()));
            }
            _ = &mut deadline => {
                ffmpeg.stop().await;
                return Err(ours(format!("FFmpeg took longer than its limit of {} s on this file and was stopped: is it damaged?", limit.as_secs())));
            }
            report = ffmpeg.next() => match report {
                Some(Report::Progress(seconds)) if duration > 0.0 => ctx.progress(seconds / duration * 0.99).await,
                Some(_) => {}
                None => break,
            },
        }
    }
    ffmpeg.finish_ended().await.map_err(|e| Ended { message: format!("FFmpeg could not prepare it ({})", e.message), ..e })
}
