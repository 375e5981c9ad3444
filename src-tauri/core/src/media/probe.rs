//! What a media file is, decided from its content by ffprobe — never from its extension — and
//! whether it is whole.

use std::path::Path;
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{command, locate, MediaError, Tool};

/// The containers Twitcher imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum Container {
    Mp4,
    Webm,
    Ogg,
    Avi,
    Mov,
    Wmv,
    Flv,
}

impl Container {
    pub const ALL: [Container; 7] =
        [Container::Mp4, Container::Webm, Container::Ogg, Container::Avi, Container::Mov, Container::Wmv, Container::Flv];

    /// The usual file extension, also the name scripts use (`--format mp4`).
    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Webm => "webm",
            Container::Ogg => "ogg",
            Container::Avi => "avi",
            Container::Mov => "mov",
            Container::Wmv => "wmv",
            Container::Flv => "flv",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Container> {
        let ext = ext.trim().trim_start_matches('.').to_ascii_lowercase();
        Container::ALL.into_iter().find(|c| c.extension() == ext || (ext == "ogv" && *c == Container::Ogg))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("not a video file FFmpeg can read ({0})")]
    Unreadable(String),
    #[error("{0} files are not supported: use MP4, WebM, OGG, AVI, MOV, WMV or FLV")]
    Unsupported(String),
    #[error("no video stream found")]
    NoVideo,
    #[error("the file is truncated: it ends at {percent} % of its stated duration (was it still copying?)")]
    Truncated { percent: u32 },
    #[error("the file is damaged ({0})")]
    Damaged(String),
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tool(#[from] MediaError),
}

/// What ffprobe found, in the units the library stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub container: Container,
    pub duration_sec: f64,
    pub width: i64,
    pub height: i64,
    pub fps: f64,
    pub codec_video: String,
    pub codec_audio: Option<String>,
    /// Overall bits per second.
    pub bitrate: Option<i64>,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    disposition: Disposition,
}

#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    attached_pic: i64,
}

#[derive(Deserialize)]
struct Format {
    format_name: String,
    duration: Option<String>,
    bit_rate: Option<String>,
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
}

/// Reads a file's container and streams. Refuses empty files, other containers and files with no
/// video stream.
pub async fn probe(path: &Path) -> Result<MediaInfo, ProbeError> {
    if tokio::fs::metadata(path).await?.len() == 0 {
        return Err(ProbeError::Empty);
    }
    let (ffprobe, _) = locate(Tool::Ffprobe)?;
    let output = command(&ffprobe)
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-i"])
        .arg(path)
        .output()
        .await?;
    if !output.status.success() {
        return Err(ProbeError::Unreadable(first_line(&output.stderr)));
    }
    let probe: Probe = serde_json::from_slice(&output.stdout)
        .map_err(|e| ProbeError::Unreadable(format!("unexpected ffprobe output: {e}")))?;
    interpret(probe)
}

fn first_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    // ffprobe prefixes lines with the input path; keep only what it says about the content.
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("ffprobe failed");
    let line = line.rsplit(": ").next().unwrap_or(line);
    crate::redact::redact(line).into_owned()
}

fn parse_rate(rate: Option<&str>) -> Option<f64> {
    let (num, den) = rate?.split_once('/')?;
    let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
    (num > 0.0 && den > 0.0).then(|| num / den)
}

fn interpret(probe: Probe) -> Result<MediaInfo, ProbeError> {
    let format = probe.format.ok_or_else(|| ProbeError::Unreadable("no container found".into()))?;
    // Cover art in audio files is a "video" stream too; it does not count.
    let video = probe
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0)
        .ok_or(ProbeError::NoVideo)?;
    let audio = probe.streams.iter().find(|s| s.codec_type.as_deref() == Some("audio"));
    let codec_video = video.codec_name.clone().unwrap_or_else(|| "unknown".into());
    let codec_audio = audio.and_then(|a| a.codec_name.clone());
    let names: Vec<&str> = format.format_name.split(',').collect();
    let container = if names.contains(&"mov") {
        // One demuxer serves both; QuickTime files say so in their brand.
        match format.tags.get("major_brand").map(|b| b.trim()) {
            Some("qt") => Container::Mov,
            _ => Container::Mp4,
        }
    } else if names.contains(&"matroska") || names.contains(&"webm") {
        // Matroska and WebM share a demuxer; WebM is Matroska with only these codecs.
        let webm_video = matches!(codec_video.as_str(), "vp8" | "vp9" | "av1");
        let webm_audio = codec_audio.as_deref().is_none_or(|a| matches!(a, "opus" | "vorbis"));
        if !(webm_video && webm_audio) {
            return Err(ProbeError::Unsupported("Matroska (MKV)".into()));
        }
        Container::Webm
    } else if names.contains(&"ogg") {
        Container::Ogg
    } else if names.contains(&"avi") {
        Container::Avi
    } else if names.contains(&"asf") {
        Container::Wmv
    } else if names.contains(&"flv") {
        Container::Flv
    } else {
        return Err(ProbeError::Unsupported(format!("'{}'", names.first().unwrap_or(&"unknown"))));
    };
    let duration_sec = format
        .duration
        .as_deref()
        .or(video.duration.as_deref())
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| ProbeError::Damaged("no duration".into()))?;
    let fps = parse_rate(video.avg_frame_rate.as_deref()).or(parse_rate(video.r_frame_rate.as_deref())).unwrap_or(0.0);
    Ok(MediaInfo {
        container,
        duration_sec,
        width: video.width.unwrap_or(0),
        height: video.height.unwrap_or(0),
        fps: (fps * 1000.0).round() / 1000.0,
        codec_video,
        codec_audio,
        bitrate: format.bit_rate.and_then(|b| b.parse().ok()),
    })
}

