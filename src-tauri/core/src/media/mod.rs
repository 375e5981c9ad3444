//! FFmpeg and ffprobe: where they are, the one constructor every child process goes through, and
//! what a media file is ([`probe`], [`verify`], [`thumbnail`]).
//!
//! Lookup order for each tool: the sidecar bundled next to the app's executable
//! (`twitcher-ffmpeg`, `twitcher-ffprobe`: Tauri's `bundle.externalBin`, made by
//! scripts/sidecars.sh), then `TWITCHER_FFMPEG` / `TWITCHER_FFPROBE`, then `PATH`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{env_nonempty, ENV_FFMPEG, ENV_FFPROBE};

pub(crate) mod child;
pub mod limits;
mod probe;
pub mod runner;

pub use crate::model::Container;
pub use probe::{probe, thumbnail, verify, MediaInfo, ProbeError};
pub(crate) use probe::{document as probe_document, parse_rate as frame_rate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Ffmpeg,
    Ffprobe,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Ffmpeg => "ffmpeg",
            Tool::Ffprobe => "ffprobe",
        }
    }

    fn env_var(self) -> &'static str {
        match self {
            Tool::Ffmpeg => ENV_FFMPEG,
            Tool::Ffprobe => ENV_FFPROBE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum ToolSource {
    Sidecar,
    Env,
    Path,
}

impl ToolSource {
    pub fn describe(self) -> &'static str {
        match self {
            ToolSource::Sidecar => "bundled sidecar",
            ToolSource::Env => "environment override",
            ToolSource::Path => "PATH",
        }
    }
}

/// A located tool and the version it reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ToolInfo {
    pub path: String,
    pub source: ToolSource,
    /// From `-version`; `None` if the binary did not answer.
    pub version: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{tool} not found: install FFmpeg (Debian/Ubuntu: `apt-get install ffmpeg`) or set {env} to its path")]
    NotFound { tool: &'static str, env: &'static str },
    #[error("{env} points to {path}, which is not a file")]
    BadOverride { env: &'static str, path: String },
    #[error("{tool} could not be started: {reason}")]
    Spawn { tool: &'static str, reason: String },
}

fn exe_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// Finds a tool without running it.
pub fn locate(tool: Tool) -> Result<(PathBuf, ToolSource), MediaError> {
    let exe = exe_name(tool.name());
    if let Some(dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        // The bundle's sidecar (scripts/sidecars.sh): twitcher-ffmpeg next to the app.
        let sidecar = dir.join(exe_name(&format!("twitcher-{}", tool.name())));
        if sidecar.is_file() {
            return Ok((sidecar, ToolSource::Sidecar));
        }
    }
    if let Some(path) = env_nonempty(tool.env_var()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(MediaError::BadOverride { env: tool.env_var(), path: path.display().to_string() });
        }
        return Ok((path, ToolSource::Env));
    }
    which::which(&exe)
        .map(|p| (p, ToolSource::Path))
        .map_err(|_| MediaError::NotFound { tool: tool.name(), env: tool.env_var() })
}

/// Finds a tool and asks it for its version (`ffmpeg version 5.1.6-0+deb12u1 …` → `5.1.6-0+deb12u1`).
pub async fn inspect(tool: Tool) -> Result<ToolInfo, MediaError> {
    let (path, source) = locate(tool)?;
    let version = async {
        let output = child::output(command(&path).arg("-version")).await.ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let first = text.lines().next()?;
        first.split_whitespace().nth(2).map(str::to_string)
    };
    let version = tokio::time::timeout(Duration::from_secs(10), version).await.ok().flatten();
    Ok(ToolInfo { path: path.display().to_string(), source, version })
}

/// The one constructor for short child processes (ffprobe, `-version`): no stdin, piped output,
/// killed when the handle is dropped and never outliving Twitcher ([`child`]). Run it with
/// [`child::output`], which puts the started child where [`child::contain`] says.
pub(crate) fn command(program: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    child::harden(cmd.as_std_mut());
    limits::limit_memory(cmd.as_std_mut(), limits::PROBE_MEMORY);
    cmd
}
