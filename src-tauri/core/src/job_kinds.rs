//! The table of job kinds, and the public door that opens a data dir.
//!
//! The queue (`jobs.rs`) sits below the services and names none of them; each service that queues
//! work names its kind and writes its handler. This file, on the roof, joins the two: one row per
//! kind. Opening a data dir installs the table, so every process that can run a job (the
//! window's worker, `serve`, a `twitcher video import` waiting inline) has it.

use std::path::Path;

use crate::jobs::{self, JobKind};
use crate::options::Options;
use crate::{broadcast, library, storage, Error, Twitcher};

static KINDS: &[JobKind] = &[
    JobKind { name: library::KIND_IMPORT, run: |ctx| Box::pin(library::run_import_job(ctx)) },
    JobKind { name: storage::KIND_UPLOAD, run: |ctx| Box::pin(storage::run_upload_job(ctx)) },
    JobKind { name: broadcast::prepare::KIND_PREPARE, run: |ctx| Box::pin(broadcast::prepare::run_prepare_job(ctx)) },
];

/// Installs [`KINDS`] (once per process; opening a data dir does it).
pub fn install() {
    jobs::install(KINDS);
}

impl Twitcher {
    /// Creates the data dir if needed, opens the database and applies pending migrations, with
    /// options from the environment.
    pub async fn open(data_dir: &Path) -> Result<Self, Error> {
        Self::open_with(data_dir, Options::from_env()).await
    }

    /// [`Twitcher::open`] with options of the caller's (tests set them per instance).
    pub async fn open_with(data_dir: &Path, options: Options) -> Result<Self, Error> {
        install();
        Ok(Twitcher::connect(data_dir, options).await?)
    }
}
