use twitcher_core::{nodes, profiles, Error, Twitcher};

use crate::args::{Global, NodeCommand};
use crate::output::{table, Output};

pub async fn run(app: &Twitcher, global: &Global, cmd: NodeCommand, out: &Output) -> Result<(), Error> {
    match cmd {
        NodeCommand::List => {
            let actor = profiles::resolve(app, global.profile.as_deref()).await?;
            let all = nodes::list(app, &actor).await?;
            out.print(&all, || {
                if all.is_empty() {
                    return "No node: no `twitcher serve` runs on this database.".to_string();
                }
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|n| {
                        vec![
                            n.id.chars().take(12).collect(),
                            n.address.clone(),
                            n.upload_mbps.map(|m| format!("{m} Mb/s")).unwrap_or_else(|| "—".into()),
                            n.destinations.to_string(),
                            format!("{:.1} s ago{}", n.heartbeat_age_sec, if n.alive { "" } else { " (silent)" }),
                        ]
                    })
                    .collect();
                table(&["NODE", "ADDRESS", "UPLOAD", "DESTINATIONS", "HEARTBEAT"], &rows)
            });
        }
    }
    Ok(())
}
