//! The source: reads a prepared FLV and hands its tags to the fan-out at the pace of the wall
//! clock, in batches of about [`BATCH_MS`] (sent when the first tag of a batch is due, so at most
//! that much early: receivers buffer far more, and one wake-up and write per destination per batch
//! costs much less than one per tag). With `looped`, each pass's timestamps continue where the previous pass ended (after the
//! longer of its two tracks, plus one frame), so receivers see one unbroken stream.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::BufReader;
use tokio::process::ChildStdout;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fanout::Fanout;
use super::flv::{FlvError, FlvReader, Headers, Tag, TagKind};
use super::{prepare, Quality};
use crate::media::runner::{Ffmpeg, Output, Report};

/// Measured with `bench/fanout.py` at 50 destinations: 100 ms batches cost 0.48 CPU-s per 15 s,
/// 200 ms batches 0.38 (mostly the kernel's per-write cost on each connection).
pub const BATCH_MS: u64 = 200;

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

/// How a prepared file's tracks sit in time, in ms after its first media tag.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// The first and the last video tag.
    video_start: u64,
    video_end: u64,
    /// Video frames, from the first to the last.
    video_frames: u64,
    /// The first audio tag. An encoder's priming and B-frame reordering put the audio's first
    /// timestamp a little after the video's (46 ms for x264 with B-frames and AAC at 48 kHz), and
    /// the same amount past its end: a pass's audio is cut that much later than its video, so the
    /// tracks join without a gap or an overlap.
    audio_delay: u64,
}

/// Found by walking the tag headers (seeking over the data), so even a large file costs only a
/// few thousand small reads.
fn timing(path: &Path) -> Result<Timing, FlvError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut header = [0u8; 9];
    file.read_exact(&mut header).map_err(|_| FlvError::NotFlv)?;
    let offset = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as u64;
    file.seek(SeekFrom::Start(offset + 4))?;
    let (mut first, mut first_audio, mut first_video, mut last, mut frames) = (None::<u64>, None::<u64>, None::<u64>, 0u64, 0u64);
    let mut head = [0u8; 11];
    while file.read_exact(&mut head).is_ok() {
        let size = u32::from_be_bytes([0, head[1], head[2], head[3]]) as i64;
        let ts = u32::from_be_bytes([head[7], head[4], head[5], head[6]]) as u64;
        let kind = head[0] & 0x1f;
        // Sequence headers carry no media time (they are the first tag, at 0, of each track), nor
        // does the AVC end of sequence FFmpeg writes last.
        let mut packet_type = [0u8; 2];
        let media = (kind == 8 || kind == 9) && size >= 2 && file.read_exact(&mut packet_type).is_ok() && packet_type[1] != 0 && !(kind == 9 && packet_type[1] == 2);
        let read = if (kind == 8 || kind == 9) && size >= 2 { 2 } else { 0 };
        if media {
            first.get_or_insert(ts);
            if kind == 8 {
                first_audio.get_or_insert(ts);
            } else {
                first_video.get_or_insert(ts);
                last = last.max(ts);
                frames += 1;
            }
        }
        file.seek_relative(size - read + 4)?;
    }
    let first = first.unwrap_or(0);
    Ok(Timing {
        video_start: first_video.unwrap_or(first).saturating_sub(first),
        video_end: last.saturating_sub(first),
        video_frames: frames,
        audio_delay: first_audio.unwrap_or(first).saturating_sub(first),
    })
}

impl Timing {
    /// Where the video ends (one frame after its last one), in ms after the first media tag.
    /// A prepared file has a frame every `frame_ms` exactly: its length is counted in frames, not
    /// read off timestamps rounded to the millisecond (a third of a millisecond lost at each of a
    /// day's 25,000 joins would put the video seconds ahead of its frames). A file that does not
    /// (another frame rate) keeps its timestamps.
    fn video_length(&self, frame_ms: f64) -> f64 {
        let by_stamps = self.video_end as f64 + frame_ms;
        let by_frames = self.video_start as f64 + self.video_frames as f64 * frame_ms;
        if (by_frames - by_stamps).abs() <= frame_ms / 2.0 {
            by_frames
        } else {
            by_stamps
        }
    }
}

