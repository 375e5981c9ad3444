use serde::Serialize;
use twitcher_core::profiles::{self, Plan, Profile};
use twitcher_core::{Error, Twitcher};

use crate::args::{Global, ProfileCommand};
use super::read_stdin_line;
use crate::output::{table, Output};

/// `{"uuid","name","role","plan"}` (CLI.md). `uuid` is the full UUID only right after creation;
/// everywhere else it is masked to its last four characters, because the app never stores it.
#[derive(Serialize)]
struct ProfileJson<'a> {
    uuid: String,
    name: &'a str,
    role: profiles::Role,
    plan: Plan,
}

impl<'a> ProfileJson<'a> {
    fn masked(p: &'a Profile) -> Self {
        Self { uuid: p.masked_uuid(), name: &p.name, role: p.role, plan: p.plan }
    }
}

pub async fn run(app: &Twitcher, global: &Global, cmd: ProfileCommand, out: &Output) -> Result<(), Error> {
    let db = app;
    match cmd {
        ProfileCommand::Create { name } => {
            let created = profiles::register(db, name.as_deref()).await?;
            profiles::set_active(db, &created.profile).await?;
            let p = &created.profile;
            let json = ProfileJson { uuid: created.uuid.to_string(), ..ProfileJson::masked(p) };
            out.print(&json, || {
                format!(
                    "Created profile \"{}\" ({}, {} plan) and signed in.\n\n    {}\n\n\
                     This UUID is your login. Keep it somewhere safe: Twitcher cannot show it again,\n\
                     and anyone who has it can sign in as you.",
                    p.name, p.role, p.plan, created.uuid
                )
            });
        }
        ProfileCommand::Login { uuid } => {
            let uuid = match uuid.filter(|u| u != "-") {
                Some(uuid) => zeroize::Zeroizing::new(uuid),
                None => read_stdin_line(),
            };
            let p = profiles::login(db, &uuid).await?;
            profiles::set_active(db, &p).await?;
            out.print(&ProfileJson::masked(&p), || format!("Signed in as \"{}\" ({}, {} plan).", p.name, p.role, p.plan));
        }
        ProfileCommand::List => {
            let actor = profiles::resolve(db, global.profile.as_deref()).await?;
            let all = profiles::list(db, &actor).await?;
            let json: Vec<_> = all.iter().map(ProfileJson::masked).collect();
            out.print(&json, || {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|p| vec![p.name.clone(), p.role.to_string(), p.plan.to_string(), p.masked_uuid()])
                    .collect();
                table(&["NAME", "ROLE", "PLAN", "UUID"], &rows)
            });
        }
        ProfileCommand::SetPlan { uuid, plan } => {
            let plan: Plan = plan.parse().map_err(Error::from)?;
            let actor = profiles::resolve(db, global.profile.as_deref()).await?;
            let uuid = if uuid == "-" { read_stdin_line() } else { zeroize::Zeroizing::new(uuid) };
            let p = profiles::set_plan(db, &actor, &uuid, plan).await?;
            #[derive(Serialize)]
            struct PlanJson {
                uuid: String,
                plan: Plan,
            }
            out.print(&PlanJson { uuid: p.masked_uuid(), plan: p.plan }, || {
                format!("\"{}\" is now on the {} plan.", p.name, p.plan)
            });
        }
        ProfileCommand::Logout => {
            profiles::sign_out(db).await?;
            out.print(&serde_json::json!({ "signed_out": true }), || "Signed out.".to_string());
        }
    }
    Ok(())
}
