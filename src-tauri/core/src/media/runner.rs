//! Every FFmpeg encode of the core runs through here, on `ffmpeg-sidecar`: its command builder
//! with the sidecar's path, its parsed stderr (progress as typed events, log lines with their
//! level), `q` on stdin to ask FFmpeg to finish. What this module adds is what a desktop app
//! needs around it: the events arrive on the async runtime, the last error line is kept for the
//! message a user sees, a stop asks with `q` and kills after a short wait, and no FFmpeg outlives
//! its handle (killed on drop) or Twitcher itself ([`super::child`]: the parent-death signal on
//! Linux, a job object on Windows).
//!
//! ffprobe is not an FFmpeg encode (ffmpeg-sidecar's builder adds ffmpeg-only flags): probes run
//! through [`super::command`], whose JSON `probe` reads.

use std::ffi::OsStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
use tokio::sync::mpsc;

use super::{locate, MediaError, Tool};

/// How long FFmpeg may take to finish after `q` (it flushes and writes the trailer) before it is
/// killed.
const QUIT_GRACE: Duration = Duration::from_secs(3);

/// What a running FFmpeg reports, as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// Output written up to this media time, in seconds.
    Progress(f64),
    /// An error line FFmpeg logged (redacted).
    Error(String),
    /// A warning it logged (redacted).
    Warning(String),
    /// Any other line it logged (a filter's report: loudnorm's measurement).
    Line(String),
}

/// A running FFmpeg.
pub struct Ffmpeg {
    child: ffmpeg_sidecar::child::FfmpegChild,
    stdout: Option<std::process::ChildStdout>,
    /// `None` once taken ([`Ffmpeg::take_reports`]).
    reports: Option<mpsc::UnboundedReceiver<Report>>,
    last_error: Arc<Mutex<Option<String>>>,
    finished: bool,
}

/// Where FFmpeg's output goes: a file (ffmpeg-sidecar drains the empty stdout), or the caller
/// reads it ([`Ffmpeg::take_stdout`], `pipe:1` output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    File,
    Pipe,
}

impl Ffmpeg {
    /// Starts the sidecar FFmpeg (see [`locate`]) with `args` (without `-loglevel`, `-nostdin`
    /// or `-progress`: the runner sets how FFmpeg reports), allowed `memory` bytes of address
    /// space ([`super::limits`]).
    pub fn start<I, S>(args: I, output: Output, memory: u64) -> Result<Self, MediaError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (path, _) = locate(Tool::Ffmpeg)?;
        let mut command = FfmpegCommand::new_with_path(&path);
        command.hide_banner().args(args);
        super::child::harden(command.as_inner_mut());
        super::limits::limit_memory(command.as_inner_mut(), memory);
        let mut child = command.spawn().map_err(|e| MediaError::Spawn { tool: "ffmpeg", reason: e.to_string() })?;
        super::child::contain(child.as_inner());
        // Taken before the event iterator would: the caller reads the encoded stream itself.
        let stdout = match output {
            Output::Pipe => child.take_stdout(),
            Output::File => None,
        };
        let events = child.iter().map_err(|e| MediaError::Spawn { tool: "ffmpeg", reason: e.to_string() })?;
        let (tx, reports) = mpsc::unbounded_channel();
        let last_error = Arc::new(Mutex::new(None));
        let kept = last_error.clone();
        // ffmpeg-sidecar hands events over one at a time from its stderr thread: someone must
        // take each, or FFmpeg blocks writing its log.
        std::thread::Builder::new()
            .name("ffmpeg events".into())
            .spawn(move || {
                for event in events {
                    if let Some(report) = report_of(event, &kept) {
                        let _ = tx.send(report);
                    }
                }
            })
            .map_err(|e| MediaError::Spawn { tool: "ffmpeg", reason: e.to_string() })?;
        Ok(Self { child, stdout, reports: Some(reports), last_error, finished: false })
    }

    /// FFmpeg's standard output, for `pipe:1` output (started with [`Output::Pipe`]); once.
    pub fn take_stdout(&mut self) -> Option<tokio::process::ChildStdout> {
        self.stdout.take().and_then(|out| tokio::process::ChildStdout::from_std(out).ok())
    }

    /// The next report; `None` once FFmpeg has stopped reporting (it is ending).
    pub async fn next(&mut self) -> Option<Report> {
        self.reports.as_mut()?.recv().await
    }

    /// The reports, for a task of their own (a long encode whose owner does not poll them: they
    /// must be read, or they pile up).
    pub fn take_reports(&mut self) -> Option<mpsc::UnboundedReceiver<Report>> {
        self.reports.take()
    }

    /// The last error line FFmpeg logged, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("not poisoned").clone()
    }

    /// Waits for FFmpeg to end (draining what it still reports); an error carries its last
    /// error line.
    pub async fn finish(self) -> Result<(), String> {
        self.finish_ended().await.map_err(|e| e.message)
    }

    /// [`Ffmpeg::finish`], saying also whether FFmpeg was killed by a signal (from outside: a
    /// limit of ours stops it through [`Ffmpeg::stop`] or by dropping it, before this is asked).
    pub async fn finish_ended(mut self) -> Result<(), Ended> {
        while self.next().await.is_some() {}
        let status = self.wait().await.map_err(|e| Ended { message: e.to_string(), killed: false })?;
        if status.success() {
            return Ok(());
        }
        #[cfg(unix)]
        let killed = std::os::unix::process::ExitStatusExt::signal(&status).is_some_and(|s| s == libc::SIGKILL || s == libc::SIGTERM);
        #[cfg(not(unix))]
        let killed = false;
        Err(Ended { message: self.last_error().unwrap_or_else(|| format!("FFmpeg ended with {status}")), killed })
    }

    /// Asks FFmpeg to finish (`q`: it flushes and closes its output) and kills it if it has not
    /// ended within [`QUIT_GRACE`].
    pub async fn stop(mut self) {
        let _ = self.child.quit();
        let deadline = tokio::time::Instant::now() + QUIT_GRACE;
        loop {
            match self.child.as_inner_mut().try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if tokio::time::Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    break;
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let _ = self.wait().await;
    }

    async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        loop {
            if let Some(status) = self.child.as_inner_mut().try_wait()? {
                self.finished = true;
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Why FFmpeg ended without success: its last error line, and whether it was killed from
/// outside (SIGKILL, SIGTERM: the OOM killer, an administrator) — not the file's fault, so worth
/// trying again.
#[derive(Debug)]
pub struct Ended {
    pub message: String,
    pub killed: bool,
}

impl Drop for Ffmpeg {
    /// An FFmpeg whose handle is gone is not wanted: it is killed and reaped, never orphaned.
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.child.as_inner_mut().wait();
        }
    }
}

/// What of an event a caller needs; keeps the last error line.
fn report_of(event: FfmpegEvent, last_error: &Mutex<Option<String>>) -> Option<Report> {
    match event {
        FfmpegEvent::Progress(p) => ffmpeg_sidecar::log_parser::parse_time_str(&p.time).map(Report::Progress),
        FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, line) => {
            let line = crate::redact::redact(message(&line)).into_owned();
            *last_error.lock().expect("not poisoned") = Some(line.clone());
            Some(Report::Error(line))
        }
        FfmpegEvent::Log(LogLevel::Warning, line) => Some(Report::Warning(crate::redact::redact(message(&line)).into_owned())),
        FfmpegEvent::Log(LogLevel::Info | LogLevel::Unknown, line) => Some(Report::Line(crate::redact::redact(message(&line)).into_owned())),
        _ => None,
    }
}

