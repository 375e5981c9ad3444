//! What every FFmpeg and ffprobe run on a library file is held to. A library file is untrusted
//! (anyone with an account uploads one), and FFmpeg's demuxers follow what a file says: an HLS
//! or concat playlist named `.mp4` makes it open other files or URLs, a crafted header makes it
//! allocate or loop. So:
//! - **inputs confined** ([`input`]): the `file` protocol only, and only the demuxers of the seven
//!   accepted containers — a playlist, an image sequence or a device is refused before it is
//!   parsed;
//! - **a wall clock** ([`PROBE_LIMIT`], [`read_limit`], [`encode_limit`]): proportional to the
//!   file, with a hard cap; a run past it is killed and the job fails with that reason, so one
//!   file never holds the job worker for everyone;
//! - **an address-space limit** on Linux ([`PROBE_MEMORY`], [`ENCODE_MEMORY`], set in the child
//!   before it runs): a memory bomb fails FFmpeg, not the machine;
//! - **FFmpeg's words stay in the log** ([`plain`]): what a client sees is a sentence without
//!   FFmpeg's `[demuxer @ 0x55…]` prefixes (heap addresses) or paths.

use std::path::Path;
use std::time::Duration;

/// The demuxers a library file may be read with (FFmpeg's names: `mov` serves MP4 and MOV,
/// `matroska` WebM, `asf` WMV).
pub const FORMATS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,ogg,avi,asf,flv";

/// How long reading a file's headers may take (ffprobe).
pub const PROBE_LIMIT: Duration = Duration::from_secs(30);
/// How long a thumbnail (one seek, one frame) may take.
pub const THUMBNAIL_LIMIT: Duration = Duration::from_secs(60);
/// The longest any run on a library file may take, whatever its size.
pub const HARD_CAP: Duration = Duration::from_secs(12 * 3600);

/// Address space ffprobe (and a verify or thumbnail run) may reserve: headers and one frame.
pub const PROBE_MEMORY: u64 = 4 << 30;
/// Address space an encode may reserve: x264 at 1080p60 with its threads stays well under it.
pub const ENCODE_MEMORY: u64 = 16 << 30;

/// The input options for a library file: `-protocol_whitelist file -format_whitelist … -i PATH`.
pub fn input(path: &Path) -> [String; 6] {
    ["-protocol_whitelist".into(), "file".into(), "-format_whitelist".into(), FORMATS.into(), "-i".into(), path.display().to_string()]
}

/// For reading every packet of a file of `bytes` (verify, a loudness measurement): a minute, and
/// a second more per 10 MB (a slow disk reads 10 MB/s), at most [`HARD_CAP`].
pub fn read_limit(bytes: u64) -> Duration {
    scaled(Duration::from_secs(60) + Duration::from_secs(bytes / 10_000_000))
}

/// For encoding `duration_sec` of media: two minutes, and four times the media's length (a
/// small machine encodes 1080p at about real time), at most [`HARD_CAP`].
pub fn encode_limit(duration_sec: f64) -> Duration {
    let media = if duration_sec.is_finite() && duration_sec > 0.0 { duration_sec.min(HARD_CAP.as_secs_f64()) } else { 0.0 };
    scaled(Duration::from_secs(120) + Duration::from_secs_f64(media * 4.0))
}

/// `limit`, capped; in builds made with tests, `TWITCHER_TEST_FFMPEG_LIMIT_MS` replaces it (a test
/// of a run killed at its limit).
fn scaled(limit: Duration) -> Duration {
    #[cfg(feature = "testing")]
    if let Some(ms) = std::env::var("TWITCHER_TEST_FFMPEG_LIMIT_MS").ok().and_then(|v| v.parse().ok()) {
        return Duration::from_millis(ms);
    }
    limit.min(HARD_CAP)
}

/// [`PROBE_LIMIT`] or [`THUMBNAIL_LIMIT`], as the test override says.
pub fn fixed(limit: Duration) -> Duration {
    scaled(limit)
}

/// Sets the address-space limit of a child before it runs (Linux; elsewhere nothing).
pub(crate) fn limit_memory(command: &mut std::process::Command, bytes: u64) {
    #[cfg(target_os = "linux")]
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (command, bytes);
}

/// What FFmpeg said, fit for a person: without the `[mov,mp4 @ 0x55d…]` prefixes and the file's
/// path, redacted, at most one line of 160 characters. The whole line goes to the log.
pub fn plain(line: &str) -> String {
    let mut text = line.trim().to_string();
    // `[hls @ 0x5621c230c180] Error …` → `Error …`
    while let Some(rest) = text.strip_prefix('[').and_then(|t| t.split_once("] ")).map(|(_, rest)| rest.to_string()) {
        text = rest;
    }
    // `/path/to/file.mp4: Invalid data …` → `Invalid data …`
    if let Some((_, tail)) = text.rsplit_once(": ") {
        text = tail.to_string();
    }
    let text: String = text.split_whitespace().filter(|w| !w.contains("0x")).collect::<Vec<_>>().join(" ");
    let text = crate::redact::redact(&text).into_owned();
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg_lines_lose_their_heap_addresses_and_paths() {
        assert_eq!(plain("[http @ 0x5621c23108c0] Protocol 'http' not on whitelist 'file'!"), "Protocol 'http' not on whitelist 'file'!");
        assert_eq!(plain("/srv/twitcher/uploads/ab12.part: Invalid data found when processing input"), "Invalid data found when processing input");
        assert_eq!(plain("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] [h264 @ 0x56] error at 0x7ffe12"), "error at");
        assert!(plain(&"x".repeat(400)).chars().count() <= 161);
    }

    #[test]
    fn limits_grow_with_the_file_and_stop_at_the_cap() {
        assert_eq!(read_limit(0), Duration::from_secs(60));
        assert_eq!(read_limit(500_000_000), Duration::from_secs(110));
        assert_eq!(read_limit(u64::MAX), HARD_CAP);
        assert_eq!(encode_limit(60.0), Duration::from_secs(360));
        assert_eq!(encode_limit(f64::INFINITY), Duration::from_secs(120));
        assert_eq!(encode_limit(1e12), HARD_CAP);
    }
}
