//! S3-compatible storage settings (the secret key is sealed apart, never in this type).

use serde::{Deserialize, Serialize};

/// S3 settings without the secret key (which is write-only, like stream keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct S3Settings {
    /// e.g. `https://s3.eu-central-1.wasabisys.com` or `http://127.0.0.1:9000`; none for AWS.
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    /// `https://host/bucket/key` rather than `https://bucket.host/key` (MinIO and most others).
    pub path_style: bool,
}
