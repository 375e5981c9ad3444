//! The health of this process's supervised background tasks, kept in memory: each task has a
//! [`Beat`] it reports its turns with, and [`Tasks::report`] says how each is doing. The
//! supervision itself (catching a panic, backing off, starting again) is the runtime's
//! (`runtime.rs`); the runtime also copies the report into the database every few seconds, so
//! `twitcher doctor` sees the tasks of the window and of `serve` on the same data dir.
//!
//! A task is **late** when no turn has completed within twice its period and 5 s (a turn that
//! fails does not count): health checks fail on it, as on one waiting to restart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::{TaskHealth, TaskState};

/// Slack on top of twice a task's period before it counts as late (a busy machine, a slow
/// database).
const LATE_SLACK: Duration = Duration::from_secs(5);

/// Every supervised task of this process. Cheap to clone. A std lock: never held across an
/// await.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    tasks: Arc<Mutex<BTreeMap<&'static str, Task>>>,
    /// Panics a test asked for, by task name (see [`Tasks::inject_panics`]).
    #[cfg(feature = "testing")]
    faults: Arc<Mutex<BTreeMap<String, u32>>>,
}

#[derive(Debug)]
struct Task {
    period: Duration,
    /// When it was (re)started: lateness counts from here before its first turn.
    since: Instant,
    last_turn: Option<Instant>,
    restarts: u32,
    failures: u32,
    last_error: Option<String>,
    restarting_until: Option<Instant>,
}

/// What a task reports its turns with. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Beat {
    name: &'static str,
    tasks: Tasks,
}

/// What a turn's outcome changed, for alerts: a task that starts failing is announced once, and
/// once more when it is well again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    None,
    /// It panicked, or failed [`FAILING_AFTER`] turns in a row.
    Failing { error: String },
    /// A turn completed after it had been announced failing.
    Recovered,
}

/// Turns failed in a row before the task is announced as failing (a panic is at once).
pub const FAILING_AFTER: u32 = 3;

/// The period of a task that has no turns of its own (the broadcast supervisors, one per
/// broadcast): it is never late, and each one lost is counted and announced.
pub const NO_PERIOD: Duration = Duration::ZERO;

impl Tasks {
    /// Registers (or re-registers, keeping its counts) a task with its period.
    pub fn beat(&self, name: &'static str, period: Duration) -> Beat {
        let mut tasks = self.lock();
        let task = tasks.entry(name).or_insert_with(|| Task {
            period,
            since: Instant::now(),
            last_turn: None,
            restarts: 0,
            failures: 0,
            last_error: None,
            restarting_until: None,
        });
        task.period = period;
        Beat { name, tasks: self.clone() }
    }

