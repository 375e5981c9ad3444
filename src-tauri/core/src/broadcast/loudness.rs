//! Loudness normalisation at preparation (EBU R128 through FFmpeg's `loudnorm`), so the items of a
//! playlist — a quiet interview after a loud trailer — play at one level.
//!
//! Two passes, as FFmpeg's documentation recommends for files: the first measures the source's
//! integrated loudness, true peak and range; the second applies one linear gain computed from
//! them (falling back to loudnorm's dynamic mode only where a linear gain would push the peaks
//! past the ceiling). A real-time encode is not normalised: loudnorm's one-pass mode holds 3 s of
//! audio back, which would hold the stream back; the prepared copy made meanwhile is.

use std::path::Path;

use serde::Deserialize;

use super::BroadcastError;
use crate::db::DbError;
use crate::media::limits;
use crate::media::runner::{Ended, Ffmpeg, Output, Report};
use crate::Twitcher;

const SETTING: &str = "loudness.target_lufs";
/// Integrated loudness, LUFS: what most streaming services normalise to.
pub const DEFAULT_TARGET: f64 = -16.0;
/// True-peak ceiling (dBTP) and loudness range (LU) of the output.
const TRUE_PEAK: f64 = -1.5;
const RANGE: f64 = 11.0;

/// The integrated loudness prepared audio is brought to (a setting of the data dir).
pub async fn target(app: &Twitcher) -> Result<f64, DbError> {
    Ok(app.db.setting(SETTING).await?.and_then(|v| v.parse::<f64>().ok()).filter(|v| valid(*v)).unwrap_or(DEFAULT_TARGET))
}

/// Changes the target; videos are prepared again for it when next streamed.
pub async fn set_target(app: &Twitcher, actor: &crate::model::Profile, lufs: f64) -> Result<(), BroadcastError> {
    actor.require_admin()?;
    if !valid(lufs) {
        return Err(BroadcastError::InvalidQuality(format!("a loudness target is between -70 and -5 LUFS (got {lufs})")));
    }
    app.db.set_setting(SETTING, &format!("{lufs:.1}")).await?;
    Ok(())
}

fn valid(lufs: f64) -> bool {
    (-70.0..=-5.0).contains(&lufs)
}

/// Part of a prepared file's cache key: a new target makes new files.
pub fn key(target: f64) -> String {
    format!("r128{:.0}", target * -10.0)
}

/// What the first pass measured (loudnorm's JSON: numbers as strings).
#[derive(Debug, Clone, Deserialize)]
pub struct Measured {
    input_i: String,
    input_tp: String,
    input_lra: String,
    input_thresh: String,
    target_offset: String,
}

impl Measured {
    /// All finite: silence measures `-inf` and cannot be normalised (nor needs to be).
    fn usable(&self) -> bool {
        [&self.input_i, &self.input_tp, &self.input_lra, &self.input_thresh, &self.target_offset]
            .iter()
            .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite))
    }
}

/// The first pass over `source`'s first audio track. `None` when there is nothing to normalise
/// (no audio, or silence).
pub async fn measure(source: &Path, target: f64) -> Result<Option<Measured>, Ended> {
    let ours = |message: String| Ended { message, killed: false };
    let args = ["-y".to_string(), "-nostats".into()].into_iter().chain(limits::input(source)).chain(
        ["-map", "0:a:0?", "-vn", "-sn", "-dn", "-af", &format!("loudnorm=I={target}:TP={TRUE_PEAK}:LRA={RANGE}:print_format=json"), "-f", "null", "-"]
            .map(String::from),
    );
    let limit = limits::read_limit(tokio::fs::metadata(source).await.map(|m| m.len()).unwrap_or(0));
    let mut ffmpeg = Ffmpeg::start(args, Output::File, limits::ENCODE_MEMORY).map_err(|e| ours(e.to_string()))?;
    let mut log = String::new();
    let read = async {
        while let Some(report) = ffmpeg.next().await {
            if let Report::Line(line) | Report::Warning(line) | Report::Error(line) = report {
                log.push_str(&line);
                log.push('\n');
            }
        }
    };
    // Past the limit the handle is dropped, which kills FFmpeg.
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| ours(format!("FFmpeg took longer than its limit of {} s measuring its loudness and was stopped: is the file damaged?", limit.as_secs())))?;
    // FFmpeg names the input by its path: the message says "the file" instead.
    ffmpeg.finish_ended().await.map_err(|e| Ended {
        message: format!("FFmpeg could not prepare it (measuring its loudness: {})", e.message.replace(&source.display().to_string(), "the file")),
        ..e
    })?;
    Ok(parse(&log))
}

/// The JSON object loudnorm prints last on stderr.
fn parse(stderr: &str) -> Option<Measured> {
    let start = stderr.rfind('{')?;
    let end = stderr[start..].find('}')? + start;
    serde_json::from_str::<Measured>(&stderr[start..=end]).ok().filter(Measured::usable)
}

/// The filter of the second pass (`measured: None`: loudnorm's one-pass dynamic mode).
pub fn filter(target: f64, measured: Option<&Measured>) -> String {
    let base = format!("loudnorm=I={target}:TP={TRUE_PEAK}:LRA={RANGE}");
    match measured {
        Some(m) => format!(
            "{base}:measured_I={}:measured_TP={}:measured_LRA={}:measured_thresh={}:offset={}:linear=true",
            m.input_i, m.input_tp, m.input_lra, m.input_thresh, m.target_offset
        ),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tail of a real first pass: Debian 12's FFmpeg 5.1 on a 330 Hz tone at volume 0.1
    /// (`sine=frequency=330`, 3 s).
    const CAPTURED: &str = r#"video:0kB audio:1125kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: unknown
[Parsed_loudnorm_0 @ 0x55f9502e2540] 
{
	"input_i" : "-41.85",
	"input_tp" : "-38.05",
	"input_lra" : "0.00",
	"input_thresh" : "-51.85",
	"output_i" : "-15.95",
	"output_tp" : "-12.19",
	"output_lra" : "0.00",
	"output_thresh" : "-25.95",
	"normalization_type" : "dynamic",
	"target_offset" : "-0.05"
}
"#;

    #[test]
    fn the_first_pass_feeds_the_second_as_one_linear_gain() {
        let measured = parse(CAPTURED).expect("parsed");
        assert_eq!(
            filter(-16.0, Some(&measured)),
            "loudnorm=I=-16:TP=-1.5:LRA=11:measured_I=-41.85:measured_TP=-38.05:measured_LRA=0.00:measured_thresh=-51.85:offset=-0.05:linear=true"
        );
        assert_eq!(filter(-14.0, None), "loudnorm=I=-14:TP=-1.5:LRA=11");
    }

    #[test]
    fn silence_or_a_garbled_report_is_not_normalised() {
        let silent = CAPTURED.replace("\"-41.85\"", "\"-inf\"");
        assert!(parse(&silent).is_none());
        assert!(parse("no json here").is_none());
        assert!(parse("{ \"input_i\": \"-20\" }").is_none(), "fields missing");
    }

    #[test]
    fn each_target_has_its_own_prepared_files() {
        assert_eq!(key(-16.0), "r128160");
        assert_ne!(key(-16.0), key(-14.0));
        assert!(valid(-23.0) && !valid(0.0) && !valid(-80.0) && !valid(f64::NAN));
    }
}