/// A log line without the `[level]` that `-loglevel level+info` puts before it.
fn message(line: &str) -> &str {
    let line = line.trim();
    match line.strip_prefix('[').and_then(|rest| rest.split_once("] ")) {
        Some((level, text)) if level.chars().all(|c| c.is_ascii_lowercase()) => text,
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg_sidecar::log_parser::FfmpegLogParser;

    /// FFmpeg 5.1's stderr at `-loglevel level+info` for a short encode that fails at the end
    /// (captured, the paths shortened).
    const CAPTURED: &str = "[info] Input #0, lavfi, from 'testsrc=duration=2':\n\
[info]   Duration: N/A, start: 0.000000, bitrate: N/A\n\
[info]   Stream #0:0: Video: wrapped_avframe, rgb24, 320x240 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, 25 tbn\n\
[info] Stream mapping:\n\
[info]   Stream #0:0 -> #0:0 (wrapped_avframe (native) -> flv1 (flv))\n\
[info] Output #0, flv, to 'out.flv':\n\
[info]   Stream #0:0: Video: flv1 (flv) ([2][0][0][0] / 0x0002), yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], q=2-31, 200 kb/s, 25 fps, 1k tbn\n\
[info] frame=   25 fps=0.0 q=5.8 size=      40kB time=00:00:01.00 bitrate= 327.7kbits/s speed=1.96x    \r\
[info] frame=   50 fps=0.0 q=7.5 size=      72kB time=00:00:01.96 bitrate= 300.9kbits/s speed=1.97x    \n\
[warning] Past duration 0.999992 too large\n\
[error] Error writing trailer of out.flv: No space left on device\n";

    fn reports(text: &str) -> (Vec<Report>, Option<String>) {
        let mut parser = FfmpegLogParser::new(text.as_bytes());
        let last = Mutex::new(None);
        let mut out = Vec::new();
        loop {
            match parser.parse_next_event() {
                Ok(FfmpegEvent::LogEOF) | Err(_) => break,
                Ok(event) => out.extend(report_of(event, &last)),
            }
        }
        (out, last.into_inner().unwrap())
    }

    #[test]
    fn captured_stderr_gives_progress_in_seconds_problems_and_the_last_error() {
        let (reports, last) = reports(CAPTURED);
        let progress: Vec<f64> = reports.iter().filter_map(|r| if let Report::Progress(s) = r { Some(*s) } else { None }).collect();
        assert_eq!(progress, vec![1.0, 1.96]);
        assert!(reports.contains(&Report::Warning("Past duration 0.999992 too large".into())), "{reports:?}");
        assert!(reports.contains(&Report::Line("Stream mapping:".into())), "{reports:?}");
        assert_eq!(last.as_deref(), Some("Error writing trailer of out.flv: No space left on device"));
    }

    #[test]
    fn a_stream_key_in_an_error_line_is_redacted() {
        let (_, last) = reports("[error] rtmp://live.twitch.tv/app/live_123456789_AbCdEfGhIjKlMnOpQrStUvWxYz01: I/O error\n");
        let last = last.unwrap();
        assert!(!last.contains("live_123456789_AbCdEfGhIjKlMnOpQrStUvWxYz01"), "{last}");
    }
}
