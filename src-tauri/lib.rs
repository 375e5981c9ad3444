//! # twitcher-desktop
//!
//! The desktop shell: a Tauri window over twitcher-core. It holds no domain logic.
//!
//! # Layout
//! - `main.rs` — starts [`run`].
//! - `lib.rs` — builds the app: logging, the opened data dir as managed state, the command list
//!   that also generates `ui/src/lib/bindings.ts` ([`specta_builder`]).
//! - `commands/` — thin Tauri commands: parse, call one core function, map the error to
//!   [`twitcher_core::ErrorBody`].

pub mod commands;
mod tray;

use tauri::Manager;
use tauri_specta::{collect_commands, collect_events, Builder, Event as _};

use commands::{AppState, CoreEvent};

/// Where the generated TypeScript lives, relative to the repo root.
pub const BINDINGS_PATH: &str = "ui/src/lib/bindings.ts";

/// Every command the UI can call. The same list generates the TypeScript bindings, so the two
/// cannot drift apart (a test fails when the committed file is stale).
pub fn specta_builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::profile::session,
            commands::profile::create_profile,
            commands::profile::sign_in,
            commands::profile::sign_out,
            commands::system::doctor,
            commands::system::about,
            commands::accounts::list_accounts,
            commands::accounts::add_account,
            commands::accounts::update_account,
            commands::accounts::remove_account,
            commands::accounts::ingest_options,
            commands::accounts::rotate_vault,
            commands::accounts::test_stream_key,
            commands::twitch::twitch_connect_begin,
            commands::twitch::twitch_connect_finish,
            commands::twitch::twitch_connect_cancel,
            commands::twitch::twitch_stats,
            commands::twitch::twitch_client_id,
            commands::twitch::set_twitch_client_id,
            commands::alerts::alert_settings,
            commands::alerts::save_alert_settings,
            commands::videos::list_videos,
            commands::videos::import_videos,
            commands::videos::cancel_job,
            commands::videos::update_video,
            commands::videos::remove_video,
            commands::videos::video_thumbnail,
            commands::videos::upload_video,
            commands::videos::fetch_video,
            commands::videos::max_import_bytes,
            commands::videos::set_max_import_bytes,
            commands::storage::s3_status,
            commands::storage::save_s3_settings,
            commands::storage::test_s3,
            commands::playlists::list_playlists,
            commands::playlists::create_playlist,
            commands::playlists::add_to_playlist,
            commands::playlists::move_playlist_item,
            commands::playlists::remove_playlist_item,
            commands::playlists::set_playlist_options,
            commands::playlists::delete_playlist,
            commands::streams::start_broadcast,
            commands::streams::list_streams,
            commands::streams::stop_stream,
            commands::streams::stop_broadcast,
            commands::streams::stop_all_broadcasts,
            commands::streams::schedule_broadcast,
            commands::streams::cancel_scheduled,
            commands::streams::after_crash,
            commands::streams::loudness_target,
            commands::streams::list_schedules,
            commands::streams::create_schedule,
            commands::streams::delete_schedule,
            commands::streams::set_loudness_target,
            commands::streams::set_after_crash,
            commands::streams::close_to_tray,
            commands::streams::set_close_to_tray,
        ])
        .events(collect_events![CoreEvent])
        // One TypeScript type per Rust type (not a Serialize/Deserialize pair): the UI only
        // receives these structs, and arguments are plain values.
        .disable_serde_phases()
        // Row ids and byte counts are i64/u64 in Rust and stay far below 2^53, where a
        // JavaScript number is exact.
        .dangerously_cast_bigints_to_number()
}

/// WebKitGTK draws pages through accelerated compositing by default: a GL context and layer
/// tiles in the web process, and where the machine has no GPU driver (a VM, a remote desktop,
/// Xvfb) Mesa's software rasteriser on top. Twitcher's window is forms, lists and a few graphs,
/// which WebKit draws as well without it, and a streaming app should leave the machine to its
/// streams: bench/window_memory.py measures the window at about a quarter less memory (figures
/// in the README, "Tests"). A user who wants compositing back starts Twitcher with
/// `WEBKIT_DISABLE_COMPOSITING_MODE=0` (WebKit reads "0" as "not disabled").
fn draw_without_gpu_compositing() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // Called first thing in `run`, before any thread (GTK's, Tauri's, the runtime's) exists
        // to read the environment concurrently; WebKit's own processes inherit it.
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
}

/// The bindings as TypeScript, exactly as they are written to [`BINDINGS_PATH`].
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    specta_builder()
        .export(
            specta_typescript::Typescript::default().header("// Generated by `cargo test --test bindings` from src-tauri/lib.rs. Do not edit.\n"),
            path,
        )
        .map_err(|e| e.to_string())
}

pub fn run() {
    twitcher_core::private_files::restrict_new_files();
    draw_without_gpu_compositing();
    let builder = specta_builder();
    tauri::Builder::default()
        // First: a second launch hands over to the running one, which shows its window.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| tray::show_window(app)))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            let state = tauri::async_runtime::block_on(AppState::open());
            if let Ok(core) = state.core() {
                let runtime = tauri::async_runtime::block_on(async { start_background_work(app.handle().clone(), core, state.notify_desktop.clone()) });
                *state.runtime.lock().unwrap_or_else(|e| e.into_inner()) = Some(runtime);
                if let Err(e) = tray::install(app.handle(), core.clone()) {
                    tracing::warn!(error = %e, "no tray icon");
                }
            }
            app.manage(state);
            Ok(())
        })
        .on_window_event(|window, event| {
            // With streams live, closing the window hides it to the tray (unless turned off).
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                let state = window.state::<AppState>();
                let live = state.core().map(|c| c.broadcasts.count()).unwrap_or(0);
                if live > 0 && state.close_to_tray.load(std::sync::atomic::Ordering::Relaxed) {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .build(tauri::generate_context!())
        .expect("error while building Twitcher")
        .run(|handle, event| {
            if let tauri::RunEvent::Exit = event {
                let state = handle.state::<AppState>();
                // Broadcasts end their publish on every destination before the process goes;
                // running jobs stop at their next check and are resumed at the next launch.
                let runtime = state.runtime.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(runtime) = runtime {
                    tauri::async_runtime::block_on(runtime.shutdown(std::time::Duration::from_secs(5)));
                }
            }
        });
}

/// The core's background work (its [`Runtime`](twitcher_core::runtime::Runtime)), with alerts
/// shown as desktop notifications (when on), and the bridge from the core's events to the window.
fn start_background_work(
    handle: tauri::AppHandle,
    core: &twitcher_core::Twitcher,
    notify_desktop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> twitcher_core::runtime::Runtime {
    let mut events = core.events.subscribe();
    let bridge = handle.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    let _ = CoreEvent(event).emit(&bridge);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the window missed some progress events");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    twitcher_core::runtime::Runtime::start(core, move |alert| {
        if !notify_desktop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        use tauri_plugin_notification::NotificationExt;
        let (title, body) = alert.text();
        // No notification service (a bare X server, a headless box) is not an error.
        if let Err(e) = handle.notification().builder().title(title).body(body).show() {
            tracing::debug!(error = %e, "no desktop notification shown");
        }
    })
}
