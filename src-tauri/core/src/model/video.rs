//! The library's videos and how lists of them are asked for.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum Storage {
    Local,
    S3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum VideoStatus {
    Importing,
    Ready,
    Failed,
}

/// Declares the two shapes of a video from one list of the fields both show, in their order:
/// [`Video`], which adds where its files are on this machine (the window and the CLI run where
/// the files are), and [`ApiVideo`], the HTTP API's, which leaves those out and says only
/// whether there is a thumbnail. A new column goes in the list once and reaches both.
macro_rules! video_shapes {
    (
        before_files { $($a:ident: $at:ty,)* }
        between { $($b:ident: $bt:ty,)* }
        after { $($c:ident: $ct:ty,)* }
    ) => {
        /// A video as every surface sees it (CLI.md's keys plus a few).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct Video {
            $(pub $a: $at,)*
            pub local_path: Option<String>,
            $(pub $b: $bt,)*
            pub thumbnail: Option<String>,
            $(pub $c: $ct,)*
        }

        /// A video as the API shows it: the library's fields without the server's file paths (the
        /// thumbnail is at `GET /api/videos/{id}/thumbnail`).
        #[derive(Debug, Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct ApiVideo {
            $(pub $a: $at,)*
            $(pub $b: $bt,)*
            pub has_thumbnail: bool,
            $(pub $c: $ct,)*
        }

        impl From<Video> for ApiVideo {
            fn from(v: Video) -> Self {
                Self { has_thumbnail: v.thumbnail.is_some(), $($a: v.$a,)* $($b: v.$b,)* $($c: v.$c,)* }
            }
        }
    };
}

video_shapes! {
    before_files {
        id: i64,
        title: String,
        description: String,
        status: VideoStatus,
        container: Option<Container>,
        duration_sec: Option<f64>,
        width: Option<i64>,
        height: Option<i64>,
        fps: Option<f64>,
        codec_video: Option<String>,
        codec_audio: Option<String>,
        bitrate: Option<i64>,
        size_bytes: i64,
        storage: Storage,
    }
    between {
        s3_key: Option<String>,
        content_hash: Option<String>,
    }
    after {
        error: Option<String>,
        created_at: String,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Date,
    Title,
    Duration,
    Size,
}

/// Search, filters, order and page. Everything optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct VideoQuery {
    /// Matched against title and description, case-insensitively.
    pub search: Option<String>,
    pub format: Option<Container>,
    pub min_duration_sec: Option<f64>,
    pub max_duration_sec: Option<f64>,
    pub min_height: Option<i64>,
    pub max_height: Option<i64>,
    pub storage: Option<Storage>,
    pub status: Option<VideoStatus>,
    pub sort: Sort,
    pub descending: bool,
    pub limit: u32,
    pub offset: i64,
}

impl VideoQuery {
    /// A page's size when none is asked for, and the most one page holds (every surface's).
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 500;
}

impl Default for VideoQuery {
    fn default() -> Self {
        Self {
            search: None,
            format: None,
            min_duration_sec: None,
            max_duration_sec: None,
            min_height: None,
            max_height: None,
            storage: None,
            status: None,
            sort: Sort::Date,
            descending: true,
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoPage {
    pub items: Vec<Video>,
    pub total: i64,
}

/// The containers Twitcher imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum Container {
    Mp4,
    Webm,
    Ogg,
    Avi,
    Mov,
    Wmv,
    Flv,
}

impl Container {
    pub const ALL: [Container; 7] =
        [Container::Mp4, Container::Webm, Container::Ogg, Container::Avi, Container::Mov, Container::Wmv, Container::Flv];

    /// The usual file extension, also the name scripts use (`--format mp4`).
    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Webm => "webm",
            Container::Ogg => "ogg",
            Container::Avi => "avi",
            Container::Mov => "mov",
            Container::Wmv => "wmv",
            Container::Flv => "flv",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Container> {
        let ext = ext.trim().trim_start_matches('.').to_ascii_lowercase();
        Container::ALL.into_iter().find(|c| c.extension() == ext || (ext == "ogv" && *c == Container::Ogg))
    }
}
