//! What one client or profile may hold at once on this server: uploads (with the storage they
//! reserve) and server-sent-event streams. Each is a slot held by a guard for as long as the
//! request or stream lasts, so a client that disconnects gives its slot back with nothing to
//! clean up.
//!
//! These are this process's counts: on a fleet, each node keeps its own (a profile's storage is
//! still checked against the database before and while an upload streams).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many of one kind of thing a profile, and everybody together, may hold at once.
pub struct Slots {
    what: &'static str,
    per_profile: u32,
    total: u32,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    by_profile: HashMap<i64, (u32, u64)>,
    total: u32,
}

/// A slot; given back when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    profile_id: i64,
    reserved: u64,
}

impl Slot {
    /// The bytes this slot holds for its profile (an upload's reservation).
    pub fn reserved(&self) -> u64 {
        self.reserved
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|e| e.into_inner());
        held.total = held.total.saturating_sub(1);
        if let Some((count, bytes)) = held.by_profile.get_mut(&self.profile_id) {
            *count = count.saturating_sub(1);
            *bytes = bytes.saturating_sub(self.reserved);
            if *count == 0 {
                held.by_profile.remove(&self.profile_id);
            }
        }
    }
}

/// Why a slot was refused, as the message a client reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl Slots {
    pub fn new(what: &'static str, per_profile: usize, total: usize) -> Arc<Self> {
        Arc::new(Self { what, per_profile: per_profile as u32, total: total as u32, held: Mutex::default() })
    }

    /// A slot for `profile_id`, reserving up to `want` bytes of the `room` it has left (what the
    /// database says, less what its other slots reserve); `None` as `want` takes all the room.
    /// Returns the slot and the bytes it may use.
    pub fn take(self: &Arc<Self>, profile_id: i64, room: u64, want: Option<u64>) -> Result<Slot, Refused> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.total >= self.total {
            return Err(Refused(format!("this server is taking {} {} at once: try again in a moment", self.total, self.what)));
        }
        let (count, reserved) = held.by_profile.get(&profile_id).copied().unwrap_or((0, 0));
        if count >= self.per_profile {
            return Err(Refused(format!("a profile may have {} {} at once: wait for one to finish", self.per_profile, self.what)));
        }
        let left = room.saturating_sub(reserved);
        let bytes = want.map_or(left, |w| w.min(left));
        held.total += 1;
        held.by_profile.insert(profile_id, (count + 1, reserved + bytes));
        Ok(Slot { slots: self.clone(), profile_id, reserved: bytes })
    }

    /// Slots held now, by everyone.
    pub fn held(&self) -> u32 {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_gets_its_share_of_slots_and_room_and_gets_them_back_when_done() {
        let slots = Slots::new("uploads", 2, 3);
        let a = slots.take(1, 100, Some(70)).unwrap();
        assert_eq!(a.reserved(), 70);
        // The second upload of the profile gets what the first did not reserve.
        let b = slots.take(1, 100, None).unwrap();
        assert_eq!(b.reserved(), 30);
        assert!(slots.take(1, 100, None).is_err(), "two per profile");
        let c = slots.take(2, 100, None).unwrap();
        assert!(slots.take(3, 100, None).is_err(), "three in all");
        drop(a);
        assert_eq!(slots.take(1, 100, None).unwrap().reserved(), 70);
        drop((b, c));
        assert_eq!(slots.held(), 0);
    }
}