/// Where a source's tags come from.
pub enum Input {
    /// The prepared file: nothing is encoded while live.
    Prepared(PathBuf),
    /// The video is not prepared yet: ffmpeg encodes it in real time to FLV on a pipe, with the
    /// same settings a preparation would use, and the same reader consumes it.
    Live(LiveEncode),
    /// A playlist: prepared files one after another, in the order the playhead gives.
    Playlist(Playhead),
}

/// A playlist's entries, each filled in once its preparation at the broadcast's quality is done.
pub type Items = std::sync::Arc<std::sync::RwLock<Vec<Option<PlayItem>>>>;

/// A playlist's items, prepared at the broadcast's quality, and the order to play them in.
pub struct Playhead {
    pub items: Items,
    /// Indexes into `items`; ends when the playlist does (never, when looped).
    pub order: std::iter::Peekable<Box<dyn Iterator<Item = usize> + Send>>,
    /// The item playing and the one after it, for the supervisor ("now playing", "up next").
    pub now_playing: watch::Sender<Option<(usize, Option<usize>)>>,
    /// What plays instead of an item that cannot (its file gone or unreadable).
    pub slate: Option<PlayItem>,
    /// Items skipped, and why, for the supervisor (events, the `item_skipped` alert).
    pub skipped: tokio::sync::mpsc::UnboundedSender<(usize, String)>,
    /// The task preparing the entries not ready yet: it stops when the playlist does.
    pub filling: tokio::task::AbortHandle,
}

impl Drop for Playhead {
    fn drop(&mut self) {
        self.filling.abort();
    }
}

/// The slate's key among the timings (no item has it).
const SLATE: usize = usize::MAX;

#[derive(Clone)]
pub struct PlayItem {
    pub path: PathBuf,
    pub headers: Headers,
}

/// One pass through one file: its tags, how long it lasts (`None`: as long as the video seen),
/// and its sequence headers when they may differ from the previous pass's.
struct Pass {
    reader: Reader,
    length: Option<Length>,
    headers: Option<Headers>,
    /// The playlist entry it plays (none for the slate or a single video).
    entry: Option<usize>,
}

/// Where a pass ends, in ms after its first media tag: its video, and its audio (later by the
/// next pass's audio delay, so the next pass's audio follows without a gap or an overlap).
/// Fractional: a frame at 30 fps lasts 33.333 ms.
#[derive(Debug, Clone, Copy)]
struct Length {
    video: f64,
    audio: f64,
}

/// Hands out the passes of an input: one, a file over and over, or a playlist's items.
struct Passes {
    input: Input,
    looped: bool,
    /// One video frame, in ms.
    frame_ms: f64,
    started: bool,
    /// The [`Timing`] of each playlist item (or of the one file), measured once.
    timings: std::collections::HashMap<usize, Timing>,
    /// The entry that just played could not (empty, or broken mid-play): the slate comes next.
    slate_next: bool,
}

impl Passes {
    async fn timing_of(&mut self, index: usize, path: &Path) -> Result<Timing, FlvError> {
        if let Some(timing) = self.timings.get(&index) {
            return Ok(*timing);
        }
        let owned = path.to_path_buf();
        let measured = tokio::task::spawn_blocking(move || timing(&owned)).await.map_err(|e| FlvError::Damaged(e.to_string()))??;
        self.timings.insert(index, measured);
        Ok(measured)
    }

    /// A pass of `this` followed by `next`: the video lasts one frame past its last tag; the audio
    /// is cut where the next pass's audio will take over.
    fn length(&self, this: Timing, next: Timing) -> Length {
        let video = this.video_length(self.frame_ms);
        Length { video, audio: video + next.audio_delay as f64 }
    }

