//! The plain types every floor shares: rows as the surfaces see them, states and their
//! transition table, and the stable error codes.
//!
//! This is the ground floor: nothing here imports another module of the crate (the layers test,
//! `tests/layers.rs`, holds it so). A type belongs here when the database, a service and a
//! surface all name it; a type only one service reads stays with that service, and a row only
//! the core reads stays in `db/` beside its SQL. Behaviour here is limited to what the data says
//! about itself (a transition allowed, a quality in range, a masked UUID).

mod account;
mod error_code;
mod job;
mod node;
mod page;
mod playlist;
mod profile;
mod secret;
mod storage;
mod stream;
mod task;
mod video;

pub use account::Account;
pub use error_code::ErrorCode;
pub use job::{Job, JobStatus};
pub use node::Node;
pub use page::PageRequest;
pub use playlist::{ItemMeta, Playlist, PlaylistItem, PlaylistOptions};
pub use profile::{NotAdmin, Plan, PlanLimits, Profile, Role, UnknownPlan};
pub use secret::{KeyringBackend, Sealed, SecretRef};
pub use storage::S3Settings;
pub(crate) use stream::ACTIVE;
pub use stream::{InvalidQuality, Quality, QualityPreset, StreamRow, StreamState, StreamStatus, QUALITY_PRESETS};
pub use task::{TaskHealth, TaskState};
pub use video::{ApiVideo, Container, Sort, Storage, Video, VideoPage, VideoQuery, VideoStatus};
