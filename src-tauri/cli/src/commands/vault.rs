use twitcher_core::{profiles, Error, Twitcher};

use crate::args::{Global, VaultCommand};
use crate::output::Output;

pub async fn run(app: &Twitcher, global: &Global, cmd: VaultCommand, out: &Output) -> Result<(), Error> {
    match cmd {
        VaultCommand::Rotate => {
            // Rotating the data dir's key is an ADMIN's act (the core says so).
            let actor = profiles::resolve(app, global.profile.as_deref()).await?;
            let rotation = app.rotate_vault(&actor).await?;
            out.print(&serde_json::json!({ "rotated": rotation.resealed, "skipped": rotation.skipped }), || {
                let mut text = format!("Re-sealed {} secret(s) under a new key.", rotation.resealed);
                if !rotation.skipped.is_empty() {
                    text.push_str(&format!(
                        "\n{} secret(s) did not open and were left as they were (re-enter them): {}",
                        rotation.skipped.len(),
                        rotation.skipped.join(", ")
                    ));
                }
                text
            });
        }
    }
    Ok(())
}
