//! Logs go to a daily-rotating file in `DATA_DIR/logs/` (30 days kept), and every line passes
//! through [`crate::redact`] before it reaches the file. Redaction sits in the writer, not in each
//! call site, so no event — ours or a dependency's — can bypass it.
//!
//! The filter comes from `TWITCHER_LOG` (tracing's env-filter syntax), default `info`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::ENV_LOG;

pub const LOG_DIR: &str = crate::config::folders::LOGS;

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot open the log folder {path}: {reason}")]
    Open { path: String, reason: String },
}

/// Keep it alive for the life of the process: dropping it flushes the log file.
pub struct LogGuard {
    _worker: WorkerGuard,
    pub dir: PathBuf,
}

/// Lines queued for the log writer before new ones are dropped (see [`init`]).
const BUFFERED_LINES: usize = 8_192;

/// Days of logs kept: a file a day (stream logs in the database are pruned to match).
pub const KEEP_DAYS: u32 = 30;

/// Installs the global subscriber writing `DATA_DIR/logs/<app>.YYYY-MM-DD.log`. A second call in
/// the same process (tests) keeps the first subscriber.
pub fn init(data_dir: &Path, app: &str) -> Result<LogGuard, LoggingError> {
    let dir = data_dir.join(LOG_DIR);
    // The appender prunes old files by listing the folder, and complains on stderr if it is absent.
    std::fs::create_dir_all(&dir)
        .map_err(|e| LoggingError::Open { path: dir.display().to_string(), reason: e.to_string() })?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(app)
        .filename_suffix("log")
        .max_log_files(KEEP_DAYS as usize)
        .build(&dir)
        .map_err(|e| LoggingError::Open { path: dir.display().to_string(), reason: e.to_string() })?;
    // The queue between the app's threads and the writer's is allocated whole up front: the
    // crate's default (128,000 lines) is 4 MiB in every Twitcher process, for a backlog the
    // writer thread never builds at this app's rate of a few lines a second. 8,192 lines (256 KiB)
    // still absorb a burst; past it lines are dropped (never the app blocked on a slow disk).
    let (writer, worker) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .finish(appender);
    let filter = EnvFilter::try_from_env(ENV_LOG).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Redacting(writer))
        .try_init();
    install_panic_hook(&dir);
    Ok(LogGuard { _worker: worker, dir })
}

/// Panics are logged like every other event — through the redacting writer, with where they
/// happened — instead of Rust's default hook printing the raw message to stderr, where a stream
/// key or a token in it would escape redaction. A person at a terminal still gets one line,
/// redacted, that says where the details are. The supervised tasks (`runtime`) go on after one.
fn install_panic_hook(log_dir: &Path) {
    let log_dir = log_dir.display().to_string();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_else(|| "a panic without a message".into());
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        // Captured only when RUST_BACKTRACE asks for it, as Rust's own hook does.
        let backtrace = std::backtrace::Backtrace::capture();
        tracing::error!(panic = %message, %location, %thread, backtrace = %backtrace, "panic");
        let _ = writeln!(io::stderr(), "twitcher: internal error at {location}: {} (details in {log_dir})", crate::redact::redact(&message));
    }));
}

/// Wraps any writer factory so each formatted event is redacted as a whole before it is written.
#[derive(Clone)]
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { inner: self.0.make_writer(), buf: Vec::with_capacity(256) }
    }
}

/// Buffers one event (the fmt layer makes one writer per event) and writes it redacted on drop,
/// so a secret split across two `write` calls is still caught.
pub struct RedactingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let _ = self.inner.write_all(crate::redact::redact(&text).as_bytes());
        let _ = self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Run as its own process (nextest runs each test so): it installs the global hook.
    #[test]
    fn a_panic_is_logged_redacted_with_its_place_through_the_log_not_raw_to_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let key = "live_987654321_PanicKeyAbCdEfGhIjKl9876";
        let guard = init(dir.path(), "panic-test").unwrap();
        let thread = std::thread::Builder::new().name("worker".into()).spawn(move || panic!("could not publish to rtmp://ingest/app/{key}")).unwrap();
        assert!(thread.join().is_err());
        drop(guard);
        let _ = std::panic::take_hook();
        let log = std::fs::read_dir(dir.path().join(LOG_DIR)).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect::<String>();
        assert!(log.contains("panic") && log.contains("logging.rs") && log.contains("thread=worker"), "{log}");
        assert!(log.contains("rtmp://ingest/app/[redacted]") && !log.contains("PanicKey"), "{log}");
    }

    #[test]
    fn secrets_in_messages_and_fields_never_reach_the_log() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(Redacting(buffer.clone())).finish();
        let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let key = "live_987654321_ZyXwVuTsRqPoNmLkJiHgFeDcBa9876";
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(login = uuid, "sign in with {uuid}");
            tracing::warn!(url = %format!("rtmp://127.0.0.1:1935/app/{key}"), "publish failed for {key}");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains(uuid), "{text}");
        assert!(!text.contains(key), "{text}");
        assert!(!text.contains("ZyXwVuTs"), "{text}");
        assert!(text.contains("sign in with [uuid]"), "{text}");
        assert!(text.contains("publish failed for live_****9876"), "{text}");
    }
}
