//! The wall clock: the time now, as a date ([`now`]) or as Unix time for what is stored or sent
//! as numbers (caches, token expiry, rate-limit resets, alert times).
//!
//! Every decision the runtime takes by the calendar (a recurring schedule's next start, a stop at
//! an occurrence's end, log retention) reads this clock, and the database's `@now` reads it too
//! (`db::sql`). In builds made for tests it can be **simulated**: [`simulate_from`] makes it a
//! date that moves with tokio's clock, so a test on a paused tokio runtime drives a month of the
//! runtime in minutes (`tests/month.rs`). A product build has only the real clock.

use chrono::{DateTime, Utc};

/// The time now.
pub fn now() -> DateTime<Utc> {
    #[cfg(feature = "testing")]
    if let Some(simulated) = simulated::now() {
        return simulated;
    }
    Utc::now()
}

pub fn now_unix() -> i64 {
    now().timestamp()
}

pub fn now_ms() -> u64 {
    u64::try_from(now().timestamp_millis()).unwrap_or_default()
}

/// Seconds the clock is ahead of the real one: what the database adds to its own clock for
/// `@now`. `None` on the real clock (always, in a product build).
pub(crate) fn offset_secs() -> Option<f64> {
    #[cfg(feature = "testing")]
    if let Some(simulated) = simulated::now() {
        return Some((simulated - Utc::now()).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6);
    }
    None
}

/// Whether the clock is simulated (a database opened then holds tokio's clock while it works,
/// see `db`).
#[cfg(feature = "testing")]
pub(crate) fn is_simulated() -> bool {
    offset_secs().is_some()
}

#[cfg(feature = "testing")]
pub use simulated::simulate_from;

#[cfg(feature = "testing")]
mod simulated {
    use std::sync::OnceLock;

    use chrono::{DateTime, Utc};

    struct Simulated {
        start: DateTime<Utc>,
        /// tokio's clock at `start`, and its runtime: the clock is read from any thread (a
        /// blocking task, the database's), always as that runtime's.
        at: tokio::time::Instant,
        runtime: tokio::runtime::Handle,
    }

    static CLOCK: OnceLock<Simulated> = OnceLock::new();

    /// From now on, for the whole process, the clock says `start` plus the time tokio's clock of
    /// the current runtime has moved since: call it inside a runtime started paused, before
    /// opening anything. Once per process (a test binary of its own).
    pub fn simulate_from(start: DateTime<Utc>) {
        let simulated = Simulated { start, at: tokio::time::Instant::now(), runtime: tokio::runtime::Handle::current() };
        assert!(CLOCK.set(simulated).is_ok(), "the clock is simulated once per process");
    }

    pub(super) fn now() -> Option<DateTime<Utc>> {
        let clock = CLOCK.get()?;
        let _inside = clock.runtime.enter();
        let moved = tokio::time::Instant::now().saturating_duration_since(clock.at);
        Some(clock.start + chrono::Duration::from_std(moved).expect("a simulated run lasts less than chrono's range"))
    }
}
