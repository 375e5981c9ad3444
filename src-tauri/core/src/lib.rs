//! # twitcher-core
//!
//! Every domain rule of Twitcher lives here, free of any GUI dependency, so the desktop shell
//! (`twitcher-desktop`), the command line (`twitcher`) and the HTTP server are thin layers over
//! the same code.
//!
//! # Layout
//! The modules stand on floors; each imports only floors below it, and within a floor only the
//! rooms to its left (`tests/layers.rs` checks it, ARCHITECTURE.md explains it):
//!
//! ```text
//! leaves    clock config outbound redact private_files model
//!           media logging events options registry
//! storage   db
//!           vault
//! handle    app
//!           lease profiles nodes jobs
//! services  ingest storage library accounts doctor twitch playlists
//! engine    broadcast
//! above it  schedules alerts
//! wiring    job_kinds runtime error (and this file)
//! ```
//!
//! | module      | owns |
//! |-------------|------|
//! | [`model`]    | the plain types every floor shares: rows, states and their transitions, [`ErrorCode`] |
//! | [`config`]   | where the data dir is, environment overrides |
//! | [`options`]  | what a process is told at start: Twitch's and the key store's whereabouts, the engine's test knobs |
//! | [`registry`] | what one process holds in memory: broadcasts and jobs it runs, Twitch's rate-limit bucket |
//! | [`db`]       | SQLite in the data dir or a fleet's PostgreSQL, migrations, and every SQL statement |
//! | [`vault`]    | the data key (OS keyring or key file), AES-256-GCM seal/open, rotation |
//! | [`app`]      | the [`Twitcher`] handle: an opened data dir, cheap to clone |
//! | [`lease`]    | which process runs a stream or a job, and proof that it still does |
//! | [`profiles`] | UUID profiles: register, login (throttled), roles, plans and their limits |
//! | [`nodes`]    | the `serve` processes on a database: heartbeats, what each carries |
//! | [`jobs`]     | the durable job queue: claim, retry with backoff, recovery after a crash |
//! | [`ingest`]   | Twitch's ingest servers (fetched, cached, built-in default) and URL validation |
//! | [`storage`]  | S3-compatible storage: settings, uploads (multipart, resumable), fetch, delete |
//! | [`library`]  | video import (a job per file), search/filter/sort, edit, remove, storage quota |
//! | [`accounts`] | Twitch accounts: add/list/update/remove, stream keys through the vault, plan limits |
//! | [`doctor`]   | the report of what the app found on this machine |
//! | [`twitch`]   | Twitch's OAuth (device flow, refresh, validate, revoke, unlink) and Helix |
//! | [`playlists`]| named, ordered lists of videos a broadcast plays: loop, shuffle, inserts, per-item titles |
//! | [`broadcast`]| the streaming engine: prepare, paced FLV source, fan-out, RTMP(S) publishers, supervisor |
//! | [`schedules`]| recurring starts: a local time in an IANA zone on chosen days, DST-correct, with an end |
//! | [`alerts`]   | notifications and the webhook: destination lost/failed/recovered, scheduled start, end |
//! | [`job_kinds`]| which service runs which job kind; [`Twitcher::open`] |
//! | [`runtime`]  | every background loop of the window and `serve`, started and shut down in one place |
//! | [`error`]    | the aggregate error with a stable `{code, message}` for every surface |
//! | [`events`]   | the typed event stream (job progress, library changes) the surfaces forward |
//! | [`media`]    | ffmpeg/ffprobe (sidecar, env, PATH), probing by content, verifying, thumbnails |
//! | [`logging`]  | tracing to a rotating file, every line through one redaction layer |
//! | [`redact`]   | the redaction rules: UUIDs, stream keys, registered secrets |

// Leaves.
pub mod clock;
pub mod config;
pub mod outbound;
pub mod private_files;
pub mod redact;
pub mod text;
pub mod model;
pub mod media;
pub mod logging;
pub mod events;
pub mod options;
pub mod registry;
pub mod tasks;
// Storage.
pub mod db;
pub mod vault;
// The handle.
pub mod app;
pub mod lease;
pub mod profiles;
pub mod nodes;
pub mod health;
pub mod jobs;
// Services.
pub mod ingest;
pub mod storage;
pub mod library;
pub mod accounts;
pub mod doctor;
pub mod disk;
pub mod twitch;
pub mod playlists;
// The engine, and what sits on it.
pub mod broadcast;
pub mod schedules;
pub mod alerts;
// Wiring.
pub mod job_kinds;
pub mod runtime;
pub mod error;

pub use app::Twitcher;
pub use db::DbError;
pub use error::{Error, ErrorBody};
pub use model::ErrorCode;
pub use options::Options;
