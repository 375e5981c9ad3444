//! UUID profiles: the UUID *is* the login, so it is treated as a bearer credential.
//!
//! - It is generated from the OS random source (UUID v4), shown once at creation, and never stored:
//!   the database keeps its SHA-256 and its last four characters ([`Profile::masked_uuid`]).
//! - It never appears in a log line or an error message (the input is not echoed back, even when
//!   malformed, because a typo'd UUID is still mostly a secret).
//! - Failed logins lock the data dir's login for a growing time (1 s, 2 s, 4 s … up to 60 s), so
//!   guessing is slow; attempts during the lockout are refused without being checked.

use std::time::{Duration, SystemTime, UNIX_EPOCH};


use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::{Db, DbError};
pub use crate::model::{Plan, PlanLimits, Profile, Role, UnknownPlan};
use crate::Twitcher;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("that is not a profile UUID: a profile UUID has 36 characters, like xxxxxxxx-xxxx-4xxx-xxxx-xxxxxxxxxxxx")]
    MalformedUuid,
    #[error("no profile on this data dir has that UUID: check it for typos, or create a profile")]
    UnknownProfile,
    #[error("too many failed sign-ins on this data dir: wait {retry_after_secs} s and try again")]
    Throttled { retry_after_secs: u64 },
    #[error("only an ADMIN profile can do that; the active profile is {role}")]
    NotAdmin { role: Role },
    #[error("no profile is signed in on this data dir: create one (`twitcher profile create`) or sign in (`twitcher profile login UUID`)")]
    NoActiveProfile,
    #[error("{0}")]
    InvalidName(crate::text::TextError),
    #[error("unknown plan '{0}': choose FREE, PRO or ENTERPRISE")]
    UnknownPlan(String),
    #[error("{0}")]
    RegistrationClosed(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<UnknownPlan> for ProfileError {
    fn from(e: UnknownPlan) -> Self {
        ProfileError::UnknownPlan(e.0)
    }
}

/// A profile just created, with the only copy of its UUID the app will ever hold.
#[derive(Debug, Clone)]
pub struct NewProfile {
    pub profile: Profile,
    pub uuid: Uuid,
}

const DEFAULT_NAME: &str = "Creator";
const ACTIVE_PROFILE_KEY: &str = "active_profile_id";
const THROTTLE_KEY: &str = "login_throttle";

/// Consecutive failures further apart than this are forgotten.
const THROTTLE_FORGET: Duration = Duration::from_secs(15 * 60);
const THROTTLE_BASE: Duration = Duration::from_secs(1);
const THROTTLE_CAP: Duration = Duration::from_secs(60);

/// How long the login stays locked after `failures` consecutive failed attempts.
pub fn lockout_after(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
    THROTTLE_BASE.saturating_mul(factor).min(THROTTLE_CAP)
}

fn uuid_hash(uuid: &Uuid) -> String {
    hex::encode(Sha256::digest(uuid.hyphenated().to_string().as_bytes()))
}

fn uuid_hint(uuid: &Uuid) -> String {
    let text = uuid.hyphenated().to_string();
    text[text.len() - 4..].to_string()
}

/// Accepts the hyphenated form (any case, surrounding spaces from a paste trimmed).
fn parse_uuid(text: &str) -> Result<Uuid, ProfileError> {
    let text = text.trim();
    if text.len() != 36 {
        return Err(ProfileError::MalformedUuid);
    }
    Uuid::try_parse(text).map_err(|_| ProfileError::MalformedUuid)
}

fn validate_name(name: Option<&str>) -> Result<String, ProfileError> {
    let name = name.filter(|n| !n.trim().is_empty()).unwrap_or(DEFAULT_NAME);
    Ok(crate::text::line("profile name", name, 64).map_err(ProfileError::InvalidName)?.to_string())
}

/// Creates a profile with a fresh UUID v4 (OS random source). The first profile of a data dir is
/// ADMIN; everyone starts on FREE.
pub async fn register(app: &Twitcher, name: Option<&str>) -> Result<NewProfile, ProfileError> {
    let db = &app.db;
    let name = validate_name(name)?;
    let uuid = Uuid::new_v4();
    let profile = db.insert_user(&uuid_hash(&uuid), &uuid_hint(&uuid), &name, &new_session_key()).await?;
    tracing::info!(profile_id = profile.id, role = %profile.role, "profile created");
    Ok(NewProfile { profile, uuid })
}

/// Who may create profiles through a server (`serve --registration`); the window and the CLI on
/// the machine always may. Whatever the policy, the first profile of a data dir can be made: it
/// becomes the ADMIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Registration {
    /// Anyone who reaches the server.
    Open,
    /// Only a signed-in ADMIN (it hands the new UUID to whoever it is for).
    #[default]
    Admin,
    /// Nobody: profiles are made on the machine (`twitcher profile create`).
    Closed,
}

