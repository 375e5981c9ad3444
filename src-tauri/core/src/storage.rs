//! Where video files live: the library folder in the data dir, or an S3-compatible bucket.
//!
//! - Settings are one row per data dir (the secret key sealed by the vault), overridden by the
//!   seed's environment variables `S3_ENDPOINT`, `S3_ACCESS_KEY`, `S3_SECRET_KEY`,
//!   `S3_BUCKET_NAME`, `S3_REGION` when `S3_BUCKET_NAME` is set.
//! - Object keys are `twitcher/<profile id>/<content sha-256>.<ext>`: nothing a person typed (a
//!   title, a file name) reaches a key, so no path trick can either.
//! - Uploads are jobs: multipart past one part size, progress per part, cancel between parts. A
//!   cancelled or failed upload leaves its multipart upload open, and the next upload of the same
//!   video lists the parts already there and sends only the rest.
//! - A video in S3 has no library copy; [`ensure_local`] fetches it into `DATA_DIR/cache/` when a
//!   stream needs it.

use std::path::{Path, PathBuf};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::config::env_nonempty;
use crate::db::storage::{SECRET_KEY, TABLE};
use crate::db::DbError;
use crate::events::Event;
use crate::jobs::{self, JobContext, JobError, JobOutcome};
use crate::model::{NotAdmin, Storage, Video};
use crate::profiles::Profile;
use crate::vault::{SecretRef, VaultError};
pub use crate::model::S3Settings;
use crate::Twitcher;