    async fn next(&mut self) -> Result<Option<Pass>, FlvError> {
        let first = !std::mem::replace(&mut self.started, true);
        match &mut self.input {
            Input::Prepared(path) => {
                if !first && !self.looped {
                    return Ok(None);
                }
                let path = path.clone();
                // A single pass needs no length: it ends with its file.
                let length = match self.looped {
                    true => {
                        let t = self.timing_of(0, &path).await?;
                        Some(self.length(t, t))
                    }
                    false => None,
                };
                Ok(Some(Pass { reader: Reader::File(open(&path).await?), length, headers: None, entry: None }))
            }
            Input::Live(encode) => {
                let reader = match (first, encode.take_reader()) {
                    (true, Some(live)) => live,
                    _ if self.looped => spawn_live(encode.spec.clone(), 0).await?.1,
                    _ => return Ok(None),
                };
                Ok(Some(Pass { reader: Reader::Live(reader), length: None, headers: None, entry: None }))
            }
            Input::Playlist(playhead) if std::mem::take(&mut self.slate_next) => {
                let Some((path, headers)) = playhead.slate.as_ref().map(|s| (s.path.clone(), s.headers.clone())) else { return Ok(None) };
                let this = self.timing_of(SLATE, &path).await?;
                Ok(Some(Pass { reader: Reader::File(open(&path).await?), length: Some(self.length(this, this)), headers: Some(headers), entry: None }))
            }
            Input::Playlist(playhead) => {
                let Some(index) = playhead.order.next() else { return Ok(None) };
                let next = playhead.order.peek().copied();
                let _ = playhead.now_playing.send(Some((index, next)));
                let (entry, following_entry) = {
                    let items = playhead.items.read().expect("not poisoned");
                    (items[index].clone(), next.and_then(|n| items[n].clone().map(|i| (n, i.path))))
                };
                let next_path = following_entry;
                let slate = playhead.slate.as_ref().map(|s| (s.path.clone(), s.headers.clone()));
                let following = match &next_path {
                    Some((n, p)) => self.timing_of(*n, p).await.ok(),
                    None => None,
                };
                let played = async {
                    let Some(PlayItem { path, headers }) = entry else {
                        return Err(FlvError::Io(std::io::Error::other("its preparation was not done in time")));
                    };
                    let this = self.timing_of(index, &path).await?;
                    // The last item keeps its audio to the same length as its video.
                    let length = self.length(this, following.unwrap_or(this));
                    Ok::<_, FlvError>(Pass { reader: Reader::File(open(&path).await?), length: Some(length), headers: Some(headers), entry: Some(index) })
                }
                .await;
                match (played, slate) {
                    (Ok(pass), _) => Ok(Some(pass)),
                    (Err(e), Some((slate_path, slate_headers))) => {
                        // The item cannot play: the slate fills its place, the destinations stay on.
                        self.skip(index, e.to_string());
                        self.slate_next = false;
                        let this = self.timing_of(SLATE, &slate_path).await?;
                        let length = self.length(this, following.unwrap_or(this));
                        Ok(Some(Pass { reader: Reader::File(open(&slate_path).await?), length: Some(length), headers: Some(slate_headers), entry: None }))
                    }
                    (Err(e), None) => Err(e),
                }
            }
        }
    }

    /// Tells the supervisor that playlist entry `index` was skipped (it could not play, or not to
    /// its end), and puts the slate next.
    fn skip(&mut self, index: usize, reason: String) {
        self.timings.remove(&index);
        self.slate_next = true;
        if let Input::Playlist(playhead) = &self.input {
            tracing::warn!(entry = index, reason = %reason, "a playlist item cannot play: skipped");
            let _ = playhead.skipped.send((index, reason));
        }
    }
}

/// A running real-time encode, with the tags read while looking for its headers.
pub struct LiveEncode {
    /// Killed when dropped (see `media::runner`), and with us on Linux.
    child: Option<Ffmpeg>,
    reader: Option<FlvReader<BufReader<ChildStdout>>>,
    buffered: VecDeque<Tag>,
    spec: LiveSpec,
    /// Added to the timestamps of the FFmpeg running now: where in the video it was started
    /// again after the previous one died (0 for the first).
    shift_ms: u32,
    /// Where the video read so far ends (its last frame's timestamp plus a frame), in ms.
    reached_ms: u32,
    /// When FFmpeg died and was started again, within the last [`RESTART_WINDOW`].
    restarts: VecDeque<Instant>,
}

/// An encoder that dies more often than this within [`RESTART_WINDOW`] ends the broadcast with
/// its last error (it would only die again); fewer deaths are made good by starting it again.
const MAX_RESTARTS: usize = 3;
const RESTART_WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct LiveSpec {
    source: PathBuf,
    quality: Quality,
    has_audio: bool,
}

