//! What a media file is, decided from its content by ffprobe — never from its extension — and
//! whether it is whole.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::limits::{self, plain};
use super::runner::{Ffmpeg, Output, Report};
use super::{child, command, locate, MediaError, Tool};
use crate::model::Container;

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
    #[error("FFmpeg took longer than its limit of {limit_sec} s on this file and was stopped: is it damaged?")]
    TooSlow { limit_sec: u64 },
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

/// ffprobe's `-show_format -show_streams` JSON: the one reading of it, for probing a file and
/// for deciding whether a file already complies with a quality (`prepare`).
#[derive(Deserialize)]
pub(crate) struct Probe {
    #[serde(default)]
    pub(crate) streams: Vec<Stream>,
    pub(crate) format: Option<Format>,
}

#[derive(Deserialize)]
pub(crate) struct Stream {
    pub(crate) codec_type: Option<String>,
    pub(crate) codec_name: Option<String>,
    /// The codec's profile (`High`, `Main` for H.264).
    pub(crate) profile: Option<String>,
    pub(crate) width: Option<i64>,
    pub(crate) height: Option<i64>,
    pub(crate) avg_frame_rate: Option<String>,
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
pub(crate) struct Format {
    format_name: String,
    duration: Option<String>,
    pub(crate) bit_rate: Option<String>,
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
}

/// Reads a file's container and streams. Refuses empty files, other containers and files with no
/// video stream.
pub async fn probe(path: &Path) -> Result<MediaInfo, ProbeError> {
    if tokio::fs::metadata(path).await?.len() == 0 {
        return Err(ProbeError::Empty);
    }
    interpret(document(path).await?)
}

/// Runs ffprobe on `path` (confined: [`limits`]) and reads its JSON. What ffprobe says about a
/// file it cannot read goes to the log; the error says it in Twitcher's words.
pub(crate) async fn document(path: &Path) -> Result<Probe, ProbeError> {
    let (ffprobe, _) = locate(Tool::Ffprobe)?;
    let mut probe = command(&ffprobe);
    probe.args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"]).args(limits::input(path));
    let limit = limits::fixed(limits::PROBE_LIMIT);
    let output = tokio::time::timeout(limit, child::output(&mut probe)).await.map_err(|_| ProbeError::TooSlow { limit_sec: limit.as_secs() })??;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        tracing::warn!(ffprobe = %crate::redact::redact(said.trim()), "ffprobe could not read a file");
        return Err(ProbeError::Unreadable("it is not a video in one of the accepted containers, or it is damaged".into()));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| ProbeError::Unreadable(format!("unexpected ffprobe output: {e}")))
}

pub(crate) fn parse_rate(rate: Option<&str>) -> Option<f64> {
    let (num, den) = rate?.split_once('/')?;
    let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
    // "inf/1" or "1e308/1e-308" is no rate either (f64 parses "inf", and the quotient can overflow).
    (num > 0.0 && den > 0.0).then(|| num / den).filter(|r| r.is_finite())
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
    // No -xerror: ffmpeg reads on to the end, so its last progress report says how far the data
    // really goes.
    // -y: an output is named (`-`), so no overwrite prompt; without it ffmpeg-sidecar appends `-n`.
    let args = ["-y".to_string()].into_iter().chain(limits::input(path)).chain(["-map", "0", "-c", "copy", "-f", "null", "-"].map(String::from));
    let limit = limits::read_limit(tokio::fs::metadata(path).await?.len());
    let mut ffmpeg = Ffmpeg::start(args, Output::File, limits::PROBE_MEMORY)?;
    let (mut reached, mut error) = (0.0f64, None);
    let read = async {
        while let Some(report) = ffmpeg.next().await {
            match report {
                Report::Progress(seconds) => reached = reached.max(seconds),
                Report::Error(line) => {
                    error.get_or_insert(line);
                }
                _ => {}
            }
        }
    };
    // Past the limit the handle is dropped, which kills FFmpeg.
    tokio::time::timeout(limit, read).await.map_err(|_| ProbeError::TooSlow { limit_sec: limit.as_secs() })?;
    let result = ffmpeg.finish().await;
    // Containers round durations and the last frame has a length of its own: allow a little.
    let short = reached + 1.0 + info.duration_sec * 0.02 < info.duration_sec;
    if short {
        let percent = ((reached / info.duration_sec) * 100.0).clamp(0.0, 99.0) as u32;
        return Err(ProbeError::Truncated { percent });
    }
    match (result, error) {
        (Ok(()), None) => Ok(()),
        (_, Some(e)) => {
            tracing::warn!(ffmpeg = %e, "a file did not read to its end");
            Err(ProbeError::Damaged(plain(&e)))
        }
        (Err(last), None) => Err(ProbeError::Damaged(plain(&last))),
    }
}

