use twitcher_core::storage::{self, S3Settings, S3Status, SettingsSource};
use twitcher_core::{profiles, Error, Twitcher};

use super::read_secret;
use crate::args::{Global, S3Command, StorageCommand};
use crate::output::Output;

pub async fn run(app: &Twitcher, global: &Global, cmd: StorageCommand, out: &Output) -> Result<(), Error> {
    let cmd = match cmd {
        StorageCommand::S3(cmd) => cmd,
        StorageCommand::CacheLimit { gb } => {
            if let Some(gb) = gb {
                storage::set_cache_limit(app, (gb * 1024.0 * 1024.0 * 1024.0) as u64).await?;
            }
            let max_bytes = storage::cache_limit(app).await?;
            out.print(&serde_json::json!({ "max_bytes": max_bytes }), || {
                format!("Videos fetched from S3 are kept up to {:.1} GB; the least recently used go first.", max_bytes as f64 / 1024f64.powi(3))
            });
            return Ok(());
        }
        StorageCommand::Usage => {
            let usage = twitcher_core::disk::usage(app).await?;
            let gb = |bytes: u64| format!("{:.2} GB", bytes as f64 / 1024f64.powi(3));
            out.print(&usage, || {
                format!(
                    "library         {}\nprepared        {} (budget {})\nS3 cache        {}\nlogs            {}\nuploads         {}\nfree on disk    {}",
                    gb(usage.library_bytes),
                    gb(usage.prepared_bytes),
                    gb(usage.budget_bytes),
                    gb(usage.cache_bytes),
                    gb(usage.logs_bytes),
                    gb(usage.uploads_bytes),
                    gb(usage.free_bytes)
                )
            });
            return Ok(());
        }
        StorageCommand::PreparedBudget { gb } => {
            if let Some(gb) = gb {
                let actor = profiles::resolve(app, global.profile.as_deref()).await?;
                twitcher_core::disk::set_prepared_budget(app, &actor, (gb * 1024.0 * 1024.0 * 1024.0) as u64).await?;
            }
            let budget_bytes = twitcher_core::disk::prepared_budget(app).await?;
            out.print(&serde_json::json!({ "budget_bytes": budget_bytes }), || {
                format!("Prepared copies may take up to {:.1} GB; the least recently used go first.", budget_bytes as f64 / 1024f64.powi(3))
            });
            return Ok(());
        }
    };
    match cmd {
        S3Command::Show => {
            let status = storage::status(app).await?;
            out.print(&status, || describe(&status));
        }
        S3Command::Set { endpoint, bucket, region, access_key, virtual_hosted } => {
            let settings = S3Settings { endpoint, bucket, region, access_key, path_style: !virtual_hosted };
            let secret = read_secret("S3 secret key (empty keeps the saved one): ");
            let actor = profiles::resolve(app, global.profile.as_deref()).await?;
            let status = storage::save_settings(app, &actor, &settings, Some(secret.as_str()).filter(|s| !s.is_empty())).await?;
            out.print(&status, || format!("Saved.\n{}", describe(&status)));
        }
        S3Command::Test => {
            storage::test_connection(app).await?;
            out.print(&serde_json::json!({ "ok": true }), || "The bucket answered: S3 storage works.".to_string());
        }
    }
    Ok(())
}

fn describe(status: &S3Status) -> String {
    let Some(s) = &status.settings else {
        return "S3 storage is not set up.".to_string();
    };
    let source = match status.source {
        SettingsSource::Environment => "from the environment (S3_*)",
        SettingsSource::Saved => "saved in this data dir",
        SettingsSource::None => "",
    };
    format!(
        "endpoint    {}\nbucket      {}\nregion      {}\naccess key  {}\nsecret key  {}\naddressing  {}\nsettings    {source}",
        s.endpoint.as_deref().unwrap_or("AWS"),
        s.bucket,
        s.region,
        s.access_key,
        if status.has_secret_key { "set" } else { "missing" },
        if s.path_style { "path-style" } else { "virtual-hosted" },
    )
}