/// Starts ffmpeg encoding `source` in real time and reads until its sequence headers are known.
pub async fn start_live(source: &Path, quality: &Quality, has_audio: bool) -> Result<(Headers, LiveEncode), FlvError> {
    spawn_live(LiveSpec { source: source.to_path_buf(), quality: *quality, has_audio }, 0).await
}

/// A real-time encode of `spec` from `from_ms` into the video (its timestamps start at 0).
async fn spawn_live(spec: LiveSpec, from_ms: u32) -> Result<(Headers, LiveEncode), FlvError> {
    // Seeking the input (before `-i`) decodes from the keyframe before the point and drops what
    // precedes it: the encode starts exactly there.
    let seek = (from_ms > 0).then(|| ["-ss".to_string(), format!("{:.3}", f64::from(from_ms) / 1000.0)]);
    let args = ["-re".to_string()]
        .into_iter()
        .chain(seek.into_iter().flatten())
        // Not normalised: loudnorm's only real-time mode holds 3 s of audio back (its look-ahead),
        // which would hold the whole stream back. The prepared copy made meanwhile is normalised.
        .chain(prepare::transcode_args(&spec.source, &spec.quality, spec.has_audio, None))
        .chain(["-f", "flv", "pipe:1"].map(String::from));
    let mut child = Ffmpeg::start(args, Output::Pipe, crate::media::limits::ENCODE_MEMORY).map_err(|e| FlvError::Damaged(e.to_string()))?;
    let stdout = child.take_stdout().ok_or_else(|| FlvError::Damaged("FFmpeg's output could not be read".into()))?;
    if let Some(reports) = child.take_reports() {
        tokio::spawn(log_problems(reports));
    }
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
    Ok((headers, LiveEncode { child: Some(child), reader: Some(reader), buffered, spec, shift_ms: 0, reached_ms: 0, restarts: VecDeque::new() }))
}

/// FFmpeg's warnings and errors during a live encode go to the log (redacted by the runner);
/// reading them also keeps its reports flowing.
async fn log_problems(mut reports: tokio::sync::mpsc::UnboundedReceiver<Report>) {
    while let Some(report) = reports.recv().await {
        if let Report::Warning(line) | Report::Error(line) = report {
            tracing::warn!(ffmpeg = %line, "live encode");
        }
    }
}

enum Reader {
    File(FlvReader<BufReader<tokio::fs::File>>),
    Live(LiveEncode),
}

impl LiveEncode {
    /// The encode started before going live, handed to the first pass once; later passes start
    /// their own from `spec`.
    fn take_reader(&mut self) -> Option<LiveEncode> {
        let child = self.child.take()?;
        let reader = self.reader.take()?;
        Some(LiveEncode {
            child: Some(child),
            reader: Some(reader),
            buffered: std::mem::take(&mut self.buffered),
            spec: self.spec.clone(),
            shift_ms: 0,
            reached_ms: 0,
            restarts: VecDeque::new(),
        })
    }

    /// The next tag of this encode. FFmpeg dying in the middle (killed, crashed: its output cut
    /// short or its exit not a success) is not the video's end: it is started again where the
    /// video had reached, its timestamps moved on to there, so receivers see one stream.
    async fn next_tag(&mut self) -> Result<Option<Tag>, FlvError> {
        loop {
            let read = match (self.buffered.pop_front(), self.reader.as_mut()) {
                (Some(tag), _) => Ok(Some(tag)),
                (None, Some(reader)) => reader.next_tag().await,
                (None, None) => return Ok(None),
            };
            let died = match read {
                Ok(Some(mut tag)) => {
                    tag.timestamp = tag.timestamp.saturating_add(self.shift_ms);
                    if tag.kind == TagKind::Video && !tag.is_sequence_header() {
                        let frame_ms = 1000 / self.spec.quality.fps.max(1);
                        self.reached_ms = self.reached_ms.max(tag.timestamp.saturating_add(frame_ms));
                    }
                    return Ok(Some(tag));
                }
                Ok(None) => match self.child.take() {
                    Some(child) => child.finish().await.err(),
                    None => None,
                },
                Err(e) => Some(e.to_string()),
            };
            let Some(reason) = died else {
                self.reader = None;
                return Ok(None);
            };
            self.restart(reason).await?;
        }
    }

