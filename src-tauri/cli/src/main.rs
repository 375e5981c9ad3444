//! `twitcher`: the headless command line over twitcher-core. Each command parses its input, calls
//! one core function and prints the result for people or, with `--json`, for scripts.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;
use twitcher_core::{config, logging, Error, Twitcher};

use args::{Cli, Command};
use output::Output;

fn main() -> ExitCode {
    twitcher_core::private_files::restrict_new_files();
    let cli = Cli::parse();
    let out = Output::new(cli.global.json);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(cli, &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli, out: &Output) -> Result<(), Error> {
    let data_dir = config::data_dir(cli.global.data_dir.clone())?;
    let _log = logging::init(&data_dir, "twitcher-cli")?;
    // `serve` also takes the seed's DATABASE_URL; other commands do not, so a developer's
    // unrelated DATABASE_URL never sends `twitcher profile list` to another database.
    let database = cli.global.database.clone().or_else(|| match cli.command {
        Command::Serve { .. } => config::env_nonempty("DATABASE_URL"),
        _ => None,
    });
    let app = Twitcher::open_with(&data_dir, twitcher_core::Options { database, ..twitcher_core::Options::from_env() }).await?;
    let result = match cli.command {
        Command::Profile(cmd) => commands::profile::run(&app, &cli.global, cmd, out).await,
        Command::Account(cmd) => commands::account::run(&app, &cli.global, cmd, out).await,
        Command::Vault(cmd) => commands::vault::run(&app, &cli.global, cmd, out).await,
        Command::Video(cmd) => commands::video::run(&app, &cli.global, cmd, out).await,
        Command::Storage(cmd) => commands::storage::run(&app, &cli.global, cmd, out).await,
        Command::Schedule(cmd) => commands::schedule::run(&app, &cli.global, cmd, out).await,
        Command::Playlist(cmd) => commands::playlist::run(&app, &cli.global, cmd, out).await,
        Command::Stream(cmd) => commands::stream::run(&app, &cli.global, cmd, out).await,
        Command::Twitch(cmd) => commands::twitch::run(&app, &cli.global, cmd, out).await,
        Command::Doctor => commands::doctor::run(&app, out).await,
        Command::Alerts(args::AlertsCommand::Webhook { url }) => {
            if let Some(url) = url {
                let actor = twitcher_core::profiles::resolve(&app, cli.global.profile.as_deref()).await?;
                twitcher_core::alerts::set_webhook_url(&app, &actor, &url).await.map_err(Error::from)?;
            }
            let current = twitcher_core::alerts::webhook_url(&app).await.map_err(Error::from)?;
            out.print(&serde_json::json!({ "webhook_url": current }), || match &current {
                Some(u) => format!("Alerts are posted to {u}"),
                None => "No alert webhook.".to_string(),
            });
            Ok(())
        }
        Command::Node(cmd) => commands::node::run(&app, &cli.global, cmd, out).await,
        Command::Serve { listen, trust_proxy, public_host, registration, allow_ingest, upload_mbps } => {
            let options = twitcher_server::ServerOptions {
                trusted_proxies: trust_proxy,
                public_hosts: public_host,
                registration: registration.into(),
                allowed_ingests: allow_ingest,
                upload_mbps,
                ..Default::default()
            };
            commands::serve::run(&app, listen, options, out).await
        }
    };
    app.close().await;
    result
}
