//! The source: reads a prepared FLV and hands its tags to the fan-out at the pace of the wall
//! clock, in batches of about [`BATCH_MS`] (sent when the first tag of a batch is due, so at most
//! that much early: receivers buffer far more, and one wake-up and write per destination per batch
//! costs much less than one per tag). With `looped`, each pass's timestamps continue where the previous pass ended (after the
//! longer of its two tracks, plus one frame), so receivers see one unbroken stream.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fanout::Fanout;
use super::flv::{FlvError, FlvReader, Tag, TagKind};
use super::{prepare, Quality};
use crate::media::{self, Tool};

/// Measured with `bench/fanout.py` at 50 destinations: 100 ms batches cost 0.48 CPU-s per 15 s,
/// 200 ms batches 0.38 (mostly the kernel's per-write cost on each connection).
pub const BATCH_MS: u64 = 200;

/// What a receiver needs before any frame, sent again on every (re)connect.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    pub metadata: Option<Tag>,
    pub video: Option<Tag>,
    pub audio: Option<Tag>,
}

async fn open(path: &Path) -> Result<FlvReader<BufReader<tokio::fs::File>>, FlvError> {
    Ok(FlvReader::new(BufReader::with_capacity(256 * 1024, tokio::fs::File::open(path).await?)))
}

/// The metadata and sequence headers at the start of a prepared file.
pub async fn read_headers(path: &Path) -> Result<Headers, FlvError> {
    let mut reader = open(path).await?;
    let mut headers = Headers::default();
    let mut seen_media = 0;
    while let Some(tag) = reader.next_tag().await? {
        match tag.kind {
            TagKind::Script if headers.metadata.is_none() => headers.metadata = Some(tag),
            TagKind::Video if tag.is_sequence_header() => headers.video = Some(tag),
            TagKind::Audio if tag.is_sequence_header() => headers.audio = Some(tag),
            TagKind::Video | TagKind::Audio => seen_media += 1,
            TagKind::Script => {}
        }
        // Headers come first; a few frames in, there are no more to find.
        if seen_media > 16 {
            break;
        }
    }
    if headers.video.is_none() {
        return Err(FlvError::Damaged("no H.264 sequence header: prepare the video again".into()));
    }
    Ok(headers)
}

/// Where the video track ends, in ms after the first media tag: found by walking the tag headers
/// (seeking over the data), so even a large file costs only a few thousand small reads.
fn video_end(path: &Path) -> Result<u64, FlvError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut header = [0u8; 9];
    file.read_exact(&mut header).map_err(|_| FlvError::NotFlv)?;
    let offset = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as u64;
    file.seek(SeekFrom::Start(offset + 4))?;
    let (mut first, mut last) = (None::<u64>, 0u64);
    let mut head = [0u8; 11];
    while file.read_exact(&mut head).is_ok() {
        let size = u32::from_be_bytes([0, head[1], head[2], head[3]]) as i64;
        let ts = u32::from_be_bytes([head[7], head[4], head[5], head[6]]) as u64;
        let kind = head[0] & 0x1f;
        if kind == 8 || kind == 9 {
            first.get_or_insert(ts);
            if kind == 9 {
                last = last.max(ts);
            }
        }
        file.seek_relative(size + 4)?;
    }
    Ok(last.saturating_sub(first.unwrap_or(0)))
}

/// Where a source's tags come from.
pub enum Input {
    /// The prepared file: nothing is encoded while live.
    Prepared(PathBuf),
    /// The video is not prepared yet: ffmpeg encodes it in real time to FLV on a pipe, with the
    /// same settings a preparation would use, and the same reader consumes it.
    Live(LiveEncode),
}

/// A running real-time encode, with the tags read while looking for its headers.
pub struct LiveEncode {
    /// Killed when dropped (the constructor of every child sets it), and with us on Linux.
    _child: Child,
    reader: FlvReader<BufReader<ChildStdout>>,
    buffered: VecDeque<Tag>,
    spec: LiveSpec,
}

#[derive(Clone)]
struct LiveSpec {
    source: PathBuf,
    quality: Quality,
    has_audio: bool,
}

/// Starts ffmpeg encoding `source` in real time and reads until its sequence headers are known.
pub async fn start_live(source: &Path, quality: &Quality, has_audio: bool) -> Result<(Headers, LiveEncode), FlvError> {
    spawn_live(LiveSpec { source: source.to_path_buf(), quality: *quality, has_audio }).await
}