    async fn restart(&mut self, reason: String) -> Result<(), FlvError> {
        self.child = None;
        self.reader = None;
        let now = Instant::now();
        self.restarts.retain(|at| now.duration_since(*at) < RESTART_WINDOW);
        if self.restarts.len() >= MAX_RESTARTS {
            return Err(FlvError::Damaged(format!("FFmpeg stopped encoding the video {} times within a minute: {reason}", MAX_RESTARTS + 1)));
        }
        self.restarts.push_back(now);
        tracing::warn!(%reason, at_ms = self.reached_ms, "the live encode stopped before the video's end: starting it again there");
        match spawn_live(self.spec.clone(), self.reached_ms).await {
            Ok((_, fresh)) => {
                let LiveEncode { child, reader, buffered, .. } = fresh;
                (self.child, self.reader, self.buffered, self.shift_ms) = (child, reader, buffered, self.reached_ms);
            }
            // Nothing left to encode there (it died at the very end): the pass ends.
            Err(e) => tracing::warn!(error = %e, "the live encode could not start again where it stopped: its pass ends there"),
        }
        Ok(())
    }
}

impl Reader {
    async fn next_tag(&mut self) -> Result<Option<Tag>, FlvError> {
        match self {
            Reader::File(r) => r.next_tag().await,
            Reader::Live(l) => l.next_tag().await,
        }
    }
}

/// Plays the input into `fanout` until it ends (or forever when looped), every destination has
/// gone, or `cancel` fires. `drift` receives media time minus wall time, in ms.
///
/// Every pass (a loop of the file, an item of a playlist) continues the timestamps where the
/// previous one ended: after its video plus one frame. Audio past that point is left out, so the
/// next pass's audio does not overlap it and the video never has a gap (files whose audio runs
/// longer than their video are common). A live encode has no file to measure in advance: its
/// passes last as long as the video seen.
///
/// A playlist item whose sequence headers differ from the previous item's (a remuxed file from
/// another encoder) starts with those headers in-band at the head of a new batch, so connected
/// receivers reconfigure their decoders there and a destination that resumes at that batch gets
/// them too; the fan-out hands them to any destination that reconnects later.
#[allow(clippy::too_many_arguments)]
pub async fn run(input: Input, looped: bool, fps: u32, first_timestamp_ms: u64, fanout: Fanout, cancel: CancellationToken, drift: watch::Sender<f64>) -> Result<(), FlvError> {
    run_from(input, looped, fps, first_timestamp_ms, Join::default(), fanout, cancel, drift).await
}

/// Where a part of a broadcast joins its playout (media ms; both 0 from the top).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Join {
    /// The playout's position now.
    pub at_ms: u64,
    /// Nothing before this goes out: the destinations' previous node may have sent up to here.
    pub not_before_ms: u64,
}