/// Creates a profile through a server, under `policy`, for `caller` (the signed-in profile, if
/// any). When the policy does not let the caller in, only the data dir's first profile can still
/// be made — checked in the same statement as the insert, so two strangers racing for an empty
/// server cannot both get a profile.
pub async fn register_as(app: &Twitcher, name: Option<&str>, policy: Registration, caller: Option<&Profile>) -> Result<NewProfile, ProfileError> {
    let allowed = match policy {
        Registration::Open => true,
        Registration::Admin => caller.is_some_and(|c| c.role == Role::Admin),
        Registration::Closed => false,
    };
    if allowed {
        return register(app, name).await;
    }
    let name = validate_name(name)?;
    let uuid = Uuid::new_v4();
    match app.db.insert_first_user(&uuid_hash(&uuid), &uuid_hint(&uuid), &name, &new_session_key()).await? {
        Some(profile) => {
            tracing::info!(profile_id = profile.id, "first profile created (ADMIN)");
            Ok(NewProfile { profile, uuid })
        }
        None => Err(ProfileError::RegistrationClosed(match policy {
            Registration::Closed => "this server does not create profiles: create one on its machine with `twitcher profile create`",
            _ => "on this server only an ADMIN creates profiles: ask the ADMIN for one (send its token to /api/auth/register)",
        })),
    }
}

/// Who is signing in, for the throttle. Each origin has its own: a client of the API failing
/// again and again locks out itself, not the window, the CLI or other clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOrigin {
    /// The window or a `twitcher` command on this machine.
    Local,
    /// An API client, by address (the one a trusted proxy forwarded, behind one).
    Client(std::net::IpAddr),
}

impl LoginOrigin {
    fn throttle_key(self) -> String {
        match self {
            LoginOrigin::Local => THROTTLE_KEY.to_string(),
            LoginOrigin::Client(address) => format!("{THROTTLE_KEY}:{address}"),
        }
    }
}

/// Checks a UUID and returns its profile, subject to the login throttle of this machine's
/// window and CLI.
pub async fn login(app: &Twitcher, uuid_text: &str) -> Result<Profile, ProfileError> {
    login_from(app, uuid_text, LoginOrigin::Local).await
}