pub const KIND_UPLOAD: &str = "upload";
/// S3's smallest part is 5 MiB (but the last); 8 MiB keeps the part count low for 500 MB files.
pub const DEFAULT_PART_BYTES: u64 = 8 * 1024 * 1024;
const PART_SIZE_KEY: &str = "storage.part_bytes";
pub(crate) const CACHE_DIR: &str = crate::config::folders::CACHE;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("S3 storage is not set up: add it in Settings (or `twitcher storage s3 set`), or set S3_BUCKET_NAME, S3_ACCESS_KEY and S3_SECRET_KEY")]
    NotConfigured,
    #[error("invalid S3 settings: {0}")]
    Invalid(String),
    #[error("{0}")]
    S3(String),
    #[error("no video {id} in this profile's library")]
    NoVideo { id: i64 },
    #[error("video {id} is not in S3")]
    NotInS3 { id: i64 },
    #[error("the library copy of video {id} is missing ({path}): import it again")]
    LocalMissing { id: i64, path: String },
    #[error("cannot write the video into the cache: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    NotAdmin(#[from] NotAdmin),
    #[error(transparent)]
    Db(#[from] DbError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum SettingsSource {
    Environment,
    Saved,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct S3Status {
    pub source: SettingsSource,
    pub settings: Option<S3Settings>,
    pub has_secret_key: bool,
}

fn from_env() -> Option<(S3Settings, Zeroizing<String>)> {
    let bucket = env_nonempty("S3_BUCKET_NAME")?;
    let endpoint = env_nonempty("S3_ENDPOINT");
    let settings = S3Settings {
        path_style: endpoint.is_some(),
        endpoint,
        bucket,
        region: env_nonempty("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        access_key: env_nonempty("S3_ACCESS_KEY").unwrap_or_default(),
    };
    Some((settings, Zeroizing::new(env_nonempty("S3_SECRET_KEY").unwrap_or_default())))
}

fn secret_ref() -> SecretRef<'static> {
    SecretRef { table: TABLE, row_id: 1, field: SECRET_KEY, binding: "" }
}

pub async fn status(app: &Twitcher) -> Result<S3Status, StorageError> {
    if let Some((settings, secret)) = from_env() {
        return Ok(S3Status { source: SettingsSource::Environment, settings: Some(settings), has_secret_key: !secret.is_empty() });
    }
    Ok(match app.db.s3_config().await? {
        Some((settings, sealed)) => {
            S3Status { source: SettingsSource::Saved, settings: Some(settings), has_secret_key: sealed.is_some() }
        }
        None => S3Status { source: SettingsSource::None, settings: None, has_secret_key: false },
    })
}

fn validate(s: &S3Settings) -> Result<S3Settings, StorageError> {
    let bucket = s.bucket.trim();
    // S3's bucket naming rules, the part that catches typos.
    if !(3..=63).contains(&bucket.len())
        || !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(StorageError::Invalid("the bucket name must be 3 to 63 lowercase letters, digits, dots or hyphens".into()));
    }
    let endpoint = match s.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => {
            let url = url::Url::parse(e).map_err(|err| StorageError::Invalid(format!("the endpoint is not a URL: {err}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(StorageError::Invalid("the endpoint must be an http:// or https:// URL".into()));
            }
            Some(e.trim_end_matches('/').to_string())
        }
    };
    if s.access_key.trim().is_empty() {
        return Err(StorageError::Invalid("the access key is empty".into()));
    }
    let region = if s.region.trim().is_empty() { "us-east-1".to_string() } else { s.region.trim().to_string() };
    Ok(S3Settings { endpoint, bucket: bucket.to_string(), region, access_key: s.access_key.trim().to_string(), path_style: s.path_style })
}

/// Saves S3 settings for this data dir. `secret_key` `None` keeps the saved one.
pub async fn save_settings(app: &Twitcher, actor: &Profile, settings: &S3Settings, secret_key: Option<&str>) -> Result<S3Status, StorageError> {
    actor.require_admin()?;
    let settings = validate(settings)?;
    let secret = secret_key.map(str::trim).filter(|k| !k.is_empty());
    if secret.is_none() && app.db.s3_config().await?.and_then(|(_, sealed)| sealed).is_none() {
        return Err(StorageError::Invalid("the secret key is missing".into()));
    }
    let seal = match secret {
        Some(secret) => {
            let vault = app.vault().await?;
            crate::redact::register_secret(secret);
            Some(move |at: SecretRef<'_>| vault.seal(at, secret.as_bytes()))
        }
        None => None,
    };
    app.db.save_s3_config(&settings, seal).await?;
    tracing::info!(bucket = %settings.bucket, "S3 settings saved");
    status(app).await
}

/// The configured bucket: its client, settings.
struct Bucket {
    client: Client,
    settings: S3Settings,
}

async fn bucket(app: &Twitcher) -> Result<Bucket, StorageError> {
    let (settings, secret) = match from_env() {
        Some(env) => env,
        None => {
            let Some((settings, Some(sealed))) = app.db.s3_config().await? else {
                return Err(StorageError::NotConfigured);
            };
            let secret = app.vault().await?.open_string(secret_ref(), &sealed)?;
            (settings, secret)
        }
    };
    crate::redact::register_secret(&secret);
    let mut config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(Credentials::new(settings.access_key.clone(), secret.to_string(), None, None, "twitcher"))
        .force_path_style(settings.path_style);
    if let Some(endpoint) = &settings.endpoint {
        config = config.endpoint_url(endpoint);
    }
    Ok(Bucket { client: Client::from_conf(config.build()), settings })
}

/// Turns an SDK error into a sentence that says what to fix.
fn explain<E>(bucket: &S3Settings, what: &str, err: aws_sdk_s3::error::SdkError<E>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let place = bucket.endpoint.clone().unwrap_or_else(|| format!("AWS S3 ({})", bucket.region));
    let message = match &err {
        SdkError::DispatchFailure(e) if e.is_timeout() => format!("{place} did not answer in time"),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            format!("cannot reach {place}: {}", DisplayErrorContext(&err)).chars().take(300).collect()
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("");
            match (status, code) {
                (403, _) | (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied") => {
                    format!("{place} refused the access key or secret key (HTTP {status} {code})")
                }
                (404, _) | (_, "NoSuchBucket") => format!("bucket '{}' does not exist at {place}", bucket.bucket),
                (301, _) | (_, "PermanentRedirect" | "AuthorizationHeaderMalformed") => {
                    format!("bucket '{}' is in another region than '{}'", bucket.bucket, bucket.region)
                }
                _ => format!("{place} answered HTTP {status} {code}: {}", service.err().message().unwrap_or("")),
            }
        }
        other => DisplayErrorContext(other).to_string(),
    };
    StorageError::S3(crate::redact::redact(&format!("{what}: {message}")).into_owned())
}

/// Checks that the bucket can be reached with these credentials.
pub async fn test_connection(app: &Twitcher) -> Result<(), StorageError> {
    let b = bucket(app).await?;
    b.client.head_bucket().bucket(&b.settings.bucket).send().await.map_err(|e| explain(&b.settings, "test", e))?;
    Ok(())
}

pub fn object_key(profile_id: i64, content_hash: &str, extension: &str) -> String {
    format!("twitcher/{profile_id}/{content_hash}.{extension}")
}

pub async fn part_bytes(app: &Twitcher) -> Result<u64, DbError> {
    Ok(app.db.setting(PART_SIZE_KEY).await?.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_PART_BYTES).max(5 * 1024 * 1024))
}

