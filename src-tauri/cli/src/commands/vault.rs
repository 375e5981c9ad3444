use twitcher_core::{profiles, Error, Twitcher};

use crate::args::{Global, VaultCommand};
use crate::output::Output;

pub async fn run(app: &Twitcher, global: &Global, cmd: VaultCommand, out: &Output) -> Result<(), Error> {
    match cmd {
        VaultCommand::Rotate => {
            // Rotating the data dir's key is an ADMIN's act (the core says so).
            let actor = profiles::resolve(app, global.profile.as_deref()).await?;
            let rotated = app.rotate_vault(&actor).await?;
            out.print(&serde_json::json!({ "rotated": rotated }), || {
                format!("Re-sealed {rotated} secret(s) under a new key.")
            });
        }
    }
    Ok(())
}
