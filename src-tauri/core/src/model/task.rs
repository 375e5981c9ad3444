//! A supervised background task of a process (the scheduler's parts, the job worker, a node's
//! heartbeat, …) as health reports show it: `GET /api/health`, `twitcher doctor`, Settings.

use serde::{Deserialize, Serialize};

/// How a task is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Its last turn completed within its period.
    Ok,
    /// Its last turn failed (it is retried on its next turn); not yet late.
    Failing,
    /// It panicked and waits out its backoff before it starts again.
    Restarting,
    /// No turn has completed within twice its period (and 5 s): stalled or failing for a while.
    Late,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Ok => "ok",
            TaskState::Failing => "failing",
            TaskState::Restarting => "restarting",
            TaskState::Late => "late",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [TaskState::Ok, TaskState::Failing, TaskState::Restarting, TaskState::Late].into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a health check should fail on it (a failing turn is retried: not yet).
    pub fn is_unhealthy(self) -> bool {
        matches!(self, TaskState::Restarting | TaskState::Late)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskHealth {
    /// Which process runs it (its instance id, as its leases carry).
    pub instance_id: String,
    pub name: String,
    pub state: TaskState,
    /// How often it completes a turn when well.
    pub period_sec: f64,
    /// Seconds since its last completed turn; `None` before the first.
    pub last_turn_age_sec: Option<f64>,
    /// Times it panicked and was started again.
    pub restarts: u32,
    /// Turns failed in a row (0 once a turn completes).
    pub failures: u32,
    /// What the last failure or panic said (redacted).
    pub last_error: Option<String>,
}
