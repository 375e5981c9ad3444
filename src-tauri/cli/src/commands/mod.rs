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
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