async fn spawn_live(spec: LiveSpec) -> Result<(Headers, LiveEncode), FlvError> {
    let (ffmpeg, _) = media::locate(Tool::Ffmpeg).map_err(|e| FlvError::Damaged(e.to_string()))?;
    let mut child = media::command(&ffmpeg)
        .args(["-nostdin", "-v", "error", "-re"])
        .args(prepare::transcode_args(&spec.source, &spec.quality, spec.has_audio))
        .args(["-f", "flv", "pipe:1"])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    // Drain ffmpeg's messages (a full pipe would stall it) into the log, redacted.
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::warn!(ffmpeg = %crate::redact::redact(&line), "live encode");
        }
    });
    let mut reader = FlvReader::new(BufReader::new(stdout));
    let mut headers = Headers::default();
    let mut buffered = VecDeque::new();
    while headers.video.is_none() || (spec.has_audio && headers.audio.is_none() && buffered.len() < 64) {
        let Some(tag) = reader.next_tag().await? else {
            return Err(FlvError::Damaged("FFmpeg could not encode the video".into()));
        };
        match tag.kind {
            TagKind::Script if headers.metadata.is_none() => headers.metadata = Some(tag),
            TagKind::Video if tag.is_sequence_header() => headers.video = Some(tag),
            TagKind::Audio if tag.is_sequence_header() => headers.audio = Some(tag),
            TagKind::Video | TagKind::Audio => buffered.push_back(tag),
            TagKind::Script => {}
        }
    }
    Ok((headers, LiveEncode { _child: child, reader, buffered, spec }))
}

enum Reader {
    File(FlvReader<BufReader<tokio::fs::File>>),
    Live(LiveEncode),
}

impl Reader {
    async fn next_tag(&mut self) -> Result<Option<Tag>, FlvError> {
        match self {
            Reader::File(r) => r.next_tag().await,
            Reader::Live(l) => match l.buffered.pop_front() {
                Some(tag) => Ok(Some(tag)),
                None => l.reader.next_tag().await,
            },
        }
    }
}

/// Plays the file into `fanout` until it ends (or forever when looped), every destination has
/// gone, or `cancel` fires. `drift` receives media time minus wall time, in ms.
///
/// A loop pass lasts as long as its video plus one frame; audio past that point is left out, so
/// the next pass's audio does not overlap it and the video never has a gap (files whose audio runs
/// longer than their video are common).
///
/// A live encode has no file to measure in advance: its passes last as long as the video seen.
#[allow(clippy::too_many_arguments)]
pub async fn run(input: Input, looped: bool, frame_ms: u32, first_timestamp_ms: u64, mut fanout: Fanout, cancel: CancellationToken, drift: watch::Sender<f64>) -> Result<(), FlvError> {
    let start = Instant::now();
    // The RTMP timestamp of the first tag: 0, unless a test starts later (EngineOptions).
    let epoch = first_timestamp_ms;
    let mut offset: u64 = 0;
    let (mut reader, path, live) = match input {
        Input::Prepared(path) => (Reader::File(open(&path).await?), Some(path), None),
        Input::Live(encode) => {
            let spec = encode.spec.clone();
            (Reader::Live(encode), None, Some(spec))
        }
    };
    let pass_length = match (&path, looped) {
        (Some(path), true) => {
            let owned = path.clone();
            let end = tokio::task::spawn_blocking(move || video_end(&owned)).await.map_err(|e| FlvError::Damaged(e.to_string()))??;
            Some(end + frame_ms as u64)
        }
        _ => None,
    };
    loop {
        let mut video_seen: u64 = 0;
        let mut first: Option<u64> = None;
        let mut batch: Vec<Tag> = Vec::with_capacity(16);
        let mut batch_ms = 0u64;
        while let Some(mut tag) = reader.next_tag().await? {
            // Metadata and sequence headers go out per connection (see publisher), not in-band.
            if tag.kind == TagKind::Script || tag.is_sequence_header() {
                continue;
            }
            let ts = tag.timestamp as u64;
            let base = *first.get_or_insert(ts);
            if pass_length.is_some_and(|length| ts - base >= length) {
                continue;
            }
            if tag.kind == TagKind::Video {
                video_seen = video_seen.max(ts - base);
            }
            let media_ms = offset + (ts - base);
            if !batch.is_empty() && media_ms >= batch_ms + BATCH_MS {
                if !flush(&mut batch, batch_ms, start, &mut fanout, &cancel, &drift).await {
                    return Ok(());
                }
            }
            if batch.is_empty() {
                batch_ms = media_ms;
            }
            // RTMP timestamps are 32-bit milliseconds: they wrap after 49.7 days, as receivers expect.
            tag.timestamp = ((epoch + media_ms) & 0xffff_ffff) as u32;
            batch.push(tag);
        }
        if !batch.is_empty() && !flush(&mut batch, batch_ms, start, &mut fanout, &cancel, &drift).await {
            return Ok(());
        }
        if !looped || first.is_none() {
            return Ok(());
        }
        offset += pass_length.unwrap_or(video_seen + frame_ms as u64);
        reader = match (&path, &live) {
            (Some(path), _) => Reader::File(open(path).await?),
            (None, Some(spec)) => Reader::Live(spawn_live(spec.clone()).await?.1),
            (None, None) => unreachable!("a source is a file or a live encode"),
        };
    }
}

/// Waits until the batch's first tag is due, then hands the batch over. False when there is
/// nobody left to send to (or the broadcast was stopped).
async fn flush(batch: &mut Vec<Tag>, batch_ms: u64, start: Instant, fanout: &mut Fanout, cancel: &CancellationToken, drift: &watch::Sender<f64>) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => return false,
        _ = tokio::time::sleep_until(start + Duration::from_millis(batch_ms)) => {}
    }
    let _ = drift.send(batch_ms as f64 - start.elapsed().as_secs_f64() * 1000.0);
    fanout.send(std::mem::take(batch)) > 0
}
