//! Profiles, their roles and plans, as every surface sees them (never the UUID).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
#[sqlx(type_name = "TEXT", rename_all = "UPPERCASE")]
pub enum Role {
    User,
    Admin,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::User => "USER",
            Role::Admin => "ADMIN",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
#[sqlx(type_name = "TEXT", rename_all = "UPPERCASE")]
pub enum Plan {
    Free,
    Pro,
    Enterprise,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Plan::Free => "FREE",
            Plan::Pro => "PRO",
            Plan::Enterprise => "ENTERPRISE",
        })
    }
}

/// A plan name that is none of FREE, PRO, ENTERPRISE (`ProfileError::UnknownPlan` carries it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan '{0}': choose FREE, PRO or ENTERPRISE")]
pub struct UnknownPlan(pub String);

impl std::str::FromStr for Plan {
    type Err = UnknownPlan;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "FREE" => Ok(Plan::Free),
            "PRO" => Ok(Plan::Pro),
            "ENTERPRISE" => Ok(Plan::Enterprise),
            _ => Err(UnknownPlan(s.chars().take(32).collect())),
        }
    }
}

/// What a plan allows; `None` is unlimited. Stored in the `plans` table, enforced by accounts and
/// the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanLimits {
    pub max_accounts: Option<u32>,
    pub max_storage_bytes: Option<u64>,
    /// Broadcasts running at once (an ADMIN is not limited).
    pub max_broadcasts: Option<u32>,
    /// Broadcasts going live on a real-time encode at once (before their video is prepared at
    /// the quality asked; an ADMIN is not limited).
    pub max_live_encodes: Option<u32>,
    /// Playlists kept (an ADMIN is not limited).
    pub max_playlists: Option<u32>,
    /// Recurring schedules kept (an ADMIN is not limited).
    pub max_schedules: Option<u32>,
    /// One-off broadcasts scheduled ahead and not started yet (an ADMIN is not limited).
    pub max_scheduled: Option<u32>,
}

impl PlanLimits {
    /// `limit` as it applies to `role`: an ADMIN is never limited by a plan's counts.
    pub fn for_role(limit: Option<u32>, role: Role) -> Option<u32> {
        if role == Role::Admin { None } else { limit }
    }
}

/// A profile as every surface sees it: never the UUID, only its last four characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Profile {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub plan: Plan,
    pub limits: PlanLimits,
    pub uuid_hint: String,
    pub created_at: String,
}

/// Something only an ADMIN may do (a data-dir-wide setting, another profile's plan).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("only an ADMIN profile can do that; the active profile is {role}")]
pub struct NotAdmin {
    pub role: Role,
}

impl Profile {
    /// The rule for what a whole data dir shares (the vault key, the import limit, S3, the
    /// webhook, Twitch's client id, the loudness target, what happens after a crash): an ADMIN
    /// only. Each of those setters takes the acting profile and asks this, so every surface
    /// (the window, the CLI, the API) meets the same rule.
    pub fn require_admin(&self) -> Result<(), NotAdmin> {
        match self.role {
            Role::Admin => Ok(()),
            role => Err(NotAdmin { role }),
        }
    }

    /// `********-****-****-****-********1a2b`: enough to tell profiles apart, useless to log in.
    pub fn masked_uuid(&self) -> String {
        format!("********-****-****-****-********{}", self.uuid_hint)
    }
}