/// [`run`], joining the playout at `join` — a destination taken over from another node of a
/// fleet continues where the broadcast is now. Whole passes before that point are skipped
/// without reading them (their lengths are known); in the pass that holds it, the tags are read
/// without pacing, and the stream starts at the last keyframe before the point that is not
/// before `join.not_before_ms` (else the first keyframe after that), so the receiver's decoder
/// starts clean and the timestamps carry on from what the previous node sent, never going back.
/// A keyframe behind the point goes out at once with its group, then pacing goes on as if the
/// source had started at the playout's origin. A live encode (no prepared file to seek in)
/// starts the video again with its timestamps moved to the point.
#[allow(clippy::too_many_arguments)]
pub async fn run_from(
    input: Input,
    looped: bool,
    fps: u32,
    first_timestamp_ms: u64,
    join: Join,
    fanout: Fanout,
    cancel: CancellationToken,
    drift: watch::Sender<f64>,
) -> Result<(), FlvError> {
    let (resume_at_ms, not_before_ms) = (join.at_ms, join.not_before_ms);
    let resume_at = resume_at_ms as f64;
    let mut resuming = resume_at_ms > 0 || not_before_ms > 0;
    // The keyframe group being read towards the resume point: (media ms, tag).
    let mut group: Vec<(u64, Tag)> = Vec::new();
    let mut out = Batcher { start: Instant::now(), epoch: first_timestamp_ms, batch: Vec::with_capacity(16), batch_ms: 0, fanout, cancel, drift };
    // Where the current pass starts, in ms of media time (fractional: see Length).
    let mut offset: f64 = 0.0;
    let frame_ms = 1000.0 / fps.max(1) as f64;
    let mut passes = Passes { input, looped, frame_ms, started: false, timings: Default::default(), slate_next: false };
    let mut current_headers: Option<Headers> = None;
    // A pass's audio past its video's end (by the next pass's audio delay), held back to go out
    // in timestamp order among the next pass's first video frames: (media ms, tag).
    let mut tail: VecDeque<(u64, Tag)> = VecDeque::new();
    let mut audio_cut = AudioCut::default();
    // Whether a pass has started (the next one is a join).
    let mut joined = false;
    while let Some(Pass { mut reader, length, headers, entry }) = passes.next().await? {
        if resuming {
            match length {
                Some(l) if offset + l.video <= resume_at => {
                    offset += l.video;
                    continue;
                }
                None if offset < resume_at.max(not_before_ms as f64) => offset = resume_at.max(not_before_ms as f64),
                _ => {}
            }
        }
        let mut video_seen: u64 = 0;
        let mut first: Option<u64> = None;
        // Every join starts a batch of its own, marked: the publishers' planned reconnect
        // before Twitch's 48-hour limit is made there when one falls in the last hour.
        if std::mem::replace(&mut joined, true) {
            if !out.flush().await {
                return Ok(());
            }
            out.fanout.mark_item_start();
        }
        if let Some(headers) = headers {
            let changed = current_headers.as_ref().is_some_and(|now| !now.same_decoder_setup(&headers));
            if changed {
                // In-band at the join, ahead of the item's first keyframe, at the head of the
                // join's batch, which carries these headers for destinations that (re)connect there.
                for tag in headers.video.iter().chain(headers.audio.iter()) {
                    out.push(offset.round() as u64, tag.clone());
                }
            }
            if current_headers.is_none() || changed {
                out.fanout.set_headers(std::sync::Arc::new(headers.clone()));
            }
            current_headers = Some(headers);
        }
        let mut broken = false;
        loop {
            let tag = match reader.next_tag().await {
                Ok(Some(tag)) => tag,
                Ok(None) => break,
                // A playlist item that breaks while it plays (its file cut short, a disk error)
                // ends there; the playlist goes on.
                Err(e) if entry.is_some() => {
                    passes.skip(entry.expect("checked"), e.to_string());
                    broken = true;
                    break;
                }
                Err(e) => return Err(e),
            };
            // Metadata and sequence headers go out per connection (see publisher), not in-band;
            // the file's end of sequence would end the receiver's stream at every join.
            if tag.kind == TagKind::Script || tag.is_sequence_header() || tag.is_end_of_sequence() {
                continue;
            }
            let ts = tag.timestamp as u64;
            let base = *first.get_or_insert(ts);
            let keep = match (length, tag.kind) {
                (Some(l), TagKind::Audio) => audio_cut.keep(offset + (ts - base) as f64, offset + l.audio),
                (Some(l), _) => ((ts - base) as f64) < l.video,
                (None, _) => true,
            };
            if !keep {
                continue;
            }
            if tag.kind == TagKind::Video {
                video_seen = video_seen.max(ts - base);
            }
            let media_ms = (offset + (ts - base) as f64).round() as u64;
            if resuming {
                // A keyframe the stream may start at: one whose timestamp the previous node has
                // not reached.
                let start_here = tag.kind == TagKind::Video && tag.is_keyframe() && media_ms >= not_before_ms;
                if media_ms < resume_at_ms {
                    if tag.kind == TagKind::Video && tag.is_keyframe() {
                        group.clear();
                    }
                    // Nothing before the group's keyframe: the receiver could not decode it.
                    if !group.is_empty() || start_here {
                        group.push((media_ms, tag));
                    }
                    continue;
                }
                if group.is_empty() && !start_here {
                    continue;
                }
                resuming = false;
                out.start = Instant::now().checked_sub(Duration::from_millis(resume_at_ms)).unwrap_or(out.start);
                for (at, held) in std::mem::take(&mut group) {
                    if !out.send(at, held).await {
                        return Ok(());
                    }
                }
            }
            if length.is_some_and(|l| (ts - base) as f64 >= l.video) {
                tail.push_back((media_ms, tag));
                continue;
            }
            while tail.front().is_some_and(|(at, _)| *at <= media_ms) {
                let (at, held) = tail.pop_front().expect("checked");
                if !out.send(at, held).await {
                    return Ok(());
                }
            }
            if !out.send(media_ms, tag).await {
                return Ok(());
            }
        }
        if first.is_none() {
            match entry {
                // An item that holds nothing: skipped, with the slate in its place.
                Some(index) if !broken => {
                    passes.skip(index, "it holds no video".into());
                    continue;
                }
                Some(_) => continue,
                // A pass with no media would loop without end.
                None => break,
            }
        }
        offset += match (broken, length) {
            (false, Some(l)) => l.video,
            _ => video_seen as f64 + frame_ms,
        };
    }
    for (at, held) in tail {
        if !out.send(at, held).await {
            return Ok(());
        }
    }
    out.flush().await;
    Ok(())
}