pub async fn set_part_bytes(app: &Twitcher, bytes: u64) -> Result<(), DbError> {
    app.db.set_setting(PART_SIZE_KEY, &bytes.to_string()).await
}

const CACHE_LIMIT_KEY: &str = "storage.cache_max_bytes";
/// What the cache of S3 downloads may hold by default: room for a few long videos.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 20 * 1024 * 1024 * 1024;

/// The most bytes of S3 downloads this machine keeps in `DATA_DIR/cache/` (least recently used
/// go first when a fetch passes it).
pub async fn cache_limit(app: &Twitcher) -> Result<u64, DbError> {
    Ok(app.db.setting(CACHE_LIMIT_KEY).await?.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CACHE_MAX_BYTES))
}

pub async fn set_cache_limit(app: &Twitcher, bytes: u64) -> Result<(), DbError> {
    app.db.set_setting(CACHE_LIMIT_KEY, &bytes.to_string()).await
}

/// Removes the least recently used downloads (oldest modification time: a use touches it) until
/// the cache holds at most `limit` bytes, never `keep` (the file just fetched, which may alone be
/// larger). A file a broadcast is reading stays readable to it on Unix (the reader holds the
/// inode); where removing fails (Windows, an open file), it is left for the next pass. Returns
/// the bytes freed.
async fn evict(dir: &Path, limit: u64, keep: &Path) -> std::io::Result<u64> {
    let mut files = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let meta = entry.metadata().await?;
        // Temp files (`.name.part`) are fetches in progress.
        if meta.is_file() && !entry.file_name().to_string_lossy().starts_with('.') {
            files.push((meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len(), entry.path()));
        }
    }
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    let mut freed = 0;
    for (_, len, path) in files {
        if total <= limit {
            break;
        }
        if path == keep {
            continue;
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                total -= len;
                freed += len;
                tracing::info!(file = %path.display(), bytes = len, "evicted from the S3 download cache (least recently used)");
            }
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "could not evict from the S3 download cache"),
        }
    }
    Ok(freed)
}

/// Marks a cached download as just used, for [`evict`]'s order.
async fn touch(path: &Path) {
    let path = path.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || std::fs::File::options().write(true).open(&path)?.set_modified(std::time::SystemTime::now())).await;
}

#[derive(Debug, Serialize, Deserialize)]
struct UploadPayload {
    profile_id: i64,
    video_id: i64,
    label: String,
    /// Parts found already uploaded when the job (re)started.
    #[serde(default)]
    resumed_parts: u32,
}

/// Queues the upload of a library video to S3; returns the job id.
pub async fn upload(app: &Twitcher, actor: &Profile, video_id: i64) -> Result<i64, StorageError> {
    let video = app.db.video(actor.id, video_id).await?.ok_or(StorageError::NoVideo { id: video_id })?;
    bucket(app).await?;
    let payload = UploadPayload { profile_id: actor.id, video_id, label: video.title.clone(), resumed_parts: 0 };
    Ok(jobs::enqueue(app, KIND_UPLOAD, &payload).await?)
}

