//! Tauri commands. Each one parses its input, calls one core function and maps the error to the
//! `{code, message}` body the UI shows.

pub mod accounts;
pub mod alerts;
pub mod playlists;
pub mod profile;
pub mod storage;
pub mod streams;
pub mod system;
pub mod twitch;
pub mod videos;

use twitcher_core::profiles::{self, Profile};
use twitcher_core::{config, logging, ErrorBody, Twitcher};

/// The shell's managed state. Opening the data dir can fail (unwritable folder, a database from
/// a newer version): the window still opens and every command reports why.
pub struct AppState {
    core: Result<Twitcher, ErrorBody>,
    _log: Option<logging::LogGuard>,
    /// The core's background work (job worker, scheduler, alerts…), shut down when the app exits.
    pub runtime: std::sync::Mutex<Option<twitcher_core::runtime::Runtime>>,
    /// A "Connect with Twitch" waiting to be approved, and how to cancel its wait.
    pub pending_connect: tokio::sync::Mutex<Option<(twitcher_core::twitch::DeviceLogin, tokio_util::sync::CancellationToken)>>,
    pub connect_cancel: tokio::sync::Mutex<Option<tokio_util::sync::CancellationToken>>,
    /// Whether alerts become system notifications (the "Desktop notifications" setting).
    pub notify_desktop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Whether closing the window while streams are live hides it to the tray.
    pub close_to_tray: std::sync::atomic::AtomicBool,
}

/// Settings key of [`AppState::notify_desktop`] ("on" unless set to "off").
/// Settings key: hide to the tray when the window closes with streams live ("off" to quit).
pub const CLOSE_TO_TRAY_SETTING: &str = "window.close_to_tray";
pub const NOTIFY_DESKTOP_SETTING: &str = "alerts.desktop";

impl AppState {
    pub async fn open() -> Self {
        let data_dir = match config::data_dir(None) {
            Ok(dir) => dir,
            Err(e) => {
                return Self {
                    core: Err(e.into()),
                    _log: None,
                    runtime: Default::default(),
                    pending_connect: Default::default(),
                    connect_cancel: Default::default(),
                    notify_desktop: Default::default(),
                    close_to_tray: Default::default(),
                }
            }
        };
        let log = logging::init(&data_dir, "twitcher-desktop").ok();
        let core = Twitcher::open(&data_dir).await.map_err(|e| {
            tracing::error!(error = %e, "cannot open the data dir");
            e.body()
        });
        if core.is_ok() {
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "Twitcher desktop started");
        }
        let on = |key: &'static str| {
            let core = &core;
            async move {
                match core {
                    Ok(app) => app.setting(key).await.ok().flatten().as_deref() != Some("off"),
                    Err(_) => false,
                }
            }
        };
        let desktop = on(NOTIFY_DESKTOP_SETTING).await;
        let close_to_tray = on(CLOSE_TO_TRAY_SETTING).await;
        Self {
            core,
            _log: log,
            runtime: Default::default(),
            pending_connect: Default::default(),
            connect_cancel: Default::default(),
            notify_desktop: std::sync::Arc::new(desktop.into()),
            close_to_tray: close_to_tray.into(),
        }
    }

    pub fn core(&self) -> Result<&Twitcher, ErrorBody> {
        self.core.as_ref().map_err(Clone::clone)
    }

    /// The opened data dir and the profile signed in on it.
    pub async fn actor(&self) -> Result<(&Twitcher, Profile), ErrorBody> {
        let app = self.core()?;
        let profile =
            profiles::active(app).await?.ok_or_else(|| ErrorBody::from(profiles::ProfileError::NoActiveProfile))?;
        Ok((app, profile))
    }
}

/// Commands return this: the UI gets `{status: "error", error: {code, message}}` on failure.
pub type CommandResult<T> = Result<T, ErrorBody>;

/// Everything the core announces (job progress, library changes), forwarded to the window.
#[derive(Debug, Clone, serde::Serialize, specta::Type, tauri_specta::Event)]
pub struct CoreEvent(pub twitcher_core::events::Event);
