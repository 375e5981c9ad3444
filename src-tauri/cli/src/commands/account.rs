use twitcher_core::accounts::{self, Account, AccountInput};
use twitcher_core::{ingest, profiles, twitch, Error, Twitcher};

use super::read_secret;
use crate::args::{AccountCommand, Global};
use crate::output::{table, Output};

const KEY_PROMPT: &str = "Stream key (from Twitch's Creator Dashboard → Settings → Stream): ";

pub async fn run(app: &Twitcher, global: &Global, cmd: AccountCommand, out: &Output) -> Result<(), Error> {
    if let AccountCommand::Ingests = cmd {
        return ingests(app, out).await;
    }
    let actor = profiles::resolve(app, global.profile.as_deref()).await?;
    match cmd {
        AccountCommand::Add { name, channel_id, login, ingest } => {
            let input = AccountInput { display_name: name, channel_id, login, ingest_server: ingest };
            let key = read_secret(KEY_PROMPT);
            let account = twitch::add_by_hand(app, &actor, &input, &key).await?;
            out.print(&account, || format!("Linked {}.\n{}", account.display_name, rows(&[account.clone()])));
        }
        AccountCommand::List => {
            let all = accounts::list(app, &actor).await?;
            let limit = actor.limits.max_accounts.map_or("unlimited".to_string(), |n| n.to_string());
            out.print(&all, || format!("{}\n\n{} of {limit} accounts ({} plan)", rows(&all), all.len(), actor.plan));
        }
        AccountCommand::Update { id, name, channel_id, login, ingest } => {
            let current = accounts::get(app, &actor, id).await?;
            let input = AccountInput {
                display_name: name.unwrap_or(current.display_name),
                channel_id: channel_id.or(current.channel_id),
                login: login.or(current.login),
                ingest_server: ingest.or(current.ingest_server),
            };
            let account = twitch::update_by_hand(app, &actor, id, &input).await?;
            out.print(&account, || format!("Updated.\n{}", rows(&[account.clone()])));
        }
        AccountCommand::Remove { id } => {
            twitch::unlink(app, &actor, id).await?;
            out.print(&serde_json::json!({ "removed": id }), || format!("Removed account {id}."));
        }
        AccountCommand::SetKey { id } => {
            let key = read_secret(KEY_PROMPT);
            let account = accounts::set_key(app, &actor, id, &key).await?;
            out.print(&account, || format!("Stream key replaced.\n{}", rows(&[account.clone()])));
        }
        AccountCommand::Test { id } => {
            let check = twitcher_core::broadcast::check_key(app, &actor, id).await?;
            out.print(&check, || {
                let key = match check.ok {
                    true => format!("Key OK: {} accepted it ({:.0} ms).", check.server, check.elapsed_ms),
                    false => format!("Key refused: {}", check.message),
                };
                match (&check.token_ok, &check.token_message) {
                    (Some(true), Some(m)) => format!("{key}\nTwitch OK: {m}."),
                    (Some(false), Some(m)) => format!("{key}\nTwitch: {m}"),
                    _ => key,
                }
            });
            if !check.ok {
                return Err(twitcher_core::broadcast::BroadcastError::KeyRefused(check.message).into());
            }
            if check.token_ok == Some(false) {
                return Err(twitcher_core::twitch::TwitchError::Unexpected(check.token_message.unwrap_or_default()).into());
            }
        }
        AccountCommand::Ingests => unreachable!("handled above"),
    }
    Ok(())
}

async fn ingests(app: &Twitcher, out: &Output) -> Result<(), Error> {
    let list = ingest::servers(app).await.map_err(Error::from)?;
    out.print(&list, || {
        let mut rows = vec![vec!["auto".to_string(), "Automatic (Twitch default)".to_string(), list.automatic.clone()]];
        rows.extend(list.servers.iter().map(|s| vec![String::new(), s.name.clone(), s.url.clone()]));
        let note = match list.source {
            ingest::IngestSource::Twitch => "",
            ingest::IngestSource::Cache => "\n\nTwitch could not be reached: this is the last list fetched.",
            ingest::IngestSource::BuiltIn => "\n\nTwitch could not be reached: only the global default is known.",
        };
        format!("{}{note}", table(&["CHOICE", "SERVER", "URL"], &rows))
    });
    Ok(())
}

fn rows(accounts: &[Account]) -> String {
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.display_name.clone(),
                a.channel_id.clone().unwrap_or_else(|| "–".to_string()),
                a.login.clone().unwrap_or_default(),
                a.ingest_server.clone().unwrap_or_else(|| "auto".to_string()),
                a.stream_key.clone().unwrap_or_else(|| "(none)".to_string()),
            ]
        })
        .collect();
    table(&["ID", "NAME", "CHANNEL", "LOGIN", "INGEST", "STREAM KEY"], &rows)
}
