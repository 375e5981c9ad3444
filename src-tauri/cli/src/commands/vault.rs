use twitcher_core::{Error, Twitcher};

use crate::args::VaultCommand;
use crate::output::Output;

pub async fn run(app: &Twitcher, cmd: VaultCommand, out: &Output) -> Result<(), Error> {
    match cmd {
        VaultCommand::Rotate => {
            let rotated = app.rotate_vault().await?;
            out.print(&serde_json::json!({ "rotated": rotated }), || {
                format!("Re-sealed {rotated} secret(s) under a new key.")
            });
        }
    }
    Ok(())
}
