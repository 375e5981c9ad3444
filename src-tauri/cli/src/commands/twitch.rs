use tokio_util::sync::CancellationToken;
use twitcher_core::twitch::{self, AccountStats};
use twitcher_core::{profiles, Error, Twitcher};

use crate::args::{Global, TwitchCommand};
use crate::output::{table, Output};

pub async fn run(app: &Twitcher, global: &Global, cmd: TwitchCommand, out: &Output) -> Result<(), Error> {
    if let TwitchCommand::ClientId { client_id } = &cmd {
        let actor = profiles::resolve(app, global.profile.as_deref()).await?;
        twitch::set_client_id(app, &actor, client_id).await?;
        let set = !client_id.trim().is_empty();
        out.print(&serde_json::json!({ "client_id_set": set }), || match set {
            true => "Twitch client id saved.".to_string(),
            false => "Twitch client id cleared.".to_string(),
        });
        return Ok(());
    }
    let actor = profiles::resolve(app, global.profile.as_deref()).await?;
    match cmd {
        TwitchCommand::Connect => {
            let login = twitch::begin_connect(app).await?;
            // The prompt goes to stderr so that stdout stays the one JSON result under --json.
            eprintln!("To connect a Twitch account, open {}", login.prompt.verification_uri);
            eprintln!("and enter the code {} (valid {} min). Waiting…", login.prompt.user_code, login.prompt.expires_in_s / 60);
            let cancel = CancellationToken::new();
            let on_signal = cancel.clone();
            tokio::spawn(async move {
                super::stop_requested().await;
                on_signal.cancel();
            });
            let connected = twitch::finish_connect(app, &actor, login, &cancel).await?;
            let a = &connected.account;
            let result = serde_json::json!({ "account_id": a.id, "login": a.login, "scopes": connected.scopes });
            out.print(&result, || {
                let verb = if connected.created { "Linked" } else { "Updated" };
                format!("{verb} {} (account {}); its stream key was fetched from Twitch ({}).", a.display_name, a.id, a.stream_key.as_deref().unwrap_or(""))
            });
        }
        TwitchCommand::Stats { account_id, refresh } => {
            let stats = twitch::stats(app, &actor, account_id, refresh).await?;
            out.print(&stats, || render(&stats));
        }
        TwitchCommand::ClientId { .. } => unreachable!("handled above"),
    }
    Ok(())
}

fn render(stats: &[AccountStats]) -> String {
    let opt = |v: Option<u32>| v.map_or("-".to_string(), |n| n.to_string());
    let rows: Vec<Vec<String>> = stats
        .iter()
        .map(|s| {
            vec![
                s.account_id.to_string(),
                s.login.clone().unwrap_or_default(),
                opt(s.followers),
                match s.live {
                    Some(true) => "LIVE".into(),
                    Some(false) => "offline".into(),
                    None => "-".into(),
                },
                opt(s.viewer_count),
                s.title.clone().unwrap_or_default(),
                s.game_name.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let notes: Vec<String> = stats.iter().filter_map(|s| s.note.as_ref().map(|n| format!("account {}: {n}", s.account_id))).collect();
    let mut text = table(&["ID", "LOGIN", "FOLLOWERS", "LIVE", "VIEWERS", "TITLE", "CATEGORY"], &rows);
    if !notes.is_empty() {
        text.push_str("\n\n");
        text.push_str(&notes.join("\n"));
    }
    text
}