fn transient(e: StorageError) -> JobError {
    JobError::transient(e.to_string())
}

pub(crate) async fn run_upload_job(ctx: &mut JobContext<'_>) -> Result<JobOutcome, JobError> {
    let mut payload: UploadPayload = ctx.payload()?;
    ctx.set_label(payload.label.clone(), Some(payload.profile_id));
    let app = ctx.app;
    let video = ctx.video(payload.profile_id, payload.video_id).await?;
    if video.storage == Storage::S3 {
        return Ok(JobOutcome { video_id: Some(video.id) });
    }
    let path = PathBuf::from(video.local_path.clone().unwrap_or_default());
    let size = tokio::fs::metadata(&path).await.map_err(|_| JobError::permanent(format!("{}: the library copy is missing", video.title)))?.len();
    let ext = video.container.map(|c| c.extension()).unwrap_or("bin");
    let key = object_key(payload.profile_id, video.content_hash.as_deref().unwrap_or("unknown"), ext);
    let b = bucket(app).await.map_err(transient)?;
    let part = part_bytes(app).await?;

    if size <= part {
        let body = ByteStream::from_path(&path).await.map_err(|e| JobError::transient(e.to_string()))?;
        b.client.put_object().bucket(&b.settings.bucket).key(&key).body(body).send().await.map_err(|e| transient(explain(&b.settings, "upload", e)))?;
    } else {
        payload.resumed_parts = upload_multipart(ctx, &b, &key, &path, size, part).await?;
        app.db.set_job_payload(ctx.job.id, &serde_json::to_string(&payload).expect("serializable")).await?;
        if ctx.cancel.is_cancelled() {
            return Err(JobError::permanent("cancelled"));
        }
    }
    app.db.set_video_in_s3(video.id, &key).await?;
    // The bucket has it now: the library copy goes, unless another profile's video shares it.
    if !app.db.file_shared(&path.to_string_lossy(), video.id).await? {
        let _ = tokio::fs::remove_file(&path).await;
    }
    tracing::info!(video_id = video.id, size, "video uploaded to S3");
    app.events.emit(Event::VideosChanged { profile_id: payload.profile_id });
    Ok(JobOutcome { video_id: Some(video.id) })
}

