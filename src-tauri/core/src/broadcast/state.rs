//! A destination's lifecycle, written down once (DESIGN.md §3):
//!
//! ```text
//! scheduled → queued → starting → live ⇄ reconnecting → stopping → ended
//!                 └──────┴──────────┴─────────┴──────────────→ failed | cancelled
//! ```
//!
//! On a fleet ([`super::fleet`]) a destination no node holds yet — a new one, or one whose node
//! died or handed it over — is `pending`: stored as `queued` without an owner, shown as `pending`
//! with the reason it waits; the node that claims it makes it `queued` again and publishes it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum StreamState {
    Scheduled,
    /// Waiting for a node of the fleet to publish it (see the module's note).
    Pending,
    Queued,
    Starting,
    Live,
    Reconnecting,
    Stopping,
    Ended,
    Failed,
    Cancelled,
}

use StreamState::*;

/// Every allowed move. Anything not listed is a bug the supervisor refuses.
const TRANSITIONS: &[(StreamState, &[StreamState])] = &[
    (Scheduled, &[Queued, Cancelled, Failed]),
    (Pending, &[Queued, Ended, Cancelled]),
    (Queued, &[Starting, Pending, Cancelled, Failed]),
    (Starting, &[Live, Reconnecting, Stopping, Pending, Failed, Cancelled]),
    (Live, &[Reconnecting, Stopping, Pending, Ended, Failed]),
    (Reconnecting, &[Live, Stopping, Pending, Failed]),
    (Stopping, &[Ended, Failed]),
    (Ended, &[]),
    (Failed, &[]),
    (Cancelled, &[]),
];

impl StreamState {
    pub fn can_become(self, next: StreamState) -> bool {
        TRANSITIONS.iter().any(|(from, to)| *from == self && to.contains(&next))
    }

    /// The states that may move to `next`: the guard of every status write.
    pub fn sources(next: StreamState) -> Vec<StreamState> {
        TRANSITIONS.iter().filter(|(_, to)| to.contains(&next)).map(|(from, _)| *from).collect()
    }

    /// `'a', 'b'` for an SQL `IN (…)` (the names are fixed words, never user input).
    pub(crate) fn sql_list(states: &[StreamState]) -> String {
        states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
    }

    pub fn is_final(self) -> bool {
        matches!(self, Ended | Failed | Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheduled => "scheduled",
            Pending => "pending",
            Queued => "queued",
            Starting => "starting",
            Live => "live",
            Reconnecting => "reconnecting",
            Stopping => "stopping",
            Ended => "ended",
            Failed => "failed",
            Cancelled => "cancelled",
        }
    }
}

/// A stream some process runs (and holds a lease on).
pub(crate) const ACTIVE: [StreamState; 5] = [Queued, Starting, Live, Reconnecting, Stopping];

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [StreamState; 10] = [Scheduled, Pending, Queued, Starting, Live, Reconnecting, Stopping, Ended, Failed, Cancelled];

    #[test]
    fn the_happy_path_and_reconnects_are_allowed() {
        for (a, b) in [(Scheduled, Queued), (Queued, Starting), (Starting, Live), (Live, Reconnecting), (Reconnecting, Live), (Live, Stopping), (Stopping, Ended)] {
            assert!(a.can_become(b), "{a:?} → {b:?}");
        }
    }

    #[test]
    fn final_states_never_change_and_nothing_goes_backwards() {
        for state in ALL.into_iter().filter(|s| s.is_final()) {
            assert!(ALL.iter().all(|next| !state.can_become(*next)), "{state:?}");
        }
        assert!(!Live.can_become(Starting));
        assert!(!Live.can_become(Queued));
        assert!(!Stopping.can_become(Live));
        assert!(!Scheduled.can_become(Live));
    }

    #[test]
    fn every_state_is_in_the_table_once() {
        for state in ALL {
            assert_eq!(TRANSITIONS.iter().filter(|(from, _)| *from == state).count(), 1, "{state:?}");
        }
    }
}