/// The duration of one AAC frame: 1024 samples at 48 kHz, as every prepared file has.
const AAC_FRAME_MS: f64 = 1024.0 / 48.0;

/// Where a pass's audio ends. A pass's audio rarely ends on a frame boundary of its own: the
/// frame that straddles the cut is either kept (its end overlaps the next pass's first frame) or
/// dropped (a gap shorter than a frame). Either way the audio's samples and its timestamps move
/// apart by up to a frame at every join — 25,000 joins a day add up to minutes, and a player that
/// clocks by samples drifts from the video. So the choice keeps where the samples sent so far end
/// nearest to where the timestamps say they end: within half a frame however long it runs.
#[derive(Default)]
struct AudioCut {
    /// Where the audio sent so far ends if its frames are laid end to end, in media ms.
    content_end: Option<f64>,
}

impl AudioCut {
    /// Whether the audio frame at media time `at` goes out, in a pass whose audio ends at `end`.
    fn keep(&mut self, at: f64, end: f64) -> bool {
        if at >= end {
            return false;
        }
        // A real gap in the audio (a pass with less audio than video, a broken item) is not
        // made up for with overlaps at every join after it: the count starts again there.
        let content = self.content_end.filter(|c| (c - at).abs() <= AAC_FRAME_MS).unwrap_or(at);
        let keep = at + AAC_FRAME_MS <= end || (content + AAC_FRAME_MS - end).abs() <= (content - end).abs();
        if keep {
            self.content_end = Some(content + AAC_FRAME_MS);
        }
        keep
    }
}

/// Gathers tags into batches of about [`BATCH_MS`] and hands each over when its first tag is due.
struct Batcher {
    start: Instant,
    /// The RTMP timestamp of media time 0: 0, unless a test starts later (EngineOptions).
    epoch: u64,
    batch: Vec<Tag>,
    batch_ms: u64,
    fanout: Fanout,
    cancel: CancellationToken,
    drift: watch::Sender<f64>,
}

impl Batcher {
    /// Adds a tag at `media_ms` to the open batch.
    fn push(&mut self, media_ms: u64, mut tag: Tag) {
        if self.batch.is_empty() {
            self.batch_ms = media_ms;
        }
        // RTMP timestamps are 32-bit milliseconds: they wrap after 49.7 days, as receivers expect.
        tag.timestamp = ((self.epoch + media_ms) & 0xffff_ffff) as u32;
        self.batch.push(tag);
    }

    /// Adds a tag, first handing over the open batch if this tag is a batch's length past its
    /// start. False when there is nobody left to send to.
    async fn send(&mut self, media_ms: u64, tag: Tag) -> bool {
        if !self.batch.is_empty() && media_ms >= self.batch_ms + BATCH_MS && !self.flush().await {
            return false;
        }
        self.push(media_ms, tag);
        true
    }

    async fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        flush(&mut self.batch, self.batch_ms, self.start, &mut self.fanout, &self.cancel, &self.drift).await
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