/// Sends the parts S3 does not have yet; returns how many it already had. Stops quietly between
/// parts when cancelled, leaving the multipart upload open for a later resume.
async fn upload_multipart(ctx: &JobContext<'_>, b: &Bucket, key: &str, path: &Path, size: u64, part: u64) -> Result<u32, JobError> {
    let s3 = |e: StorageError| JobError::transient(e.to_string());
    let bucket_name = &b.settings.bucket;
    let existing = b
        .client
        .list_multipart_uploads()
        .bucket(bucket_name)
        .prefix(key)
        .send()
        .await
        .map_err(|e| s3(explain(&b.settings, "upload", e)))?;
    let upload_id = match existing.uploads().iter().find(|u| u.key() == Some(key)).and_then(|u| u.upload_id()) {
        Some(id) => id.to_string(),
        None => b
            .client
            .create_multipart_upload()
            .bucket(bucket_name)
            .key(key)
            .send()
            .await
            .map_err(|e| s3(explain(&b.settings, "upload", e)))?
            .upload_id()
            .ok_or_else(|| JobError::transient("S3 gave no upload id"))?
            .to_string(),
    };
    let listed = b
        .client
        .list_parts()
        .bucket(bucket_name)
        .key(key)
        .upload_id(&upload_id)
        .send()
        .await
        .map_err(|e| s3(explain(&b.settings, "upload", e)))?;
    let count = size.div_ceil(part) as i32;
    let mut done: Vec<Option<String>> = vec![None; count as usize];
    let mut resumed = 0;
    for p in listed.parts() {
        let (Some(n), Some(etag)) = (p.part_number(), p.e_tag()) else { continue };
        let expected = if n == count { size - part * (count as u64 - 1) } else { part };
        if (1..=count).contains(&n) && p.size() == Some(expected as i64) {
            done[n as usize - 1] = Some(etag.to_string());
            resumed += 1;
        }
    }
    let mut file = tokio::fs::File::open(path).await.map_err(|e| JobError::transient(e.to_string()))?;
    for n in 1..=count {
        if done[n as usize - 1].is_some() {
            continue;
        }
        if ctx.cancel.is_cancelled() {
            return Ok(resumed);
        }
        let offset = part * (n as u64 - 1);
        let len = part.min(size - offset) as usize;
        let mut buf = vec![0u8; len];
        file.seek(std::io::SeekFrom::Start(offset)).await.map_err(|e| JobError::transient(e.to_string()))?;
        file.read_exact(&mut buf).await.map_err(|e| JobError::transient(e.to_string()))?;
        let sent = b
            .client
            .upload_part()
            .bucket(bucket_name)
            .key(key)
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(buf))
            .send()
            .await
            .map_err(|e| s3(explain(&b.settings, "upload", e)))?;
        done[n as usize - 1] = Some(sent.e_tag().unwrap_or_default().to_string());
        let sent_parts = done.iter().filter(|d| d.is_some()).count();
        ctx.progress(sent_parts as f64 / count as f64 * 0.98).await;
    }
    let parts: Vec<CompletedPart> = done
        .into_iter()
        .enumerate()
        .map(|(i, etag)| CompletedPart::builder().part_number(i as i32 + 1).set_e_tag(etag).build())
        .collect();
    b.client
        .complete_multipart_upload()
        .bucket(bucket_name)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .map_err(|e| s3(explain(&b.settings, "upload", e)))?;
    Ok(resumed)
}

/// The path of a playable local copy: the library file, or the cached download of an S3 video
/// (fetched now if needed: temp file, fsync, rename).
pub async fn ensure_local(app: &Twitcher, video: &Video) -> Result<PathBuf, StorageError> {
    if let Some(path) = video.local_path.as_deref().map(PathBuf::from) {
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            if video.storage == Storage::S3 {
                touch(&path).await;
            }
            return Ok(path);
        }
        if video.storage == Storage::Local {
            return Err(StorageError::LocalMissing { id: video.id, path: path.display().to_string() });
        }
    }
    let key = video.s3_key.clone().ok_or(StorageError::NotInS3 { id: video.id })?;
    let target = fetch_to_cache(app, &key).await?;
    app.db.set_video_local_path(video.id, &target.to_string_lossy()).await?;
    tracing::info!(video_id = video.id, "fetched video from S3 into the cache");
    Ok(target)
}

/// Where the prepared copies live in the bucket on a fleet: named like the local file, which
/// says the content (hash) and the quality and loudness it was made for.
fn prepared_key(file_name: &str) -> String {
    format!("twitcher/prepared/{file_name}")
}

/// Whether this process shares its media through S3: a node of a fleet with S3 configured.
pub(crate) async fn shares_media(app: &Twitcher) -> bool {
    app.is_node() && bucket(app).await.is_ok()
}

/// Stores a prepared copy in the bucket for the other nodes of a fleet (one PUT: S3 takes up
/// to 5 GB so, about 4 hours at Twitch's highest bitrate).
pub(crate) async fn put_prepared(app: &Twitcher, path: &Path) -> Result<(), StorageError> {
    let b = bucket(app).await?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let body = ByteStream::from_path(path).await.map_err(|e| StorageError::S3(format!("read {name}: {e}")))?;
    b.client
        .put_object()
        .bucket(&b.settings.bucket)
        .key(prepared_key(&name))
        .content_type("video/x-flv")
        .body(body)
        .send()
        .await
        .map_err(|e| explain(&b.settings, "upload", e))?;
    tracing::info!(file = %name, "stored a prepared copy in S3 for the other nodes");
    Ok(())
}

