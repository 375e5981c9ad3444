use serde::Serialize;
use twitcher_core::profiles::{self, Plan, PlanLimits, Profile};
use twitcher_core::{Error, Twitcher};

use crate::args::{Global, ProfileCommand, SessionsCommand};
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
        ProfileCommand::Plans => {
            profiles::resolve(db, global.profile.as_deref()).await?;
            let plans = profiles::plans(db).await?;
            print_plans(out, &plans);
        }
        ProfileCommand::SetLimits { plan, accounts, storage_gb, broadcasts, live_encodes, playlists, schedules, scheduled } => {
            let plan: Plan = plan.parse().map_err(Error::from)?;
            let actor = profiles::resolve(db, global.profile.as_deref()).await?;
            let current = profiles::plans(db).await?.into_iter().find(|(p, _)| *p == plan).map(|(_, l)| l).expect("every plan has a row");
            let count = |asked: Option<crate::args::Limit>, now: Option<u32>| asked.map_or(now, |l| l.0);
            let limits = PlanLimits {
                max_accounts: count(accounts, current.max_accounts),
                max_storage_bytes: storage_gb.map_or(current.max_storage_bytes, |gb| gb.0.map(|gb| u64::from(gb) << 30)),
                max_broadcasts: count(broadcasts, current.max_broadcasts),
                max_live_encodes: count(live_encodes, current.max_live_encodes),
                max_playlists: count(playlists, current.max_playlists),
                max_schedules: count(schedules, current.max_schedules),
                max_scheduled: count(scheduled, current.max_scheduled),
            };
            let limits = profiles::set_plan_limits(db, &actor, plan, &limits).await?;
            print_plans(out, &[(plan, limits)]);
        }
        ProfileCommand::Logout => {
            profiles::sign_out(db).await?;
            out.print(&serde_json::json!({ "signed_out": true }), || "Signed out.".to_string());
        }
        ProfileCommand::RotateUuid => {
            let actor = profiles::resolve(db, global.profile.as_deref()).await?;
            let rotated = profiles::rotate_uuid(db, &actor).await?;
            out.print(&serde_json::json!({ "uuid": rotated.uuid.to_string() }), || {
                format!(
                    "\"{}\" has a new UUID; the old one no longer signs in and every API session ended.\n\n    {}\n\n\
                     This UUID is your login now. Keep it somewhere safe: Twitcher cannot show it again.",
                    rotated.profile.name, rotated.uuid
                )
            });
        }
        ProfileCommand::Sessions(SessionsCommand::Revoke) => {
            let actor = profiles::resolve(db, global.profile.as_deref()).await?;
            profiles::end_sessions(db, &actor).await?;
            out.print(&serde_json::json!({ "revoked": true }), || format!("Every API session of \"{}\" ended.", actor.name));
        }
    }
    Ok(())
}

/// `[{"plan","max_accounts","max_storage_bytes","max_broadcasts","max_live_encodes",
/// "max_playlists","max_schedules","max_scheduled"}]`, `null` for unlimited.
fn print_plans(out: &Output, plans: &[(Plan, PlanLimits)]) {
    #[derive(Serialize)]
    struct PlanJson {
        plan: Plan,
        #[serde(flatten)]
        limits: PlanLimits,
    }
    let json: Vec<PlanJson> = plans.iter().map(|&(plan, limits)| PlanJson { plan, limits }).collect();
    out.print(&json, || {
        let n = |v: Option<u32>| v.map_or("unlimited".to_string(), |n| n.to_string());
        let rows: Vec<Vec<String>> = plans
            .iter()
            .map(|(plan, l)| {
                let storage = l.max_storage_bytes.map_or("unlimited".to_string(), |b| format!("{} GB", b >> 30));
                vec![
                    plan.to_string(),
                    n(l.max_accounts),
                    storage,
                    n(l.max_broadcasts),
                    n(l.max_live_encodes),
                    n(l.max_playlists),
                    n(l.max_schedules),
                    n(l.max_scheduled),
                ]
            })
            .collect();
        table(&["PLAN", "ACCOUNTS", "STORAGE", "BROADCASTS", "LIVE ENCODES", "PLAYLISTS", "SCHEDULES", "SCHEDULED"], &rows)
    });
}
