pub mod account;
pub mod doctor;
pub mod node;
pub mod playlist;
pub mod profile;
pub mod schedule;
pub mod serve;
pub mod storage;
pub mod stream;
pub mod twitch;
pub mod vault;
pub mod video;

use std::io::{BufRead, IsTerminal};

use zeroize::Zeroizing;

/// One line from stdin (a UUID piped in or typed), trimmed; empty when stdin is closed.
pub fn read_stdin_line() -> Zeroizing<String> {
    let mut line = Zeroizing::new(String::new());
    let _ = std::io::stdin().lock().read_line(&mut line);
    Zeroizing::new(line.trim().to_string())
}

/// A secret from a prompt that does not echo when a person is at the terminal, else the first
/// line of stdin. Never from argv.
pub fn read_secret(prompt: &str) -> Zeroizing<String> {
    if std::io::stdin().is_terminal() {
        if let Ok(secret) = rpassword::prompt_password(prompt) {
            return Zeroizing::new(secret.trim().to_string());
        }
    }
    read_stdin_line()
}

/// Resolves on Ctrl-C or SIGTERM: how a foreground command is asked to stop gracefully.
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    // Windows has no SIGTERM: a closed console window, the user logging off (ctrl_close) or the
    // machine shutting down and Ctrl-Break are its requests to stop. After a close Windows waits
    // about 5 s before ending the process, enough for the graceful stop's first steps.
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_break, ctrl_close, ctrl_shutdown};
        let mut close = ctrl_close().expect("console close handler");
        let mut shutdown = ctrl_shutdown().expect("shutdown handler");
        let mut brk = ctrl_break().expect("Ctrl-Break handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = close.recv() => {}
            _ = shutdown.recv() => {}
            _ = brk.recv() => {}
        }
    }
    #[cfg(not(any(unix, windows)))]
    let _ = tokio::signal::ctrl_c().await;
}
