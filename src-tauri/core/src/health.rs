//! Health that tells the truth: whether every supervised background task of a process completes
//! its turns ([`crate::tasks`]). `GET /api/health` answers from [`this_process`]; `twitcher
//! doctor`, which runs beside the window or `serve`, reads what every process on the data dir
//! last reported ([`every_process`]) — each reports every [`REPORT_EVERY`], so one that stopped
//! reporting (hung, stopped, killed) shows as not answering.

use std::time::Duration;

use serde::Serialize;

use crate::db::DbError;
use crate::model::{TaskHealth, TaskState};
use crate::Twitcher;

/// How often a process copies its task health into the database.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);
/// A process whose report is older than this is not answering.
pub const SILENT_AFTER_SECS: f64 = 20.0;
/// Reports of processes silent this long are forgotten (killed long ago).
const FORGET_AFTER_SECS: f64 = 600.0;

/// One process's health.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessHealth {
    pub instance_id: String,
    /// Whether every task completes its turns (and, for another process, it still reports).
    pub healthy: bool,
    /// Seconds since it last reported (0 for this process).
    pub reported_age_sec: f64,
    /// What is wrong, one line each: `scheduler: due broadcasts is late`.
    pub problems: Vec<String>,
    pub tasks: Vec<TaskHealth>,
}

impl ProcessHealth {
    fn of(instance_id: String, tasks: Vec<TaskHealth>, reported_age_sec: f64) -> Self {
        let mut problems: Vec<String> = tasks
            .iter()
            .filter(|t| t.state.is_unhealthy())
            .map(|t| match (t.state, &t.last_error) {
                (TaskState::Restarting, Some(e)) => format!("{} is restarting after a panic ({e})", t.name),
                (state, Some(e)) => format!("{} is {} (last error: {e})", t.name, state.as_str()),
                (state, None) => format!("{} is {}", t.name, state.as_str()),
            })
            .collect();
        if reported_age_sec > SILENT_AFTER_SECS {
            problems.insert(0, format!("the process has not reported for {reported_age_sec:.0} s: it is hung, stopped or was killed"));
        }
        Self { instance_id, healthy: problems.is_empty(), reported_age_sec, problems, tasks }
    }
}

/// This process, from memory.
pub fn this_process(app: &Twitcher) -> ProcessHealth {
    ProcessHealth::of(app.instance_id().to_string(), app.tasks().report(app.instance_id()), 0.0)
}

/// Every process on the data dir that reported in the last ten minutes, as it last reported.
pub async fn every_process(app: &Twitcher) -> Result<Vec<ProcessHealth>, DbError> {
    let mut by_process: Vec<(String, Vec<TaskHealth>, f64)> = Vec::new();
    for (task, age) in app.db.task_reports().await? {
        match by_process.last_mut() {
            Some((id, tasks, _)) if *id == task.instance_id => tasks.push(task),
            _ => by_process.push((task.instance_id.clone(), vec![task], age)),
        }
    }
    Ok(by_process.into_iter().map(|(id, tasks, age)| ProcessHealth::of(id, tasks, age)).collect())
}

/// What a person asks for (`twitcher doctor`, Settings): this process from memory, fresher than
/// its last report, when it runs tasks (a window; not a one-off command), then every other
/// process on the data dir as it last reported.
pub async fn all(app: &Twitcher) -> Result<Vec<ProcessHealth>, DbError> {
    let mut processes: Vec<ProcessHealth> = every_process(app).await?.into_iter().filter(|p| p.instance_id != app.instance_id()).collect();
    let here = this_process(app);
    if !here.tasks.is_empty() {
        processes.insert(0, here);
    }
    Ok(processes)
}

/// Copies this process's task health into the database (the runtime, every [`REPORT_EVERY`]).
pub(crate) async fn report(app: &Twitcher) -> Result<(), DbError> {
    app.db.report_tasks(app.instance_id(), &app.tasks().report(app.instance_id())).await?;
    app.db.forget_silent_task_reports(FORGET_AFTER_SECS).await
}

/// Removes this process's report (it shuts down).
pub(crate) async fn forget(app: &Twitcher) -> Result<(), DbError> {
    app.db.forget_task_reports(app.instance_id()).await
}