    /// Every task as of now, by name.
    pub fn report(&self, instance_id: &str) -> Vec<TaskHealth> {
        let now = Instant::now();
        self.lock()
            .iter()
            .map(|(name, task)| TaskHealth {
                instance_id: instance_id.to_string(),
                name: name.to_string(),
                state: task.state(now),
                period_sec: task.period.as_secs_f64(),
                last_turn_age_sec: task.last_turn.map(|t| now.duration_since(t).as_secs_f64()),
                restarts: task.restarts,
                failures: task.failures,
                last_error: task.last_error.clone(),
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Task>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fault injection for tests (the chaos and supervision tests): the next `count` turns (or
    /// starts) of task `name` panic. Processes take it from `TWITCHER_TEST_PANIC_TASKS`
    /// (`name=count,…`) when the runtime starts. Only in builds made with tests.
    #[cfg(feature = "testing")]
    pub fn inject_panics(&self, name: &str, count: u32) {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), count);
    }

    /// Panics when a test injected a fault in `name` (a task, or `job <kind>` for a job's
    /// handler); nothing in a product build.
    pub fn panic_if_injected(&self, name: &str) {
        #[cfg(feature = "testing")]
        {
            let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(left) = faults.get_mut(name).filter(|left| **left > 0) {
                *left -= 1;
                drop(faults);
                panic!("a fault injected by a test in {name}");
            }
        }
        #[cfg(not(feature = "testing"))]
        let _ = name;
    }
}

impl Task {
    fn state(&self, now: Instant) -> TaskState {
        if self.restarting_until.is_some_and(|until| until > now) {
            return TaskState::Restarting;
        }
        let since = self.last_turn.unwrap_or(self.since);
        if !self.period.is_zero() && now.saturating_duration_since(since) > self.period.saturating_mul(2) + LATE_SLACK {
            return TaskState::Late;
        }
        if self.failures > 0 {
            TaskState::Failing
        } else {
            TaskState::Ok
        }
    }
}

impl Beat {
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// How often the task turns (what the runtime started it with): a task that loops by itself
    /// waits this long between turns.
    pub fn period(&self) -> Duration {
        self.tasks.lock().get(self.name).map(|task| task.period).unwrap_or_default()
    }

    /// Called as a turn (or a looping task) starts: panics when a test injected a fault here.
    pub fn turn_starts(&self) {
        self.tasks.panic_if_injected(self.name);
    }

    /// A turn completed.
    pub fn ok(&self) -> Change {
        self.update(|task| {
            let was_failing = task.failures >= FAILING_AFTER || task.restarting_until.is_some();
            task.last_turn = Some(Instant::now());
            task.failures = 0;
            task.restarting_until = None;
            if was_failing {
                Change::Recovered
            } else {
                Change::None
            }
        })
    }

    /// A turn failed with `error`; the task goes on with its next turn.
    pub fn failed(&self, error: &dyn std::fmt::Display) -> Change {
        let error = crate::redact::redact(&error.to_string()).into_owned();
        self.update(|task| {
            task.failures += 1;
            task.last_error = Some(error.clone());
            if task.failures == FAILING_AFTER {
                Change::Failing { error }
            } else {
                Change::None
            }
        })
    }

    /// The task panicked with `error` and starts again after `backoff`.
    pub fn restarting(&self, error: &str, backoff: Duration) -> Change {
        let error = crate::redact::redact(error).into_owned();
        self.update(|task| {
            let first = task.restarting_until.is_none() && task.failures < FAILING_AFTER;
            task.restarts += 1;
            task.failures += 1;
            task.last_error = Some(error.clone());
            task.restarting_until = Some(Instant::now() + backoff);
            task.since = Instant::now() + backoff;
            if first {
                Change::Failing { error }
            } else {
                Change::None
            }
        })
    }

    /// One of the task's items (a broadcast's supervisor) panicked and was ended; the task
    /// itself goes on. Announced each time.
    pub fn lost(&self, error: &str) -> Change {
        let error = crate::redact::redact(error).into_owned();
        self.update(|task| {
            task.restarts += 1;
            task.last_error = Some(error.clone());
            Change::Failing { error }
        })
    }

    fn update(&self, change: impl FnOnce(&mut Task) -> Change) -> Change {
        self.tasks.lock().get_mut(self.name).map(change).unwrap_or(Change::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(tasks: &Tasks, name: &str) -> TaskState {
        tasks.report("me").into_iter().find(|t| t.name == name).unwrap().state
    }

    #[test]
    fn a_failing_task_is_announced_once_after_three_failures_and_once_when_it_recovers() {
        let tasks = Tasks::default();
        let beat = tasks.beat("recovery", Duration::from_secs(2));
        assert_eq!(beat.ok(), Change::None);
        assert_eq!(beat.failed(&"database is locked"), Change::None);
        assert_eq!(state(&tasks, "recovery"), TaskState::Failing);
        assert_eq!(beat.failed(&"database is locked"), Change::None);
        assert_eq!(beat.failed(&"database is locked"), Change::Failing { error: "database is locked".into() });
        assert_eq!(beat.failed(&"database is locked"), Change::None, "announced once");
        assert_eq!(beat.ok(), Change::Recovered);
        assert_eq!(beat.ok(), Change::None);
        assert_eq!(state(&tasks, "recovery"), TaskState::Ok);
    }

    #[test]
    fn a_panic_is_announced_at_once_and_the_task_is_restarting_until_its_backoff_ends() {
        let tasks = Tasks::default();
        let beat = tasks.beat("scheduler", Duration::from_secs(2));
        assert!(matches!(beat.restarting("attempt to add with overflow", Duration::from_secs(60)), Change::Failing { .. }));
        let report = tasks.report("me");
        assert_eq!((report[0].state, report[0].restarts, report[0].last_error.as_deref()), (TaskState::Restarting, 1, Some("attempt to add with overflow")));
        assert!(report[0].state.is_unhealthy());
        assert_eq!(beat.ok(), Change::Recovered);
        assert_eq!(state(&tasks, "scheduler"), TaskState::Ok);
    }

    #[test]
    fn a_task_without_a_completed_turn_in_twice_its_period_is_late() {
        let tasks = Tasks::default();
        let beat = tasks.beat("heartbeat", Duration::from_millis(1));
        assert_eq!(state(&tasks, "heartbeat"), TaskState::Ok);
        tasks.lock().get_mut("heartbeat").unwrap().since = Instant::now() - LATE_SLACK - Duration::from_millis(10);
        assert_eq!(state(&tasks, "heartbeat"), TaskState::Late);
        beat.ok();
        assert_eq!(state(&tasks, "heartbeat"), TaskState::Ok);
    }

    #[test]
    fn an_error_is_redacted_before_it_is_kept() {
        let tasks = Tasks::default();
        let beat = tasks.beat("alerts", Duration::from_secs(30));
        beat.failed(&"posting to rtmp://live.twitch.tv/app/live_123456_abcdefghijklmnopqrstuvwxyz failed");
        let kept = tasks.report("me")[0].last_error.clone().unwrap();
        assert!(!kept.contains("live_123456_abcdefghijklmnopqrstuvwxyz"), "{kept}");
    }
}

/// What a panic said, from its payload (a `&str` or a `String`; anything else is unnamed).
pub fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_else(|| "a panic without a message".to_string()),
    }
}

/// Tells the process's alerts of a task that started failing or recovered.
pub fn announce(events: &crate::events::Events, beat: &Beat, change: Change) {
    match change {
        Change::None => {}
        Change::Failing { error } => events.emit(crate::events::Event::TaskFailing { task: beat.name.to_string(), error }),
        Change::Recovered => events.emit(crate::events::Event::TaskRecovered { task: beat.name.to_string() }),
    }
}
