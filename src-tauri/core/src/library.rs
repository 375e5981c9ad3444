//! The video library: import, search, edit, remove.
//!
//! An import is a durable job ([`crate::jobs`]) per file: it checks size and quota, recognizes
//! the file by its content, reads it end to end, copies it into `DATA_DIR/library/<profile>/`
//! (temp file, fsync, rename) while hashing it, makes a thumbnail at 10 %, and only then records
//! the row. Any failure removes what the job made: nothing half-imported stays behind.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::db::videos::NewVideo;
use crate::db::DbError;
use crate::events::Event;
use crate::jobs::{self, JobContext, JobError, JobOutcome};
use crate::media::{self, ProbeError};
pub use crate::model::{Container, Sort, Storage, Video, VideoPage, VideoQuery, VideoStatus};
use crate::model::NotAdmin;
use crate::profiles::Profile;
use crate::Twitcher;

/// The job kind of an import (`job_kinds.rs` runs it with [`run_import_job`]).
pub const KIND_IMPORT: &str = "import";

pub const DEFAULT_MAX_FILE_BYTES: u64 = 500 * 1024 * 1024;
const MAX_FILE_KEY: &str = "library.max_file_bytes";
const LIBRARY_DIR: &str = crate::config::folders::LIBRARY;
const THUMBNAIL_DIR: &str = crate::config::folders::THUMBNAILS;

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("{failed} of {total} files could not be imported")]
    ImportFailed { failed: usize, total: usize },
    #[error("no video {id} in this profile's library")]
    NotFound { id: i64 },
    #[error("video {id} is used by a stream that has not ended: stop the stream first")]
    InUse { id: i64 },
    #[error("unknown format '{0}': use mp4, webm, ogg, avi, mov, wmv or flv")]
    InvalidFormat(String),
    #[error("{0}")]
    InvalidTitle(crate::text::TextError),
    #[error("the description must be at most 5000 characters")]
    InvalidDescription,
    #[error(transparent)]
    Storage(Box<crate::storage::StorageError>),
    #[error(transparent)]
    NotAdmin(#[from] NotAdmin),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What an import job needs; `label` and `profile_id` are also read by the job runner.
#[derive(Debug, Serialize, Deserialize)]
struct ImportPayload {
    profile_id: i64,
    source: PathBuf,
    label: String,
}

/// A file that could not even be queued (it does not exist, or is not a file).
#[derive(Debug, Clone, Serialize)]
pub struct ImportRefused {
    pub file: String,
    pub message: String,
}

/// A video's title in the library (longer than a stream's: it is not sent to Twitch).
const TITLE_MAX: usize = 200;

fn file_label(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

pub async fn max_file_bytes(app: &Twitcher) -> Result<u64, DbError> {
    Ok(app.db.setting(MAX_FILE_KEY).await?.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_MAX_FILE_BYTES))
}

/// How much an upload to `serve` may send before it is refused: the largest file an import
/// takes, or what is left of the profile's plan storage when that is less (`by_plan`). Checked
/// before the body is read, and again as it arrives: an upload the import would refuse is never
/// stored whole first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRoom {
    pub bytes: u64,
    pub by_plan: bool,
}

pub async fn upload_room(app: &Twitcher, actor: &Profile) -> Result<UploadRoom, LibraryError> {
    let max_file = max_file_bytes(app).await?;
    let limits = app.db.plan_limits(actor.plan).await?;
    let left = match limits.max_storage_bytes {
        Some(quota) => Some(quota.saturating_sub(app.db.storage_committed(actor.id).await?.max(0) as u64)),
        None => None,
    };
    Ok(match left {
        Some(left) if left < max_file => UploadRoom { bytes: left, by_plan: true },
        _ => UploadRoom { bytes: max_file, by_plan: false },
    })
}

/// Sets the largest file an import takes, for the whole data dir (an ADMIN's act).
pub async fn set_max_file_bytes(app: &Twitcher, actor: &Profile, bytes: u64) -> Result<(), LibraryError> {
    actor.require_admin()?;
    Ok(app.db.set_setting(MAX_FILE_KEY, &bytes.to_string()).await?)
}

/// Queues one import job per file; returns the job ids, and the files refused at once.
pub async fn import(app: &Twitcher, actor: &Profile, paths: &[PathBuf]) -> Result<(Vec<i64>, Vec<ImportRefused>), DbError> {
    let files: Vec<(PathBuf, String)> = paths.iter().map(|p| (p.clone(), file_label(p))).collect();
    import_named(app, actor, &files).await
}