/// Removes a prepared copy no row uses any more (evicted, or its video removed): the file here
/// and, on a fleet, its copy in the bucket. Best effort: what is left behind is logged (its row
/// is gone, so nothing will use it).
pub(crate) async fn remove_prepared(app: &Twitcher, path: &str) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "could not delete a prepared copy"),
    }
    if !shares_media(app).await {
        return;
    }
    let name = Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let deleted = async {
        let b = bucket(app).await?;
        b.client.delete_object().bucket(&b.settings.bucket).key(prepared_key(&name)).send().await.map_err(|e| explain(&b.settings, "delete", e))?;
        Ok::<(), StorageError>(())
    };
    if let Err(e) = deleted.await {
        tracing::warn!(error = %e, "could not delete a prepared copy from S3");
    }
}

/// A prepared copy another node stored in the bucket, fetched into the cache; `None` when the
/// bucket does not have it.
pub(crate) async fn fetch_prepared(app: &Twitcher, file_name: &str) -> Result<Option<PathBuf>, StorageError> {
    let cached = app.data_dir().join(CACHE_DIR).join(file_name);
    if tokio::fs::try_exists(&cached).await.unwrap_or(false) {
        touch(&cached).await;
        return Ok(Some(cached));
    }
    let b = bucket(app).await?;
    let key = prepared_key(file_name);
    match b.client.head_object().bucket(&b.settings.bucket).key(&key).send().await {
        Ok(_) => {}
        Err(aws_sdk_s3::error::SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => return Ok(None),
        Err(e) => return Err(explain(&b.settings, "look up", e)),
    }
    let path = fetch_to_cache(app, &key).await?;
    tracing::info!(file = %file_name, "fetched a prepared copy from S3 into the cache");
    Ok(Some(path))
}

/// Downloads an object into the cache (temp file, fsync, rename), then keeps the cache within
/// its limit, least recently used first.
async fn fetch_to_cache(app: &Twitcher, key: &str) -> Result<PathBuf, StorageError> {
    let b = bucket(app).await?;
    let dir = app.data_dir().join(CACHE_DIR);
    tokio::fs::create_dir_all(&dir).await?;
    let name = key.rsplit('/').next().unwrap_or("video");
    let target = dir.join(name);
    let part = dir.join(format!(".{name}.part"));
    let object = b.client.get_object().bucket(&b.settings.bucket).key(key).send().await.map_err(|e| explain(&b.settings, "fetch", e))?;
    let mut body = object.body;
    let mut out = tokio::fs::File::create(&part).await?;
    let written = async {
        while let Some(chunk) = body.try_next().await.map_err(|e| StorageError::S3(format!("fetch: {e}")))? {
            out.write_all(&chunk).await?;
        }
        out.sync_all().await?;
        Ok::<_, StorageError>(())
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(e);
    }
    tokio::fs::rename(&part, &target).await?;
    let limit = cache_limit(app).await?;
    if let Err(e) = evict(&dir, limit, &target).await {
        tracing::warn!(error = %e, "could not keep the S3 download cache within its limit");
    }
    Ok(target)
}

/// Writes a small object (a stream log) whole.
pub(crate) async fn put_object(app: &Twitcher, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StorageError> {
    let b = bucket(app).await?;
    b.client
        .put_object()
        .bucket(&b.settings.bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| explain(&b.settings, "write", e))?;
    Ok(())
}

/// Every object key under `prefix`, page by page.
pub(crate) async fn list_keys(app: &Twitcher, prefix: &str) -> Result<Vec<String>, StorageError> {
    let b = bucket(app).await?;
    let mut keys = Vec::new();
    let mut pages = b.client.list_objects_v2().bucket(&b.settings.bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| explain(&b.settings, "list", e))?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
    }
    Ok(keys)
}

/// Deletes a video's object (missing is fine: the goal is that it is gone).
pub async fn delete_object(app: &Twitcher, key: &str) -> Result<(), StorageError> {
    let b = bucket(app).await?;
    b.client.delete_object().bucket(&b.settings.bucket).key(key).send().await.map_err(|e| explain(&b.settings, "delete", e))?;
    Ok(())
}