/// Writes a JPEG of the frame at `at_sec`, 480 pixels wide (aspect kept).
pub async fn thumbnail(path: &Path, at_sec: f64, out: &Path) -> Result<(), ProbeError> {
    let args = ["-y".to_string(), "-ss".into(), format!("{at_sec:.3}")]
        .into_iter()
        .chain(limits::input(path))
        .chain(["-frames:v", "1", "-vf", "scale=480:-2", "-q:v", "4", "-f", "image2", "-c:v", "mjpeg"].map(String::from))
        .chain([out.display().to_string()]);
    let limit = limits::fixed(limits::THUMBNAIL_LIMIT);
    let run = Ffmpeg::start(args, Output::File, limits::PROBE_MEMORY)?.finish();
    let result = tokio::time::timeout(limit, run).await.map_err(|_| ProbeError::TooSlow { limit_sec: limit.as_secs() })?;
    if result.is_err() || tokio::fs::metadata(out).await.map(|m| m.len()).unwrap_or(0) == 0 {
        let said = result.err().map(|e| plain(&e)).unwrap_or_else(|| "no picture".into());
        return Err(ProbeError::Damaged(format!("no frame at {at_sec:.1} s: {said}")));
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

#[cfg(test)]
mod prop_tests {
    //! Properties of reading ffprobe's `-print_format json` output (issue 16), through the same
    //! two steps as `probe`: serde, then `interpret`. Longer by hand:
    //! `PROPTEST_CASES=100000 cargo test -p twitcher-core --lib prop_tests`
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use serde_json::{json, Value};

    /// `default_cases` unless PROPTEST_CASES says otherwise; no regression files in the tree.
    fn config(default_cases: u32) -> Config {
        let mut config = Config { failure_persistence: None, ..Config::default() };
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = default_cases;
        }
        config
    }

    /// What `probe` does with ffprobe's standard output.
    fn read(stdout: &[u8]) -> Result<MediaInfo, ProbeError> {
        let probe: Probe =
            serde_json::from_slice(stdout).map_err(|e| ProbeError::Unreadable(format!("unexpected ffprobe output: {e}")))?;
        interpret(probe)
    }

    /// What holds of anything accepted: the numbers the library stores and sorts by are real.
    fn sane(info: &MediaInfo) -> Result<(), TestCaseError> {
        prop_assert!(info.duration_sec.is_finite() && info.duration_sec > 0.0, "{info:?}");
        prop_assert!(info.fps.is_finite() && info.fps >= 0.0, "{info:?}");
        prop_assert!(Container::ALL.contains(&info.container));
        Ok(())
    }

    /// A document as ffprobe writes it, and what it must be read as.
    #[derive(Debug, Clone)]
    struct Generated {
        format_name: &'static str,
        brand: Option<&'static str>,
        video: &'static str,
        audio: Option<&'static str>,
        /// Err(()) for a container Twitcher refuses.
        container: Result<Container, ()>,
        duration: f64,
        duration_on_stream: bool,
        width: i64,
        height: i64,
        rate: Option<(u32, u32)>,
        rate_in_r_only: bool,
        bitrate: Option<i64>,
        cover_art_first: bool,
    }

    fn arb_container() -> impl Strategy<Value = (&'static str, Option<&'static str>, &'static str, Option<&'static str>, Result<Container, ()>)> {
        let video = || prop::sample::select(vec!["h264", "hevc", "mpeg4", "vp9", "wmv2", "flv1", "theora"]);
        let audio = || prop::option::of(prop::sample::select(vec!["aac", "mp3", "opus", "vorbis", "wmav2"]));
        let isobmff = "mov,mp4,m4a,3gp,3g2,mj2";
        prop_oneof![
            (video(), audio()).prop_map(move |(v, a)| (isobmff, Some("qt  "), v, a, Ok(Container::Mov))),
            (video(), audio(), prop::sample::select(vec![None, Some("isom"), Some("mp42")])).prop_map(move |(v, a, b)| (isobmff, b, v, a, Ok(Container::Mp4))),
            (prop::sample::select(vec!["vp8", "vp9", "av1"]), prop::option::of(prop::sample::select(vec!["opus", "vorbis"])))
                .prop_map(|(v, a)| ("matroska,webm", None, v, a, Ok(Container::Webm))),
            (prop::sample::select(vec!["h264", "hevc", "mpeg4"]), audio()).prop_map(|(v, a)| ("matroska,webm", None, v, a, Err(()))),
            (prop::sample::select(vec!["vp9", "av1"]), prop::sample::select(vec!["aac", "mp3", "flac"])).prop_map(|(v, a)| ("matroska,webm", None, v, Some(a), Err(()))),
            (video(), audio()).prop_map(|(v, a)| ("ogg", None, v, a, Ok(Container::Ogg))),
            (video(), audio()).prop_map(|(v, a)| ("avi", None, v, a, Ok(Container::Avi))),
            (video(), audio()).prop_map(|(v, a)| ("asf", None, v, a, Ok(Container::Wmv))),
            (video(), audio()).prop_map(|(v, a)| ("flv", None, v, a, Ok(Container::Flv))),
            (video(), audio(), prop::sample::select(vec!["mpegts", "image2", "gif", "wav"])).prop_map(|(v, a, f)| (f, None, v, a, Err(()))),
        ]
    }

    fn arb_generated() -> impl Strategy<Value = Generated> {
        (
            arb_container(),
            (1e-3f64..1e7, any::<bool>()),
            (0i64..=8192, 0i64..=8192),
            (prop::option::of((1u32..=240_000, 1u32..=1001)), any::<bool>()),
            prop::option::of(0i64..=1_000_000_000_000),
            any::<bool>(),
        )
            .prop_map(|((format_name, brand, video, audio, container), (duration, duration_on_stream), (width, height), (rate, rate_in_r_only), bitrate, cover_art_first)| Generated {
                format_name,
                brand,
                video,
                audio,
                container,
                duration,
                duration_on_stream,
                width,
                height,
                rate,
                rate_in_r_only,
                bitrate,
                cover_art_first,
            })
    }

    /// The document, with the fields ffprobe writes that Twitcher ignores.
    fn document(g: &Generated) -> Value {
        let rate = g.rate.map(|(n, d)| format!("{n}/{d}")).unwrap_or_else(|| "0/0".into());
        let mut video = json!({
            "index": 0, "codec_name": g.video, "codec_long_name": "…", "codec_type": "video",
            "width": g.width, "height": g.height, "pix_fmt": "yuv420p",
            "avg_frame_rate": if g.rate_in_r_only { "0/0".to_string() } else { rate.clone() },
            "r_frame_rate": rate, "time_base": "1/90000",
            "disposition": { "default": 1, "attached_pic": 0 },
        });
        let mut format = json!({ "filename": "in", "nb_streams": 2, "format_name": g.format_name, "format_long_name": "…", "probe_score": 100 });
        let duration = g.duration.to_string();
        if g.duration_on_stream {
            video["duration"] = json!(duration);
        } else {
            format["duration"] = json!(duration);
        }
        if let Some(b) = g.bitrate {
            format["bit_rate"] = json!(b.to_string());
        }
        if let Some(brand) = g.brand {
            format["tags"] = json!({ "major_brand": brand, "encoder": "Lavf" });
        }
        let mut streams = Vec::new();
        if g.cover_art_first {
            // Cover art is a "video" stream that must not count.
            streams.push(json!({ "index": 0, "codec_name": "mjpeg", "codec_type": "video", "width": 600, "height": 600, "disposition": { "attached_pic": 1 } }));
        }
        streams.push(video);
        if let Some(a) = g.audio {
            streams.push(json!({ "index": 1, "codec_name": a, "codec_type": "audio", "sample_rate": "48000", "channels": 2 }));
        }
        json!({ "streams": streams, "format": format })
    }

    #[test]
    fn a_generated_ffprobe_document_reads_as_exactly_its_values() {
        TestRunner::new(config(1024))
            .run(&arb_generated(), |g| {
                let read = read(&serde_json::to_vec(&document(&g)).unwrap());
                match g.container {
                    Err(()) => prop_assert!(matches!(read, Err(ProbeError::Unsupported(_))), "{read:?}"),
                    Ok(container) => {
                        let fps = g.rate.map(|(n, d)| (f64::from(n) / f64::from(d) * 1000.0).round() / 1000.0).unwrap_or(0.0);
                        let expected = MediaInfo {
                            container,
                            duration_sec: g.duration,
                            width: g.width,
                            height: g.height,
                            fps,
                            codec_video: g.video.to_string(),
                            codec_audio: g.audio.map(String::from),
                            bitrate: g.bitrate,
                        };
                        prop_assert_eq!(read.unwrap(), expected);
                    }
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_missing_zero_negative_or_non_finite_duration_is_damage() {
        let bad = prop::sample::select(vec![None, Some("0"), Some("-0.0"), Some("-5.2"), Some("-1e308"), Some("NaN"), Some("inf"), Some("-inf"), Some("1e999"), Some(""), Some("N/A")]);
        TestRunner::new(config(256))
            .run(&(arb_generated().prop_filter("accepted container", |g| g.container.is_ok()), bad.clone(), bad), |(g, on_format, on_stream)| {
                let mut doc = document(&g);
                let streams = doc["streams"].as_array_mut().unwrap();
                let video = streams.iter_mut().find(|s| s["disposition"]["attached_pic"] == 0).unwrap();
                match on_stream {
                    Some(d) => video["duration"] = json!(d),
                    None => drop(video.as_object_mut().unwrap().remove("duration")),
                }
                match on_format {
                    Some(d) => doc["format"]["duration"] = json!(d),
                    None => drop(doc["format"].as_object_mut().unwrap().remove("duration")),
                }
                let read = read(&serde_json::to_vec(&doc).unwrap());
                prop_assert!(matches!(read, Err(ProbeError::Damaged(_))), "{read:?}");
                Ok(())
            })
            .unwrap();
    }

    #[derive(Debug, Clone)]
    enum Step {
        Key(String),
        At(usize),
    }

    /// Every node's path in `value`, the root's being empty.
    fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(prefix.clone());
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    prefix.push(Step::Key(k.clone()));
                    paths(v, prefix, out);
                    prefix.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    prefix.push(Step::At(i));
                    paths(v, prefix, out);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }

    fn node<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
        path.iter().fold(value, |v, step| match step {
            Step::Key(k) => &mut v[k.as_str()],
            Step::At(i) => &mut v[*i],
        })
    }

    /// What a damaged or hostile ffprobe might put in a field instead.
    fn odd_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(vec![
                Value::Null,
                json!(true),
                json!(-1),
                json!(0),
                json!(i64::MIN),
                json!(u64::MAX),
                json!(1e308),
                json!(-1e308),
                json!(0.5),
                json!(""),
                json!("-5"),
                json!("NaN"),
                json!("inf"),
                json!("1e999"),
                json!("0/0"),
                json!("-1/1"),
                json!("1/0"),
                json!("inf/1"),
                json!("1e308/1e-308"),
                json!("99999999999999999999"),
                json!("video"),
                json!("audio"),
                json!("mov"),
                json!([]),
                json!({}),
                json!({ "attached_pic": 1 }),
            ]),
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
        ]
    }

    #[test]
    fn ffprobe_documents_with_fields_removed_or_replaced_never_panic_and_stay_sane() {
        let mutations = prop::collection::vec((any::<prop::sample::Index>(), prop::option::of(odd_value())), 1..5);
        TestRunner::new(config(1024))
            .run(&(arb_generated(), mutations), |(g, mutations)| {
                let mut doc = document(&g);
                for (at, replacement) in mutations {
                    let mut all = Vec::new();
                    paths(&doc, &mut Vec::new(), &mut all);
                    let path = &all[at.index(all.len())];
                    match (replacement, path.split_last()) {
                        // Removed from its object or array.
                        (None, Some((last, parent))) => match (node(&mut doc, parent), last) {
                            (Value::Object(map), Step::Key(k)) => drop(map.remove(k)),
                            (Value::Array(items), Step::At(i)) => drop(items.remove(*i)),
                            _ => {}
                        },
                        (None, None) => doc = Value::Null,
                        (Some(v), _) => *node(&mut doc, path) = v,
                    }
                }
                if let Ok(info) = read(&serde_json::to_vec(&doc).unwrap()) {
                    sane(&info)?;
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn any_bytes_as_ffprobe_output_give_media_or_a_typed_error() {
        let bytes = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            any::<String>().prop_map(String::into_bytes),
            // Nesting beyond serde_json's depth limit: an error, not a stack overflow.
            (1usize..5000).prop_map(|depth| format!("{{\"streams\":{}", "[".repeat(depth)).into_bytes()),
            arb_generated().prop_flat_map(|g| {
                let text = serde_json::to_vec(&document(&g)).unwrap();
                let len = text.len();
                (Just(text), 0..=len)
            })
            .prop_map(|(text, cut)| text[..cut].to_vec()),
        ];
        TestRunner::new(config(1024))
            .run(&bytes, |bytes| {
                match read(&bytes) {
                    Ok(info) => sane(&info)?,
                    Err(ProbeError::Unreadable(_) | ProbeError::Unsupported(_) | ProbeError::NoVideo | ProbeError::Damaged(_)) => {}
                    Err(e) => prop_assert!(false, "an error parsing cannot give: {e:?}"),
                }
                Ok(())
            })
            .unwrap();
    }
}