/// As [`import`], each file with the name it is known by (its title comes from that name): an
/// upload is staged under a name the server chose and known by the name its client sent.
async fn import_named(app: &Twitcher, actor: &Profile, files: &[(PathBuf, String)]) -> Result<(Vec<i64>, Vec<ImportRefused>), DbError> {
    let mut jobs_ = Vec::new();
    let mut refused = Vec::new();
    for (path, label) in files {
        let label = label.clone();
        let source = match tokio::fs::canonicalize(path).await {
            Ok(p) if p.is_file() => p,
            Ok(_) => {
                refused.push(ImportRefused { file: label, message: "not a file".into() });
                continue;
            }
            Err(e) => {
                refused.push(ImportRefused { file: label, message: format!("cannot open it: {e}") });
                continue;
            }
        };
        let payload = ImportPayload { profile_id: actor.id, source, label };
        jobs_.push(jobs::enqueue(app, KIND_IMPORT, &payload).await?);
    }
    Ok((jobs_, refused))
}

/// What an import that waited for its jobs ended with.
#[derive(Debug, Clone, Serialize)]
pub struct ImportOutcome {
    pub imported: Vec<Video>,
    /// Files refused at once (`import_rejected`) and jobs that failed (`import_failed`), each
    /// with its message, which names the file.
    pub failed: Vec<ImportFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportFailure {
    pub code: crate::model::ErrorCode,
    pub message: String,
}

/// Imports the files and waits for their jobs: what the CLI's `video import` and the API's upload
/// do. The jobs run in the worker when this process runs one (the window, `serve`); a process
/// without one (the CLI) runs these jobs and no others.
pub async fn import_and_wait(app: &Twitcher, actor: &Profile, paths: &[PathBuf]) -> Result<ImportOutcome, DbError> {
    let files: Vec<(PathBuf, String)> = paths.iter().map(|p| (p.clone(), file_label(p))).collect();
    import_named_and_wait(app, actor, &files).await
}

/// An upload: the file the server staged at `path`, known by the name its client sent (cleaned
/// into a title: no control or bidi characters, at most 200 characters).
pub async fn import_upload_and_wait(app: &Twitcher, actor: &Profile, path: PathBuf, client_name: &str) -> Result<ImportOutcome, DbError> {
    let label = crate::text::cleaned(client_name, TITLE_MAX, "upload");
    import_named_and_wait(app, actor, &[(path, label)]).await
}

async fn import_named_and_wait(app: &Twitcher, actor: &Profile, files: &[(PathBuf, String)]) -> Result<ImportOutcome, DbError> {
    use crate::model::ErrorCode;
    let (ids, refused) = import_named(app, actor, files).await?;
    let mut failed: Vec<ImportFailure> = refused
        .into_iter()
        .map(|r| ImportFailure { code: ErrorCode::ImportRejected, message: format!("{}: {}", r.file, r.message) })
        .collect();
    let mut imported = Vec::new();
    // On a fleet with S3, library files live in the bucket, where every node finds them.
    let to_bucket = crate::storage::shares_media(app).await;
    for job in jobs::run_until_done(app, &ids).await? {
        let mut video = match (job.status, job.video_id) {
            (jobs::JobStatus::Succeeded, Some(id)) => app.db.video(actor.id, id).await?,
            _ => None,
        };
        if let (true, Some(v)) = (to_bucket, &video) {
            match crate::storage::upload(app, actor, v.id).await {
                Ok(upload) => {
                    let done = jobs::run_until_done(app, &[upload]).await?;
                    if done[0].status != jobs::JobStatus::Succeeded {
                        tracing::warn!(video_id = v.id, error = ?done[0].error, "the video stays on this node: its upload to S3 failed");
                    }
                    video = app.db.video(actor.id, v.id).await?;
                }
                Err(e) => tracing::warn!(video_id = v.id, error = %e, "the video stays on this node: it could not be queued for S3"),
            }
        }
        match video {
            Some(video) => imported.push(video),
            None => failed.push(ImportFailure {
                code: ErrorCode::ImportFailed,
                message: job.error.unwrap_or_else(|| "the import was cancelled".into()),
            }),
        }
    }
    Ok(ImportOutcome { imported, failed })
}

/// Files an import job made, removed unless the import completes.
struct Leftovers(Vec<PathBuf>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn human_bytes(bytes: u64) -> String {
    const GB: f64 = 1024.0 * 1024.0 * 1024.0;
    const MB: f64 = 1024.0 * 1024.0;
    let b = bytes as f64;
    if b >= GB {
        format!("{:.1} GB", b / GB)
    } else {
        format!("{:.1} MB", b / MB)
    }
}

fn io_error(label: &str, e: std::io::Error) -> JobError {
    if e.raw_os_error() == Some(28) {
        // ENOSPC: worth retrying once space is freed; say so.
        return JobError::transient(format!("{label}: the disk holding the data dir is full: free some space (nothing was imported)"));
    }
    JobError::transient(format!("{label}: {e}"))
}

pub(crate) async fn run_import_job(ctx: &mut JobContext<'_>) -> Result<JobOutcome, JobError> {
    let payload: ImportPayload = ctx.payload()?;
    ctx.set_label(payload.label.clone(), Some(payload.profile_id));
    let app = ctx.app;
    let label = payload.label.as_str();
    let reject = |reason: String| JobError::permanent(format!("{label}: {reason}"));
    let profile = app.db.user_by_id(payload.profile_id).await?.ok_or_else(|| reject("the profile no longer exists".into()))?;

    let size = match tokio::fs::metadata(&payload.source).await {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(reject("the file is gone".into())),
        Err(e) => return Err(io_error(label, e)),
    };
    if size == 0 {
        return Err(reject(ProbeError::Empty.to_string()));
    }
    let max = max_file_bytes(app).await?;
    if size > max {
        return Err(reject(format!("{} is over the {} limit per file (a setting)", human_bytes(size), human_bytes(max))));
    }
    reserve_quota(app, &profile, size, ctx.job.id).await.map_err(reject)?;
    ctx.progress(0.02).await;
    let outcome = import_reserved(ctx, &payload, &profile, size).await;
    // Imported, the video row counts the bytes; failed, nothing does. (A crash leaves the
    // reservation on a job that is retried, which takes it again, or fails, which lapses it.)
    if let Err(e) = app.db.release_storage(ctx.job.id).await {
        tracing::warn!(error = %e, job_id = ctx.job.id, "could not release an import's storage reservation; it lapses when the job ends");
    }
    outcome
}

/// The import once its bytes are reserved: probe, verify, copy, thumbnail, record.
async fn import_reserved(ctx: &mut JobContext<'_>, payload: &ImportPayload, profile: &Profile, size: u64) -> Result<JobOutcome, JobError> {
    let app = ctx.app;
    let label = payload.label.as_str();
    let reject = |reason: String| JobError::permanent(format!("{label}: {reason}"));

    let info = media::probe(&payload.source).await.map_err(|e| reject(e.to_string()))?;
    ctx.progress(0.05).await;
    media::verify(&payload.source, &info).await.map_err(|e| reject(e.to_string()))?;
    ctx.progress(0.35).await;

    let dir = app.data_dir().join(LIBRARY_DIR).join(profile.id.to_string());
    tokio::fs::create_dir_all(&dir).await.map_err(|e| io_error(label, e))?;
    let part = dir.join(format!(".import-{}.part", ctx.job.id));
    let mut leftovers = Leftovers(vec![part.clone()]);
    let hash = copy_hashing(ctx, &payload.source, &part, size).await.map_err(|e| io_error(label, e))?;
    if ctx.cancel.is_cancelled() {
        return Err(reject("cancelled".into()));
    }
    if let Some(existing) = app.db.video_by_hash(profile.id, &hash).await? {
        return Err(reject(format!("already in your library as \"{}\" (video {})", existing.title, existing.id)));
    }

    let thumbs = app.data_dir().join(THUMBNAIL_DIR);
    tokio::fs::create_dir_all(&thumbs).await.map_err(|e| io_error(label, e))?;
    let thumb_part = thumbs.join(format!(".import-{}.jpg", ctx.job.id));
    leftovers.0.push(thumb_part.clone());
    media::thumbnail(&part, info.duration_sec * 0.1, &thumb_part).await.map_err(|e| reject(e.to_string()))?;
    ctx.progress(0.97).await;

    // Files are named by content: the same video imported by two profiles is stored once.
    let final_path = dir.join(format!("{hash}.{}", info.container.extension()));
    let thumb_path = thumbs.join(format!("{hash}.jpg"));
    tokio::fs::rename(&part, &final_path).await.map_err(|e| io_error(label, e))?;
    tokio::fs::rename(&thumb_part, &thumb_path).await.map_err(|e| io_error(label, e))?;
    // A file name may hold anything a file system takes (tabs, new lines, bidi overrides).
    let stem: String = Path::new(label).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let title = crate::text::cleaned(&stem, TITLE_MAX, &crate::text::cleaned(label, TITLE_MAX, "video"));
    let new = NewVideo {
        uploader_id: profile.id,
        title: &title,
        local_path: &final_path.to_string_lossy(),
        content_hash: &hash,
        size_bytes: size as i64,
        thumbnail: Some(&thumb_path.to_string_lossy()),
        info: &info,
    };
    // From here the temp files are renamed: `leftovers` has nothing left to remove.
    let Some(id) = app.db.insert_video(&new).await? else {
        // A concurrent import of the same content won; its row owns the (identical) files.
        return Err(reject("already in your library".into()));
    };
    drop(leftovers);
    tracing::info!(video_id = id, profile_id = profile.id, container = ?info.container, "video imported");
    app.events.emit(Event::VideosChanged { profile_id: profile.id });
    Ok(JobOutcome { video_id: Some(id) })
}

/// Holds the file's bytes against the plan's storage quota for this import job (see
/// [`crate::db::Db::reserve_storage`]), or says why not.
async fn reserve_quota(app: &Twitcher, profile: &Profile, size: u64, job_id: i64) -> Result<(), String> {
    let limits = app.db.plan_limits(profile.plan).await.map_err(|e| e.to_string())?;
    let Some(quota) = limits.max_storage_bytes else {
        return Ok(());
    };
    let reservation = app.db.reserve_storage(job_id, profile.id, size as i64, quota as i64).await.map_err(|e| e.to_string())?;
    if let crate::db::videos::Reservation::Refused { used } = reservation {
        let used = used.max(0) as u64;
        return Err(format!(
            "{} would take your library (with the imports in progress) to {} of your {} plan's {}: remove videos or move to a larger plan",
            human_bytes(size),
            human_bytes(used + size),
            profile.plan,
            human_bytes(quota)
        ));
    }
    Ok(())
}

/// Copies `from` to `to` (created new, fsynced) and returns the SHA-256 of the content.
async fn copy_hashing(ctx: &JobContext<'_>, from: &Path, to: &Path, size: u64) -> std::io::Result<String> {
    let mut input = tokio::fs::File::open(from).await?;
    let mut output = tokio::fs::File::create(to).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut copied = 0u64;
    loop {
        if ctx.cancel.is_cancelled() {
            break;
        }
        let n = input.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).await?;
        copied += n as u64;
        ctx.progress(0.35 + 0.6 * copied as f64 / size.max(1) as f64).await;
    }
    output.sync_all().await?;
    Ok(hex::encode(hasher.finalize()))
}

pub async fn list(app: &Twitcher, actor: &Profile, query: &VideoQuery) -> Result<VideoPage, LibraryError> {
    let (items, total) = app.db.search_videos(actor.id, query).await?;
    Ok(VideoPage { items, total })
}

/// A video's thumbnail (JPEG), if it has one that can be read.
pub async fn thumbnail(app: &Twitcher, actor: &Profile, id: i64) -> Result<Option<Vec<u8>>, LibraryError> {
    let Some(path) = get(app, actor, id).await?.thumbnail else { return Ok(None) };
    Ok(tokio::fs::read(path).await.ok())
}

pub async fn get(app: &Twitcher, actor: &Profile, id: i64) -> Result<Video, LibraryError> {
    app.db.video(actor.id, id).await?.ok_or(LibraryError::NotFound { id })
}

pub async fn update(app: &Twitcher, actor: &Profile, id: i64, title: &str, description: &str) -> Result<Video, LibraryError> {
    let title = crate::text::line("title", title, TITLE_MAX).map_err(LibraryError::InvalidTitle)?;
    if description.chars().count() > 5000 {
        return Err(LibraryError::InvalidDescription);
    }
    if !app.db.update_video_text(actor.id, id, title, description.trim()).await? {
        return Err(LibraryError::NotFound { id });
    }
    app.events.emit(Event::VideosChanged { profile_id: actor.id });
    get(app, actor, id).await
}

/// Removes the row, the file and the thumbnail; refused while a stream uses the video.
pub async fn remove(app: &Twitcher, actor: &Profile, id: i64) -> Result<(), LibraryError> {
    let video = get(app, actor, id).await?;
    if app.db.video_in_use(id).await? {
        return Err(LibraryError::InUse { id });
    }
    // The bucket first: if it cannot be reached, nothing is removed and the user can try again.
    if let Some(key) = &video.s3_key {
        crate::storage::delete_object(app, key).await.map_err(|e| LibraryError::Storage(Box::new(e)))?;
    }
    // Its prepared copies go with it (the rows by cascade; a file another video with the same
    // content still uses stays).
    let prepared = app.db.prepared_paths_of(id).await?;
    app.db.delete_video(actor.id, id).await?;
    for path in prepared {
        if !app.db.prepared_file_shared(&path).await? {
            crate::storage::remove_prepared(app, &path).await;
        }
    }
    for path in [video.local_path.as_deref(), video.thumbnail.as_deref()].into_iter().flatten() {
        if app.db.file_shared(path, id).await? {
            continue;
        }
        match tokio::fs::remove_file(path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(video_id = id, error = %e, "could not delete a removed video's file"),
        }
    }
    tracing::info!(video_id = id, "video removed");
    app.events.emit(Event::VideosChanged { profile_id: actor.id });
    Ok(())
}