/// Reads every packet of the file (no decoding: about as fast as the disk) and fails if the data
/// ends early or is damaged. ffprobe trusts headers; this does not.
pub async fn verify(path: &Path, info: &MediaInfo) -> Result<(), ProbeError> {
    let (ffmpeg, _) = locate(Tool::Ffmpeg)?;
    let mut child = command(&ffmpeg)
        // No -xerror: ffmpeg reads on to the end, so its last progress report says how far the
        // data really goes.
        .args(["-nostdin", "-v", "error", "-progress", "pipe:1", "-nostats", "-i"])
        .arg(path)
        .args(["-map", "0", "-c", "copy", "-f", "null", "-"])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let errors = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut first = None;
        while let Ok(Some(line)) = lines.next_line().await {
            first.get_or_insert(line);
        }
        first
    });
    let mut reached_us: i64 = 0;
    let mut lines = BufReader::new(stdout).lines();
    // Progress blocks end with progress=continue|end; out_time_us is the output position.
    while let Some(line) = lines.next_line().await? {
        if let Some(us) = line.strip_prefix("out_time_us=").and_then(|v| v.trim().parse::<i64>().ok()) {
            reached_us = reached_us.max(us);
        }
    }
    let status = child.wait().await?;
    let error = errors.await.ok().flatten();
    let reached = reached_us as f64 / 1e6;
    // Containers round durations and the last frame has a length of its own: allow a little.
    let short = reached + 1.0 + info.duration_sec * 0.02 < info.duration_sec;
    if short {
        let percent = ((reached / info.duration_sec) * 100.0).clamp(0.0, 99.0) as u32;
        return Err(ProbeError::Truncated { percent });
    }
    match (status.success(), error) {
        (true, None) => Ok(()),
        (_, Some(e)) => Err(ProbeError::Damaged(crate::redact::redact(e.rsplit(": ").next().unwrap_or(&e)).into_owned())),
        (false, None) => Err(ProbeError::Damaged(format!("ffmpeg stopped with {status}"))),
    }
}

/// Writes a JPEG of the frame at `at_sec`, 480 pixels wide (aspect kept).
pub async fn thumbnail(path: &Path, at_sec: f64, out: &Path) -> Result<(), ProbeError> {
    let (ffmpeg, _) = locate(Tool::Ffmpeg)?;
    let output = command(&ffmpeg)
        .args(["-nostdin", "-v", "error", "-y", "-ss", &format!("{at_sec:.3}"), "-i"])
        .arg(path)
        .args(["-frames:v", "1", "-vf", "scale=480:-2", "-q:v", "4", "-f", "image2", "-c:v", "mjpeg"])
        .arg(out)
        .output()
        .await?;
    if !output.status.success() || tokio::fs::metadata(out).await.map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(ProbeError::Damaged(format!("no frame at {at_sec:.1} s: {}", first_line(&output.stderr))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rates_parse_from_ffprobe_fractions() {
        assert_eq!(parse_rate(Some("30000/1001")).map(|r| (r * 1000.0).round() / 1000.0), Some(29.97));
        assert_eq!(parse_rate(Some("25/1")), Some(25.0));
        assert_eq!(parse_rate(Some("0/0")), None);
        assert_eq!(parse_rate(None), None);
    }

    #[test]
    fn formats_are_named_by_their_usual_extension() {
        for c in Container::ALL {
            assert_eq!(Container::from_extension(c.extension()), Some(c));
        }
        assert_eq!(Container::from_extension(".MP4"), Some(Container::Mp4));
        assert_eq!(Container::from_extension("mkv"), None);
    }
}