/// Checks a UUID for `origin`, subject to that origin's throttle.
pub async fn login_from(app: &Twitcher, uuid_text: &str, origin: LoginOrigin) -> Result<Profile, ProfileError> {
    login_at(&app.db, uuid_text, SystemTime::now(), origin).await
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Throttle {
    failures: u32,
    last_failure_ms: u64,
}

impl Throttle {
    fn parse(text: &str) -> Self {
        let mut parts = text.split(':').map(str::parse::<u64>);
        match (parts.next(), parts.next()) {
            (Some(Ok(failures)), Some(Ok(last_failure_ms))) => {
                Self { failures: failures.min(u32::MAX as u64) as u32, last_failure_ms }
            }
            _ => Self::default(),
        }
    }

    /// The failures still counting at `now_ms` (old ones are forgotten).
    fn current(self, now_ms: u64) -> Self {
        if now_ms.saturating_sub(self.last_failure_ms) > THROTTLE_FORGET.as_millis() as u64 {
            Self::default()
        } else {
            self
        }
    }

    fn remaining_lockout(self, now_ms: u64) -> Duration {
        let until = self.last_failure_ms + lockout_after(self.failures).as_millis() as u64;
        Duration::from_millis(until.saturating_sub(now_ms))
    }
}

async fn login_at(db: &Db, uuid_text: &str, now: SystemTime, origin: LoginOrigin) -> Result<Profile, ProfileError> {
    let uuid = parse_uuid(uuid_text)?;
    let now_ms = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let key = origin.throttle_key();
    let throttle = db.setting(&key).await?.map(|t| Throttle::parse(&t)).unwrap_or_default().current(now_ms);
    let wait = throttle.remaining_lockout(now_ms);
    if !wait.is_zero() {
        tracing::warn!(failures = throttle.failures, "sign-in refused: login is locked after failed attempts");
        return Err(ProfileError::Throttled { retry_after_secs: wait.as_secs_f64().ceil() as u64 });
    }
    match db.user_by_uuid_hash(&uuid_hash(&uuid)).await? {
        Some(profile) => {
            if throttle.failures > 0 {
                db.delete_setting(&key).await?;
            }
            tracing::info!(profile_id = profile.id, "signed in");
            Ok(profile)
        }
        None => {
            let failures = throttle.failures.saturating_add(1);
            db.set_setting(&key, &format!("{failures}:{now_ms}")).await?;
            // Addresses that stopped trying are forgotten, so the table cannot grow without bound.
            db.forget_login_throttles(&format!("{THROTTLE_KEY}:"), now_ms.saturating_sub(THROTTLE_FORGET.as_millis() as u64)).await?;
            tracing::warn!(failures, lockout_ms = lockout_after(failures).as_millis() as u64, "failed sign-in");
            Err(ProfileError::UnknownProfile)
        }
    }
}

/// Whether a UUID belongs to a profile, without counting as a sign-in attempt: a server under a
/// flood of guesses still lets a real UUID in (its cap on all attempts is for load, and a hash
/// lookup is what a guess costs anyway).
pub async fn known(app: &Twitcher, uuid_text: &str) -> Result<bool, ProfileError> {
    let Ok(uuid) = parse_uuid(uuid_text) else { return Ok(false) };
    Ok(app.db.user_by_uuid_hash(&uuid_hash(&uuid)).await?.is_some())
}

/// Whether the data dir has any profile yet.
pub async fn any(app: &Twitcher) -> Result<bool, ProfileError> {
    Ok(app.db.has_users().await?)
}

/// A new session key: 128 random bits, as hex.
fn new_session_key() -> String {
    Uuid::new_v4().simple().to_string()
}

/// The key every session token of profile `id` must carry, while the profile exists.
pub async fn session_key(app: &Twitcher, id: i64) -> Result<Option<String>, ProfileError> {
    Ok(app.db.user_session_key(id).await?)
}

/// Ends every API session of `actor` (its tokens stop working at their next request). The
/// window and the CLI on the machine are not sessions and are not affected.
pub async fn end_sessions(app: &Twitcher, actor: &Profile) -> Result<(), ProfileError> {
    app.db.set_user_session_key(actor.id, &new_session_key()).await?;
    tracing::info!(profile_id = actor.id, "every API session of the profile ended");
    Ok(())
}

/// Gives `actor` a new UUID (shown this once, as at creation) and ends every API session: what
/// to do when a UUID may have leaked. The old UUID no longer signs in anywhere.
pub async fn rotate_uuid(app: &Twitcher, actor: &Profile) -> Result<NewProfile, ProfileError> {
    let uuid = Uuid::new_v4();
    app.db.set_user_uuid(actor.id, &uuid_hash(&uuid), &uuid_hint(&uuid), &new_session_key()).await?;
    tracing::info!(profile_id = actor.id, "the profile has a new UUID; its API sessions ended");
    let profile = app.db.user_by_id(actor.id).await?.ok_or(ProfileError::UnknownProfile)?;
    Ok(NewProfile { profile, uuid })
}

/// Profiles the actor may see: every profile for an ADMIN, only itself otherwise.
pub async fn list(app: &Twitcher, actor: &Profile) -> Result<Vec<Profile>, ProfileError> {
    let db = &app.db;
    match actor.role {
        Role::Admin => Ok(db.list_users().await?),
        Role::User => Ok(vec![actor.clone()]),
    }
}

/// Changes the plan of the profile with `target_uuid`. ADMIN only.
pub async fn set_plan(app: &Twitcher, actor: &Profile, target_uuid: &str, plan: Plan) -> Result<Profile, ProfileError> {
    let db = &app.db;
    if actor.role != Role::Admin {
        return Err(ProfileError::NotAdmin { role: actor.role });
    }
    let target = parse_uuid(target_uuid)?;
    let profile = db.user_by_uuid_hash(&uuid_hash(&target)).await?.ok_or(ProfileError::UnknownProfile)?;
    db.set_user_plan(profile.id, plan).await?;
    tracing::info!(profile_id = profile.id, %plan, by = actor.id, "plan changed");
    Ok(db.user_by_id(profile.id).await?.ok_or(ProfileError::UnknownProfile)?)
}

/// Every plan's limits, in rank order.
pub async fn plans(app: &Twitcher) -> Result<Vec<(Plan, PlanLimits)>, ProfileError> {
    let mut plans = Vec::new();
    for plan in [Plan::Free, Plan::Pro, Plan::Enterprise] {
        plans.push((plan, app.db.plan_limits(plan).await?));
    }
    Ok(plans)
}

/// Changes what a plan allows (ADMIN only); profiles on it see the new limits at their next request.
pub async fn set_plan_limits(app: &Twitcher, actor: &Profile, plan: Plan, limits: &PlanLimits) -> Result<PlanLimits, ProfileError> {
    if actor.role != Role::Admin {
        return Err(ProfileError::NotAdmin { role: actor.role });
    }
    app.db.set_plan_limits(plan, limits).await?;
    tracing::info!(%plan, ?limits, by = actor.id, "plan limits changed");
    Ok(app.db.plan_limits(plan).await?)
}

/// Remembers `profile` as the one signed in on this data dir (shared by the CLI and the app).
/// The profile with row id `id` (a signed token's subject), if it still exists.
pub async fn by_id(app: &Twitcher, id: i64) -> Result<Option<Profile>, ProfileError> {
    Ok(app.db.user_by_id(id).await?)
}

pub async fn set_active(app: &Twitcher, profile: &Profile) -> Result<(), ProfileError> {
    let db = &app.db;
    Ok(db.set_setting(ACTIVE_PROFILE_KEY, &profile.id.to_string()).await?)
}

/// The profile signed in on this data dir, if any (and if it still exists).
pub async fn active(app: &Twitcher) -> Result<Option<Profile>, ProfileError> {
    let db = &app.db;
    let Some(id) = db.setting(ACTIVE_PROFILE_KEY).await?.and_then(|v| v.parse::<i64>().ok()) else {
        return Ok(None);
    };
    Ok(db.user_by_id(id).await?)
}

pub async fn sign_out(app: &Twitcher) -> Result<(), ProfileError> {
    let db = &app.db;
    Ok(db.delete_setting(ACTIVE_PROFILE_KEY).await?)
}

/// The profile a command acts as: an explicit UUID (`--profile` / `TWITCHER_PROFILE`, checked
/// like a login but not made active), else the active one.
pub async fn resolve(app: &Twitcher, explicit_uuid: Option<&str>) -> Result<Profile, ProfileError> {
    match explicit_uuid {
        Some(uuid) => login(app, uuid).await,
        None => active(app).await?.ok_or(ProfileError::NoActiveProfile),
    }
}

/// Only an ADMIN may do this: what changes a whole data dir (its key, storage, webhook, limits)
/// or every profile.
pub fn require_admin(actor: &Profile) -> Result<(), ProfileError> {
    actor.require_admin().map_err(|e| ProfileError::NotAdmin { role: e.role })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn temp_db() -> (tempfile::TempDir, Twitcher) {
        let dir = tempfile::tempdir().unwrap();
        let app = Twitcher::open(dir.path()).await.unwrap();
        (dir, app)
    }

    #[test]
    fn lockout_grows_from_one_second_and_is_capped_at_a_minute() {
        assert_eq!(lockout_after(0), Duration::ZERO);
        assert_eq!(lockout_after(1), Duration::from_secs(1));
        assert_eq!(lockout_after(2), Duration::from_secs(2));
        assert_eq!(lockout_after(4), Duration::from_secs(8));
        assert_eq!(lockout_after(7), Duration::from_secs(60));
        assert_eq!(lockout_after(u32::MAX), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn a_failed_login_locks_even_the_right_uuid_until_the_lockout_passes() {
        let (_dir, db) = temp_db().await;
        let created = register(&db, Some("Ana")).await.unwrap();
        let uuid = created.uuid.to_string();
        let t0 = SystemTime::now();

        let wrong = Uuid::new_v4().to_string();
        assert!(matches!(login_at(&db.db, &wrong, t0, LoginOrigin::Local).await, Err(ProfileError::UnknownProfile)));
        // Within the 1 s lockout, the right UUID is refused unchecked.
        let early = login_at(&db.db, &uuid, t0 + Duration::from_millis(500), LoginOrigin::Local).await;
        assert!(matches!(early, Err(ProfileError::Throttled { retry_after_secs: 1 })), "{early:?}");
        // After it, the right UUID works and clears the count.
        let ok = login_at(&db.db, &uuid, t0 + Duration::from_millis(1001), LoginOrigin::Local).await.unwrap();
        assert_eq!(ok.id, created.profile.id);
        assert_eq!(db.setting(THROTTLE_KEY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn consecutive_failures_double_the_lockout() {
        let (_dir, db) = temp_db().await;
        register(&db, None).await.unwrap();
        let mut t = SystemTime::now();
        for failures in 1..=4u32 {
            let wrong = Uuid::new_v4().to_string();
            assert!(matches!(login_at(&db.db, &wrong, t, LoginOrigin::Local).await, Err(ProfileError::UnknownProfile)));
            let lockout = lockout_after(failures);
            let refused = login_at(&db.db, &wrong, t + lockout - Duration::from_millis(1), LoginOrigin::Local).await;
            assert!(matches!(refused, Err(ProfileError::Throttled { .. })), "failure {failures}: {refused:?}");
            t += lockout;
        }
        // 4 failures: the last lockout was 8 s.
        assert_eq!(lockout_after(4), Duration::from_secs(8));
    }

    #[tokio::test]
    async fn failures_older_than_fifteen_minutes_are_forgotten() {
        let (_dir, db) = temp_db().await;
        let created = register(&db, None).await.unwrap();
        let t0 = SystemTime::now();
        for i in 0..6 {
            let _ = login_at(&db.db, &Uuid::new_v4().to_string(), t0 + Duration::from_secs(120 * i), LoginOrigin::Local).await;
        }
        let later = t0 + Duration::from_secs(120 * 5) + THROTTLE_FORGET + Duration::from_secs(1);
        assert_eq!(login_at(&db.db, &created.uuid.to_string(), later, LoginOrigin::Local).await.unwrap().id, created.profile.id);
    }

    #[tokio::test]
    async fn a_malformed_uuid_is_refused_without_counting_as_a_guess() {
        let (_dir, db) = temp_db().await;
        for bad in ["", "not-a-uuid", "1234", "zzzzzzzz-zzzz-4zzz-zzzz-zzzzzzzzzzzz", "{3f1c…}"] {
            assert!(matches!(login(&db, bad).await, Err(ProfileError::MalformedUuid)), "{bad:?}");
        }
        assert_eq!(db.setting(THROTTLE_KEY).await.unwrap(), None);
    }

}
